/**
 * The worker skeleton every danesweep service runs in. No business logic:
 * config, connections, lifecycle, telemetry.
 *
 * runService(spec, { argv, env }) -> exit code:
 * 1. Loads COMMON_FIELDS plus spec.fields from flags and environment
 *    (config.ts). --help prints them (0); a bad or missing value prints one
 *    line per problem naming the variable and returns 2 before anything starts.
 * 2. Starts the HTTP server (/healthz, /readyz, /metrics), then opens the
 *    store (PostgreSQL, migrations applied) and the Kafka bus, retrying until
 *    DANESWEEP_START_TIMEOUT_MS (1 if they never come: exit code 1).
 * 3. Calls spec.start(ctx). ctx.consume subscribes with the configured
 *    attempts and retries a failed group join until the start timeout; every
 *    subscription is tracked for shutdown.
 * 4. Runs until SIGTERM/SIGINT, or until the `done` promise start() may
 *    return settles (one-shot services such as the seeder; its value is the
 *    exit code; on a signal it is awaited, the service watching ctx.signal
 *    to stop early). Shutdown: readiness goes false, every subscription is closed
 *    (stop fetching, finish in-flight handlers, commit, leave the group),
 *    then spec's stop(), the bus, the store and the HTTP server. If that takes
 *    longer than DANESWEEP_SHUTDOWN_TIMEOUT_MS the code is 1; a second signal
 *    ends the process at once.
 * Logs are JSON lines on stderr (log.ts, pino); metrics are prom-client's
 * (metrics.ts): the runtime's own (messages handled, retried and
 * dead-lettered and the handler time per topic, Kafka lag and counters,
 * readiness, process) and what the service registers on `ctx.metrics`.
 * Tracing: `o.telemetry` (started by launch.ts before anything loads `pg`)
 * gives `ctx.tracing` (undefined when tracing is off), adds trace and span ids
 * to log lines inside a span, and is shut down (spans flushed) last.
 */
import { connect } from "node:net";
import type { Bus, ConsumeOptions, HandlerOutcome, IncomingMessage, Subscription } from "@danesweep/bus";
import { createKafkaBus, type KafkaBus } from "@danesweep/bus/kafka";
import { ApiQueries, openStore, type Store } from "@danesweep/store";
import { activeTraceIds, messageTraceIds, type Tracing } from "@danesweep/telemetry";
import type { Telemetry } from "@danesweep/telemetry/sdk";
import { valueWithin } from "@danesweep/timers";
import { Type } from "@sinclair/typebox";
import {
  type ConfigOf,
  configHelp,
  type Fields,
  formatIssues,
  loadConfig,
  redactedConfig,
  redactUrl,
} from "./config.ts";
import { type CheckResult, type HttpServer, startHttpServer } from "./http.ts";
import { createLogger, errorFields, LOG_LEVELS, type Logger } from "./log.ts";
import { KafkaMetrics, type Outcome, type Registry, ServiceMetrics } from "./metrics.ts";

const int = (min: number, max: number) => Type.Integer({ minimum: min, maximum: max });

