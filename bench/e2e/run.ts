/**
 * bench/e2e: the whole embedded pipeline (`danesweep scan` on the embedded
 * PGlite) beside its own DNS stage, on one synthetic universe and one
 * validating resolver, in one run.
 *
 *   node bench/e2e/run.ts [--n 100000] [--probes-per-domain 0.1] [--pairs 3] [--skip-synth] [--skip-ns-check]
 *
 * --pairs K: the DNS stage alone (as scanned) and a first scan are run K
 * times, alternately (DNS, scan, DNS, scan, ...), each scan into a new data
 * directory. This machine's speed drifts by 15-30% from one quarter hour to
 * the next, so one DNS run and one scan a few minutes apart can put their
 * ratio anywhere in a band that wide; each pair's ratio is taken from two
 * runs side by side, and the pair with the median ratio is the one the table
 * and the targets report (every pair's figures are printed too; peak RSS is
 * the largest of all scans).
 *
 * --skip-ns-check: the consistency check left out on both sides (the DNS
 * stage as scanned without it, the scans with `--skip-ns-check`). On the
 * synthetic universe every TLSA RRset's zone is served by one server, which
 * the check asks at most 100 times a second: the check then bounds both the
 * DNS stage and the scan. Without it, the ratio shows the pipeline's own cost.
 *
 * Steps (each contender starts on a cold resolver: `testbed flush` empties
 * Unbound's caches):
 * 1. the synthetic universe of N domains, with about R distinct probes per
 *    domain (test/testbed/bin/synth; --skip-synth keeps the one generated,
 *    and every contender takes its first N domains);
 * 2. the DNS stage alone, twice: bench/dns/collect.ts collects the same
 *    domains' facts through the same resolver,
 *    - as `danesweep scan` runs its DNS stage (the baseline of the ratio):
 *      MX, addresses and TLSA, the MTA-STS and TLS-RPT records, and the
 *      authoritative servers of each TLSA RRset asked (the consistency check,
 *      with its per-server pacing), over the scan's default transport;
 *    - as bench/dns measures it, which is how issue 10's first figures were
 *      taken before the DNS stage also asked for MTA-STS, TLS-RPT and the
 *      servers' view (issue 14): MX, addresses and TLSA only, over UDP. Its
 *      ratio is printed too;
 * 3. a first scan into a new data directory (its creation included), then a
 *    second scan of the same universe into the same directory.
 * Each contender runs in its own process with the Node flags bin/danesweep
 * uses. Printed: domains/s, CPU ms per domain (and by thread: the pipeline's
 * main thread, the store's thread, V8's helper threads), peak RSS, store round
 * trips per domain, the store's CPU per domain (encoding blobs + PostgreSQL
 * running the statements, both as thread CPU time: Store.stats), the
 * bytes the database grew per domain for each scan, how busy the machine's
 * cores were during each contender and how much of them Unbound, Knot and the
 * test SMTP servers took (bench/proc.ts), the ratio end-to-end / DNS stage,
 * and the targets of issue 10:
 *   end to end >= 0.6 x the DNS stage; <= 1.0 ms CPU per domain; peak RSS
 *   < 512 MB; <= 0.05 round trips and < 0.4 ms store CPU per domain;
 *   <= 1 KB per domain for a first scan, <= 200 B for an unchanged one.
 * It measures, it does not judge: exit 0 whatever the figures, 1 when a
 * contender fails. BENCH_KEEP=1 keeps the two scans' store (for sizes.ts, diffscans.ts).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { NS_POLITENESS } from "@danesweep/dns";
import { PGLITE_NODE_ENV, PGLITE_NODE_FLAGS } from "@danesweep/store";
import { cpuSince, cpuSnapshot, serviceRole } from "../proc.ts";
import { flushResolver, resolverQueries, testbedDir, testbedUp } from "../testbed.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { values } = parseArgs({
  options: {
    n: { type: "string", default: "100000" },
    "probes-per-domain": { type: "string", default: "0.1" },
    pairs: { type: "string", default: "3" },
    "skip-synth": { type: "boolean", default: false },
    "skip-ns-check": { type: "boolean", default: false },
  },
});
const nsCheck = !values["skip-ns-check"];
const n = Number(values.n);
const ratio = Number(values["probes-per-domain"]);
const pairs = Number(values.pairs);
if (!Number.isInteger(pairs) || pairs < 1) {
  console.error(`bench/e2e: --pairs must be a whole number of at least 1, not ${values.pairs}`);
  process.exit(2);
}
const universe = join(testbedDir, "synth/domains.txt");
const resolver = process.env.BENCH_RESOLVER ?? "127.53.53.53";

/**
 * Runs a contender and returns the JSON its last line prints, with what the
 * machine did meanwhile: `coresBusy` (the machine's CPU over the wall time),
 * `service:ROLE` (CPU ms of Unbound, Knot, the test SMTP servers: the
 * resolver shares the cores with the contender) and `resolverQueries` (the
 * queries Unbound was asked since the flush before the contender).
 */
