/**
 * DNS fact collection benchmark (a script, not a timed test).
 *
 *   node bench/dns/run.ts [--sizes 1000,10000,100000] [--domains FILE]
 *        [--resolver 127.53.53.53:53] [--window 1000] [--concurrency 256]
 *        [--transports udp,tcp] [--out FILE.json]
 *
 * For each N: a warm-up pass (fills Unbound's cache and records the distinct
 * questions asked), one measured pass per transport, each in a fresh process
 * (domains/s, queries/s, CPU ms per domain, peak RSS, heap in use after a full
 * GC), then the resolver's own ceiling for the same question list with
 * dnsperf over UDP and over TCP (DO=1, list repeated to run >= ~5 s, the same
 * concurrency: 4 sockets, --concurrency queries outstanding, as the stub's 4
 * TCP connections and per-upstream limit), and the ratio of each pass's query
 * rate to the higher of the two dnsperf rates. Target: ratio >= 0.7, RSS flat
 * as N grows. The machine's load average is reported with the figures: on a
 * shared machine both rates move with it.
 *
 * Domains: --domains, else the testbed's synthetic universe list
 * ($DANESWEEP_TESTBED_DIR/synth/domains.txt, written by test/testbed/bin/synth),
 * else (reported as list "nxdomain-fallback") names that do not exist under
 * the signed synth. zone: one secure-NXDOMAIN query per domain.
 * The testbed is brought up when its resolver does not answer; it is never stopped.
 * Exits 2 on a usage or environment problem, 0 otherwise (the figures are
 * reported, not judged).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { StubResolver } from "@danesweep/dns";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const stateDir = process.env.DANESWEEP_TESTBED_DIR ?? "/var/tmp/danesweep-testbed";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,10000,100000" },
    domains: { type: "string" },
    resolver: { type: "string", default: "127.53.53.53:53" },
    window: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "256" },
    transports: { type: "string", default: "udp,tcp" },
    out: { type: "string" },
    "dnsperf-seconds": { type: "string", default: "5" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const [resolverHost, resolverPort] = (() => {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(values.resolver);
  return m ? [m[1]!, m[2]!] : [values.resolver, "53"];
})();

function fail(msg: string): never {
  console.error(`bench/dns: ${msg}`);
  process.exit(2);
}

async function resolverAnswers(): Promise<boolean> {
  const r = new StubResolver({ upstreams: [values.resolver], timeoutMs: 1000, retries: 1, cache: false });
  const l = await r.query(".", "SOA");
  await r.close();
  return l.outcome === "answer";
}

if (!(await resolverAnswers())) {
  console.error("bench/dns: resolver not answering; running test/testbed/bin/testbed up");
  const up = spawnSync(join(root, "test/testbed/bin/testbed"), ["up"], { stdio: "inherit" });
  if (up.status !== 0 || !(await resolverAnswers())) fail("the testbed resolver is not answering");
}

if (spawnSync("dnsperf", ["-h"], { stdio: "ignore" }).error) {
  console.error("bench/dns: installing dnsperf");
  spawnSync("apt-get", ["install", "-y", "dnsperf"], { stdio: "inherit" });
}

const work = mkdtempSync(join(tmpdir(), "bench-dns-"));
let domainsFile = values.domains ?? join(stateDir, "synth", "domains.txt");
let listKind = values.domains ? "given" : "synthetic universe";
if (!existsSync(domainsFile)) {
  if (values.domains) fail(`no domain list at ${domainsFile}`);
  // No synthetic universe yet: names under the signed synth. zone that do not
  // exist (secure NXDOMAIN, one query per domain). Said so in the report.
  console.error(
    `bench/dns: ${domainsFile} missing (test/testbed/bin/synth writes it); using NXDOMAIN names under synth.`,
  );
  domainsFile = join(work, "nx-domains.txt");
  listKind = "nxdomain-fallback";
  writeFileSync(
    domainsFile,
    Array.from({ length: Math.max(...sizes) }, (_, i) => `bench-${i}.synth\n`).join(""),
  );
}
const available = readFileSync(domainsFile, "utf8")
  .split("\n")
  .filter((l) => l.trim() && !l.startsWith("#")).length;
const maxN = Math.max(...sizes);
if (available < maxN) fail(`${domainsFile} has ${available} domains; the largest size asks ${maxN}`);

interface Pass {
  n: number;
  wallMs: number;
  domainsPerSec: number;
  queries: number;
  queriesPerSec: number;
  cpuMsPerDomain: number;
  cpuUtil: number;
  peakRssMb: number;
  heapAfterGcMb?: number;
  timeouts: number;
  tally: unknown;
}

function collect(n: number, transport: string, queriesOut?: string): Pass {
  const args = [
    "--expose-gc",
    join(here, "collect.ts"),
    "--transport",
    transport,
    "--domains",
    domainsFile,
    "--n",
    String(n),
    "--resolver",
    values.resolver,
    "--window",
    values.window,
    "--concurrency",
    values.concurrency,
  ];
  if (queriesOut) args.push("--queries-out", queriesOut);
  const out = execFileSync(process.execPath, args, {
    encoding: "utf8",
    maxBuffer: 1 << 24,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Pass;
}

function dnsperf(
  queryFile: string,
  lines: number,
  ratePerSec: number,
  mode: "udp" | "tcp",
): { qps: number; lost: number; raw: string } {
  // Repeat the list so the run lasts about the configured seconds at the rate we saw.
  const seconds = Number(values["dnsperf-seconds"]);
  const runs = Math.max(1, Math.ceil((Math.max(ratePerSec, 1000) * seconds) / Math.max(lines, 1)));
  const r = spawnSync(
    "dnsperf",
    [
      "-s",
      resolverHost,
      "-p",
      resolverPort,
      "-d",
      queryFile,
      "-D",
      "-n",
      String(runs),
      "-l",
      String(seconds * 4),
      "-c",
      "4",
      "-q",
      values.concurrency,
      "-t",
      "5",
      "-m",
      mode,
    ],
    { encoding: "utf8", maxBuffer: 1 << 24 },
  );
  const raw = (r.stdout ?? "") + (r.stderr ?? "");
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(raw)?.[1] ?? "NaN");
  const lost = Number(/Queries lost:\s+(\d+)/.exec(raw)?.[1] ?? "NaN");
  return { qps, lost, raw };
}

const transports = values.transports.split(",").filter(Boolean);
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);
const rows: Record<string, unknown>[] = [];
try {
  for (const n of sizes) {
    const qfile = join(work, `queries-${n}.txt`);
    console.error(`bench/dns: N=${n}: warm-up pass`);
    const warm = collect(n, transports[0]!, qfile);
    const passes = transports.map((t) => {
      console.error(`bench/dns: N=${n}: measured pass over ${t}`);
      return collect(n, t);
    });
    const lines = readFileSync(qfile, "utf8").split("\n").filter(Boolean).length;
    console.error(`bench/dns: N=${n}: dnsperf (UDP, TCP) over ${lines} distinct questions`);
    const rate = Math.max(...passes.map((m) => m.queriesPerSec));
    const dpUdp = dnsperf(qfile, lines, rate, "udp");
    const dpTcp = dnsperf(qfile, lines, rate, "tcp");
    for (const dp of [dpUdp, dpTcp]) if (!Number.isFinite(dp.qps)) console.error(dp.raw);
    const ceiling = Math.max(dpUdp.qps || 0, dpTcp.qps || 0);
    for (const [i, m] of passes.entries()) {
      rows.push({
        n,
        transport: transports[i],
        domainsPerSec: m.domainsPerSec,
        queriesPerSec: m.queriesPerSec,
        cpuMsPerDomain: m.cpuMsPerDomain,
        cpuUtil: m.cpuUtil,
        peakRssMb: m.peakRssMb,
        heapAfterGcMb: m.heapAfterGcMb,
        timeouts: m.timeouts,
        warmQueriesPerSec: warm.queriesPerSec,
        questions: lines,
        dnsperfUdpQps: Math.round(dpUdp.qps),
        dnsperfTcpQps: Math.round(dpTcp.qps),
        dnsperfLost: dpUdp.lost + dpTcp.lost,
        ratio: Math.round((m.queriesPerSec / ceiling) * 100) / 100,
        load1: load()[0],
        tally: m.tally,
      });
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const cols = [
  "n",
  "transport",
  "domainsPerSec",
  "queriesPerSec",
  "cpuMsPerDomain",
  "peakRssMb",
  "heapAfterGcMb",
  "dnsperfUdpQps",
  "dnsperfTcpQps",
  "ratio",
  "timeouts",
  "load1",
];
console.log(cols.join("\t"));
for (const r of rows) console.log(cols.map((c) => String(r[c])).join("\t"));
const cpus = execFileSync("nproc", { encoding: "utf8" }).trim();
const report = {
  when: new Date().toISOString(),
  node: process.version,
  cpus,
  resolver: values.resolver,
  list: listKind,
  concurrency: Number(values.concurrency),
  loadAtEnd: load(),
  rows,
};
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + "\n");
console.log(JSON.stringify(report));