export const COMMON_FIELDS = {
  kafkaBrokers: {
    env: "DANESWEEP_KAFKA_BROKERS",
    schema: Type.Array(Type.String({ pattern: "^[^\\s:,]+:[0-9]{1,5}$" }), { minItems: 1 }),
    doc: "Kafka bootstrap brokers, host:port,...",
  },
  kafkaClient: {
    env: "DANESWEEP_KAFKA_CLIENT",
    schema: Type.Union([Type.Literal("platformatic"), Type.Literal("kafkajs")]),
    default: "platformatic" as const,
    doc: "Kafka client library: platformatic | kafkajs",
  },
  kafkaSessionTimeoutMs: {
    env: "DANESWEEP_KAFKA_SESSION_TIMEOUT_MS",
    schema: int(3000, 600_000),
    default: 30_000,
    doc: "consumer group session timeout in ms (a dead member's partitions move after this)",
  },
  partitions: {
    env: "DANESWEEP_PARTITIONS",
    schema: int(1, 10_000),
    default: 12,
    doc: "partitions per topic when a topic is created",
  },
  replication: {
    env: "DANESWEEP_REPLICATION",
    schema: int(1, 10),
    default: 1,
    doc: "replication factor when a topic is created",
  },
  groupPrefix: {
    env: "DANESWEEP_GROUP_PREFIX",
    schema: Type.String({ pattern: "^[A-Za-z0-9._-]{1,100}$" }),
    default: "danesweep",
    doc: "prefix of the consumer group names (<prefix>.<stage>)",
  },
  maxAttempts: {
    env: "DANESWEEP_MAX_ATTEMPTS",
    schema: int(1, 10_000),
    default: 40,
    doc: "handler attempts before a message is dead-lettered (retries ride out store and broker restarts)",
  },
  retryMaxMs: {
    env: "DANESWEEP_RETRY_MAX_MS",
    schema: int(10, 600_000),
    default: 5000,
    doc: "longest wait between two attempts of a handler (exponential backoff from 50 ms)",
  },
  databaseUrl: {
    env: "DANESWEEP_DATABASE_URL",
    schema: Type.String({ pattern: "^postgres(ql)?://" }),
    doc: "PostgreSQL URL (postgres://user:password@host:port/db)",
    secret: true,
  },
  databasePool: {
    env: "DANESWEEP_DATABASE_POOL",
    schema: int(1, 1000),
    default: 10,
    doc: "PostgreSQL connections in the pool",
  },
  httpHost: {
    env: "DANESWEEP_HTTP_HOST",
    schema: Type.String({ minLength: 1 }),
    default: "0.0.0.0",
    doc: "address of the health/readiness/metrics server",
  },
  httpPort: {
    env: "DANESWEEP_HTTP_PORT",
    schema: int(0, 65_535),
    default: 8080,
    doc: "port of the health/readiness/metrics server (0: any free port)",
  },
  startTimeoutMs: {
    env: "DANESWEEP_START_TIMEOUT_MS",
    schema: int(1000, 3_600_000),
    default: 120_000,
    doc: "how long to keep trying to reach PostgreSQL and Kafka at start",
  },
  shutdownTimeoutMs: {
    env: "DANESWEEP_SHUTDOWN_TIMEOUT_MS",
    schema: int(100, 600_000),
    default: 30_000,
    doc: "how long a graceful shutdown may take",
  },
  logLevel: {
    env: "DANESWEEP_LOG_LEVEL",
    schema: Type.Union(LOG_LEVELS.map((l) => Type.Literal(l))),
    default: "info" as const,
    doc: "debug | info | warn | error",
  },
} satisfies Fields;

export type CommonConfig = ConfigOf<typeof COMMON_FIELDS>;

export interface ServiceContext<C> {
  config: C & CommonConfig;
  log: Logger;
  /** The PostgreSQL store (undefined for a service whose spec says `store: false`). */
  store: Store | undefined;
  bus: Bus;
  /** Aborted when shutdown begins. */
  signal: AbortSignal;
  /** Spans and trace context on Kafka, when tracing is on (OTEL_*); undefined otherwise. */
  tracing: Tracing | undefined;
  /** The service's metrics registry: register its own metrics here (metrics.ts counterOf, gaugeOf). */
  metrics: Registry;
  /** The consumer group name of a stage: "<prefix>.<stage>". */
  group(stage: string): string;
  /** bus.consume with the configured attempts; retries a failed start until the start timeout; tracked for shutdown. */
  consume(
    opts: Omit<ConsumeOptions, "maxAttempts"> & { maxAttempts?: number },
    handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
  ): Promise<Subscription>;
  /** Retries `fn` with backoff until it resolves or the start timeout passes. */
  retryStart<T>(what: string, fn: () => Promise<T>): Promise<T>;
}

export interface Started {
  /** One-shot services: settles with the exit code when the work is done. */
  done?: Promise<number>;
  /**
   * Called when shutdown begins, before the subscriptions are closed (which
   * waits for their handlers): a service whose handlers wait for later
   * messages (the aggregator's join) lets go of them here.
   */
  beforeClose?: () => void;
  /** Extra cleanup after the subscriptions closed (e.g. close a prober). */
  stop?: () => Promise<void>;
  /** Extra readiness checks. */
  checks?: Record<string, () => Promise<CheckResult>>;
}

