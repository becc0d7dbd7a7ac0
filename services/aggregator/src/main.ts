/**
 * The aggregator service: consumes [dns-facts] and [probe-results], judges
 * every domain whose facts and awaited probes are all stored (libs/dane
 * through libs/pipeline's aggregate handlers), upserts the verdicts and
 * publishes them to [verdicts] for downstream consumers. The join state is in
 * PostgreSQL (probe_waits), so a restart loses nothing. Two consumer groups
 * (<prefix>.aggregator.facts, <prefix>.aggregator.probes), so a rebalance of
 * one never pauses the other. Run: node services/aggregator/src/main.ts
 * (settings: --help).
 */
import { TOPICS } from "@danesweep/bus";
import {
  aggregateFactsHandler,
  aggregateProbeHandler,
  newCounters,
  pipelineTopics,
} from "@danesweep/pipeline";
import { counter, runService, type ServiceSpec } from "@danesweep/runtime";
import { Type } from "@sinclair/typebox";

export const fields = {
  probeMode: {
    env: "DANESWEEP_PROBE_MODE",
    schema: Type.Union([Type.Literal("all"), Type.Literal("dane")]),
    default: "all" as const,
    doc: "all | dane; must match the resolver's",
  },
  concurrency: {
    env: "DANESWEEP_CONCURRENCY",
    schema: Type.Integer({ minimum: 1, maximum: 1000 }),
    default: 8,
    doc: "handlers at once per input topic",
  },
};

export const aggregatorService: ServiceSpec<typeof fields> = {
  name: "aggregator",
  summary: "[dns-facts] + [probe-results] -> verdicts (PostgreSQL) -> [verdicts]",
  fields,
  async start(ctx) {
    const c = ctx.config;
    await ctx.retryStart("create topics", () =>
      ctx.bus.ensureTopics(pipelineTopics(c.partitions, c.replication)),
    );
    const counters = newCounters();
    const deps = {
      bus: ctx.bus,
      store: ctx.store,
      probeMode: c.probeMode,
      now: () => Date.now(),
      counters,
      publishVerdicts: true,
    };
    await ctx.consume(
      { topic: TOPICS.dnsFacts, group: ctx.group("aggregator.facts"), concurrency: c.concurrency },
      aggregateFactsHandler(deps),
    );
    await ctx.consume(
      { topic: TOPICS.probeResults, group: ctx.group("aggregator.probes"), concurrency: c.concurrency },
      aggregateProbeHandler(deps),
    );
    return {
      metrics: () => [
        counter("danesweep_domains_judged_total", "Verdicts stored by this instance", counters.judged),
      ],
    };
  },
};

if (import.meta.main) {
  process.exit(await runService(aggregatorService, { argv: process.argv.slice(2), env: process.env }));
}
