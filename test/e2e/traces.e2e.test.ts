/**
 * Tracing through a real trace backend (Jaeger v2, scripts/services/jaeger.sh):
 *
 * 1. The 24 seed domains through the four services (seeder, resolver, prober,
 *    aggregator) as separate processes on a real Kafka (a broker of this
 *    test's own) and PostgreSQL, exporting OTLP to Jaeger. Read back through
 *    Jaeger's query API: each domain has exactly one trace, rooted at the
 *    seeder's span, with the resolver's span under it, one prober span per
 *    probe the resolver asked for under that, and the aggregator's join
 *    (judge under it) linked to every message of the domain; for
 *    test1.testing, spans of all four services in that parent/child order.
 *    The probe phases and the store batches (with pg's spans under them)
 *    are there too, and the prober's "probe dialed" log lines carry the
 *    trace and span ids of the span they were written in.
 * 2. The embedded scan (`danesweep scan`, one process) exports the same
 *    shape of trace when OTEL_EXPORTER_OTLP_ENDPOINT is set, and nothing
 *    when it is not.
 * 3. The API (`danesweep serve --log`) makes a span per request with the
 *    store's pg queries under it, and its log line carries the trace id.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { sampleValue as sample } from "@danesweep/runtime";
import { seedCases } from "@danesweep/testbed";
import { Deployment, ensureTestbed, type PrivateKafka, privateKafka } from "../faults/harness.ts";
import { freshDatabase, runCli, startCli, TESTBED_SCAN } from "./cli.ts";
import { ensureJaeger, findTraces, getTrace, type JSpan, type JTrace, outline, waitFor } from "./jaeger.ts";

const domains = seedCases().map((c) => c.domain);
const SERVICES = ["seeder", "resolver", "prober", "aggregator"].map((s) => `danesweep-${s}`);

let dir: string;
let kafka: PrivateKafka;
let db: { url: string; drop: () => Promise<void> };
let jaeger: { query: string; otlp: string };

before(async () => {
  ensureTestbed();
  jaeger = ensureJaeger();
  dir = mkdtempSync(join(tmpdir(), "danesweep-traces-"));
  kafka = privateKafka("traces");
  db = await freshDatabase();
});

after(async () => {
  kafka?.down();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** OTLP to the test's Jaeger, exported in small, quick batches. */
function otelEnv(): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlp,
    OTEL_BSP_SCHEDULE_DELAY: "200",
    OTEL_TRACES_SAMPLER: "parentbased_always_on",
  };
}

function one(spans: JSpan[], what: string): JSpan {
  assert.equal(
    spans.length,
    1,
    `exactly one ${what}: ${spans.map((s) => `${s.service}:${s.name}`).join(", ")}`,
  );
  return spans[0]!;
}

/**
 * The domain's judge and join spans are in: the join ends last (after the
 * verdict is stored), so it may reach Jaeger in a later batch than judge.
 */
function joined(t: JTrace): boolean {
  return t.spans.some((s) => s.name === "judge") && t.spans.some((s) => s.name === "join");
}

/** The domain's trace, found by the tags of its root span (the seed). */
async function domainTrace(service: string, scan: string, domain: string, ready: (t: JTrace) => boolean) {
  const found = await waitFor(
    `the trace of ${domain}`,
    async () => {
      const ts = await findTraces(jaeger.query, {
        service,
        tags: { "danesweep.scan": scan, "danesweep.domain": domain },
      });
      if (ts.length !== 1) return ts.length > 1 ? ts : undefined;
      const full = await getTrace(jaeger.query, ts[0]!.traceID);
      return full ? [full] : undefined;
    },
    (ts) => ts.length !== 1 || ready(ts[0]!),
  );
  assert.equal(found.length, 1, `one trace for ${domain} in scan ${scan}, found ${found.length}`);
  return found[0]!;
}

