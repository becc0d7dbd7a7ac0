/**
 * The embedded store shared between processes: one process owns a PGlite
 * data directory and serves it, over the PostgreSQL wire protocol on a local
 * socket, to itself and to every other process that opens the same directory.
 *
 * Why: PGlite is PostgreSQL in one process. Two processes opening one data
 * directory each run their own PostgreSQL on the same files and corrupt it
 * (scans lost, a store that no longer opens). So exactly one process opens
 * the files, and `danesweep serve`, `scan`, `show`, `scans` running at the
 * same time all go through it, as clients of an ordinary PostgreSQL server.
 *
 * Ownership. The owner of directory D is whoever holds the Linux abstract
 * Unix socket `danesweep-store:<dev>:<inode of D>` (not a file: the kernel
 * releases it the instant its process ends, even on SIGKILL, so there is
 * never a stale lock). Every process, the owner included, connects to that
 * socket with the `pg` driver. When nobody holds it (a connect is refused),
 * a process elects itself: it binds the socket (at most one bind succeeds),
 * opens PGlite, and serves. It writes D/owner.json ({ pid, command,
 * startedAt }) so that messages can name the owner: `command` is the
 * process's command line as its main thread has it (`danesweep serve --data
 * D` when the CLI opens the store: it names itself), passwords and tokens
 * masked (redact.ts commandLine), never the serving thread's own argv.
 *
 * An owner that does not answer. A stopped owner (Ctrl-Z, SIGSTOP) keeps its
 * socket: connections are accepted by the kernel and never answered. While a
 * process opens the directory as a client (db.ts), it watches the owner named
 * in owner.json (`ownerState`, from /proc/PID/stat): a stopped owner makes
 * the open fail at once with StoreError "unavailable" saying so and how to
 * resume it (`stoppedOwnerMessage`); an owner that is running but does not
 * answer within OPEN_WAIT_MS (longer than IDLE_TXN_MS, the longest a session
 * may wait for its turn by design) makes it fail then, naming the owner.
 * Processes already connected are not failed: they wait for the owner to be
 * resumed (a running scan loses nothing to a Ctrl-Z).
 *
 * Handing over. When the owner closes (its command finished), it first
 * refuses new sessions, lets the session in a transaction finish (bounded),
 * rolls back and drops the others, closes PGlite, and only then releases the
 * socket; the next process to connect takes over within a second (opening an
 * existing directory takes ~0.3 s). When the owner is killed, PostgreSQL's
 * WAL recovery runs in the next owner. Either way the other processes see
 * their connections drop: a query in flight fails with StoreError
 * "unavailable" (retryable: the pipeline's handlers retry it, the API answers
 * 503) and the next one connects to the new owner.
 *
 * Sessions. PGlite has one backend: sessions take turns. A session holds the
 * backend from the first message it sends until PostgreSQL says it is idle
 * again (ReadyForQuery 'I'), so transactions of different sessions never
 * interleave; the others wait their turn in arrival order. A session that
 * keeps a transaction open without sending anything for IDLE_TXN_MS while
 * others wait is ended (rolled back). A client that disconnects mid-
 * transaction is rolled back.
 *
 * Limits: the socket lives in the network namespace; processes in different
 * namespaces (containers) sharing one directory would each own it. Do not
 * share an embedded data directory between containers (use PostgreSQL).
 *
 * New data directories are copied from a template (a data directory right
 * after initdb) when scripts/setup.sh has built one: running initdb inside
 * WebAssembly needs ~700 MB for a moment. The copy is made file by file on
 * disk, outside the process's memory (loading the template as a tarball
 * through PGlite left ~80 MB more in the process for the rest of its life).
 */
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, connect as netConnect, type Server, Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { StoreError } from "./errors.ts";
import { commandLine } from "./redact.ts";
import { threadCpuMs } from "./time.ts";

/** A transaction held open this long without a message, while others wait, is rolled back and its session ended. */
export const IDLE_TXN_MS = 60_000;
/**
 * How long a process opening a directory owned by another waits for the
 * owner's first answer: a session may wait its turn up to IDLE_TXN_MS by
 * design, so longer than that.
 */
