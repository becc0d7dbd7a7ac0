/**
 * The RFC 7672 decision ladder: facts in, verdict record out
 * (rfc7672-rules.md sections A-C and F, rules 1-18 and 28-30). Pure: no I/O,
 * no clock reads; `opts.now` is the time.
 *
 * Contract of `judge(facts, probes, opts)`:
 * - Walks the route of domainRoute() (probe-targets.ts): hosts by preference
 *   (equal preferences by name), each host's addresses A then AAAA; each
 *   address is a try, and a failure moves to the next address, then the next
 *   host (rule 29).
 * - Per address, the probe facts found with `probes({ ip, port, sni })` are
 *   read through the table of rule 28 for the host's requirement.
 * - The verdict is the first address that accepts the message, or the stop
 *   where the facts run out (indeterminate: not-probed, policy-refused,
 *   incomplete-facts), or defer with the reason of the last failure, or a
 *   domain-level stop (resolver not validating, MX error, NXDOMAIN, null MX,
 *   no address).
 * - Every address of every host is assessed, including those after the
 *   decision (kept as `assessed` beside result "not-tried"); the DANE state
 *   (libs/dane/README.md) is computed from all of them.
 * - Never throws: facts that break the engine (malformed input) give action
 *   "indeterminate", reason "incomplete-facts".
 */
import { type AuthFailure, authenticate } from "./auth.ts";
import { explain } from "./explain.ts";
import type { DomainFacts, ProbeFacts, ProbeKey, ProbeStatus, TlsaRecord } from "./facts.ts";
import { type DomainRoute, domainRoute, factsShapeOk, type RouteHost } from "./probe-targets.ts";
import { tlsaUsability } from "./tlsa.ts";
import { referenceAddressLookup } from "./tlsa-base.ts";
import {
  type AddressOutcome,
  type DaneState,
  type DeliverySecurity,
  type HostOutcome,
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
}

export type ProbeLookup = (key: ProbeKey) => ProbeFacts | undefined;

