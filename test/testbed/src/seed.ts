/**
 * The seed universe: zone data of the 24 write-up cases (sendmail DANE test
 * cases, 2018) plus extra names for resolver tests, and the expected outcome of
 * each case as the write-up and rfc7672-rules.md "Worked examples" state it.
 *
 * seedCases(): pure; the 24 cases, expected outcomes taken from the write-up
 *   text and the rules' worked-examples table (never from any code).
 * seedZones(certBPem): pure; the zone files (text) of testing., moretesting.,
 *   bogustesting., and the minimal synth./synthu. zones, with TLSA data computed
 *   from certificate B. Throws only if the PEM does not parse.
 * rootZone(ds): pure; the root zone with the given DS records of the signed
 *   children; the DS of bogustesting. has its digest altered (so the zone is bogus).
 *   DS lines are "<owner> [ttl] [IN] DS <tag> <alg> <digesttype> <hex>"; others are ignored.
 * EXTRA_NAMES: the resolver-test names and what a validating resolver returns for them.
 */
import type { DeliverySecurity, Reason } from "@danesweep/dane";
import {
  BLACKHOLE_SERVER,
  CHILD_SERVER,
  NEVER_CONTACT_ADDRESS,
  ROOT_SERVER,
  SMTP_HOSTS,
  ZONES,
} from "./addresses.ts";
import { tlsaData, wrongDigest } from "./certs.ts";

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

const G = SMTP_HOSTS.match.address;

const deliverDane = (host: string): SeedCase["expected"] => ({
  action: "deliver",
  security: "dane-verified",
  host,
  address: G,
  reason: "dane-authenticated",
});
const deliverUnauth = (host: string): SeedCase["expected"] => ({
  action: "deliver",
  security: "encrypted",
  host,
  address: G,
  reason: "tls-required-unauthenticated",
});
const defer = (reason: Reason): SeedCase["expected"] => ({ action: "defer", reason });

const NOT_AUTH = "Mail will bounce (403 4.7.0 server not authenticated).";
const DANE_FAIL = "Mail will bounce (403 4.7.0 DANE check failed).";
const UNAUTH = "Mail will be delivered (verify=FAIL) unauthenticated.";
const TRUSTED = "Mail will be delivered (verify=TRUSTED).";

