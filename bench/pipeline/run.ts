/**
 * bench/pipeline: the same N synthetic domains of the test universe through
 * (1) the embedded default (`danesweep scan`, PGlite), (2) the embedded
 * pipeline on PostgreSQL, and (3) the scale-out pipeline: the resolver, prober
 * and aggregator services as separate processes on a real Kafka broker (a
 * private one, wiped at start) with PostgreSQL, seeded and followed by
 * `danesweep scan --kafka`, with one instance of each service and then with
 * two. For each N: wall time, domains/s, the ratios the targets of issue 10
 * name (Kafka on one node >= 0.9 x the embedded run on PostgreSQL; two
 * instances of every service >= 1.0 x one), the node-hours a 23M-domain
 * survey would take at that rate on nodes like this one, end-to-end latency
 * percentiles (judged_at - scan start: the whole list is seeded at once, so
 * this is queueing plus work), where each run's CPU went (ms a domain for the
 * scan's process, each service, Kafka, PostgreSQL, Unbound, Knot and the test
 * SMTP servers, and how many of the machine's cores were busy, from /proc:
 * bench/proc.ts), and for the Kafka runs the consumer lag per
 * topic over time (sampled from the workers' /metrics every second).
 *
 * Usage: node bench/pipeline/run.ts [SIZES] [--modes LIST] [--probes-per-domain R]
 *   SIZES: e.g. 2000,10000 (default); MODES (comma-separated, default all):
 *   pglite, postgres, kafka1, kafka2. A 1M run of the Kafka deployment (in the
 *   background: it takes a while): node bench/pipeline/run.ts 1000000 --modes kafka1
 * --broker-warmup W (default 20000; 0: none): before each Kafka run, its fresh
 *   broker carries a scan of W domains through a throwaway deployment (its own
 *   database, services stopped after it), so that the broker's JVM has compiled
 *   its hot paths, as a broker in service has: measured on this machine, a cold
 *   broker spent a third of its CPU during a 100k run in its JIT compiler threads
 *   (~0.1 ms a domain), a startup cost the embedded run's PostgreSQL, up for
 *   minutes, does not pay either. The services of the timed run start fresh, as
 *   the embedded scan's process does. The CPU table's "Kafka JIT" column shows
 *   what the broker's compiler threads still spent during the timed run.
 * BENCH_PARTITIONS=N sets the topics' partitions (default 12, the services' default).
 * WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the services
 *   (Node refuses --cpu-prof in NODE_OPTIONS).
 * Needs the testbed (started if down) and generates the synthetic universe
 * (~R distinct probes per domain, default 0.1) when it holds fewer than
 * max(SIZES) domains. Each mode starts on a cold resolver (`testbed flush`).
 * Prints a Markdown report on stdout; progress on stderr.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PGLITE_NODE_ENV, PGLITE_NODE_FLAGS } from "@danesweep/store";
import pg from "pg";
import { Deployment, privateKafka, startKafkaScan, synthDomains } from "../../test/faults/harness.ts";
import { type CpuSnapshot, cpuSince, cpuSnapshot, serviceRole, threadsCpuMs } from "../proc.ts";
import { flushResolver, resolverQueries } from "../testbed.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    modes: { type: "string", default: "pglite,postgres,kafka1,kafka2" },
    "probes-per-domain": { type: "string", default: "0.1" },
    "broker-warmup": { type: "string", default: "20000" },
  },
});
const sizes = (positionals[0] ?? "2000,10000").split(",").map(Number);
const modes = new Set((opts.modes ?? "").split(","));
const brokerWarmup = Number(opts["broker-warmup"]);
if (!Number.isInteger(brokerWarmup) || brokerWarmup < 0) {
  console.error(
    `bench/pipeline: --broker-warmup ${JSON.stringify(opts["broker-warmup"])}: expected a whole number >= 0`,
  );
  process.exit(2);
}
/** The survey the projection is for. */
const SURVEY = 23_000_000;
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

