/**
 * Export benchmark (not a test): does the API keep answering while clients
 * abandon NDJSON exports on the embedded store?
 *
 *   node bench/api/exports.ts [--rows 20000] [--exports 100] [--seconds 15]
 *        [--baseline-seconds 5] [--gap-ms 10] [--profile DIR]
 *
 * Set-up: a PGlite data directory (the embedded store) holding one scan of
 * `--rows` verdicts (real verdict records: judge() on seed case 1, renamed
 * per domain) and analysed as the embedded runner leaves a scan's tables
 * (Store.maintain), served by the real `danesweep serve --data DIR` in a child
 * process with its default settings (rate limits, export cap).
 * Phases, in one run:
 *   baseline   /healthz sampled open-loop (one request due every `--gap-ms`,
 *              latency counted from when it was due, so a stall is not hidden
 *              by the requests it held back) for `--baseline-seconds`, no
 *              export running;
 *   abandoned  `--exports` clients ask for the scan's results as NDJSON at
 *              once; each one that gets 200 reads the first chunk of the body
 *              and closes the connection, the others count their status.
 *              /healthz is sampled the same way for at least `--seconds`,
 *              and until the server reports no export running
 *              (danesweep_api_exports_active on /metrics).
 * Prints p50 / p99 / max of /healthz for both phases, the export answers by
 * status, how long the server took to stop every export, and the server's
 * peak RSS as /metrics reports it. Target: /healthz p99 < 100 ms during 100
 * abandoned exports of a 20k-row scan. Exit code 0 whatever the figures.
 * `--profile DIR` writes a V8 CPU profile of the server there (--cpu-prof).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, get, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openStore, PGLITE_NODE_ENV, PGLITE_NODE_FLAGS, sql } from "@danesweep/store";
import { insertBulkScan } from "../../libs/store/test/bulk.ts";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number`);
  return v;
}

const ROWS = arg("rows", 20_000);
const EXPORTS = arg("exports", 100);
const SECONDS = arg("seconds", 15);
const BASELINE_SECONDS = arg("baseline-seconds", 5);
const GAP_MS = arg("gap-ms", 10);
const PROFILE_DIR = process.argv.includes("--profile")
  ? process.argv[process.argv.indexOf("--profile") + 1]
  : undefined;
const SCAN = "BENCHEXPORT";
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function load(dataDir: string): Promise<void> {
  const store = await openStore({ dataDir });
  try {
    await insertBulkScan(store, SCAN, ROWS, {
      startedAt: "2024-01-01T00:00:00.000Z",
      shape: {
        domain: sql`'d' || lpad(g::text, 7, '0') || '.bench'`,
        tld: sql`'bench'`,
        mx: sql`'mx' || (g % 3) || '.provider' || (g % 2000) || '.net'`,
        provider: sql`'provider' || (g % 2000) || '.net'`,
      },
    });
  } finally {
    await store.close();
  }
}

function startServer(dataDir: string): Promise<{ address: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      ...PGLITE_NODE_FLAGS,
      ...(PROFILE_DIR !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : []),
      join(root, "services/cli/src/main.ts"),
      "serve",
      "--data",
      dataDir,
      "--port",
      "0",
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...PGLITE_NODE_ENV, ...process.env } },
  );
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  return new Promise((ok, fail) => {
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString("utf8");
      const m = /on (http:\/\/[0-9.]+:\d+)/.exec(out);
      if (m)
        ok({
          address: m[1] as string,
          stop: async () => {
            child.kill("SIGTERM");
            await exited;
          },
        });
    });
    child.once("exit", (code) => fail(new Error(`danesweep serve exited with ${code}: ${out}`)));
  });
}

/** /healthz samples (up to 64 connections) and /metrics reads (one) have their own agents. */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const metricsAgent = new Agent({ keepAlive: true, maxSockets: 1 });

function timedGet(url: string, via = agent): Promise<{ ms: number; status: number; body: string }> {
  const t = performance.now();
  return new Promise((ok, fail) => {
    get(url, { agent: via }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => ok({ ms: performance.now() - t, status: res.statusCode ?? 0, body }));
      res.on("error", fail);
    }).on("error", fail);
  });
}

/**
 * Samples /healthz open-loop: a request is due every `--gap-ms` whether or not
 * the ones before have been answered, and each counts from when it was due,
 * so a server that stalls for 20 s shows 20 s of slow samples, not one.
 */
