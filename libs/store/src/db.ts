/**
 * Opening the database and applying migrations. Every store is reached
 * through the `pg` driver (node-postgres):
 *
 * - `openDatabase({ url })`: a PostgreSQL server, through a pool of at most
 *   `poolSize` connections (default 10).
 * - `openDatabase({ dataDir, command? })`: the embedded store, PGlite
 *   (PostgreSQL in WebAssembly) in dataDir (created if missing). One process
 *   owns a data directory and serves it to every process that opens it,
 *   itself included (embedded.ts): so `serve`, `scan`, `show` and `scans` can
 *   run at once on one directory without corrupting it. `command` (argv) is
 *   what owner.json names this process as while it owns the directory,
 *   secrets masked (default: its main thread's command line; the CLI gives
 *   ["danesweep", COMMAND, ...]).
 *   Opening a directory another process owns fails with "unavailable" at
 *   once when that owner is stopped (Ctrl-Z), and after OPEN_WAIT_MS when it
 *   does not answer; either message names the owner and what to do.
 *   `{ memory: true }`: PGlite in memory, private to this process.
 * - `migrate(handle)`: applies the SQL migrations of ../migrations (listed in
 *   meta/_journal.json) that are not yet applied, each in a transaction, and
 *   records them in drizzle.__drizzle_migrations (the table drizzle-kit's
 *   migrator kept: stores migrated by it go on from where they are); applying
 *   twice is a no-op; an advisory lock serialises concurrent migrators.
 * Failures raise StoreError "unavailable" (cannot open / connect) or
 * "migration-failed".
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { valueWithin } from "@danesweep/timers";
import pg from "pg";
import {
  abstractStream,
  describeOwner,
  EmbeddedDirectory,
  OPEN_WAIT_MS,
  ownerState,
  readOwner,
  stoppedOwner,
  stoppedOwnerMessage,
} from "./embedded.ts";
import { connectionLost, StoreError, toStoreError } from "./errors.ts";
import { commandLine, redactUrl } from "./redact.ts";
import { type SQL, toQuery } from "./sql.ts";

/** Runs built queries (sql.ts) on a pool or a checked-out connection. */
export interface Db {
  execute<T = Record<string, unknown>>(query: SQL): Promise<{ rows: T[] }>;
}

function dbOver(q: pg.Pool | pg.PoolClient): Db {
  return {
    async execute<T>(query: SQL) {
      const r = await q.query(toQuery(query));
      return { rows: r.rows as T[] };
    },
  };
}

export type StoreConfig =
  /** `command`: the command line owner.json records, as arguments (masked and cut by redact.ts commandLine). */
  { dataDir: string; command?: readonly string[] } | { memory: true } | { url: string; poolSize?: number };

export interface DbHandle {
  /** "embedded": PGlite served by this or another process (embedded.ts); "postgres": a server. */
  driver: "embedded" | "postgres";
  /** Built queries (sql.ts) on the pool. */
  db: Db;
  /** The pool the store's own statements run on. */
  pool: pg.Pool;
  /** The embedded directory (undefined on PostgreSQL). */
  embedded?: EmbeddedDirectory;
  /**
   * Runs fn in one transaction (commit on success, rollback on error). The
   * pooled connection is released on every path, including a BEGIN that
   * fails because the server went away (drizzle's own transaction() leaks the
   * connection then, and a few restarts exhaust the pool); a connection that
   * failed is destroyed, not reused.
   */
  transaction<T>(fn: (tx: Db, client: pg.PoolClient) => Promise<T>): Promise<T>;
  migrate(): Promise<void>;
  /** Waits at most CLOSE_TIMEOUT_MS for connections still checked out, then rejects saying how many. */
  close(): Promise<void>;
}

