/**
 * The whole pipeline in one process on the embedded default: the in-memory
 * bus between the same stage shells the services run on Kafka, and the store
 * given (PGlite in a data directory, or PostgreSQL).
 *
 * runScan(deps, options) seeds the input (after republishing the domains an
 * interrupted scan had not judged, when resuming), runs the stages until every
 * seeded domain is judged, and streams verdicts to `onVerdict` from the store,
 * once per domain, in the order they were stored.
 *
 * Outcomes, never thrown:
 * - "finished": every seeded domain has a verdict; the scan is marked finished.
 * - "interrupted": `signal` aborted; in-flight work is abandoned (the store
 *   has everything completed), the scan is marked interrupted and can be
 *   resumed with the same id.
 * - "stuck": the stages went idle with domains unjudged (their messages were
 *   dead-lettered); they are listed, the scan is marked failed.
 * Store failures while starting raise StoreError to the caller.
 */
import { type Bus, deadLetterTopic, MemoryBus, readDeadLetter, TOPICS } from "@danesweep/bus";
import type { VerdictRecord } from "@danesweep/dane";
import type { DnsQuerier } from "@danesweep/dns";
import type { OptOutList, Prober } from "@danesweep/probe";
import type { PendingDomain, Store } from "@danesweep/store";
import { VerdictFollower } from "./follow.ts";
import { republishPending, type SeedLine, type SeedSkip, type SeedStats, seedDomains } from "./seed.ts";
import {
  aggregateHandlers,
  newCounters,
  type ProbeMode,
  pipelineTopics,
  probeHandler,
  resolveHandler,
  type StageCounters,
} from "./stages.ts";

export interface PipelineDeps {
  store: Store;
  resolver: DnsQuerier;
  resolverValidates: boolean;
  prober: Prober;
  optOut?: OptOutList;
  now: () => number;
}

export interface StageSettings {
  probeMode: ProbeMode;
  port: number;
  /** Domains resolving at once. */
  resolveConcurrency: number;
  /** Probe requests handled at once (the prober's own caps still apply). */
  probeConcurrency: number;
  /** Aggregator handlers at once. */
  aggregateConcurrency: number;
}

export interface DeadLetterNote {
  topic: string;
  key: string;
  reason: string;
  detail: string;
}

export interface RunOptions {
  scan: string;
  resume: boolean;
  input: AsyncIterable<SeedLine>;
  settings: StageSettings;
  signal: AbortSignal;
  onVerdict: (r: VerdictRecord) => void | Promise<void>;
  onSkip?: (line: SeedLine, why: SeedSkip) => void;
  onDeadLetter?: (n: DeadLetterNote) => void;
  /** Bus tuning (tests); defaults suit a scan of millions. */
  bus?: { partitions?: number; queueCapacity?: number };
}

export interface RunResult {
  state: "finished" | "interrupted" | "stuck";
  seed: SeedStats;
  republished: number;
  counters: StageCounters;
  delivered: number;
  deadLetters: number;
  stuck: PendingDomain[];
}

/** Live figures for progress displays. */
export interface RunProgress {
  seed: SeedStats;
  counters: StageCounters;
  delivered: number;
  inputDone: boolean;
}

/** How often the embedded runner asks the store for housekeeping (Store.maintain). */
const MAINTAIN_EVERY_MS = 20_000;

