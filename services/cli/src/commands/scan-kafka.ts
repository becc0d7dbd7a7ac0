/**
 * `danesweep scan --kafka BROKERS --database URL`: runs a scan on a
 * deployment. This process is the seeder (libs/pipeline seedDomains onto
 * Kafka, scan record in the deployment's PostgreSQL); the resolver, prober and
 * aggregator services do the rest. It follows the scan in PostgreSQL
 * (ScanFollower: verdicts in judged order, per-state counts) until every
 * seeded domain is judged, and prints exactly what the embedded run prints:
 * the same verdict formats, progress line, summary and exit codes.
 *
 * DNS and probing options (--resolver, --per-ip-rate, --allow-private...)
 * belong to the services' own configuration on a deployment; here they are
 * only recorded with the scan.
 *
 * Outcomes: 0 finished; 130 interrupted (Ctrl-C: seeding stops, the
 * deployment finishes what was seeded; resume with --resume ID); 1 when the
 * store or Kafka cannot be reached, or when messages of the scan were
 * dead-lettered and the rest stopped moving (those domains are listed);
 * 2 usage. Dead letters of the scan are printed as they appear (read from the
 * `.dlq` topics by a consumer group of this scan). With no progress for a
 * minute and no dead letters, a note says so and the follow goes on (services
 * restarting, or not running).
 */
import {
  type Bus,
  deadLetterTopic,
  type IncomingMessage,
  readDeadLetter,
  type Subscription,
  scanOfText,
  TOPICS,
} from "@danesweep/bus";
import { createKafkaBus } from "@danesweep/bus/kafka";
import {
  pipelineTopics,
  republishPending,
  ScanFollower,
  type SeedStats,
  seedDomains,
} from "@danesweep/pipeline";
import type { Store } from "@danesweep/store";
import { settlesWithin } from "@danesweep/timers";
import { UsageError } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { readInputs } from "../input.ts";
import { interruptOnSignals } from "../interrupt.ts";
import type { Io } from "../main.ts";
import { VerdictSink } from "../output.ts";
import { ProgressLine } from "../progress.ts";
import { endScan, summaryText } from "../scan-end.ts";
import { describeStore, openConfiguredStore } from "../store-options.ts";
import { chooseScan, loadOptOut, type parseScanArgs, type ScanParameters, skipMessage } from "./scan.ts";

/** Partitions of the topics when this command has to create them (as `danesweep topics`). */
export const DEFAULT_PARTITIONS = 12;

type Parsed = ReturnType<typeof parseScanArgs>;

function errText(e: unknown): string {
  const m = (e as Error)?.message ?? String(e);
  const cause = (e as { cause?: unknown })?.cause;
  return cause instanceof Error && !m.includes(cause.message) ? `${m} (${cause.message})` : m;
}

export async function executeKafkaScan(
  parsed: Parsed,
  io: Io & { stdin?: NodeJS.ReadableStream },
): Promise<{ code: number; scanId?: string }> {
  const err = (s: string) => io.stderr.write(s);
  const kafka = parsed.kafka;
  if (!kafka) throw new UsageError("--kafka missing");
  let store: Store;
  try {
    store = await openConfiguredStore(parsed.store);
  } catch (e) {
    err(`danesweep: cannot open the store (${describeStore(parsed.store)}): ${(e as Error).message}\n`);
    return { code: EXIT.failure };
  }
  const bus = createKafkaBus({
    brokers: kafka.brokers,
    client: kafka.client,
    clientId: "danesweep-cli",
    onError: () => {},
  } as Parameters<typeof createKafkaBus>[0]);
  try {
    const chosen = await chooseScan(store, parsed, describeStore(parsed.store), err, new Date());
    if ("refused" in chosen) return chosen.refused;
    const { params, scanId } = chosen;
    const optOut = loadOptOut(params.optOutFile);
    try {
      await bus.ensureTopics(pipelineTopics(DEFAULT_PARTITIONS));
    } catch (e) {
      err(`danesweep: cannot reach Kafka at ${kafka.brokers.join(",")}: ${errText(e)}\n`);
      return { code: EXIT.failure };
    }
    if (parsed.resume !== undefined) await store.resumeScan(scanId);
    else
      await store.createScan({
        id: scanId,
        parameters: { ...params, kafka: { brokers: kafka.brokers, client: kafka.client } },
        startedAt: new Date().toISOString(),
      });
    return await follow(store, bus, scanId, params, parsed, io, optOut);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`danesweep scan: ${e.message}\n`);
      return { code: EXIT.usage };
    }
    throw e;
  } finally {
    if (!(await settlesWithin(bus.close(), BUS_CLOSE_MS))) {
      // A Kafka client that cannot close (its broker killed or restarted under it) must not keep the
      // process alive once the scan's results are stored and printed: the process exits with its
      // code even if the client's sockets or timers would hold the event loop.
      err(
        `danesweep: the Kafka client did not close within ${BUS_CLOSE_MS / 1000} s; leaving it ` +
          `(open now: ${openResources()})\n`,
      );
      setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
    }
    await store.close();
  }
}

/** How long the scan waits for the Kafka client to close, ms. */
export const BUS_CLOSE_MS = 15_000;
/** How long after an abandoned close the process exits if something still holds it, ms. */
const EXIT_GRACE_MS = 10_000;

