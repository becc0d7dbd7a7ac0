/**
 * @danesweep/testbed: the DNSSEC test universe on loopback (Knot + Unbound + SMTP
 * test servers), brought up by test/testbed/bin/testbed up|down|status|env.
 *
 * testbedState(env?): addresses and file paths of the universe (pure; does not check it runs).
 * seedCases(): the 24 write-up cases with their expected outcomes (from the write-up).
 * EXTRA_NAMES: extra names for resolver tests and what the validating resolver returns.
 * mtaStsCases(): the MTA-STS domains with their expected judgements (RFC 8461).
 * RISK_CASES, CONSIST_*: the risk cases of issue 14 (src/risk.ts).
 * PROFILE_CASES: one domain per Postfix default that RFC 7672 leaves to the client,
 *   with its verdict under the postfix and rfc7672 profiles (src/profiles.ts).
 * CHANGE_CASES: domains whose MX address has no testbed server, for tests that
 *   make real changes between scans with a server of their own (src/changes.ts).
 */
export {
  BLACKHOLE_SERVER,
  CHILD_SERVER,
  NEVER_CONTACT_ADDRESS,
  RESOLVER,
  ROOT_SERVER,
  SMTP_HOSTS,
  SMTP_PORT,
  ZONES,
} from "./addresses.ts";
export { type CertFiles, type TestbedCerts, tlsaData, wrongDigest } from "./certs.ts";
export { CHANGE_CASES, type ChangeCase, changeCaseNames } from "./changes.ts";
export {
  mtaStsCases,
  STS_ID,
  STS_MX_SERVER,
  STS_POLICY_SERVER,
  type StsCase,
} from "./mta-sts.ts";
export {
  PROFILE_CASES,
  type ProfileCase,
  type ProfileOutcome,
  REFUSING_ADDRESSES,
} from "./profiles.ts";
export { CONSIST_NS2, CONSIST_ZONE, LONG_TLSA_TTL, RISK_CASES, RISK_HOSTS } from "./risk.ts";
export { EXTRA_NAMES, type ExtraName, type SeedCase, seedCases } from "./seed.ts";
export { DEFAULT_STATE_DIR, type TestbedState, testbedState } from "./state.ts";
