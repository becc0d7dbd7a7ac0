/**
 * Facts: what DNS said and what each MX host presented, raw, typed and
 * versioned. Workers emit facts; only the verdict engine turns them into
 * verdicts, so stored facts can be judged again when the rules change.
 *
 * Conventions for every name in a fact: lowercase A-label, absolute, written
 * without the trailing dot (the root is "."). Binary data is carried as text so
 * facts round-trip through JSON unchanged: TLSA association data as lowercase
 * hex, certificates as base64 DER.
 *
 * Failure is never folded into "not found": a lookup that failed has
 * outcome "error" with an error kind, and a probe that failed has a status from
 * a closed set with whatever partial evidence it gathered.
 */

export const FACTS_SCHEMA_VERSION = 1 as const;

// ---------------------------------------------------------------- DNS lookups

/** Outcome of one DNS question (docs/rules.md, "Lookup states"). */
export const LOOKUP_OUTCOMES = ["answer", "nodata", "nxdomain", "error"] as const;
export type LookupOutcome = (typeof LOOKUP_OUTCOMES)[number];

/**
 * Why a lookup is an error. `limit` means a configured limit was hit (CNAME
 * chain longer than 8, a CNAME loop); `bogus` responses are errors with
 * security "bogus" and kind "servfail".
 */
export const LOOKUP_ERROR_KINDS = [
  "timeout",
  "servfail",
  "refused",
  "formerr",
  "notimp",
  "network",
  "malformed",
  "limit",
  "other",
] as const;
export type LookupErrorKind = (typeof LOOKUP_ERROR_KINDS)[number];

/**
 * DNSSEC status of an answer: `secure` is AD=1 from the trusted validating
 * resolver, `insecure` AD=0, `bogus` a SERVFAIL that disappears with CD=1,
 * `indeterminate` when nothing could be learned (timeouts, a resolver that
 * does not validate).
 */
export const SECURITY_STATES = ["secure", "insecure", "bogus", "indeterminate"] as const;
export type Security = (typeof SECURITY_STATES)[number];

export const RR_TYPES = ["MX", "A", "AAAA", "TLSA", "CNAME", "SOA", "DNSKEY", "NS", "TXT"] as const;
export type RRType = (typeof RR_TYPES)[number];

/** Where a fact came from (zdns-style trace). */
export interface Provenance {
  /** "127.0.0.1:53" */
  upstream: string;
  transport: "udp" | "tcp";
  /** "NOERROR", "SERVFAIL", ... or "NONE" when no reply was received. */
  rcode: string;
  flags: { aa: boolean; tc: boolean; rd: boolean; ra: boolean; ad: boolean; cd: boolean };
  /** Number of queries sent for this question, across upstreams and retries. */
  attempts: number;
  /** Absent in the judged form (judgedLookup), which keeps a failed lookup's provenance without it. */
  elapsedMs?: number;
  /**
   * Served from the scan's cache (the first lookup's provenance is kept).
   * Absent in the judged form, like `elapsedMs`.
   */
  cached?: boolean;
  /** rcode of the CD=1 re-query made after a SERVFAIL, when one was made. */
  cdRcode?: string;
}

/** One CNAME followed: `owner` is an alias for `target`. */
export interface CnameLink {
  owner: string;
  target: string;
}

/**
 * One DNS question and what came back, after following CNAMEs.
 * `security` covers the whole answer (the AD bit covers every link); the
 * security of the first link alone is a separate CNAME lookup (rule 4).
 */
