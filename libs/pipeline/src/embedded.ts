/**
 * The whole pipeline in one process on the embedded default: the in-memory
 * bus between the same stage shells the services run on Kafka (built from
 * the same table, stage-table.ts), and the store given (the embedded PGlite
 * in a data directory, or PostgreSQL).
 *
 * runScan(deps, options) prints first what an interrupted scan had already
 * judged (when resuming) and republishes the domains it had not, then seeds
 * the input, runs the stages until every seeded domain is judged, and hands
 * each verdict to `onVerdict` once, as it is stored (the aggregator passes the
 * records it stored for the first time; nothing is read back).
 *
 * Outcomes, never thrown:
 * - "finished": every seeded domain has a verdict; the scan is marked finished.
 * - "interrupted": `signal` aborted; in-flight work is abandoned (the store
 *   has everything completed), the scan is marked interrupted and can be
 *   resumed with the same id.
 * - "stuck": the stages went idle with domains unjudged (their messages were
 *   dead-lettered); they are listed, the scan is marked failed.
 * - "store-failed": the store cannot take writes (full: StoreError
 *   "storage-full", or seeding failed); the stages are stopped as for an
 *   interruption, `error` says why, and the scan can be resumed once the
 *   store is fixed.
 * Store failures before the stages start raise StoreError to the caller.
 *
 * With `deps.tracing` (libs/telemetry; the CLI gives it when OTEL_* configures
 * an exporter) the seed, the stages and the store batches make spans, the
 * trace context carried in the in-memory bus's message headers as on Kafka.
 */
import {
  deadLetterTopic,
  decodeEnvelope,
  MemoryBus,
  readDeadLetter,
  type Subscription,
  TOPICS,
} from "@danesweep/bus";
import type { ClientPolicy, TrustStore, VerdictRecord } from "@danesweep/dane";
import type { DnsQuerier } from "@danesweep/dns";
import type { OptOutList, Prober } from "@danesweep/probe";
import { isStoreError, type PendingDomain, type Store } from "@danesweep/store";
import type { Tracing } from "@danesweep/telemetry";
import { settlesWithin } from "@danesweep/timers";
import { republishPending, type SeedLine, type SeedSkip, type SeedStats, seedDomains } from "./seed.ts";
import { type StageDeps, type StartedStage, startStage } from "./stage-table.ts";
import { LOOK_IN_STORE_AFTER_MS, newCounters, type ProbeMode, type StageCounters } from "./stages.ts";

export interface PipelineDeps {
  store: Store;
  resolver: DnsQuerier;
  resolverValidates: boolean;
  prober: Prober;
  optOut?: OptOutList;
  now: () => number;
  /** Spans and trace context (libs/telemetry), when tracing is on; absent, nothing is traced. */
  tracing?: Tracing;
  /** The authoritative servers' view of the TLSA RRsets (libs/dns ConsistencyChecker); none: not collected. */
  consistency?: StageDeps["consistency"];
}

export interface StageSettings {
  probeMode: ProbeMode;
  /** The client policy profile; default Postfix's. */
  policy?: ClientPolicy;
  /** Collect MTA-STS and TLS-RPT and fetch policies (default true). */
  mailPolicies?: boolean;
  /** The WebPKI roots MTA-STS is judged with. */
  trust?: TrustStore;
  /** Thresholds of the risk rules (libs/dane); default theirs. */
  risk?: StageDeps["risk"];
  port: number;
  /** Domains resolving at once. */
  resolveConcurrency: number;
  /** Probe requests handled at once (the prober's own caps still apply). */
  probeConcurrency: number;
  /** Messages the aggregator's join holds at once (default: the stage table's). */
  aggregateConcurrency?: number;
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
  state: "finished" | "interrupted" | "stuck" | "store-failed";
  /** Why, when the state is "store-failed". */
  error?: unknown;
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
  /** Domains the aggregator holds, waiting for probe results or being stored. */
  joining: number;
}

