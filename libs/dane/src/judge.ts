/**
 * The RFC 7672 decision ladder: facts in, verdict record out, under a client
 * policy (docs/rules.md sections A-C, F and G, rules 1-18 and 28-36). Pure: no
 * I/O, no clock reads; `opts.now` is the time.
 *
 * Contract of `judge(facts, probes, { now, probeMode?, policy?, risk?, trust? })`:
 * - The policy defaults to the default profile (policy.ts); the record's
 *   `engine` names ENGINE_VERSION and the profile.
 * - Walks the route of domainRoute() (probe-targets.ts): hosts by preference
 *   (equal preferences by name), each host's addresses A then AAAA; each
 *   address within the client's address limit is a try, and a failure moves to
 *   the next address, then the next host (rules 29, 34).
 * - Per address, the probe facts found with `probes({ ip, port, sni })` are
 *   read through the table of rule 28 for the host's requirement.
 * - The verdict is the first address that accepts the message, or the stop
 *   where the facts run out (indeterminate: not-probed, policy-refused,
 *   incomplete-facts), or defer with the reason of the last failure (and
 *   `beyondAddressLimit` when an address past the limit would have taken the
 *   message), or a domain-level stop (resolver not validating, MX error,
 *   NXDOMAIN, null MX, no address).
 * - Every address of every host is assessed, including those after the
 *   decision or past the limit (kept as `assessed`); the DANE state
 *   (libs/dane/README.md) is computed from all of them as DANE sees the hosts
 *   (the security level aside), and the problems (problems.ts) from the state;
 *   the hosts that failed or would fail (problems.ts `failingHosts`, from the
 *   host outcomes as the ladder saw them) are stored as `failingHosts`,
 *   absent when none.
 * - With the MTA-STS / TLS-RPT lookups in the facts, the record carries the
 *   `mtaSts` / `tlsRpt` judgements beside the DANE verdict
 *   (mta-sts-judge.ts, rules 41-48); they never change the DANE verdict.
 * - Never throws: facts that break the engine (malformed input) give action
 *   "indeterminate", reason "incomplete-facts".
 */
import { type AuthFailure, authenticate, type TrustStore } from "./auth.ts";
import { judgeConsistency, type UsedRrset } from "./consistency.ts";
import { registrableDomain, tldOf } from "./domains.ts";
import { explain } from "./explain.ts";
import {
  CONNECTION_FAILURES,
  type DomainFacts,
  type ProbeFacts,
  type ProbeKey,
  type TlsaRecord,
} from "./facts.ts";
import { judgeMailPolicies } from "./mta-sts-judge.ts";
import { type ClientPolicy, defaultPolicy, ENGINE_VERSION } from "./policy.ts";
import {
  type DomainRoute,
  domainRoute,
  factsShapeOk,
  type RouteFailure,
  type RouteHost,
  type RouteRequirement,
} from "./probe-targets.ts";
import { failingHosts, findProblems } from "./problems.ts";
import { assessRisks, DAY_MS, DEFAULT_RISK_THRESHOLDS, type RiskHost, type RiskThresholds } from "./risks.ts";
import { tlsaUsability } from "./tlsa.ts";
import { referenceAddressLookup } from "./tlsa-base.ts";
import {
  type AddressOutcome,
  type AssessedResult,
  type DaneState,
  type DeliverySecurity,
  type HostOutcome,
  type JudgedRecord,
  type Reason,
  type Requirement,
  VERDICT_SCHEMA_VERSION,
  type Verdict,
  type VerdictRecord,
} from "./verdict-types.ts";

export interface JudgeOptions {
  /** Epoch ms: validity dates under DANE-TA, and judgedAt. */
  now: number;
  /** "dane": only hosts that require TLS were probed (opportunistic hosts have no probe facts). Default "all". */
  probeMode?: "all" | "dane";
  /** The client policy; default the default profile (policy.ts). */
  policy?: ClientPolicy;
  /**
   * The WebPKI roots an MTA-STS sender trusts (auth.ts trustStore): the policy
   * host's and the MX hosts' certificates are judged against them. Without
   * one, those certificates are not judged ("not-validated", "no-trust-store").
   */
  trust?: TrustStore;
  /** Thresholds of the risk rules (rules 37, 39); default DEFAULT_RISK_THRESHOLDS. */
  risk?: Partial<RiskThresholds>;
  /**
   * The route of these facts under `policy` (probe-targets.ts routeOf), when
   * the caller derived it already (the aggregator, for the probes it waits
   * for): the judge does not derive it again.
   */
  route?: DomainRoute;
}