/**
 * The shape every domain's trace has, on either runner: the root is the seed
 * (send danesweep.domains), the resolver's process span its child with the
 * DNS lookups under it, one probe-request span per probe the resolver asked
 * for under the resolver's span, the join under the resolver's or a prober's
 * span and linked to the others, judge under the join; children start after
 * their parents.
 */
function checkShape(t: JTrace, domain: string, svc: (stage: string) => string) {
  const byId = new Map(t.spans.map((s) => [s.spanID, s]));
  const named = (name: string, service: string) =>
    t.spans.filter((s) => s.name === name && s.service === service);
  const seed = one(named("send danesweep.domains", svc("seeder")), `seed span of ${domain}`);
  assert.equal(seed.parent, undefined, "the seed span is the root");
  assert.equal(seed.tags["danesweep.domain"], domain);
  assert.equal(seed.tags["messaging.destination.name"], "danesweep.domains");
  const resolve = one(named("process danesweep.domains", svc("resolver")), `resolver span of ${domain}`);
  assert.equal(resolve.parent, seed.spanID, "the resolver's span is the seed's child");
  assert.equal(resolve.tags["messaging.operation.type"], "process");
  const dns = one(named("dns lookups", svc("resolver")), "DNS span");
  assert.equal(dns.parent, resolve.spanID);
  assert.ok(Number(dns.tags["danesweep.dns.lookups"]) >= 1, "the DNS span counts the lookups");
  const probes = named("process danesweep.probe-requests", svc("prober"));
  assert.equal(
    probes.length,
    Number(resolve.tags["danesweep.probes.requested"]),
    "one span per probe asked for",
  );
  for (const p of probes)
    assert.equal(p.parent, resolve.spanID, "a probe request's span is the resolver's child");
  const joinSpan = one(named("join", svc("aggregator")), `join of ${domain}`);
  const senders = new Set([resolve.spanID, ...probes.map((p) => p.spanID)]);
  assert.ok(
    joinSpan.parent && senders.has(joinSpan.parent),
    "the join's parent sent one of the domain's messages",
  );
  const referenced = new Set([joinSpan.parent, ...joinSpan.links.map((l) => l.spanID)]);
  for (const s of senders) assert.ok(referenced.has(s), "the join refers to every message of the domain");
  const judge = one(named("judge", svc("aggregator")), "judge span");
  assert.equal(judge.parent, joinSpan.spanID);
  assert.equal(typeof judge.tags["danesweep.verdict.action"], "string");
  for (const s of t.spans) {
    const p = s.parent ? byId.get(s.parent) : undefined;
    // 1 ms of slack: the probe phases are placed from the facts' millisecond timestamps.
    if (p) assert.ok(s.start >= p.start - 1000, `${s.name} starts after its parent ${p.name}`);
  }
  return { seed, resolve, probes, join: joinSpan, judge };
}

/** The services' /metrics after the scan: the same names on each, with what this scan did. */
async function checkMetrics(dep: Deployment): Promise<void> {
  const text = async (kind: "resolver" | "prober" | "aggregator") =>
    (await fetch(`http://127.0.0.1:${dep.live(kind)[0]!.httpPort()}/metrics`)).text();
  const [resolver, prober, aggregator] = await Promise.all([
    text("resolver"),
    text("prober"),
    text("aggregator"),
  ]);
  const r = { service: "resolver", topic: "danesweep.domains" };
  assert.equal(sample(resolver, "danesweep_messages_handled_total", { ...r, outcome: "ack" }), 24);
  assert.equal(sample(resolver, "danesweep_stage_duration_seconds_count", { ...r, outcome: "ack" }), 24);
  assert.equal(sample(resolver, "danesweep_domains_resolved_total", { service: "resolver" }), 24);
  assert.ok(
    (sample(resolver, "danesweep_dns_lookups_total", { service: "resolver", outcome: "answer" }) ?? 0) > 0,
  );
  const made = sample(prober, "danesweep_probes_made_total", { service: "prober" }) ?? 0;
  const reused = sample(prober, "danesweep_probes_reused_total", { service: "prober" }) ?? 0;
  const requests = sample(prober, "danesweep_messages_handled_total", {
    service: "prober",
    topic: "danesweep.probe-requests",
    outcome: "ack",
  });
  assert.ok(made > 0);
  assert.equal(made + reused, requests, "every probe request was answered by a probe made or reused");
  assert.equal(sample(aggregator, "danesweep_domains_judged_total", { service: "aggregator" }), 24);
  for (const [svc, t] of [
    ["resolver", resolver],
    ["prober", prober],
    ["aggregator", aggregator],
  ] as const) {
    assert.equal(sample(t, "danesweep_service_ready", { service: svc }), 1);
    assert.ok((sample(t, "process_resident_memory_bytes", { service: svc }) ?? 0) > 0);
  }
}

