/**
 * Re-judging benchmark (not a test): how fast does a stored scan re-judge,
 * and what does it cost per domain?
 *
 *   node bench/rejudge/run.ts [--domains 29000] [--store embedded|postgresql|both]
 *
 * Set-up: a scan of `--domains` domains, the 29 of libs/store/test/rejudge-data.ts
 * (the 24 seed cases with real certificates and five profile cases) renamed
 * per copy, stored as the pipeline stores them (facts, verdicts, probes),
 * on a new PGlite data directory and/or a new PostgreSQL database (analysed).
 * Then, for each store, two runs through libs/store rejudge.ts with its
 * default batch (500): the scan's own profile (postfix: every verdict the
 * same, no new blob) and rfc7672 (the profile cases change, one new blob
 * each). Prints per run the domains per second, the main thread's CPU per
 * domain (process.threadCpuUsage: reading, decoding, judging, encoding; the
 * embedded store's own thread and PostgreSQL are not in it), the new blobs
 * and the rejudgements partition's bytes per row (table and primary key).
 * Exit code 0 whatever the figures.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DomainFacts } from "@danesweep/dane";
import { continueRejudge, openStore, type Store, startRejudge } from "@danesweep/store";
import { rejudgeScanData } from "../../libs/store/test/rejudge-data.ts";
import { storeScan } from "../../libs/store/test/scan-data.ts";
import { freshDatabase } from "../../test/e2e/cli.ts";

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

const DOMAINS = Number(arg("domains", "29000"));
const WHICH = arg("store", "both");

/** `n` domains: copies of the 29 cases, renamed (facts and records alike). */
function scanData(n: number) {
  const base = rejudgeScanData();
  const entries: { facts: DomainFacts; record: (typeof base.entries)[number]["record"] }[] = [];
  for (let i = 0; entries.length < n; i++)
    for (const e of base.entries) {
      if (entries.length >= n) break;
      const d = `r${i}-${e.facts.domain}`;
      const facts = structuredClone(e.facts);
      facts.domain = d;
      facts.mx.qname = d;
      entries.push({ facts, record: { ...structuredClone(e.record), domain: d } });
    }
  return { entries, probes: base.probes };
}

async function bench(label: string, store: Store): Promise<void> {
  const scan = await storeScan(store, scanData(DOMAINS));
  if (store.driver === "postgres") await store.handle.pool.query("vacuum analyze");
  else await store.maintain();
  for (const profile of ["postfix", "rfc7672"]) {
    const cpu0 = process.threadCpuUsage();
    const t0 = performance.now();
    const s = await startRejudge(store, scan, { owner: "bench", now: Date.now(), profile });
    if (!s.ok) throw new Error(`${label}: ${JSON.stringify(s.refused)}`);
    const c = await continueRejudge(store, s.run, { owner: "bench", now: Date.now });
    const ms = performance.now() - t0;
    const cpu = process.threadCpuUsage(cpu0);
    console.log(
      `${label.padEnd(10)} ${profile.padEnd(8)} ${c.run.judged} domains in ${(ms / 1000).toFixed(1)} s: ` +
        `${Math.round(c.run.judged / (ms / 1000))}/s, main-thread CPU ${((cpu.user + cpu.system) / c.run.judged).toFixed(0)} µs/domain, ` +
        `changed ${c.run.counts?.changed}, new blobs ${c.run.newBlobs}`,
    );
  }
  const [size] = (
    await store.handle.pool.query<{ table: string; total: string; rows: string }>(
      `select pg_table_size(c.oid) as table, pg_total_relation_size(c.oid) as total,
              (select count(*) from rejudgements j join scans s on s.seq = j.scan where s.id = $1) as rows
       from pg_class c where c.relname = (select 'rejudgements_' || seq from scans where id = $1)`,
      [scan],
    )
  ).rows;
  if (size) {
    const per = (n: string) => (Number(n) / Number(size.rows)).toFixed(0);
    console.log(
      `${label.padEnd(10)} rejudgements partition: ${size.rows} rows, ${per(size.table)} bytes a row in the table, ` +
        `${per(String(Number(size.total) - Number(size.table)))} in its primary key`,
    );
  }
}

if (WHICH === "embedded" || WHICH === "both") {
  const dir = mkdtempSync(join(tmpdir(), "danesweep-bench-rejudge-"));
  const store = await openStore({ dataDir: dir });
  try {
    await bench("embedded", store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
if (WHICH === "postgresql" || WHICH === "both") {
  const db = await freshDatabase();
  const store = await openStore({ url: db.url });
  try {
    await bench("postgresql", store);
  } finally {
    await store.close();
    await db.drop();
  }
}
