/**
 * The MTA-STS judgement beside the DANE verdict (docs/rules.md section J,
 * rules 41-48): what a sender that applies MTA-STS and not DANE would do with
 * the domain's mail, and where MTA-STS, the MX set, TLS-RPT and DANE
 * contradict one another. Pure: the trust store and the time are arguments.
 *
 * Contract of `judgeMailPolicies(facts, route, probes, ctx)` (judge.ts calls it):
 * - `tlsRpt` when the facts hold the `_smtp._tls` lookup: tlsRptRecord (rule 44).
 * - `mtaSts` when the facts hold the `_mta-sts` lookup:
 *   - `policy`: how a sender finds the policy (rules 41, 42, 45, in this
 *     order): the record (stsRecord), the policy host's addresses, the fetch
 *     (`probes` at policyFetchTarget's key: its status, then WebPKI of the
 *     policy host's chain for its name, then HTTP 200, text/plain, the size
 *     cap, the policy's grammar);
 *   - with a valid policy in mode testing or enforce: `hosts` (every host of
 *     the route with an address: the first mx pattern covering it, and its
 *     certificate's WebPKI state for its name, read at the first address
 *     whose probe completed a handshake) and `outcome` (rule 47): the route's
 *     hosts in order, uncovered hosts skipped, each covered address within
 *     the client's address limit tried: "webpki-verified" delivers; a missing
 *     probe or a policy refusal stops with indeterminate; STARTTLS missing,
 *     a failed handshake, an invalid certificate or a connection failure moves
 *     on; with nothing left, defer with the last failure, or "no-mx-covered"
 *     when no covered host had an address to try;
 *   - `contradictions` (rule 48), in MTA_STS_CONTRADICTIONS order.
 *   The MX probes used are the DANE probes (same key: the host's SNI is its
 *   TLSA base domain when it has secure TLSA, else its name).
 * Never throws on facts judge() accepts.
 */
import { type TrustStore, verifyWebPki, WEBPKI_FAILURES } from "./auth.ts";
import { CONNECTION_FAILURES, type DomainFacts, type ProbeFacts, type ProbeKey } from "./facts.ts";
import {
  mxPatternMatch,
  parseStsPolicy,
  policyFetchTarget,
  STS_POLICY_PATH,
  stsRecord,
  tlsRptRecord,
} from "./mta-sts.ts";
import type { DomainRoute, RouteHost } from "./probe-targets.ts";
import type {
  Action,
  MtaStsContradiction,
  MtaStsHost,
  MtaStsJudgement,
  MtaStsPolicyResult,
  MtaStsReason,
  MxWebPkiState,
  TlsRptJudgement,
} from "./verdict-types.ts";
import { MTA_STS_CONTRADICTIONS } from "./verdict-types.ts";

type ProbeLookup = (key: ProbeKey) => ProbeFacts | undefined;

export interface MailPolicyContext {
  now: number;
  trust?: TrustStore;
  /** The DANE verdict's action (for the contradictions). */
  daneAction: Action;
}

/** Policy results that mean the domain announces a policy nobody can have. */
const UNAVAILABLE: ReadonlySet<MtaStsPolicyResult> = new Set<MtaStsPolicyResult>([
  "host-lookup-failed",
  "host-no-address",
  "fetch-failed",
  "host-certificate-invalid",
  "http-status",
  "content-type",
  "too-large",
  "policy-invalid",
]);

/** text/plain, with or without parameters (RFC 8461 §3.2: the media type is text/plain). */
function isTextPlain(contentType: string | undefined): boolean {
  return typeof contentType === "string" && /^\s*text\/plain\s*(;|$)/i.test(contentType);
}

type PolicyFound = Pick<MtaStsJudgement, "policy" | "detail" | "id" | "mode" | "maxAge" | "mx" | "fetch">;

