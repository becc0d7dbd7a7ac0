/**
 * The verdict record: the contract the store, the API, the CLI and every later
 * stage use. Every set here is closed and documented in libs/dane/README.md.
 * Schema 2 added the engine (version and client-policy profile), the problems,
 * the provider and TLD, what the explanation needs (probe mode, MX lookup), the
 * reason "dane-unavailable", the address result "beyond-limit", the TLSA base
 * "numeric-exchange" and `verdict.beyondAddressLimit`. Engine 2.1 added, without
 * changing any earlier field, the risks (issue 14): `consistency`, `latent`,
 * `risks`, `HostOutcome.rolloverRisk` and `AddressOutcome.alternates`. Engine
 * 2.2 added the optional `mtaSts` and `tlsRpt` judgements (same schema: older
 * records simply lack them). Engine 2.3 added `failingHosts` (the per-host
 * failure list, stored with the verdict; absent when no host fails): records
 * of earlier engines lack it and are completed when read (problems.ts
 * `upgradeRecord`).
 */
import { WEBPKI_FAILURES } from "./auth.ts";
import type {
  AuthStatus,
  LookupErrorKind,
  LookupOutcome,
  ProbeStatus,
  Security,
  SigalgFamily,
  TlsaRecord,
} from "./facts.ts";

export const VERDICT_SCHEMA_VERSION = 2 as const;

/**
 * What the sending MTA does with the message. `indeterminate` when the facts
 * cannot support a verdict (resolver does not validate, host not probed,
 * refused by policy).
 */
export const ACTIONS = ["deliver", "defer", "bounce", "indeterminate"] as const;
export type Action = (typeof ACTIONS)[number];

/** How a delivered message travels (only with action "deliver"). */
export const DELIVERY_SECURITIES = ["dane-verified", "encrypted", "plaintext"] as const;
export type DeliverySecurity = (typeof DELIVERY_SECURITIES)[number];

/**
 * Why. For deliver: how the host was reached; for defer / bounce: the failure
 * of the last host tried (or the domain-level failure); for indeterminate: what
 * is missing.
 */
export const REASONS = [
  // deliver
  "dane-authenticated", // a usable TLSA record matched
  "tls-required-unauthenticated", // secure TLSA RRset with only unusable records (rule 21)
  "opportunistic-tls", // no DANE for this host, STARTTLS worked
  "opportunistic-plaintext", // no DANE for this host, STARTTLS missing or failed
  // defer
  "dane-check-failed", // usable TLSA, no record matched the chain
  "starttls-not-offered", // TLS required, STARTTLS missing or refused
  "tls-handshake-failed", // TLS required, handshake failed
  "tlsa-lookup-failed", // TLSA lookup error for a secure host
  "cname-lookup-failed", // the first-link CNAME query failed
  "dane-unavailable", // security level dane-only, and the host has no usable DANE (rule 31)
  "mx-lookup-failed", // MX lookup error or bogus
  "address-lookup-failed", // every host's address lookups failed
  "connection-failed", // no host could be talked to (refused, timeout, reset, 4xx/5xx banner)
  // bounce
  "nxdomain",
  "null-mx",
  "no-address", // no MX host has any address
  // indeterminate
  "resolver-not-validating",
  "not-probed",
  "policy-refused", // private address or opt-out list
  "incomplete-facts",
] as const;
export type Reason = (typeof REASONS)[number];

/**
 * The domain's DANE state.
 * - valid: DANE applies (secure MX, secure TLSA with usable records on every
 *   reachable host that was tried) and the delivering host authenticated.
 * - partial: DANE applies and mail is delivered authenticated, but some other
 *   MX host fails (mismatch, STARTTLS missing, TLSA lookup error) or has no
 *   TLSA: the domain is only as strong as its weakest MX.
 * - invalid: DANE applies and no host authenticates: mail defers.
 * - unusable-records: secure TLSA exists but none usable (TLS required, no auth).
 * - none: DNSSEC-signed MX, no host publishes TLSA.
 * - insecure: the MX RRset (or the domain) is not DNSSEC-signed.
 * - dns-error: MX lookup failed or bogus, or TLSA lookups of DANE hosts failed.
 * - no-mail: NXDOMAIN or null MX.
 * - indeterminate: the facts cannot tell (resolver not validating, not probed).
 * The precise, closed definitions judge.ts implements are in libs/dane/README.md.
 */