/** How often the embedded runner asks the store for housekeeping (Store.maintain). */
const MAINTAIN_EVERY_MS = 20_000;
/** Attempts of a retryable failure before a message is dead-lettered (rides out a store owner changing). */
const MAX_ATTEMPTS = 40;

export class EmbeddedPipeline {
  readonly counters = newCounters();
  seed: SeedStats = { read: 0, seeded: 0, invalid: 0, optedOut: 0, duplicates: 0 };
  inputDone = false;
  delivered = 0;
  #stages: StartedStage[] = [];
  readonly #deps: PipelineDeps;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
  }

  progress(): RunProgress {
    return {
      seed: this.seed,
      counters: this.counters,
      delivered: this.delivered,
      inputDone: this.inputDone,
      joining: this.#stages.reduce((n, s) => n + (s.running.join?.size ?? 0), 0),
    };
  }

  async run(o: RunOptions): Promise<RunResult> {
    const d = this.#deps;
    // 8 messages a partition: every stage still has work queued (32 partitions, 256
    // messages a topic), and fewer domains' facts wait in memory. Against 64, three
    // paired 100k scans: peak RSS 599-618 MB against 625-739, CPU 0.97 (bench/e2e/one.ts).
    const bus = new MemoryBus({
      partitions: o.bus?.partitions ?? 32,
      queueCapacity: o.bus?.queueCapacity ?? 8,
    });
    // Verdicts reach onVerdict one at a time, in the order they were stored.
    let delivering: Promise<void> = Promise.resolve();
    const deliver = (records: VerdictRecord[]) => {
      delivering = delivering.then(async () => {
        for (const r of records) {
          await o.onVerdict(r);
          this.delivered++;
        }
      });
      return delivering;
    };
    let deadLetters = 0;
    const subs: Subscription[] = [];
    let republished = 0;
    let state: RunResult["state"] = "finished";
    let stuck: PendingDomain[] = [];
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
    // The user's interruption, or the store failing for good, stop the stages alike.
    const stop = new AbortController();
    let fatal: unknown;
    const onFatal = (e: unknown) => {
      fatal ??= e;
      stop.abort();
    };
    if (o.signal.aborted) stop.abort();
    else o.signal.addEventListener("abort", () => stop.abort(), { once: true });
    const signal = stop.signal;
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    try {
      if (o.resume) {
        // What the interrupted run judged is printed first, once.
        for (let after = 0; ; ) {
          const page = await d.store.verdictsSince(o.scan, after, 1000);
          await deliver(page.map((p) => p.record));
          if (page.length < 1000) break;
          after = page[page.length - 1]?.seq ?? after;
        }
      }
      const deps: StageDeps = {
        bus,
        store: d.store,
        resolver: d.resolver,
        resolverValidates: d.resolverValidates,
        ...(d.consistency ? { consistency: d.consistency } : {}),
        prober: d.prober,
        probeMode: o.settings.probeMode,
        ...(o.settings.policy ? { policy: o.settings.policy } : {}),
        ...(o.settings.mailPolicies === false ? { mailPolicies: false } : {}),
        ...(o.settings.trust ? { trust: o.settings.trust } : {}),
        ...(o.settings.risk ? { risk: o.settings.risk } : {}),
        port: o.settings.port,
        now: d.now,
        counters: this.counters,
        // One prober in this process: no claims (its in-flight map and the stored probes dedupe).
        probeClaims: false,
        // A scan begun by this run has no stored probe that this run's prober did not make.
        ...(o.resume ? {} : { probeNewScan: o.scan }),
        // One request per probe: its result serves every domain that needs it (the join keeps
        // it for the later ones, and finds it in the store once it is no longer kept).
        askOnce: true,
        lookInStoreAfterMs: LOOK_IN_STORE_AFTER_MS,
        onFatal,
        onJudged: (_scan, records) => deliver(records),
        ...(d.tracing ? { tracing: d.tracing } : {}),
      };
      const consume = (opts: Parameters<MemoryBus["consume"]>[0], h: Parameters<MemoryBus["consume"]>[1]) =>
        bus.consume({ ...opts, maxAttempts: MAX_ATTEMPTS }, h);
      this.#stages = [
        await startStage("resolve", deps, { consume, concurrency: o.settings.resolveConcurrency }),
        await startStage("probe", deps, { consume, concurrency: o.settings.probeConcurrency }),
        await startStage(
          "aggregate",
          deps,
          o.settings.aggregateConcurrency !== undefined
            ? { consume, concurrency: o.settings.aggregateConcurrency }
            : { consume },
        ),
      ];
      for (const s of this.#stages) subs.push(s.subscription);
      for (const t of Object.values(TOPICS)) {
        subs.push(
          await bus.consume({ topic: deadLetterTopic(t), group: "dlq-watch" }, async (m) => {
            deadLetters++;
            const info = readDeadLetter(m.headers);
            if (t === TOPICS.probeRequests) {
              // No domain that needs this probe will get it: the join gives up on them.
              const env = decodeEnvelope(m.value, "probe-request");
              if (env.ok)
                for (const s of this.#stages) s.running.join?.abandonRequest(env.envelope, info.detail ?? "");
            }
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
      if (o.resume) {
        // Domains opted out since the interrupted run seeded them are taken out of the scan.
        republished = await republishPending(d.store, bus, o.scan, {
          ...(d.optOut ? { optOut: d.optOut } : {}),
          ...(d.tracing ? { tracing: d.tracing } : {}),
          onOptedOut: (domain, entry) => {
            this.seed = { ...this.seed, optedOut: this.seed.optedOut + 1 };
            o.onSkip?.(
              { source: "seeded before this resume", line: 0, text: domain },
              { kind: "opted-out", entry },
            );
          },
        });
      }
      this.seed = await seedDomains(o.input, {
        store: d.store,
        bus,
        scan: o.scan,
        signal,
        ...(d.optOut ? { optOut: d.optOut } : {}),
        ...(d.tracing ? { tracing: d.tracing } : {}),
        ...(o.onSkip ? { onSkip: o.onSkip } : {}),
        onBatch: (s) => {
          this.seed = s;
        },
      });
      this.inputDone = !signal.aborted;
      if (!signal.aborted) {
        await Promise.race([bus.idle(), aborted]);
      }
      if (fatal !== undefined) {
        state = "store-failed";
      } else if (signal.aborted) {
        state = "interrupted";
      } else {
        await delivering;
        const counts = await d.store.domainStateCounts(o.scan);
        if (counts.judged < counts.total) {
          state = "stuck";
          stuck = await d.store.pendingDomains(o.scan, { limit: 100 });
        }
      }
    } catch (e) {
      // Seeding (or publishing what a resume republishes) needs the store: when it fails, the
      // run stops like an interruption and can be resumed.
      if (!isStoreError(e)) throw e;
      fatal ??= e;
      stop.abort();
      state = "store-failed";
    } finally {
      clearInterval(housekeeping);
      // The join lets go of what it holds; handlers blocked on the bus are released by close;
      // give in-flight work a moment.
      for (const s of this.#stages) s.running.stop?.();
      // The bound is a timer that holds the process (not unref'd): when closing waits on
      // something that holds nothing (a handler blocked for good), an unref'd timer let the
      // process end here, silently, before the run could report.
      await settlesWithin(
        (async () => {
          for (const s of subs) await s.close();
          await bus.close();
        })(),
        state === "finished" || state === "stuck" ? 30_000 : 3000,
      );
      await delivering.catch(() => {});
    }
    const result: RunResult = {
      state,
      seed: this.seed,
      republished,
      counters: this.counters,
      delivered: this.delivered,
      deadLetters,
      stuck,
    };
    if (fatal !== undefined) result.error = fatal;
    return result;
  }
}
