/**
 * One embedded scan for bench/e2e/run.ts, in its own process so that its CPU
 * time and peak RSS are its own: `danesweep scan` (the real CLI path:
 * in-memory bus, the embedded PGlite owned by this process, libs/dns,
 * libs/probe, libs/dane) over a synthetic domain list, verdicts counted and
 * checked against the generator's expected action. When DATA_DIR does not
 * exist yet, the scan creates it (data-directory creation is in the figures).
 * Prints one JSON line of figures on stdout:
 *   wallMs, cpuMs, maxRssMb (before the size is measured), verdicts, mismatches,
 *   statements (store round trips), codecMs and backendMs (the store's CPU:
 *   encoding blobs, and PostgreSQL running the statements), bytes (the
 *   database's size after the scan: every table, index and TOAST table of
 *   schema public), threadCpuMs (CPU by thread name: where the CPU went).
 * Environment: BENCH_CONCURRENCY (--concurrency), BENCH_SCAN_ARGS (more scan
 * options, space-separated: bench/mta-sts gives --no-mta-sts for its
 * baseline), BENCH_RESOLVER, BENCH_MEM_TRACE (a file: memory every 2 s),
 * BENCH_ALLOC_PROFILE (a file: V8's sampling heap profile of every allocation
 * of the scan, collected or not: where the garbage collector's work comes from;
 * open it in Chrome DevTools' Memory tab, or sum its nodes' selfSize);
 * BENCH_ALLOC_PROMOTED=1 with it leaves out objects the young generation's
 * collections freed: what remains was promoted (the old generation's work).
 * Usage: node bench/e2e/one.ts LIST DATA_DIR
 *        node bench/e2e/one.ts --size DATA_DIR   (only the size; creates an empty store)
 */