function findPolicy(facts: DomainFacts, probes: ProbeLookup, ctx: MailPolicyContext): PolicyFound {
  const sts = facts.mtaSts!;
  const rec = stsRecord(sts.txt);
  if (rec.state === "none") return { policy: "no-record" };
  if (rec.state === "lookup-failed")
    return { policy: "record-lookup-failed", detail: sts.txt.error ?? "error" };
  if (rec.state === "invalid") return { policy: "record-invalid", detail: rec.detail };
  const out: PolicyFound = { policy: "not-fetched", id: rec.id };
  const host = sts.host;
  if (!host) return out;
  const target = policyFetchTarget(facts);
  if (!target) {
    const failedBoth = host.a.outcome === "error" && host.aaaa.outcome === "error";
    return { ...out, policy: failedBoth ? "host-lookup-failed" : "host-no-address" };
  }
  const p: ProbeFacts | undefined = probes({ ip: target.ip, port: target.port, sni: target.sni });
  if (p?.kind !== "mta-sts-policy") return out;
  out.fetch = { ip: p.ip, port: p.port, sni: p.sni, status: p.status };
  if (p.http) out.fetch.httpStatus = p.http.status;
  if (p.status === "policy-private-address" || p.status === "policy-opt-out") {
    return { ...out, policy: "fetch-refused", detail: p.status };
  }
  if (p.status === "internal-error") return { ...out, detail: "the prober failed" };
  if (p.status !== "http-response" || !p.http || !p.tls) {
    return { ...out, policy: "fetch-failed", detail: p.detail ? `${p.status}: ${p.detail}` : p.status };
  }
  if (!ctx.trust) return { ...out, policy: "not-validated" };
  const w = verifyWebPki({ chain: p.tls.chain, name: host.name, store: ctx.trust, now: ctx.now });
  if (!w.ok) return { ...out, policy: "host-certificate-invalid", detail: `${w.failure}: ${w.detail}` };
  const h = p.http;
  if (h.status !== 200) {
    const where = h.location ? ` (redirect to ${h.location}, not followed)` : "";
    return { ...out, policy: "http-status", detail: `GET ${STS_POLICY_PATH}: ${h.status}${where}` };
  }
  if (!isTextPlain(h.contentType)) {
    return { ...out, policy: "content-type", detail: `Content-Type ${JSON.stringify(h.contentType ?? "")}` };
  }
  if (h.truncated) return { ...out, policy: "too-large", detail: `more than ${h.bodyBytes - 1} bytes` };
  const parsed = parseStsPolicy(h.body ?? "");
  if (!parsed.ok) return { ...out, policy: "policy-invalid", detail: parsed.detail };
  return {
    ...out,
    policy: "valid",
    mode: parsed.policy.mode,
    maxAge: parsed.policy.maxAge,
    mx: parsed.policy.mx,
  };
}

type AddressTry =
  | { kind: "verified" }
  | { kind: "stop"; reason: Extract<MtaStsReason, "not-probed" | "policy-refused"> }
  | {
      kind: "failed";
      reason: Extract<
        MtaStsReason,
        "starttls-not-offered" | "tls-handshake-failed" | "certificate-invalid" | "connection-failed"
      >;
    };

interface HostView {
  route: RouteHost;
  covered: boolean;
  summary: MtaStsHost;
  tries: AddressTry[];
}

/** One MX host as an MTA-STS sender sees it: each address's try, and the host's certificate summary. */
function viewHost(
  h: RouteHost,
  patterns: string[],
  facts: DomainFacts,
  probes: ProbeLookup,
  trust: TrustStore,
  now: number,
): HostView {
  const name = h.facts.name;
  const pattern = mxPatternMatch(patterns, name);
  const summary: MtaStsHost = { host: name, webpki: "not-probed" };
  if (pattern !== undefined) summary.pattern = pattern;
  const tries: AddressTry[] = [];
  let sawTlsFailure = false;
  let sawConnection = false;
  let judged = false;
  for (const a of h.addresses) {
    const p = probes({ ip: a.ip, port: facts.port, sni: h.sni });
    let t: AddressTry;
    if (!p || p.kind === "mta-sts-policy" || p.status === "internal-error")
      t = { kind: "stop", reason: "not-probed" };
    else if (p.status === "policy-private-address" || p.status === "policy-opt-out")
      t = { kind: "stop", reason: "policy-refused" };
    else if (CONNECTION_FAILURES.has(p.status)) {
      t = { kind: "failed", reason: "connection-failed" };
      sawConnection = true;
    } else if (p.status === "starttls-not-offered" || p.status === "starttls-refused") {
      t = { kind: "failed", reason: "starttls-not-offered" };
      sawTlsFailure = true;
    } else if (p.status === "tls-handshake-failed" || p.status === "tls-timeout" || !p.tls) {
      t = { kind: "failed", reason: "tls-handshake-failed" };
      sawTlsFailure = true;
    } else {
      const w = verifyWebPki({ chain: p.tls.chain, name, store: trust, now });
      t = w.ok ? { kind: "verified" } : { kind: "failed", reason: "certificate-invalid" };
      if (!judged) {
        judged = true;
        summary.webpki = w.ok ? "valid" : w.failure;
        summary.address = a.ip;
        if (!w.ok) summary.detail = w.detail;
      }
    }
    tries.push(t);
  }
  if (!judged) summary.webpki = sawTlsFailure ? "no-tls" : sawConnection ? "unreachable" : "not-probed";
  return { route: h, covered: pattern !== undefined, summary, tries };
}