test("the 24 seed domains through the four services on Kafka: one trace per domain, across processes, in Jaeger", {
  timeout: 420_000,
}, async () => {
  const dep = new Deployment({
    brokers: kafka.bootstrap,
    databaseUrl: db.url,
    logDir: join(dir, "logs"),
    env: otelEnv(),
  });
  const scan = `traces-${randomBytes(5).toString("hex")}`;
  const file = join(dir, "seed.txt");
  writeFileSync(file, `${domains.join("\n")}\n`);
  try {
    await dep.startAll();
    const seeder = dep.start("seeder", { DANESWEEP_SCAN_ID: scan }, [file]);
    const r = await seeder.exited;
    assert.equal(r.code, 0, `the seeder finished the scan\n${dep.tails()}`);
    await checkMetrics(dep);
  } finally {
    // SIGTERM: each service flushes its spans before it exits.
    const stopped = await dep.stop();
    for (const s of stopped) assert.equal(s.code, 0, `${s.name} stopped cleanly: ${s.tail}`);
  }

  const svc = (stage: string) => `danesweep-${stage}`;
  // Every domain: one trace, with the shape above.
  for (const domain of domains) {
    const t = await domainTrace(svc("seeder"), scan, domain, (t) => {
      const resolve = t.spans.find((s) => s.name === "process danesweep.domains");
      const wanted = Number(resolve?.tags["danesweep.probes.requested"] ?? Number.NaN);
      return (
        joined(t) && t.spans.filter((s) => s.name === "process danesweep.probe-requests").length === wanted
      );
    });
    checkShape(t, domain, svc);
    assert.ok(
      t.spans.every(
        (s) => s.tags["messaging.system"] === undefined || s.tags["messaging.system"] === "kafka",
      ),
    );
  }

  // test1.testing: all four services, and the trace as Jaeger returned it.
  const t1 = await domainTrace(svc("seeder"), scan, "test1.testing", () => true);
  const shape = checkShape(t1, "test1.testing", svc);
  assert.deepEqual(new Set(t1.spans.map((s) => s.service)), new Set(SERVICES));
  assert.ok(shape.probes.length >= 1);
  console.log(`trace ${t1.traceID} of test1.testing (scan ${scan}):\n${outline(t1)}`);

  // Probe phases: the probes made carry their phases as child spans.
  const probeTraces = await findTraces(jaeger.query, {
    service: svc("prober"),
    operation: "smtp probe",
    tags: { "danesweep.probe.status": "tls-ok" },
    limit: 200,
  });
  const ours = probeTraces.filter((t) =>
    t.spans.some((s) => s.name === "send danesweep.domains" && s.tags["danesweep.scan"] === scan),
  );
  assert.ok(ours.length > 0, "probes of this scan that reached TLS");
  // That probe's trace, once Jaeger has stored every span of it: a probe's phases may reach
  // it in a later export batch than the probe's span (as the domains' traces above are
  // waited for). The phases are then asserted on the trace as stored.
  const PHASES = ["tcp connect", "smtp banner", "smtp ehlo", "smtp starttls", "tls handshake"];
  const phasesOf = (t: JTrace): string[] => {
    const p = t.spans.find((s) => s.name === "smtp probe");
    return p ? t.spans.filter((s) => s.parent === p.spanID).map((s) => s.name) : [];
  };
  const probeTrace = await waitFor(
    `the phases of probe trace ${ours[0]!.traceID}`,
    () => getTrace(jaeger.query, ours[0]!.traceID),
    (t) => PHASES.every((ph) => phasesOf(t).includes(ph)),
  ).catch(() => ours[0]!);
  const probe = probeTrace.spans.find((s) => s.name === "smtp probe")!;
  const phases = phasesOf(probeTrace);
  for (const phase of PHASES) assert.ok(phases.includes(phase), `phase ${phase} in ${phases.join(", ")}`);
  assert.equal(typeof probe.tags["tls.protocol.version"], "string");
  // Every probe request of the domain was answered by a probe made under it, or says it reused one.
  for (const p of shape.probes) {
    const made = t1.spans.some((s) => s.parent === p.spanID && s.name === "smtp probe");
    assert.ok(made || p.tags["danesweep.probe.reused"] === true, "made here or reused");
    if (!made && p.links.length > 0) {
      const other = await getTrace(jaeger.query, p.links[0]!.traceID);
      assert.ok(
        other?.spans.some((s) => s.spanID === p.links[0]!.spanID && s.name === "smtp probe"),
        "a reused probe links to the span of the probe made for another domain",
      );
    }
  }

  // Store batches: a span per batch, linked to the joins it stored, pg's statements under it.
  const batches = await findTraces(jaeger.query, {
    service: svc("aggregator"),
    operation: "store storeJudged",
    limit: 200,
  });
  const batch = batches
    .flatMap((t) => t.spans)
    .find((s) => s.name === "store storeJudged" && s.links.some((l) => l.spanID === shape.join.spanID));
  assert.ok(batch, "the batch that stored test1.testing links to its join");
  const batchTrace = (await getTrace(jaeger.query, batch.traceID))!;
  const pgSpans = batchTrace.spans.filter((s) => s.parent === batch.spanID && s.name.startsWith("pg.query"));
  assert.ok(pgSpans.length >= 1, "pg's spans under the store batch");
  assert.equal(pgSpans[0]!.tags["db.system.name"] ?? pgSpans[0]!.tags["db.system"], "postgresql");

  // Logs: the prober's "probe dialed" lines were written inside a probe request's span.
  const dialed = dep.workers
    .filter((w) => w.kind === "prober")
    .flatMap((w) => w.lines.filter((l) => l.includes('"msg":"probe dialed"')))
    .map((l) => JSON.parse(l) as { trace_id?: string; span_id?: string });
  assert.ok(dialed.length > 0);
  for (const d of dialed)
    assert.match(d.trace_id ?? "", /^[0-9a-f]{32}$/, "a trace id on every probe dialed line");
  const line = dialed[0]!;
  const lineTrace = await getTrace(jaeger.query, line.trace_id!);
  const at = lineTrace?.spans.find((s) => s.spanID === line.span_id);
  assert.equal(at?.name, "process danesweep.probe-requests", "the log line's span is a probe request's");
  assert.equal(at?.service, svc("prober"));
});

