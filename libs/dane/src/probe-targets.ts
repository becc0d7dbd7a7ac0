/**
 * The route of a domain: which MX hosts a sending MTA tries, in which order, at
 * which addresses, with which TLSA base domain, SNI and TLS requirement, under
 * a client policy (docs/rules.md sections B, C and G, rules 5-18, 24 and 31-35).
 * Pure.
 *
 * The verdict engine (judge.ts) and the resolver stage (through probeTargets)
 * both derive the route with `domainRoute`, so the probes requested are exactly
 * the probes the engine looks up.
 *
 * Contract:
 * - domainRoute(facts, policy?) never throws on well-typed facts. It returns a
 *   domain-level stop (resolver not validating, MX lookup error, NXDOMAIN,
 *   null MX) or the ordered hosts. The policy defaults to the default profile.
 * - Host order: MX preference ascending; equal preferences by host name
 *   (deterministic, where RFC 5321 says random); a name listed twice is kept
 *   once, at its best preference.
 * - Addresses of a host: the A records, then the AAAA records, each family in
 *   the order the facts hold them, duplicates dropped; a family whose lookup
 *   failed contributes nothing (rule 13). A numeric exchange under
 *   `numericMx: "literal"` has the one address it spells, in the canonical
 *   text of ip.ts (as the DNS decoder and the prober write addresses), and no
 *   DANE (rule 33).
 * - Address limit (rule 34): the addresses of all hosts, in route order, are
 *   counted; with `mxAddressLimit` N > 0 only the first N are tried (with
 *   `balanceInetProtocols`, both families keep a share when both are present,
 *   as Postfix does); the others carry `beyondLimit`.
 * - Requirements: `daneRequirement` is what DANE makes of the host under the
 *   policy's insecure-MX policy (rules 11, 17, 20, 21, 32); `requirement` is
 *   what the security level makes of that (rule 31); they differ only with
 *   levels other than "dane".
 * - SNI: the TLSA base domain for a host with a secure TLSA RRset (and for an
 *   unusable host, when known), else the MX host name (rule 24). It does not
 *   depend on the policy, so one probe serves every profile.
 * - probeTargets(facts, { probeMode, policy? }) lists one target per distinct
 *   (ip, port, sni), in route order: "all" every address of every host with an
 *   address (hosts whose TLSA lookup failed and addresses beyond the address
 *   limit included, for measurement, although the ladder never uses them);
 *   "dane" only addresses within the limit of hosts that require TLS ("dane"
 *   or "tls", as DANE or the level sees them). Hosts whose TLSA facts are
 *   still incomplete are left out (the resolver stage completes them first).
 *   No target for a domain-level stop or malformed facts; never throws.
 *   `dane` says whether the host has a secure TLSA RRset with a usable
 *   record (the probe then looks for every certificate a sender might see).
 */
import type { DomainFacts, HostFacts, Lookup, Security } from "./facts.ts";
import { formatIp, parseIp } from "./ip.ts";
import { type ClientPolicy, defaultPolicy } from "./policy.ts";
import { tlsaUsability } from "./tlsa.ts";
import { planTlsaBase, type TlsaBaseDecision } from "./tlsa-base.ts";
import type { Reason, Requirement } from "./verdict-types.ts";

export interface RouteAddress {
  ip: string;
  family: 4 | 6;
  /** Security of the address lookup that gave this address ("insecure" for a numeric exchange). */
  security: Security;
  /** Past the client's MX address limit: never tried (rule 34). */
  beyondLimit: boolean;
}

/**
 * What the route requires of a host:
 * - dane / tls / opportunistic: rules 17, 20, 21, 31, 32;
 * - unusable: the host fails without being contacted: a TLSA or first-link
 *   CNAME lookup error on a secure path (rules 15, 17), or no DANE where the
 *   level is dane-only (rule 31); `failure` says which;
 * - skip: no address (rule 14);
 * - incomplete: the facts lack a lookup the TLSA base plan needs.
 */
export type RouteRequirement = Requirement | "unusable" | "skip" | "incomplete";

/** Why an unusable host fails. */
export type RouteFailure = Extract<Reason, "tlsa-lookup-failed" | "cname-lookup-failed" | "dane-unavailable">;

