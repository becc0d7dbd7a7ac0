/**
 * Query API benchmark (not a test): 1 million verdict rows over 10 scans in a
 * fresh PostgreSQL database, then autocannon against a listening API.
 *
 *   node bench/api/run.ts [--scans 10] [--per-scan 100000] [--connections 200]
 *        [--seconds 20] [--keep]
 *
 * Data: generated in SQL (generate_series), each row carrying a real verdict
 * record and real DNS facts (judge() on seed case 1, renamed per domain), with
 * a spread of DANE states, actions, 20 TLDs and 2,000 MX providers.
 * The API runs in a child process (rate limits off) so that autocannon's CPU
 * is not counted as the server's; both share this machine's cores.
 * Prints one table. Rows:
 *   baseline GET /healthz         the server without the database
 *   GET /v1/domains/{d}           a random domain among all rows, latest verdict + facts
 *   adoption (SQL, 10 scans)      ApiQueries.adoption with no grouping, then by TLD: best and median of 5
 *   GET /v1/stats/adoption        the same through HTTP, one at a time
 * Targets: p99 < 50 ms for the domain lookup at 200 connections; adoption over
 * 10 scans < 2 s. Exit code 0 whatever the figures; 1 when PostgreSQL is not there.
 * Uses $DANESWEEP_PG_URL or scripts/services/postgres.sh (started when needed).
 */
import { execFileSync, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp, listen } from "@danesweep/api";
import { ApiQueries, openStore, sql } from "@danesweep/store";
import autocannon from "autocannon";
import pg from "pg";
import { insertBulkScan } from "../../libs/store/test/bulk.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