export type ProbeLookup = (key: ProbeKey) => ProbeFacts | undefined;

export interface Assessment {
  result: AssessedResult;
  reason: Reason;
  probe?: AddressOutcome["probe"];
  auth?: AddressOutcome["auth"];
}

interface DaneContext {
  records: TlsaRecord[];
  names: string[];
  now: number;
  maxDepth: number;
}

/** Rule 28 for one address. */
function assessAddress(
  req: Requirement,
  probe: ProbeFacts | undefined,
  dane: DaneContext | undefined,
): Assessment {
  if (!probe) return { result: "not-probed", reason: "not-probed" };
  const p = { ip: probe.ip, port: probe.port, sni: probe.sni, status: probe.status };
  const s = probe.status;
  if (s === "policy-private-address" || s === "policy-opt-out") {
    return { result: "policy-refused", reason: "policy-refused", probe: p };
  }
  if (s === "internal-error") return { result: "not-probed", reason: "incomplete-facts", probe: p };
  if (CONNECTION_FAILURES.has(s)) return { result: "failed", reason: "connection-failed", probe: p };
  if (s === "starttls-not-offered" || s === "starttls-refused") {
    return req === "opportunistic"
      ? { result: "plaintext", reason: "opportunistic-plaintext", probe: p }
      : { result: "failed", reason: "starttls-not-offered", probe: p };
  }
  if (s === "tls-handshake-failed" || s === "tls-timeout") {
    // Opportunistic: Postfix retries the host in plaintext (that retry is not probed).
    return req === "opportunistic"
      ? { result: "plaintext", reason: "opportunistic-plaintext", probe: p }
      : { result: "failed", reason: "tls-handshake-failed", probe: p };
  }
  // tls-ok
  if (req === "opportunistic") return { result: "encrypted", reason: "opportunistic-tls", probe: p };
  if (req === "tls") return { result: "encrypted", reason: "tls-required-unauthenticated", probe: p };
  if (!probe.tls || !dane) return { result: "not-probed", reason: "incomplete-facts", probe: p };
  const r = authenticate({
    records: dane.records,
    chain: probe.tls.chain,
    names: dane.names,
    now: dane.now,
    maxDepth: dane.maxDepth,
  });
  if (r.ok) {
    return {
      result: "dane-verified",
      reason: "dane-authenticated",
      probe: p,
      auth: { matched: r.matched, detail: r.detail },
    };
  }
  return {
    result: "failed",
    reason: "dane-check-failed",
    probe: p,
    auth: { failure: r.failure satisfies AuthFailure, detail: r.detail },
  };
}

/**
 * Reference identifiers for DANE-TA (rule 27): the TLSA base domain, and when
 * the host came from an MX RRset whose TLSA the client enforces, the next-hop
 * domain and the MX RRset owner (Postfix adds them whenever MX records were
 * found; an implicit MX has only the base).
 */
function authNames(base: string, facts: DomainFacts, mxFound: boolean): string[] {
  const names = [base];
  if (mxFound) {
    names.push(facts.domain);
    if (facts.mx.outcome === "answer") names.push(facts.mx.owner);
  }
  return [...new Set(names)];
}

/** How a host counts for the DANE state (README, "DANE states"). */
type HostClass = "dane" | "tls" | "no-tlsa" | "lookup-error" | "incomplete" | "no-address" | "refused";

export interface HostEval {
  route: RouteHost;
  outcome: HostOutcome;
  assessments: Assessment[];
  cls: HostClass;
  /** The requirement this evaluation used. */
  requirement: RouteRequirement;
}

interface EvalContext {
  facts: DomainFacts;
  mxSecure: boolean;
  implicit: boolean;
  policy: ClientPolicy;
  probes: ProbeLookup;
  now: number;
}

