import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DomainFacts, Lookup, ProbeFacts } from "@danesweep/dane";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AlwaysOffSampler,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { tracingEnabled } from "../src/config.ts";
import { lookupsOf, recordDnsLookups, recordProbePhases } from "../src/spans.ts";
import { activeTraceIds, messageTraceIds, Tracing } from "../src/tracing.ts";

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracing = new Tracing(provider.getTracer("test"), { messagingSystem: "kafka" });
const manager = new AsyncLocalStorageContextManager();

before(() => {
  context.setGlobalContextManager(manager.enable());
});
after(() => {
  context.disable();
});

async function finished(): Promise<ReadableSpan[]> {
  await provider.forceFlush();
  const spans = exporter.getFinishedSpans();
  exporter.reset();
  return spans;
}

function byName(spans: ReadableSpan[], name: string): ReadableSpan {
  const s = spans.filter((x) => x.name === name);
  assert.equal(s.length, 1, `one span ${name}: ${spans.map((x) => x.name).join(", ")}`);
  return s[0]!;
}

describe("tracingEnabled", () => {
  test("on only when an exporter is configured", () => {
    assert.equal(tracingEnabled({}), false);
    assert.equal(tracingEnabled({ OTEL_SERVICE_NAME: "x", OTEL_TRACES_SAMPLER: "always_on" }), false);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }), true);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" }), true);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: "  " }), false);
    assert.equal(tracingEnabled({ OTEL_TRACES_EXPORTER: "console" }), true);
    assert.equal(
      tracingEnabled({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c" }),
      false,
    );
    assert.equal(
      tracingEnabled({ OTEL_SDK_DISABLED: "TRUE", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c" }),
      false,
    );
  });
});

describe("Tracing", () => {
  test("a message's headers carry its sender's context: the consumer's span is the sender's child", async () => {
    const seed = tracing.send("danesweep.domains", "example.org", { "danesweep.scan": "S" });
    const headers = tracing.headers(seed);
    assert.match(headers.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const proc = tracing.process(
      {
        topic: "danesweep.domains",
        key: "example.org",
        headers: { "x-schema": "s", ...headers },
        partition: 3,
        offset: "41",
      },
      { "danesweep.domain": "example.org" },
    );
    const child = tracing.child(proc, "dns lookups");
    child.end();
    proc.end();
    seed.end();
    const spans = await finished();
    const [s, p, c] = ["send danesweep.domains", "process danesweep.domains", "dns lookups"].map((n) =>
      byName(spans, n),
    );
    assert.equal(s!.parentSpanContext, undefined);
    assert.equal(s!.kind, SpanKind.PRODUCER);
    assert.equal(p!.kind, SpanKind.CONSUMER);
    assert.equal(p!.spanContext().traceId, s!.spanContext().traceId);
    assert.equal(p!.parentSpanContext?.spanId, s!.spanContext().spanId);
    assert.equal(c!.parentSpanContext?.spanId, p!.spanContext().spanId);
    assert.deepEqual(
      {
        system: p!.attributes["messaging.system"],
        destination: p!.attributes["messaging.destination.name"],
        operation: p!.attributes["messaging.operation.type"],
        key: p!.attributes["messaging.kafka.message.key"],
        partition: p!.attributes["messaging.destination.partition.id"],
        offset: p!.attributes["messaging.kafka.offset"],
      },
      {
        system: "kafka",
        destination: "danesweep.domains",
        operation: "process",
        key: "example.org",
        partition: "3",
        offset: "41",
      },
    );
    assert.deepEqual(messageTraceIds(headers), {
      trace_id: s!.spanContext().traceId,
      span_id: s!.spanContext().spanId,
    });
  });

  test("no or a malformed traceparent: the consumer's span starts a trace of its own", async () => {
    const a = tracing.process({ topic: "t", key: "k", headers: {} });
    const b = tracing.process({ topic: "t", key: "k", headers: { traceparent: "00-nonsense" } });
    a.end();
    b.end();
    const spans = await finished();
    assert.equal(spans.length, 2);
    for (const s of spans) assert.equal(s.parentSpanContext, undefined);
    assert.notEqual(spans[0]!.spanContext().traceId, spans[1]!.spanContext().traceId);
    assert.equal(messageTraceIds({ traceparent: "00-nonsense" }), undefined);
  });

  test("batch: a root span linked to its items, active while it runs; a failure marks it and is rethrown", async () => {
    const a = tracing.send("t", "a");
    const b = tracing.send("t", "b");
    const links = [a, b].map((s) => tracing.link(tracing.headers(s))!);
    const seen = await tracing.batch(
      "store storeJudged",
      links,
      { "db.operation.batch.size": 2 },
      async () => {
        await new Promise((r) => setTimeout(r, 1));
        // What an instrumented library (pg) does: a span under the active one.
        trace.getTracer("pg").startSpan("pg.query").end();
        return activeTraceIds();
      },
    );
    await assert.rejects(
      tracing.batch("store getProbes", [], {}, async () => {
        throw Object.assign(new Error("down"), { code: "unavailable" });
      }),
      /down/,
    );
    a.end();
    b.end();
    const spans = await finished();
    const batch = byName(spans, "store storeJudged");
    assert.equal(batch.parentSpanContext, undefined);
    assert.deepEqual(
      batch.links.map((l) => l.context.spanId),
      [a, b].map((s) => s.spanContext().spanId),
    );
    assert.equal(seen?.span_id, batch.spanContext().spanId, "the batch span is active inside");
    const failed = byName(spans, "store getProbes");
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.attributes["error.type"], "unavailable");
  });

  test("endOutcome: ack is fine; retry and dead-letter mark the span failed with the reason", async () => {
    tracing.endOutcome(tracing.send("t", "1"), { kind: "ack" });
    tracing.endOutcome(tracing.send("t", "2"), { kind: "retry", reason: "unavailable" });
    tracing.endOutcome(tracing.send("t", "3"), {
      kind: "dead-letter",
      reason: "handler-rejected",
      detail: "bad",
    });
    const spans = await finished();
    const by = new Map(spans.map((s) => [s.attributes["messaging.kafka.message.key"], s]));
    assert.equal(by.get("1")!.status.code, SpanStatusCode.UNSET);
    assert.equal(by.get("2")!.attributes["error.type"], "unavailable");
    assert.equal(by.get("3")!.status.code, SpanStatusCode.ERROR);
    assert.equal(by.get("3")!.status.message, "dead-letter: bad");
  });
});

function probeFacts(o: Partial<ProbeFacts> = {}): ProbeFacts {
  return {
    schema: 1,
    ip: "192.0.2.25",
    port: 25,
    sni: "mx.example.org",
    status: "tls-ok",
    banner: { code: 220, lines: ["mx ESMTP"] },
    ehlo: { verb: "EHLO", code: 250, lines: ["mx", "STARTTLS"], keywords: ["STARTTLS"] },
    starttls: { offered: true, accepted: true, reply: { code: 220, lines: ["go ahead"] } },
    tls: { version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", chain: ["AA=="] },
    timings: { connectMs: 10, bannerMs: 20, ehloMs: 5, starttlsMs: 2.5, tlsMs: 30, totalMs: 70 },
    startedAt: "2026-01-01T00:00:00.100Z",
    ...o,
  };
}

describe("recordProbePhases", () => {
  test("the phases follow each other from startedAt, after the admission wait", async () => {
    const span = tracing.send("t", "probe");
    const requestedAt = Date.parse("2026-01-01T00:00:00.000Z");
    recordProbePhases(tracing, span, probeFacts(), requestedAt);
    span.end();
    const spans = await finished();
    const ms = (s: ReadableSpan, which: "startTime" | "endTime") => s[which][0] * 1000 + s[which][1] / 1e6;
    const t0 = requestedAt;
    const want: [string, number, number][] = [
      ["admission wait", 0, 100],
      ["tcp connect", 100, 110],
      ["smtp banner", 110, 130],
      ["smtp ehlo", 130, 135],
      ["smtp starttls", 135, 137.5],
      ["tls handshake", 137.5, 167.5],
    ];
    for (const [name, from, to] of want) {
      const s = byName(spans, name);
      assert.equal(s.parentSpanContext?.spanId, span.spanContext().spanId, name);
      assert.ok(Math.abs(ms(s, "startTime") - (t0 + from)) < 0.01, `${name} starts at +${from} ms`);
      assert.ok(Math.abs(ms(s, "endTime") - (t0 + to)) < 0.01, `${name} ends at +${to} ms`);
    }
    const probe = byName(spans, "send t");
    assert.equal(probe.attributes["tls.protocol.version"], "TLSv1.3");
    assert.equal(probe.attributes["danesweep.probe.status"], "tls-ok");
    assert.equal(probe.status.code, SpanStatusCode.UNSET);
  });

  test("a probe cut short: only the phases it finished, and the span failed with its status", async () => {
    const span = tracing.send("t", "probe");
    const { tls: _t, starttls: _s, ehlo: _e, ...rest } = probeFacts();
    recordProbePhases(tracing, span, {
      ...rest,
      status: "io-timeout",
      detail: "EHLO: no reply within 30000 ms",
      timings: { connectMs: 10, bannerMs: 20, totalMs: 30_030 },
    });
    span.end();
    const spans = await finished();
    assert.deepEqual(spans.map((s) => s.name).sort(), ["send t", "smtp banner", "tcp connect"]);
    const probe = byName(spans, "send t");
    assert.equal(probe.status.code, SpanStatusCode.ERROR);
    assert.equal(probe.attributes["error.type"], "io-timeout");
  });

  test("a span not sampled gets nothing", async () => {
    const off = new TracerProvider({
      sampler: new AlwaysOffSampler(),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const t = new Tracing(off.getTracer("off"), { messagingSystem: "kafka" });
    const span = t.send("t", "probe");
    assert.equal(span.isRecording(), false);
    recordProbePhases(t, span, probeFacts(), Date.now() - 50);
    span.end();
    await off.forceFlush();
    assert.deepEqual(await finished(), []);
  });
});

function lookup<T>(qname: string, qtype: Lookup<T>["qtype"], o: Partial<Lookup<T>> = {}): Lookup<T> {
  return {
    qname,
    qtype,
    outcome: "answer",
    security: "secure",
    chain: [],
    owner: qname,
    records: [],
    provenance: {
      upstream: "127.0.0.1:53",
      transport: "udp",
      rcode: "NOERROR",
      flags: { aa: false, tc: false, rd: true, ra: true, ad: true, cd: false },
      attempts: 1,
      elapsedMs: 2,
      cached: false,
    },
    ...o,
  };
}

describe("recordDnsLookups", () => {
  test("every lookup counted by outcome and cached, one event each", async () => {
    const cachedProv = { ...lookup("x", "A").provenance!, cached: true };
    const facts = {
      schema: 1,
      domain: "example.org",
      port: 25,
      resolverValidates: true,
      mx: lookup("example.org", "MX", { records: [{ preference: 10, exchange: "mx.example.org" }] }),
      hosts: [
        {
          name: "mx.example.org",
          preference: 10,
          implicit: false,
          a: lookup<string>("mx.example.org", "A", { records: ["192.0.2.25"], provenance: cachedProv }),
          aaaa: lookup<string>("mx.example.org", "AAAA", { outcome: "nodata" }),
          tlsa: [
            lookup("_25._tcp.mx.example.org", "TLSA", {
              outcome: "error",
              error: "timeout",
              security: "indeterminate",
              provenance: { ...lookup("x", "A").provenance!, rcode: "NONE", attempts: 3 },
            }),
          ],
        },
      ],
      limits: [],
      collectedAt: "2026-01-01T00:00:00.000Z",
    } as unknown as DomainFacts;
    assert.equal(lookupsOf(facts).length, 4);
    const span = tracing.send("t", "dns");
    recordDnsLookups(span, facts);
    span.end();
    const [s] = await finished();
    assert.equal(s!.attributes["danesweep.dns.lookups"], 4);
    assert.equal(s!.attributes["danesweep.dns.cached"], 1);
    // Sent: MX 1, AAAA 1, TLSA 3 (the cached A sent none).
    assert.equal(s!.attributes["danesweep.dns.queries_sent"], 5);
    assert.equal(s!.attributes["danesweep.dns.outcome.answer"], 2);
    assert.equal(s!.attributes["danesweep.dns.outcome.nodata"], 1);
    assert.equal(s!.attributes["danesweep.dns.outcome.error.timeout"], 1);
    assert.deepEqual(
      s!.events.map((e) => [e.attributes?.["dns.question.name"], e.attributes?.["dns.question.type"]]),
      [
        ["example.org", "MX"],
        ["mx.example.org", "A"],
        ["mx.example.org", "AAAA"],
        ["_25._tcp.mx.example.org", "TLSA"],
      ],
    );
    assert.equal(s!.events[3]!.attributes?.["error.type"], "timeout");
    // The upstream "127.0.0.1:53" as the semantic conventions have it: address and port apart.
    assert.equal(s!.events[0]!.attributes?.["network.peer.address"], "127.0.0.1");
    assert.equal(s!.events[0]!.attributes?.["network.peer.port"], 53);
  });

  test("an IPv6 upstream: the address without its brackets, the port apart", async () => {
    const facts = {
      schema: 1,
      domain: "example.org",
      port: 25,
      resolverValidates: true,
      mx: lookup("example.org", "MX", {
        provenance: { ...lookup("x", "A").provenance!, upstream: "[2001:db8::53]:5353" },
      }),
      hosts: [],
      limits: [],
      collectedAt: "2026-01-01T00:00:00.000Z",
    } as unknown as DomainFacts;
    const span = tracing.send("t", "dns");
    recordDnsLookups(span, facts);
    span.end();
    const [s] = await finished();
    assert.equal(s!.events[0]!.attributes?.["network.peer.address"], "2001:db8::53");
    assert.equal(s!.events[0]!.attributes?.["network.peer.port"], 5353);
  });
});