export class EmbeddedPipeline {
  readonly counters = newCounters();
  seed: SeedStats = { read: 0, seeded: 0, invalid: 0, optedOut: 0, duplicates: 0 };
  inputDone = false;
  #follower: VerdictFollower | undefined;
  readonly #deps: PipelineDeps;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
  }

  progress(): RunProgress {
    return {
      seed: this.seed,
      counters: this.counters,
      delivered: this.#follower?.delivered ?? 0,
      inputDone: this.inputDone,
    };
  }

  async run(o: RunOptions): Promise<RunResult> {
    const d = this.#deps;
    const bus = new MemoryBus({
      partitions: o.bus?.partitions ?? 32,
      queueCapacity: o.bus?.queueCapacity ?? 64,
    });
    const follower = new VerdictFollower(d.store, o.scan, o.onVerdict);
    this.#follower = follower;
    let deadLetters = 0;
    const subs = await startStages(bus, d, o.settings, this.counters);
    for (const t of Object.values(TOPICS)) {
      subs.push(
        await bus.consume({ topic: deadLetterTopic(t), group: "dlq-watch" }, async (m) => {
          deadLetters++;
          const info = readDeadLetter(m.headers);
          o.onDeadLetter?.({
            topic: t,
            key: m.key,
            reason: info.reason ?? "unknown",
            detail: info.detail ?? "",
          });
          return { kind: "ack" };
        }),
      );
    }

    // Followers drain one at a time.
    let draining: Promise<unknown> = Promise.resolve();
    const drain = () => {
      draining = draining.then(() => follower.drain());
      return draining;
    };
    const ticker = setInterval(() => void drain().catch(() => {}), 250);
    // The embedded database has no autovacuum: tidy the churned tables every so often.
    let maintaining = false;
    const housekeeping = setInterval(() => {
      if (maintaining) return;
      maintaining = true;
      void d.store
        .maintain()
        .catch(() => {})
        .finally(() => {
          maintaining = false;
        });
    }, MAINTAIN_EVERY_MS);
    const aborted = new Promise<void>((resolve) => {
      if (o.signal.aborted) resolve();
      else o.signal.addEventListener("abort", () => resolve(), { once: true });
    });

    let republished = 0;
    let state: RunResult["state"] = "finished";
    let stuck: PendingDomain[] = [];
    try {
      if (o.resume) republished = await republishPending(d.store, bus, o.scan);
      this.seed = await seedDomains(o.input, {
        store: d.store,
        bus,
        scan: o.scan,
        signal: o.signal,
        ...(d.optOut ? { optOut: d.optOut } : {}),
        ...(o.onSkip ? { onSkip: o.onSkip } : {}),
        onBatch: (s) => {
          this.seed = s;
        },
      });
      this.inputDone = !o.signal.aborted;
      if (!o.signal.aborted) {
        await Promise.race([bus.idle(), aborted]);
      }
      if (o.signal.aborted) {
        state = "interrupted";
      } else {
        await drain();
        const counts = await d.store.domainStateCounts(o.scan);
        if (counts.judged < counts.total) {
          state = "stuck";
          stuck = await d.store.pendingDomains(o.scan, { limit: 100 });
        }
      }
    } finally {
      clearInterval(ticker);
      clearInterval(housekeeping);
      // Handlers blocked on the bus are released by close; give in-flight work a moment.
      await Promise.race([
        (async () => {
          for (const s of subs) await s.close();
          await bus.close();
        })(),
        new Promise((r) => setTimeout(r, state === "interrupted" ? 3000 : 30_000).unref()),
      ]);
      await drain().catch(() => {});
      // Verdicts committed out of judged_seq order (concurrent writers) are delivered here.
      await follower.reconcile().catch(() => {});
    }
    return {
      state,
      seed: this.seed,
      republished,
      counters: this.counters,
      delivered: follower.delivered,
      deadLetters,
      stuck,
    };
  }
}

/** Subscribes the four stage shells to `bus` (also used by tests and the services). */
export async function startStages(
  bus: Bus,
  d: PipelineDeps,
  s: StageSettings,
  counters: StageCounters,
): Promise<{ close(): Promise<void> }[]> {
  await bus.ensureTopics(pipelineTopics(32));
  const agg = aggregateHandlers({ bus, store: d.store, probeMode: s.probeMode, now: d.now, counters });
  return [
    await bus.consume(
      { topic: TOPICS.domains, group: "resolver", concurrency: s.resolveConcurrency },
      resolveHandler({
        bus,
        store: d.store,
        resolver: d.resolver,
        resolverValidates: d.resolverValidates,
        probeMode: s.probeMode,
        port: s.port,
        now: d.now,
        counters,
      }),
    ),
    await bus.consume(
      { topic: TOPICS.probeRequests, group: "prober", concurrency: s.probeConcurrency },
      probeHandler({ bus, store: d.store, prober: d.prober, counters }),
    ),
    await bus.consume(
      { topic: TOPICS.dnsFacts, group: "aggregator", concurrency: s.aggregateConcurrency },
      agg.facts,
    ),
    await bus.consume(
      { topic: TOPICS.probeResults, group: "aggregator", concurrency: s.aggregateConcurrency },
      agg.probe,
    ),
  ];
}
