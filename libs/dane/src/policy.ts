/**
 * The sending client's policy: the settings of a DANE client that change a
 * verdict where RFC 7672 leaves room, and the two named profiles the engine
 * knows (docs/rules.md section G, rules 31-35). Pure data and lookups.
 *
 * Contract:
 * - `ClientPolicy` names every verdict-changing setting after the Postfix
 *   parameter it mirrors (libs/dane/README.md, "Client policy").
 * - `POLICY_PROFILES.postfix` is Postfix 3.7's behaviour at
 *   `smtp_tls_security_level = dane` with every other parameter at its
 *   default; it is the default profile (`DEFAULT_POLICY_PROFILE`).
 *   `POLICY_PROFILES.rfc7672` is a strict reading of RFC 7672 with no
 *   implementation limits.
 * - `policyProfile(name)` returns the named profile, or undefined for a name
 *   that is not in `POLICY_PROFILE_NAMES` (callers report it; it never throws).
 * - `ENGINE_VERSION` is recorded on every verdict with the profile name. It
 *   changes whenever a rule changes what any verdict says (action, security,
 *   host, reason, DANE state, problems or any other field of the record), so
 *   stored verdicts of an older engine can be told apart and judged again.
 *   `engineBefore(version, than)` orders two versions (a version that is not
 *   semver, like the "pre-2026.12" of migrated records, is before every one).
 */

/**
 * Version of the verdict engine (semver). Bump the major version when a rule
 * changes a verdict for facts that judged differently before, the minor
 * version when a new field or value is added without changing old verdicts.
 */
export const ENGINE_VERSION = "2.3.0";

function semver(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** True when engine `version` is older than `than` (a semver); a version that is not semver is older. */
export function engineBefore(version: string, than: string): boolean {
  const a = semver(version);
  const b = semver(than);
  if (b === undefined) throw new RangeError(`engineBefore: ${than} is not a version`);
  if (a === undefined) return true;
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number);
  return false;
}

/** `smtp_tls_security_level`: the levels the engine implements. */
export const SECURITY_LEVELS = ["may", "encrypt", "dane", "dane-only"] as const;
export type SecurityLevel = (typeof SECURITY_LEVELS)[number];

/** `smtp_tls_dane_insecure_mx_policy`. */
export const INSECURE_MX_POLICIES = ["may", "encrypt", "dane"] as const;
export type InsecureMxPolicy = (typeof INSECURE_MX_POLICIES)[number];

/**
 * What the client does with an MX exchange that is an IP address written as a
 * name: `literal` connects to that address (Postfix: a warning, then the
 * address is used; it came from no DNSSEC lookup, so no DANE); `name` looks it
 * up as a host name like any other exchange (RFC 5321: an exchange is a name).
 */
export const NUMERIC_MX_HANDLINGS = ["literal", "name"] as const;
export type NumericMxHandling = (typeof NUMERIC_MX_HANDLINGS)[number];

export interface ClientPolicy {
  /** The profile name recorded on every verdict (`engine.profile`). */
  name: string;
  /** `smtp_tls_security_level`. */
  securityLevel: SecurityLevel;
  /** `smtp_tls_dane_insecure_mx_policy`: what an insecure MX RRset makes of a host's secure TLSA. */
  insecureMxPolicy: InsecureMxPolicy;
  /** `smtp_mx_address_limit`: addresses tried per delivery, in order; 0 means no limit. */
  mxAddressLimit: number;
  /** `smtp_balance_inet_protocols`: keep both address families within the limit. */
  balanceInetProtocols: boolean;
  /** Numeric MX exchanges (see NUMERIC_MX_HANDLINGS). */
  numericMx: NumericMxHandling;
  /**
   * `smtp_tls_scert_verifydepth`: under DANE-TA, the longest path accepted is
   * this many certificates above the leaf (Postfix: 9, so 10 certificates
   * from the leaf to the trust anchor); 0 means no limit but the engine's own.
   */
  serverCertVerifyDepth: number;
}

export const POLICY_PROFILES = {
  postfix: {
    name: "postfix",
    securityLevel: "dane",
    insecureMxPolicy: "dane",
    mxAddressLimit: 5,
    balanceInetProtocols: true,
    numericMx: "literal",
    serverCertVerifyDepth: 9,
  },
  rfc7672: {
    name: "rfc7672",
    securityLevel: "dane",
    insecureMxPolicy: "may",
    mxAddressLimit: 0,
    balanceInetProtocols: false,
    numericMx: "name",
    serverCertVerifyDepth: 0,
  },
} as const satisfies Record<string, ClientPolicy>;

export type PolicyProfileName = keyof typeof POLICY_PROFILES;
export const POLICY_PROFILE_NAMES = Object.keys(POLICY_PROFILES) as PolicyProfileName[];
export const DEFAULT_POLICY_PROFILE: PolicyProfileName = "postfix";

export function policyProfile(name: string): ClientPolicy | undefined {
  return Object.hasOwn(POLICY_PROFILES, name) ? POLICY_PROFILES[name as PolicyProfileName] : undefined;
}

export function defaultPolicy(): ClientPolicy {
  return POLICY_PROFILES[DEFAULT_POLICY_PROFILE];
}