/** MX certificate states that are a WebPKI failure (not a missing certificate). */
const CERT_FAILURES: ReadonlySet<MxWebPkiState> = new Set<MxWebPkiState>(WEBPKI_FAILURES);

function outcomeOf(route: DomainRoute, views: HostView[]): NonNullable<MtaStsJudgement["outcome"]> {
  if (route.kind === "stop") {
    if (route.reason === "resolver-not-validating")
      return { action: "indeterminate", reason: "resolver-not-validating" };
    if (route.reason === "mx-lookup-failed") return { action: "defer", reason: "mx-lookup-failed" };
    return { action: "bounce", reason: "no-mail" };
  }
  if (views.length === 0) return { action: "bounce", reason: "no-mail" };
  let last: MtaStsReason | undefined;
  for (const v of views) {
    if (!v.covered) continue;
    for (const [i, a] of v.route.addresses.entries()) {
      if (a.beyondLimit) continue;
      const t = v.tries[i]!;
      if (t.kind === "verified")
        return { action: "deliver", host: v.route.facts.name, address: a.ip, reason: "webpki-verified" };
      if (t.kind === "stop") return { action: "indeterminate", reason: t.reason };
      last = t.reason;
    }
  }
  return { action: "defer", reason: last ?? "no-mx-covered" };
}

export function judgeMailPolicies(
  facts: DomainFacts,
  route: DomainRoute,
  probes: ProbeLookup,
  ctx: MailPolicyContext,
): { mtaSts?: MtaStsJudgement; tlsRpt?: TlsRptJudgement } {
  const out: { mtaSts?: MtaStsJudgement; tlsRpt?: TlsRptJudgement } = {};
  if (facts.tlsRpt) {
    const r = tlsRptRecord(facts.tlsRpt);
    const j: TlsRptJudgement = { state: r.state };
    if (r.state === "valid") j.rua = r.rua;
    if (r.state === "invalid") j.detail = r.detail;
    out.tlsRpt = j;
  }
  if (!facts.mtaSts) return out;
  const found = findPolicy(facts, probes, ctx);
  const j: MtaStsJudgement = { ...found, contradictions: [] };
  if (ctx.trust) j.trust = ctx.trust.name;
  const seen = new Set<MtaStsContradiction>();
  if (found.id !== undefined && UNAVAILABLE.has(found.policy)) seen.add("policy-unavailable");
  // A valid policy implies a trust store: the policy host's certificate was judged with it.
  const trust = ctx.trust;
  if (found.policy === "valid" && trust && (found.mode === "enforce" || found.mode === "testing")) {
    const views =
      route.kind === "hosts"
        ? route.hosts
            .filter((h) => h.requirement !== "skip" && h.addresses.length > 0)
            .map((h) => viewHost(h, found.mx ?? [], facts, probes, trust, ctx.now))
        : [];
    j.hosts = views.map((v) => v.summary);
    j.outcome = outcomeOf(route, views);
    if (views.some((v) => !v.covered)) seen.add("mx-not-covered");
    if (found.mode === "enforce") {
      const covered = views.filter((v) => v.covered);
      if (covered.some((v) => v.summary.webpki === "no-tls")) seen.add("enforce-no-tls");
      if (covered.some((v) => CERT_FAILURES.has(v.summary.webpki))) seen.add("enforce-certificate-invalid");
      if (j.outcome.action === "defer" && ctx.daneAction === "deliver")
        seen.add("dane-delivers-mta-sts-defers");
      if (j.outcome.action === "deliver" && ctx.daneAction === "defer")
        seen.add("mta-sts-delivers-dane-defers");
    } else if (out.tlsRpt?.state === "none" || out.tlsRpt?.state === "invalid") {
      seen.add("testing-without-tls-rpt");
    }
  }
  j.contradictions = MTA_STS_CONTRADICTIONS.filter((c) => seen.has(c));
  out.mtaSts = j;
  return out;
}