/** What a process is, for the CPU table (its command line); undefined: not counted. */
function roleOf(cmd: string): string | undefined {
  for (const kind of ["resolver", "prober", "aggregator"]) if (cmd.includes(`services/${kind}/`)) return kind;
  return serviceRole(cmd);
}
const CPU_ROLES = [
  "scan",
  "resolver",
  "prober",
  "aggregator",
  "Kafka",
  "Kafka JIT",
  "PostgreSQL",
  "Unbound",
  "Knot",
  "test SMTP servers",
];

/**
 * Where a run's CPU went, from snapshots before and after it (bench/proc.ts).
 * The scan's process (`danesweep scan`, embedded or following the Kafka
 * deployment) has ended by the second snapshot: its CPU is that of this
 * process's ended children.
 */
const snapshot = () => cpuSnapshot(roleOf);
const cpuRows: {
  n: number;
  mode: string;
  coresBusy: number;
  msPerDomain: Map<string, number>;
  queriesPerDomain: number;
}[] = [];
/** Adds a mode's CPU row; called right after the mode ran, on a resolver flushed before it (its query count). */
function addCpu(
  n: number,
  mode: string,
  before: CpuSnapshot,
  after: CpuSnapshot,
  brokerJitMs?: number,
): void {
  const { coresBusy, roleMs, endedChildrenMs } = cpuSince(before, after);
  const msPerDomain = new Map([...roleMs].map(([role, ms]) => [role, ms / n]));
  msPerDomain.set("scan", endedChildrenMs / n);
  if (brokerJitMs !== undefined) msPerDomain.set("Kafka JIT", brokerJitMs / n);
  cpuRows.push({ n, mode, coresBusy, msPerDomain, queriesPerDomain: resolverQueries() / n });
}

/** Writes the universe's first `n` domains, one a line, to `name` in the work directory; returns its path. */
function domainList(name: string, n: number): string {
  const file = join(work, name);
  writeFileSync(
    file,
    `${all
      .slice(0, n)
      .map((d) => d.domain)
      .join("\n")}\n`,
  );
  return file;
}

/** A JVM's JIT compiler threads, by their names in /proc (HotSpot's "C1 CompilerThre", "C2 CompilerThre"). */
const JIT_THREADS = /^C\d CompilerThre/;

/**
 * Warms a fresh broker (see --broker-warmup): a scan of `brokerWarmup`
 * domains (at most the run's N) through a throwaway deployment on its own
 * database, whose services are stopped after it; their consumer groups are
 * the timed run's (DANESWEEP_GROUP_PREFIX), so the timed services start after
 * the warm-up's messages.
 */
