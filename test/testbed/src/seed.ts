/**
 * The seed universe: zone data of the 24 write-up cases (sendmail DANE test
 * cases, 2018) plus extra names for resolver tests, and the expected outcome of
 * each case. Both come from the one seed table of libs/dane (SEED_CASES,
 * libs/dane/seed/seed-cases.json), where they are transcribed from the
 * write-up and docs/rules.md (never from any code).
 *
 * seedCases(): pure; the 24 cases with their expected outcomes, addresses
 *   mapped onto the testbed's loopback servers.
 * seedZones(certBPem, sts?): pure; the zone files (text) of testing., moretesting.,
 *   bogustesting., and the minimal synth./synthu. zones: the table's records,
 *   with TLSA data computed from certificate B, then the extra names, then (with
 *   `sts.mxPem`, the MTA-STS MX leaf) the MTA-STS domains of mta-sts.ts, then the
 *   client-policy cases of profiles.ts. Throws only if a PEM does not parse.
 * rootZone(ds): pure; the root zone with the given DS records of the signed
 *   children; the DS of bogustesting. has its digest altered (so the zone is bogus).
 *   DS lines are "<owner> [ttl] [IN] DS <tag> <alg> <digesttype> <hex>"; others are ignored.
 * EXTRA_NAMES: the resolver-test names and what a validating resolver returns for them.
 */
import { type DeliverySecurity, fillPlaceholders, type Reason, SEED_CASES } from "@danesweep/dane";
import {
  BLACKHOLE_SERVER,
  CHILD_SERVER,
  NEVER_CONTACT_ADDRESS,
  ROOT_SERVER,
  SMTP_HOSTS,
  ZONES,
} from "./addresses.ts";
import { tlsaData, wrongDigest } from "./certs.ts";
import { mtaStsRecords } from "./mta-sts.ts";
import { profileRecords } from "./profiles.ts";

export interface SeedCase {
  /** 1..24, the write-up's numbering. */
  case: number;
  /** The mail domain, no trailing dot. */
  domain: string;
  /** The write-up's description, shortened. */
  description: string;
  /** What the write-up says happens. */
  writeUp: string;
  expected: {
    action: "deliver" | "defer";
    security?: DeliverySecurity;
    /** MX host delivered to (lowercase, no trailing dot). */
    host?: string;
    /** Address delivered to (loopback mapping). */
    address?: string;
    reason: Reason;
  };
}

/** The testbed's addresses for the table's address placeholders. */
const ADDRESSES: Readonly<Record<string, string>> = {
  "{MATCH}": SMTP_HOSTS.match.address,
  "{MISMATCH}": SMTP_HOSTS.mismatch.address,
  "{PLAIN}": SMTP_HOSTS.plain.address,
  "{NEVER}": NEVER_CONTACT_ADDRESS,
};

export function seedCases(): SeedCase[] {
  return SEED_CASES.map((c) => {
    const e = c.expected;
    if (e.action !== "deliver" && e.action !== "defer") {
      throw new Error(`seed case ${c.case}: unexpected action ${e.action}`);
    }
    const expected: SeedCase["expected"] = { action: e.action, reason: e.reason };
    if (e.security) expected.security = e.security;
    if (e.host) expected.host = e.host;
    if (e.address) expected.address = fillPlaceholders(e.address, ADDRESSES);
    return { case: c.case, domain: c.domain, description: c.description, writeUp: c.writeUp, expected };
  });
}

/** What a validating resolver returns for a name (resolver tests). */
export interface ExtraName {
  name: string;
  type: string;
  /** Expected rcode through Unbound. */
  rcode: "NOERROR" | "NXDOMAIN" | "SERVFAIL";
  /** Expected AD bit (when NOERROR). */
  ad?: boolean;
  /** Answer shape. */
  note: string;
}

