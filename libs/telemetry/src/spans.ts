/**
 * Spans made from facts, so that libs/dns and libs/probe need no tracing
 * code (and cost nothing when tracing is off):
 *
 * - `lookupsOf(facts)`: every DNS lookup of a domain's facts (MX, the
 *   first-link CNAME queries, each host's A, AAAA and TLSA, then the MTA-STS
 *   TXT and policy host's A and AAAA and the TLS-RPT TXT when collected), in
 *   plan order.
 * - `recordDnsLookups(span, facts)`: the DNS lookups of a domain summarised
 *   on the span that covered collecting them: counts by outcome, cached,
 *   attempts, and one event per lookup (name, type, outcome, security,
 *   rcode, upstream, elapsed ms). A survey makes ~10 lookups a domain:
 *   events keep them in the domain's trace without a span each.
 * - `recordProbePhases(tracing, span, facts)`: the phases of one SMTP probe
 *   or MTA-STS policy fetch (waiting for admission under the per-IP limits
 *   when `requestedAt` is given, TCP connect, banner, EHLO, STARTTLS, TLS
 *   handshake: those the probe went through) as child spans of the probe's
 *   span, placed from the facts' own clock (`startedAt` and the phase
 *   timings, which follow each other), plus the probe's outcome as
 *   attributes (network.peer.*, tls.*, danesweep.probe.status and .kind,
 *   http.response.status_code for a fetch). The phase
 *   that did not finish (a timeout, a reset) is not in the timings: the
 *   probe span carries the status.
 * Both do nothing on a span that is not recording (not sampled).
 */
import type { DomainFacts, Lookup, ProbeFacts, ProbeStatus } from "@danesweep/dane";
import { type Attributes, type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { ATTR } from "./semconv.ts";
import type { Tracing } from "./tracing.ts";

export function lookupsOf(facts: DomainFacts): Lookup<unknown>[] {
  const out: Lookup<unknown>[] = [facts.mx];
  if (facts.mxFirstLink) out.push(facts.mxFirstLink);
  for (const h of facts.hosts) {
    out.push(h.a, h.aaaa);
    if (h.firstLink) out.push(h.firstLink);
    for (const t of h.tlsa) out.push(t);
  }
  if (facts.mtaSts) {
    out.push(facts.mtaSts.txt);
    if (facts.mtaSts.host) out.push(facts.mtaSts.host.a, facts.mtaSts.host.aaaa);
  }
  if (facts.tlsRpt) out.push(facts.tlsRpt);
  return out;
}

export function recordDnsLookups(span: Span, facts: DomainFacts): void {
  if (!span.isRecording()) return;
  const lookups = lookupsOf(facts);
  const outcomes: Record<string, number> = {};
  let cached = 0;
  let attempts = 0;
  for (const l of lookups) {
    const tag = l.outcome === "error" ? `error.${l.error ?? "other"}` : l.outcome;
    outcomes[tag] = (outcomes[tag] ?? 0) + 1;
    const p = l.provenance;
    if (p?.cached) cached++;
    else if (p) attempts += p.attempts;
    const ev: Attributes = {
      [ATTR.dnsQuestionName]: l.qname,
      "dns.question.type": l.qtype,
      "danesweep.dns.outcome": l.outcome,
      "danesweep.dns.security": l.security,
    };
    if (l.error) ev[ATTR.errorType] = l.error;
    if (p) {
      ev["dns.response_code"] = p.rcode;
      ev["danesweep.dns.cached"] = p.cached;
      ev["danesweep.dns.elapsed_ms"] = p.elapsedMs;
      ev["danesweep.dns.attempts"] = p.attempts;
      // The provenance names its upstream as "127.0.0.1:53" or "[::1]:53" (libs/dns parseUpstream's key).
      const peer = /^\[?([^\]]*?)\]?:(\d+)$/.exec(p.upstream);
      ev[ATTR.networkPeerAddress] = peer ? (peer[1] as string) : p.upstream;
      if (peer) ev[ATTR.networkPeerPort] = Number(peer[2]);
      ev[ATTR.networkTransport] = p.transport;
    }
    span.addEvent("dns lookup", ev);
  }
  const a: Attributes = {
    "danesweep.dns.lookups": lookups.length,
    "danesweep.dns.cached": cached,
    "danesweep.dns.queries_sent": attempts,
    "danesweep.dns.mx_hosts": facts.hosts.length,
  };
  for (const [k, n] of Object.entries(outcomes)) a[`danesweep.dns.outcome.${k}`] = n;
  if (facts.limits.length > 0) a["danesweep.dns.limits"] = facts.limits;
  span.setAttributes(a);
}