/**
 * Node flags for a process that may own the embedded store (bin/danesweep
 * passes them; V8 reads them only at start; they hold for the pipeline's
 * thread and the store's alike):
 * - WebAssembly stays on the baseline compiler (Liftoff): tiering PostgreSQL's
 *   largest functions up to TurboFan takes ~500 MB for a moment, for about 5%
 *   less CPU (bench/e2e);
 * - young generations of 16 MB semi-spaces. A domain's state lives for the
 *   ~0.2 s its lookups take; with 8 MB semi-spaces the young generation is
 *   collected every ~50 ms, so that state was copied, then promoted, and the
 *   old generation filled with it. 2 MB semi-spaces cost ~15% more CPU, 32 MB
 *   no less than 16 (bench/e2e, `--trace-gc`);
 * - the old generation may grow to twice what the last full collection left
 *   (`--heap-growing-percent=100`), not the up to 4 times V8 allows a heap
 *   with gigabytes of headroom: a 100k scan keeps ~60 MB live and its old
 *   generation was let grow to 190-240 MB before it was collected.
 *   Measured at 100k domains, paired runs (three each, A B A B), against
 *   8 MB semi-spaces and V8's growth: 0.93 times the CPU (0.92-0.99),
 *   peak RSS 468-472 MB against 506-573. The growth alone, with 8 MB
 *   semi-spaces, cost 1.16 times the CPU for a like drop in RSS: it is the
 *   larger young generation, promoting less, that pays for it.
 * Tried on 2026-12-04 and left out (paired 100k scans on the 2-core machine):
 * young collections on the main thread alone (`--no-parallel-scavenge`) gave
 * 0.95 of the CPU in three pairs and 1.02-1.15 in four others: the helpers'
 * work moved to the pipeline's thread, which was sometimes dearer than the
 * helpers had been; V8's young-generation mark-sweep (`--minor-ms`) cost
 * 0.88-0.90 ms a domain against 0.72-0.75, and 563 MB.
 */
export const PGLITE_NODE_FLAGS = [
  "--no-wasm-tier-up",
  "--no-wasm-dynamic-tiering",
  "--max-semi-space-size=16",
  "--heap-growing-percent=100",
] as const;

/**
 * Environment of such a process, unless the user set it (bin/danesweep):
 * glibc gives each thread that allocates its own malloc arena, and zlib's and
 * OpenSSL's short-lived allocations in the pipeline's, the store's and
 * libuv's threads can leave them fragmented; two arenas is glibc's usual
 * remedy. Measured on single 100k scans: 609-742 MB peak with it (6 runs),
 * 663-727 without (3): within the spread between runs, not a proven gain.
 */
export const PGLITE_NODE_ENV = { MALLOC_ARENA_MAX: "2" } as const;

/** How long close() waits for pooled connections still in use. */
export const CLOSE_TIMEOUT_MS = 5000;
/** How long a process keeps trying to reach (or become) the owner of an embedded directory. */
const EMBEDDED_CONNECT_MS = 30_000;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../migrations", import.meta.url));
/** Arbitrary constant identifying the danesweep migrator's advisory lock. */
const MIGRATION_LOCK = 7_262_901_511;

export async function openDatabase(config: StoreConfig): Promise<DbHandle> {
  if ("url" in config) return openPostgres(config.url, config.poolSize ?? 10);
  const dir =
    "dataDir" in config
      ? new EmbeddedDirectory(config.dataDir, config.command ? commandLine(config.command) : undefined)
      : new EmbeddedDirectory(undefined);
  return openEmbedded(dir);
}

/** How often an open waiting for another process's answer looks at that owner. */
const OWNER_POLL_MS = 250;

/**
 * `first` (the first connection of an open), unless the directory's owner is
 * another process that is stopped, or that does not answer within
 * OPEN_WAIT_MS: then the connections still starting (`connecting`) are
 * dropped and the open fails with "unavailable", naming the owner. Time this
 * process spends electing itself (opening PGlite) does not count.
 */
