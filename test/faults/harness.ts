/**
 * What the deployment tests share: private infrastructure, the four services
 * as child processes, `danesweep scan --kafka` as the seeder, and the checks.
 *
 * - privateKafka(name): a Kafka broker of the test's own (kafka.sh with its
 *   own state dir and ports, from PRIVATE_KAFKA_PORTS: one port per name, so
 *   suites that run at the same time never share a broker), wiped at start so
 *   no earlier run's messages are replayed; killable and restartable;
 *   `down()` stops it. The shared broker on 29092 is never touched.
 * - privatePostgres(name): the same for PostgreSQL (postgres.sh, PRIVATE_PG_PORTS).
 * - Deployment: starts `node services/<kind>/src/main.ts` with the test
 *   universe's settings, logs to files, waits for the "ready" log line; kill
 *   (any signal), restart, stop (SIGTERM) each worker.
 * - startKafkaScan(...): `danesweep scan --kafka ... --format jsonl` as a child.
 * - synthDomains(n): the first n synthetic domains of the test universe with
 *   the generator's expected outcome (generating the universe when it has
 *   fewer than n).
 * - checkScan(...): exactly one stored verdict per seeded domain (rows counted
 *   in results), none missing, none extra, and each verdict's action
 *   and security (or reason) as the synthetic universe expects.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { AGGREGATOR_NODE_FLAGS } from "../../services/aggregator/src/node-flags.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const KAFKA_SH = `${ROOT}scripts/services/kafka.sh`;
const PG_SH = `${ROOT}scripts/services/postgres.sh`;
const SYNTH_FILE = "/var/tmp/danesweep-testbed/synth/domains.txt";

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function ensureTestbed(): void {
  execFileSync(`${ROOT}test/testbed/bin/testbed`, ["up"], { stdio: ["ignore", "ignore", "inherit"] });
}

export interface SynthDomain {
  domain: string;
  cls: string;
  action: string;
  /** Security for deliver, else the reason. */
  expect: string;
}

function readSynth(): SynthDomain[] {
  if (!existsSync(SYNTH_FILE)) return [];
  return readFileSync(SYNTH_FILE, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [domain, cls, action, expect] = l.split(" ");
      return { domain: domain!, cls: cls!, action: action!, expect: expect! };
    });
}

/** The first n synthetic domains (the universe is generated with n domains only when it holds fewer). */
/**
 * The first n domains of the synthetic universe, generated (with about
 * `probesPerDomain` distinct probes per domain, else one MX name per address)
 * when it holds fewer.
 */
