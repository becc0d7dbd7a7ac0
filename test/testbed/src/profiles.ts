/**
 * The client-policy cases of the testbed (libs/dane policy.ts, docs/rules.md
 * rules 32-34): one live domain per Postfix default that RFC 7672 leaves to
 * the client, so a scan under one profile and `danesweep rejudge --policy`
 * under the other see their verdicts change. Pure: zone lines and the
 * expected outcomes.
 *
 *   domain                     records                                                      postfix (default)                                  rfc7672
 *   pf-insecuremx.moretesting  unsigned MX -> pf-tlsa.testing (signed), whose TLSA 3 0 1     defer dane-check-failed, DANE invalid             deliver encrypted (opportunistic-tls),
 *                              of certificate B does not match the certificate A it serves  (insecure-MX policy dane: the TLSA is required)  DANE insecure (policy may: TLSA ignored)
 *   pf-numeric.testing         MX 10 127.64.93.21. (an IPv4 address written as a name);     deliver encrypted (opportunistic-tls) to the      bounce no-address, DANE no-mail (the name
 *                              STARTTLS with certificate B there                            address, no DANE (numeric MX literal), DANE none  has no address: secure NXDOMAIN)
 *   pf-sixth.testing           six MX hosts, one address each, preferences 10..60; nothing  defer connection-failed, the sixth address named  deliver encrypted via pf-sixth-6
 *                              listens on the first five; the sixth: STARTTLS, no TLSA      as beyond the limit of 5, DANE none               (opportunistic-tls), DANE none
 *
 * The expected outcomes are written from the rules (rule 32: the insecure-MX
 * policy; rule 33: numeric exchanges; rule 34: the address limit; rules 11 and
 * 28-30 for the rest) and the Postfix parameters' documented defaults, never
 * from the engine. A postfix scan of the three re-judged under rfc7672 changes
 * every one of them: action defer -> deliver (2) and deliver -> bounce (1).
 */
import { SMTP_HOSTS, ZONES } from "./addresses.ts";

/** Addresses on which nothing listens: every connection is refused (pf-sixth's first five hosts). */
export const REFUSING_ADDRESSES = ["127.61.1.1", "127.61.1.2", "127.61.1.3", "127.61.1.4", "127.61.1.5"];

/** A verdict's class, as `danesweep rejudge` counts it. */
export interface ProfileOutcome {
  action: "deliver" | "defer" | "bounce";
  security: "dane-verified" | "encrypted" | "plaintext" | null;
  reason: string;
  dane: string;
  /** The host delivered to, with action deliver. */
  host?: string;
  /** With action defer under the address limit: the address beyond it that would have taken the message. */
  beyondLimit?: { host: string; address: string };
}

export interface ProfileCase {
  domain: string;
  /** The Postfix default the case is about (a ClientPolicy field, libs/dane README "Client policy"). */
  setting: "insecureMxPolicy" | "numericMx" | "mxAddressLimit";
  postfix: ProfileOutcome;
  rfc7672: ProfileOutcome;
}

const INSECURE = `pf-insecuremx.${ZONES.unsigned.slice(0, -1)}`;
const TLSA_HOST = `pf-tlsa.${ZONES.signed.slice(0, -1)}`;
const NUMERIC = `pf-numeric.${ZONES.signed.slice(0, -1)}`;
const SIXTH = `pf-sixth.${ZONES.signed.slice(0, -1)}`;
const SIXTH_HOST = `pf-sixth-6.${ZONES.signed.slice(0, -1)}`;

export const PROFILE_CASES: readonly ProfileCase[] = [
  {
    domain: INSECURE,
    setting: "insecureMxPolicy",
    postfix: { action: "defer", security: null, reason: "dane-check-failed", dane: "invalid" },
    rfc7672: {
      action: "deliver",
      security: "encrypted",
      reason: "opportunistic-tls",
      dane: "insecure",
      host: TLSA_HOST,
    },
  },
  {
    domain: NUMERIC,
    setting: "numericMx",
    postfix: {
      action: "deliver",
      security: "encrypted",
      reason: "opportunistic-tls",
      dane: "none",
      host: SMTP_HOSTS.match.address,
    },
    rfc7672: { action: "bounce", security: null, reason: "no-address", dane: "no-mail" },
  },
  {
    domain: SIXTH,
    setting: "mxAddressLimit",
    postfix: {
      action: "defer",
      security: null,
      reason: "connection-failed",
      dane: "none",
      beyondLimit: { host: SIXTH_HOST, address: SMTP_HOSTS.match.address },
    },
    rfc7672: {
      action: "deliver",
      security: "encrypted",
      reason: "opportunistic-tls",
      dane: "none",
      host: SIXTH_HOST,
    },
  },
];

/**
 * The cases' zone lines (owners relative to their zone), given the TLSA data
 * of certificate B (`3 0 1`, SHA-256 of the whole certificate, as the seed
 * cases' "30c9c9..." records).
 */
export function profileRecords(rightB: string): { signed: string[]; unsigned: string[] } {
  const signed = [
    // Rule 32: a secure host with a TLSA RRset of its own, under an unsigned MX (in moretesting.).
    `pf-tlsa A ${SMTP_HOSTS.mismatch.address}`,
    `_25._tcp.pf-tlsa TLSA 3 0 1 ${rightB}`,
    // Rule 33: the exchange is an IPv4 address written as an absolute name.
    `pf-numeric MX 10 ${SMTP_HOSTS.match.address}.`,
  ];
  // Rule 34: six hosts of one address each; only the sixth answers.
  for (let i = 1; i <= 6; i++) {
    signed.push(`pf-sixth MX ${i * 10} pf-sixth-${i}`);
    signed.push(`pf-sixth-${i} A ${i <= 5 ? REFUSING_ADDRESSES[i - 1] : SMTP_HOSTS.match.address}`);
  }
  return { signed, unsigned: [`pf-insecuremx MX 10 ${TLSA_HOST}.`] };
}