function whileOwnerAnswers(
  dir: EmbeddedDirectory,
  first: Promise<pg.PoolClient>,
  connecting: Set<Socket>,
  onGiveUp: () => void,
): Promise<pg.PoolClient> {
  const dataDir = dir.dataDir;
  if (dataDir === undefined) return first;
  return new Promise<pg.PoolClient>((resolve, reject) => {
    let waited = 0;
    let timer: NodeJS.Timeout | undefined;
    const give = (detail: string) => {
      clearInterval(timer);
      onGiveUp();
      for (const s of connecting) s.destroy();
      // If it connects after all, the connection goes back to the pool.
      first.then(
        (c) => c.release(),
        () => {},
      );
      reject(new StoreError("unavailable", detail));
    };
    const look = (elapsed: number) => {
      if (dir.isOwner || dir.electing) return false;
      waited += elapsed;
      const stopped = stoppedOwner(dataDir, dir.name);
      if (stopped) {
        give(stoppedOwnerMessage(dataDir, stopped));
        return true;
      }
      if (waited >= OPEN_WAIT_MS) {
        const o = readOwner(dataDir);
        const state = o ? ownerState(o.pid) : "unknown";
        give(
          `the embedded store in ${dataDir} is owned by ${describeOwner(o)}, which did not answer within ` +
            `${OPEN_WAIT_MS / 1000} s (${state === "unknown" ? "its state is unknown" : `it is ${state}`}): ` +
            `if it is stuck, stop it${o ? ` (kill ${o.pid})` : ""} and try again`,
        );
        return true;
      }
      return false;
    };
    first.then(
      (c) => {
        clearInterval(timer);
        resolve(c);
      },
      (e) => {
        clearInterval(timer);
        reject(e);
      },
    );
    if (look(0)) return;
    timer = setInterval(() => look(OWNER_POLL_MS), OWNER_POLL_MS);
  });
}

async function openEmbedded(dir: EmbeddedDirectory): Promise<DbHandle> {
  const where = dir.dataDir ?? "memory";
  // Connections whose start-up the owner has not answered yet (whileOwnerAnswers drops them).
  const connecting = new Set<Socket>();
  const stream = abstractStream(dir.name);
  const pool = new pg.Pool({
    // Host and port are not used: every connection goes to the directory's socket.
    host: "localhost",
    user: "postgres",
    database: "postgres",
    max: 4,
    stream: () => {
      const s = stream();
      connecting.add(s);
      s.once("close", () => connecting.delete(s));
      return s;
    },
  } as pg.PoolConfig);
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    client.on("error", () => {});
    connecting.delete(
      (client as unknown as { connection?: { stream?: Socket } }).connection?.stream as Socket,
    );
  });
  // Set when the open gave up on an owner that does not answer: no connection is tried after.
  let abandoned = false;
  const closed = () => new StoreError("unavailable", `the embedded store in ${where} is closed`);
  // Connecting elects this process owner when nobody serves the directory.
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const electing = async (): Promise<pg.PoolClient> => {
    const deadline = Date.now() + EMBEDDED_CONNECT_MS;
    for (let attempt = 1; ; attempt++) {
      if (dir.closed || abandoned) throw closed();
      try {
        await dir.ensureOwner();
        if (dir.closed || abandoned) throw closed();
        return await connect();
      } catch (e) {
        if (e instanceof StoreError || Date.now() > deadline) {
          if (e instanceof StoreError) throw e;
          throw new StoreError(
            "unavailable",
            `the embedded store in ${where} is owned by ${describeOwner(dir.dataDir ? readOwner(dir.dataDir) : undefined)}, ` +
              `which did not accept a connection within ${EMBEDDED_CONNECT_MS / 1000} s: ${(e as Error)?.message}`,
            { cause: e },
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(500, 20 * attempt)));
      }
    }
  };
  (pool as unknown as { connect: unknown }).connect = (
    cb?: (e?: Error, c?: pg.PoolClient, d?: () => void) => void,
  ) => {
    const p = electing();
    if (!cb) return p;
    p.then(
      (c) => cb(undefined, c, () => c.release()),
      (e: Error) => cb(e),
    );
    return undefined;
  };
  try {
    const c = await whileOwnerAnswers(dir, pool.connect() as Promise<pg.PoolClient>, connecting, () => {
      abandoned = true;
    });
    c.release();
  } catch (e) {
    await pool.end().catch(() => {});
    await dir.close().catch(() => {});
    throw toStoreError(e, `open the embedded store in ${where}`);
  }
  return handleOver(pool, "embedded", dir);
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
    throw toStoreError(e, `connect ${redactUrl(url)}`);
  }
  return handleOver(pool, "postgres", undefined);
}