import { once } from "node:events";
import { createReadStream, createWriteStream, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { openStore, type Store, sql } from "@danesweep/store";
import { startTelemetry } from "@danesweep/telemetry/sdk";
import { executeScan, parseScanArgs } from "../../services/cli/src/commands/scan.ts";
import { threadCpuByName } from "../proc.ts";

/** Bytes of every table, index and TOAST table of schema public. */
async function databaseBytes(store: Store): Promise<number> {
  const r = await store.db.execute<{ n: string | null }>(
    sql`select sum(pg_total_relation_size(c.oid)) as n from pg_class c
        join pg_namespace s on s.oid = c.relnamespace
        where s.nspname = 'public' and c.relkind = 'r'`,
  );
  return Number(r.rows[0]?.n ?? 0);
}

const [list, data] = process.argv.slice(2);
if (!list || !data) {
  console.error("usage: node bench/e2e/one.ts LIST DATA_DIR | node bench/e2e/one.ts --size DATA_DIR");
  process.exit(2);
}
if (list === "--size") {
  const store = await openStore({ dataDir: data });
  process.stdout.write(`${JSON.stringify({ bytes: await databaseBytes(store) })}\n`);
  await store.close();
  process.exit(0);
}

// domains.txt: "<domain> <class> <action> <security-or-reason>". Only the names go to the scan;
// what it was expected to do is read after the scan and its peak RSS, so that the harness's own
// bookkeeping (a map of every domain) is not in the figures.
const namesFile = `${data}.names`;
const actionsFile = `${data}.actions`;
let domainCount = 0;
{
  const out = createWriteStream(namesFile);
  for await (const line of createInterface({
    input: createReadStream(list),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    const d = line.trim().split(/\s+/, 1)[0];
    if (!d || d.startsWith("#")) continue;
    domainCount++;
    if (!out.write(`${d}\n`)) await once(out, "drain");
  }
  out.end();
  await finished(out);
}

const parsed = parseScanArgs(
  [
    "--resolver",
    process.env.BENCH_RESOLVER ?? "127.53.53.53",
    "--allow-private",
    "--ehlo",
    "danesweep-bench.invalid",
    "--per-ip-rate",
    "10000",
    "--per-ip-burst",
    "10000",
    "--per-ip-concurrency",
    "64",
    ...(process.env.BENCH_CONCURRENCY ? ["--concurrency", process.env.BENCH_CONCURRENCY] : []),
    // More `danesweep scan` options for a comparison (space-separated), e.g. BENCH_SCAN_ARGS=--skip-ns-check.
    ...(process.env.BENCH_SCAN_ARGS ? process.env.BENCH_SCAN_ARGS.split(/\s+/).filter(Boolean) : []),
    "--quiet",
    "--data",
    data,
    "-f",
    namesFile,
  ],
  false,
);
let verdicts = 0;
const actions = createWriteStream(actionsFile);
const sink = new Writable({ write: (_c, _e, cb) => cb() });
// Where the memory is: the JS heap, memory outside it (PGlite's WebAssembly memory, buffers), sampled.
const mem = { heapMb: 0, externalMb: 0 };
// BENCH_MEM_TRACE=FILE: a line every 2 s (seconds, then MB of RSS, heap used, heap total, external, array buffers).
const trace = process.env.BENCH_MEM_TRACE ? createWriteStream(process.env.BENCH_MEM_TRACE) : undefined;
const traceT0 = performance.now();
let samples = 0;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  mem.heapMb = Math.max(mem.heapMb, m.heapUsed / 2 ** 20);
  mem.externalMb = Math.max(mem.externalMb, m.external / 2 ** 20);
  if (trace && samples++ % 10 === 0) {
    const mb = (n: number) => (n / 2 ** 20).toFixed(0);
    const t = ((performance.now() - traceT0) / 1000).toFixed(0);
    trace.write(
      `${t} ${mb(m.rss)} ${mb(m.heapUsed)} ${mb(m.heapTotal)} ${mb(m.external)} ${mb(m.arrayBuffers)}\n`,
    );
  }
}, 200);
sampler.unref();
let stats: Awaited<ReturnType<Store["stats"]>> = { statements: 0, codecMs: 0 };
let threadCpuMs: Record<string, number> = {};
// With OTEL_EXPORTER_OTLP_ENDPOINT set, the scan is traced (what tracing costs); pg is loaded
// already, so the store's statements get no spans of pg's here.
const telemetry = await startTelemetry({ service: "bench", env: process.env });
// BENCH_ALLOC_PROFILE=FILE: every allocation sampled (one per 64 KiB), kept whether or not it
// was collected since (the profiler's default keeps only what is still alive at the end).
const allocProfile = process.env.BENCH_ALLOC_PROFILE ? new Session() : undefined;
if (allocProfile) {
  allocProfile.connect();
  await allocProfile.post("HeapProfiler.startSampling", {
    samplingInterval: 65536,
    includeObjectsCollectedByMajorGC: true,
    // BENCH_ALLOC_PROMOTED=1: leave out what the young generation's collections freed, so the
    // profile shows what lived long enough to be promoted (the old generation's growth and work).
    includeObjectsCollectedByMinorGC: process.env.BENCH_ALLOC_PROMOTED !== "1",
  });
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const { code } = await executeScan(
  parsed,
  { stdout: sink, stderr: process.stderr, ...(telemetry.tracer ? { telemetry } : {}) },
  {
    print: false,
    onVerdict: (r) => {
      verdicts++;
      actions.write(`${r.domain} ${r.verdict.action}\n`);
    },
    onStoreClosing: async (s) => {
      stats = await s.stats();
      // This process's CPU by thread (bench/proc.ts), read while the store's thread still runs: the
      // pipeline's main thread, the store's, V8's helpers (the GC's concurrent and parallel work), libuv's pool.
      threadCpuMs = threadCpuByName("self") ?? {};
    },
  },
);
await telemetry.shutdown();
if (allocProfile) {
  const { profile } = await allocProfile.post("HeapProfiler.stopSampling");
  writeFileSync(process.env.BENCH_ALLOC_PROFILE as string, JSON.stringify(profile));
  allocProfile.disconnect();
}
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const maxRssMb = process.resourceUsage().maxRSS / 1024;
actions.end();
await finished(actions);
// The verdicts against the generator's expected action.
const expected = new Map<string, string>();
for (const line of readFileSync(list, "utf8").split("\n")) {
  const [d, , action] = line.trim().split(/\s+/);
  if (d && action && !d.startsWith("#")) expected.set(d, action);
}
let mismatches = 0;
for (const line of readFileSync(actionsFile, "utf8").split("\n")) {
  const [d, action] = line.split(" ");
  const e = d ? expected.get(d) : undefined;
  if (e !== undefined && e !== action) mismatches++;
}
rmSync(actionsFile, { force: true });
// Sizes are read after the scan (and its figures) on a store of their own.
const store = await openStore({ dataDir: data });
const bytes = await databaseBytes(store);
await store.close();
process.stdout.write(
  `${JSON.stringify({
    code,
    domains: domainCount,
    verdicts,
    mismatches,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMb,
    ...mem,
    ...stats,
    bytes,
    threadCpuMs,
  })}\n`,
);