export interface Lookup<T> {
  qname: string;
  qtype: RRType;
  outcome: LookupOutcome;
  /** Present exactly when outcome is "error". */
  error?: LookupErrorKind;
  security: Security;
  /** CNAMEs followed from qname, in order. Empty when qname had none. */
  chain: CnameLink[];
  /** Owner of the final RRset: the last CNAME target, or qname. */
  owner: string;
  records: T[];
  /**
   * TTL of the answer RRset, when there was one, as its zone publishes it: the
   * Original TTL of its RRSIG when signed (whatever a caching resolver has
   * left), else the smallest TTL the resolver returned.
   */
  ttl?: number;
  /**
   * TLSA lookups only, when the answer is secure: the signer name of the
   * RRSIG covering the RRset, which is the apex of the zone holding it (RFC
   * 4035 §5.3.1; the validating resolver checked it), kept only when it is
   * the owner or one of its ancestors. It lets
   * the consistency check (libs/dns consistency.ts) ask for the zone's NS
   * RRset at once instead of walking up from the owner. Not stored: the
   * consistency facts record the zone.
   */
  zone?: string;
  /** Which limit was hit, e.g. "cname-chain>8", "addresses>16". */
  limitHit?: string;
  provenance?: Provenance;
}

export interface MxRecord {
  preference: number;
  /** Exchange host name; "." for a null MX (RFC 7505). */
  exchange: string;
}

/** A TLSA record as published: the three fields and the association data. */
export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  /** Association data, lowercase hex (may be empty or odd-sized when malformed on the wire). */
  data: string;
}

/**
 * MTA-STS discovery (RFC 8461 §3.1): the TXT lookup of `_mta-sts.<domain>`,
 * and, only when it found exactly one record that parses as an STS record,
 * the address lookups of the policy host `mta-sts.<domain>` (the policy is
 * then fetched from it: a ProbeFacts of kind "mta-sts-policy").
 *
 * A TXT record is written as one string: its character-strings joined without
 * a separator (RFC 8461 §3.1, RFC 8460 §3), each octet as the character of
 * the same code (so nothing is lost whatever the bytes).
 */
export interface MtaStsDnsFacts {
  txt: Lookup<string>;
  host?: { name: string; a: Lookup<string>; aaaa: Lookup<string> };
}

/** Facts about one MX host (or the domain itself under implicit MX). */
export interface HostFacts {
  /** Exchange name from the MX record, or the domain for an implicit MX. */
  name: string;
  preference: number;
  /** True when the domain had no MX RRset (NODATA) and is its own host (rule 8). */
  implicit: boolean;
  a: Lookup<string>;
  aaaa: Lookup<string>;
  /**
   * CNAME query on `name` itself, made when the address answer came through a
   * CNAME chain and was not secure, to learn whether the first link is secure
   * (rule 4, Postfix qname_secure).
   */
  firstLink?: Lookup<string>;
  /** TLSA lookups made for this host, in order, qname `_<port>._tcp.<base>`. */
  tlsa: Lookup<TlsaRecord>[];
}

export interface DomainFacts {
  schema: typeof FACTS_SCHEMA_VERSION;
  /** Normalised name: lowercase A-label without trailing dot. */
  domain: string;
  /** The destination port of the route (25). */
  port: number;
  /**
   * Whether the resolver proved it validates at the start of the scan
   * (rule 2). When false, every verdict is "indeterminate".
   */
  resolverValidates: boolean;
  mx: Lookup<MxRecord>;
  /** CNAME query on the domain when the MX answer came through a CNAME chain (rule 4). */
  mxFirstLink?: Lookup<string>;
  /** Hosts in the order the MX RRset listed them (the engine sorts by preference). */
  hosts: HostFacts[];
  /** Limits hit while collecting, e.g. "mx-hosts>20". */
  limits: string[];
  /** ISO 8601 time the facts were collected. */
  collectedAt: string;
  /** MTA-STS discovery (RFC 8461), when the resolver stage collected it. */
  mtaSts?: MtaStsDnsFacts;
  /** The TXT lookup of `_smtp._tls.<domain>` (TLS-RPT, RFC 8460 §3), when collected. */
  tlsRpt?: Lookup<string>;
  /**
   * What each authoritative server of the zone says about the TLSA RRsets
   * DANE uses (one entry per RRset owner), asked directly (RD=0, DO=1). Only
   * collected for hosts with a secure TLSA RRset; absent in facts collected
   * without the check (older scans, `consistency` off).
   */
  consistency?: TlsaConsistencyFacts[];
}

