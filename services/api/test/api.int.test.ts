/**
 * The API suite over a real PostgreSQL ($DANESWEEP_PG_URL, or the cluster of
 * scripts/services/postgres.sh, started when not reachable and never
 * stopped), in a fresh database created for this file and dropped at the end.
 * Also: the read-only role (reads work, writes are refused by PostgreSQL,
 * POST /v1/scans goes through the writer), and streaming 100 000 rows as CSV
 * over a listening socket with the process's RSS bounded.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { get } from "node:http";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ApiQueries, isStoreError, openDatabase, openStore, READER_ROLE, Store } from "@danesweep/store";
import { adminQuery, testPostgresUrl } from "../../../libs/store/test/postgres-url.ts";
import { buildApp, listen } from "../src/app.ts";
import { createToken } from "../src/tokens.ts";
import { storeBulkScan } from "./fixtures.ts";
import { apiSuite, seedingStarter } from "./suite.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const base = await testPostgresUrl();

const dbName = `api_test_${randomBytes(4).toString("hex")}`;
const withDb = (url: string, db: string, user?: string) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  if (user !== undefined) {
    u.username = user;
    u.password = "";
  }
  return u.toString();
};
const url = withDb(base, dbName);

const admin = (query: string) => adminQuery(base, query);

// Identifiers below are made here from hex digits only.
await admin(`create database ${dbName}`);
after(async () => {
  await admin(`drop database if exists ${dbName} with (force)`);
});

apiSuite("postgresql", () => openStore({ url, poolSize: 4 }));

describe("api: postgresql roles and streaming", () => {
  let writer: Store;
  const reader = `reader_${randomBytes(4).toString("hex")}`;
  before(async () => {
    writer = await openStore({ url, poolSize: 4 });
    await new ApiQueries(writer).setupReaderRole();
    await admin(`create role ${reader} login in role ${READER_ROLE}`);
  });
  after(async () => {
    await writer?.close();
    await admin(`drop owned by ${reader}`).catch(() => {});
    await admin(`drop role if exists ${reader}`).catch(() => {});
  });

  test("the reader role reads through the API and cannot write; scans start through the writer", async () => {
    const ro = new Store(await openDatabase({ url: withDb(base, dbName, reader), poolSize: 2 }));
    try {
      const token = (
        await createToken(new ApiQueries(writer), { name: "ro-test", scopes: ["scan"], now: new Date() })
      ).token;
      const app = buildApp({
        store: ro,
        auth: { readRequiresToken: false },
        startScan: seedingStarter(writer),
        rateLimit: false,
      });
      assert.equal((await app.inject("/v1/readyz")).statusCode, 200);
      assert.equal((await app.inject("/v1/scans")).statusCode, 200);
      await assert.rejects(
        ro.createScan({ id: "RO-WRITE", parameters: {}, startedAt: "2024-01-01T00:00:00.000Z" }),
        (e) => isStoreError(e) && e.code === "query-failed" && /42501/.test(e.message),
        "permission denied (SQLSTATE 42501)",
      );
      await assert.rejects(new ApiQueries(ro).revokeToken("ro-test", new Date().toISOString()), (e) =>
        isStoreError(e),
      );
      const res = await app.inject({
        method: "POST",
        url: "/v1/scans",
        headers: { authorization: `Bearer ${token}` },
        payload: { domains: ["ro.example"] },
      });
      assert.equal(res.statusCode, 202, res.body);
      const s = (await app.inject(`/v1/scans/${res.json().scanId}`)).json();
      assert.equal(s.progress.domains, 1);
      await app.close();
    } finally {
      await ro.close();
    }
  });

  test("streaming 100 000 rows as CSV keeps RSS bounded", async () => {
    const n = 100_000;
    const scan = `BULK-${randomBytes(4).toString("hex")}`;
    await storeBulkScan(writer, scan, n);
    const app = buildApp({ store: writer, auth: { readRequiresToken: false }, rateLimit: false });
    const address = await listen(app, { host: "127.0.0.1", port: 0 });
    try {
      await app.inject({ url: `/v1/scans/${scan}/results?limit=1000` });
      const stream = () =>
        new Promise<{ lines: number; bytes: number }>((ok, fail) => {
          get(`${address}/v1/scans/${scan}/results`, { headers: { accept: "text/csv" } }, (res) => {
            let lines = 0;
            let bytes = 0;
            res.on("data", (chunk: Buffer) => {
              bytes += chunk.length;
              for (const b of chunk) if (b === 10) lines++;
            });
            res.on("end", () => ok({ lines, bytes }));
            res.on("error", fail);
          }).on("error", fail);
        });
      // Memory that grew with the volume streamed would keep growing pass after pass;
      // GC-managed churn does not. Each pass is followed by a full collection.
      const mib = (x: number) => (x / 2 ** 20).toFixed(1);
      const after: { rss: number; heap: number }[] = [];
      let passBytes = 0;
      // The heap before streaming holds whatever the tests before this one left (compiled schemas of
      // the apps they built...): what matters is what streaming adds to it.
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      let peak = 0;
      const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      for (let pass = 0; pass < 3; pass++) {
        const r = await stream();
        assert.equal(r.lines, n + 1, "header and every row");
        assert.ok(r.bytes > 60 * 2 ** 20, "the output is larger than the bounds below");
        passBytes = r.bytes;
        gc();
        const m = process.memoryUsage();
        after.push({ rss: m.rss, heap: m.heapUsed });
      }
      clearInterval(timer);
      const [a, , c] = after as [{ rss: number; heap: number }, unknown, { rss: number; heap: number }];
      console.log(
        `CSV ${n} rows x3: RSS after passes ${after.map((x) => mib(x.rss)).join(", ")} MiB (peak ${mib(peak)}), heap ${mib(heapBefore)} MiB before, ${after.map((x) => mib(x.heap)).join(", ")} MiB after`,
      );
      for (const x of after)
        assert.ok(
          x.heap - heapBefore < 16 * 2 ** 20,
          `heap ${mib(x.heap)} MiB after a pass, ${mib(heapBefore)} MiB before`,
        );
      // Output kept from pass to pass would add at least two passes' bytes; RSS also moves
      // with the allocator and the kernel's socket buffers, by less than one pass (noisy under load).
      assert.ok(
        c.rss - a.rss < passBytes,
        `RSS grew ${mib(c.rss - a.rss)} MiB from the first pass to the third (${mib(passBytes)} MiB a pass)`,
      );
    } finally {
      await app.close();
    }
  });
});