const CASES: readonly SeedCase[] = [
  {
    case: 1,
    domain: "test1.testing",
    description: "two MX, both usable TLSA, both STARTTLS; primary key does not match",
    writeUp: "Mail will be delivered (verify=TRUSTED) to the secondary MX.",
    expected: deliverDane("test1b.testing"),
  },
  {
    case: 2,
    domain: "test2.testing",
    description: "one MX, usable TLSA, STARTTLS; key does not match",
    writeUp: "Mail will bounce (403 4.7.0 DANE check failed).",
    expected: defer("dane-check-failed"),
  },
  {
    case: 3,
    domain: "test3.testing",
    description: "two MX, both usable TLSA; primary does not offer STARTTLS",
    writeUp: "Mail will be delivered (verify=TRUSTED) to the secondary MX.",
    expected: deliverDane("test3b.testing"),
  },
  {
    case: 4,
    domain: "test4.testing",
    description: "one MX, usable TLSA, no STARTTLS",
    writeUp: NOT_AUTH,
    expected: defer("starttls-not-offered"),
  },
  {
    case: 5,
    domain: "test5.testing",
    description: "one MX, unusable TLSA (usage 1), STARTTLS",
    writeUp: UNAUTH,
    expected: deliverUnauth("test5a.testing"),
  },
  {
    case: 6,
    domain: "test6.testing",
    description: "one MX, unusable TLSA (usage 1), no STARTTLS",
    writeUp: NOT_AUTH,
    expected: defer("starttls-not-offered"),
  },
  {
    case: 7,
    domain: "test7.testing",
    description: "one MX, unusable TLSA (selector 2), STARTTLS",
    writeUp: UNAUTH,
    expected: deliverUnauth("test7a.testing"),
  },
  {
    case: 8,
    domain: "test8.testing",
    description: "one MX, unusable TLSA (selector 2), no STARTTLS",
    writeUp: NOT_AUTH,
    expected: defer("starttls-not-offered"),
  },
  {
    case: 9,
    domain: "test9.testing",
    description: "one MX, unusable TLSA (matching type 4), STARTTLS",
    writeUp: UNAUTH,
    expected: deliverUnauth("test9a.testing"),
  },
  {
    case: 10,
    domain: "test10.testing",
    description: "one MX, unusable TLSA (matching type 4), no STARTTLS",
    writeUp: NOT_AUTH,
    expected: defer("starttls-not-offered"),
  },
  {
    case: 11,
    domain: "test11.testing",
    description: "one MX, unusable TLSA (SHA-256 digest of 16 bytes), STARTTLS",
    writeUp: UNAUTH,
    expected: deliverUnauth("test11a.testing"),
  },
  {
    case: 12,
    domain: "test12.testing",
    description: "one MX, unusable TLSA (SHA-256 digest of 16 bytes), no STARTTLS",
    writeUp: NOT_AUTH,
    expected: defer("starttls-not-offered"),
  },
  {
    case: 13,
    domain: "test13.testing",
    description: "domain CNAME -> MX; usable TLSA at the MX host; key matches",
    writeUp: TRUSTED,
    expected: deliverDane("test13aa.testing"),
  },
  {
    case: 14,
    domain: "test14.testing",
    description: "domain CNAME -> MX; usable TLSA at the MX host; key does not match",
    writeUp: DANE_FAIL,
    expected: defer("dane-check-failed"),
  },
  {
    case: 15,
    domain: "test15.testing",
    description: "MX host CNAME chain; matching TLSA at the MX host name only",
    writeUp: TRUSTED,
    expected: deliverDane("test15aa.testing"),
  },
  {
    case: 16,
    domain: "test16.testing",
    description: "MX host CNAME chain; non-matching TLSA at the MX host name only",
    writeUp: DANE_FAIL,
    expected: defer("dane-check-failed"),
  },
  {
    case: 17,
    domain: "test17.testing",
    description: "MX host CNAME chain; matching TLSA at the end of the chain",
    writeUp: TRUSTED,
    expected: deliverDane("test17aa.testing"),
  },
  {
    case: 18,
    domain: "test18.testing",
    description: "MX host CNAME chain; non-matching TLSA at the end of the chain",
    writeUp: DANE_FAIL,
    expected: defer("dane-check-failed"),
  },
  {
    case: 19,
    domain: "test19.testing",
    description: "secure MX; MX host in an insecure zone; its TLSA query would time out",
    writeUp:
      "Mail will be delivered (verify=FAIL) unauthenticated to the MX host - we must not attempt delivery to the test19 A record.",
    expected: {
      action: "deliver",
      security: "encrypted",
      host: "test19a.moretesting",
      address: G,
      reason: "opportunistic-tls",
    },
  },
  {
    case: 20,
    domain: "test20.testing",
    description: "secure MX; secure MX host; its TLSA query times out",
    writeUp:
      "Mail will bounce (403 4.7.0 DANE check failed). We must not fallback ... to the test20 A record.",
    expected: defer("tlsa-lookup-failed"),
  },
  {
    case: 21,
    domain: "test21.testing",
    description: "MX host CNAME chain; TLSA at both ends; the end matches, the start (ignored) does not",
    writeUp: TRUSTED,
    expected: deliverDane("test21aa.testing"),
  },
  {
    case: 22,
    domain: "test22.testing",
    description: "MX host CNAME chain; TLSA at both ends; the start (ignored) matches, the end does not",
    writeUp: DANE_FAIL,
    expected: defer("dane-check-failed"),
  },
  {
    case: 23,
    domain: "test23.testing",
    description:
      "MX host chain wanders through an insecure zone; the start matches, the end (ignored) does not",
    writeUp: TRUSTED,
    expected: deliverDane("test23aa.testing"),
  },
  {
    case: 24,
    domain: "test24.testing",
    description:
      "MX host chain wanders through an insecure zone; the start does not match, the end (ignored) does",
    writeUp: DANE_FAIL,
    expected: defer("dane-check-failed"),
  },
];