// ------------------------------------------------- authoritative servers

/**
 * How one authoritative server answered a question asked directly (closed):
 * - answer / nodata / nxdomain: an authoritative reply (AA=1);
 * - not-authoritative: a reply without AA (a lame server);
 * - timeout, network, refused, servfail, formerr, notimp, malformed, other:
 *   no usable reply (as LOOKUP_ERROR_KINDS; "other" for another rcode);
 * - no-address / address-lookup-failed: the server's name has no address,
 *   or its address lookups failed, so it was not asked;
 * - policy-private-address / policy-opt-out: not asked by policy (the
 *   prober's rules: non-public address without allowPrivate, opt-out list);
 * - beyond-limit: the zone has more server addresses than are asked.
 */
export const AUTH_STATUSES = [
  "answer",
  "nodata",
  "nxdomain",
  "not-authoritative",
  "timeout",
  "network",
  "refused",
  "servfail",
  "formerr",
  "notimp",
  "malformed",
  "other",
  "no-address",
  "address-lookup-failed",
  "policy-private-address",
  "policy-opt-out",
  "beyond-limit",
] as const;
export type AuthStatus = (typeof AUTH_STATUSES)[number];

/** One RRSIG covering the RRset, as served (RFC 4034 §3.1); times ISO 8601. */
export interface RrsigFacts {
  signer: string;
  keyTag: number;
  algorithm: number;
  originalTtl: number;
  inception: string;
  expiration: string;
}

/** What one address of one authoritative server said about a TLSA RRset. */
export interface AuthoritativeAnswer {
  /** The name server's name (from the zone's NS RRset). */
  server: string;
  /** The address asked; absent when the name had none. */
  address?: string;
  status: AuthStatus;
  /** For people; never matched on. */
  detail?: string;
  /** The TLSA records at the owner, canonical order (status "answer"). */
  records?: TlsaRecord[];
  /** RRSIGs covering the TLSA RRset at the owner (status "answer"). */
  rrsigs?: RrsigFacts[];
  /** TTL the server gives the RRset. */
  ttl?: number;
}

/** One TLSA RRset DANE uses, as every authoritative server of its zone serves it. */
export interface TlsaConsistencyFacts {
  /** Owner of the TLSA RRset (the lookup's owner, after CNAMEs). */
  qname: string;
  /** The zone apex holding it (the closest name above it with an NS RRset); absent when not found. */
  zone?: string;
  /** The zone's NS lookup through the validating resolver. */
  ns: { outcome: LookupOutcome; security: Security; error?: LookupErrorKind; names: string[] };
  /** One entry per (server name, address), in NS-name then address order. */
  servers: AuthoritativeAnswer[];
  /** ISO 8601 time the servers were asked (answers are shared across domains for a while). */
  checkedAt: string;
  /** Limits hit, e.g. "ns-addresses>8". */
  limits?: string[];
}

// ---------------------------------------------------------------- probes

/**
 * Closed set of probe statuses (zgrab2-style, with refused, timeout and reset
 * kept apart). Anything but "tls-ok" and the starttls-* / tls-handshake-*
 * statuses means the host could not be talked to at all.
 */