export interface RouteHost {
  facts: HostFacts;
  /** planTlsaBase's decision, or undefined when the facts are incomplete or the exchange is numeric. */
  decision: TlsaBaseDecision | undefined;
  /** The literal address of a numeric exchange used as such (rule 33). */
  numeric?: string;
  /** What the security level requires (the ladder uses this). */
  requirement: RouteRequirement;
  failure?: RouteFailure;
  /** What DANE requires under the policy's insecure-MX policy (the DANE state uses this). */
  daneRequirement: RouteRequirement;
  daneFailure?: RouteFailure;
  /** SNI for this host's probes (rule 24). */
  sni: string;
  addresses: RouteAddress[];
}

export type DomainRoute =
  | { kind: "stop"; action: "indeterminate"; reason: "resolver-not-validating" }
  | { kind: "stop"; action: "defer"; reason: "mx-lookup-failed" }
  | { kind: "stop"; action: "bounce"; reason: "nxdomain" | "null-mx" }
  | { kind: "hosts"; mxSecure: boolean; implicit: boolean; hosts: RouteHost[] };

/** Up to this many addresses a host's duplicates are found by a scan of its list; past it, by a set. */
const SCAN_DEDUPE = 16;

/** A then AAAA, duplicates dropped; failed families contribute nothing (rule 13). */
export function hostAddresses(h: HostFacts): RouteAddress[] {
  const out: RouteAddress[] = [];
  const n = answered(h.a).length + answered(h.aaaa).length;
  const seen = n > SCAN_DEDUPE ? new Set<string>() : undefined;
  addFamily(out, seen, h.a, 4);
  addFamily(out, seen, h.aaaa, 6);
  return out;
}

const NONE: readonly string[] = [];

function answered(l: Lookup<string>): readonly string[] {
  return l.outcome === "answer" ? l.records : NONE;
}

function addFamily(
  out: RouteAddress[],
  seen: Set<string> | undefined,
  l: Lookup<string>,
  family: 4 | 6,
): void {
  for (const ip of answered(l)) {
    if (seen ? seen.has(ip) : out.some((a) => a.ip === ip)) continue;
    seen?.add(ip);
    out.push({ ip, family, security: l.security, beyondLimit: false });
  }
}

/**
 * The address a numeric MX exchange spells ("192.0.2.1", or an IPv6 address
 * when a name could carry one), or undefined for an ordinary host name. The
 * address is in the one canonical text (ip.ts formatIp): the probe key the
 * route asks for is the one the prober stores its facts under, however the
 * exchange spells the address ("::FFFF:7f00:1" is "::ffff:127.0.0.1").
 */
export function numericExchange(name: string): { ip: string; family: 4 | 6 } | undefined {
  const bytes = parseIp(name);
  if (!bytes) return undefined;
  return { ip: formatIp(bytes), family: bytes.length === 4 ? 4 : 6 };
}

/** Preference ascending, then name; one entry per name (its best preference). */
export function orderHosts(hosts: HostFacts[]): HostFacts[] {
  const best = new Map<string, HostFacts>();
  for (const h of hosts) {
    const prev = best.get(h.name);
    if (!prev || h.preference < prev.preference) best.set(h.name, h);
  }
  return [...best.values()].sort((x, y) =>
    x.preference !== y.preference
      ? x.preference - y.preference
      : x.name < y.name
        ? -1
        : x.name > y.name
          ? 1
          : 0,
  );
}

interface Requires {
  requirement: RouteRequirement;
  failure?: RouteFailure;
}

/** What DANE makes of a host under the insecure-MX policy (rules 11, 15, 17, 20, 21, 32). */
function daneView(decision: TlsaBaseDecision | undefined, mxSecure: boolean, policy: ClientPolicy): Requires {
  if (decision?.kind === "no-address") return { requirement: "skip" };
  // An insecure MX under "may": the host's TLSA is not consulted at all (its errors included).
  if (!mxSecure && policy.insecureMxPolicy === "may") return { requirement: "opportunistic" };
  if (!decision) return { requirement: "incomplete" };
  if (decision.kind === "unusable") {
    const failure = decision.why === "cname-lookup-error" ? "cname-lookup-failed" : "tlsa-lookup-failed";
    return { requirement: "unusable", failure };
  }
  if (decision.kind === "no-dane") return { requirement: "opportunistic" };
  const usable = decision.tlsa.records.some((r) => tlsaUsability(r).usable);
  if (!usable) return { requirement: "tls" };
  // An insecure MX under "encrypt": secure TLSA only signals that TLS is required.
  return { requirement: mxSecure || policy.insecureMxPolicy === "dane" ? "dane" : "tls" };
}

