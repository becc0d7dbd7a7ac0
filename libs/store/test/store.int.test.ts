/**
 * The store suite on a real PostgreSQL (testPostgresUrl).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import pg from "pg";
import { StoreError } from "../src/errors.ts";
import { newScanId } from "../src/ids.ts";
import { openStore } from "../src/store.ts";
import { testPostgresUrl } from "./postgres-url.ts";
import { storeSuite } from "./suite.ts";

const url = await testPostgresUrl();

storeSuite("postgresql", () => openStore({ url, poolSize: 4 }));

// Connections killed under the store (a PostgreSQL restart, a failover, an
// administrator's pg_terminate_backend) at every point of its transactions,
// BEGIN included: each call either succeeds or fails with "unavailable"; the
// pool (one connection, so a single leaked one would hang the next call) is
// never exhausted, and close() returns at once.
test("connections killed mid-transaction: no leaked connection, close() is prompt", {
  timeout: 60_000,
}, async () => {
  const app = `danesweep-kill-${randomBytes(4).toString("hex")}`;
  const u = new URL(url);
  u.searchParams.set("application_name", app);
  const store = await openStore({ url: u.toString(), poolSize: 1 });
  const scan = newScanId(new Date());
  await store.createScan({ id: scan, parameters: {}, startedAt: new Date(0).toISOString() });
  const killer = new pg.Client({ connectionString: url });
  await killer.connect();
  let stop = false;
  let kills = 0;
  const killing = (async () => {
    while (!stop) {
      const r = await killer.query<{ n: string }>(
        "select count(*) as n from (select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1) t",
        [app],
      );
      kills += Number(r.rows[0]?.n ?? 0);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 6)));
    }
  })();
  let ok = 0;
  let failed = 0;
  const deadline = Date.now() + 20_000;
  try {
    for (let i = 0; (i < 300 || kills < 20) && Date.now() < deadline; i++) {
      try {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          store.seedDomains(scan, [{ domain: `d${i}.example`, line: i + 1 }]),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`call ${i} hung for 10 s: a leaked connection?`)),
              10_000,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        ok++;
      } catch (e) {
        assert.ok(e instanceof StoreError, `a StoreError, got ${String(e)}`);
        assert.equal(e.code, "unavailable", e.message);
        failed++;
      }
    }
  } finally {
    stop = true;
    await killing;
    await killer.end();
  }
  assert.ok(kills >= 20 && failed > 0, `the storm hit the store (kills ${kills}, failed calls ${failed})`);
  // The single pooled connection is free: the next calls succeed.
  assert.deepEqual(await store.seedDomains(scan, [{ domain: "after.example", line: 1 }]), ["after.example"]);
  assert.ok(ok > 0);
  const t0 = performance.now();
  await store.close();
  assert.ok(performance.now() - t0 < 2000, `close() took ${Math.round(performance.now() - t0)} ms`);
});