function daneContext(h: RouteHost, ctx: EvalContext): DaneContext | undefined {
  const d = h.decision;
  if (d?.kind !== "dane") return undefined;
  const enforced = ctx.mxSecure || ctx.policy.insecureMxPolicy === "dane";
  return {
    records: d.tlsa.records,
    names: authNames(d.base, ctx.facts, !ctx.implicit && enforced),
    now: ctx.now,
    maxDepth: ctx.policy.serverCertVerifyDepth,
  };
}

function evaluateHost(
  h: RouteHost,
  req: RouteRequirement,
  failure: RouteFailure | undefined,
  ctx: EvalContext,
): HostEval {
  const d = h.decision;
  const ref = referenceAddressLookup(h.facts);
  const outcome: HostOutcome = {
    host: h.facts.name,
    preference: h.facts.preference,
    implicit: h.facts.implicit,
    addressSecurity: h.numeric ? "insecure" : (d?.addressSecurity ?? ref?.security ?? "indeterminate"),
    tlsaBaseWhy: h.numeric ? "numeric-exchange" : (d?.why ?? "incomplete-facts"),
    requirement: req === "skip" || req === "incomplete" ? "unusable" : req,
    addresses: [],
  };
  if (h.numeric) outcome.numeric = true;
  if (d?.kind === "dane" || d?.kind === "unusable") {
    if (d.base !== undefined) outcome.tlsaBase = d.base;
  }
  if (d?.kind === "dane") {
    outcome.tlsa = d.tlsa.records.map((record) => {
      const u = tlsaUsability(record);
      return u.usable ? { record, usable: true } : { record, usable: false, why: u.why };
    });
  }

  let cls: HostClass;
  const assessments: Assessment[] = [];
  const key = (ip: string) => ({ ip, port: ctx.facts.port, sni: h.sni });

  switch (req) {
    case "skip":
      cls = "no-address";
      outcome.reason = d?.why === "address-lookup-error" ? "address-lookup-failed" : "no-address";
      break;
    case "incomplete":
      cls = "incomplete";
      outcome.reason = "incomplete-facts";
      for (const _ of h.addresses) assessments.push({ result: "not-probed", reason: "incomplete-facts" });
      break;
    case "unusable": {
      const reason: Reason = failure ?? "tlsa-lookup-failed";
      cls = reason === "dane-unavailable" ? "refused" : "lookup-error";
      outcome.reason = reason;
      for (const _ of h.addresses) assessments.push({ result: "failed", reason });
      break;
    }
    default: {
      cls = req === "opportunistic" ? "no-tlsa" : req;
      const dane = req === "dane" ? daneContext(h, ctx) : undefined;
      for (const a of h.addresses) assessments.push(assessAddress(req, ctx.probes(key(a.ip)), dane));
      // Rules 11, 32: DANE is not enforced here, but record whether the host's own
      // secure, usable TLSA would have authenticated what it presented.
      const would = req !== "dane" ? daneContext(h, ctx) : undefined;
      if (would && outcome.tlsa?.some((t) => t.usable)) {
        let verdict: boolean | undefined;
        for (const a of h.addresses) {
          const x = assessAddress("dane", ctx.probes(key(a.ip)), would);
          if (x.result === "dane-verified") verdict = true;
          else if (x.result === "failed" && x.reason !== "connection-failed" && verdict === undefined)
            verdict = false;
        }
        if (verdict !== undefined) outcome.wouldAuthenticate = verdict;
      }
    }
  }
  return { route: h, outcome, assessments, cls, requirement: req };
}

type Decision =
  | { kind: "deliver"; host: string; address: string; security: DeliverySecurity; reason: Reason }
  | { kind: "indeterminate"; reason: Reason };

interface Walk {
  decision: Decision | undefined;
  lastFailure: Reason | undefined;
  /** The first address past the limit that would have taken the message. */
  beyond?: { host: string; address: string; security: DeliverySecurity };
}

function isDelivery(r: AssessedResult): r is DeliverySecurity {
  return r === "dane-verified" || r === "encrypted" || r === "plaintext";
}