export const EXTRA_NAMES: readonly ExtraName[] = [
  {
    name: "mx.bogustesting",
    type: "A",
    rcode: "SERVFAIL",
    note: "bogus (wrong DS in the root); NOERROR with +cd",
  },
  { name: "test.bogustesting", type: "MX", rcode: "SERVFAIL", note: "bogus MX; NOERROR with +cd" },
  {
    name: "test.timeouttesting",
    type: "MX",
    rcode: "SERVFAIL",
    note: "server never answers: SERVFAIL or timeout",
  },
  { name: "does-not-exist.testing", type: "MX", rcode: "NXDOMAIN", ad: true, note: "secure NXDOMAIN" },
  {
    name: "nodata.testing",
    type: "MX",
    rcode: "NOERROR",
    ad: true,
    note: "secure NODATA (only a TXT record)",
  },
  { name: "nullmx.testing", type: "MX", rcode: "NOERROR", ad: true, note: "null MX: 0 ." },
  {
    name: "implicitmx.testing",
    type: "MX",
    rcode: "NOERROR",
    ad: true,
    note: "NODATA for MX; A 127.64.93.21 and a matching TLSA at _25._tcp.implicitmx.testing",
  },
  { name: "loop1.testing", type: "A", rcode: "SERVFAIL", note: "CNAME loop loop1 -> loop2 -> loop1" },
  {
    name: "chain0.testing",
    type: "MX",
    rcode: "NOERROR",
    ad: true,
    note: "10 CNAME links chain0 -> ... -> chain10 (MX 10 test1b.testing, A 127.64.93.21)",
  },
  {
    name: "manymx.testing",
    type: "MX",
    rcode: "NOERROR",
    ad: true,
    note: "25 MX records mx01..mx25.manymx.testing",
  },
  { name: "manyaddr.testing", type: "A", rcode: "NOERROR", ad: true, note: "20 A records 127.61.0.1..20" },
  { name: "bigtxt.testing", type: "TXT", rcode: "NOERROR", ad: true, note: "> 1232 bytes: TC=1 over UDP" },
  {
    name: "bigmx.testing",
    type: "MX",
    rcode: "NOERROR",
    ad: true,
    note: "40 MX, > 1232 bytes: TC=1 over UDP",
  },
  { name: "test19a.moretesting", type: "A", rcode: "NOERROR", ad: false, note: "insecure zone" },
  { name: "mail.moretesting", type: "MX", rcode: "NOERROR", ad: false, note: "insecure MX domain" },
];

// ------------------------------------------------------------------ zone text

const TTL = 300;

function soa(zone: string, serial: number): string {
  const ns = zone === "." ? ROOT_SERVER.name : `ns1.${zone}`;
  const mbox = zone === "." ? "hostmaster.root-servers.invalid." : `hostmaster.${zone}`;
  return [`$ORIGIN ${zone}`, `$TTL ${TTL}`, `${zone} SOA ${ns} ${mbox} ${serial} 3600 600 86400 60`].join(
    "\n",
  );
}

class Zone {
  readonly lines: string[];
  constructor(origin: string) {
    this.lines = [soa(origin, 1), `${origin} NS ${origin === "." ? ROOT_SERVER.name : `ns1.${origin}`}`];
  }
  rr(owner: string, type: string, rdata: string): this {
    this.lines.push(`${owner} ${type} ${rdata}`);
    return this;
  }
  text(): string {
    return this.lines.join("\n") + "\n";
  }
}

export interface SeedZones {
  /** zone name (with trailing dot) -> zone file text */
  [zone: string]: string;
}

/** The zone a table record belongs to ("testing.", "moretesting."), and its owner relative to it. */
function placeRecord(owner: string): { zone: string; owner: string } | undefined {
  for (const zone of [ZONES.signed, ZONES.unsigned]) {
    if (owner.endsWith(`.${zone}`)) return { zone, owner: owner.slice(0, -(zone.length + 1)) };
  }
  return undefined;
}