async function warmBroker(
  bootstrap: string,
  deployment: (databaseUrl: string, logs: string) => Deployment,
  n: number,
): Promise<void> {
  const w = Math.min(brokerWarmup, n);
  const file = domainList(`warmup-${w}.txt`, w);
  console.error(`bench/pipeline: warming the broker with a scan of ${w} domains`);
  const db = await freshDb(base);
  const dep = deployment(db.url, `logs-warmup-${n}`);
  try {
    await dep.startAll();
    const r = await startKafkaScan(bootstrap, db.url, file, ["-q"], { keepStdout: false }).done;
    if (r.code !== 0) throw new Error(`warm-up scan exited ${r.code}: ${r.stderr.slice(-2000)}`);
  } finally {
    await dep.stop();
    await db.drop();
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
    { encoding: "utf8", maxBuffer: 1 << 30, env: { ...PGLITE_NODE_ENV, ...process.env } },
  );
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`embedded scan exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return { wallS, verdicts: r.stdout.split("\n").filter((l) => l !== "").length, stderr: r.stderr };
}

/**
 * The consumer lag per topic, summed over partitions. Every instance reports
 * its group's lag for every partition of the topic (the committed offset is
 * the group's, not the member's), so a partition counts once: the largest of
 * the instances' values (they read it at slightly different times).
 */
async function lagOf(ports: number[]): Promise<Record<string, number>> {
  const byPartition = new Map<string, { topic: string; lag: number }>();
  for (const p of ports) {
    try {
      const text = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
      for (const m of text.matchAll(/^danesweep_kafka_consumer_lag\{([^}]*)\} (\d+)$/gm)) {
        const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
        const key = `${labels.topic}\0${labels.group}\0${labels.partition}`;
        const lag = Number(m[2]);
        const seen = byPartition.get(key);
        if (!seen || seen.lag < lag) byPartition.set(key, { topic: labels.topic ?? "?", lag });
      }
    } catch {
      // a worker between restarts
    }
  }
  const out: Record<string, number> = {};
  for (const { topic, lag } of byPartition.values()) out[topic] = (out[topic] ?? 0) + lag;
  return out;
}

const base = pgBase();
const all = synthDomains(Math.max(...sizes), Number(opts["probes-per-domain"]));
const work = mkdtempSync(join(tmpdir(), "danesweep-bench-pipeline-"));
const rows: Row[] = [];
const lagTables: string[] = [];
try {
  for (const n of sizes) {
    const file = domainList(`d${n}.txt`, n);
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

    if (modes.has("pglite")) {
      console.error(`bench/pipeline: ${n} domains, embedded (PGlite)`);
      flushResolver();
      const c0 = snapshot();
      const emb = runEmbedded(file, ["--data", join(work, `pglite-${n}`)]);
      addCpu(n, "embedded, PGlite", c0, snapshot());
      add("embedded, PGlite", emb.wallS, emb.verdicts, []);
    }

    if (modes.has("postgres")) {
      console.error(`bench/pipeline: ${n} domains, embedded (PostgreSQL)`);
      flushResolver();
      const db1 = await freshDb(base);
      const c0 = snapshot();
      const embPg = runEmbedded(file, ["--database", db1.url]);
      addCpu(n, "embedded, PostgreSQL", c0, snapshot());
      add("embedded, PostgreSQL", embPg.wallS, embPg.verdicts, await latencies(db1.url));
      await db1.drop();
    }

    for (const instances of [1, 2]) {
      if (!modes.has(`kafka${instances}`)) continue;
      const mode = `services on Kafka x${instances}, PostgreSQL`;
      console.error(`bench/pipeline: ${n} domains, ${mode}`);
      // A fresh broker per run: no earlier run's messages (whose scans are in dropped databases) are replayed.
      const kafka = privateKafka("bench");
      const deployment = (databaseUrl: string, logs: string) =>
        new Deployment({
          brokers: kafka.bootstrap,
          databaseUrl,
          logDir: join(work, logs),
          env: {
            DANESWEEP_LOG_PROBES: "false",
            DANESWEEP_KAFKA_SESSION_TIMEOUT_MS: "10000",
            DANESWEEP_PARTITIONS: process.env.BENCH_PARTITIONS ?? "12",
            // One set of consumer groups for the warm-up and the timed run: the timed services start
            // where the warm-up's left off, not at the warm-up's messages (their scan is in another database).
            DANESWEEP_GROUP_PREFIX: "bench",
          },
        });
      if (brokerWarmup > 0) await warmBroker(kafka.bootstrap, deployment, n);
      const db2 = await freshDb(base);
      const dep = deployment(db2.url, `logs-${n}-${instances}`);
      await dep.startAll();
      for (let i = 1; i < instances; i++) {
        await Promise.all(["resolver", "prober", "aggregator"].map((k) => dep.start(k as never).ready));
      }
      const ports = dep.workers.map((w) => Number(w.httpPort()));
      const samples: { t: number; lag: Record<string, number> }[] = [];
      flushResolver();
      const c0 = snapshot();
      const jit0 = threadsCpuMs(kafka.pid(), JIT_THREADS);
      const t0 = performance.now();
      const run = startKafkaScan(kafka.bootstrap, db2.url, file, ["-q"], { keepStdout: false });
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          samples.push({ t: (performance.now() - t0) / 1000, lag: await lagOf(ports) });
          await new Promise((r) => setTimeout(r, 1000));
        }
      })();
      const r = await run.done;
      const wallS = (performance.now() - t0) / 1000;
      addCpu(n, mode, c0, snapshot(), threadsCpuMs(kafka.pid(), JIT_THREADS) - jit0);
      sampling = false;
      await sampler;
      if (r.code !== 0) throw new Error(`kafka scan exited ${r.code}: ${r.stderr.slice(-2000)}`);
      add(mode, wallS, r.lines, await latencies(db2.url));
      await dep.stop();
      kafka.down();
      await db2.drop();
      const topics = [...new Set(samples.flatMap((s) => Object.keys(s.lag)))].sort();
      const step = Math.max(1, Math.ceil(samples.length / 15));
      lagTables.push(
        `### Consumer lag, ${n} domains, ${instances} instance(s) of each service (messages not yet committed, summed over partitions)\n\n` +
          `| t (s) | ${topics.map((t) => t.replace("danesweep.", "")).join(" | ")} |\n|---|${topics.map(() => "---").join("|")}|\n` +
          samples
            .filter((_, i) => i % step === 0 || i === samples.length - 1)
            .map((s) => `| ${s.t.toFixed(0)} | ${topics.map((t) => s.lag[t] ?? "-").join(" | ")} |`)
            .join("\n"),
      );
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const cores = (await import("node:os")).cpus().length;
const out: string[] = [
  `## bench/pipeline (${new Date().toISOString().slice(0, 10)}, ${cores} cores)`,
  "",
  `| N | mode | wall s | verdicts | domains/s | vs embedded PostgreSQL | node-hours for ${SURVEY / 1e6}M | latency p50 / p90 / p99 s |`,
  "|---|---|---|---|---|---|---|---|",
];
const find = (n: number, mode: string) => rows.find((x) => x.n === n && x.mode === mode);
for (const r of rows) {
  const e2 = find(r.n, "embedded, PostgreSQL");
  const lat = Number.isNaN(r.p50) ? "-" : `${r.p50.toFixed(1)} / ${r.p90.toFixed(1)} / ${r.p99.toFixed(1)}`;
  out.push(
    `| ${r.n} | ${r.mode} | ${r.wallS.toFixed(1)} | ${r.verdicts} | ${r.perS.toFixed(0)} | ${e2 ? (r.perS / e2.perS).toFixed(2) : "-"} | ${(SURVEY / r.perS / 3600).toFixed(1)} | ${lat} |`,
  );
}
out.push("", "targets (issue 10):");
for (const n of sizes) {
  const e2 = find(n, "embedded, PostgreSQL");
  const k1 = find(n, "services on Kafka x1, PostgreSQL");
  const k2 = find(n, "services on Kafka x2, PostgreSQL");
  const verdict = (x: number, min: number) => `${x.toFixed(2)} (>= ${min}) ${x >= min ? "met" : "NOT met"}`;
  if (k1 && e2)
    out.push(`- N ${n}: Kafka on one node / embedded PostgreSQL: ${verdict(k1.perS / e2.perS, 0.9)}`);
  if (k1 && k2)
    out.push(`- N ${n}: two instances of every service / one: ${verdict(k2.perS / k1.perS, 1.0)}`);
  for (const r of rows.filter((x) => x.n === n && x.verdicts !== n))
    out.push(`- WARNING: N ${n}, ${r.mode}: ${r.verdicts} verdicts`);
}
if (cpuRows.length > 0) {
  out.push(
    "",
    `### CPU by process, ms a domain (from /proc; cores busy: the machine's CPU over the run's wall time, of ${cores}; ` +
      "queries: those Unbound was asked, a domain: each resolver instance has a cache of its own; " +
      "Kafka JIT: the part of Kafka's spent by its JIT compiler threads)",
    "",
    `| N | mode | cores busy | queries | ${CPU_ROLES.join(" | ")} |`,
    `|---|---|---|---|${CPU_ROLES.map(() => "---").join("|")}|`,
  );
  for (const c of cpuRows)
    out.push(
      `| ${c.n} | ${c.mode} | ${c.coresBusy.toFixed(2)} | ${Number.isFinite(c.queriesPerDomain) ? c.queriesPerDomain.toFixed(2) : "-"} | ${CPU_ROLES.map(
        (r) => {
          const v = c.msPerDomain.get(r);
          return v === undefined || !Number.isFinite(v) || v === 0 ? "-" : v.toFixed(3);
        },
      ).join(" | ")} |`,
    );
}
out.push("", ...lagTables.map((t) => `${t}\n`));
console.log(out.join("\n"));
