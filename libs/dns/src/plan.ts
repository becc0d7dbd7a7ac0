/**
 * The RFC 7672 lookup plan: domain name in, DomainFacts out.
 *
 * `collectDomainFacts(resolver, domain, { port, now, resolverValidates })`
 * never rejects (given a DnsQuerier that never rejects, as StubResolver):
 * 1. normalise the name (normalize.ts). An invalid name yields facts whose MX
 *    lookup is an error of kind "other" (no query sent) and whose `limits`
 *    carry "invalid-name:<code>"; use `normalizeDomain` first to report it
 *    separately;
 * 2. MX (rules 5-10), CNAMEs followed; when the answer came through a CNAME
 *    chain and is not secure, the first-link CNAME query (rule 4) in
 *    `mxFirstLink`;
 * 3. hosts: none for an error, NXDOMAIN or null MX (any exchange "."); the
 *    domain itself at preference 0 for NODATA (implicit MX); otherwise the
 *    distinct exchanges (lowest preference kept), at most MAX_MX_HOSTS of them,
 *    the best by preference, in RRset order;
 * 4. per host: A and AAAA, separately (rule 13), at most MAX_ADDRESSES each;
 *    then the TLSA base loop: ask libs/dane `planTlsaBase` what it needs,
 *    query it, record it, until it decides (rules 15-18; a host in an insecure
 *    zone gets no TLSA query because the planner never asks for one).
 * 5. with `mailPolicies`, at the same time as 2-4: the `_mta-sts` and
 *    `_smtp._tls` TXT lookups, and the MTA-STS policy host's A and AAAA when
 *    the former holds a valid STS record (mtaSts, tlsRpt);
 * The domain's own questions (its MX, its first-link CNAME, the policy TXT
 * records and the policy host's addresses) are asked as not `shared`: no other
 * domain asks them, so the resolver does not cache them. The MX hosts'
 * questions are shared (a hosting provider's hosts serve many domains).
 * Limits hit are recorded on the lookup (`limitHit`) and in `facts.limits`.
 * With `resolverValidates: false` every lookup's security is "indeterminate".
 *
 * The facts do not depend on the client policy (libs/dane policy.ts,
 * docs/rules.md section G), so stored facts can be judged under any profile:
 * - hosts under an insecure MX RRset get their TLSA lookups like any other
 *   (the `postfix` profile enforces them, rule 32; `rfc7672` records whether
 *   they would have authenticated);
 * - a numeric exchange ("192.0.2.1") is looked up as a name (A and AAAA,
 *   normally NXDOMAIN, which the `rfc7672` profile reads); it never gets a
 *   TLSA lookup, and the `postfix` profile uses the address it spells (rule 33);
 * - every host's addresses are collected, past the client's MX address limit
 *   too (rule 34): the engine marks those it would never try.
 * Every RRset comes out in a canonical order (libs/dane canonical.ts): the
 * same zone data gives the same facts, whatever order the resolver used.
 */
import {
  canonicalFacts,
  canonicalMx,
  type DomainFacts,
  FACTS_SCHEMA_VERSION,
  type HostFacts,
  type Lookup,
  type MtaStsDnsFacts,
  type MxRecord,
  planTlsaBase,
  type RRType,
  stsPolicyHost,
  stsRecord,
} from "@danesweep/dane";
import type { RecordTypes } from "./answer.ts";
import { normalizeDomain } from "./normalize.ts";
import type { DnsQuerier, QueryOptions } from "./resolver.ts";

export const MAX_MX_HOSTS = 20;
export const MAX_ADDRESSES = 16;
/** More steps than rule 15 can ever need (one CNAME query, two TLSA lookups). */
const MAX_PLAN_STEPS = 6;
/** A domain's own questions: asked once per domain in a scan (QueryOptions.shared). */
const NOT_SHARED: QueryOptions = { shared: false };

export interface CollectOptions {
  /** Destination port of the route; default 25. */
  port?: number;
  now: () => number;
  resolverValidates: boolean;
  /**
   * Also look up MTA-STS (`_mta-sts` TXT, and the policy host's addresses when
   * it holds an STS record) and TLS-RPT (`_smtp._tls` TXT), alongside the MX
   * lookup. Default false.
   */
  mailPolicies?: boolean;
}

class Collector {
  readonly limits = new Set<string>();
  private readonly q: DnsQuerier;
  private readonly validates: boolean;
  constructor(q: DnsQuerier, validates: boolean) {
    this.q = q;
    this.validates = validates;
  }

  /**
   * Queries; the resolver shares Lookups between callers, so a changed one is
   * a copy. `shared`: whether other domains are likely to ask it too (an MX
   * host's questions are; the domain's own are not, and are not cached).
   */
  async ask<K extends RRType>(qname: string, qtype: K, shared = true): Promise<Lookup<RecordTypes[K]>> {
    let l = await this.q.query(qname, qtype, shared ? undefined : NOT_SHARED);
    if (!this.validates && l.security !== "indeterminate") l = { ...l, security: "indeterminate" };
    if (l.limitHit) this.limits.add(l.limitHit);
    return l;
  }

  async addresses(name: string, qtype: "A" | "AAAA", shared = true): Promise<Lookup<string>> {
    const l = await this.ask(name, qtype, shared);
    if (l.records.length <= MAX_ADDRESSES) return l;
    const limitHit = `addresses>${MAX_ADDRESSES}`;
    this.limits.add(limitHit);
    return { ...l, records: l.records.slice(0, MAX_ADDRESSES), limitHit };
  }