/** Probe statuses that are answers about the server, not failures to probe it. */
const ANSWERED: ReadonlySet<ProbeStatus> = new Set<ProbeStatus>([
  "tls-ok",
  "starttls-not-offered",
  "starttls-refused",
  "banner-rejected",
  "ehlo-failed",
  "policy-private-address",
  "policy-opt-out",
  "http-response",
]);

export function recordProbePhases(
  tracing: Tracing,
  span: Span,
  facts: ProbeFacts,
  requestedAt?: number,
): void {
  if (!span.isRecording()) return;
  const a: Attributes = {
    [ATTR.probeStatus]: facts.status,
    [ATTR.networkPeerAddress]: facts.ip,
    [ATTR.networkPeerPort]: facts.port,
    [ATTR.networkTransport]: "tcp",
    [ATTR.tlsServerName]: facts.sni,
    "danesweep.probe.total_ms": facts.timings.totalMs,
  };
  if (facts.tls) {
    a[ATTR.tlsProtocolVersion] = facts.tls.version;
    a[ATTR.tlsCipher] = facts.tls.cipher;
    a["danesweep.tls.chain_length"] = facts.tls.chain.length;
  }
  if (facts.kind) a["danesweep.probe.kind"] = facts.kind;
  if (facts.http) a["http.response.status_code"] = facts.http.status;
  if (facts.io) {
    a["danesweep.probe.bytes_read"] = facts.io.bytesRead;
    a["danesweep.probe.bytes_written"] = facts.io.bytesWritten;
  }
  span.setAttributes(a);
  if (!ANSWERED.has(facts.status)) {
    span.setAttribute(ATTR.errorType, facts.status);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (facts.detail ?? facts.status).slice(0, 300) });
  }
  const t = facts.timings;
  let at = Date.parse(facts.startedAt);
  if (!Number.isFinite(at)) return;
  if (requestedAt !== undefined && at - requestedAt >= 2) {
    // Waiting for the per-IP token bucket and connection slots (the politeness limits); startedAt
    // has millisecond precision, so a wait under 2 ms is not told apart from none.
    tracing.child(span, "admission wait", {}, { startTime: requestedAt }).end(at);
  }
  const phases: [string, number | undefined, Attributes][] = [
    ["tcp connect", t.connectMs, { [ATTR.networkPeerAddress]: facts.ip, [ATTR.networkPeerPort]: facts.port }],
    ["smtp banner", t.bannerMs, facts.banner ? { "smtp.reply.code": facts.banner.code } : {}],
    [
      facts.ehlo?.verb === "HELO" ? "smtp helo" : "smtp ehlo",
      t.ehloMs,
      facts.ehlo ? { "smtp.reply.code": facts.ehlo.code } : {},
    ],
    [
      "smtp starttls",
      t.starttlsMs,
      facts.starttls?.reply ? { "smtp.reply.code": facts.starttls.reply.code } : {},
    ],
    ["tls handshake", t.tlsMs, facts.tls ? { [ATTR.tlsProtocolVersion]: facts.tls.version } : {}],
  ];
  for (const [name, ms, attrs] of phases) {
    if (ms === undefined) continue;
    const phase = tracing.child(span, name, attrs, { kind: SpanKind.CLIENT, startTime: at });
    at += ms;
    phase.end(at);
  }
}