function walkLadder(evals: HostEval[]): Walk {
  const walk: Walk = { decision: undefined, lastFailure: undefined };
  for (const ev of evals) {
    const h = ev.route;
    let hostFailure: Reason | undefined;
    h.addresses.forEach((a, i) => {
      const x = ev.assessments[i]!;
      const out: AddressOutcome = { address: a.ip, family: a.family, security: a.security, result: x.result };
      if (x.probe) out.probe = x.probe;
      if (x.auth) out.auth = x.auth;
      if (a.beyondLimit || walk.decision) {
        out.result = a.beyondLimit ? "beyond-limit" : "not-tried";
        out.assessed = { result: x.result, reason: x.reason };
        if (a.beyondLimit && !walk.beyond && isDelivery(x.result)) {
          walk.beyond = { host: h.facts.name, address: a.ip, security: x.result };
        }
      } else {
        out.reason = x.reason;
        if (x.result === "failed") {
          hostFailure = x.reason;
          walk.lastFailure = x.reason;
        } else if (x.result === "not-probed" || x.result === "policy-refused") {
          walk.decision = { kind: "indeterminate", reason: x.reason };
        } else {
          walk.decision = {
            kind: "deliver",
            host: h.facts.name,
            address: a.ip,
            security: x.result,
            reason: x.reason,
          };
        }
      }
      ev.outcome.addresses.push(out);
    });
    const d = walk.decision;
    if (hostFailure && !(d?.kind === "deliver" && d.host === h.facts.name)) {
      ev.outcome.reason ??= hostFailure;
    }
  }
  return walk;
}

function isDaneFailure(r: Reason): boolean {
  return r === "dane-check-failed" || r === "starttls-not-offered" || r === "tls-handshake-failed";
}

/** The DANE state of a domain whose hosts' TLSA the client enforces, from every host (README, "DANE states"). */
function daneStateEnforced(evals: HostEval[], verdict: Verdict): DaneState {
  const withAddr = evals.filter((e) => e.cls !== "no-address");
  if (withAddr.length === 0) {
    if (verdict.action === "bounce") return "no-mail";
    return verdict.reason === "address-lookup-failed" ? "dns-error" : "indeterminate";
  }
  const daneHosts = withAddr.filter((e) => e.cls === "dane");
  const daneResults = daneHosts.flatMap((e) => e.assessments);
  const authenticated = daneResults.some((a) => a.result === "dane-verified");
  const daneFailed = daneResults.some((a) => a.result === "failed" && isDaneFailure(a.reason));
  const has = (c: HostClass) => withAddr.some((e) => e.cls === c);
  if (authenticated) {
    const allDane = daneHosts.length === withAddr.length;
    return allDane && !daneFailed ? "valid" : "partial";
  }
  if (daneFailed) return "invalid";
  if (daneHosts.length > 0) return has("lookup-error") ? "dns-error" : "indeterminate";
  if (has("lookup-error")) return "dns-error";
  if (has("incomplete")) return "indeterminate";
  if (has("tls")) return "unusable-records";
  return "none";
}

function daneState(route: DomainRoute, evals: HostEval[], verdict: Verdict, policy: ClientPolicy): DaneState {
  if (route.kind === "stop") {
    if (route.reason === "resolver-not-validating") return "indeterminate";
    if (route.reason === "mx-lookup-failed") return "dns-error";
    return "no-mail";
  }
  if (verdict.action === "bounce") return "no-mail";
  if (route.mxSecure) return daneStateEnforced(evals, verdict);
  // Insecure MX: DANE does not apply to the domain, unless the policy enforces
  // the hosts' own secure TLSA (rule 32); then it is judged like a secure one,
  // and "none" (no host publishes TLSA) stays "insecure".
  if (policy.insecureMxPolicy !== "dane") return "insecure";
  const state = daneStateEnforced(evals, verdict);
  return state === "none" ? "insecure" : state;
}

function isoTime(now: number): string {
  return Number.isFinite(now) && Math.abs(now) <= 8.64e15 ? new Date(now).toISOString() : "invalid-time";
}

