/**
 * bench/pipeline: the same N synthetic domains of the test universe through
 * (1) the embedded default (`danesweep scan`, PGlite), (2) the embedded
 * pipeline on PostgreSQL, and (3) the scale-out pipeline: the resolver, prober
 * and aggregator services as separate processes on a real Kafka broker (a
 * private one, wiped at start) with PostgreSQL, seeded and followed by
 * `danesweep scan --kafka`. For each N: wall time, domains/s and the ratio to
 * the embedded runs (target: at least 0.8 of the embedded throughput on one
 * machine), end-to-end latency percentiles (judged_at - scan start: the whole
 * list is seeded at once, so this is queueing plus work), and for the Kafka
 * run the consumer lag per topic over time (sampled from the workers'
 * /metrics every second).
 *
 * Usage: node bench/pipeline/run.ts [SIZES]   e.g. 2000,10000 (default)
 * BENCH_PARTITIONS=N sets the topics' partitions (default 12, the services' default).
 * Needs the testbed (started if down) and generates the synthetic universe
 * when it holds fewer than max(SIZES) domains. Prints a Markdown report on
 * stdout; progress on stderr.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGLITE_NODE_FLAGS } from "@danesweep/store";
import pg from "pg";
import { Deployment, privateKafka, startKafkaScan, synthDomains } from "../../test/faults/harness.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const sizes = (process.argv[2] ?? "2000,10000").split(",").map(Number);
const TESTBED_OPTIONS = [
  "--resolver",
  "127.53.53.53",
  "--allow-private",
  "--per-ip-rate",
  "100",
  "--per-ip-burst",
  "100",
];

function pgBase(): string {
  execFileSync(join(root, "scripts/services/postgres.sh"), ["up"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return execFileSync(join(root, "scripts/services/postgres.sh"), ["url"], { encoding: "utf8" }).trim();
}

async function freshDb(base: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `bench_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  return {
    url: base.replace(/\/[^/]*$/, `/${name}`),
    drop: async () => {
      const d = new pg.Client({ connectionString: base });
      await d.connect();
      await d.query(`drop database if exists ${name} with (force)`);
      await d.end();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Seconds from scan start to each verdict, from the store. */
async function latencies(url: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(
      `select extract(epoch from (r.judged_at - s.started_at))::float8 as s
         from results r join scans s on s.seq = r.scan order by 1`,
    );
    return r.rows.map((x) => x.s as number);
  } finally {
    await c.end();
  }
}

interface Row {
  n: number;
  mode: string;
  wallS: number;
  verdicts: number;
  perS: number;
  p50: number;
  p90: number;
  p99: number;
}