function run(args: string[], what: string, env: Record<string, string> = {}): Record<string, number> {
  const c0 = cpuSnapshot(serviceRole);
  const r = spawnSync(process.execPath, args, {
    encoding: "utf8",
    env: { ...PGLITE_NODE_ENV, ...process.env, ...env }, // as bin/danesweep
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 24,
  });
  const { coresBusy, roleMs } = cpuSince(c0, cpuSnapshot(serviceRole));
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    const out = JSON.parse(line) as Record<string, number>;
    out.coresBusy = coresBusy;
    for (const [role, ms] of roleMs) out[`service:${role}`] = ms;
    out.resolverQueries = resolverQueries();
    return out;
  } catch {
    console.error(`bench/e2e: ${what} failed (exit ${r.status}): ${line.slice(0, 300)}`);
    process.exit(1);
  }
}

testbedUp();
if (!values["skip-synth"]) {
  console.error(`bench/e2e: generating ${n} synthetic domains, ~${ratio} probes per domain`);
  execFileSync(join(root, "test/testbed/bin/synth"), [String(n), "--probes-per-domain", String(ratio)], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/**
 * The first N domains of the universe: the list every contender takes. The DNS stage reads N
 * of a list, but the scans (one.ts) read a list whole, so with --skip-synth and a larger universe
 * they would have scanned more domains than the baseline resolved.
 */
const firstN = readFileSync(universe, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"))
  .slice(0, n);
if (firstN.length < n) {
  console.error(
    `bench/e2e: ${universe} holds ${firstN.length} domains, fewer than --n ${n} (drop --skip-synth)`,
  );
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "danesweep-bench-e2e-"));
const list = join(dir, "domains.txt");
/** The data directory of the two scans the table reports (BENCH_KEEP). */
let keptData = "";
try {
  writeFileSync(list, `${firstN.join("\n")}\n`);
  const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");
  const rateOf = (r: Record<string, number>) => Number(r.domainsPerSec ?? n / ((r.wallMs ?? 1) / 1000));
  const cpuOf = (r: Record<string, number>) => Number(r.cpuMsPerDomain ?? (r.cpuMs ?? 0) / n);
  // A scan (one.ts) reports its domains, wall time and CPU; these are its rate and CPU per domain.
  const scanRate = (s: Record<string, number>) => (s.domains ?? n) / ((s.wallMs ?? 1) / 1000);
  const scanCpu = (s: Record<string, number>) => (s.cpuMs ?? 0) / (s.domains ?? n);
  const scanStoreCpu = (s: Record<string, number>) =>
    ((s.codecMs ?? 0) + (s.backendMs ?? 0)) / (s.domains ?? n);
  const collect = [join(root, "bench/dns/collect.ts"), "--domains", list, "--n", String(n)];
  const dnsAsScanned = (i: number) => {
    flushResolver();
    console.error(
      `bench/e2e: pair ${i} of ${pairs}: the DNS stage alone, as the scan runs it` +
        `${nsCheck ? "" : " without the consistency check"} (bench/dns/collect.ts)`,
    );
    return run(
      [
        ...collect,
        "--resolver",
        `${resolver}:53`,
        "--mail-policies",
        ...(nsCheck ? ["--ns-check"] : []),
        "--transport",
        "auto",
      ],
      "the DNS stage",
    );
  };
  const scanArgs: Record<string, string> = nsCheck
    ? {}
    : { BENCH_SCAN_ARGS: `${process.env.BENCH_SCAN_ARGS ?? ""} --skip-ns-check` };
  const scan = (what: string, data: string) => {
    flushResolver();
    console.error(`bench/e2e: ${what} of ${n} domains`);
    return run([...PGLITE_NODE_FLAGS, join(root, "bench/e2e/one.ts"), list, data], what, scanArgs);
  };
  const empty = run(
    [...PGLITE_NODE_FLAGS, join(root, "bench/e2e/one.ts"), "--size", join(dir, "empty")],
    "size",
  );
  // The pairs, side by side: each scan into a data directory of its own (created by the scan).
  const runs: { dns: Record<string, number>; scan: Record<string, number>; data: string }[] = [];
  for (let i = 1; i <= pairs; i++) {
    const dnsRun = dnsAsScanned(i);
    const data = join(dir, `data-${i}`);
    runs.push({ dns: dnsRun, scan: scan(`pair ${i} of ${pairs}: scan 1 (new store)`, data), data });
  }
  const pairRatio = (p: (typeof runs)[number]) => scanRate(p.scan) / rateOf(p.dns);
  const byRatio = [...runs].sort((a, b) => pairRatio(a) - pairRatio(b));
  const median = byRatio[(byRatio.length - 1) >> 1] as (typeof runs)[number];
  const dns = median.dns;
  flushResolver();
  console.error("bench/e2e: the DNS stage alone, MX, addresses and TLSA only (bench/dns/collect.ts)");
  const core = run([...collect, "--resolver", `${resolver}:53`], "the DNS stage, MX and TLSA only");
  // The second scan goes into the median pair's store: unchanged since its first scan.
  const scans: Record<string, number>[] = [median.scan, scan("scan 2 (unchanged)", median.data)];
  keptData = median.data;
  for (const p of runs) if (p !== median) rmSync(p.data, { recursive: true, force: true });

  const dnsRate = rateOf(dns);
  const coreRate = rateOf(core);
  console.log(
    `bench/e2e: ${n} synthetic domains, ~${ratio} probes per domain, resolver ${resolver} (cold for each)` +
      (nsCheck ? "" : "; no consistency check (--skip-ns-check), on either side"),
  );
  const header = [
    "contender",
    "domains/s",
    "CPU ms/dom",
    "peak RSS MB",
    "round trips/dom",
    "store CPU ms/dom",
    "bytes/dom",
  ];
  const dnsRow = (name: string, r: Record<string, number>) => [
    name,
    fmt(rateOf(r)),
    fmt(cpuOf(r), 3),
    fmt(Number(r.peakRssMb)),
    "-",
    "-",
    "-",
  ];
  const rows: string[][] = [
    dnsRow(nsCheck ? "DNS stage alone, as scanned" : "DNS stage alone, as scanned, no NS check", dns),
    dnsRow("DNS stage alone, MX+TLSA", core),
  ];
  let prevBytes = empty.bytes ?? 0;
  for (const [i, s] of scans.entries()) {
    const d = s.domains ?? n;
    rows.push([
      i === 0 ? "scan 1 (new store)" : "scan 2 (unchanged)",
      fmt(scanRate(s)),
      fmt(scanCpu(s), 3),
      fmt(s.maxRssMb ?? 0),
      fmt((s.statements ?? 0) / d, 4),
      fmt(scanStoreCpu(s), 3),
      fmt(((s.bytes ?? 0) - prevBytes) / d, 0),
    ]);
    prevBytes = s.bytes ?? 0;
  }
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (c: string[]) => c.map((x, i) => x.padStart(w[i] ?? 0)).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  if (runs.length > 1) {
    console.log(
      `the ${runs.length} pairs (DNS stage alone as scanned, then a first scan), in the order run; ` +
        "the table and the targets report the pair of median ratio:",
    );
    for (const [i, p] of runs.entries())
      console.log(
        `  pair ${i + 1}: DNS stage ${fmt(rateOf(p.dns))}/s at ${fmt(cpuOf(p.dns), 3)} ms, ` +
          `scan ${fmt(scanRate(p.scan))}/s at ${fmt(scanCpu(p.scan), 3)} ms, ` +
          `${fmt(p.scan.maxRssMb ?? 0)} MB: ratio ${fmt(pairRatio(p), 2)}${p === median ? " (median)" : ""}`,
      );
  }
  const asked = (dns as unknown as { nsCheck?: { checked?: number } }).nsCheck?.checked ?? 0;
  if (nsCheck)
    console.log(
      `the DNS stage as scanned asked the servers of ${asked} TLSA RRsets, at most ${NS_POLITENESS.perIpRate} a second per ` +
        `server address: the synthetic universe serves them all from one, so any contender that asks takes at least ` +
        `${fmt(Math.max(0, asked - NS_POLITENESS.perIpBurst) / NS_POLITENESS.perIpRate)} s`,
    );
  for (const [i, s] of scans.entries()) {
    if (s.code !== 0 || s.verdicts !== s.domains || s.mismatches !== 0)
      console.log(
        `WARNING: scan ${i + 1}: exit ${s.code}, ${s.verdicts}/${s.domains} verdicts, ${s.mismatches} not as generated`,
      );
  }
  // Where each scan's CPU went, by thread (one.ts threadCpuMs): the pipeline's main thread, the
  // store's thread (PGlite), V8's helper threads (the garbage collector's parallel and concurrent work).
  for (const [i, s] of scans.entries()) {
    const t = (s as unknown as { threadCpuMs?: Record<string, number> }).threadCpuMs ?? {};
    const d = s.domains ?? n;
    const parts = Object.entries(t)
      .filter(([, ms]) => ms > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => `${name} ${fmt(ms / d, 3)}`);
    if (parts.length > 0) console.log(`scan ${i + 1}, CPU ms per domain by thread: ${parts.join(", ")}`);
  }
  // The machine while each contender ran: how many of its cores were busy, and the CPU of the
  // resolver and the servers, which share them with the contender (a contender cannot go faster
  // than the cores left to it).
  const machineRows: [string, Record<string, number>][] = [
    ["DNS stage alone, as scanned", dns],
    ["DNS stage alone, MX+TLSA", core],
    ...scans.map((s, i): [string, Record<string, number>] => [`scan ${i + 1}`, s]),
  ];
  const roles = ["Unbound", "Knot", "test SMTP servers"];
  console.log(
    `the machine (${availableParallelism()} cores) while each ran: cores busy; CPU ms a domain of ${roles.join(", ")}; ` +
      "queries Unbound was asked a domain",
  );
  for (const [name, r] of machineRows) {
    const d = r.domains ?? n;
    console.log(
      `  ${name}: ${fmt(r.coresBusy ?? Number.NaN, 2)} cores busy; ` +
        roles.map((role) => fmt((r[`service:${role}`] ?? Number.NaN) / d, 3)).join(", ") +
        `; ${fmt((r.resolverQueries ?? Number.NaN) / d, 2)} queries`,
    );
  }
  const s1 = scans[0] as Record<string, number>;
  const s2 = scans[1] as Record<string, number>;
  const rate1 = scanRate(s1);
  const check = (ok: boolean) => (ok ? "met" : "NOT met");
  const e2eRatio = rate1 / dnsRate;
  const cpu1 = scanCpu(s1);
  const rss = Math.max(...runs.map((p) => p.scan.maxRssMb ?? 0), s2.maxRssMb ?? 0);
  const rt = (s1.statements ?? 0) / (s1.domains ?? n);
  const storeCpu1 = scanStoreCpu(s1);
  const b1 = ((s1.bytes ?? 0) - (empty.bytes ?? 0)) / (s1.domains ?? n);
  const b2 = ((s2.bytes ?? 0) - (s1.bytes ?? 0)) / (s2.domains ?? n);
  console.log("targets (issue 10):");
  console.log(
    `  end to end / DNS stage as the scan runs it: ${fmt(e2eRatio, 2)} (>= 0.6) ${check(e2eRatio >= 0.6)}`,
  );
  const coreRatio = rate1 / coreRate;
  console.log(
    `  end to end / DNS stage, MX, addresses and TLSA only: ${fmt(coreRatio, 2)} (>= 0.6) ${check(coreRatio >= 0.6)}`,
  );
  console.log(`  CPU per domain: ${fmt(cpu1, 3)} ms (<= 1.0) ${check(cpu1 <= 1.0)}`);
  console.log(
    `  peak RSS, data directory creation included${runs.length > 1 ? ", the largest of every scan" : ""}: ` +
      `${fmt(rss)} MB (< 512) ${check(rss < 512)}`,
  );
  console.log(`  store round trips per domain: ${fmt(rt, 4)} (<= 0.05) ${check(rt <= 0.05)}`);
  console.log(`  store CPU per domain: ${fmt(storeCpu1, 3)} ms (< 0.4) ${check(storeCpu1 < 0.4)}`);
  console.log(`  bytes per domain, first scan: ${fmt(b1, 0)} (<= 1024) ${check(b1 <= 1024)}`);
  console.log(`  bytes per domain, unchanged domain: ${fmt(b2, 0)} (<= 200) ${check(b2 <= 200)}`);
} finally {
  // BENCH_KEEP=1 keeps the store of the two scans for bench/e2e/sizes.ts and diffscans.ts.
  if (process.env.BENCH_KEEP) console.log(`bench/e2e: the store is kept in ${keptData}`);
  else rmSync(dir, { recursive: true, force: true });
}
