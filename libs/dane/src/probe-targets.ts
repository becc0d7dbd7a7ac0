/**
 * The route of a domain: which MX hosts a sending MTA tries, in which order, at
 * which addresses, with which TLSA base domain, SNI and TLS requirement
 * (rfc7672-rules.md sections B and C, rules 5-18 and 24). Pure.
 *
 * The verdict engine (judge.ts) and the resolver stage (through probeTargets)
 * both derive the route with `domainRoute`, so the probes requested are exactly
 * the probes the engine looks up.
 *
 * Contract:
 * - domainRoute(facts) never throws on well-typed facts. It returns a
 *   domain-level stop (resolver not validating, MX lookup error, NXDOMAIN,
 *   null MX) or the ordered hosts.
 * - Host order: MX preference ascending; equal preferences by host name
 *   (deterministic, where RFC 5321 says random); a name listed twice is kept
 *   once, at its best preference.
 * - Addresses of a host: the A records, then the AAAA records, each family in
 *   the order the facts hold them, duplicates dropped; a family whose lookup
 *   failed contributes nothing (rule 13).
 * - SNI: the TLSA base domain for a host DANE applies to (rule 24), else the
 *   MX host name.
 * - probeTargets(facts, { probeMode }) lists one target per distinct
 *   (ip, port, sni), in route order: "all" every host with an address (hosts
 *   whose TLSA lookup failed included, for measurement, although the engine
 *   never uses those probes); "dane" only hosts that require TLS ("dane" or
 *   "tls"). Hosts whose TLSA facts are still incomplete are left out (the
 *   resolver stage completes them first). No target for a domain-level stop
 *   or malformed facts; never throws.
 */
import type { DomainFacts, HostFacts, Lookup, Security } from "./facts.ts";
import { tlsaUsability } from "./tlsa.ts";
import { planTlsaBase, type TlsaBaseDecision } from "./tlsa-base.ts";
import type { Requirement } from "./verdict-types.ts";

export interface RouteAddress {
  ip: string;
  family: 4 | 6;
  /** Security of the address lookup that gave this address. */
  security: Security;
}

/**
 * What the route requires of a host:
 * - dane / tls / opportunistic: rules 17, 20, 21 (opportunistic for every host
 *   when the MX RRset is insecure, rule 11);
 * - unusable: TLSA or first-link CNAME lookup error on a secure path: the host
 *   fails without being contacted (rules 15, 17);
 * - skip: no address (rule 14);
 * - incomplete: the facts lack a lookup the TLSA base plan needs.
 */
export type RouteRequirement = Requirement | "unusable" | "skip" | "incomplete";

export interface RouteHost {
  facts: HostFacts;
  /** planTlsaBase's decision, or undefined when the facts are incomplete. */
  decision: TlsaBaseDecision | undefined;
  requirement: RouteRequirement;
  /** SNI for this host's probes (rule 24). */
  sni: string;
  addresses: RouteAddress[];
}

export type DomainRoute =
  | { kind: "stop"; action: "indeterminate"; reason: "resolver-not-validating" }
  | { kind: "stop"; action: "defer"; reason: "mx-lookup-failed" }
  | { kind: "stop"; action: "bounce"; reason: "nxdomain" | "null-mx" }
  | { kind: "hosts"; mxSecure: boolean; implicit: boolean; hosts: RouteHost[] };

function familyAddresses(l: Lookup<string>, family: 4 | 6): RouteAddress[] {
  if (l.outcome !== "answer") return [];
  return l.records.map((ip) => ({ ip, family, security: l.security }));
}

/** A then AAAA, duplicates dropped; failed families contribute nothing (rule 13). */
export function hostAddresses(h: HostFacts): RouteAddress[] {
  const seen = new Set<string>();
  const out: RouteAddress[] = [];
  for (const a of [...familyAddresses(h.a, 4), ...familyAddresses(h.aaaa, 6)]) {
    if (seen.has(a.ip)) continue;
    seen.add(a.ip);
    out.push(a);
  }
  return out;
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

function hostRoute(h: HostFacts, port: number, mxSecure: boolean): RouteHost {
  const plan = planTlsaBase(h, port);
  const decision = plan.kind === "decided" ? plan.decision : undefined;
  const addresses = hostAddresses(h);
  let requirement: RouteRequirement;
  let sni = h.name;
  if (decision?.kind === "no-address") {
    requirement = "skip";
  } else if (!mxSecure) {
    requirement = "opportunistic";
  } else if (!decision) {
    requirement = "incomplete";
  } else if (decision.kind === "unusable") {
    requirement = "unusable";
    sni = decision.base ?? h.name;
  } else if (decision.kind === "no-dane") {
    requirement = "opportunistic";
  } else {
    sni = decision.base;
    requirement = decision.tlsa.records.some((r) => tlsaUsability(r).usable) ? "dane" : "tls";
  }
  return { facts: h, decision, requirement, sni, addresses };
}

/** The route of a domain (rules 2, 5-18). */
export function domainRoute(facts: DomainFacts): DomainRoute {
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
  const hosts = orderHosts(candidates).map((h) => hostRoute(h, facts.port, mxSecure));
  return { kind: "hosts", mxSecure, implicit, hosts };
}

export interface ProbeTarget {
  ip: string;
  port: number;
  sni: string;
  mxHost: string;
  family: 4 | 6;
  requirement: Requirement | "unusable";
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

export function probeTargets(facts: DomainFacts, opts: { probeMode: "all" | "dane" }): ProbeTarget[] {
  try {
    return probeTargetsUnsafe(facts, opts);
  } catch {
    return [];
  }
}

function probeTargetsUnsafe(facts: DomainFacts, opts: { probeMode: "all" | "dane" }): ProbeTarget[] {
  if (!factsShapeOk(facts)) return [];
  const route = domainRoute(facts);
  if (route.kind === "stop") return [];
  const seen = new Set<string>();
  const out: ProbeTarget[] = [];
  for (const h of route.hosts) {
    const req = h.requirement;
    if (req === "skip" || req === "incomplete") continue;
    if (opts.probeMode === "dane" && req !== "dane" && req !== "tls") continue;
    for (const a of h.addresses) {
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
      });
    }
  }
  return out;
}