test("the embedded scan exports its spans when OTEL_EXPORTER_OTLP_ENDPOINT is set, and none when not", {
  timeout: 180_000,
}, async () => {
  const service = `danesweep-cli-${randomBytes(4).toString("hex")}`;
  const scanOf = (stderr: string) => /danesweep: scan (\S+) finished/.exec(stderr)?.[1];
  const run = await runCli(
    [
      "scan",
      ...TESTBED_SCAN,
      "--data",
      join(dir, "embedded"),
      "--format",
      "jsonl",
      "test1.testing",
      "test7.testing",
    ],
    { env: { ...otelEnv(), OTEL_SERVICE_NAME: service } },
  );
  assert.equal(run.code, 0, run.stderr);
  const scan = scanOf(run.stderr);
  assert.ok(scan, run.stderr);
  const t = await domainTrace(service, scan, "test1.testing", joined);
  checkShape(t, "test1.testing", () => service);
  assert.equal(
    t.spans.find((s) => s.name === "send danesweep.domains")?.tags["messaging.system"],
    "in-memory",
  );
  console.log(`embedded trace ${t.traceID} of test1.testing (scan ${scan}):\n${outline(t)}`);

  // Without an exporter configured, nothing reaches Jaeger.
  const quiet = `danesweep-cli-${randomBytes(4).toString("hex")}`;
  const off = await runCli(
    ["scan", ...TESTBED_SCAN, "--data", join(dir, "embedded"), "--format", "jsonl", "test1.testing"],
    { env: { OTEL_SERVICE_NAME: quiet, OTEL_EXPORTER_OTLP_ENDPOINT: "" } },
  );
  assert.equal(off.code, 0, off.stderr);
  await new Promise((r) => setTimeout(r, 2000));
  const services = (await (await fetch(`${jaeger.query}/api/services`)).json()) as { data: string[] | null };
  assert.ok(!(services.data ?? []).includes(quiet), "no spans from a scan without an exporter");
});