export function synthDomains(n: number, probesPerDomain?: number): SynthDomain[] {
  ensureTestbed();
  let all = readSynth();
  if (all.length < n) {
    const ratio = probesPerDomain === undefined ? [] : ["--probes-per-domain", String(probesPerDomain)];
    execFileSync(`${ROOT}test/testbed/bin/synth`, [String(n), ...ratio], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    all = readSynth();
  }
  assert.ok(all.length >= n, `synthetic universe has ${all.length} domains, wanted ${n}`);
  return all.slice(0, n);
}

// ------------------------------------------------------------------ infrastructure

export interface PrivateKafka {
  bootstrap: string;
  /** SIGKILL the broker process (no clean shutdown). */
  kill(): void;
  /** The broker process's pid (from kafka.sh's pid file). */
  pid(): number;
  up(): void;
  down(): void;
}

/**
 * The private brokers' listener ports (the controller listens on port + 1).
 * node:test runs two files at once (scripts/run-tests.ts), so each suite
 * has a port of its own; two suites on one port wiped each other's broker.
 * Every fixed port of the tests' services lies below Linux's ephemeral range
 * (32768-60999): a port inside it can be held, at the moment a service
 * starts, by the local end of any outgoing connection (ports.test.ts).
 */
export const PRIVATE_KAFKA_PORTS = {
  faults: 29192,
  e2e: 29292,
  mtasts: 29392,
  api: 29492,
  traces: 29592,
  grafana: 29692,
  risks: 29792,
  bench: 29892,
} as const;

export function privateKafka(name: keyof typeof PRIVATE_KAFKA_PORTS): PrivateKafka {
  const port = PRIVATE_KAFKA_PORTS[name];
  const env = {
    ...process.env,
    DANESWEEP_KAFKA_PORT: String(port),
    DANESWEEP_KAFKA_CONTROLLER_PORT: String(port + 1),
    DANESWEEP_KAFKA_STATE: `/var/tmp/danesweep-kafka-${name}`,
  };
  const run = (cmd: string) => execFileSync(KAFKA_SH, [cmd], { env, stdio: ["ignore", "ignore", "inherit"] });
  const pid = () => Number(readFileSync(`${env.DANESWEEP_KAFKA_STATE}/kafka.pid`, "utf8").trim());
  run("clean");
  run("up");
  return {
    bootstrap: `127.0.0.1:${port}`,
    pid,
    kill: () => process.kill(pid(), "SIGKILL"),
    up: () => run("up"),
    down: () => run("down"),
  };
}

/** The private PostgreSQL servers' ports, one per suite, as for Kafka. */
export const PRIVATE_PG_PORTS = {
  faults: 25532,
} as const;

export interface PrivatePostgres {
  /** URL of a new empty database. */
  freshDatabase(): Promise<string>;
  restart(pauseMs: number): Promise<void>;
  down(): void;
}

export function privatePostgres(name: keyof typeof PRIVATE_PG_PORTS): PrivatePostgres {
  const port = PRIVATE_PG_PORTS[name];
  const env = {
    ...process.env,
    DANESWEEP_PG_PORT: String(port),
    DANESWEEP_PG_DIR: `/var/tmp/danesweep-pg-${name}`,
  };
  const run = (cmd: string) =>
    execFileSync(PG_SH, [cmd], { env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  const base = run("up");
  return {
    async freshDatabase() {
      const db = `t_${randomBytes(5).toString("hex")}`;
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`create database ${db}`);
      await c.end();
      return base.replace(/\/[^/]*$/, `/${db}`);
    },
    async restart(pauseMs: number) {
      run("down");
      await sleep(pauseMs);
      run("up");
    },
    down: () => {
      run("down");
    },
  };
}

// ------------------------------------------------------------------ the services

export type Kind = "resolver" | "prober" | "aggregator" | "seeder";

/**
 * Node flags for a worker: the service's own, as its manifests start it (the
 * aggregator's AGGREGATOR_NODE_FLAGS), then WORKER_NODE_ARGS (space-separated),
 * e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the services of a
 * bench/pipeline run (Node refuses --cpu-prof in NODE_OPTIONS).
 */
function workerNodeArgs(kind: Kind): string[] {
  return [
    ...(kind === "aggregator" ? AGGREGATOR_NODE_FLAGS : []),
    ...(process.env.WORKER_NODE_ARGS ?? "").split(" ").filter((a) => a !== ""),
  ];
}

export class Worker {
  readonly kind: Kind;
  readonly name: string;
  readonly logFile: string;
  child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  lines: string[] = [];

  constructor(kind: Kind, name: string, logDir: string, env: Record<string, string>, args: string[] = []) {
    this.kind = kind;
    this.name = name;
    this.logFile = join(logDir, `${name}.log`);
    const log: WriteStream = createWriteStream(this.logFile, { flags: "a" });
    this.child = spawn(
      process.execPath,
      [...workerNodeArgs(kind), `${ROOT}services/${kind}/src/main.ts`, ...args],
      {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let partial = "";
    let markReady: () => void = () => {};
    let failReady: (e: Error) => void = () => {};
    this.ready = new Promise<void>((res, rej) => {
      markReady = res;
      failReady = rej;
    });
    this.ready.catch(() => {});
    this.child.stderr!.setEncoding("utf8").on("data", (s: string) => {
      log.write(s);
      partial += s;
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const l of parts) {
        this.lines.push(l);
        if (l.includes('"msg":"ready"')) markReady();
      }
    });
    this.child.stdout!.setEncoding("utf8").on("data", (s: string) => log.write(s));
    this.exited = new Promise((res) =>
      this.child.on("close", (code, signal) => {
        log.end();
        failReady(new Error(`${name} exited (${code ?? signal}) before it was ready; see ${this.logFile}`));
        res({ code, signal });
      }),
    );
  }

  /** True once the test itself signalled this worker. */
  signalled = false;

  kill(signal: NodeJS.Signals): void {
    this.signalled = true;
    this.child.kill(signal);
  }

  /** "probe dialed" log records of this worker. */
  dials(): { ip: string; port: number; sni: string; time: string }[] {
    return this.lines
      .filter((l) => l.includes('"msg":"probe dialed"'))
      .map((l) => JSON.parse(l) as { ip: string; port: number; sni: string; time: string });
  }

  /** The port of the worker's HTTP server, from its "ready" log line. */
  httpPort(): number | undefined {
    for (const l of this.lines) {
      if (!l.includes('"msg":"ready"')) continue;
      const port = (JSON.parse(l) as { httpPort?: unknown }).httpPort;
      if (typeof port === "number") return port;
    }
    return undefined;
  }

  tail(n = 20): string {
    return this.lines.slice(-n).join("\n");
  }
}

export interface DeploymentOptions {
  brokers: string;
  databaseUrl: string;
  logDir: string;
  /** Extra environment for every worker. */
  env?: Record<string, string>;
}

/** Settings every worker gets: the test universe, short Kafka session timeouts, loopback HTTP on any port. */
export function testEnv(o: DeploymentOptions, groupPrefix: string): Record<string, string> {
  return {
    DANESWEEP_KAFKA_BROKERS: o.brokers,
    DANESWEEP_DATABASE_URL: o.databaseUrl,
    DANESWEEP_GROUP_PREFIX: groupPrefix,
    DANESWEEP_HTTP_HOST: "127.0.0.1",
    DANESWEEP_HTTP_PORT: "0",
    DANESWEEP_KAFKA_SESSION_TIMEOUT_MS: "6000",
    DANESWEEP_PARTITIONS: "12",
    DANESWEEP_RETRY_MAX_MS: "2000",
    DANESWEEP_MAX_ATTEMPTS: "60",
    DANESWEEP_SHUTDOWN_TIMEOUT_MS: "20000",
    DANESWEEP_RESOLVERS: "127.53.53.53",
    DANESWEEP_ALLOW_PRIVATE: "true",
    DANESWEEP_EHLO: "danesweep-e2e.invalid",
    DANESWEEP_PER_IP_RATE: "100",
    DANESWEEP_PER_IP_BURST: "100",
    DANESWEEP_PER_IP_CONCURRENCY: "8",
    DANESWEEP_LOG_PROBES: "true",
    ...(o.env ?? {}),
  };
}

/** Workers still running when the test process exits are killed (no orphans after a failed run). */
const running = new Set<Worker>();
process.on("exit", () => {
  for (const w of running) w.child.kill("SIGKILL");
});

export class Deployment {
  readonly o: DeploymentOptions;
  readonly groupPrefix = `t${randomBytes(4).toString("hex")}`;
  readonly workers: Worker[] = [];
  #n = 0;

  constructor(o: DeploymentOptions) {
    this.o = o;
    mkdirSync(o.logDir, { recursive: true });
  }

  start(kind: Kind, env: Record<string, string> = {}, args: string[] = []): Worker {
    const w = new Worker(
      kind,
      `${kind}-${++this.#n}`,
      this.o.logDir,
      { ...testEnv(this.o, this.groupPrefix), ...env },
      args,
    );
    this.workers.push(w);
    running.add(w);
    void w.exited.then(() => {
      running.delete(w);
      if (!w.signalled) this.#crashed(w);
    });
    return w;
  }

  #onCrash: ((w: Worker) => void)[] = [];
  #crashed(w: Worker): void {
    for (const f of this.#onCrash) f(w);
  }

  /** Rejects as soon as a worker exits without the test having signalled it. */
  crash(): Promise<never> {
    return new Promise((_, reject) =>
      this.#onCrash.push((w) =>
        reject(
          new Error(
            `${w.name} exited unexpectedly (exit ${w.child.exitCode ?? w.child.signalCode}):\n${w.tail(30)}`,
          ),
        ),
      ),
    );
  }

  /** One resolver, prober and aggregator, ready. */
  async startAll(): Promise<void> {
    const ws = [this.start("resolver"), this.start("prober"), this.start("aggregator")];
    await Promise.all(ws.map((w) => w.ready));
  }

  live(kind: Kind): Worker[] {
    return this.workers.filter(
      (w) => w.kind === kind && w.child.exitCode === null && w.child.signalCode === null,
    );
  }

  /** SIGKILL the first live worker of a kind, then start a new one in its place. */
  async killAndRestart(kind: Kind): Promise<Worker> {
    const victim = this.live(kind)[0];
    assert.ok(victim, `a live ${kind}`);
    victim.kill("SIGKILL");
    await victim.exited;
    const w = this.start(kind);
    await w.ready;
    return w;
  }

  /** SIGTERM every live worker; they must stop cleanly (exit 0) within 30 s. */
  async stop(): Promise<
    { name: string; code: number | null; signal: NodeJS.Signals | null; tail: string }[]
  > {
    const live = this.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    for (const w of live) w.kill("SIGTERM");
    const out = [];
    for (const w of live) {
      const t = setTimeout(() => w.kill("SIGKILL"), 30_000);
      const r = await w.exited;
      clearTimeout(t);
      out.push({ name: w.name, ...r, tail: w.tail(40) });
    }
    return out;
  }

  dials(): { ip: string; port: number; sni: string; time: string; worker: string }[] {
    return this.workers.flatMap((w) => w.dials().map((d) => ({ ...d, worker: w.name })));
  }

  tails(): string {
    return this.workers.map((w) => `--- ${w.name} (${w.logFile})\n${w.tail(15)}`).join("\n");
  }
}

// ------------------------------------------------------------------ the scan

export interface ScanRun {
  child: ChildProcess;
  /** Resolves with the scan id once the CLI printed it. */
  scanId: Promise<string>;
  /** stdout is "" when the scan was started with keepStdout false; `lines` counts its lines either way. */
  done: Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    lines: number;
    stderr: string;
  }>;
}

/**
 * `danesweep scan --kafka BROKERS --database URL --format jsonl -f FILE` (the
 * CLI is the seeder). `keepStdout: false` counts the verdict lines without
 * keeping them: a million verdicts do not fit in one string.
 */
export function startKafkaScan(
  brokers: string,
  databaseUrl: string,
  file: string,
  extra: string[] = [],
  opts: { keepStdout?: boolean } = {},
): ScanRun {
  const child = spawn(
    process.execPath,
    [
      `${ROOT}services/cli/src/main.ts`,
      "scan",
      "--kafka",
      brokers,
      "--database",
      databaseUrl,
      "--format",
      "jsonl",
      "-f",
      file,
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let lines = 0;
  let stderr = "";
  let gotId: (id: string) => void = () => {};
  const scanId = new Promise<string>((r) => {
    gotId = r;
  });
  const keep = opts.keepStdout !== false;
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    for (let i = s.indexOf("\n"); i !== -1; i = s.indexOf("\n", i + 1)) lines++;
    if (keep) stdout += s;
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
    const m = /danesweep: scan (\S+) \(/.exec(stderr);
    if (m) gotId(m[1]!);
  });
  const done: ScanRun["done"] = new Promise((res) =>
    child.on("close", (code, signal) => res({ code, signal, stdout, lines, stderr })),
  );
  return { child, scanId, done };
}

export async function scanCounts(
  databaseUrl: string,
  scan: string,
): Promise<{ total: number; judged: number }> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const r = await c.query(
      `select (select coalesce(sum(k.seeded), 0)::int from scan_counters k join scans s on s.seq = k.scan
                where s.id = $1) as total,
              (select count(*)::int from results r join scans s on s.seq = r.scan where s.id = $1) as judged`,
      [scan],
    );
    return { total: r.rows[0].total, judged: r.rows[0].judged };
  } finally {
    await c.end();
  }
}

