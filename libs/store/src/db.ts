/**
 * Opening the database and applying migrations, on either driver.
 *
 * - `openDatabase({ dataDir })`: PGlite (embedded PostgreSQL) persisted in
 *   dataDir (created if missing); `{ memory: true }`: PGlite in memory;
 *   `{ url }`: PostgreSQL through a pg Pool (max `poolSize`, default 10).
 * - `migrate(handle)`: applies the drizzle-kit migrations of ../drizzle that
 *   are not yet applied (recorded in drizzle.__drizzle_migrations); applying
 *   twice is a no-op. On PostgreSQL an advisory lock serialises concurrent
 *   migrators (several services starting at once).
 * Failures raise StoreError "unavailable" (cannot open / connect) or
 * "migration-failed".
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import { migrate as migrateNodePg } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import { connectionLost, StoreError, toStoreError } from "./errors.ts";
import * as schema from "./schema.ts";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export type StoreConfig = { dataDir: string } | { memory: true } | { url: string; poolSize?: number };

export interface DbHandle {
  driver: "pglite" | "postgres";
  db: Db;
  /**
   * Runs fn in one transaction (commit on success, rollback on error). On
   * PostgreSQL the pooled connection is released on every path, including a
   * BEGIN that fails because the server went away (drizzle's own
   * transaction() leaks the connection then, and a few restarts exhaust the
   * pool); a connection that failed is destroyed, not reused.
   */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  migrate(): Promise<void>;
  /** On PostgreSQL: waits at most CLOSE_TIMEOUT_MS for connections still checked out, then rejects saying how many. */
  close(): Promise<void>;
}

/**
 * Node flags for a process that opens PGlite (bin/danesweep passes them; V8
 * reads them only at start): WebAssembly stays on the baseline compiler
 * (Liftoff). Tiering up PostgreSQL's largest functions to TurboFan takes
 * ~500 MB of memory for a moment, which doubles the embedded scan's peak RSS,
 * for about 5% less CPU (bench/e2e).
 */
export const PGLITE_NODE_FLAGS = ["--no-wasm-tier-up", "--no-wasm-dynamic-tiering"] as const;

/** How long close() waits for pooled connections still in use. */
export const CLOSE_TIMEOUT_MS = 5000;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));
/** Arbitrary constant identifying the danesweep migrator's advisory lock. */
const MIGRATION_LOCK = 7_262_901_511;

export async function openDatabase(config: StoreConfig): Promise<DbHandle> {
  if ("url" in config) return openPostgres(config.url, config.poolSize ?? 10);
  return openPglite("dataDir" in config ? config.dataDir : undefined);
}

async function openPglite(dataDir: string | undefined): Promise<DbHandle> {
  let client: PGlite;
  try {
    if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
    client = dataDir === undefined ? await PGlite.create() : await PGlite.create(dataDir);
  } catch (e) {
    throw new StoreError("unavailable", `PGlite at ${dataDir ?? "memory"}: ${(e as Error)?.message}`, {
      cause: e,
    });
  }
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return {
    driver: "pglite",
    db,
    transaction: (fn) => db.transaction((tx) => fn(tx as unknown as Db)),
    async migrate() {
      try {
        await migratePglite(db as never, { migrationsFolder: MIGRATIONS_FOLDER });
      } catch (e) {
        throw new StoreError("migration-failed", (e as Error)?.message ?? String(e), { cause: e });
      }
    },
    async close() {
      if (!client.closed) await client.close();
    },
  };
}

async function openPostgres(url: string, max: number): Promise<DbHandle> {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on("error", () => {});
  // Nor a client checked out (inside a transaction, between two queries) when the server goes away
  // (restart, failover): the query in flight or the next one fails with "unavailable" instead.
  pool.on("connect", (client) => client.on("error", () => {}));
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => {});
    throw toStoreError(e, `connect ${redact(url)}`);
  }
  const db = drizzleNodePg({ client: pool, schema }) as unknown as Db;
  let closed = false;
  return {
    driver: "postgres",
    db,
    async transaction(fn) {
      const client = await pool.connect();
      // Set when BEGIN, COMMIT or ROLLBACK failed: the connection's state is unknown, so it is destroyed.
      let broken: Error | undefined;
      // BEGIN and COMMIT go to the client directly: a lost connection there is "unavailable" too.
      const control = (stmt: "begin" | "commit") =>
        client.query(stmt).catch((e: Error) => {
          broken = e;
          throw connectionLost(e)
            ? new StoreError("unavailable", `${stmt}: connection lost: ${e.message}`, { cause: e })
            : e;
        });
      try {
        await control("begin");
        let result: Awaited<ReturnType<typeof fn>>;
        try {
          result = await fn(drizzleNodePg({ client, schema }) as unknown as Db);
        } catch (e) {
          await client.query("rollback").catch((re: Error) => {
            broken = re;
          });
          throw e;
        }
        await control("commit");
        return result;
      } finally {
        client.release(broken);
      }
    },
    async migrate() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw toStoreError(e, "migrate: connect");
      }
      try {
        await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
        await migrateNodePg(drizzleNodePg({ client, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
      } catch (e) {
        const se = toStoreError(e, "migrate");
        throw se.code === "unavailable" ? se : new StoreError("migration-failed", se.message, { cause: e });
      } finally {
        await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
        client.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        pool.end().then(() => true),
        new Promise<false>((r) => {
          timer = setTimeout(() => r(false), CLOSE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!ended) {
        const inUse = pool.totalCount - pool.idleCount;
        throw new StoreError(
          "unavailable",
          `PostgreSQL pool did not close in ${CLOSE_TIMEOUT_MS} ms: ${inUse} connection(s) still in use; abandoned`,
        );
      }
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