export interface ServiceSpec<F extends Fields> {
  name: string;
  summary: string;
  fields: F;
  /** Whether the service uses the store (default true); without, PostgreSQL is not connected. */
  store?: boolean;
  start(ctx: ServiceContext<ConfigOf<F>>): Promise<Started>;
}

export interface RunOptions {
  argv: string[];
  env: Record<string, string | undefined>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Handle SIGTERM/SIGINT (default true; tests drive shutdown with `stop`). */
  signals?: boolean;
  /** Aborting it starts a graceful shutdown (tests). */
  stop?: AbortSignal;
  /** Called once the service is started and ready, with the bound HTTP port. */
  onReady?: (info: { httpPort: number }) => void;
  /** OpenTelemetry, started before the service's modules loaded (launch.ts); shut down when the service stops. */
  telemetry?: Telemetry;
}

class StartAborted extends Error {
  readonly code = "start-aborted" as const;
}

/**
 * Thrown by a service's start() when a precondition fails for good (e.g. the
 * resolver does not validate): logged with its detail, and the service exits
 * with `exitCode` without retrying.
 */
export class StartRefused extends Error {
  readonly code = "start-refused" as const;
  readonly exitCode: number;
  constructor(detail: string, exitCode = 1) {
    super(detail);
    this.name = "StartRefused";
    this.exitCode = exitCode;
  }
}

/**
 * Reads a setting's file (an opt-out list...) at start: an error of `read`
 * refuses the start with exit code 2 (bad configuration), naming the
 * variable: "DANESWEEP_OPT_OUT: cannot read /etc/x: ENOENT".
 */