  async host(name: string, preference: number, implicit: boolean, port: number): Promise<HostFacts> {
    const [a, aaaa] = await Promise.all([this.addresses(name, "A"), this.addresses(name, "AAAA")]);
    const host: HostFacts = { name, preference, implicit, a, aaaa, tlsa: [] };
    for (let step = 0; step < MAX_PLAN_STEPS; step++) {
      const plan = planTlsaBase(host, port);
      if (plan.kind === "decided") break;
      if (plan.kind === "need-cname") host.firstLink = await this.ask(plan.name, "CNAME");
      else host.tlsa.push(await this.ask(plan.qname, "TLSA"));
    }
    return host;
  }
}

/**
 * MTA-STS discovery (RFC 8461 §3.1) and the TLS-RPT record (RFC 8460 §3): the
 * two TXT lookups at once; the policy host's A and AAAA only when the
 * `_mta-sts` lookup holds exactly one record that parses (libs/dane
 * stsRecord), since a sender fetches no policy otherwise.
 */
async function mailPolicyFacts(
  c: Collector,
  domain: string,
): Promise<{ mtaSts: MtaStsDnsFacts; tlsRpt: Lookup<string> }> {
  const [txt, tlsRpt] = await Promise.all([
    c.ask(`_mta-sts.${domain}`, "TXT", false),
    c.ask(`_smtp._tls.${domain}`, "TXT", false),
  ]);
  const mtaSts: MtaStsDnsFacts = { txt };
  if (stsRecord(txt).state === "valid") {
    const name = stsPolicyHost(domain);
    const [a, aaaa] = await Promise.all([c.addresses(name, "A", false), c.addresses(name, "AAAA", false)]);
    mtaSts.host = { name, a, aaaa };
  }
  return { mtaSts, tlsRpt };
}

/** Distinct exchanges (lowest preference kept), capped to the best `MAX_MX_HOSTS`, in RRset order. */
export function selectMxHosts(records: MxRecord[]): { hosts: MxRecord[]; capped: boolean } {
  const best = new Map<string, MxRecord>();
  for (const r of records) {
    const prev = best.get(r.exchange);
    if (!prev || r.preference < prev.preference) best.set(r.exchange, r);
  }
  let hosts = [...best.values()];
  const capped = hosts.length > MAX_MX_HOSTS;
  if (capped) {
    const keep = new Set(
      [...hosts]
        .map((h, i) => ({ h, i }))
        .sort((x, y) => x.h.preference - y.h.preference || x.i - y.i)
        .slice(0, MAX_MX_HOSTS)
        .map((x) => x.h),
    );
    hosts = hosts.filter((h) => keep.has(h));
  }
  return { hosts, capped };
}

function invalidFacts(
  input: string,
  error: string,
  port: number,
  validates: boolean,
  at: string,
): DomainFacts {
  const shown = String(input).trim().toLowerCase().slice(0, 300);
  return {
    schema: FACTS_SCHEMA_VERSION,
    domain: shown,
    port,
    resolverValidates: validates,
    mx: {
      qname: shown,
      qtype: "MX",
      outcome: "error",
      error: "other",
      security: "indeterminate",
      chain: [],
      owner: shown,
      records: [],
    },
    hosts: [],
    limits: [`invalid-name:${error}`],
    collectedAt: at,
  };
}

export async function collectDomainFacts(
  resolver: DnsQuerier,
  domain: string,
  opts: CollectOptions,
): Promise<DomainFacts> {
  const port = opts.port ?? 25;
  const collectedAt = new Date(opts.now()).toISOString();
  const n = normalizeDomain(domain);
  if (!n.ok) return invalidFacts(domain, n.error, port, opts.resolverValidates, collectedAt);
  const name = n.name;
  const c = new Collector(resolver, opts.resolverValidates);
  const policies = opts.mailPolicies ? mailPolicyFacts(c, name) : undefined;

  // RRsets in a canonical order (libs/dane canonical.ts): which hosts are kept under the
  // host limit, and everything after, must not depend on the order the resolver used.
  const mx = canonicalMx(await c.ask(name, "MX", false));
  const facts: DomainFacts = {
    schema: FACTS_SCHEMA_VERSION,
    domain: name,
    port,
    resolverValidates: opts.resolverValidates,
    mx,
    hosts: [],
    limits: [],
    collectedAt,
  };
  const firstLink =
    mx.chain.length > 0 && mx.outcome !== "error" && mx.security !== "secure"
      ? c.ask(name, "CNAME", false)
      : undefined;

  let wanted: { name: string; preference: number; implicit: boolean }[] = [];
  if (mx.outcome === "nodata") {
    wanted = [{ name, preference: 0, implicit: true }];
  } else if (mx.outcome === "answer" && !mx.records.some((r) => r.exchange === ".")) {
    const sel = selectMxHosts(mx.records);
    if (sel.capped) c.limits.add(`mx-hosts>${MAX_MX_HOSTS}`);
    wanted = sel.hosts.map((r) => ({ name: r.exchange, preference: r.preference, implicit: false }));
  }
  const [fl, hosts, mail] = await Promise.all([
    firstLink,
    Promise.all(wanted.map((h) => c.host(h.name, h.preference, h.implicit, port))),
    policies,
  ]);
  if (fl) facts.mxFirstLink = fl;
  facts.hosts = hosts;
  if (mail) {
    facts.mtaSts = mail.mtaSts;
    facts.tlsRpt = mail.tlsRpt;
  }
  facts.limits = [...c.limits];
  return canonicalFacts(facts);
}