interface JournalEntry {
  tag: string;
  when: number;
}

/**
 * Applies the migrations not yet applied, all in one transaction (the caller
 * holds the advisory lock). One transaction also keeps two processes that
 * open a new embedded directory at once apart: there, every session shares
 * one backend (an advisory lock does not exclude another session), but a
 * transaction holds the backend until it ends (embedded.ts), so the second
 * process finds the migrations applied.
 */
async function applyMigrations(client: pg.PoolClient): Promise<void> {
  const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as {
    entries: JournalEntry[];
  };
  await client.query("begin");
  try {
    await client.query("create schema if not exists drizzle");
    await client.query(
      "create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)",
    );
    const applied = await client.query<{ hash: string; created_at: string }>(
      "select hash, created_at from drizzle.__drizzle_migrations",
    );
    const appliedHash = new Map(applied.rows.map((r) => [Number(r.created_at), r.hash]));
    const appliedUpTo = Math.max(0, ...appliedHash.keys());
    for (const m of journal.entries) {
      const text = readFileSync(`${MIGRATIONS_FOLDER}/${m.tag}.sql`, "utf8");
      const hash = createHash("sha256").update(text).digest("hex");
      if (m.when <= appliedUpTo) {
        // A migration is never edited once released: a store that recorded other
        // text for it was made by a build whose schema is not this one's, and
        // every later statement would fail on it in ways far from the cause.
        const had = appliedHash.get(m.when);
        if (had !== undefined && had !== hash) throw new MigrationMismatch(m.tag);
        continue;
      }
      try {
        for (const stmt of text.split("--> statement-breakpoint")) {
          if (stmt.trim() !== "") await client.query(stmt);
        }
      } catch (e) {
        throw Object.assign(e as Error, { migration: m.tag });
      }
      await client.query("insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)", [
        hash,
        m.when,
      ]);
    }
    await client.query("commit");
  } catch (e) {
    await client.query("rollback").catch(() => {});
    throw e;
  }
}

/** A store that recorded other text for a migration than this build's (applyMigrations). */
class MigrationMismatch extends Error {
  constructor(tag: string) {
    super(
      `the store applied a different ${tag} than this version of danesweep has: it was made by another ` +
        "(development) build and its schema does not match this one. Use the build that made it (e.g. to " +
        "export its scans), or a new data directory / database for this one",
    );
  }
}

function handleOver(
  pool: pg.Pool,
  driver: DbHandle["driver"],
  embedded: EmbeddedDirectory | undefined,
): DbHandle {
  const db = dbOver(pool);
  let closed = false;
  const handle: DbHandle = {
    driver,
    db,
    pool,
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
          result = await fn(dbOver(client), client);
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
        await applyMigrations(client);
      } catch (e) {
        if (e instanceof MigrationMismatch) throw new StoreError("migration-failed", e.message);
        const tag = (e as { migration?: string }).migration;
        const se = toStoreError(e, tag ? `migrate ${tag}` : "migrate");
        throw se.code === "unavailable" ? se : new StoreError("migration-failed", se.message, { cause: e });
      } finally {
        await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
        client.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      const ended = await valueWithin(
        pool.end().then(() => true),
        CLOSE_TIMEOUT_MS,
        () => false,
      );
      // The embedded directory is handed over only after this process's sessions ended.
      await embedded?.close();
      if (!ended) {
        const inUse = pool.totalCount - pool.idleCount;
        throw new StoreError(
          "unavailable",
          `the connection pool did not close in ${CLOSE_TIMEOUT_MS} ms: ${inUse} connection(s) still in use; abandoned`,
        );
      }
    },
  };
  if (embedded) handle.embedded = embedded;
  return handle;
}

/** Opens the database and applies pending migrations (openStore's handle; export and prune take a handle). */
export async function openMigratedDatabase(config: StoreConfig): Promise<DbHandle> {
  const handle = await openDatabase(config);
  try {
    await handle.migrate();
  } catch (e) {
    await handle.close().catch(() => {});
    throw e;
  }
  return handle;
}