export const PROBE_STATUSES = [
  /** STARTTLS completed and the TLS handshake finished: `tls` is set. */
  "tls-ok",
  /** The EHLO reply had no STARTTLS keyword. */
  "starttls-not-offered",
  /** STARTTLS was answered with 4xx or 5xx. */
  "starttls-refused",
  /** The TLS handshake failed (alert, garbage, protocol error). */
  "tls-handshake-failed",
  /** The TLS handshake did not finish in time. */
  "tls-timeout",
  "connect-refused",
  "connect-timeout",
  "connect-reset",
  "connect-unreachable",
  /** The banner was 4xx/5xx or not SMTP. */
  "banner-rejected",
  /** EHLO and HELO both failed. */
  "ehlo-failed",
  /** No reply within the per-command timeout. */
  "io-timeout",
  /** The connection was reset or closed mid-dialogue. */
  "io-reset",
  /** The server broke the protocol: malformed reply, line or reply too long, too many lines, too many bytes. */
  "protocol-error",
  /** The whole-probe deadline passed. */
  "deadline-exceeded",
  /** Not contacted: non-public address without allowPrivate. */
  "policy-private-address",
  /** Not contacted: on the opt-out list. */
  "policy-opt-out",
  /** The prober itself failed (a bug or resource exhaustion); see error. */
  "internal-error",
  /** MTA-STS policy fetch only: the TLS handshake finished and a whole HTTP response was read (`tls` and `http` are set). */
  "http-response",
] as const;
export type ProbeStatus = (typeof PROBE_STATUSES)[number];

/** Statuses after which the address could not be talked to at all (rule 29: try the next). */
export const CONNECTION_FAILURES: ReadonlySet<ProbeStatus> = new Set<ProbeStatus>([
  "connect-refused",
  "connect-timeout",
  "connect-reset",
  "connect-unreachable",
  "banner-rejected",
  "ehlo-failed",
  "io-timeout",
  "io-reset",
  "protocol-error",
  "deadline-exceeded",
]);

export interface SmtpReply {
  code: number;
  /** Reply text lines without the code and separator. */
  lines: string[];
}

/**
 * What a probe does: "smtp" (the default when absent) is the STARTTLS probe
 * of an MX host address; "mta-sts-policy" is the HTTPS GET of
 * `/.well-known/mta-sts.txt` from the policy host (port 443, SNI and Host
 * header the policy host's name), through the same guarded dialer.
 */
export const PROBE_KINDS = ["smtp", "mta-sts-policy"] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

/** The HTTP response of an MTA-STS policy fetch, as received (no redirect is followed). */
export interface HttpResponseFacts {
  status: number;
  /** The Content-Type header as sent, when there was one. */
  contentType?: string;
  /** The Location header of a redirect (3xx), which is never followed (RFC 8461 §3.3). */
  location?: string;
  /** Bytes of body read (at most the cap, plus one when `truncated`). */
  bodyBytes: number;
  /** The body as UTF-8 text, kept only for status 200, at most the cap. */
  body?: string;
  /** The body was longer than the cap: reading stopped there. */
  truncated?: boolean;
}

/** A completed TLS handshake. */
export interface TlsFacts {
  version: string;
  cipher: string;
  group?: string;
  /** The certificate chain exactly as the server sent it, leaf first, base64 DER. */
  chain: string[];
  /** True when the chain was cut at the configured cap. */
  chainTruncated?: boolean;
}

/** What one MX host address (or a policy host) presented, exactly as observed. */
export interface ProbeFacts {
  schema: typeof FACTS_SCHEMA_VERSION;
  /** Absent for the SMTP probe; "mta-sts-policy" for a policy fetch. */
  kind?: ProbeKind;
  ip: string;
  port: number;
  /** SNI sent in the ClientHello: the TLSA base domain (rule 24), or the MX host name. */
  sni: string;
  status: ProbeStatus;
  /** Detail of the failure, for people; never matched on. */
  detail?: string;
  banner?: SmtpReply;
  ehlo?: SmtpReply & { verb: "EHLO" | "HELO"; keywords: string[] };
  starttls?: { offered: boolean; reply?: SmtpReply; accepted: boolean };
  tls?: TlsFacts;
  quit?: boolean;
  /** The HTTP response of a policy fetch (kind "mta-sts-policy", status "http-response"). */
  http?: HttpResponseFacts;
  /**
   * Further handshakes made to see every certificate a sender might get
   * (only for DANE hosts, and only when the first handshake suggests a
   * second key): each offered one family of signature algorithms only.
   */
  alternates?: AlternateHandshake[];
  /**
   * Bytes read from and written to the TCP connection (TLS records included),
   * when one was opened. Evidence that the read caps held.
   */
  io?: { bytesRead: number; bytesWritten: number };
  timings: {
    connectMs?: number;
    bannerMs?: number;
    ehloMs?: number;
    starttlsMs?: number;
    tlsMs?: number;
    totalMs: number;
  };
  /** ISO 8601 time the probe started. */
  startedAt: string;
}

