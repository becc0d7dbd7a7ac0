/**
 * DNS fact collection benchmark (a script, not a timed test).
 *
 *   node bench/dns/run.ts [--sizes 10000] [--domains FILE]
 *        [--resolver 127.53.53.53:53] [--window 1000] [--concurrency 256]
 *        [--transports udp,tcp] [--peers zdns|none] [--no-cold]
 *        [--flush "test/testbed/bin/testbed flush"] [--out FILE.json]
 *
 * Everything in one run, on the same domain list and the same resolver:
 *
 * cold rows: before each contender the resolver's caches are emptied
 *   (`testbed flush`: Unbound reloads in place, no restart), then
 *   - `stub <transport>`: danesweep's StubResolver collects the DomainFacts of
 *     the first N domains (collect.ts, its own process, no JIT warm-up: a
 *     warm-up would warm the resolver too); the first cold pass also records
 *     the distinct questions asked;
 *   - `zdns <transport>` (the peer, --peers zdns): ZDNS v2 asks the same
 *     questions (one run per record type, DO=1, --threads = --concurrency),
 *     over UDP (TCP on TC=1) and over TCP only.
 * warm rows: the resolver's cache now holds every answer; each stub transport
 *   again (with a JIT warm-up on a throwaway resolver), ZDNS again, then the
 *   resolver's own ceiling for the question list with dnsperf over UDP and TCP
 *   (DO=1, list repeated to run >= ~5 s, 4 sockets, --concurrency queries
 *   outstanding, as the stub's 4 TCP connections and per-upstream limit).
 *
 * Columns: domains/s (stub rows), queries/s, CPU ms per query sent (user +
 * system of the contender's process; the stub's includes the lookup plan and
 * its cache), CPU ms per domain (stub rows), peak RSS, timeouts / errors, and
 * the ratio of the query rate to the higher dnsperf rate. The machine's load
 * average is printed with the figures: on a shared machine every rate moves
 * with it.
 *
 * Domains: --domains, else the testbed's synthetic universe list
 * ($DANESWEEP_TESTBED_DIR/synth/domains.txt, written by test/testbed/bin/synth;
 * this script never generates it: synth reloads zones and restarts Unbound for
 * everyone), else (list "nxdomain-fallback") names that do not exist under the
 * signed synth. zone. The testbed is brought up only when its resolver does not
 * answer; it is never stopped. Peers: ZDNS from bench/peers/build.sh (built
 * once, cached); dnsperf from apt. Exits 2 on a usage or environment problem, 0
 * otherwise (the figures are reported, not judged).
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
    sizes: { type: "string", default: "10000" },
    domains: { type: "string" },
    resolver: { type: "string", default: "127.53.53.53:53" },
    window: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "256" },
    transports: { type: "string", default: "udp,tcp" },
    peers: { type: "string", default: "zdns" },
    "no-cold": { type: "boolean", default: false },
    flush: { type: "string", default: join(root, "test/testbed/bin/testbed") + " flush" },
    out: { type: "string" },
    "dnsperf-seconds": { type: "string", default: "5" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const [resolverHost, resolverPort] = (() => {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(values.resolver);
  return m ? [m[1]!, m[2]!] : [values.resolver, "53"];
})();
const transports = values.transports.split(",").filter(Boolean);
const peers = values.peers === "none" ? [] : values.peers.split(",").filter(Boolean);

function fail(msg: string): never {
  console.error(`bench/dns: ${msg}`);
  process.exit(2);
}
const say = (msg: string) => console.error(`bench/dns: ${msg}`);

async function resolverAnswers(): Promise<boolean> {
  const r = new StubResolver({ upstreams: [values.resolver], timeoutMs: 1000, retries: 1, cache: false });
  const l = await r.query(".", "SOA");
  await r.close();
  return l.outcome === "answer";
}

if (!(await resolverAnswers())) {
  say("resolver not answering; running test/testbed/bin/testbed up");
  const up = spawnSync(join(root, "test/testbed/bin/testbed"), ["up"], { stdio: "inherit" });
  if (up.status !== 0 || !(await resolverAnswers())) fail("the testbed resolver is not answering");
}

if (spawnSync("dnsperf", ["-h"], { stdio: "ignore" }).error) {
  say("installing dnsperf");
  spawnSync("apt-get", ["install", "-y", "dnsperf"], { stdio: "inherit" });
}

let zdnsBin: string | undefined;
if (peers.includes("zdns")) {
  const b = spawnSync(join(root, "bench/peers/build.sh"), ["zdns"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  zdnsBin = /^zdns (\S+)$/m.exec(b.stdout ?? "")?.[1];
  if (b.status !== 0 || !zdnsBin) fail("bench/peers/build.sh zdns failed");
}

function flushResolver(): void {
  const [cmd, ...args] = values.flush.split(" ").filter(Boolean);
  const r = spawnSync(cmd!, args, { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) fail(`"${values.flush}" failed: the resolver's cache could not be emptied`);
}

const work = mkdtempSync(join(tmpdir(), "bench-dns-"));
let domainsFile = values.domains ?? join(stateDir, "synth", "domains.txt");
let listKind = values.domains ? "given" : "synthetic universe";
if (!existsSync(domainsFile)) {
  if (values.domains) fail(`no domain list at ${domainsFile}`);
  // No synthetic universe yet: names under the signed synth. zone that do not
  // exist (secure NXDOMAIN, one query per domain). Said so in the report.
  say(`${domainsFile} missing (test/testbed/bin/synth writes it); using NXDOMAIN names under synth.`);
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
  cpuMs: number;
  cpuMsPerDomain: number;
  cpuUtil: number;
  peakRssMb: number;
  heapAfterGcMb?: number;
  timeouts: number;
  tally: { errors: number };
}

function collect(n: number, transport: string, o: { queriesOut?: string; jitWarmup?: number } = {}): Pass {
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
  if (o.queriesOut) args.push("--queries-out", o.queriesOut);
  if (o.jitWarmup !== undefined) args.push("--jit-warmup", String(o.jitWarmup));
  const out = execFileSync(process.execPath, args, {
    encoding: "utf8",
    maxBuffer: 1 << 24,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Pass;
}

interface PeerRun {
  wallMs: number;
  queries: number;
  cpuMs: number;
  peakRssMb: number;
  errors: number;
  statuses: Record<string, number>;
}

/**
 * ZDNS over the question list: one run per record type (it asks one type per
 * run), DO=1, as many threads as the stub's per-upstream concurrency. Wall
 * time, CPU and peak RSS come from GNU time; statuses from its JSON output.
 */