/** The record fields every verdict carries besides its outcome. */
function recordBase(facts: DomainFacts, policy: ClientPolicy, opts: JudgeOptions) {
  const mx = facts.mx;
  const mxOut: JudgedRecord["mx"] = { outcome: mx.outcome, security: mx.security };
  if (mx.error !== undefined) mxOut.error = mx.error;
  return {
    schema: VERDICT_SCHEMA_VERSION,
    domain: facts.domain,
    engine: { version: ENGINE_VERSION, profile: policy.name },
    mx: mxOut,
    probeMode: opts.probeMode ?? "all",
    tld: tldOf(facts.domain),
  };
}

/** Asks `lookup` once per probe key (the ladder, the DANE view and the risks read the same probes). */
function memoProbes(lookup: ProbeLookup): ProbeLookup {
  const seen = new Map<string, ProbeFacts | undefined>();
  return (k) => {
    const key = `${k.ip}|${k.port}|${k.sni}`;
    if (seen.has(key)) return seen.get(key);
    const p = lookup(k);
    seen.set(key, p);
    return p;
  };
}

function judgeUnsafe(facts: DomainFacts, lookup: ProbeLookup, opts: JudgeOptions): VerdictRecord {
  if (!factsShapeOk(facts)) return malformed(facts, opts);
  const probes = memoProbes(lookup);
  const policy = opts.policy ?? defaultPolicy();
  const route = opts.route ?? domainRoute(facts, policy);
  let verdict: Verdict;
  let evals: HostEval[] = [];
  let stateEvals: HostEval[] = [];
  let mxSecure = false;
  if (route.kind === "stop") {
    verdict = { action: route.action, reason: route.reason };
  } else {
    mxSecure = route.mxSecure;
    const ctx: EvalContext = { facts, mxSecure, implicit: route.implicit, policy, probes, now: opts.now };
    evals = route.hosts.map((h) => evaluateHost(h, h.requirement, h.failure, ctx));
    const sameView = route.hosts.every((h) => h.requirement === h.daneRequirement);
    stateEvals = sameView
      ? evals
      : route.hosts.map((h) => evaluateHost(h, h.daneRequirement, h.daneFailure, ctx));
    const walk = walkLadder(evals);
    const decision = walk.decision;
    if (decision?.kind === "deliver") {
      verdict = {
        action: "deliver",
        security: decision.security,
        host: decision.host,
        address: decision.address,
        reason: decision.reason,
      };
    } else if (decision) {
      verdict = { action: "indeterminate", reason: decision.reason };
    } else if (route.hosts.length === 0) {
      // The resolver stage writes one HostFacts per exchange (or the implicit host).
      verdict = { action: "indeterminate", reason: "incomplete-facts" };
    } else if (walk.lastFailure) {
      verdict = { action: "defer", reason: walk.lastFailure };
      if (walk.beyond) verdict.beyondAddressLimit = { limit: policy.mxAddressLimit, ...walk.beyond };
    } else if (evals.some((e) => e.cls !== "no-address")) {
      // Hosts with an address record but no usable address in it (malformed facts).
      verdict = { action: "indeterminate", reason: "incomplete-facts" };
    } else if (evals.some((e) => e.outcome.reason === "address-lookup-failed")) {
      verdict = { action: "defer", reason: "address-lookup-failed" };
    } else {
      verdict = { action: "bounce", reason: "no-address" };
    }
  }
  const dane = daneState(route, stateEvals, verdict, policy);
  const hosts = evals.map((e) => e.outcome);
  const failing = failingHosts({ hosts });
  const risk =
    route.kind === "hosts"
      ? judgeRisks(facts, route.hosts, hosts, mxSecure, policy, probes, opts)
      : undefined;
  const record: JudgedRecord = {
    ...recordBase(facts, policy, opts),
    verdict,
    dane,
    problems: findProblems(facts, dane, stateEvals),
    ...(failing.length > 0 ? { failingHosts: failing } : {}),
    mxSecure,
    hosts,
    judgedAt: isoTime(opts.now),
  };
  if (risk?.consistency) record.consistency = risk.consistency;
  if (risk && risk.latent.length > 0) record.latent = risk.latent;
  record.risks = risk?.risks ?? [];
  const provider = hosts[0] ? registrableDomain(hosts[0].host) : undefined;
  if (provider !== undefined) record.provider = provider;
  if (facts.mtaSts || facts.tlsRpt) {
    const ctx = { now: opts.now, daneAction: verdict.action, ...(opts.trust ? { trust: opts.trust } : {}) };
    Object.assign(record, judgeMailPolicies(facts, route, probes, ctx));
  }
  return { ...record, explanation: explain(record) };
}

