/**
 * The one table of the pipeline's stages: for each consuming stage, the topic
 * it reads, its consumer group, how it orders messages, how many it holds in
 * flight, and the handler it runs. The embedded runner (embedded.ts) and the
 * services (services/resolver, prober, aggregator) are both built from it, so
 * the two cannot drift.
 *
 *   stage      topic                 group       ordering  in flight (default)
 *   resolve    [domains]             resolver    none      200 domains resolving (400 held: as many publishing)
 *   probe      [probe-requests]      prober      none      5,000 requests (the prober's per-IP caps still apply)
 *   aggregate  [domain-facts]        aggregator  none      15,000 messages held by the join
 *
 * Every stage runs with ordering "none": no stage needs one key's messages in
 * order, and the aggregator's join needs a domain's later messages while the
 * first waits. The seed stage (seed.ts) produces [domains] and consumes
 * nothing; [verdicts] is produced by the aggregator on a deployment for
 * downstream consumers.
 *
 * Consumer groups are "<prefix>.<group>" (prefix "danesweep" by default).
 */
import type { Bus, ConsumeOptions, HandlerOutcome, IncomingMessage, Subscription } from "@danesweep/bus";
import { TOPICS } from "@danesweep/bus";
import type { ClientPolicy, TrustStore, VerdictRecord } from "@danesweep/dane";
import type { DnsQuerier } from "@danesweep/dns";
import type { Prober } from "@danesweep/probe";
import type { Store } from "@danesweep/store";
import type { Tracing } from "@danesweep/telemetry";
import type { BatchOptions } from "./batch.ts";
import {
  type AggregateJoin,
  type AggregateStageDeps,
  aggregateHandler,
  type ProbeMode,
  probeHandler,
  type ResolveStageDeps,
  resolveHandler,
  type StageCounters,
} from "./stages.ts";