export const OPEN_WAIT_MS = IDLE_TXN_MS + 30_000;
/** How long a closing owner waits for the session in a transaction to finish. */
const HANDOVER_WAIT_MS = 5_000;
/** How long closing the store's thread may take before the thread is terminated. */
const CLOSE_GIVE_UP_MS = 15_000;

export interface OwnerInfo {
  pid: number;
  command: string;
  startedAt: string;
}

/**
 * Where the template of a new data directory is kept (built by
 * scripts/setup.sh): a PGlite data directory right after initdb, as files.
 */
export function templatePath(): string {
  const version = pgliteVersion();
  return fileURLToPath(new URL(`../.cache/pglite-template-${version}`, import.meta.url));
}

function pgliteVersion(): string {
  // The package's entry is <package>/dist/index.js; its package.json is two levels up.
  const entry = fileURLToPath(import.meta.resolve("@electric-sql/pglite"));
  const pkg = join(entry, "..", "..", "package.json");
  return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
}

/** Files of a data directory that belong to one running instance: not part of the template. */
const INSTANCE_FILES = new Set(["postmaster.pid", "postmaster.opts", "owner.json"]);

/**
 * Builds the template: initdb (inside WebAssembly) into a directory of its
 * own, closed, then renamed into place, so that a template that exists is
 * whole.
 */
