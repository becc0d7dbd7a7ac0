/**
 * The aggregator service: the "aggregate" stage of the stage table
 * (libs/pipeline stage-table.ts): consumes [domain-facts] (each domain's DNS
 * facts and the probe results addressed to it, keyed by the domain, so one
 * instance sees all of a domain's messages), judges a domain as soon as all
 * of them are in hand (libs/dane), stores its facts and verdict in batches
 * and publishes the verdict to [verdicts] for downstream consumers. A message
 * is acknowledged only once its domain's verdict is stored and published, so
 * a restart loses nothing from the store (the messages come again). A
 * verdict whose publication failed goes out when its messages come again to
 * the same instance (libs/pipeline AggregateJoin); one whose instance died
 * between the store write and the publication is in the store only.
 *
 * It also reads [probe-requests.dlq] (every instance all of it, each with a
 * group of its own): a domain whose probe was dead-lettered will never get
 * its result, so the instance holding it gives up on it, and on every domain
 * that needs the same probe (their messages are dead-lettered too and the
 * scan shows those domains as not judged).
 * MTA-STS certificates are judged against DANESWEEP_MTA_STS_CA (a PEM file;
 * default Node's CA certificates); a file that cannot be read refuses the
 * start (exit 2, readSettingFile).
 * Run: node --max-semi-space-size=64 services/aggregator/src/main.ts
 * (settings: --help; the flag: src/node-flags.ts).
 */
import { hostname } from "node:os";
import { deadLetterTopic, decodeEnvelope, readDeadLetter, TOPICS } from "@danesweep/bus";
import { defaultPolicy, POLICY_PROFILES, policyProfile } from "@danesweep/dane";
import {
  LOOK_IN_STORE_AFTER_MS,
  loadTrustStore,
  newCounters,
  pipelineTopics,
  STAGES,
  startStage,
} from "@danesweep/pipeline";
import { counterOf, gaugeOf, readSettingFile, type ServiceSpec } from "@danesweep/runtime";
import { Type } from "@sinclair/typebox";

export const fields = {
  probeMode: {
    env: "DANESWEEP_PROBE_MODE",
    schema: Type.Union([Type.Literal("all"), Type.Literal("dane")]),
    default: "all" as const,
    doc: "all | dane; must match the resolver's",
  },
  policy: {
    env: "DANESWEEP_POLICY",
    schema: Type.Union(Object.keys(POLICY_PROFILES).map((n) => Type.Literal(n))),
    default: "postfix",
    doc: "client policy profile: postfix | rfc7672 (libs/dane README); must match the resolver's",
  },
  concurrency: {
    env: "DANESWEEP_CONCURRENCY",
    schema: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    default: STAGES.aggregate.concurrency,
    doc: "messages the join holds at once (domains waiting for their probe results)",
  },
  mtaStsCa: {
    env: "DANESWEEP_MTA_STS_CA",
    schema: Type.String({ maxLength: 4096 }),
    default: "",
    doc: "PEM file of the roots MTA-STS certificates are judged against (empty: Node's default CA certificates)",
  },
  joinTimeoutMs: {
    env: "DANESWEEP_JOIN_TIMEOUT_MS",
    schema: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
    default: 60_000,
    doc: "the longest a domain waits between two looks in the store for a probe result, and how long a probe result waits for its domain's facts",
  },
  lookInStoreAfterMs: {
    env: "DANESWEEP_JOIN_LOOK_IN_STORE_AFTER_MS",
    schema: Type.Integer({ minimum: 50, maximum: 3_600_000 }),
    default: LOOK_IN_STORE_AFTER_MS,
    doc: "a domain waiting this long for a probe result looks for the probe in the store (again after 2x, then every 4x of it, at most every join timeout): the resolver asks for each probe once, and its result goes to the instance of the domain that asked",
  },
};

export const aggregatorService: ServiceSpec<typeof fields> = {
  name: "aggregator",
  summary: STAGES.aggregate.summary,
  fields,
  async start(ctx) {
    const c = ctx.config;
    await ctx.retryStart("create topics", () =>
      ctx.bus.ensureTopics(pipelineTopics(c.partitions, c.replication)),
    );
    const trust = readSettingFile("DANESWEEP_MTA_STS_CA", () => loadTrustStore(c.mtaStsCa));
    const counters = newCounters();
    const stage = await startStage(
      "aggregate",
      {
        bus: ctx.bus,
        store: ctx.store,
        probeMode: c.probeMode,
        policy: policyProfile(c.policy) ?? defaultPolicy(),
        trust,
        port: 25,
        now: () => Date.now(),
        counters,
        publishVerdicts: true,
        joinTimeoutMs: c.joinTimeoutMs,
        lookInStoreAfterMs: c.lookInStoreAfterMs,
        ...(ctx.tracing ? { tracing: ctx.tracing } : {}),
      },
      { consume: ctx.consume, concurrency: c.concurrency, groupPrefix: c.groupPrefix },
    );
    const join = stage.running.join;
    await ctx.consume(
      {
        topic: deadLetterTopic(TOPICS.probeRequests),
        group: `${c.groupPrefix}.aggregator.dlq-watch.${hostname()}-${process.pid}`,
        concurrency: 16,
      },
      async (m) => {
        const env = decodeEnvelope(m.value, "probe-request");
        if (env.ok) join?.abandonRequest(env.envelope, readDeadLetter(m.headers).detail ?? "");
        return { kind: "ack" };
      },
    );
    counterOf(
      ctx.metrics,
      "danesweep_domains_judged_total",
      "Verdicts stored by this instance",
      () => counters.judged,
    );
    gaugeOf(
      ctx.metrics,
      "danesweep_join_domains",
      "Domains the join holds (waiting for probe results or being stored)",
      () => join?.size ?? 0,
    );
    return {
      // The join lets go of the messages it holds (not acknowledged: the partition's next owner gets them).
      beforeClose: () => stage.running.stop?.(),
    };
  },
};