/** What the security level makes of DANE's view (rule 31). */
function levelView(dane: Requires, mxSecure: boolean, policy: ClientPolicy): Requires {
  if (dane.requirement === "skip") return dane;
  switch (policy.securityLevel) {
    case "dane":
      return dane;
    case "may":
      return { requirement: "opportunistic" };
    case "encrypt":
      return { requirement: "tls" };
    case "dane-only":
      if (dane.requirement === "unusable" || dane.requirement === "incomplete") return dane;
      if (!mxSecure || dane.requirement !== "dane") {
        return { requirement: "unusable", failure: "dane-unavailable" };
      }
      return dane;
  }
}

function hostRoute(h: HostFacts, port: number, mxSecure: boolean, policy: ClientPolicy): RouteHost {
  const numeric = policy.numericMx === "literal" && !h.implicit ? numericExchange(h.name) : undefined;
  if (numeric) {
    // The address came from no DNSSEC lookup: no TLSA, no DANE (rule 33).
    const dane: Requires = { requirement: "opportunistic" };
    const level = levelView(dane, false, policy);
    const out: RouteHost = {
      facts: h,
      decision: undefined,
      numeric: numeric.ip,
      requirement: level.requirement,
      daneRequirement: dane.requirement,
      sni: h.name,
      addresses: [{ ip: numeric.ip, family: numeric.family, security: "insecure", beyondLimit: false }],
    };
    if (level.failure) out.failure = level.failure;
    return out;
  }
  const plan = planTlsaBase(h, port);
  const decision = plan.kind === "decided" ? plan.decision : undefined;
  const dane = daneView(decision, mxSecure, policy);
  const level = levelView(dane, mxSecure, policy);
  let sni = h.name;
  if (decision?.kind === "dane") sni = decision.base;
  else if (decision?.kind === "unusable") sni = decision.base ?? h.name;
  const out: RouteHost = {
    facts: h,
    decision,
    requirement: level.requirement,
    daneRequirement: dane.requirement,
    sni,
    addresses: hostAddresses(h),
  };
  if (level.failure) out.failure = level.failure;
  if (dane.failure) out.daneFailure = dane.failure;
  return out;
}

/**
 * Marks the addresses past the client's address limit (rule 34), in route
 * order. With balancing, when both families are present and there are more
 * addresses than the limit, each family keeps a share (Postfix
 * smtp_balance_inet_proto): a family with at most half the limit keeps all its
 * addresses, the other fills the rest; when both have more, the limit is split,
 * the odd one going to the family of the first address.
 */
export function applyAddressLimit(hosts: RouteHost[], policy: ClientPolicy): void {
  const limit = policy.mxAddressLimit;
  if (!(limit > 0)) return;
  let v4 = 0;
  let v6 = 0;
  let first: 4 | 6 | undefined;
  for (const h of hosts) {
    for (const a of h.addresses) {
      first ??= a.family;
      if (a.family === 4) v4++;
      else v6++;
    }
  }
  let keep4 = Number.POSITIVE_INFINITY;
  let keep6 = Number.POSITIVE_INFINITY;
  if (policy.balanceInetProtocols && v4 > 0 && v6 > 0 && v4 + v6 > limit) {
    const half = Math.floor(limit / 2);
    if (v6 <= half) {
      keep6 = v6;
      keep4 = limit - v6;
    } else if (v4 <= half) {
      keep4 = v4;
      keep6 = limit - v4;
    } else {
      keep4 = Math.floor((limit + (first === 4 ? 1 : 0)) / 2);
      keep6 = limit - keep4;
    }
  }
  let tried = 0;
  for (const h of hosts) {
    for (const a of h.addresses) {
      const share = a.family === 4 ? keep4 : keep6;
      if (tried < limit && share > 0) {
        tried++;
        if (a.family === 4) keep4--;
        else keep6--;
      } else {
        a.beyondLimit = true;
      }
    }
  }
}