export const DANE_STATES = [
  "valid",
  "partial",
  "invalid",
  "unusable-records",
  "none",
  "insecure",
  "dns-error",
  "no-mail",
  "indeterminate",
] as const;
export type DaneState = (typeof DANE_STATES)[number];

/** What a host required of TLS, from its TLSA facts (rules 17, 20, 21). */
export const REQUIREMENTS = ["dane", "tls", "opportunistic"] as const;
export type Requirement = (typeof REQUIREMENTS)[number];

/** Why the TLSA base domain is what it is (rule 15), or why there is none. */
export const TLSA_BASE_WHYS = [
  "host-name-secure", // no CNAME, secure
  "expanded-name", // secure chain, TLSA found at the expanded name
  "original-name-fallback", // secure chain, expanded name had no secure TLSA
  "original-name-chain-insecure", // first link secure, chain ends insecure
  "address-insecure", // no CNAME, insecure: no TLSA lookup
  "first-link-insecure", // first CNAME link insecure: no DANE
  "no-secure-tlsa", // secure NODATA/NXDOMAIN or insecure TLSA at every candidate
  "tlsa-lookup-error", // error at a candidate: host unusable
  "cname-lookup-error", // the first-link CNAME query failed: host unusable
  "no-address", // no address lookup succeeded
  "address-lookup-error", // both address lookups failed
  "incomplete-facts", // the facts lack a CNAME or TLSA lookup the plan needs (judge.ts)
  "numeric-exchange", // the exchange is an IP address, used as such: no DNSSEC, no TLSA (rule 33)
] as const;
export type TlsaBaseWhy = (typeof TLSA_BASE_WHYS)[number];

export interface MatchedRecord {
  record: TlsaRecord;
  /** Depth in the chain as sent: 0 is the leaf. -1 for a full trust anchor not sent (2 0 0 / 2 1 0). */
  depth: number;
}

/** Results an address may have had, had the ladder reached it (`assessed`). */
export type AssessedResult = DeliverySecurity | "failed" | "not-probed" | "policy-refused";

/** What happened at one address of one host. */
export interface AddressOutcome {
  address: string;
  family: 4 | 6;
  security: Security;
  /** Probe identity used for this address, when probed. */
  probe?: { ip: string; port: number; sni: string; status: ProbeStatus };
  /**
   * dane-verified / encrypted / plaintext: the host would take the message
   * this way; failed: host failure (reason set); not-tried: an earlier host
   * already accepted (or the ladder stopped at an address whose outcome is
   * unknown; see `assessed`); beyond-limit: past the client's MX address
   * limit, never tried (see `assessed`); not-probed / policy-refused: no
   * probe facts.
   */
  result: DeliverySecurity | "failed" | "not-tried" | "beyond-limit" | "not-probed" | "policy-refused";
  reason?: Reason;
  /** For dane hosts: the matching record and depth, or why nothing matched. */
  auth?: {
    matched?: MatchedRecord;
    failure?: string;
    /** Human-readable detail from authenticate(). */
    detail?: string;
  };
  /**
   * When result is "not-tried" (the ladder decided before this address) or
   * "beyond-limit": what this address would have done had it been tried. The
   * DANE state reads it ("a domain is only as strong as its weakest MX").
   */
  assessed?: { result: AssessedResult; reason: Reason };
  /** DANE hosts: each further certificate the address presented to a sender offering one algorithm family (risks.ts). */
  alternates?: AlternateOutcome[];
}