/** What holds the event loop now, counted by kind (e.g. "TCPSocketWrap x3, Timeout x2"): for the warning above. */
export function openResources(): string {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} x${n}`).join(", ") || "nothing";
}

async function follow(
  store: Store,
  bus: Bus,
  scanId: string,
  params: ScanParameters,
  parsed: Parsed,
  io: Io & { stdin?: NodeJS.ReadableStream },
  optOut: ReturnType<typeof loadOptOut>,
): Promise<{ code: number; scanId: string }> {
  const err = (s: string) => io.stderr.write(s);
  const out = parsed.out;
  const kafka = parsed.kafka!;
  const tracing = io.telemetry?.tracing("kafka");
  const sink = new VerdictSink({
    format: out.format,
    ...(out.output !== undefined ? { output: out.output } : {}),
    stdout: io.stdout,
  });
  await sink.header();
  const interrupt = interruptOnSignals(
    io.stderr,
    "\ndanesweep: interrupted; the deployment finishes what was seeded; saving progress...\n",
  );

  // Dead letters of this scan, from the .dlq topics (in the background: seeding does not wait for the group joins).
  let deadLetters = 0;
  const watchers: Subscription[] = [];
  const onDead = async (m: IncomingMessage) => {
    if (scanOfText(m.value) === scanId) {
      deadLetters++;
      const info = readDeadLetter(m.headers);
      err(
        `danesweep: message dead-lettered on ${m.topic.replace(/\.dlq$/, "")} (key ${m.key}): ${info.reason ?? "unknown"}: ${info.detail ?? ""}\n`,
      );
    }
    return { kind: "ack" } as const;
  };
  const watching = Promise.all(
    Object.values(TOPICS).map((t) =>
      bus
        .consume({ topic: deadLetterTopic(t), group: `danesweep-cli.${scanId}` }, onDead)
        .then((s) => watchers.push(s))
        .catch(() => {}),
    ),
  );

  let seed: SeedStats = { read: 0, seeded: 0, invalid: 0, optedOut: 0, duplicates: 0 };
  let republished = 0;
  let inputDone = false;
  let lastStoreError = 0;
  const follower = new ScanFollower({
    store,
    scan: scanId,
    signal: interrupt.signal,
    inputDone: () => inputDone,
    deadLetters: () => deadLetters,
    onVerdict: async (r) => {
      await sink.row(r, scanId);
    },
    onStall: (idleMs) =>
      err(
        `\ndanesweep: no progress for ${Math.round(idleMs / 1000)}s; are the resolver, prober and aggregator services running against ${kafka.brokers.join(",")}? (still following; Ctrl-C to stop)\n`,
      ),
    onStoreError: (e) => {
      const t = Date.now();
      if (t - lastStoreError < 10_000) return;
      lastStoreError = t;
      err(`\ndanesweep: store error while following (retrying): ${errText(e)}\n`);
    },
  });
  const started = Date.now();
  const counts = () => ({
    seeded: Math.max(seed.seeded + republished, follower.counts.total),
    judged: follower.delivered,
    inputDone,
  });
  const progress = new ProgressLine(io.stderr as NodeJS.WriteStream, counts, Date.now);
  if (!out.quiet) {
    err(`danesweep: scan ${scanId} (${describeStore(parsed.store)}; Kafka ${kafka.brokers.join(",")})\n`);
    progress.start();
  }
  const following = follower.run();
  let result: Awaited<typeof following>;
  let seedError: unknown;
  try {
    try {
      if (parsed.resume !== undefined)
        republished = await republishPending(store, bus, scanId, {
          ...(optOut ? { optOut } : {}),
          ...(tracing ? { tracing } : {}),
          onOptedOut: (domain, entry) => {
            const m = skipMessage(
              { source: "seeded before this resume", line: 0, text: domain },
              { kind: "opted-out", entry },
            );
            if (m) err(m);
          },
        });
      const input =
        parsed.resume !== undefined
          ? readInputs({
              args: params.inputs.args.filter((a) => a !== "-"),
              files: params.inputs.files.filter((f) => f !== "-"),
              stdin: process.stdin,
            })
          : readInputs({ ...params.inputs, stdin: (io.stdin ?? process.stdin) as NodeJS.ReadStream });
      seed = await seedDomains(input, {
        store,
        bus,
        scan: scanId,
        signal: interrupt.signal,
        ...(optOut ? { optOut } : {}),
        ...(tracing ? { tracing } : {}),
        onSkip: (l, why) => {
          const m = skipMessage(l, why);
          if (m) err(m);
        },
        onBatch: (s) => {
          seed = s;
        },
      });
      inputDone = !interrupt.signal.aborted;
    } catch (e) {
      seedError = e;
      interrupt.abort();
    }
    result = await following;
  } finally {
    progress.stop();
    interrupt.dispose();
    await watching;
    await Promise.all(watchers.map((w) => w.close().catch(() => {})));
    await sink.end();
  }
  const end = {
    store,
    scanId,
    stuck: result.stuck,
    deadLetters,
    summary: sink.summary,
    seed,
    progress: counts(),
    elapsedMs: Date.now() - started,
    quiet: out.quiet,
    resumeHint: `danesweep scan --resume ${scanId} --kafka ${kafka.brokers.join(",")} --database ${
      "url" in parsed.store ? parsed.store.url : ""
    }`,
    now: Date.now,
    err,
  };
  if (seedError !== undefined) {
    await store.markInterrupted(scanId, new Date().toISOString()).catch(() => {});
    if (!out.quiet) err(summaryText(end));
    err(
      `danesweep: seeding scan ${scanId} failed: ${errText(seedError)}\n  resume with:\n  ${end.resumeHint}\n`,
    );
    return { code: EXIT.failure, scanId };
  }
  return { code: await endScan({ ...end, outcome: result.state }), scanId };
}