export const STAGE_NAMES = ["resolve", "probe", "aggregate"] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** What a stage may need; each stage checks for its own (a service provides only its stage's). */
export interface StageDeps {
  bus: Bus;
  store?: Store;
  resolver?: DnsQuerier;
  resolverValidates?: boolean;
  /** Resolve: the authoritative servers' view of the TLSA RRsets (libs/dns ConsistencyChecker). */
  consistency?: ResolveStageDeps["consistency"];
  prober?: Prober;
  probeMode: ProbeMode;
  /** The client policy profile (resolve and aggregate must share it); default Postfix's. */
  policy?: ClientPolicy;
  /** Resolve: ask for each probe once per scan (ResolveStageDeps.askOnce; the services and the embedded scan). */
  askOnce?: boolean;
  /** Resolve: collect MTA-STS and TLS-RPT and request the policy fetch (default true). */
  mailPolicies?: boolean;
  /** Aggregate: the WebPKI roots MTA-STS is judged with (libs/dane trustStore). */
  trust?: TrustStore;
  /** SMTP port probed. */
  port: number;
  now: () => number;
  counters: StageCounters;
  batch?: BatchOptions;
  /** Aggregate: thresholds of the risk rules (libs/dane). */
  risk?: AggregateStageDeps["risk"];
  /** Aggregate: publish verdicts on [verdicts] (deployments). */
  publishVerdicts?: boolean;
  /** Aggregate: records stored for the first time (the embedded scan prints them). */
  onJudged?: (scan: string, records: VerdictRecord[]) => void | Promise<void>;
  /** Aggregate: see AggregateStageDeps.joinTimeoutMs. */
  joinTimeoutMs?: number;
  /** Aggregate: see AggregateStageDeps.lookInStoreAfterMs (set where the resolver has askOnce). */
  lookInStoreAfterMs?: number;
  /** Probe: see ProbeStageDeps.claimTtlMs. */
  claimTtlMs?: number;
  /** Probe: see ProbeStageDeps.claims (default true). */
  probeClaims?: boolean;
  /** Probe: see ProbeStageDeps.newScan. */
  probeNewScan?: string;
  /** Probe: see ProbeStageDeps.byReference (the services on a serializing bus). */
  probeByReference?: boolean;
  /** Probe and aggregate: an error after which the stage cannot go on (stages.ts isFatal). */
  onFatal?: (e: unknown) => void;
  /** Spans and trace context for every stage (absent: tracing is off, nothing is traced). */
  tracing?: Tracing;
}

export interface RunningStage {
  handler: (msg: IncomingMessage) => Promise<HandlerOutcome>;
  /** The aggregator's join (for progress: domains in flight). */
  join?: AggregateJoin;
  stop?: () => void;
}

export interface StageSpec {
  name: StageName;
  topic: string;
  group: string;
  ordering: NonNullable<ConsumeOptions["ordering"]>;
  /** Default messages in flight per subscription (resolve: domains resolving; see `hold`). */
  concurrency: number;
  /**
   * Messages the subscription holds per unit of `concurrency` (default 1).
   * resolve: 2, so that as many domains as are resolving can be publishing
   * their facts meanwhile (the handler itself limits the lookups to
   * `concurrency`: ResolveStageDeps.resolving).
   */
  hold?: number;
  summary: string;
  /** The stage's handler; `concurrency`: the stage's (its subscription holds `concurrency` x `hold` messages). */
  make(d: StageDeps, concurrency: number): RunningStage;
}

function need<T>(v: T | undefined, stage: StageName, what: string): T {
  if (v === undefined) throw new Error(`stage ${stage} needs ${what}`);
  return v;
}

export const STAGES: Readonly<Record<StageName, StageSpec>> = {
  resolve: {
    name: "resolve",
    topic: TOPICS.domains,
    group: "resolver",
    ordering: "none",
    // 200 domains at once, in the services as in `danesweep scan`. On this repository's 2-core
    // benchmark machine 1,000 made the resolver service slower, not faster (bench/pipeline, 10k
    // domains, Kafka one of each: 215-241 domains/s against 256-262 with 200, four runs each). Most
    // of it was the consistency check walking up to each TLSA zone's cut one NS question at a time,
    // each behind every domain's questions queued for the resolver: since it takes the zone from
    // the TLSA RRset's signature (libs/dns consistency.ts), 1,000 gives 250/s against 262. Where a
    // domain takes hundreds of milliseconds (the internet, a cold resolver), more in flight pays:
    // k8s/base sets 1,000.
    concurrency: 200,
    hold: 2,
    summary: "[domains] -> DNS facts -> [probe-requests], [domain-facts]",
    make: (d, concurrency) => ({
      handler: resolveHandler({
        resolving: concurrency,
        bus: d.bus,
        resolver: need(d.resolver, "resolve", "a resolver"),
        resolverValidates: need(d.resolverValidates, "resolve", "resolverValidates"),
        probeMode: d.probeMode,
        ...(d.policy ? { policy: d.policy } : {}),
        ...(d.mailPolicies === false ? { mailPolicies: false } : {}),
        ...(d.askOnce ? { askOnce: true } : {}),
        port: d.port,
        now: d.now,
        counters: d.counters,
        ...(d.tracing ? { tracing: d.tracing } : {}),
        ...(d.consistency ? { consistency: d.consistency } : {}),
      }),
    }),
  },
  probe: {
    name: "probe",
    topic: TOPICS.probeRequests,
    group: "prober",
    ordering: "none",
    concurrency: 5000,
    summary:
      "[probe-requests] -> one probe per (ip, port, SNI): STARTTLS, or an MTA-STS policy fetch -> [domain-facts]",
    make: (d) => ({
      handler: probeHandler({
        bus: d.bus,
        store: need(d.store, "probe", "a store"),
        prober: need(d.prober, "probe", "a prober"),
        counters: d.counters,
        now: d.now,
        ...(d.batch ? { batch: d.batch } : {}),
        ...(d.claimTtlMs !== undefined ? { claimTtlMs: d.claimTtlMs } : {}),
        ...(d.probeClaims === false ? { claims: false } : {}),
        ...(d.probeNewScan !== undefined ? { newScan: d.probeNewScan } : {}),
        ...(d.probeByReference ? { byReference: true } : {}),
        ...(d.onFatal ? { onFatal: d.onFatal } : {}),
        ...(d.tracing ? { tracing: d.tracing } : {}),
      }),
    }),
  },
  aggregate: {
    name: "aggregate",
    topic: TOPICS.domainFacts,
    group: "aggregator",
    ordering: "none",
    // 15,000 messages held, not 50,000: a join holding up to 50,000 parsed messages spent 38-69 s
    // of CPU on 100k domains, one holding 15,000 spent 32-36 (bench/pipeline 100k, Kafka one of
    // each, on this repository's 2-core machine: 699-850 domains/s in six runs against 829-915 in
    // three), and in most runs it fell behind, with backlogs of up to 150,000 messages on
    // [domain-facts]. A full join does not wait out the join timeout for a result stuck behind
    // what it holds: it looks in the store after SATURATED_WAIT_MS (AggregateJoin).
    concurrency: 15_000,
    summary: "[domain-facts] -> join -> verdicts (store) [-> [verdicts]]",
    make: (d, concurrency) => {
      const { handler, join } = aggregateHandler({
        bus: d.bus,
        store: need(d.store, "aggregate", "a store"),
        probeMode: d.probeMode,
        ...(d.policy ? { policy: d.policy } : {}),
        ...(d.trust ? { trust: d.trust } : {}),
        ...(d.risk ? { risk: d.risk } : {}),
        now: d.now,
        counters: d.counters,
        ...(d.batch ? { batch: d.batch } : {}),
        ...(d.publishVerdicts ? { publishVerdicts: true } : {}),
        ...(d.onJudged ? { onJudged: d.onJudged } : {}),
        ...(d.joinTimeoutMs !== undefined ? { joinTimeoutMs: d.joinTimeoutMs } : {}),
        ...(d.lookInStoreAfterMs !== undefined ? { lookInStoreAfterMs: d.lookInStoreAfterMs } : {}),
        // The join knows when it holds all the bus will give it (AggregateStageDeps.capacity).
        capacity: concurrency,
        ...(d.onFatal ? { onFatal: d.onFatal } : {}),
        ...(d.tracing ? { tracing: d.tracing } : {}),
      });
      return { handler, join, stop: () => join.close() };
    },
  },
};

export const DEFAULT_GROUP_PREFIX = "danesweep";

export function groupOf(stage: StageSpec, prefix = DEFAULT_GROUP_PREFIX): string {
  return `${prefix}.${stage.group}`;
}

/** The topics of the pipeline with their partition counts. */
export function pipelineTopics(partitions: number, replication = 1) {
  return Object.values(TOPICS).map((name) => ({ name, partitions, replication }));
}

export interface StartedStage {
  spec: StageSpec;
  running: RunningStage;
  subscription: Subscription;
}

/**
 * Subscribes one stage of the table to the bus. `consume` is the bus's (or
 * the runtime's, which adds retries and shutdown tracking).
 */
export async function startStage(
  name: StageName,
  d: StageDeps,
  o: {
    consume: (
      opts: ConsumeOptions,
      h: (m: IncomingMessage) => Promise<HandlerOutcome>,
    ) => Promise<Subscription>;
    concurrency?: number;
    groupPrefix?: string;
    maxAttempts?: number;
  },
): Promise<StartedStage> {
  const spec = STAGES[name];
  const concurrency = o.concurrency ?? spec.concurrency;
  const running = spec.make(d, concurrency);
  const opts: ConsumeOptions = {
    topic: spec.topic,
    group: groupOf(spec, o.groupPrefix),
    ordering: spec.ordering,
    concurrency: concurrency * (spec.hold ?? 1),
  };
  if (o.maxAttempts !== undefined) opts.maxAttempts = o.maxAttempts;
  try {
    return { spec, running, subscription: await o.consume(opts, running.handler) };
  } catch (e) {
    running.stop?.();
    throw e;
  }
}
