/**
 * One embedded scan for bench/e2e/run.ts, in its own process so that its CPU
 * time and peak RSS are its own: `danesweep scan` (the real CLI path:
 * in-memory bus, PGlite, libs/dns, libs/probe, libs/dane) over a synthetic
 * domain list, verdicts counted and checked against the generator's expected
 * action. Prints one JSON line of figures on stdout.
 * Usage: node bench/e2e/one.ts LIST DATA_DIR
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import { openStore } from "@danesweep/store";
import { executeScan, parseScanArgs } from "../../services/cli/src/commands/scan.ts";

const [list, data] = process.argv.slice(2);
if (!list || !data) {
  console.error("usage: node bench/e2e/one.ts LIST DATA_DIR | node bench/e2e/one.ts --init DATA_DIR");
  process.exit(2);
}
if (list === "--init") {
  // Creating a PGlite data directory (initdb inside WebAssembly) is a one-time
  // cost per store, measured apart from the scans.
  const t0 = performance.now();
  const store = await openStore({ dataDir: data });
  await store.close();
  const ru = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({ wallMs: performance.now() - t0, cpuMs: (ru.userCPUTime + ru.systemCPUTime) / 1000, maxRssMb: ru.maxRSS / 1024 })}\n`,
  );
  process.exit(0);
}
// domains.txt: "<domain> <class> <action> <security-or-reason>"
const expected = new Map<string, string>();
const names: string[] = [];
for (const line of readFileSync(list, "utf8").split("\n")) {
  const [d, , action] = line.trim().split(/\s+/);
  if (!d || d.startsWith("#")) continue;
  names.push(d);
  if (action) expected.set(d, action);
}
const namesFile = `${data}.names`;
writeFileSync(namesFile, names.join("\n") + "\n");

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
    "--concurrency",
    process.env.BENCH_CONCURRENCY ?? "200",
    "--quiet",
    "--data",
    data,
    "-f",
    namesFile,
  ],
  false,
);
let verdicts = 0;
let mismatches = 0;
const sink = new Writable({ write: (_c, _e, cb) => cb() });
// Where the memory is: the JS heap, memory outside it (PGlite's WebAssembly memory, buffers), sampled.
const mem = { heapMb: 0, externalMb: 0 };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  mem.heapMb = Math.max(mem.heapMb, m.heapUsed / 2 ** 20);
  mem.externalMb = Math.max(mem.externalMb, m.external / 2 ** 20);
}, 200);
sampler.unref();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const { code } = await executeScan(
  parsed,
  { stdout: sink, stderr: process.stderr },
  {
    print: false,
    onVerdict: (r) => {
      verdicts++;
      const e = expected.get(r.domain);
      if (e !== undefined && e !== r.verdict.action) mismatches++;
    },
  },
);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const ru = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    code,
    domains: names.length,
    verdicts,
    mismatches,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMb: ru.maxRSS / 1024,
    ...mem,
  })}\n`,
);
