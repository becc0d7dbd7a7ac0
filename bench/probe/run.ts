/**
 * Prober benchmark (not a test): STARTTLS probes against the SMTP test servers
 * on loopback. The servers run in a child process (test/smtp/bin/smtp-servers.ts)
 * so that their CPU is not counted as the client's.
 *
 *   node --expose-gc bench/probe/run.ts [--n 2000] [--concurrency 1,10,50,200]
 *        [--inflight 5000] [--slow-ms 20000] [--peer zgrab2|none] [--peer-concurrency 50]
 *
 * Prints one table. Rows:
 *   baseline tcp+tls   dialer connect + TLS handshake, no SMTP (implicit-TLS server)
 *   baseline smtp      a probe of a server without STARTTLS (SMTP dialogue only)
 *   starttls c=K       full STARTTLS probes, K at once
 *   zgrab2 starttls    the peer baseline, same run, same STARTTLS server: ZGrab2
 *                      v1.0.0 (bench/peers/build.sh) smtp module, --send-quit,
 *                      STARTTLS when offered, one target line per probe (the
 *                      same SNI names), --senders = --peer-concurrency, no
 *                      rate limit; its process's CPU (GNU time) and wall time,
 *                      startup included, errors = results without a TLS handshake
 *   slow server        --inflight probes held at once by a server that delays its
 *                      banner by --slow-ms; heap and RSS per in-flight probe are
 *                      measured while all of them wait, errors counted after
 * Columns: probes/s, client CPU ms per probe (user+system of this process),
 * heap bytes per in-flight probe (slow row), errors (status not the expected one).
 * Targets: <= 2 ms client CPU per STARTTLS probe and no more than ZGrab2's on
 * the same server, <= 64 KiB heap per in-flight probe, 5,000 in flight. Exit code 0 whatever the figures (it measures, it does
 * not judge); 1 when the servers cannot start.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Dialer } from "../../libs/probe/src/dialer.ts";
import { Prober } from "../../libs/probe/src/index.ts";
import { makeCertChain } from "../../test/smtp/src/certs.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}
const N = Number(arg("n", "2000"));
const CONCURRENCY = arg("concurrency", "1,10,50,200").split(",").map(Number);
const INFLIGHT = Number(arg("inflight", "5000"));
const SLOW_MS = Number(arg("slow-ms", "20000"));
const PEER = arg("peer", "zgrab2");
const PEER_CONCURRENCY = Number(arg("peer-concurrency", "50"));

setFlagsFromString("--expose-gc");
const gc = (globalThis as { gc?: () => void }).gc ?? (runInNewContext("gc") as () => void);

// ---------------------------------------------------------------- servers
const dir = mkdtempSync(join(tmpdir(), "ds-bench-probe-"));
const chain = makeCertChain({ length: 2, names: ["mx.bench.test"] });
writeFileSync(join(dir, "chain.pem"), chain.cert);
writeFileSync(join(dir, "leaf.key"), chain.key);
const tlsFiles = { certFile: "chain.pem", keyFile: "leaf.key" };
writeFileSync(
  join(dir, "servers.json"),
  JSON.stringify({
    servers: [
      { host: "127.0.0.1", port: 0, mode: "starttls", ...tlsFiles },
      { host: "127.0.0.1", port: 0, mode: "plain" },
      { host: "127.0.0.1", port: 0, mode: "implicit-tls", ...tlsFiles },
      { host: "127.0.0.1", port: 0, mode: "slow-banner", bannerDelayMs: SLOW_MS, ...tlsFiles },
    ],
  }),
);
const cli = fileURLToPath(new URL("../../test/smtp/bin/smtp-servers.ts", import.meta.url));
const child = spawn(process.execPath, [cli, "--config", join(dir, "servers.json")], {
  stdio: ["ignore", "pipe", "inherit"],
});
const ports: Record<string, number> = {};
for await (const line of createInterface({ input: child.stdout })) {
  const e = JSON.parse(line) as { event: string; mode?: string; port?: number };
  if (e.event === "listening") ports[e.mode!] = e.port!;
  if (e.event === "ready") break;
}
if (Object.keys(ports).length !== 4) {
  console.error("bench/probe: servers did not start");
  process.exit(1);
}

// ---------------------------------------------------------------- measuring
interface Row {
  name: string;
  probes: number;
  seconds: number;
  cpuMsPerProbe: number;
  heapPerInflight?: number;
  rssPerInflight?: number;
  errors: number;
  note?: string;
}
const rows: Row[] = [];

function opts(concurrency: number) {
  return {
    ehloName: "bench.danesweep.test",
    allowPrivate: true,
    perIpRate: 1e9,
    perIpBurst: 1e9,
    perIpConcurrency: 100_000,
    globalConcurrency: Math.max(concurrency, 1),
    deadlineMs: SLOW_MS + 120_000,
    commandTimeoutMs: SLOW_MS + 60_000,
    connectTimeoutMs: 60_000,
  };
}

async function pool(n: number, concurrency: number, one: (i: number) => Promise<boolean>) {
  let next = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        if (!(await one(i))) errors++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuMsPerProbe: (cpu.user + cpu.system) / 1000 / n, errors };
}

// warm-up (JIT, first TLS context)
{
  const p = new Prober(opts(10));
  await pool(200, 10, async (i) => (await p.probe(req("starttls", i))).status === "tls-ok");
  await p.close();
}

function req(mode: string, i: number) {
  return { ip: "127.0.0.1", port: ports[mode]!, sni: `h${i}.bench.test`, mxHost: "mx.bench.test" };
}

// baseline: TCP connect + TLS handshake through the dialer, no SMTP
{
  const o = opts(50);
  const d = new Dialer({ ...o, optOut: undefined, now: () => performance.timeOrigin + performance.now() });
  const r = await pool(N, 50, async (i) => {
    const c = await d.open(req("implicit-tls", i), 10_000);
    if (!c.ok) return false;
    const t = await d.startTls(c.socket, `h${i}.bench.test`, 10_000);
    const ok = t.ok && t.tls.getPeerX509Certificate() !== undefined;
    if (t.ok) t.tls.destroy();
    c.socket.destroy();
    c.release();
    return ok;
  });
  rows.push({ name: "baseline tcp+tls c=50", probes: N, ...r });
}

// baseline: SMTP only (no STARTTLS offered)
{
  const p = new Prober(opts(50));
  const r = await pool(
    N,
    50,
    async (i) => (await p.probe(req("plain", i))).status === "starttls-not-offered",
  );
  await p.close();
  rows.push({ name: "baseline smtp c=50", probes: N, ...r });
}

// STARTTLS probes at several concurrencies
for (const c of CONCURRENCY) {
  const p = new Prober(opts(c));
  const n = c === 1 ? Math.min(N, 500) : N;
  let group = "";
  const r = await pool(n, c, async (i) => {
    const f = await p.probe(req("starttls", i));
    group ||= f.tls?.group ?? "";
    return f.status === "tls-ok";
  });
  await p.close();
  rows.push({ name: `starttls c=${c}`, probes: n, ...r, note: `group ${group}` });
}

// peer baseline: ZGrab2 on the same STARTTLS server, in its own process
if (PEER === "zgrab2") {
  const built = spawnSync(fileURLToPath(new URL("../peers/build.sh", import.meta.url)), ["zgrab2"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const bin = /^zgrab2 (\S+)$/m.exec(built.stdout ?? "")?.[1];
  if (built.status !== 0 || !bin) {
    console.error("bench/probe: bench/peers/build.sh zgrab2 failed; no peer row");
  } else {
    const input = join(dir, "zgrab2-targets.csv");
    const output = join(dir, "zgrab2.jsonl");
    const blocklist = join(dir, "zgrab2-blocklist.conf"); // empty: loopback is our test server
    writeFileSync(input, Array.from({ length: N }, (_, i) => `127.0.0.1,h${i}.bench.test\n`).join(""));
    writeFileSync(blocklist, "");
    const r = spawnSync(
      "/usr/bin/time",
      [
        "-f",
        "%e %U %S",
        bin,
        "smtp",
        "--port",
        String(ports.starttls),
        "--send-quit",
        "--senders",
        String(PEER_CONCURRENCY),
        "--server-rate-limit",
        "1000000000",
        "--blocklist-file",
        blocklist,
        "--input-file",
        input,
        "--output-file",
        output,
        "--metadata-file",
        "/dev/null",
        "--log-file",
        "/dev/null",
        "--status-updates-file",
        "/dev/null",
      ],
      { encoding: "utf8", maxBuffer: 1 << 24 },
    );
    const m = /([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr ?? "");
    if (r.status !== 0 || !m) {
      console.error(`bench/probe: zgrab2 failed: ${(r.stderr ?? "").slice(-500)}`);
    } else {
      let ok = 0;
      for (const line of readFileSync(output, "utf8").split("\n")) {
        if (!line) continue;
        const smtp = (
          JSON.parse(line) as { data?: { smtp?: { status?: string; result?: { tls?: unknown } } } }
        ).data?.smtp;
        if (smtp?.status === "success" && smtp.result?.tls) ok++;
      }
      rows.push({
        name: `zgrab2 starttls c=${PEER_CONCURRENCY}`,
        probes: N,
        seconds: Number(m[1]),
        cpuMsPerProbe: ((Number(m[2]) + Number(m[3])) * 1000) / N,
        errors: N - ok,
        note: "zgrab2 v1.0.0, own process",
      });
    }
  }
}

// slow server: INFLIGHT probes held at once
{
  const p = new Prober(opts(INFLIGHT));
  gc();
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const all = Array.from({ length: INFLIGHT }, (_, i) => p.probe(req("slow-banner", i)));
  // wait until every probe is connected and waiting for the banner
  const deadline = Date.now() + SLOW_MS * 0.6;
  while (p.stats().active < INFLIGHT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const held = p.stats().active;
  await new Promise((r) => setTimeout(r, 500));
  gc();
  gc();
  const mem = process.memoryUsage();
  const facts = await Promise.all(all);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const errors = facts.filter((f) => f.status !== "tls-ok");
  const byStatus = new Map<string, number>();
  for (const f of errors) byStatus.set(f.status, (byStatus.get(f.status) ?? 0) + 1);
  await p.close();
  rows.push({
    name: `slow server, ${INFLIGHT} at once`,
    probes: INFLIGHT,
    seconds,
    cpuMsPerProbe: (cpu.user + cpu.system) / 1000 / INFLIGHT,
    heapPerInflight: (mem.heapUsed - heap0) / Math.max(held, 1),
    rssPerInflight: (mem.rss - rss0) / Math.max(held, 1),
    errors: errors.length,
    note: `${held} held at once${errors.length ? `; ${[...byStatus].map(([s, k]) => `${s}=${k}`).join(" ")}` : ""}`,
  });
}

child.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });

// ---------------------------------------------------------------- report
const fmt = (x: number | undefined, d = 0) => (x === undefined ? "-" : x.toFixed(d));
const header = [
  "row",
  "probes",
  "probes/s",
  "cpu ms/probe",
  "heap B/in-flight",
  "rss B/in-flight",
  "errors",
  "note",
];
const table = rows.map((r) => [
  r.name,
  String(r.probes),
  fmt(r.probes / r.seconds),
  fmt(r.cpuMsPerProbe, 3),
  fmt(r.heapPerInflight),
  fmt(r.rssPerInflight),
  String(r.errors),
  r.note ?? "",
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 || i === 7 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
console.log(
  `node ${process.version}, openssl ${process.versions.openssl}, server in a child process on loopback`,
);
console.log(line(header));
for (const t of table) console.log(line(t));
console.log(
  "targets: cpu <= 2 ms per STARTTLS probe and <= zgrab2's; heap <= 65536 B per in-flight probe; 5000 in flight without errors",
);
