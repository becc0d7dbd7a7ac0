/**
 * The pipeline dashboard's metrics exist in the services as they run: the
 * resolver, prober and aggregator as separate processes (test/faults
 * harness.ts) on a Kafka broker of this test's own (port 29692) and a fresh
 * PostgreSQL database, the 24 seed domains scanned through them with
 * `danesweep scan --kafka`; then each service's /metrics is read, and every
 * metric of metrics.ts (the one list the dashboard's queries are built from,
 * and which dashboards.test.ts checks they use nothing outside of) must have
 * samples in each service it names, carrying the labels the queries group
 * by. Needs the test universe up (the validating Unbound at 127.53.53.53 and
 * the SMTP test servers); it does not start it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SEED_CASES } from "@danesweep/dane";
import { freshDatabase } from "../../../test/e2e/cli.ts";
import {
  Deployment,
  type PrivateKafka,
  privateKafka,
  startKafkaScan,
  type Worker,
} from "../../../test/faults/harness.ts";
import { METRICS, type Service } from "../src/metrics.ts";

let dir: string;
let kafka: PrivateKafka;
let db: { url: string; drop: () => Promise<void> };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "danesweep-grafana-e2e-"));
  kafka = privateKafka("grafana");
  db = await freshDatabase();
});

after(async () => {
  kafka?.down();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a Prometheus text exposition (comments skipped). */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[4]) });
  }
  return out;
}

async function metricsOf(w: Worker): Promise<Sample[]> {
  const port = w.httpPort();
  assert.ok(port !== undefined && port > 0, `${w.name} logged its HTTP port`);
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return parseExposition(await res.text());
}

test("every metric the pipeline dashboard reads is exposed by the services that make it", {
  timeout: 600_000,
}, async () => {
  const dep = new Deployment({ brokers: kafka.bootstrap, databaseUrl: db.url, logDir: join(dir, "logs") });
  try {
    await dep.startAll();
    const file = join(dir, "seed.txt");
    writeFileSync(file, `${SEED_CASES.map((c) => c.domain).join("\n")}\n`);
    const r = await startKafkaScan(kafka.bootstrap, db.url, file).done;
    assert.equal(r.code, 0, `${r.stderr}\n${dep.tails()}`);

    const samples = new Map<Service, Sample[]>();
    for (const kind of ["resolver", "prober", "aggregator"] as const) {
      const [w] = dep.live(kind);
      assert.ok(w, `a live ${kind}`);
      samples.set(kind, await metricsOf(w));
    }
    const missing: string[] = [];
    for (const m of Object.values(METRICS))
      for (const s of m.services) {
        const mine = (samples.get(s) ?? []).filter((x) => x.name === m.name);
        if (mine.length === 0) missing.push(`${m.name} in ${s}`);
        for (const x of mine)
          for (const l of m.labels)
            if (!(l in x.labels)) missing.push(`${m.name} in ${s}: a sample without label ${l}`);
      }
    assert.deepEqual(missing, []);
    // The scan went through every stage: the counters the dashboard rates moved.
    const total = (s: Service, name: string) =>
      (samples.get(s) ?? []).filter((x) => x.name === name).reduce((a, x) => a + x.value, 0);
    assert.equal(total("resolver", METRICS.resolved.name), SEED_CASES.length);
    assert.equal(total("aggregator", METRICS.judged.name), SEED_CASES.length);
    assert.ok(total("prober", METRICS.probesMade.name) > 0);
    for (const s of ["resolver", "prober", "aggregator"] as const)
      assert.ok(total(s, METRICS.consumed.name) > 0, `${s} consumed`);
    console.log(
      `metrics checked: ${Object.values(METRICS)
        .map((m) => m.name)
        .join(", ")}`,
    );
  } finally {
    const stopped = await dep.stop();
    for (const s of stopped) assert.equal(s.code, 0, `${s.name} stopped cleanly on SIGTERM`);
  }
});