/** What a certificate seen in an alternate handshake would do (risks.ts). */
export interface AlternateOutcome {
  offered: SigalgFamily;
  status: ProbeStatus;
  /** Key type of the leaf presented ("ec", "rsa", "ed25519", ...). */
  keyType?: string;
  /** dane-verified / failed: authenticated or not by the host's TLSA; no-certificate: the handshake did not complete. */
  result: "dane-verified" | "failed" | "no-certificate";
  failure?: string;
}

/**
 * A latent failure: at one address one certificate authenticates and another
 * does not, so a sender whose signature algorithms pick the other one
 * defers. `offered` is what that sender offers ("default": the probe's own
 * first handshake, which offers both families, ECDSA first).
 */
export interface LatentFailure {
  host: string;
  address: string;
  offered: SigalgFamily | "default";
  keyType?: string;
  failure: string;
}

/**
 * Why a DANE host is at risk at its next certificate or key change (closed;
 * docs/rules.md rule 39, RFC 7671 §8 and the published DANE rollover practice):
 * - no-next-key: every usable record matches what the host presents now, and
 *   there is no record ready for a new key (nor a DANE-EE / DANE-TA pair,
 *   where each survives a change of the other);
 * - ee-full-certificate: only DANE-EE records over the whole certificate
 *   (3 0 x) match: every renewal breaks them, even with the same key;
 * - leaf-expiring: the leaf expires within the threshold (or has expired)
 *   while only DANE-EE records match it;
 * - ta-intermediate: a DANE-TA record matches an issuing intermediate CA,
 *   not a root (the CA may change intermediates at any renewal);
 * - ttl-exceeds-validity: the TLSA RRset's TTL is longer than the time left
 *   on the leaf while only DANE-EE records match it: a new record cannot be
 *   seen by every cache before the certificate must change.
 */
export const ROLLOVER_REASONS = [
  "no-next-key",
  "ee-full-certificate",
  "leaf-expiring",
  "ta-intermediate",
  "ttl-exceeds-validity",
] as const;
export type RolloverReason = (typeof ROLLOVER_REASONS)[number];

/** Rollover risk of a DANE host that authenticates now (reasons empty: assessed, none found). */
export interface RolloverRisk {
  reasons: RolloverReason[];
  /** The earliest expiry (ISO) of the authenticated leaves. */
  leafNotAfter?: string;
  /** The TLSA RRset's TTL, seconds, as published. */
  tlsaTtl?: number;
}

/** The agreement of a domain's TLSA RRsets across their zones' authoritative servers (closed). */
export const CONSISTENCY_STATES = ["consistent", "inconsistent", "incomplete", "unknown"] as const;
export type ConsistencyState = (typeof CONSISTENCY_STATES)[number];

/**
 * What a server does wrong (closed; docs/rules.md rule 37):
 * - rrset-differs: serves another TLSA RRset (or none) than the validated one;
 * - rrsig-expired: every signature it serves over the RRset has expired;
 * - rrsig-expiring: its latest signature over the RRset expires within the margin;
 * - rrsig-missing: it serves the RRset without a signature;
 * - server-unresponsive: no usable reply (timeout, network, error rcode, malformed);
 * - server-lame: it replies without authority (AA=0).
 */
export const CONSISTENCY_REASONS = [
  "rrset-differs",
  "rrsig-expired",
  "rrsig-expiring",
  "rrsig-missing",
  "server-unresponsive",
  "server-lame",
] as const;
export type ConsistencyReason = (typeof CONSISTENCY_REASONS)[number];

export interface ServerConsistency {
  /** The TLSA RRset owner. */
  qname: string;
  zone?: string;
  server: string;
  address?: string;
  status: AuthStatus;
  reasons: ConsistencyReason[];
  /** The latest expiry (ISO) of the signatures it serves over the RRset. */
  expiresAt?: string;
}

export interface ConsistencyOutcome {
  state: ConsistencyState;
  reasons: ConsistencyReason[];
  servers: ServerConsistency[];
}

