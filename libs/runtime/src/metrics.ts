/**
 * Metrics: prom-client registries, in the Prometheus text format on
 * /metrics. The metric names are a contract (the Grafana dashboards read
 * them): every one is listed in libs/runtime/README.md.
 *
 * - `ServiceMetrics(service)`: a registry of its own (no global state) with
 *   the label `service` on every series, Node's process metrics
 *   (prom-client's defaults: process_*, nodejs_*), and what every service
 *   measures the same way: messages handled / retried / dead-lettered per
 *   topic, the handler time per topic as a histogram (the per-stage
 *   latency), readiness. `observe(topic, outcome, seconds)` records one
 *   handled message; `render()` the exposition text.
 * - `counterOf` / `gaugeOf(registry, name, help, read)`: a metric whose
 *   value is read at scrape time from counts a component already keeps
 *   (stage counters, the prober's and resolver's stats): nothing is added
 *   to the per-message path.
 * - `sampleValue(text, name, labels)`: one series' value read back from the
 *   exposition text (tests, tools).
 * - `KafkaMetrics(registry)`: the Kafka bus's figures (lag, consumed,
 *   acked, dead-lettered, retries, handler seconds per topic / group /
 *   partition; in flight, commit errors, restarts, joins per subscription;
 *   produced per topic), from one snapshot taken per scrape (`update`).
 */
import type { KafkaBusMetrics } from "@danesweep/bus/kafka";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type { Registry };

export interface Sample {
  labels?: Record<string, string | number>;
  value: number;
}

type Read = () => number | Sample[];

function labelNames(samples: Sample[]): string[] {
  const names = new Set<string>();
  for (const s of samples) for (const k of Object.keys(s.labels ?? {})) names.add(k);
  return [...names];
}

function fill(m: Counter | Gauge, read: Read, counter: boolean): void {
  const v = read();
  m.reset();
  const samples = typeof v === "number" ? [{ value: v }] : v;
  for (const s of samples) {
    if (!Number.isFinite(s.value)) continue;
    if (counter) (m as Counter).inc(s.labels ?? {}, Math.max(0, s.value));
    else (m as Gauge).set(s.labels ?? {}, s.value);
  }
}

/**
 * A counter whose value is read at each scrape (`read` returns the total, or
 * one sample per label set; `labels` names every label it may use).
 */
export function counterOf(
  registry: Registry,
  name: string,
  help: string,
  read: Read,
  labels?: string[],
): void {
  const first = read();
  new Counter({
    name,
    help,
    labelNames: labels ?? (typeof first === "number" ? [] : labelNames(first)),
    registers: [registry],
    collect() {
      fill(this, read, true);
    },
  });
}

/** A gauge read at each scrape (see counterOf). */
export function gaugeOf(registry: Registry, name: string, help: string, read: Read, labels?: string[]): void {
  const first = read();
  new Gauge({
    name,
    help,
    labelNames: labels ?? (typeof first === "number" ? [] : labelNames(first)),
    registers: [registry],
    collect() {
      fill(this, read, false);
    },
  });
}