export function seedZones(certBPem: string, sts?: { mxPem: string }): SeedZones {
  const right = tlsaData(certBPem, 0, 1);
  const values: Record<string, string> = {
    ...ADDRESSES,
    "{RIGHT}": right,
    "{WRONG}": wrongDigest(right),
    "{SHA512}": tlsaData(certBPem, 0, 2),
    "{RIGHT16}": right.slice(0, 32),
  };
  const G = SMTP_HOSTS.match.address;
  const tlsa = (d: string) => `3 0 1 ${d}`;

  const t = new Zone(ZONES.signed).rr("ns1", "A", CHILD_SERVER.address);
  const u = new Zone(ZONES.unsigned).rr("ns1", "A", CHILD_SERVER.address);
  // The 24 cases: the seed table's records, in its order.
  for (const c of SEED_CASES) {
    for (const [owner, type, data] of c.records) {
      const place = placeRecord(owner);
      if (!place) throw new Error(`seed case ${c.case}: record owner ${owner} is in no served zone`);
      (place.zone === ZONES.signed ? t : u).rr(place.owner, type, fillPlaceholders(data, values));
    }
  }
  // Extra names for resolver tests (EXTRA_NAMES).
  t.rr("nodata", "TXT", '"this name has only a TXT record"');
  t.rr("nullmx", "MX", "0 .");
  t.rr("implicitmx", "A", G).rr("_25._tcp.implicitmx", "TLSA", tlsa(right));
  t.rr("loop1", "CNAME", "loop2").rr("loop2", "CNAME", "loop1");
  for (let i = 0; i < 10; i++) t.rr(`chain${i}`, "CNAME", `chain${i + 1}`);
  t.rr("chain10", "MX", "10 test1b").rr("chain10", "A", G);
  for (let i = 1; i <= 25; i++) {
    const n = String(i).padStart(2, "0");
    t.rr("manymx", "MX", `${i * 10} mx${n}.manymx`).rr(`mx${n}.manymx`, "A", G);
  }
  for (let i = 1; i <= 20; i++) t.rr("manyaddr", "A", `127.61.0.${i}`);
  for (let i = 0; i < 8; i++) t.rr("bigtxt", "TXT", `"${String(i).repeat(1) + "x".repeat(249)}"`);
  for (let i = 1; i <= 40; i++) {
    const n = String(i).padStart(2, "0");
    t.rr("bigmx", "MX", `${i} mx-${n}-${"f".repeat(40)}.bigmx`);
  }

  // The MTA-STS domains (mta-sts.ts), when the WebPKI MX certificate is given.
  if (sts) {
    for (const [owner, type, data] of mtaStsRecords({ webpki: tlsaData(sts.mxPem, 1, 1), certB: right }))
      t.rr(owner, type, data);
  }

  u.rr("mail", "MX", "10 test19a");

  // The client-policy cases (profiles.ts): verdicts that differ between the postfix and rfc7672 profiles.
  const pf = profileRecords(right);
  t.lines.push(...pf.signed);
  u.lines.push(...pf.unsigned);

  const b = new Zone(ZONES.bogus).rr("ns1", "A", CHILD_SERVER.address);
  b.rr("test", "MX", "10 mx").rr("mx", "A", G).rr("_25._tcp.mx", "TLSA", tlsa(right));

  return {
    [ZONES.signed]: t.text(),
    [ZONES.unsigned]: u.text(),
    [ZONES.bogus]: b.text(),
    [ZONES.synth]: new Zone(ZONES.synth).rr("ns1", "A", CHILD_SERVER.address).text(),
    [ZONES.synthInsecure]: new Zone(ZONES.synthInsecure).rr("ns1", "A", CHILD_SERVER.address).text(),
  };
}

/** Signed child zones whose DS goes into the root. */
export const SIGNED_CHILDREN = [ZONES.signed, ZONES.bogus, ZONES.synth] as const;
/** Zones served by the child Knot instance, and whether each is signed. */
export const CHILD_ZONES: readonly { zone: string; signed: boolean }[] = [
  { zone: ZONES.signed, signed: true },
  { zone: ZONES.unsigned, signed: false },
  { zone: ZONES.bogus, signed: true },
  { zone: ZONES.synth, signed: true },
  { zone: ZONES.synthInsecure, signed: false },
];

export function rootZone(ds: readonly string[]): string {
  const z = new Zone(ZONES.root).rr(ROOT_SERVER.name, "A", ROOT_SERVER.address);
  for (const { zone } of CHILD_ZONES)
    z.rr(zone, "NS", `ns1.${zone}`).rr(`ns1.${zone}`, "A", CHILD_SERVER.address);
  z.rr(ZONES.timeout, "NS", `ns1.${ZONES.timeout}`).rr(`ns1.${ZONES.timeout}`, "A", BLACKHOLE_SERVER.address);
  for (const line of ds) {
    const f = line.trim().split(/\s+/);
    const i = f.indexOf("DS");
    if (i < 1 || f.length < i + 5) continue;
    const owner = f[0]!.toLowerCase();
    let digest = f
      .slice(i + 4)
      .join("")
      .toLowerCase();
    if (owner === ZONES.bogus) digest = wrongDigest(digest);
    z.rr(owner, "DS", `${f[i + 1]} ${f[i + 2]} ${f[i + 3]} ${digest}`);
  }
  return z.text();
}