/**
 * Risks: what does not break the domain's DANE now but may (closed; rule 40).
 * None of them makes a domain broken (`problems`) or changes its DANE state.
 */
export const RISKS = [
  "tlsa-inconsistent",
  "rrsig-expired",
  "rrsig-expiring",
  "rrsig-missing",
  "nameserver-unresponsive",
  "nameserver-lame",
  "latent-mismatch",
  "rollover-no-next-key",
  "rollover-ee-full-certificate",
  "rollover-leaf-expiring",
  "rollover-ta-intermediate",
  "rollover-ttl-exceeds-validity",
] as const;
export type Risk = (typeof RISKS)[number];

/** Per host: what was found, what was required, what happened. */
export interface HostOutcome {
  host: string;
  preference: number;
  implicit: boolean;
  addressSecurity: Security;
  tlsaBase?: string;
  tlsaBaseWhy: TlsaBaseWhy;
  requirement: Requirement | "unusable";
  /** The TLSA RRset judged, with per-record usability. */
  tlsa?: { record: TlsaRecord; usable: boolean; why?: string }[];
  /**
   * Rule 11: with an insecure MX RRset the RFC outcome is opportunistic, but
   * the host's own secure TLSA would have authenticated (Postfix "Trusted").
   */
  wouldAuthenticate?: boolean;
  addresses: AddressOutcome[];
  /** Failure reason for the host as a whole when no address worked. */
  reason?: Reason;
  /** The exchange is an IP address written as a name, used as the address (rule 33). */
  numeric?: boolean;
  /** DANE hosts that authenticate now: what may break at the next key or certificate change (rule 39). */
  rolloverRisk?: RolloverRisk;
}

export interface Verdict {
  action: Action;
  /** Only with action "deliver". */
  security?: DeliverySecurity;
  /** The MX host delivered to (lowercase, no trailing dot). */
  host?: string;
  address?: string;
  reason: Reason;
  /**
   * With action defer: an address past the client's MX address limit would
   * have taken the message (rule 34). Postfix never tries it.
   */
  beyondAddressLimit?: { limit: number; host: string; address: string; security: DeliverySecurity };
}

/**
 * What makes a domain's DANE broken (docs/rules.md rule 36). Closed; a domain
 * is broken exactly when its record's `problems` is not empty.
 */
export const PROBLEMS = [
  "tlsa-mismatch", // an address of a DANE host presented a chain no usable TLSA record authenticated
  "starttls-missing", // STARTTLS not offered or refused where TLSA requires TLS
  "tls-handshake-failed", // the TLS handshake failed where TLSA requires TLS
  "tlsa-lookup-failed", // a host's TLSA (or first-link CNAME) lookup failed where DANE applies
  "dnssec-bogus", // the MX, an address, a CNAME or a TLSA lookup validated as bogus
] as const;
export type Problem = (typeof PROBLEMS)[number];

/**
 * A host that failed or would fail (rule 36, problems.ts `failingHosts`): its
 * failing addresses (an address whose result, or assessment when it was not
 * tried, is "failed") and the reason (the host's, else its first failing
 * address's); a host whose TLSA or first-link CNAME lookup failed is listed
 * even without a failing address.
 */
export interface FailingHost {
  host: string;
  preference: number;
  requirement: HostOutcome["requirement"];
  reason?: Reason;
  tlsaBaseWhy: TlsaBaseWhy;
  addresses: { address: string; result: AddressOutcome["result"]; reason: Reason }[];
}

// ---------------------------------------------------------------- MTA-STS and TLS-RPT (docs/rules.md section J)

/**
 * How a sender finds the domain's MTA-STS policy (rules 41, 42, 45): "valid",
 * or why it has none. A sender without a valid policy applies none.
 */