/**
 * The value of the series `name` with exactly the labels `labels` (in any
 * order) in Prometheus exposition text, or undefined when there is none:
 * for tests and tools that read /metrics.
 */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = Object.keys(labels).length;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = new Map<string, string>();
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      got.set(
        l[1] as string,
        (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c)),
      );
    if (got.size === want && Object.entries(labels).every(([k, v]) => got.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}

/** Handler outcomes, as the bus names them. */
export type Outcome = "ack" | "retry" | "dead-letter";

/** Histogram buckets of handler time, seconds: a resolve takes ms, a probe up to its 60 s deadline. */
export const STAGE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #handled: Counter<"topic" | "outcome">;
  readonly #retried: Counter<"topic" | "reason">;
  readonly #deadLettered: Counter<"topic" | "reason">;
  readonly #duration: Histogram<"topic" | "outcome">;

  constructor(service: string, o: { ready?: () => boolean } = {}) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.#handled = new Counter({
      name: "danesweep_messages_handled_total",
      help: "Messages whose handler finished, by topic and outcome (ack, retry, dead-letter)",
      labelNames: ["topic", "outcome"],
      registers,
    });
    this.#retried = new Counter({
      name: "danesweep_messages_retried_total",
      help: "Handler attempts that asked for a retry, by topic and reason (an error code)",
      labelNames: ["topic", "reason"],
      registers,
    });
    this.#deadLettered = new Counter({
      name: "danesweep_messages_dead_lettered_total",
      help: "Messages a handler sent to the dead-letter topic, by topic and reason",
      labelNames: ["topic", "reason"],
      registers,
    });
    this.#duration = new Histogram({
      name: "danesweep_stage_duration_seconds",
      help: "Time from a handler's start to its outcome, by topic (the stage) and outcome",
      labelNames: ["topic", "outcome"],
      buckets: STAGE_BUCKETS,
      registers,
    });
    const ready = o.ready;
    if (ready) {
      gaugeOf(
        this.registry,
        "danesweep_service_ready",
        "1 when the service is started and not stopping",
        () => (ready() ? 1 : 0),
      );
    }
  }

  /** One handled message. */
  observe(topic: string, outcome: { kind: Outcome; reason?: string }, seconds: number): void {
    this.#handled.inc({ topic, outcome: outcome.kind });
    this.#duration.observe({ topic, outcome: outcome.kind }, seconds);
    if (outcome.kind === "retry") this.#retried.inc({ topic, reason: outcome.reason ?? "unknown" });
    else if (outcome.kind === "dead-letter")
      this.#deadLettered.inc({ topic, reason: outcome.reason ?? "unknown" });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

type PartitionOf = KafkaBusMetrics["subscriptions"][number]["partitions"][number];
type SubscriptionOf = KafkaBusMetrics["subscriptions"][number];

/** The Kafka bus's metrics, read from one snapshot per scrape (call `update` before rendering). */
export class KafkaMetrics {
  #m: Pick<KafkaBusMetrics, "produced" | "subscriptions"> = { produced: {}, subscriptions: [] };

  constructor(registry: Registry) {
    const per = (pick: (p: PartitionOf) => number | null) => () =>
      this.#m.subscriptions.flatMap((s) =>
        s.partitions.flatMap((p) => {
          const v = pick(p);
          return v === null
            ? []
            : [{ labels: { topic: s.topic, group: s.group, partition: p.partition }, value: v }];
        }),
      );
    const perSub = (pick: (s: SubscriptionOf) => number) => () =>
      this.#m.subscriptions.map((s) => ({ labels: { topic: s.topic, group: s.group }, value: pick(s) }));
    const tgp = ["topic", "group", "partition"];
    const tg = ["topic", "group"];
    gaugeOf(
      registry,
      "danesweep_kafka_consumer_lag",
      "Messages not yet committed by the group (high watermark - committed); each instance reports every partition of the topic",
      per((p) => p.lag),
      tgp,
    );
    counterOf(
      registry,
      "danesweep_kafka_consumed_total",
      "Messages whose handling finished here",
      per((p) => p.consumed),
      tgp,
    );
    counterOf(
      registry,
      "danesweep_kafka_acked_total",
      "Messages acknowledged",
      per((p) => p.acked),
      tgp,
    );
    counterOf(
      registry,
      "danesweep_kafka_dead_lettered_total",
      "Messages sent to the dead-letter topic (by handlers, decoding, or retries exhausted)",
      per((p) => p.deadLettered),
      tgp,
    );
    counterOf(
      registry,
      "danesweep_kafka_handler_retries_total",
      "Handler attempts that asked for a retry",
      per((p) => p.retries),
      tgp,
    );
    counterOf(
      registry,
      "danesweep_kafka_handler_seconds_total",
      "Handler wall time",
      per((p) => p.handlerMs / 1000),
      tgp,
    );
    gaugeOf(
      registry,
      "danesweep_kafka_in_flight",
      "Handlers running now",
      perSub((s) => s.inFlight),
      tg,
    );
    counterOf(
      registry,
      "danesweep_kafka_commit_errors_total",
      "Failed offset commits",
      perSub((s) => s.commitErrors),
      tg,
    );
    counterOf(
      registry,
      "danesweep_kafka_consumer_restarts_total",
      "Consume loop restarts after errors",
      perSub((s) => s.restarts),
      tg,
    );
    counterOf(
      registry,
      "danesweep_kafka_group_joins_total",
      "Group joins (1 + rebalances)",
      perSub((s) => s.joins),
      tg,
    );
    counterOf(
      registry,
      "danesweep_kafka_produced_total",
      "Messages accepted by the broker",
      () => Object.entries(this.#m.produced).map(([topic, n]) => ({ labels: { topic }, value: n })),
      ["topic"],
    );
  }

  update(m: KafkaBusMetrics): void {
    this.#m = m;
  }
}