/** Statuses after which the address could not be talked to at all (rule 29: try the next). */
const CONNECTION_FAILURES: ReadonlySet<ProbeStatus> = new Set<ProbeStatus>([
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

type AssessedResult = DeliverySecurity | "failed" | "not-probed" | "policy-refused";

interface Assessment {
  result: AssessedResult;
  reason: Reason;
  probe?: AddressOutcome["probe"];
  auth?: AddressOutcome["auth"];
}

interface DaneContext {
  records: TlsaRecord[];
  names: string[];
  now: number;
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
  const r = authenticate({ records: dane.records, chain: probe.tls.chain, names: dane.names, now: dane.now });
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

/** Reference identifiers for DANE-TA (rule 27): the base, and with a secure MX the next-hop domain and MX owner. */
function authNames(base: string, facts: DomainFacts, mxSecure: boolean): string[] {
  const names = [base];
  if (mxSecure) {
    names.push(facts.domain);
    if (facts.mx.outcome === "answer") names.push(facts.mx.owner);
  }
  return [...new Set(names)];
}

/** How a host counts for the DANE state (README, "DANE states"). */
type HostClass = "dane" | "tls" | "no-tlsa" | "lookup-error" | "incomplete" | "no-address";

interface HostEval {
  route: RouteHost;
  outcome: HostOutcome;
  assessments: Assessment[];
  cls: HostClass;
}

function evaluateHost(
  h: RouteHost,
  facts: DomainFacts,
  mxSecure: boolean,
  probes: ProbeLookup,
  now: number,
): HostEval {
  const d = h.decision;
  const ref = referenceAddressLookup(h.facts);
  const outcome: HostOutcome = {
    host: h.facts.name,
    preference: h.facts.preference,
    implicit: h.facts.implicit,
    addressSecurity: d?.addressSecurity ?? ref?.security ?? "indeterminate",
    tlsaBaseWhy: d?.why ?? "incomplete-facts",
    requirement: h.requirement === "skip" || h.requirement === "incomplete" ? "unusable" : h.requirement,
    addresses: [],
  };
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
  const key = (ip: string) => ({ ip, port: facts.port, sni: h.sni });

  switch (h.requirement) {
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
      cls = "lookup-error";
      const reason: Reason = d?.why === "cname-lookup-error" ? "cname-lookup-failed" : "tlsa-lookup-failed";
      outcome.reason = reason;
      for (const _ of h.addresses) assessments.push({ result: "failed", reason });
      break;
    }
    default: {
      const req = h.requirement;
      cls = !mxSecure || req === "opportunistic" ? "no-tlsa" : req;
      const dane: DaneContext | undefined =
        req === "dane" && d?.kind === "dane"
          ? { records: d.tlsa.records, names: authNames(d.base, facts, mxSecure), now }
          : undefined;
      for (const a of h.addresses) assessments.push(assessAddress(req, probes(key(a.ip)), dane));
      // Rule 11: the RFC outcome is opportunistic, but record whether the host's own
      // secure, usable TLSA would have authenticated what it presented.
      if (!mxSecure && d?.kind === "dane" && outcome.tlsa?.some((t) => t.usable)) {
        const ctx: DaneContext = { records: d.tlsa.records, names: authNames(d.base, facts, false), now };
        let would: boolean | undefined;
        for (const a of h.addresses) {
          const x = assessAddress("dane", probes(key(a.ip)), ctx);
          if (x.result === "dane-verified") would = true;
          else if (x.result === "failed" && x.reason !== "connection-failed" && would === undefined)
            would = false;
        }
        if (would !== undefined) outcome.wouldAuthenticate = would;
      }
    }
  }
  return { route: h, outcome, assessments, cls };
}

type Decision =
  | { kind: "deliver"; host: string; address: string; security: DeliverySecurity; reason: Reason }
  | { kind: "indeterminate"; reason: Reason };

function walkLadder(evals: HostEval[]): { decision: Decision | undefined; lastFailure: Reason | undefined } {
  let decision: Decision | undefined;
  let lastFailure: Reason | undefined;
  for (const ev of evals) {
    const h = ev.route;
    let hostFailure: Reason | undefined;
    h.addresses.forEach((a, i) => {
      const x = ev.assessments[i]!;
      const out: AddressOutcome = { address: a.ip, family: a.family, security: a.security, result: x.result };
      if (x.probe) out.probe = x.probe;
      if (x.auth) out.auth = x.auth;
      if (decision) {
        out.result = "not-tried";
        out.assessed = { result: x.result, reason: x.reason };
      } else {
        out.reason = x.reason;
        if (x.result === "failed") {
          hostFailure = x.reason;
          lastFailure = x.reason;
        } else if (x.result === "not-probed" || x.result === "policy-refused") {
          decision = { kind: "indeterminate", reason: x.reason };
        } else {
          decision = {
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
    if (hostFailure && !(decision?.kind === "deliver" && decision.host === h.facts.name)) {
      ev.outcome.reason ??= hostFailure;
    }
  }
  return { decision, lastFailure };
}

function isDaneFailure(r: Reason): boolean {
  return r === "dane-check-failed" || r === "starttls-not-offered" || r === "tls-handshake-failed";
}

/** The DANE state of a domain whose MX RRset is secure, from every host (README, "DANE states"). */
function daneStateSecure(evals: HostEval[], verdict: Verdict): DaneState {
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

function daneState(route: DomainRoute, evals: HostEval[], verdict: Verdict): DaneState {
  if (route.kind === "stop") {
    if (route.reason === "resolver-not-validating") return "indeterminate";
    if (route.reason === "mx-lookup-failed") return "dns-error";
    return "no-mail";
  }
  if (verdict.action === "bounce") return "no-mail";
  if (!route.mxSecure) return "insecure";
  return daneStateSecure(evals, verdict);
}

function isoTime(now: number): string {
  return Number.isFinite(now) && Math.abs(now) <= 8.64e15 ? new Date(now).toISOString() : "invalid-time";
}

function judgeUnsafe(facts: DomainFacts, probes: ProbeLookup, opts: JudgeOptions): VerdictRecord {
  if (!factsShapeOk(facts)) return malformed(facts, opts);
  const route = domainRoute(facts);
  let verdict: Verdict;
  let evals: HostEval[] = [];
  let mxSecure = false;
  if (route.kind === "stop") {
    verdict = { action: route.action, reason: route.reason };
  } else {
    mxSecure = route.mxSecure;
    evals = route.hosts.map((h) => evaluateHost(h, facts, route.mxSecure, probes, opts.now));
    const { decision, lastFailure } = walkLadder(evals);
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
    } else if (lastFailure) {
      verdict = { action: "defer", reason: lastFailure };
    } else if (evals.some((e) => e.cls !== "no-address")) {
      // Hosts with an address record but no usable address in it (malformed facts).
      verdict = { action: "indeterminate", reason: "incomplete-facts" };
    } else if (evals.some((e) => e.outcome.reason === "address-lookup-failed")) {
      verdict = { action: "defer", reason: "address-lookup-failed" };
    } else {
      verdict = { action: "bounce", reason: "no-address" };
    }
  }
  const record: Omit<VerdictRecord, "explanation"> = {
    schema: VERDICT_SCHEMA_VERSION,
    domain: facts.domain,
    verdict,
    dane: daneState(route, evals, verdict),
    mxSecure,
    hosts: evals.map((e) => e.outcome),
    judgedAt: isoTime(opts.now),
  };
  return { ...record, explanation: explain(record, facts, { probeMode: opts.probeMode ?? "all" }) };
}

function malformed(facts: DomainFacts, opts: JudgeOptions): VerdictRecord {
  const domain = typeof facts?.domain === "string" ? facts.domain : "";
  return {
    schema: VERDICT_SCHEMA_VERSION,
    domain,
    verdict: { action: "indeterminate", reason: "incomplete-facts" },
    dane: "indeterminate",
    mxSecure: false,
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