export const MTA_STS_POLICY_RESULTS = [
  "valid", // the policy was fetched, its host's certificate is valid, it parses
  "no-record", // no _mta-sts TXT record beginning with "v=STSv1": no policy announced
  "record-lookup-failed", // the _mta-sts TXT lookup failed
  "record-invalid", // several STS records, or the one breaks the grammar (detail)
  "host-lookup-failed", // the policy host's A and AAAA lookups failed
  "host-no-address", // the policy host has no address
  "fetch-refused", // not fetched: the address is non-public or on the opt-out list (our policy, not the domain's)
  "not-fetched", // no fetch facts (not requested, or the prober failed internally)
  "fetch-failed", // no HTTP response: connection, TLS handshake, timeout, reset, malformed HTTP (detail: the status)
  "host-certificate-invalid", // the policy host's certificate fails WebPKI for its name (detail)
  "http-status", // the response was not 200 (a redirect included: never followed)
  "content-type", // the response was not text/plain
  "too-large", // the body was longer than the fetch reads
  "policy-invalid", // the body does not parse as a policy (detail)
  "not-validated", // no trust store was given to the engine: the policy host's certificate cannot be judged
] as const;
export type MtaStsPolicyResult = (typeof MTA_STS_POLICY_RESULTS)[number];

/**
 * What an MX host's certificate is worth to an MTA-STS sender (rule 46):
 * valid, a WebPKI failure (auth.ts WEBPKI_FAILURES), or why there was no
 * certificate to judge.
 */
export const MX_WEBPKI_STATES = [
  "valid",
  ...WEBPKI_FAILURES,
  "no-tls", // STARTTLS not offered or refused, or the handshake failed
  "unreachable", // every address failed to connect or talk
  "not-probed", // no probe facts (probe mode, policy refusal, prober failure)
] as const;
export type MxWebPkiState = (typeof MX_WEBPKI_STATES)[number];

/** Why an MTA-STS sender delivers, defers or cannot tell (rule 47). */
export const MTA_STS_REASONS = [
  "webpki-verified", // deliver: a covered MX host took STARTTLS with a certificate valid for its name
  "no-mx-covered", // defer: no MX host with an address matches the policy's mx patterns
  "starttls-not-offered", // defer: the last covered host tried offered no STARTTLS (or refused it)
  "tls-handshake-failed", // defer: its handshake failed
  "certificate-invalid", // defer: its certificate fails WebPKI for its name
  "connection-failed", // defer: it could not be talked to
  "mx-lookup-failed", // defer: the MX lookup failed
  "no-mail", // bounce: NXDOMAIN, null MX, no host with an address
  "not-probed", // indeterminate: a covered address has no probe facts
  "policy-refused", // indeterminate: a covered address was not contacted by our policy
  "resolver-not-validating", // indeterminate: the facts are not trusted at all
] as const;
export type MtaStsReason = (typeof MTA_STS_REASONS)[number];

/** Contradictions between MTA-STS, the MX set, TLS-RPT and the DANE verdict (rule 48). Closed. */
export const MTA_STS_CONTRADICTIONS = [
  "policy-unavailable", // a valid STS record announces a policy that cannot be had (fetch, certificate, HTTP, syntax)
  "mx-not-covered", // testing/enforce: an MX host with an address matches no mx pattern
  "enforce-no-tls", // enforce: a covered MX host offers no usable TLS
  "enforce-certificate-invalid", // enforce: a covered MX host's certificate fails WebPKI for its name
  "dane-delivers-mta-sts-defers", // enforce: the DANE verdict delivers where an MTA-STS sender defers
  "mta-sts-delivers-dane-defers", // enforce: an MTA-STS sender delivers where the DANE verdict defers (DANE wins, RFC 8461 §2)
  "testing-without-tls-rpt", // testing: the reports testing asks for have no valid TLS-RPT record to go to
] as const;
export type MtaStsContradiction = (typeof MTA_STS_CONTRADICTIONS)[number];