function zdns(queryFile: string, mode: "udp" | "tcp"): PeerRun {
  const byType = new Map<string, string[]>();
  for (const line of readFileSync(queryFile, "utf8").split("\n")) {
    const [name, type] = line.trim().split(/\s+/);
    if (!name || !type) continue;
    const list = byType.get(type) ?? [];
    list.push(name);
    byType.set(type, list);
  }
  const run: PeerRun = { wallMs: 0, queries: 0, cpuMs: 0, peakRssMb: 0, errors: 0, statuses: {} };
  for (const [type, names] of byType) {
    const input = join(work, `zdns-${type}.txt`);
    const output = join(work, `zdns-${type}.json`);
    writeFileSync(input, `${names.join("\n")}\n`);
    const args = [
      "-f",
      "%e %U %S %M",
      zdnsBin!,
      type,
      "--name-servers",
      `${resolverHost}:${resolverPort}`,
      "--dnssec",
      "--threads",
      values.concurrency,
      "--retries",
      "2",
      "--network-timeout",
      "3",
      "-f",
      input,
      "-o",
      output,
      "-q",
      "--verbosity",
      "1",
      ...(mode === "tcp" ? ["--tcp-only"] : []),
    ];
    const r = spawnSync("/usr/bin/time", args, { encoding: "utf8", maxBuffer: 1 << 24 });
    const m = /([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(r.stderr ?? "");
    if (r.status !== 0 || !m) fail(`zdns ${type} failed: ${(r.stderr ?? "").slice(-500)}`);
    run.wallMs += Number(m[1]) * 1000;
    run.cpuMs += (Number(m[2]) + Number(m[3])) * 1000;
    run.peakRssMb = Math.max(run.peakRssMb, Math.round(Number(m[4]) / 1024));
    run.queries += names.length;
    for (const line of readFileSync(output, "utf8").split("\n")) {
      if (!line) continue;
      const status = String(
        (JSON.parse(line) as { results?: Record<string, { status?: string }> }).results?.[type]?.status,
      );
      run.statuses[status] = (run.statuses[status] ?? 0) + 1;
      if (status !== "NOERROR" && status !== "NXDOMAIN") run.errors++;
    }
  }
  return run;
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

const load = () => loadavg().map((x) => Math.round(x * 100) / 100);
const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;

interface Row {
  n: number;
  cache: "cold" | "warm";
  contender: string;
  domainsPerSec?: number;
  queriesPerSec: number;
  cpuMsPerQuery: number;
  cpuMsPerDomain?: number;
  peakRssMb: number;
  timeouts?: number;
  errors: number;
  ratio?: number;
  load1: number;
  detail?: unknown;
}
const rows: Row[] = [];

function stubRow(n: number, cache: "cold" | "warm", transport: string, m: Pass): Row {
  return {
    n,
    cache,
    contender: `stub ${transport}`,
    domainsPerSec: m.domainsPerSec,
    queriesPerSec: m.queriesPerSec,
    cpuMsPerQuery: round(m.cpuMs / Math.max(m.queries, 1), 4),
    cpuMsPerDomain: m.cpuMsPerDomain,
    peakRssMb: m.peakRssMb,
    timeouts: m.timeouts,
    errors: m.tally.errors,
    load1: load()[0]!,
    detail: m.tally,
  };
}

function peerRow(n: number, cache: "cold" | "warm", mode: "udp" | "tcp", z: PeerRun): Row {
  return {
    n,
    cache,
    contender: `zdns ${mode}`,
    queriesPerSec: Math.round((z.queries / z.wallMs) * 1000),
    cpuMsPerQuery: round(z.cpuMs / Math.max(z.queries, 1), 4),
    peakRssMb: z.peakRssMb,
    errors: z.errors,
    load1: load()[0]!,
    detail: z.statuses,
  };
}

let ceiling = { udp: Number.NaN, tcp: Number.NaN };
try {
  for (const n of sizes) {
    const qfile = join(work, `queries-${n}.txt`);
    if (!values["no-cold"]) {
      for (const [i, t] of transports.entries()) {
        say(`N=${n}: cold resolver, stub over ${t}`);
        flushResolver();
        rows.push(
          stubRow(n, "cold", t, collect(n, t, { jitWarmup: 0, ...(i === 0 ? { queriesOut: qfile } : {}) })),
        );
      }
      if (zdnsBin) {
        for (const mode of ["udp", "tcp"] as const) {
          say(`N=${n}: cold resolver, zdns over ${mode}`);
          flushResolver();
          rows.push(peerRow(n, "cold", mode, zdns(qfile, mode)));
        }
      }
    }
    say(`N=${n}: warm-up pass (fills the resolver's cache)`);
    const warmup = collect(n, transports[0]!, existsSync(qfile) ? {} : { queriesOut: qfile });
    for (const t of transports) {
      say(`N=${n}: warm resolver, stub over ${t}`);
      rows.push(stubRow(n, "warm", t, collect(n, t)));
    }
    if (zdnsBin) {
      for (const mode of ["udp", "tcp"] as const) {
        say(`N=${n}: warm resolver, zdns over ${mode}`);
        rows.push(peerRow(n, "warm", mode, zdns(qfile, mode)));
      }
    }
    const lines = readFileSync(qfile, "utf8").split("\n").filter(Boolean).length;
    say(`N=${n}: dnsperf (UDP, TCP) over ${lines} distinct questions, warm resolver`);
    const rate = Math.max(warmup.queriesPerSec, ...rows.filter((r) => r.n === n).map((r) => r.queriesPerSec));
    const dpUdp = dnsperf(qfile, lines, rate, "udp");
    const dpTcp = dnsperf(qfile, lines, rate, "tcp");
    for (const dp of [dpUdp, dpTcp]) if (!Number.isFinite(dp.qps)) console.error(dp.raw);
    ceiling = { udp: Math.round(dpUdp.qps), tcp: Math.round(dpTcp.qps) };
    const top = Math.max(dpUdp.qps || 0, dpTcp.qps || 0);
    for (const r of rows) if (r.n === n) r.ratio = round(r.queriesPerSec / top, 2);
    for (const [mode, dp] of [
      ["udp", dpUdp],
      ["tcp", dpTcp],
    ] as const) {
      rows.push({
        n,
        cache: "warm",
        contender: `dnsperf ${mode} (ceiling)`,
        queriesPerSec: Math.round(dp.qps),
        cpuMsPerQuery: Number.NaN,
        peakRssMb: Number.NaN,
        errors: dp.lost,
        ratio: round(dp.qps / top, 2),
        load1: load()[0]!,
      });
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const cols: (keyof Row)[] = [
  "n",
  "cache",
  "contender",
  "domainsPerSec",
  "queriesPerSec",
  "cpuMsPerQuery",
  "cpuMsPerDomain",
  "peakRssMb",
  "timeouts",
  "errors",
  "ratio",
  "load1",
];
const cell = (v: unknown) =>
  v === undefined || (typeof v === "number" && Number.isNaN(v)) ? "-" : String(v);
const table = rows.map((r) => cols.map((c) => cell(r[c])));
const widths = cols.map((c, i) => Math.max(c.length, ...table.map((t) => t[i]!.length)));
console.log(cols.map((c, i) => c.padEnd(widths[i]!)).join("  "));
for (const t of table) console.log(t.map((c, i) => c.padEnd(widths[i]!)).join("  "));
const cpus = execFileSync("nproc", { encoding: "utf8" }).trim();
const report = {
  when: new Date().toISOString(),
  node: process.version,
  cpus,
  resolver: values.resolver,
  list: listKind,
  concurrency: Number(values.concurrency),
  peers: zdnsBin ? { zdns: zdnsBin } : {},
  dnsperfCeiling: ceiling,
  loadAtEnd: load(),
  rows,
};
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + "\n");
console.log(JSON.stringify(report));