// ---------------------------------------------------------------- server child
if (process.argv[2] === "--serve") {
  const store = await openStore({ url: process.argv[3] as string, poolSize: 20 });
  const app = buildApp({ store, auth: { readRequiresToken: false }, rateLimit: false });
  const address = await listen(app, { host: "127.0.0.1", port: 0 });
  process.send?.({ address });
  process.on("disconnect", async () => {
    await app.close();
    await store.close();
    process.exit(0);
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const SCANS = Number(arg("scans", "10"));
  const PER_SCAN = Number(arg("per-scan", "100000"));
  const CONNECTIONS = Number(arg("connections", "200"));
  const SECONDS = Number(arg("seconds", "20"));
  const script = resolve(dirname(fileURLToPath(import.meta.url)), "../../scripts/services/postgres.sh");
  let base = process.env.DANESWEEP_PG_URL ?? execFileSync(script, ["url"], { encoding: "utf8" }).trim();
  try {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.end();
  } catch {
    try {
      base = execFileSync(script, ["up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
    } catch {
      console.error("bench/api: PostgreSQL is not available");
      process.exit(1);
    }
  }
  const dbName = `api_bench_${randomBytes(4).toString("hex")}`;
  const u = new URL(base);
  const adminExec = async (q: string) => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(q);
    await c.end();
  };
  await adminExec(`create database ${dbName}`);
  u.pathname = `/${dbName}`;
  const url = u.toString();
  const rowsOut: [string, string, string, string, string][] = [];
  const line = (name: string, rps: string, p50: string, p99: string, note: string) =>
    rowsOut.push([name, rps, p50, p99, note]);
  let child: ReturnType<typeof fork> | undefined;
  try {
    const store = await openStore({ url, poolSize: 4 });
    const t0 = performance.now();
    for (let s = 0; s < SCANS; s++) {
      const id = `BENCH${String(s).padStart(2, "0")}`;
      const started = new Date(Date.UTC(2024, s, 1)).toISOString();
      // States drift over scans: DANE valid grows from 5% by 0.5 points per scan.
      const r = sql`((g * 7919) % 1000)`;
      await insertBulkScan(store, id, PER_SCAN, {
        startedAt: started,
        explanationRepeat: 4,
        shape: {
          domain: sql`'d' || g || '.bench' || (g % 20)`,
          tld: sql`'bench' || (g % 20)`,
          mx: sql`'mx' || (g % 3) || '.provider' || (g % 2000) || '.net'`,
          provider: sql`'provider' || (g % 2000) || '.net'`,
          dane: sql`case when ${r} < 50 + ${s} * 5 then 'valid' when ${r} < 60 + ${s} * 5 then 'partial'
                         when ${r} < 65 + ${s} * 5 then 'invalid' when ${r} < 165 then 'none'
                         when ${r} < 175 then 'no-mail' else 'insecure' end`,
          action: sql`case when ${r} < 60 + ${s} * 5 then 'deliver' when ${r} < 65 + ${s} * 5 then 'defer'
                           when ${r} between 165 and 174 then 'bounce' else 'deliver' end`,
          security: sql`case when ${r} < 60 + ${s} * 5 then 'dane-verified' when ${r} < 65 + ${s} * 5 then null
                             when ${r} between 165 and 174 then null else 'encrypted' end`,
          reason: sql`case when ${r} < 60 + ${s} * 5 then 'dane-authenticated' when ${r} < 65 + ${s} * 5 then 'dane-check-failed'
                           when ${r} between 165 and 174 then 'nxdomain' else 'opportunistic-tls' end`,
        },
      });
    }
    await store.db.execute(sql`analyze`);
    const loadS = (performance.now() - t0) / 1000;
    const total = SCANS * PER_SCAN;
    console.log(`loaded ${total} verdict rows over ${SCANS} scans in ${loadS.toFixed(1)} s`);

    const q = new ApiQueries(store);
    const time = async (fn: () => Promise<unknown>) => {
      const ms: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await fn();
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      return `best ${(ms[0] as number).toFixed(0)} ms, median ${(ms[2] as number).toFixed(0)} ms`;
    };
    const adoptionAll = await time(() => q.adoption({ top: 20 }));
    const adoptionTld = await time(() => q.adoption({ by: "tld", top: 20 }));
    const adoptionProvider = await time(() => q.adoption({ by: "provider", top: 20 }));
    await store.close();

    child = fork(fileURLToPath(import.meta.url), ["--serve", url], { stdio: "inherit" });
    const address = await new Promise<string>((ok) =>
      child?.on("message", (m) => ok((m as { address: string }).address)),
    );
    const run = (opts: autocannon.Options) =>
      new Promise<autocannon.Result>((ok, fail) => {
        autocannon(opts, (err, res) => (err ? fail(err) : ok(res)));
      });
    const row = (name: string, r: autocannon.Result) =>
      line(
        name,
        r.requests.average.toFixed(0),
        `${r.latency.p50} ms`,
        `${r.latency.p99} ms`,
        `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`,
      );
    await run({ url: `${address}/healthz`, connections: 20, duration: 3 }); // warm-up
    row(
      `baseline GET /healthz c=${CONNECTIONS}`,
      await run({ url: `${address}/healthz`, connections: CONNECTIONS, duration: SECONDS }),
    );
    let n = 0;
    const domainReq = {
      method: "GET" as const,
      setupRequest: (req: { path?: string }) => {
        // A pseudo-random domain among all the rows (every domain is in every scan).
        n = (n + 7_654_321) % PER_SCAN;
        req.path = `/v1/domains/d${n + 1}.bench${(n + 1) % 20}`;
        return req;
      },
    };
    await run({ url: address, connections: 20, duration: 3, requests: [domainReq] }); // warm-up
    row(
      `GET /v1/domains/{d} c=${CONNECTIONS}`,
      await run({ url: address, connections: CONNECTIONS, duration: SECONDS, requests: [domainReq] }),
    );
    row(
      "GET /v1/stats/adoption c=1",
      await run({ url: `${address}/v1/stats/adoption`, connections: 1, duration: 10 }),
    );
    line("adoption SQL, 10 scans, all", "", "", "", adoptionAll);
    line("adoption SQL, 10 scans, by TLD", "", "", "", adoptionTld);
    line("adoption SQL, 10 scans, by provider", "", "", "", adoptionProvider);
  } finally {
    child?.disconnect();
    if (!process.argv.includes("--keep")) await adminExec(`drop database if exists ${dbName} with (force)`);
    else console.log(`kept database ${url}`);
  }
  const head = ["row", "req/s", "p50", "p99", "notes"];
  const widths = head.map((h, i) => Math.max(h.length, ...rowsOut.map((r) => (r[i] as string).length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] as number)).join("  ");
  console.log(fmt(head));
  for (const r of rowsOut) console.log(fmt(r));
}