/** The families of signature algorithms a handshake can be restricted to. */
export const SIGALG_FAMILIES = ["ecdsa", "rsa"] as const;
export type SigalgFamily = (typeof SIGALG_FAMILIES)[number];

/** A second STARTTLS session to the same address, offering one signature-algorithm family only. */
export interface AlternateHandshake {
  /** ECDSA only, or RSA only (PKCS#1 v1.5 and PSS). */
  offered: SigalgFamily;
  status: ProbeStatus;
  detail?: string;
  tls?: TlsFacts;
  timings: { tlsMs?: number; totalMs: number };
}

/** Identity of a probe: one per (scan, ip, port, SNI). */
export interface ProbeKey {
  ip: string;
  port: number;
  sni: string;
}

export function probeKeyString(k: ProbeKey): string {
  return `${k.ip}|${k.port}|${k.sni}`;
}

// ------------------------------------------------------------ judged form

/**
 * A lookup as the verdict engine reads it: what travels from the resolver
 * stage to the aggregator and what the store keeps (libs/store codec.ts).
 * The provenance stays only when the lookup failed (which upstream, how
 * often asked, what rcode), without its timing and cache flag; the TTL only
 * when the answer is secure (then it is the RRSIG's Original TTL, as the zone
 * publishes it; otherwise what a caching resolver had left, which no rule
 * reads); the signer zone never (the consistency check reads it before the
 * facts leave the resolver stage, and records the zone in its own facts).
 * The result keeps the lookup's key order: stored forms are hashed as JSON.
 */
export function judgedLookup<T>(l: Lookup<T>): Lookup<T> {
  let out = l;
  if (l.provenance) {
    const { provenance, ...rest } = l;
    if (l.outcome !== "error") out = rest;
    else {
      const { elapsedMs: _e, cached: _c, ...kept } = provenance;
      out = { ...rest, provenance: kept };
    }
  }
  if (out.ttl !== undefined && out.security !== "secure") {
    const { ttl: _t, ...rest } = out;
    out = rest;
  }
  if (out.zone !== undefined) {
    const { zone: _z, ...rest } = out;
    out = rest;
  }
  return out;
}

/**
 * Domain facts with every lookup in its judged form (judgedLookup): the same
 * verdict from a third fewer bytes of JSON (libs/pipeline's resolve stage).
 */
export function judgedFacts(f: DomainFacts): DomainFacts {
  const out: DomainFacts = {
    ...f,
    mx: judgedLookup(f.mx),
    hosts: f.hosts.map((h) => {
      const host: HostFacts = {
        ...h,
        a: judgedLookup(h.a),
        aaaa: judgedLookup(h.aaaa),
        tlsa: h.tlsa.map(judgedLookup),
      };
      if (h.firstLink) host.firstLink = judgedLookup(h.firstLink);
      return host;
    }),
  };
  if (f.mxFirstLink) out.mxFirstLink = judgedLookup(f.mxFirstLink);
  if (f.mtaSts) {
    const h = f.mtaSts.host;
    out.mtaSts = { ...f.mtaSts, txt: judgedLookup(f.mtaSts.txt) };
    if (h) out.mtaSts.host = { ...h, a: judgedLookup(h.a), aaaa: judgedLookup(h.aaaa) };
  }
  if (f.tlsRpt) out.tlsRpt = judgedLookup(f.tlsRpt);
  return out;
}