function runEmbedded(file: string, store: string[]): { wallS: number; verdicts: number; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      ...PGLITE_NODE_FLAGS, // as bin/danesweep
      join(root, "services/cli/src/main.ts"),
      "scan",
      ...TESTBED_OPTIONS,
      ...store,
      "--format",
      "jsonl",
      "-f",
      file,
    ],
    { encoding: "utf8", maxBuffer: 1 << 30 },
  );
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`embedded scan exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return { wallS, verdicts: r.stdout.split("\n").filter((l) => l !== "").length, stderr: r.stderr };
}

async function lagOf(ports: number[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of ports) {
    try {
      const text = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
      for (const m of text.matchAll(/^danesweep_kafka_consumer_lag\{topic="([^"]+)",[^}]*\} (\d+)$/gm)) {
        out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
      }
    } catch {
      // a worker between restarts
    }
  }
  return out;
}

const base = pgBase();
const all = synthDomains(Math.max(...sizes));
const work = mkdtempSync(join(tmpdir(), "danesweep-bench-pipeline-"));
const rows: Row[] = [];
const lagTables: string[] = [];
try {
  for (const n of sizes) {
    const file = join(work, `d${n}.txt`);
    writeFileSync(
      file,
      `${all
        .slice(0, n)
        .map((d) => d.domain)
        .join("\n")}\n`,
    );
    const add = (mode: string, wallS: number, verdicts: number, lat: number[]) => {
      const row = {
        n,
        mode,
        wallS,
        verdicts,
        perS: verdicts / wallS,
        p50: percentile(lat, 50),
        p90: percentile(lat, 90),
        p99: percentile(lat, 99),
      };
      rows.push(row);
      console.error(`bench/pipeline: ${JSON.stringify(row)}`);
    };

    console.error(`bench/pipeline: ${n} domains, embedded (PGlite)`);
    const emb = runEmbedded(file, ["--data", join(work, `pglite-${n}`)]);
    add("embedded, PGlite", emb.wallS, emb.verdicts, []);

    console.error(`bench/pipeline: ${n} domains, embedded (PostgreSQL)`);
    const db1 = await freshDb(base);
    const embPg = runEmbedded(file, ["--database", db1.url]);
    add("embedded, PostgreSQL", embPg.wallS, embPg.verdicts, await latencies(db1.url));
    await db1.drop();

    console.error(`bench/pipeline: ${n} domains, services on Kafka + PostgreSQL`);
    // A fresh broker per N: no earlier run's messages (whose scans are in dropped databases) are replayed.
    const kafka = privateKafka("bench", 59392);
    const db2 = await freshDb(base);
    const dep = new Deployment({
      brokers: kafka.bootstrap,
      databaseUrl: db2.url,
      logDir: join(work, `logs-${n}`),
      env: {
        DANESWEEP_LOG_PROBES: "false",
        DANESWEEP_KAFKA_SESSION_TIMEOUT_MS: "10000",
        DANESWEEP_PARTITIONS: process.env.BENCH_PARTITIONS ?? "12",
      },
    });
    await dep.startAll();
    const ports = dep.workers.map((w) => Number(w.httpPort()));
    const samples: { t: number; lag: Record<string, number> }[] = [];
    const t0 = performance.now();
    const run = startKafkaScan(kafka.bootstrap, db2.url, file, ["-q"]);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ t: (performance.now() - t0) / 1000, lag: await lagOf(ports) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const r = await run.done;
    const wallS = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    if (r.code !== 0) throw new Error(`kafka scan exited ${r.code}: ${r.stderr.slice(-2000)}`);
    add(
      "services on Kafka, PostgreSQL",
      wallS,
      r.stdout.split("\n").filter((l) => l !== "").length,
      await latencies(db2.url),
    );
    await dep.stop();
    kafka.down();
    await db2.drop();
    const topics = [...new Set(samples.flatMap((s) => Object.keys(s.lag)))].sort();
    const step = Math.max(1, Math.ceil(samples.length / 15));
    lagTables.push(
      `### Consumer lag, ${n} domains (messages not yet committed, summed over partitions)\n\n` +
        `| t (s) | ${topics.map((t) => t.replace("danesweep.", "")).join(" | ")} |\n|---|${topics.map(() => "---").join("|")}|\n` +
        samples
          .filter((_, i) => i % step === 0 || i === samples.length - 1)
          .map((s) => `| ${s.t.toFixed(0)} | ${topics.map((t) => s.lag[t] ?? "-").join(" | ")} |`)
          .join("\n"),
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const out: string[] = [
  `## bench/pipeline (${new Date().toISOString().slice(0, 10)}, ${(await import("node:os")).cpus().length} cores)`,
  "",
  "| N | mode | wall s | verdicts | domains/s | vs embedded PGlite | vs embedded PostgreSQL | latency p50 / p90 / p99 s |",
  "|---|---|---|---|---|---|---|---|",
];
for (const r of rows) {
  const e1 = rows.find((x) => x.n === r.n && x.mode === "embedded, PGlite")!;
  const e2 = rows.find((x) => x.n === r.n && x.mode === "embedded, PostgreSQL")!;
  const lat = Number.isNaN(r.p50) ? "-" : `${r.p50.toFixed(1)} / ${r.p90.toFixed(1)} / ${r.p99.toFixed(1)}`;
  out.push(
    `| ${r.n} | ${r.mode} | ${r.wallS.toFixed(1)} | ${r.verdicts} | ${r.perS.toFixed(0)} | ${(r.perS / e1.perS).toFixed(2)} | ${(r.perS / e2.perS).toFixed(2)} | ${lat} |`,
  );
}
out.push("", ...lagTables.map((t) => `${t}\n`));
console.log(out.join("\n"));