async function sample(address: string, until: () => boolean): Promise<number[]> {
  const ms: number[] = [];
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; !until(); i++) {
    const due = start + i * GAP_MS;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(
      timedGet(`${address}/healthz`).then((r) => {
        if (r.status !== 200) throw new Error(`/healthz answered ${r.status}`);
        ms.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(pending);
  return ms;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
}

/** One client that asks for the export and goes away after the first chunk. */
function abandonedExport(address: string): Promise<string> {
  const u = new URL(`${address}/v1/scans/${SCAN}/results`);
  return new Promise((ok) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, headers: { accept: "application/x-ndjson" } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          res.on("end", () => ok(String(res.statusCode)));
          return;
        }
        res.once("data", () => {
          req.destroy();
          ok("200 (abandoned after the first chunk)");
        });
      },
    );
    req.on("error", (e) => ok(`error ${(e as NodeJS.ErrnoException).code ?? e}`));
    req.end();
  });
}

/** Reads the gauges this bench follows from /metrics (undefined when the server does not have them). */
async function metrics(address: string): Promise<{ active: number | undefined; rss: number | undefined }> {
  const r = await timedGet(`${address}/metrics`, metricsAgent);
  const num = (name: string) => {
    const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, "m").exec(r.body);
    return m ? Number(m[1]) : undefined;
  };
  return { active: num("danesweep_api_exports_active"), rss: num("process_resident_memory_bytes") };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "danesweep-bench-exports-"));
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const t0 = performance.now();
    await load(dataDir);
    console.log(`loaded ${ROWS} verdicts into PGlite in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    server = await startServer(dataDir);
    const address = server.address;
    await sample(
      address,
      (() => {
        const end = performance.now() + 1000;
        return () => performance.now() > end;
      })(),
    ); // warm-up

    const baseEnd = performance.now() + BASELINE_SECONDS * 1000;
    const baseline = await sample(address, () => performance.now() > baseEnd);

    const statuses = new Map<string, number>();
    let rssPeak = 0;
    let activeSeen = false;
    let stoppedAt: number | undefined;
    const start = performance.now();
    const clients = Promise.all(Array.from({ length: EXPORTS }, () => abandonedExport(address))).then(
      (rs) => {
        for (const s of rs) statuses.set(s, (statuses.get(s) ?? 0) + 1);
      },
    );
    let clientsDone = false;
    void clients.then(() => {
      clientsDone = true;
    });
    // A second connection follows the server's gauges while /healthz is sampled on the first.
    const watcher = (async () => {
      while (stoppedAt === undefined) {
        const m = await metrics(address);
        if (m.rss !== undefined) rssPeak = Math.max(rssPeak, m.rss);
        if (m.active !== undefined && m.active > 0) activeSeen = true;
        if (clientsDone && (m.active ?? 0) === 0) stoppedAt = performance.now();
        await sleep(100);
      }
    })();
    const during = await sample(
      address,
      () => performance.now() - start > SECONDS * 1000 && stoppedAt !== undefined,
    );
    await clients;
    await watcher;

    const row = (name: string, xs: number[]) =>
      `${name.padEnd(44)} ${String(xs.length).padStart(7)}  ${pct(xs, 50).toFixed(1).padStart(7)}  ${pct(
        xs,
        99,
      )
        .toFixed(1)
        .padStart(7)}  ${Math.max(...xs)
        .toFixed(1)
        .padStart(8)}`;
    console.log(`${"/healthz".padEnd(44)} samples   p50 ms   p99 ms    max ms`);
    console.log(row("baseline (no export running)", baseline));
    console.log(row(`during ${EXPORTS} abandoned NDJSON exports`, during));
    console.log(
      `exports: ${[...statuses.entries()].map(([k, v]) => `${v} x ${k}`).join(", ")}; ` +
        `${activeSeen ? "" : "(no danesweep_api_exports_active gauge seen) "}` +
        `every export stopped ${(((stoppedAt ?? performance.now()) - start) / 1000).toFixed(1)} s after they began; ` +
        `server RSS peak ${(rssPeak / 2 ** 20).toFixed(0)} MiB`,
    );
  } finally {
    await server?.stop();
    agent.destroy();
    metricsAgent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
