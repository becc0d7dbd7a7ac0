/**
 * The synthetic universe: N mail domains in a seeded-random mixture of DANE
 * situations, for benchmarks and load tests. Pure: same options, same output.
 *
 * synthUniverse(opts): zone files for synth. (signed) and synthu. (unsigned), the
 *   domain list with each domain's class and expected outcome, and the SMTP servers
 *   the MX hosts need. Throws RangeError for n < 1, hosts < 1 or hosts > 250 (the
 *   host addresses are 127.60.<kind>.<1..250>), and if a PEM does not parse.
 *
 * Classes (expected outcome per docs/rules.md):
 *   dane-ee-match     MX host with `3 1 1` of the certificate it serves -> deliver dane-verified
 *   dane-ee-mismatch  MX host whose `3 1 1` digest is wrong             -> defer dane-check-failed
 *   dane-ta           MX host serving leaf+CA, `2 0 1` of the CA       -> deliver dane-verified
 *   no-tlsa           secure MX host without TLSA, STARTTLS            -> deliver encrypted (opportunistic)
 *   insecure          domain in the unsigned zone synthu.              -> deliver encrypted (opportunistic)
 *   cname-chain       domain CNAME -> name with MX to a matching host  -> deliver dane-verified
 * Many domains share MX hosts: `names` MX host names per kind (default `hosts`), spread
 * round-robin over the `hosts` addresses of the kind (the SMTP server of an address serves
 * every name on it). Each name is a probe of its own (the SNI differs), so `names` sets the
 * share of distinct probes per domain; some domains have two MX.
 */
import type { DeliverySecurity, Reason } from "@danesweep/dane";
import { CHILD_SERVER, SMTP_PORT, SYNTH_HOST_PREFIX, ZONES } from "./addresses.ts";
import { tlsaData, wrongDigest } from "./certs.ts";

export const SYNTH_CLASSES = [
  "dane-ee-match",
  "dane-ee-mismatch",
  "dane-ta",
  "no-tlsa",
  "insecure",
  "cname-chain",
] as const;
export type SynthClass = (typeof SYNTH_CLASSES)[number];

/** Share of each class in the mixture (sums to 1). */
export const SYNTH_WEIGHTS: Readonly<Record<SynthClass, number>> = {
  "dane-ee-match": 0.35,
  "dane-ee-mismatch": 0.1,
  "dane-ta": 0.1,
  "no-tlsa": 0.2,
  insecure: 0.15,
  "cname-chain": 0.1,
};

export const SYNTH_EXPECTED: Readonly<
  Record<SynthClass, { action: "deliver" | "defer"; security?: DeliverySecurity; reason: Reason }>
> = {
  "dane-ee-match": { action: "deliver", security: "dane-verified", reason: "dane-authenticated" },
  "dane-ee-mismatch": { action: "defer", reason: "dane-check-failed" },
  "dane-ta": { action: "deliver", security: "dane-verified", reason: "dane-authenticated" },
  "no-tlsa": { action: "deliver", security: "encrypted", reason: "opportunistic-tls" },
  insecure: { action: "deliver", security: "encrypted", reason: "opportunistic-tls" },
  "cname-chain": { action: "deliver", security: "dane-verified", reason: "dane-authenticated" },
};

export interface SynthOptions {
  n: number;
  seed: number;
  /** MX host addresses per kind (ee, bad, ta, tls, insecure), 1..250. */
  hosts: number;
  /** MX host names per kind (default `hosts`), each on one of the kind's addresses. */
  names?: number;
  /** Certificate (PEM) served by ee/bad hosts. */
  eePem: string;
  /** CA certificate (PEM) that issued the chain served by ta hosts. */
  caPem: string;
  /** Files the SMTP servers use. */
  files: { eeCert: string; eeKey: string; taChain: string; taKey: string; tlsCert: string; tlsKey: string };
}

export interface SynthDomain {
  domain: string;
  class: SynthClass;
  /** MX host names, preference order. */
  mx: string[];
}

export interface SynthHost {
  name: string;
  address: string;
  kind: "ee" | "bad" | "ta" | "tls" | "insecure";
}

/** The most MX host names per kind (keeps the zones a size Knot signs in seconds). */
export const MAX_NAMES_PER_KIND = 200_000;

export interface SynthUniverse {
  zones: { [zone: string]: string };
  domains: SynthDomain[];
  hosts: SynthHost[];
  /** test/smtp config: { servers: [...] } */
  smtpConfig: {
    servers: { host: string; port: number; mode: "starttls"; certFile: string; keyFile: string }[];
  };
  counts: Record<SynthClass, number>;
}