export function seedCases(): SeedCase[] {
  return CASES.map((c) => ({ ...c, expected: { ...c.expected } }));
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

export function seedZones(certBPem: string): SeedZones {
  const right = tlsaData(certBPem, 0, 1);
  const wrong = wrongDigest(right);
  const sha512 = tlsaData(certBPem, 0, 2);
  const M = SMTP_HOSTS.mismatch.address;
  const P = SMTP_HOSTS.plain.address;
  const tlsa = (d: string) => `3 0 1 ${d}`;

  const t = new Zone(ZONES.signed).rr("ns1", "A", CHILD_SERVER.address);
  // Cases 1-4: MX hosts with usable records.
  t.rr("test1", "MX", "10 test1a").rr("test1", "MX", "20 test1b").rr("test1a", "A", M).rr("test1b", "A", G);
  t.rr("_25._tcp.test1a", "TLSA", tlsa(right)).rr("_25._tcp.test1b", "TLSA", tlsa(right));
  t.rr("test2", "MX", "10 test2a").rr("test2a", "A", M).rr("_25._tcp.test2a", "TLSA", tlsa(right));
  t.rr("test3", "MX", "10 test3a").rr("test3", "MX", "20 test3b").rr("test3a", "A", P).rr("test3b", "A", G);
  t.rr("_25._tcp.test3a", "TLSA", tlsa(right)).rr("_25._tcp.test3b", "TLSA", tlsa(right));
  t.rr("test4", "MX", "10 test4a").rr("test4a", "A", P).rr("_25._tcp.test4a", "TLSA", tlsa(right));
  // Cases 5-12: unusable records; odd cases STARTTLS (B), even cases plain.
  const unusable: [number, string][] = [
    [5, `1 0 2 ${sha512}`],
    [7, `3 2 1 ${right}`],
    [9, `3 0 4 ${right}`],
    [11, `3 0 1 ${right.slice(0, 32)}`],
  ];
  for (const [n, rdata] of unusable) {
    for (const [c, addr] of [
      [n, G],
      [n + 1, P],
    ] as const) {
      t.rr(`test${c}`, "MX", `10 test${c}a`)
        .rr(`test${c}a`, "A", addr)
        .rr(`_25._tcp.test${c}a`, "TLSA", rdata);
    }
  }
  // Cases 13-14: domain CNAME.
  for (const [c, d] of [
    [13, right],
    [14, wrong],
  ] as const) {
    t.rr(`test${c}`, "CNAME", `test${c}a`)
      .rr(`test${c}a`, "MX", `10 test${c}aa`)
      .rr(`test${c}aa`, "A", G)
      .rr(`_25._tcp.test${c}aa`, "TLSA", tlsa(d));
  }
  // Cases 15-18, 21-22: MX host CNAME chains.
  const chain = (c: number) =>
    t
      .rr(`test${c}`, "CNAME", `test${c}a`)
      .rr(`test${c}a`, "MX", `10 test${c}aa`)
      .rr(`test${c}aa`, "CNAME", `test${c}aaa`)
      .rr(`test${c}aaa`, "CNAME", `test${c}aaaa`)
      .rr(`test${c}aaaa`, "A", G);
  chain(15).rr("_25._tcp.test15aa", "TLSA", tlsa(right));
  chain(16).rr("_25._tcp.test16aa", "TLSA", tlsa(wrong));
  chain(17).rr("_25._tcp.test17aaaa", "TLSA", tlsa(right));
  chain(18).rr("_25._tcp.test18aaaa", "TLSA", tlsa(wrong));
  chain(21).rr("_25._tcp.test21aaaa", "TLSA", tlsa(right)).rr("_25._tcp.test21aa", "TLSA", tlsa(wrong));
  chain(22).rr("_25._tcp.test22aaaa", "TLSA", tlsa(wrong)).rr("_25._tcp.test22aa", "TLSA", tlsa(right));
  // Cases 19-20: TLSA lookups that time out; the domains' own A must never be used.
  t.rr("test19", "MX", `10 test19a.${ZONES.unsigned}`).rr("test19", "A", NEVER_CONTACT_ADDRESS);
  t.rr("test20", "MX", "10 test20a").rr("test20", "A", NEVER_CONTACT_ADDRESS).rr("test20a", "A", G);
  t.rr("_25._tcp.test20a", "CNAME", `_25._tcp.test20aa.${ZONES.timeout}`);
  // Cases 23-24: MX host chain through the insecure zone and back.
  for (const [c, start, end] of [
    [23, right, wrong],
    [24, wrong, right],
  ] as const) {
    t.rr(`test${c}`, "CNAME", `test${c}a`)
      .rr(`test${c}a`, "MX", `10 test${c}aa`)
      .rr(`test${c}aa`, "CNAME", `test${c}aaa.${ZONES.unsigned}`)
      .rr(`test${c}aaa`, "CNAME", `test${c}aaaa`)
      .rr(`test${c}aaaa`, "A", G)
      .rr(`_25._tcp.test${c}aaaa`, "TLSA", tlsa(end))
      .rr(`_25._tcp.test${c}aa`, "TLSA", tlsa(start));
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

  const u = new Zone(ZONES.unsigned).rr("ns1", "A", CHILD_SERVER.address);
  u.rr("test19a", "A", G).rr("_25._tcp.test19a", "CNAME", `_25._tcp.test19aa.${ZONES.timeout}`);
  u.rr("test23aaa", "CNAME", `test23aaa.${ZONES.signed}`).rr(
    "test24aaa",
    "CNAME",
    `test24aaa.${ZONES.signed}`,
  );
  u.rr("mail", "MX", "10 test19a");

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
