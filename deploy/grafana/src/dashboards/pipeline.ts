/**
 * Dashboard "danesweep: pipeline" (uid danesweep-pipeline), from Prometheus
 * scraping the services' /metrics (deploy/README.md): throughput and mean
 * handling time per stage (consumer group), consumer lag, retries, dead
 * letters, handlers in flight, what each stage made (domains resolved, probes
 * made and reused, verdicts stored), probes by status, the probes waiting
 * for a per-IP or global slot (politeness), the aggregator's join and memory.
 * Metric names come from metrics.ts only. Pure.
 */

import {
  LegendDisplayMode,
  LegendPlacement,
  VizLegendOptionsBuilder,
} from "@grafana/grafana-foundation-sdk/common";
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as TimeseriesPanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import { danesweepDashboard } from "../base.ts";
import { PROM } from "../datasources.ts";
import { METRICS } from "../metrics.ts";

const RATE = "[$__rate_interval]";
const rate = (name: string, by: string) => `sum by (${by}) (rate(${name}${RATE}))`;

interface Series {
  expr: string;
  legend: string;
}

function promPanel(o: {
  title: string;
  description: string;
  unit: string;
  place: { x: number; y: number; w: number; h: number };
  series: Series[];
}): TimeseriesPanelBuilder {
  let p = new TimeseriesPanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(PROM)
    .gridPos({ x: o.place.x, y: o.place.y, w: o.place.w, h: o.place.h })
    .unit(o.unit)
    .min(0)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Bottom)
        .calcs(["mean", "max", "lastNotNull"]),
    );
  o.series.forEach((s, i) => {
    p = p.withTarget(
      new DataqueryBuilder()
        .datasource(PROM)
        .refId(String.fromCharCode(65 + i))
        .expr(s.expr)
        .legendFormat(s.legend)
        .range(),
    );
  });
  return p;
}

export function pipelineDashboard(): DashboardBuilder {
  return danesweepDashboard({
    name: "pipeline",
    title: "pipeline",
    description: "The stages of a danesweep deployment on Kafka, from their /metrics",
    tags: ["operations"],
    time: { from: "now-6h", to: "now" },
    refresh: "30s",
  })
    .withPanel(
      promPanel({
        title: "Messages handled per second, by stage",
        description: "Messages whose handling finished, per consumer group (<prefix>.<stage>)",
        unit: "ops",
        place: { x: 0, y: 0, w: 12, h: 8 },
        series: [{ expr: rate(METRICS.consumed.name, "group"), legend: "{{group}}" }],
      }),
    )
    .withPanel(
      promPanel({
        title: "Mean handling time, by stage",
        description: "Handler wall time per message handled (a probe request waits for its probe)",
        unit: "s",
        place: { x: 12, y: 0, w: 12, h: 8 },
        series: [
          {
            expr: `${rate(METRICS.handlerSeconds.name, "group")} / ${rate(METRICS.consumed.name, "group")}`,
            legend: "{{group}}",
          },
        ],
      }),
    )
    .withPanel(
      promPanel({
        title: "Consumer lag, by topic",
        description:
          "Messages not yet committed by each group (high watermark - committed offset). Every instance " +
          "reports its group's lag for every partition, so each partition counts once (max over instances).",
        unit: "short",
        place: { x: 0, y: 8, w: 12, h: 8 },
        series: [
          {
            expr: `sum by (topic, group) (max by (topic, group, partition) (${METRICS.lag.name}))`,
            legend: "{{topic}} ({{group}})",
          },
        ],
      }),
    )
    .withPanel(
      promPanel({
        title: "Retries and dead letters",
        description:
          "Handler attempts that asked to be retried, and messages sent to a dead-letter topic (.dlq), per second",
        unit: "ops",
        place: { x: 12, y: 8, w: 12, h: 8 },
        series: [
          { expr: rate(METRICS.retries.name, "group"), legend: "retries {{group}}" },
          { expr: rate(METRICS.deadLettered.name, "topic"), legend: "dead-lettered from {{topic}}" },
        ],
      }),
    )
    .withPanel(
      promPanel({
        title: "What the stages made, per second",
        description:
          "Domains resolved, probes made and reused (made once per scan, IP, port and SNI), verdicts stored",
        unit: "ops",
        place: { x: 0, y: 16, w: 12, h: 8 },
        series: [
          { expr: `sum(rate(${METRICS.resolved.name}${RATE}))`, legend: "domains resolved" },
          { expr: `sum(rate(${METRICS.probesMade.name}${RATE}))`, legend: "probes made" },
          { expr: `sum(rate(${METRICS.probesReused.name}${RATE}))`, legend: "probes reused" },
          { expr: `sum(rate(${METRICS.judged.name}${RATE}))`, legend: "verdicts stored" },
        ],
      }),
    )
    .withPanel(
      promPanel({
        title: "Probe politeness: probes waiting for a slot",
        description:
          "Probes waiting for a per-IP token or a per-IP or global connection slot, beside those connecting or talking",
        unit: "short",
        place: { x: 12, y: 16, w: 12, h: 8 },
        series: [
          { expr: `sum(${METRICS.probesWaiting.name})`, legend: "waiting" },
          { expr: `sum(${METRICS.probesActive.name})`, legend: "active" },
        ],
      }),
    )
    .withPanel(
      promPanel({
        title: "Probes finished, by status",
        description: "Per second, by the probe's status (tls-ok, starttls-not-offered, connect-refused...)",
        unit: "ops",
        place: { x: 0, y: 24, w: 12, h: 8 },
        series: [{ expr: rate(METRICS.probesFinished.name, "status"), legend: "{{status}}" }],
      }),
    )
    .withPanel(
      promPanel({
        title: "Handlers in flight and the aggregator's join",
        description:
          "Handlers running now per group, and the domains the aggregator holds while it waits for probe results",
        unit: "short",
        place: { x: 12, y: 24, w: 12, h: 8 },
        series: [
          { expr: `sum by (group) (${METRICS.inFlight.name})`, legend: "in flight {{group}}" },
          { expr: `sum(${METRICS.joinDomains.name})`, legend: "domains in the join" },
        ],
      }),
    )
    .withPanel(
      promPanel({
        title: "Messages produced, by topic",
        description: "Messages the broker accepted, per second",
        unit: "ops",
        place: { x: 0, y: 32, w: 12, h: 8 },
        series: [{ expr: rate(METRICS.produced.name, "topic"), legend: "{{topic}}" }],
      }),
    )
    .withPanel(
      promPanel({
        title: "Consumer errors",
        description: "Failed offset commits and consume-loop restarts, per second",
        unit: "ops",
        place: { x: 12, y: 32, w: 6, h: 8 },
        series: [
          { expr: rate(METRICS.commitErrors.name, "group"), legend: "commit errors {{group}}" },
          { expr: rate(METRICS.restarts.name, "group"), legend: "restarts {{group}}" },
        ],
      }),
    )
    .withPanel(
      promPanel({
        title: "Resident memory",
        description: "Resident set size of each service instance",
        unit: "bytes",
        place: { x: 18, y: 32, w: 6, h: 8 },
        series: [{ expr: `sum by (instance) (${METRICS.rss.name})`, legend: "{{instance}}" }],
      }),
    );
}
