/**
 * The prune suite on a real PostgreSQL, in a database of its own; then, in
 * another database, a writer of a running scan racing the prune.
 *
 * The race: a writer reuses a blob that only the scan being pruned refers to
 * (storeJudged / upsertProbes skip inserting a blob that exists) and commits
 * its row while the prune runs. The prune must wait for it and keep the blob
 * (and the certificate that blob cites); without its table locks it would
 * delete them and leave the writer's row pointing at nothing.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { freshDatabase } from "../../../test/e2e/cli.ts";
import type { DbHandle } from "../src/db.ts";
import { openMigratedDatabase } from "../src/db.ts";
import { pruneScan } from "../src/prune.ts";
import { sql } from "../src/sql.ts";
import { Store } from "../src/store.ts";
import { pruneSuite } from "./prune-suite.ts";
import { fakeCert, storeScan, syntheticScanData } from "./scan-data.ts";

const dbs: Awaited<ReturnType<typeof freshDatabase>>[] = [];
after(async () => {
  for (const d of dbs) await d.drop();
});

async function fresh(): Promise<DbHandle> {
  const d = await freshDatabase();
  dbs.push(d);
  return openMigratedDatabase({ url: d.url, poolSize: 4 });
}

pruneSuite("postgresql", fresh);

describe("prune: postgresql, a writer racing the prune", () => {
  let handle: DbHandle;
  let store: Store;
  let url: string;
  before(async () => {
    handle = await fresh();
    store = new Store(handle);
    url = (dbs[dbs.length - 1] as { url: string }).url;
  });
  after(async () => {
    await handle?.close();
  });

  test("a blob only the pruned scan had, reused by a writer while the prune runs, is kept", async () => {
    const cert = fakeCert();
    const a = syntheticScanData("race", 1, 1, [cert]);
    const scanA = await storeScan(store, a);
    const scanW = await storeScan(store, { entries: [], probes: [] }, { finish: false });
    const one = async <T>(q: ReturnType<typeof sql>) => (await store.db.execute<T>(q)).rows[0] as T;
    const seqW = (await one<{ seq: number }>(sql`select seq from scans where id = ${scanW}`)).seq;
    const ra = await one<{ facts: string; verdict: string; class: number }>(
      sql`select r.facts, r.verdict, r.class from results r join scans s on s.seq = r.scan where s.id = ${scanA}`,
    );
    const pa = await one<{ probe: string }>(
      sql`select p.probe from scan_probes p join scans s on s.seq = p.scan where s.id = ${scanA}`,
    );

    // Two writers, each in a transaction still open: one's row of scan W cites A's facts and verdict,
    // the other's cites A's probe (and so its certificate).
    const writers = {
      results: new pg.Client({ connectionString: url }),
      scan_probes: new pg.Client({ connectionString: url }),
    };
    const observer = new pg.Client({ connectionString: url });
    for (const c of [...Object.values(writers), observer]) await c.connect();
    try {
      await writers.results.query("begin");
      await writers.results.query(
        `insert into results (scan, domain, class, facts, verdict, judged_seq, judged_at, collected_at)
         values ($1, 'race-w.example', $2, $3, $4, nextval('judged_seq'), now(), now())`,
        [seqW, ra.class, ra.facts, ra.verdict],
      );
      await writers.scan_probes.query("begin");
      await writers.scan_probes.query(
        `insert into scan_probes (scan, ip, port, sni, status, probe, started_at, timings)
         values ($1, '127.9.9.9', 25, 'mx.race-w.example', 'tls-ok', $2, now(), '{NULL,NULL,NULL,NULL,NULL,100}')`,
        [seqW, pa.probe],
      );

      const pruning = pruneScan(handle, scanA);
      let settled = false;
      void pruning.finally(() => {
        settled = true;
      });
      // Each writer commits once the prune waits for its table (without its locks, the prune never waits).
      const open = new Set(Object.keys(writers) as (keyof typeof writers)[]);
      while (!settled && open.size > 0) {
        const w = await observer.query<{ rel: string }>(
          `select relation::regclass::text as rel from pg_locks
           where not granted and relation in ('results'::regclass, 'scan_probes'::regclass)`,
        );
        for (const { rel } of w.rows) {
          const t = rel as keyof typeof writers;
          if (open.delete(t)) await writers[t].query("commit");
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const t of open) await writers[t].query("commit");
      const r = await pruning;
      assert.ok(r.ok);
    } finally {
      for (const c of [...Object.values(writers), observer]) await c.end();
    }

    const has = async (q: ReturnType<typeof sql>) => (await one<{ n: string }>(q)).n === "1";
    assert.ok(await has(sql`select count(*) as n from fact_blobs where hash = ${ra.facts}`), "facts kept");
    assert.ok(
      await has(sql`select count(*) as n from verdict_blobs where hash = ${ra.verdict}`),
      "verdict kept",
    );
    assert.ok(await has(sql`select count(*) as n from probe_blobs where hash = ${pa.probe}`), "probe kept");
    assert.ok(
      await has(sql`select count(*) as n from certificates where sha256 = ${cert.sha256}`),
      "certificate kept",
    );
    // The writer's rows read back whole.
    const [v] = await store.verdictsSince(scanW, 0);
    // A's verdict, read back as the row's domain's (a stored verdict does not keep its domain).
    assert.equal(v?.record.domain, "race-w.example");
    assert.deepEqual(v?.record.hosts, a.entries[0]?.record.hosts);
    const [p] = await store.getProbes(scanW, [{ ip: "127.9.9.9", port: 25, sni: "mx.race-w.example" }]);
    assert.deepEqual(p?.tls?.chain, a.probes[0]?.tls?.chain);
  });
});
