/**
 * The 24 reference domains through the scale-out pipeline: `danesweep topics`,
 * then the resolver, prober and aggregator services as separate processes on
 * a real Apache Kafka (a broker of this test's own) and PostgreSQL, seeded and
 * followed by `danesweep scan --kafka`. Every verdict (action, security, host,
 * reason, DANE state) must equal the embedded run's with the same options,
 * and the printed summary must be the embedded run's. The workers answer
 * /healthz, /readyz and /metrics, and stop cleanly on SIGTERM.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { seedCases } from "@danesweep/testbed";
import {
  Deployment,
  ensureTestbed,
  type PrivateKafka,
  privateKafka,
  ROOT,
  startKafkaScan,
} from "../faults/harness.ts";
import { freshDatabase, type JsonVerdict, parseJsonl, runCli } from "./cli.ts";

const domains = seedCases().map((c) => c.domain);
const SAME_OPTIONS = [
  "--resolver",
  "127.53.53.53",
  "--allow-private",
  "--per-ip-rate",
  "100",
  "--per-ip-burst",
  "100",
];

let dir: string;
let kafka: PrivateKafka;
let db: { url: string; drop: () => Promise<void> };

before(async () => {
  ensureTestbed();
  dir = mkdtempSync(join(tmpdir(), "danesweep-kafka-e2e-"));
  kafka = privateKafka("e2e");
  db = await freshDatabase();
});

after(async () => {
  kafka?.down();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

function key(v: JsonVerdict) {
  return {
    action: v.verdict.action,
    security: v.verdict.security,
    host: v.verdict.host,
    reason: v.verdict.reason,
    dane: v.dane,
  };
}

test("the 24 seed domains: services on Kafka give the embedded run's verdicts", {
  timeout: 300_000,
}, async () => {
  const embedded = await runCli([
    "scan",
    ...SAME_OPTIONS,
    "--data",
    join(dir, "pglite"),
    "--format",
    "jsonl",
    ...domains,
  ]);
  assert.equal(embedded.code, 0, embedded.stderr);
  const want = new Map(parseJsonl(embedded.stdout).map((v) => [v.domain, key(v)]));
  assert.equal(want.size, 24);

  const topics = execFileSync(
    process.execPath,
    [`${ROOT}services/cli/src/main.ts`, "topics", "--kafka", kafka.bootstrap],
    {
      encoding: "utf8",
    },
  );
  assert.deepEqual(topics.trim().split("\n").sort(), [
    "danesweep.domain-facts",
    "danesweep.domain-facts.dlq",
    "danesweep.domains",
    "danesweep.domains.dlq",
    "danesweep.probe-requests",
    "danesweep.probe-requests.dlq",
    "danesweep.verdicts",
    "danesweep.verdicts.dlq",
  ]);

  const dep = new Deployment({ brokers: kafka.bootstrap, databaseUrl: db.url, logDir: join(dir, "logs") });
  try {
    await dep.startAll();
    const file = join(dir, "seed.txt");
    writeFileSync(file, `${domains.join("\n")}\n`);
    const run = startKafkaScan(kafka.bootstrap, db.url, file);
    const r = await run.done;
    assert.equal(r.code, 0, `${r.stderr}\n${dep.tails()}`);
    const got = parseJsonl(r.stdout);
    assert.equal(got.length, 24, "one verdict per domain");
    for (const v of got) assert.deepEqual(key(v), want.get(v.domain), v.domain);
    // The same summary lines as the embedded run (equal counts are listed in arrival order: compare as sets).
    const summary = (s: string) =>
      s
        .split("\n")
        .filter((l) => /^(judged \d+ domains| {2}(action|security|dane):)/.test(l))
        .map((l) => {
          const [head, rest] = l.split(/:\s+/, 2);
          return rest === undefined ? l : `${head}: ${rest.split(", ").sort().join(", ")}`;
        });
    assert.deepEqual(summary(r.stderr), summary(embedded.stderr));

    // Each probe key was dialed once.
    const dials = dep.dials().map((d) => `${d.ip}|${d.port}|${d.sni}`);
    assert.ok(dials.length > 0);
    assert.equal(new Set(dials).size, dials.length, "no (ip, port, SNI) probed twice");

    // Health, readiness and metrics of a worker.
    const port = dep.live("aggregator")[0]!.httpPort();
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200, await ready.clone().text());
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^danesweep_domains_judged_total\{service="aggregator"\} \d+$/m);
    assert.match(
      metrics,
      /^danesweep_kafka_consumer_lag\{topic="danesweep.domain-facts",group="[^"]+",partition="\d+",service="aggregator"\} 0$/m,
    );
  } finally {
    const stopped = await dep.stop();
    for (const s of stopped) assert.equal(s.code, 0, `${s.name} stopped cleanly on SIGTERM`);
  }
});