/** Resolves once at least `fraction` of `n` domains of the scan are judged. */
export async function waitForProgress(
  databaseUrl: string,
  scanId: Promise<string>,
  n: number,
  fraction: number,
) {
  const scan = await scanId;
  return waitFor(
    `${Math.round(fraction * 100)}% of the scan judged`,
    async () => {
      const c = await scanCounts(databaseUrl, scan);
      return c.judged >= n * fraction ? c : undefined;
    },
    180_000,
    200,
  );
}

/**
 * Exactly one verdict per seeded domain: result rows counted per domain,
 * compared with the list, and the scan's judged counter equal to the rows;
 * each verdict as the synthetic universe expects. Also the CLI's jsonl: one
 * line per domain.
 */
export async function checkScan(
  databaseUrl: string,
  scan: string,
  domains: SynthDomain[],
  cliStdout: string,
): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  let rows: { domain: string; n: number; action: string; security: string | null; reason: string }[];
  let counters: { seeded: number; judged: number };
  try {
    rows = (
      await c.query(
        `select domain, count(*)::int as n, min(action) as action, min(security) as security, min(reason) as reason
           from verdict_rows where scan_id = $1 group by domain`,
        [scan],
      )
    ).rows;
    counters = (
      await c.query(
        `select coalesce(sum(k.seeded), 0)::int as seeded, coalesce(sum(k.judged), 0)::int as judged
           from scan_counters k join scans s on s.seq = k.scan where s.id = $1`,
        [scan],
      )
    ).rows[0];
  } finally {
    await c.end();
  }
  const want = new Map(domains.map((d) => [d.domain, d]));
  const got = new Map(rows.map((r) => [r.domain, r]));
  const missing = domains.filter((d) => !got.has(d.domain)).map((d) => d.domain);
  const extra = rows.filter((r) => !want.has(r.domain)).map((r) => r.domain);
  const twice = rows.filter((r) => r.n !== 1).map((r) => r.domain);
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} domains without a verdict`);
  assert.deepEqual(extra.slice(0, 10), [], `${extra.length} verdicts for domains not seeded`);
  assert.deepEqual(twice, [], "domains with more than one verdict row");
  assert.equal(rows.length, domains.length);
  assert.deepEqual(counters, { seeded: domains.length, judged: domains.length });
  const wrong = [];
  for (const d of domains) {
    const r = got.get(d.domain)!;
    const seen = r.action === "deliver" ? r.security : r.reason;
    if (r.action !== d.action || seen !== d.expect)
      wrong.push(`${d.domain}: want ${d.action} ${d.expect}, got ${r.action} ${seen}`);
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} verdicts differ from the synthetic universe's`);
  const lines = cliStdout.split("\n").filter((l) => l.trim() !== "");
  const printed = lines.map((l) => (JSON.parse(l) as { domain: string }).domain);
  assert.equal(printed.length, domains.length, "the CLI printed one verdict per domain");
  assert.equal(new Set(printed).size, domains.length, "the CLI printed no domain twice");
}