test("the API traces each request (@fastify/otel), the store's queries under it, and logs its trace id", {
  timeout: 120_000,
}, async () => {
  const data = join(dir, "api");
  const scan = await runCli(["scan", ...TESTBED_SCAN, "--data", data, "--format", "jsonl", "test1.testing"]);
  assert.equal(scan.code, 0, scan.stderr);
  const service = `danesweep-api-${randomBytes(4).toString("hex")}`;
  const serve = startCli(["serve", "--data", data, "--port", "0", "--log"], {
    env: { ...otelEnv(), OTEL_SERVICE_NAME: service },
  });
  let out = "";
  serve.child.stdout!.on("data", (s: Buffer) => {
    out += s.toString();
  });
  try {
    const url = await waitFor(
      "the API to listen",
      async () => /danesweep API on (http:\/\/\S+) /.exec(out)?.[1],
      () => true,
    );
    const r = await fetch(`${url}/v1/domains/test1.testing`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    const t = await waitFor(
      "the request's trace",
      async () => (await findTraces(jaeger.query, { service, operation: "request" }))[0],
      (t) => t.spans.some((s) => s.name.startsWith("pg.query")),
    );
    const request = one(
      t.spans.filter((s) => s.name === "request"),
      "request span",
    );
    assert.equal(request.parent, undefined);
    assert.equal(request.tags["http.request.method"], "GET");
    assert.equal(request.tags["http.response.status_code"], 200);
    const byId = new Map(t.spans.map((s) => [s.spanID, s]));
    const under = (s: JSpan, root: JSpan): boolean => {
      for (
        let p = s.parent ? byId.get(s.parent) : undefined;
        p;
        p = p.parent ? byId.get(p.parent) : undefined
      )
        if (p.spanID === root.spanID) return true;
      return false;
    };
    const queries = t.spans.filter((s) => s.name.startsWith("pg.query"));
    assert.ok(
      queries.length > 0 && queries.every((q) => under(q, request)),
      "the store's queries under the request",
    );
    assert.ok(
      t.spans.some((s) => s.name.startsWith("handler - v1Routes")),
      "the handler span names the routes plugin",
    );
    console.log(`API trace ${t.traceID}:\n${outline(t)}`);
    // The log line of the request's completion carries its trace.
    serve.child.kill("SIGTERM");
    const done = await serve.done;
    const completed = done.stderr
      .split("\n")
      .filter((l) => l.includes('"msg":"request completed"'))
      .map((l) => JSON.parse(l) as { trace_id?: string; service?: string });
    assert.ok(
      completed.some((l) => l.trace_id === t.traceID && l.service === "api"),
      done.stderr.slice(-2000),
    );
  } finally {
    serve.child.kill("SIGKILL");
  }
});
