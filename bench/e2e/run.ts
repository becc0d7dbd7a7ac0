/**
 * bench/e2e: N synthetic domains of the test universe through the embedded
 * pipeline (`danesweep scan` on PGlite), for each N in SIZES: domains/s, CPU
 * ms per domain, peak RSS, and the CPU per domain relative to the smallest N
 * (the baseline measured in the same run). Targets (issue 5): CPU per domain
 * at 100k within 1.3x of that at 1k; peak RSS under 512 MB at 100k.
 *
 * Each scan runs in its own process with the Node flags bin/danesweep uses
 * (PGLITE_NODE_FLAGS).
 * Usage: node bench/e2e/run.ts [SIZES]     e.g. 1000,10000,100000 (default)
 * Needs the testbed (test/testbed/bin/testbed up); regenerates the synthetic
 * universe for each N with test/testbed/bin/synth (which restarts Unbound).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGLITE_NODE_FLAGS } from "@danesweep/store";

const root = fileURLToPath(new URL("../..", import.meta.url));
const sizes = (process.argv[2] ?? "1000,10000,100000").split(",").map(Number);
const stateDir = process.env.DANESWEEP_TESTBED_DIR ?? "/var/tmp/danesweep-testbed";

interface Figures {
  code: number;
  domains: number;
  verdicts: number;
  mismatches: number;
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
}

execFileSync(join(root, "test/testbed/bin/testbed"), ["up"], { stdio: ["ignore", "ignore", "inherit"] });
const rows: (Figures & { n: number })[] = [];
const inits: { wallMs: number; cpuMs: number; maxRssMb: number }[] = [];
for (const n of sizes) {
  console.error(`bench/e2e: generating ${n} synthetic domains`);
  execFileSync(join(root, "test/testbed/bin/synth"), [String(n)], { stdio: ["ignore", "ignore", "inherit"] });
  const dir = mkdtempSync(join(tmpdir(), "danesweep-bench-e2e-"));
  const init = spawnSync(
    process.execPath,
    [...PGLITE_NODE_FLAGS, join(root, "bench/e2e/one.ts"), "--init", join(dir, "data")],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  inits.push(JSON.parse(init.stdout.trim()) as { wallMs: number; cpuMs: number; maxRssMb: number });
  console.error(`bench/e2e: scanning ${n} domains`);
  const r = spawnSync(
    process.execPath,
    [
      ...PGLITE_NODE_FLAGS,
      join(root, "bench/e2e/one.ts"),
      join(stateDir, "synth/domains.txt"),
      join(dir, "data"),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 },
  );
  rmSync(dir, { recursive: true, force: true });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    rows.push({ n, ...(JSON.parse(line) as Figures) });
  } catch {
    console.error(`bench/e2e: the scan of ${n} domains failed (exit ${r.status}): ${line}`);
    process.exit(1);
  }
}

const base = rows[0]!;
const cpuPer = (r: Figures) => r.cpuMs / r.domains;
const fmt = (v: number, d = 1) => v.toFixed(d);
const header = [
  "N",
  "verdicts",
  "mismatch",
  "wall s",
  "domains/s",
  "CPU ms/domain",
  "vs baseline",
  "peak RSS MB",
];
const table = rows.map((r) => [
  String(r.n),
  String(r.verdicts),
  String(r.mismatches),
  fmt(r.wallMs / 1000),
  fmt(r.domains / (r.wallMs / 1000)),
  fmt(cpuPer(r), 3),
  `${fmt(cpuPer(r) / cpuPer(base), 2)}x`,
  fmt(r.maxRssMb),
]);
const w = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
const line = (c: string[]) => c.map((x, i) => x.padStart(w[i]!)).join("  ");
console.log(`embedded pipeline (danesweep scan, PGlite), baseline = N ${base.n}`);
console.log(line(header));
for (const t of table) console.log(line(t));
const i0 = inits[0]!;
console.log(
  `(not in the rows: creating each new PGlite data directory took ${fmt(i0.wallMs / 1000)} s, ` +
    `${fmt(i0.cpuMs)} ms CPU, peak RSS ${fmt(i0.maxRssMb)} MB, in its own process)`,
);
const last = rows[rows.length - 1]!;
console.log(
  `targets: CPU/domain at ${last.n} within 1.3x of ${base.n}: ${fmt(cpuPer(last) / cpuPer(base), 2)}x ` +
    `${cpuPer(last) / cpuPer(base) <= 1.3 ? "met" : "NOT met"}; peak RSS at ${last.n} under 512 MB: ` +
    `${fmt(last.maxRssMb)} MB ${last.maxRssMb < 512 ? "met" : "NOT met"}`,
);
for (const r of rows)
  if (r.verdicts !== r.domains || r.code !== 0)
    console.log(`WARNING: N ${r.n}: exit ${r.code}, ${r.verdicts}/${r.domains} verdicts`);