export function readSettingFile<T>(variable: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw new StartRefused(`${variable}: ${e instanceof Error ? e.message : String(e)}`, 2);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function tcpReachable(address: string, timeoutMs = 1500): Promise<boolean> {
  const i = address.lastIndexOf(":");
  return new Promise((resolve) => {
    const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

export async function runService<F extends Fields>(spec: ServiceSpec<F>, o: RunOptions): Promise<number> {
  const stdout = o.stdout ?? process.stdout;
  const stderr = o.stderr ?? process.stderr;
  // A service without a store takes no database settings.
  const common: Partial<typeof COMMON_FIELDS> = { ...COMMON_FIELDS };
  if (spec.store === false) {
    delete common.databaseUrl;
    delete common.databasePool;
  }
  const fields = { ...common, ...spec.fields } as typeof COMMON_FIELDS & F;
  if (o.argv.includes("--help")) {
    stdout.write(
      `${spec.name}: ${spec.summary}\n\nsettings (environment variable / flag):\n${configHelp(fields)}` +
        "\ntracing (OpenTelemetry, off unless an exporter is configured): the standard OTEL_* variables,\n" +
        "  e.g. OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318, OTEL_TRACES_SAMPLER, OTEL_SERVICE_NAME\n" +
        "  (default danesweep-<service>); see libs/telemetry/README.md\n",
    );
    return 0;
  }
  const loaded = loadConfig(fields, { env: o.env, argv: o.argv });
  if (!loaded.ok) {
    stderr.write(`${formatIssues(spec.name, loaded.issues)}\n(${spec.name} --help lists the settings)\n`);
    return 2;
  }
  const config = { ...loaded.config, positionals: loaded.positionals } as ConfigOf<typeof fields> & {
    positionals: string[];
  };
  const tracing = o.telemetry?.tracing("kafka");
  const log = createLogger({
    service: spec.name,
    level: config.logLevel,
    write: (l) => stderr.write(l),
    ...(tracing ? { traceIds: activeTraceIds } : {}),
  });
  const startedAt = Date.now();
  const shutdown = new AbortController();
  let stopping = false;
  let ready = false;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.error("second signal; exiting now", { signal: sig });
      process.exit(1);
    }
    log.info("signal received; shutting down", { signal: sig });
    shutdown.abort();
  };
  if (o.signals ?? true) {
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }
  o.stop?.addEventListener("abort", () => shutdown.abort(), { once: true });
  log.info("starting", { config: redactedConfig(fields, config) });

  let store: Store | undefined;
  let bus: KafkaBus | undefined;
  let started: Started | undefined;
  const subs: Subscription[] = [];
  let http: HttpServer | undefined;
  const deadline = startedAt + config.startTimeoutMs;

  const retryStart = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      if (shutdown.signal.aborted) throw new StartAborted(what);
      try {
        return await fn();
      } catch (e) {
        if (e instanceof StartRefused) throw e;
        if (shutdown.signal.aborted) throw new StartAborted(what);
        if (Date.now() > deadline) throw e;
        log.warn(`${what} failed; retrying`, { attempt, error: errorFields(e) });
        await sleep(Math.min(5000, 250 * 2 ** Math.min(attempt, 5)), shutdown.signal);
      }
    }
  };

  const checks = (): Record<string, () => Promise<CheckResult>> => ({
    started: async () => (ready ? { ok: true } : { ok: false, detail: stopping ? "stopping" : "starting" }),
    store: async () => {
      if (spec.store === false) return { ok: true, detail: "not used" };
      if (!store) return { ok: false, detail: "not connected" };
      await new ApiQueries(store).ping();
      return { ok: true };
    },
    kafka: async () => {
      const ok = await Promise.all(config.kafkaBrokers.map((b) => tcpReachable(b)));
      return ok.some(Boolean) ? { ok: true } : { ok: false, detail: "no bootstrap broker reachable" };
    },
    ...(started?.checks ?? {}),
  });

  const serviceMetrics = new ServiceMetrics(spec.name, { ready: () => ready });
  const kafkaMetrics = new KafkaMetrics(serviceMetrics.registry);
  const metrics = async () => {
    if (bus) kafkaMetrics.update(await bus.metrics());
    return serviceMetrics.render();
  };

  // Every outcome is counted and timed per topic; outcomes other than ack are logged (retries at
  // most once a second per topic, with a count), with the trace the message belongs to.
  const retryNotes = new Map<string, { at: number; n: number }>();
  const reportingRetries =
    (topic: string, handler: (m: IncomingMessage) => Promise<HandlerOutcome>) =>
    async (m: IncomingMessage): Promise<HandlerOutcome> => {
      const t0 = performance.now();
      let out: HandlerOutcome;
      try {
        out = await handler(m);
      } catch (e) {
        // The bus retries a handler that throws; counted as such.
        serviceMetrics.observe(topic, { kind: "retry", reason: "thrown" }, (performance.now() - t0) / 1000);
        throw e;
      }
      serviceMetrics.observe(
        topic,
        out as { kind: Outcome; reason?: string },
        (performance.now() - t0) / 1000,
      );
      if (out.kind === "ack") return out;
      const ids = tracing ? messageTraceIds(m.headers) : undefined;
      if (out.kind === "retry") {
        const note = retryNotes.get(topic) ?? { at: 0, n: 0 };
        note.n++;
        const t = Date.now();
        if (t - note.at >= 1000) {
          log.warn("handler retry", {
            topic,
            key: m.key,
            reason: out.reason,
            ...(out.detail ? { detail: out.detail } : {}),
            attempt: m.deliveryAttempt,
            retriesSinceLast: note.n,
            ...ids,
          });
          note.at = t;
          note.n = 0;
        }
        retryNotes.set(topic, note);
      } else if (out.kind === "dead-letter") {
        log.warn("dead-lettered", {
          topic,
          key: m.key,
          reason: out.reason,
          detail: out.detail.slice(0, 300),
          ...ids,
        });
      }
      return out;
    };

  let code = 0;
  try {
    try {
      http = await startHttpServer({
        host: config.httpHost,
        port: config.httpPort,
        live: () => !stopping,
        checks,
        metrics,
      });
    } catch (e) {
      log.error("cannot start the HTTP server", {
        host: config.httpHost,
        port: config.httpPort,
        error: errorFields(e),
      });
      return 1;
    }
    log.info("http listening", { host: config.httpHost, port: http.port });
    if (spec.store !== false) {
      store = await retryStart("connect PostgreSQL", () =>
        openStore({ url: config.databaseUrl, poolSize: config.databasePool }),
      );
      log.info("store connected", { url: redactUrl(config.databaseUrl) });
    }
    bus = createKafkaBus({
      brokers: config.kafkaBrokers,
      client: config.kafkaClient,
      clientId: `danesweep-${spec.name}`,
      sessionTimeoutMs: config.kafkaSessionTimeoutMs,
      heartbeatIntervalMs: Math.max(500, Math.floor(config.kafkaSessionTimeoutMs / 6)),
      replication: config.replication,
      retryBackoff: { baseMs: 50, maxMs: config.retryMaxMs },
      onError: (e) =>
        log.warn("kafka", { where: e.where, topic: e.topic, group: e.group, error: errorFields(e.error) }),
    } as Parameters<typeof createKafkaBus>[0]);
    const theBus = bus;
    const ctx: ServiceContext<ConfigOf<F>> = {
      config: config as unknown as ConfigOf<F> & CommonConfig,
      log,
      store,
      bus: theBus,
      signal: shutdown.signal,
      tracing,
      metrics: serviceMetrics.registry,
      group: (stage) => `${config.groupPrefix}.${stage}`,
      retryStart,
      consume: async (opts, handler) => {
        const sub = await retryStart(`join ${opts.group} on ${opts.topic}`, () =>
          theBus.consume({ maxAttempts: config.maxAttempts, ...opts }, reportingRetries(opts.topic, handler)),
        );
        subs.push(sub);
        log.info("consuming", { topic: opts.topic, group: opts.group, concurrency: opts.concurrency ?? 1 });
        return sub;
      },
    };
    started = await spec.start(ctx);
    ready = true;
    log.info("ready", { httpPort: http.port, startMs: Date.now() - startedAt });
    o.onReady?.({ httpPort: http.port });
    const aborted = new Promise<void>((r) => {
      if (shutdown.signal.aborted) r();
      else shutdown.signal.addEventListener("abort", () => r(), { once: true });
    });
    const result = await Promise.race([
      aborted.then(() => undefined),
      started.done ?? new Promise<never>(() => {}),
    ]);
    if (result !== undefined) code = result;
  } catch (e) {
    if (e instanceof StartAborted) {
      log.info("shutdown before start completed", { during: e.message });
    } else if (e instanceof StartRefused) {
      log.error("refusing to start", { detail: e.message });
      code = e.exitCode;
    } else {
      log.error("failed", { error: errorFields(e) });
      code = 1;
    }
  } finally {
    ready = false;
    stopping = true;
    shutdown.abort();
    // Each step is logged with its duration; a shutdown that times out names the step it was stuck in.
    let step = "finish work";
    const stepDone = async (next: string, t0: number) => {
      log.debug("shutdown step done", { step, ms: Math.round(performance.now() - t0) });
      step = next;
      return performance.now();
    };
    const closeAll = async () => {
      let t0 = performance.now();
      // A one-shot service finishes its own work (it watches ctx.signal) before anything is closed.
      if (started?.done) code = await started.done.catch(() => 1);
      t0 = await stepDone("close subscriptions", t0);
      started?.beforeClose?.();
      await Promise.all(
        subs.map((s) => s.close().catch((e) => log.warn("close subscription", { error: errorFields(e) }))),
      );
      t0 = await stepDone("stop the service", t0);
      await started?.stop?.().catch((e) => log.warn("stop", { error: errorFields(e) }));
      t0 = await stepDone("close the bus", t0);
      await bus?.close().catch((e) => log.warn("close bus", { error: errorFields(e) }));
      t0 = await stepDone("close the store", t0);
      await store?.close().catch((e) => log.warn("close store", { error: errorFields(e) }));
      await stepDone("", t0);
    };
    const timedOut = await valueWithin(
      closeAll().then(() => false),
      config.shutdownTimeoutMs,
      () => true,
    );
    if (timedOut) {
      log.error("shutdown timed out", { timeoutMs: config.shutdownTimeoutMs, step });
      code = 1;
    }
    await http?.close();
    await o.telemetry?.shutdown();
    if (o.signals ?? true) {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
    log.info("stopped", { code, uptimeMs: Date.now() - startedAt });
  }
  return code;
}