/**
 * The risks of rules 37-40 (consistency.ts, risks.ts), attached to the host
 * outcomes: the DANE hosts as DANE sees them (the security level aside).
 */
function judgeRisks(
  facts: DomainFacts,
  route: RouteHost[],
  hosts: HostOutcome[],
  mxSecure: boolean,
  policy: ClientPolicy,
  probes: ProbeLookup,
  opts: JudgeOptions,
) {
  const thresholds: RiskThresholds = { ...DEFAULT_RISK_THRESHOLDS, ...opts.risk };
  const ctx: EvalContext = { facts, mxSecure, implicit: false, policy, probes, now: opts.now };
  const implicit = route.some((h) => h.facts.implicit);
  ctx.implicit = implicit;
  const used: UsedRrset[] = [];
  const riskHosts: RiskHost[] = [];
  for (const h of route) {
    const d = h.decision;
    if (d?.kind !== "dane") continue;
    if (h.daneRequirement === "dane" || h.daneRequirement === "tls") {
      if (!used.some((u) => u.owner === d.tlsa.owner))
        used.push({ owner: d.tlsa.owner, records: d.tlsa.records });
    }
    if (h.daneRequirement !== "dane") continue;
    const dc = daneContext(h, ctx);
    if (!dc) continue;
    riskHosts.push({
      name: h.facts.name,
      tlsa: d.tlsa,
      names: dc.names,
      maxDepth: dc.maxDepth,
      addresses: h.addresses.map((a) => {
        const out: RiskHost["addresses"][number] = {
          address: a.ip,
          probe: probes({ ip: a.ip, port: facts.port, sni: h.sni }),
        };
        // The ladder authenticated this chain already when it judged the host as DANE.
        const seen = hosts.find((x) => x.host === h.facts.name && x.requirement === "dane");
        const auth = seen?.addresses.find((x) => x.address === a.ip)?.auth;
        if (auth?.matched) out.first = { ok: true, matched: auth.matched };
        else if (auth?.failure !== undefined) out.first = { ok: false, failure: auth.failure };
        return out;
      }),
    });
  }
  const consistency = judgeConsistency(facts.consistency, used, {
    now: opts.now,
    rrsigMarginMs: thresholds.rrsigMarginDays * DAY_MS,
  });
  const out = assessRisks({ hosts: riskHosts, consistency, now: opts.now, thresholds });
  for (const h of hosts) {
    const r = out.rollover.get(h.host);
    if (r) h.rolloverRisk = r;
    for (const a of h.addresses) {
      const alt = out.alternates.get(`${h.host}|${a.address}`);
      if (alt) a.alternates = alt;
    }
  }
  return { consistency, latent: out.latent, risks: out.risks };
}

function malformed(facts: DomainFacts, opts: JudgeOptions): VerdictRecord {
  const domain = typeof facts?.domain === "string" ? facts.domain : "";
  const policy = opts?.policy ?? defaultPolicy();
  return {
    schema: VERDICT_SCHEMA_VERSION,
    domain,
    engine: { version: ENGINE_VERSION, profile: policy.name },
    verdict: { action: "indeterminate", reason: "incomplete-facts" },
    dane: "indeterminate",
    problems: [],
    risks: [],
    mxSecure: false,
    mx: { outcome: "error", security: "indeterminate" },
    probeMode: opts?.probeMode ?? "all",
    tld: tldOf(domain),
    hosts: [],
    explanation: `${domain || "(unnamed domain)"}: the facts are malformed and cannot be judged.`,
    judgedAt: isoTime(opts?.now),
  };
}

export function judge(facts: DomainFacts, probes: ProbeLookup, opts: JudgeOptions): VerdictRecord {
  try {
    return judgeUnsafe(facts, probes, opts);
  } catch {
    return malformed(facts, opts);
  }
}