export async function buildTemplate(path = templatePath()): Promise<void> {
  const tmp = `${path}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const db = await PGlite.create(tmp);
  await db.close();
  for (const f of INSTANCE_FILES) rmSync(join(tmp, f), { force: true });
  rmSync(path, { recursive: true, force: true });
  renameSync(tmp, path);
}

/**
 * Makes a new data directory from the template by copying its files (the
 * kernel copies them: no more memory than a directory listing), PG_VERSION
 * last. PG_VERSION is what marks a directory as made, so a copy cut short
 * (a crash, a full disk) is copied again by the next open.
 */
function copyTemplate(template: string, dataDir: string): void {
  for (const f of readdirSync(template)) {
    if (f === "PG_VERSION" || INSTANCE_FILES.has(f)) continue;
    cpSync(join(template, f), join(dataDir, f), { recursive: true, force: true });
  }
  copyFileSync(join(template, "PG_VERSION"), join(dataDir, "PG_VERSION"));
}

/**
 * PostgreSQL settings of the embedded store, beside PGlite's own:
 * - 32 MB of shared buffers instead of 128 MB: WebAssembly memory never
 *   shrinks, and a scan touches few pages at a time (the batch being written,
 *   the indexes' edges);
 * - minimal WAL (no replication from an embedded store) and no full-page
 *   images in it: those protect against pages torn by an operating-system
 *   crash, which PGlite does not survive anyway (it runs with fsync off); a
 *   killed process tears no page (its writes are whole syscalls), and WAL
 *   recovery after SIGKILL works without them;
 * - at most 256 MB of WAL between checkpoints (1 GB by default), which bounds
 *   the directory's size on disk.
 */
const START_PARAMS = [
  "-c",
  "shared_buffers=32MB",
  "-c",
  "wal_level=minimal",
  "-c",
  "max_wal_senders=0",
  "-c",
  "full_page_writes=off",
  "-c",
  "max_wal_size=256MB",
];

async function openPglite(dataDir: string | undefined): Promise<PGlite> {
  const startParams = [...PGlite.defaultStartParams, ...START_PARAMS];
  if (dataDir === undefined) return PGlite.create({ startParams });
  mkdirSync(dataDir, { recursive: true });
  const fresh = !existsSync(join(dataDir, "PG_VERSION"));
  const template = templatePath();
  if (fresh && existsSync(join(template, "PG_VERSION"))) copyTemplate(template, dataDir);
  return PGlite.create(dataDir, { startParams });
}

/** The abstract socket name of a data directory (same directory, same name, whatever the path). */
export function socketNameOf(dataDir: string): string {
  const st = statSync(realpathSync(dataDir));
  return `\0danesweep-store:${st.dev}:${st.ino}`;
}

export function readOwner(dataDir: string): OwnerInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, "owner.json"), "utf8")) as OwnerInfo;
  } catch {
    return undefined;
  }
}

export function describeOwner(o: OwnerInfo | undefined): string {
  return o ? `pid ${o.pid} (${o.command}), since ${o.startedAt}` : "an unknown process";
}

/** The command line owner.json records for this process (the main thread's argv, without the Node binary). */
export function processCommand(): string {
  return commandLine(process.argv.slice(1));
}

/**
 * What Linux says of a process (/proc/PID/stat): "stopped" (SIGSTOP, Ctrl-Z,
 * or stopped by a debugger), "gone" (no such process, or a zombie),
 * "running" (any other state), "unknown" (no /proc to ask).
 */
export function ownerState(pid: number): "running" | "stopped" | "gone" | "unknown" {
  if (!Number.isInteger(pid) || pid <= 0) return "unknown";
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      return existsSync("/proc/self/stat") ? "gone" : "unknown";
    return "unknown";
  }
  // "PID (COMM) STATE ...": COMM may hold spaces and parentheses, the state follows the last ")".
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  if (state === "T" || state === "t") return "stopped";
  if (state === "Z" || state === "X" || state === "x") return "gone";
  return "running";
}

/**
 * Whether process `pid` holds the listening socket `name` (an abstract
 * name): its inode in /proc/net/unix among the process's descriptors. True
 * when it cannot be told (another user's process, no /proc): owner.json is
 * then taken at its word.
 */
export function holdsSocket(pid: number, name: string): boolean {
  try {
    const wanted = `@${name.slice(1)}`;
    const inodes = new Set<string>();
    for (const line of readFileSync("/proc/net/unix", "utf8").split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 8 && f[7] === wanted) inodes.add(f[6] as string);
    }
    if (inodes.size === 0) return false;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1] as string)) return true;
    }
    return false;
  } catch {
    return true;
  }
}

/** The owner of a directory when it is another process, stopped, and holding the directory's socket. */
export function stoppedOwner(dataDir: string, name: string): OwnerInfo | undefined {
  const o = readOwner(dataDir);
  if (!o || o.pid === process.pid || ownerState(o.pid) !== "stopped") return undefined;
  return holdsSocket(o.pid, name) ? o : undefined;
}

/** The message of an open refused because the owner is stopped: who it is, and what to do. */
export function stoppedOwnerMessage(where: string, o: OwnerInfo): string {
  return (
    `the embedded store in ${where} is owned by ${describeOwner(o)}, which is stopped ` +
    `(suspended with Ctrl-Z, or sent SIGSTOP) and cannot answer: resume it (fg in its terminal, ` +
    `or kill -CONT ${o.pid}), or stop it (kill ${o.pid}), then try again`
  );
}

// ------------------------------------------------------------- the server

interface Session {
  socket: Socket;
  /** Bytes received and not yet cut into messages. */
  chunks: Buffer[];
  chunkBytes: number;
  /** Messages of the unit being received. */
  partial: Buffer[];
  started: boolean;
  /** Complete protocol units waiting for their turn. */
  units: Buffer[];
  /** True while this session holds the backend (inside a transaction or a unit). */
  holding: boolean;
  busy: boolean;
  lastMessageAt: number;
  closed: boolean;
}

/** Takes `n` bytes off the front of the session's input (n <= chunkBytes). Exported for its tests. */
export function take(s: Pick<Session, "chunks" | "chunkBytes">, n: number): Buffer {
  const first = s.chunks[0] as Buffer;
  let out: Buffer;
  if (first.length >= n) {
    out = first.subarray(0, n);
    if (first.length === n) s.chunks.shift();
    else s.chunks[0] = first.subarray(n);
  } else {
    out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = s.chunks[0] as Buffer;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) s.chunks.shift();
      else s.chunks[0] = c.subarray(k);
    }
  }
  s.chunkBytes -= n;
  return out;
}

/**
 * Reads `n` bytes at the front of the session's input without taking them
 * (n <= chunkBytes). A header cut across chunks: the leading chunks that hold
 * it are joined into one, whole, and the chunks after them stay as they are.
 * Exported for its tests.
 */
export function peek(s: Pick<Session, "chunks">, n: number): Buffer {
  const first = s.chunks[0] as Buffer;
  if (first.length >= n) return first.subarray(0, n);
  let k = 0;
  let have = 0;
  while (have < n) have += (s.chunks[k++] as Buffer).length;
  const joined = Buffer.concat(s.chunks.slice(0, k), have);
  s.chunks.splice(0, k, joined);
  return joined.subarray(0, n);
}

/**
 * Serves one PGlite to many connections, one transaction at a time (see the
 * file comment). Owns the PGlite it is given: close() closes it.
 */
export class PgliteServer {
  #db: PGlite | undefined;
  readonly #ready: Promise<PGlite>;
  readonly #server: Server;
  readonly #sessions = new Set<Session>();
  /** Sessions waiting for the backend, in arrival order. */
  readonly #queue: Session[] = [];
  #holder: Session | undefined;
  #closing = false;
  #idleTimer: NodeJS.Timeout;
  /** Protocol units run, and the time PostgreSQL spent on them (ms; the calls are synchronous, so this is CPU of this thread). */
  readonly stats = { units: 0, backendMs: 0 };

  private constructor(server: Server, open: Promise<PGlite>) {
    this.#server = server;
    this.#ready = open.then((db) => {
      this.#db = db;
      return db;
    });
    // Connections that arrive while PGlite opens wait for it (#run awaits #ready).
    server.on("connection", (s) => this.#accept(s));
    this.#idleTimer = setInterval(() => this.#reapIdle(), 1000);
    this.#idleTimer.unref();
  }

  /**
   * Binds `name` (an abstract socket name) and, if that succeeds, opens PGlite
   * and serves it. Undefined when another process holds the name.
   */
  static async tryOwn(
    name: string,
    dataDir: string | undefined,
    command: string,
  ): Promise<PgliteServer | undefined> {
    const server = createServer({ allowHalfOpen: false });
    const bound = await new Promise<boolean>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) =>
        e.code === "EADDRINUSE" ? resolve(false) : reject(e),
      );
      server.listen({ path: name }, () => resolve(true));
    });
    if (!bound) return undefined;
    const self = new PgliteServer(server, openPglite(dataDir));
    try {
      await self.#ready;
    } catch (e) {
      self.#closing = true;
      for (const s of self.#sessions) s.socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      throw new StoreError("unavailable", `PGlite at ${dataDir ?? "memory"}: ${(e as Error)?.message}`, {
        cause: e,
      });
    }
    if (dataDir !== undefined) {
      const info: OwnerInfo = {
        pid: process.pid,
        command,
        startedAt: new Date().toISOString(),
      };
      try {
        writeFileSync(join(dataDir, "owner.json"), `${JSON.stringify(info)}\n`);
      } catch {
        // owner.json only improves messages
      }
    }
    return self;
  }

  /** The size of PGlite's WebAssembly memory (it grows, never shrinks). */
  get wasmBytes(): number {
    const mod = (this.#db as unknown as { mod?: { HEAPU8?: Uint8Array } } | undefined)?.mod;
    return mod?.HEAPU8?.byteLength ?? 0;
  }

  /** Sessions connected now (the owner's own pool included). */
  get sessions(): number {
    return this.#sessions.size;
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const s: Session = {
      socket,
      chunks: [],
      chunkBytes: 0,
      partial: [],
      started: false,
      units: [],
      holding: false,
      busy: false,
      lastMessageAt: Date.now(),
      closed: false,
    };
    this.#sessions.add(s);
    socket.on("data", (chunk: Buffer) => {
      s.lastMessageAt = Date.now();
      s.chunks.push(chunk);
      s.chunkBytes += chunk.length;
      this.#frame(s);
    });
    socket.on("error", () => {});
    socket.on("close", () => this.#drop(s));
  }

  /** Cuts the session's input into units that end where PostgreSQL answers (Sync, Query, Terminate, Flush). */
  #frame(s: Session): void {
    for (;;) {
      if (!s.started) {
        if (s.chunkBytes < 8) break;
        const head = peek(s, 8);
        const len = head.readInt32BE(0);
        const code = head.readInt32BE(4);
        if (len < 8 || len > 10_000) {
          s.socket.destroy();
          return;
        }
        if (s.chunkBytes < len) break;
        const msg = take(s, len);
        if (code === 80877103 || code === 80877104) {
          // SSLRequest / GSSENCRequest: not offered on a local socket.
          s.socket.write("N");
          continue;
        }
        if (code === 80877102) {
          // CancelRequest: not supported; the connection just ends.
          s.socket.destroy();
          return;
        }
        s.units.push(msg);
        s.started = true;
        continue;
      }
      if (s.chunkBytes < 5) break;
      const head = peek(s, 5);
      const type = head[0] as number;
      const len = head.readInt32BE(1);
      if (len < 4) {
        s.socket.destroy();
        return;
      }
      if (s.chunkBytes < 1 + len) break;
      s.partial.push(take(s, 1 + len));
      // S Sync, Q Query, X Terminate, H Flush, c CopyDone, f CopyFail: the backend answers after these.
      if (
        type === 0x53 ||
        type === 0x51 ||
        type === 0x58 ||
        type === 0x48 ||
        type === 0x63 ||
        type === 0x66
      ) {
        s.units.push(s.partial.length === 1 ? (s.partial[0] as Buffer) : Buffer.concat(s.partial));
        s.partial = [];
      }
    }
    if (s.units.length > 0) this.#want(s);
  }

  #want(s: Session): void {
    if (s.busy || s.closed) return;
    if (this.#holder === s) {
      void this.#run(s);
      return;
    }
    if (!this.#queue.includes(s)) this.#queue.push(s);
    this.#next();
  }

  #next(): void {
    if (this.#holder !== undefined) return;
    for (;;) {
      const s = this.#queue.shift();
      if (!s) return;
      if (s.closed || s.units.length === 0) continue;
      this.#holder = s;
      s.holding = true;
      void this.#run(s);
      return;
    }
  }

  async #run(s: Session): Promise<void> {
    s.busy = true;
    try {
      const db = this.#db ?? (await this.#ready);
      while (s.units.length > 0 && !s.closed) {
        const unit = s.units.shift() as Buffer;
        if (unit[0] === 0x58) {
          // Terminate: roll back what is open, then end the session.
          this.#rollbackIfOpen(s);
          s.socket.end();
          break;
        }
        const t0 = threadCpuMs();
        // The raw answer goes straight to the client: PGlite's own handling of a
        // reply (execProtocolRawSync's default) parses it and keeps every row it
        // ever served, which grows without end in a process that serves a scan.
        const chunks: Buffer[] = [];
        await db.execProtocolRawStream(unit, {
          syncToFs: false,
          onRawData: (d: Uint8Array) => {
            chunks.push(Buffer.from(d));
          },
        });
        this.stats.backendMs += threadCpuMs() - t0;
        this.stats.units++;
        const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        if (raw.length > 0 && !s.closed) {
          const out = raw;
          const idle = idleAfter(out);
          if (!s.socket.write(out)) await drained(s.socket);
          if (idle && s.units.length === 0) this.#release(s);
        }
      }
    } catch {
      s.socket.destroy();
    } finally {
      s.busy = false;
    }
    if (s.closed) this.#drop(s, true);
    else if (s.units.length > 0) this.#want(s);
  }

  #release(s: Session): void {
    if (this.#holder !== s) return;
    s.holding = false;
    this.#holder = undefined;
    this.#next();
  }

  #rollbackIfOpen(s: Session): void {
    if (!s.holding || !this.#db) return;
    // Whatever the client left half-sent or open: end it so the next session starts clean.
    const discard = { syncToFs: false, onRawData: () => {} };
    void this.#db.execProtocolRawStream(syncMessage(), discard);
    void this.#db.execProtocolRawStream(queryMessage("rollback"), discard);
  }

  #drop(s: Session, again = false): void {
    if (s.closed && !again) return;
    s.closed = true;
    this.#sessions.delete(s);
    if (this.#holder === s && !s.busy) {
      try {
        this.#rollbackIfOpen(s);
      } catch {
        // the backend answers every message; nothing to do if it cannot
      }
      this.#release(s);
    }
  }

  #reapIdle(): void {
    const h = this.#holder;
    if (!h || h.busy || this.#queue.length === 0) return;
    if (Date.now() - h.lastMessageAt > IDLE_TXN_MS) h.socket.destroy();
  }

  /** Stops serving, closes PGlite, and only then releases the socket (the next owner may open the files). */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#idleTimer);
    const t0 = Date.now();
    while (this.#holder && Date.now() - t0 < HANDOVER_WAIT_MS) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.#sessions) s.socket.destroy();
    while (this.#holder?.busy) await new Promise((r) => setTimeout(r, 5));
    const h = this.#holder;
    if (h) this.#drop(h, true);
    try {
      await this.#db?.close();
    } finally {
      await new Promise<void>((r) => this.#server.close(() => r()));
    }
  }
}

/**
 * Resolves when the socket can take more, or when it closed: a client that
 * goes away while its answer is written never drains, and waiting for that
 * alone kept its session holding the backend, so that nobody was served
 * again (seen when a stopped owner was resumed with such connections queued).
 */
function drained(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}

/** True when the backend's answer ends with ReadyForQuery 'I' (no transaction open). */
function idleAfter(out: Buffer): boolean {
  const n = out.length;
  return n >= 6 && out[n - 6] === 0x5a && out.readInt32BE(n - 5) === 5 && out[n - 1] === 0x49;
}

function syncMessage(): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 0x53;
  b.writeInt32BE(4, 1);
  return b;
}

function queryMessage(text: string): Buffer {
  const q = Buffer.from(`${text}\0`, "utf8");
  const b = Buffer.alloc(5 + q.length);
  b[0] = 0x51;
  b.writeInt32BE(4 + q.length, 1);
  q.copy(b, 5);
  return b;
}

// ----------------------------------------------------------- the client side

/** A socket for `pg` that connects to an abstract socket name, whatever host/port pg asks for. */
export function abstractStream(name: string): () => Socket {
  return () => {
    const s = new Socket();
    const connect = s.connect.bind(s) as (opts: { path: string }) => Socket;
    (s as unknown as { connect: () => Socket }).connect = () => connect({ path: name });
    (s as unknown as { setNoDelay: () => Socket }).setNoDelay = () => s;
    (s as unknown as { setKeepAlive: () => Socket }).setKeepAlive = () => s;
    return s;
  };
}

/** Whether something accepts connections on `name` right now. */
export function probeOwner(name: string, timeoutMs = 2000): Promise<"owned" | "free"> {
  return new Promise((resolve) => {
    const s = netConnect({ path: name });
    const t = setTimeout(() => {
      s.destroy();
      resolve("owned");
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      s.destroy();
      resolve("owned");
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code === "ECONNREFUSED" || e.code === "ENOENT" ? "free" : "owned");
    });
  });
}

/**
 * The serving thread of a directory this process owns (embedded-worker.ts):
 * PGlite runs there, beside the process's main thread.
 */
export class ServerThread {
  readonly #worker: Worker;
  #closed: Promise<void> | undefined;
  /** Protocol units run, PostgreSQL's ms, its WebAssembly memory and the thread's heap, as of the last refresh. */
  stats = { units: 0, backendMs: 0, wasmBytes: 0, threadHeapBytes: 0 };

  /** Why the thread ended while it served (an error it died of, or its exit code), once it has. */
  ended: string | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on("error", (e) => {
      this.ended ??= `it died of ${(e as Error)?.stack ?? String(e)}`;
    });
    worker.on("exit", (code) => {
      this.ended ??= `it ended (exit ${code})`;
    });
  }

  /**
   * Starts the thread; undefined when another process owns the directory.
   * `command` is what owner.json records (the thread's own argv would name
   * embedded-worker.ts).
   */
  static async start(
    name: string,
    dataDir: string | undefined,
    command: string,
  ): Promise<ServerThread | undefined> {
    const worker = new Worker(new URL("./embedded-worker.ts", import.meta.url), {
      workerData: { name, dataDir, command },
    });
    const first = await new Promise<{ owned?: boolean; error?: string }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.once("exit", (code) => resolve({ error: `the store's thread ended (exit ${code})` }));
    });
    if (first.owned) return new ServerThread(worker);
    await worker.terminate();
    if (first.error !== undefined)
      throw new StoreError("unavailable", `PGlite at ${dataDir ?? "memory"}: ${first.error}`);
    return undefined;
  }

  /** Asks the thread for its figures (benchmarks); the last ones known when it has ended. */
  async refreshStats(): Promise<ServerThread["stats"]> {
    if (this.#closed || this.ended !== undefined) return this.stats;
    const answer = new Promise<ServerThread["stats"]>((resolve) => {
      const on = (m: { stats?: ServerThread["stats"] }) => {
        if (!m?.stats) return;
        this.#worker.off("message", on);
        this.#worker.off("exit", gone);
        resolve(m.stats);
      };
      const gone = () => {
        this.#worker.off("message", on);
        resolve(this.stats);
      };
      this.#worker.on("message", on);
      this.#worker.once("exit", gone);
    });
    this.#worker.postMessage("stats");
    this.stats = await answer;
    return this.stats;
  }

  /**
   * Hands the directory over (PGlite closed, then the socket released) and
   * ends the thread. A PGlite that cannot close (its shutdown checkpoint
   * cannot write to a full disk) is abandoned after CLOSE_GIVE_UP_MS: the
   * thread is terminated, which leaves the files as a killed process would
   * (the next owner's WAL recovery puts them right).
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      // A thread that has ended already (it died) has nothing to hand over, and no "exit" to wait for.
      if (this.ended !== undefined) {
        resolve();
        return;
      }
      const timer = setTimeout(() => void this.#worker.terminate().finally(resolve), CLOSE_GIVE_UP_MS);
      const done = () => {
        clearTimeout(timer);
        void this.#worker.terminate().finally(resolve);
      };
      this.#worker.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      this.#worker.on("message", (m) => {
        if (m === "closed") done();
      });
      this.#worker.postMessage("close");
    });
    return this.#closed;
  }
}

/**
 * One process's view of an embedded directory: elects itself owner when the
 * directory has none, and keeps doing so whenever the owner goes away
 * (`ensureOwner`, called before connecting and after a refused connection).
 * The owner serves the directory from a thread of its own (ServerThread).
 */
export class EmbeddedDirectory {
  readonly name: string;
  readonly dataDir: string | undefined;
  /** The command line owner.json names while this process owns the directory. */
  readonly command: string;
  #server: ServerThread | undefined;
  #electing: Promise<void> | undefined;
  #closed = false;

  constructor(dataDir: string | undefined, command: string | undefined = undefined) {
    this.dataDir = dataDir;
    this.command = command ?? processCommand();
    if (dataDir === undefined) {
      this.name = `\0danesweep-store:memory:${process.pid}:${Math.random().toString(36).slice(2)}`;
    } else {
      mkdirSync(dataDir, { recursive: true });
      this.name = socketNameOf(dataDir);
    }
  }

  get isOwner(): boolean {
    return this.#server !== undefined;
  }

  /** True once this process closed its view of the directory. */
  get closed(): boolean {
    return this.#closed;
  }

  get server(): ServerThread | undefined {
    return this.#server;
  }

  /** True while this process tries to become the owner (opening PGlite). */
  get electing(): boolean {
    return this.#electing !== undefined;
  }

  /** Makes sure someone serves the directory: this process, if nobody does. */
  ensureOwner(): Promise<void> {
    const ended = this.#closed ? undefined : this.#server?.ended;
    if (ended !== undefined) {
      // Nothing serves the directory any more, and this process cannot tell
      // what its PostgreSQL left behind: the store is unavailable, saying why.
      return Promise.reject(
        new StoreError(
          "unavailable",
          `the store's thread of this process (${this.dataDir ?? "memory"}): ${ended}`,
        ),
      );
    }
    if (this.#server || this.#closed) return Promise.resolve();
    this.#electing ??= (async () => {
      try {
        if (this.dataDir !== undefined && (await probeOwner(this.name)) === "owned") return;
        this.#server = await ServerThread.start(this.name, this.dataDir, this.command);
      } finally {
        this.#electing = undefined;
      }
    })();
    return this.#electing;
  }

  /** Hands the directory over (if owned): closes PGlite, then releases the socket. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#electing?.catch(() => {});
    const s = this.#server;
    this.#server = undefined;
    if (s) await s.close();
    if (this.dataDir !== undefined && s) {
      const o = readOwner(this.dataDir);
      if (o?.pid === process.pid) rmSync(join(this.dataDir, "owner.json"), { force: true });
    }
  }
}
