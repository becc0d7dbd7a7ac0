/**
 * Metrics in the Prometheus text exposition format (version 0.0.4).
 *
 * A MetricFamily is a name, help, type and samples; renderMetrics(families)
 * writes them with escaped label values, skipping samples whose value is not
 * a finite number. kafkaMetricFamilies(m) turns the Kafka bus's metrics into
 * families (lag, consumed, acked, dead-lettered, retries, in-flight per
 * topic/group/partition; produced per topic). processMetricFamilies() gives
 * uptime, resident memory and heap. Pure apart from reading the process's
 * own memory figures.
 */
import type { KafkaBusMetrics } from "@danesweep/bus/kafka";

export interface Sample {
  labels?: Record<string, string | number>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: Sample[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function renderMetrics(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      if (!Number.isFinite(s.value)) continue;
      const labels = Object.entries(s.labels ?? {});
      const l =
        labels.length === 0
          ? ""
          : `{${labels.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(",")}}`;
      out.push(`${f.name}${l} ${s.value}`);
    }
  }
  return `${out.join("\n")}\n`;
}

export function counter(name: string, help: string, samples: Sample[] | number): MetricFamily {
  return {
    name,
    help,
    type: "counter",
    samples: typeof samples === "number" ? [{ value: samples }] : samples,
  };
}

export function gauge(name: string, help: string, samples: Sample[] | number): MetricFamily {
  return { name, help, type: "gauge", samples: typeof samples === "number" ? [{ value: samples }] : samples };
}

export function kafkaMetricFamilies(m: KafkaBusMetrics): MetricFamily[] {
  const per = (pick: (p: KafkaBusMetrics["subscriptions"][number]["partitions"][number]) => number | null) =>
    m.subscriptions.flatMap((s) =>
      s.partitions.flatMap((p) => {
        const v = pick(p);
        return v === null
          ? []
          : [{ labels: { topic: s.topic, group: s.group, partition: p.partition }, value: v }];
      }),
    );
  const perSub = (pick: (s: KafkaBusMetrics["subscriptions"][number]) => number) =>
    m.subscriptions.map((s) => ({ labels: { topic: s.topic, group: s.group }, value: pick(s) }));
  return [
    gauge(
      "danesweep_kafka_consumer_lag",
      "Messages not yet committed by the group (high watermark - committed)",
      per((p) => p.lag),
    ),
    counter(
      "danesweep_kafka_consumed_total",
      "Messages whose handling finished here",
      per((p) => p.consumed),
    ),
    counter(
      "danesweep_kafka_acked_total",
      "Messages acknowledged",
      per((p) => p.acked),
    ),
    counter(
      "danesweep_kafka_dead_lettered_total",
      "Messages sent to the dead-letter topic",
      per((p) => p.deadLettered),
    ),
    counter(
      "danesweep_kafka_handler_retries_total",
      "Handler attempts that asked for a retry",
      per((p) => p.retries),
    ),
    counter(
      "danesweep_kafka_handler_seconds_total",
      "Handler wall time",
      per((p) => p.handlerMs / 1000),
    ),
    gauge(
      "danesweep_kafka_in_flight",
      "Handlers running now",
      perSub((s) => s.inFlight),
    ),
    counter(
      "danesweep_kafka_commit_errors_total",
      "Failed offset commits",
      perSub((s) => s.commitErrors),
    ),
    counter(
      "danesweep_kafka_consumer_restarts_total",
      "Consume loop restarts after errors",
      perSub((s) => s.restarts),
    ),
    counter(
      "danesweep_kafka_group_joins_total",
      "Group joins (1 + rebalances)",
      perSub((s) => s.joins),
    ),
    counter(
      "danesweep_kafka_produced_total",
      "Messages accepted by the broker",
      Object.entries(m.produced).map(([topic, n]) => ({ labels: { topic }, value: n })),
    ),
  ];
}

export function processMetricFamilies(startedAtMs: number, nowMs: number): MetricFamily[] {
  const mem = process.memoryUsage();
  return [
    gauge("process_uptime_seconds", "Seconds since the service started", (nowMs - startedAtMs) / 1000),
    gauge("process_resident_memory_bytes", "Resident set size", mem.rss),
    gauge("nodejs_heap_used_bytes", "V8 heap in use", mem.heapUsed),
  ];
}
