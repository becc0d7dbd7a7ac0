/**
 * The risk cases of issue 14 (libs/dane rules 37-40), as zone data and SMTP
 * servers of the testbed. Pure: certificate PEMs in, text out.
 *
 * In `testing.` (riskRecords, appended to its zone):
 * - latent.testing: MX dual.testing, a server with an ECDSA (A) and an RSA (B)
 *   certificate; TLSA 3 1 1 of A only: senders offering only RSA defer.
 * - expiring.testing: MX soon.testing, a leaf valid 12 days from when it was
 *   made; one 3 1 1 record with a TTL of 2,000,000 s (23 days):
 *   no-next-key, leaf-expiring, ttl-exceeds-validity.
 * - rollover.testing: MX full.testing (certificate B); one 3 0 1 record over
 *   the whole certificate: no-next-key, ee-full-certificate.
 * - tarisk.testing: MX taint.testing, a leaf under an intermediate under the
 *   testbed CA; one 2 1 1 record of the intermediate: no-next-key, ta-intermediate.
 * In `consisttesting.` (consistZones), served by two Knot instances signing
 * with the same imported key and a third name server that never answers:
 * - split.consisttesting: MX mx.consisttesting (certificate B). ns1 serves
 *   TLSA 3 1 1 of B, ns2 (127.53.0.3) 3 1 1 of B and of A (a next key
 *   published on one server only) and signs with signatures valid for two
 *   days at most; ns3 is the never-answering server. Every resolver answer
 *   authenticates B whichever server it came from, so the verdict is stable;
 *   the consistency facts name ns2 (rrsig-expiring), whichever of ns1 and
 *   ns2 the resolver did not take its answer from (rrset-differs: the
 *   reference is the validated RRset), and ns3 (server-unresponsive).
 */
import { BLACKHOLE_SERVER, CHILD_SERVER } from "./addresses.ts";
import { tlsaData } from "./certs.ts";

/** SMTP servers of the risk cases. */
export const RISK_HOSTS = {
  dual: "127.64.93.30",
  soon: "127.64.93.31",
  taint: "127.64.93.32",
} as const;

/** The second authoritative server of consisttesting. (a Knot instance of its own). */
export const CONSIST_NS2 = { address: "127.53.0.3", port: 53 } as const;
export const CONSIST_ZONE = "consisttesting.";

/** Seconds: the TLSA TTL of expiring.testing, longer than what is left of its leaf. */
export const LONG_TLSA_TTL = 2_000_000;

export interface RiskPems {
  A: string;
  B: string;
  soon: string;
  int: string;
}

/** Lines for the testing. zone (relative owners). */
export function riskRecords(p: RiskPems): string[] {
  const B_MATCH = "127.64.93.21";
  return [
    "latent MX 10 dual",
    `dual A ${RISK_HOSTS.dual}`,
    `_25._tcp.dual TLSA 3 1 1 ${tlsaData(p.A, 1, 1)}`,
    "expiring MX 10 soon",
    `soon A ${RISK_HOSTS.soon}`,
    `_25._tcp.soon ${LONG_TLSA_TTL} TLSA 3 1 1 ${tlsaData(p.soon, 1, 1)}`,
    "rollover MX 10 full",
    `full A ${B_MATCH}`,
    `_25._tcp.full TLSA 3 0 1 ${tlsaData(p.B, 0, 1)}`,
    "tarisk MX 10 taint",
    `taint A ${RISK_HOSTS.taint}`,
    `_25._tcp.taint TLSA 2 1 1 ${tlsaData(p.int, 1, 1)}`,
  ];
}

/** The two variants of consisttesting.: ns1's (on the child Knot) and ns2's. */
export function consistZones(p: RiskPems): { ns1: string; ns2: string } {
  const head = [
    `$ORIGIN ${CONSIST_ZONE}`,
    "$TTL 300",
    `${CONSIST_ZONE} SOA ns1.${CONSIST_ZONE} hostmaster.${CONSIST_ZONE} 1 3600 600 86400 60`,
    `${CONSIST_ZONE} NS ns1`,
    `${CONSIST_ZONE} NS ns2`,
    `${CONSIST_ZONE} NS ns3`,
    `ns1 A ${CHILD_SERVER.address}`,
    `ns2 A ${CONSIST_NS2.address}`,
    `ns3 A ${BLACKHOLE_SERVER.address}`,
    "split MX 10 mx",
    "mx A 127.64.93.21",
    `_25._tcp.mx TLSA 3 1 1 ${tlsaData(p.B, 1, 1)}`,
  ];
  return {
    ns1: `${head.join("\n")}\n`,
    ns2: `${[...head, `_25._tcp.mx TLSA 3 1 1 ${tlsaData(p.A, 1, 1)}`].join("\n")}\n`,
  };
}

/** Root zone lines delegating consisttesting. to its three servers (the DS comes from keymgr). */
export function consistDelegation(): string[] {
  return [
    `${CONSIST_ZONE} NS ns1.${CONSIST_ZONE}`,
    `${CONSIST_ZONE} NS ns2.${CONSIST_ZONE}`,
    `${CONSIST_ZONE} NS ns3.${CONSIST_ZONE}`,
    `ns1.${CONSIST_ZONE} A ${CHILD_SERVER.address}`,
    `ns2.${CONSIST_ZONE} A ${CONSIST_NS2.address}`,
    `ns3.${CONSIST_ZONE} A ${BLACKHOLE_SERVER.address}`,
  ];
}

/** The risk cases' domains and what rules 37-40 say of each (the tests' expectations, from the text above). */
export const RISK_CASES = [
  { domain: "latent.testing", risks: ["latent-mismatch", "rollover-no-next-key"] },
  {
    domain: "expiring.testing",
    risks: ["rollover-no-next-key", "rollover-leaf-expiring", "rollover-ttl-exceeds-validity"],
  },
  { domain: "rollover.testing", risks: ["rollover-no-next-key", "rollover-ee-full-certificate"] },
  { domain: "tarisk.testing", risks: ["rollover-no-next-key", "rollover-ta-intermediate"] },
] as const;
