/**
 * The Prometheus metrics the pipeline dashboard reads: the one list of their
 * names, with the labels the queries group by and the services whose
 * /metrics expose them (libs/runtime metrics.ts for the Kafka and process
 * families, each service's main.ts for its stage counters). A metric renamed
 * in a service is renamed here, and the dashboard follows; the test
 * deploy/grafana/test/prom-panels.e2e.test.ts checks every entry against the
 * /metrics of the services running, and that the dashboard's queries name
 * no metric outside this list. Pure data.
 */

export type Service = "resolver" | "prober" | "aggregator";
const CONSUMERS: readonly Service[] = ["resolver", "prober", "aggregator"];

export interface MetricUse {
  name: string;
  type: "counter" | "gauge";
  /** Labels the dashboard's queries group by (each sample of the metric carries them). */
  labels: readonly string[];
  /** Services whose /metrics have samples of it once they have handled messages. */
  services: readonly Service[];
}

const m = (name: string, type: MetricUse["type"], labels: readonly string[], services: readonly Service[]) =>
  ({ name, type, labels, services }) as const satisfies MetricUse;

export const METRICS = {
  consumed: m("danesweep_kafka_consumed_total", "counter", ["topic", "group", "partition"], CONSUMERS),
  handlerSeconds: m(
    "danesweep_kafka_handler_seconds_total",
    "counter",
    ["topic", "group", "partition"],
    CONSUMERS,
  ),
  lag: m("danesweep_kafka_consumer_lag", "gauge", ["topic", "group", "partition"], CONSUMERS),
  retries: m("danesweep_kafka_handler_retries_total", "counter", ["topic", "group", "partition"], CONSUMERS),
  deadLettered: m(
    "danesweep_kafka_dead_lettered_total",
    "counter",
    ["topic", "group", "partition"],
    CONSUMERS,
  ),
  inFlight: m("danesweep_kafka_in_flight", "gauge", ["topic", "group"], CONSUMERS),
  commitErrors: m("danesweep_kafka_commit_errors_total", "counter", ["topic", "group"], CONSUMERS),
  restarts: m("danesweep_kafka_consumer_restarts_total", "counter", ["topic", "group"], CONSUMERS),
  produced: m("danesweep_kafka_produced_total", "counter", ["topic"], CONSUMERS),
  resolved: m("danesweep_domains_resolved_total", "counter", [], ["resolver"]),
  probesMade: m("danesweep_probes_made_total", "counter", [], ["prober"]),
  probesReused: m("danesweep_probes_reused_total", "counter", [], ["prober"]),
  probesFinished: m("danesweep_probes_finished_total", "counter", ["status"], ["prober"]),
  probesActive: m("danesweep_probes_active", "gauge", [], ["prober"]),
  probesWaiting: m("danesweep_probes_waiting", "gauge", [], ["prober"]),
  judged: m("danesweep_domains_judged_total", "counter", [], ["aggregator"]),
  joinDomains: m("danesweep_join_domains", "gauge", [], ["aggregator"]),
  rss: m("process_resident_memory_bytes", "gauge", [], CONSUMERS),
} as const;

export type MetricKey = keyof typeof METRICS;

/** Labels Prometheus adds to every sample it scrapes (the target's), whatever the service exposes. */
export const SCRAPE_LABELS = ["instance", "job"] as const;