/** mulberry32: small, seedable, good enough for a test mixture. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KIND_OCTET = { ee: 1, bad: 2, ta: 3, tls: 4, insecure: 5 } as const;

function header(zone: string): string[] {
  return [
    `$ORIGIN ${zone}`,
    "$TTL 300",
    `${zone} SOA ns1.${zone} hostmaster.${zone} 1 3600 600 86400 60`,
    `${zone} NS ns1.${zone}`,
    `ns1.${zone} A ${CHILD_SERVER.address}`,
  ];
}

export function synthUniverse(opts: SynthOptions): SynthUniverse {
  const { n, hosts: h } = opts;
  if (!Number.isInteger(n) || n < 1) throw new RangeError("n must be a positive integer");
  if (!Number.isInteger(h) || h < 1 || h > 250) throw new RangeError("hosts must be 1..250");
  const names = opts.names ?? h;
  if (!Number.isInteger(names) || names < 1 || names > MAX_NAMES_PER_KIND)
    throw new RangeError(`names must be 1..${MAX_NAMES_PER_KIND}`);
  const rand = seededRandom(opts.seed);
  const spki = tlsaData(opts.eePem, 1, 1);
  const ca = tlsaData(opts.caPem, 0, 1);
  const s = header(ZONES.synth);
  const u = header(ZONES.synthInsecure);

  const pool: Record<SynthHost["kind"], SynthHost[]> = { ee: [], bad: [], ta: [], tls: [], insecure: [] };
  const hosts: SynthHost[] = [];
  for (const kind of Object.keys(KIND_OCTET) as SynthHost["kind"][]) {
    for (let k = 1; k <= names; k++) {
      const zone = kind === "insecure" ? ZONES.synthInsecure : `mx.${ZONES.synth}`;
      const name = `${kind}${k}.${zone}`;
      const host: SynthHost = {
        name,
        address: `${SYNTH_HOST_PREFIX}.${KIND_OCTET[kind]}.${((k - 1) % h) + 1}`,
        kind,
      };
      pool[kind].push(host);
      hosts.push(host);
      (kind === "insecure" ? u : s).push(`${name} A ${host.address}`);
      const tlsa =
        kind === "ee"
          ? `3 1 1 ${spki}`
          : kind === "bad"
            ? `3 1 1 ${wrongDigest(spki)}`
            : kind === "ta"
              ? `2 0 1 ${ca}`
              : undefined;
      if (tlsa) s.push(`_${SMTP_PORT}._tcp.${name} TLSA ${tlsa}`);
    }
  }

  const cumulative: [SynthClass, number][] = [];
  let acc = 0;
  for (const c of SYNTH_CLASSES) {
    acc += SYNTH_WEIGHTS[c];
    cumulative.push([c, acc]);
  }
  const pickClass = (): SynthClass => {
    const r = rand() * acc;
    return (cumulative.find(([, w]) => r < w) ?? cumulative[cumulative.length - 1]!)[0];
  };
  const pickHosts = (kind: SynthHost["kind"]): SynthHost[] => {
    const first = pool[kind][Math.floor(rand() * names)]!;
    if (names < 2 || rand() >= 0.3) return [first];
    let second = pool[kind][Math.floor(rand() * names)]!;
    if (second === first) second = pool[kind][(pool[kind].indexOf(first) + 1) % names]!;
    return [first, second];
  };
  const KIND_OF: Record<SynthClass, SynthHost["kind"]> = {
    "dane-ee-match": "ee",
    "dane-ee-mismatch": "bad",
    "dane-ta": "ta",
    "no-tlsa": "tls",
    insecure: "insecure",
    "cname-chain": "ee",
  };

  const counts = Object.fromEntries(SYNTH_CLASSES.map((c) => [c, 0])) as Record<SynthClass, number>;
  const domains: SynthDomain[] = [];
  for (let i = 1; i <= n; i++) {
    const cls = pickClass();
    counts[cls]++;
    const mx = pickHosts(KIND_OF[cls]);
    const zone = cls === "insecure" ? ZONES.synthInsecure : ZONES.synth;
    const domain = `d${i}.${zone}`;
    const lines = cls === "insecure" ? u : s;
    let owner = domain;
    if (cls === "cname-chain") {
      owner = `c${i}.${zone}`;
      lines.push(`${domain} CNAME ${owner}`);
    }
    for (const [j, m] of mx.entries()) lines.push(`${owner} MX ${(j + 1) * 10} ${m.name}`);
    domains.push({
      domain: domain.replace(/\.$/, ""),
      class: cls,
      mx: mx.map((m) => m.name.replace(/\.$/, "")),
    });
  }

  const f = opts.files;
  // One SMTP server per address (several names share one).
  const byAddress = new Map<string, SynthHost>();
  for (const x of hosts) if (!byAddress.has(x.address)) byAddress.set(x.address, x);
  const smtpConfig: SynthUniverse["smtpConfig"] = {
    servers: [...byAddress.values()].map((x) => {
      const [certFile, keyFile] =
        x.kind === "ee" || x.kind === "bad"
          ? [f.eeCert, f.eeKey]
          : x.kind === "ta"
            ? [f.taChain, f.taKey]
            : [f.tlsCert, f.tlsKey];
      return { host: x.address, port: SMTP_PORT, mode: "starttls" as const, certFile, keyFile };
    }),
  };
  return {
    zones: { [ZONES.synth]: s.join("\n") + "\n", [ZONES.synthInsecure]: u.join("\n") + "\n" },
    domains,
    hosts,
    smtpConfig,
    counts,
  };
}