/** The route of a domain (rules 2, 5-18, 31-34). */
export function domainRoute(facts: DomainFacts, policy: ClientPolicy = defaultPolicy()): DomainRoute {
  if (!facts.resolverValidates) {
    return { kind: "stop", action: "indeterminate", reason: "resolver-not-validating" };
  }
  const mx = facts.mx;
  if (mx.outcome === "error" || mx.security === "bogus") {
    return { kind: "stop", action: "defer", reason: "mx-lookup-failed" };
  }
  if (mx.outcome === "nxdomain") return { kind: "stop", action: "bounce", reason: "nxdomain" };
  if (mx.outcome === "answer" && mx.records.some((r) => r.exchange === "." || r.exchange === "")) {
    return { kind: "stop", action: "bounce", reason: "null-mx" };
  }
  // NODATA (or an answer with no records): implicit MX, the domain is its own host (rule 8).
  const implicit = mx.outcome !== "answer" || mx.records.length === 0;
  const mxSecure = mx.security === "secure";
  const candidates = facts.hosts.filter((h) => h.implicit === implicit);
  const hosts = orderHosts(candidates).map((h) => hostRoute(h, facts.port, mxSecure, policy));
  applyAddressLimit(hosts, policy);
  return { kind: "hosts", mxSecure, implicit, hosts };
}

export interface ProbeTarget {
  ip: string;
  port: number;
  sni: string;
  mxHost: string;
  family: 4 | 6;
  requirement: Requirement | "unusable";
  /**
   * The host has a secure TLSA RRset with a usable record (whatever the
   * policy makes of it): the prober looks for a second certificate too.
   */
  dane: boolean;
}

/** The minimal shape the route needs; anything else is malformed input (no route, no targets). */
export function factsShapeOk(facts: DomainFacts): boolean {
  return (
    typeof facts === "object" &&
    facts !== null &&
    typeof facts.domain === "string" &&
    typeof facts.port === "number" &&
    typeof facts.resolverValidates === "boolean" &&
    typeof facts.mx === "object" &&
    facts.mx !== null &&
    Array.isArray(facts.mx.records) &&
    Array.isArray(facts.hosts)
  );
}

export interface ProbeTargetOptions {
  probeMode: "all" | "dane";
  /** The scan's client policy; default the default profile. */
  policy?: ClientPolicy;
  /** The route of these facts under `policy` (routeOf), when the caller has it: not derived again. */
  route?: DomainRoute;
}

/**
 * domainRoute of facts of the minimal shape (factsShapeOk), else undefined (it
 * never throws): what a caller derives once and hands to probeTargets and the
 * judge (JudgeOptions.route).
 */
export function routeOf(facts: DomainFacts, policy: ClientPolicy = defaultPolicy()): DomainRoute | undefined {
  try {
    return factsShapeOk(facts) ? domainRoute(facts, policy) : undefined;
  } catch {
    return undefined;
  }
}

export function probeTargets(facts: DomainFacts, opts: ProbeTargetOptions): ProbeTarget[] {
  try {
    return probeTargetsUnsafe(facts, opts);
  } catch {
    return [];
  }
}

function requiresTls(req: RouteRequirement): boolean {
  return req === "dane" || req === "tls";
}

function probeTargetsUnsafe(facts: DomainFacts, opts: ProbeTargetOptions): ProbeTarget[] {
  if (!factsShapeOk(facts)) return [];
  const route = opts.route ?? domainRoute(facts, opts.policy ?? defaultPolicy());
  if (route.kind === "stop") return [];
  const seen = new Set<string>();
  const out: ProbeTarget[] = [];
  for (const h of route.hosts) {
    const req = h.requirement;
    if (req === "skip" || req === "incomplete") continue;
    const tlsRequired = requiresTls(req) || requiresTls(h.daneRequirement);
    const d = h.decision;
    const dane = d?.kind === "dane" && d.tlsa.records.some((r) => tlsaUsability(r).usable);
    if (opts.probeMode === "dane" && !tlsRequired) continue;
    for (const a of h.addresses) {
      if (opts.probeMode === "dane" && a.beyondLimit) continue;
      const key = `${a.ip}|${facts.port}|${h.sni}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({
        ip: a.ip,
        port: facts.port,
        sni: h.sni,
        mxHost: h.facts.name,
        family: a.family,
        requirement: req,
        dane,
      });
    }
  }
  return out;
}