/** One MX host as an MTA-STS sender sees it. */
export interface MtaStsHost {
  host: string;
  /** The first mx pattern that covers the host; absent when none does. */
  pattern?: string;
  /** The host's certificate for its name (the first address that completed a handshake). */
  webpki: MxWebPkiState;
  /** Where the certificate was seen. */
  address?: string;
  /** What WebPKI said, for people. */
  detail?: string;
}

/** The MTA-STS judgement of a domain (rules 41-48). */
export interface MtaStsJudgement {
  policy: MtaStsPolicyResult;
  /** Why, for people (never matched on). */
  detail?: string;
  /** The STS record's id, when the record is valid. */
  id?: string;
  /** The policy, when valid. */
  mode?: "enforce" | "testing" | "none";
  maxAge?: number;
  mx?: string[];
  /** The policy fetch, when one was made. */
  fetch?: { ip: string; port: number; sni: string; status: ProbeStatus; httpStatus?: number };
  /** Mode testing or enforce: every MX host with an address, in route order. */
  hosts?: MtaStsHost[];
  /**
   * Mode testing or enforce: what a sender applying this policy, without
   * DANE, does. Under testing, senders deliver anyway and report what this
   * says.
   */
  outcome?: {
    action: "deliver" | "defer" | "bounce" | "indeterminate";
    host?: string;
    address?: string;
    reason: MtaStsReason;
  };
  contradictions: MtaStsContradiction[];
  /** The trust store the certificates were judged with (absent without one). */
  trust?: string;
}

export const TLS_RPT_STATES = ["valid", "none", "invalid", "lookup-failed"] as const;
export type TlsRptState = (typeof TLS_RPT_STATES)[number];

/** The TLS-RPT record of a domain (rule 44). */
export interface TlsRptJudgement {
  state: TlsRptState;
  /** The report URIs, when valid. */
  rua?: string[];
  detail?: string;
}

/** Which engine judged, under which client policy profile (policy.ts). */
export interface EngineInfo {
  version: string;
  profile: string;
}

export interface VerdictRecord {
  schema: typeof VERDICT_SCHEMA_VERSION;
  domain: string;
  engine: EngineInfo;
  verdict: Verdict;
  dane: DaneState;
  /** Why the domain's DANE is broken; empty when it is not (rule 36). */
  problems: Problem[];
  /**
   * The hosts that failed or would fail, in route order (rule 36); absent when
   * none does. Absent in records of engines before 2.3 (`upgradeRecord` fills it).
   */
  failingHosts?: FailingHost[];
  /** True when the MX RRset was secure, so DANE applies to the domain. */
  mxSecure: boolean;
  /** The MX lookup as far as the explanation needs it (outcome, security, error kind). */
  mx: { outcome: LookupOutcome; security: Security; error?: LookupErrorKind };
  /** The probe mode the facts were collected with. */
  probeMode: "all" | "dane";
  /** Public suffix of the domain (full PSL, ICANN section). */
  tld: string;
  /** Registrable domain of the first MX host (the provider); absent when it has none (an IP, a public suffix). */
  provider?: string;
  hosts: HostOutcome[];
  /** MTA-STS beside DANE (rules 41-48), when the facts hold the MTA-STS lookups. */
  mtaSts?: MtaStsJudgement;
  /** TLS-RPT (rule 44), when the facts hold its lookup. */
  tlsRpt?: TlsRptJudgement;
  /** The TLSA RRsets DANE uses across their authoritative servers (rule 37); absent without consistency facts. */
  consistency?: ConsistencyOutcome;
  /** Certificates that would fail where another of the same address authenticates (rule 38); absent when none. */
  latent?: LatentFailure[];
  /** What may break the domain's DANE, in RISKS order (rule 40); absent in records of engines before 2.1. */
  risks?: Risk[];
  /** Human-readable: which host failed how, which TLSA record matched at which depth; `explain(record)`. */
  explanation: string;
  /** ISO time the verdict was judged (the engine's `now` argument). */
  judgedAt: string;
}

/** A record before its explanation is rendered: all `explain` reads. */
export type JudgedRecord = Omit<VerdictRecord, "explanation">;
