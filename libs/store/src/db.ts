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
import { StoreError, toStoreError } from "./errors.ts";
import * as schema from "./schema.ts";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export type StoreConfig = { dataDir: string } | { memory: true } | { url: string; poolSize?: number };

export interface DbHandle {
  driver: "pglite" | "postgres";
  db: Db;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

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
      await pool.end();
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
