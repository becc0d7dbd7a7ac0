/**
 * What both Kafka adapters share: options, record decoding, dead-letter
 * records, the checks and opening of a subscription, and the metrics they
 * expose. (The consuming core is consumer.ts, the produce queue producer.ts,
 * the retry loop settle() is dispatch.ts's, re-exported here.)
 *
 * - resolveOptions(o): KafkaBusOptions with their defaults.
 * - decodeRecord(key, value, headers): raw bytes -> the message's strings, or
 *   a decode failure (null key or value, bytes that are not UTF-8) with a
 *   detail; never throws.
 * - deadLetterRecord(...): the record to write to `<topic>.dlq` (the original
 *   bytes, original headers, and the reason headers of dead-letter.ts).
 * - openSubscription(...): Bus.consume's checks (BusError "invalid-options"
 *   for an empty topic or group, concurrency or maxAttempts below 1, an
 *   unknown ordering) and start ("consumer-start-failed").
 * - KafkaBusError: the closed set of errors the Kafka adapters reject with
 *   (beside BusError's bus-closed / invalid-options).
 */
import type { ConsumeOptions, DeadLetterReason, Ordering, OutgoingMessage, Subscription } from "../bus.ts";
import { deadLetterTopic } from "../bus.ts";
import { deadLetterMessage } from "../dead-letter.ts";
import { orderingProblem } from "../dispatch.ts";
import { BusError } from "../errors.ts";

/** Options common to both adapters. */
export interface KafkaBusOptions {
  /** Bootstrap brokers, "host:port". */
  brokers: string[];
  /** Client id sent to the broker (default "danesweep"). */
  clientId?: string;
  /** Consumer group session timeout in ms (default 30000). */
  sessionTimeoutMs?: number;
  /** Heartbeat interval in ms (default 3000; must be below sessionTimeoutMs). */
  heartbeatIntervalMs?: number;
  /**
   * How long a group's rebalance may take, ms (default max(sessionTimeoutMs,
   * 60000)). The platformatic adapter also fails a stream whose client has
   * been outside its group for this long plus sessionTimeoutMs, and joins again.
   */
  rebalanceTimeoutMs?: number;
  /** Longest a fetch waits on the broker for data, ms (default 500): bounds how long close() waits. */
  maxWaitTimeMs?: number;
  /** Default replication factor for ensureTopics when a TopicSpec gives none (default 1). */
  replication?: number;
  /** Retry backoff for retry outcomes without delayMs: baseMs * 2^(attempt-1) capped at maxMs (50 / 5000). */
  retryBackoff?: { baseMs?: number; maxMs?: number };
  /** Where adapter-level errors (commit failures, stream restarts) are reported (default: console.error). */
  onError?: (event: KafkaBusErrorEvent) => void;
  /**
   * Messages a subscription holds (fetched and not finished: queued, parked
   * behind their key, running, waiting for a retry) before it stops fetching
   * (default concurrency + max(256, concurrency)).
   */
  maxBuffered?: number;
  /** How often a subscription commits what finished, ms (default 200; also on close and revocation). */
  commitIntervalMs?: number;
  /** Producer batching (producer.ts): linger, batch limits; `batching: false` for one request per publish. */
  produce?: ProduceBatchOptions;
  /**
   * Compression of produced batches (default "none"). "zstd" (Node's zlib, no
   * native build) makes probe facts ~6.5x smaller in batches of 100 but cost
   * throughput on a CPU-bound single node (bench/bus); both adapters read
   * zstd, gzip and uncompressed batches whatever this says.
   */
  compression?: Compression;
}

export interface ProduceBatchOptions {
  /**
   * How long an idle topic's first record waits for others to join its
   * request, ms (default 0: until the end of the current event-loop turn; calls
   * made while a request is in flight join the next one anyway).
   */
  lingerMs?: number;
  /** Most records in one request (default 10000). */
  maxBatchMessages?: number;
  /** Most bytes (keys, values, headers, ~32 bytes overhead a record) in one request (default 900000, under the broker's default 1 MiB message.max.bytes). */
  maxBatchBytes?: number;
  /** false: one request per publish() call, sent at once (default true). */
  batching?: boolean;
}

export interface ResolvedBatching {
  lingerMs: number;
  maxBatchMessages: number;
  maxBatchBytes: number;
  batching: boolean;
}

export function resolveBatching(o: ProduceBatchOptions = {}): ResolvedBatching {
  return {
    lingerMs: Math.max(0, o.lingerMs ?? 0),
    maxBatchMessages: Math.max(1, Math.floor(o.maxBatchMessages ?? 10_000)),
    maxBatchBytes: Math.max(1, Math.floor(o.maxBatchBytes ?? 900_000)),
    batching: o.batching ?? true,
  };
}

export const COMPRESSIONS = ["none", "gzip", "zstd"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export interface KafkaBusErrorEvent {
  where: "commit" | "consume" | "dead-letter" | "metrics" | "close";
  topic?: string;
  group?: string;
  error: unknown;
}

export const KAFKA_BUS_ERROR_CODES = [
  "publish-failed",
  "topic-setup-failed",
  "consumer-start-failed",
  /** A subscription's client was outside its group (no member id or no heartbeat) too long: its stream is restarted. */
  "consumer-outside-group",
  /** A client did not close in the time allowed (reported; the process goes on). */
  "close-timeout",
] as const;
export type KafkaBusErrorCode = (typeof KAFKA_BUS_ERROR_CODES)[number];

export class KafkaBusError extends Error {
  readonly code: KafkaBusErrorCode;
  readonly canRetry: boolean;
  constructor(code: KafkaBusErrorCode, detail: string, cause?: unknown, canRetry = true) {
    super(`${code}: ${detail}`, cause === undefined ? undefined : { cause });
    this.name = "KafkaBusError";
    this.code = code;
    this.canRetry = canRetry;
  }
}

export interface Resolved {
  clientId: string;
  maxBuffered: number | undefined;
  commitIntervalMs: number;
  produce: ResolvedBatching;
  compression: Compression;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  maxWaitTimeMs: number;
  replication: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  onError: (event: KafkaBusErrorEvent) => void;
}

export function resolveOptions(o: KafkaBusOptions): Resolved {
  const base = Math.max(0, o.retryBackoff?.baseMs ?? 50);
  const session = o.sessionTimeoutMs ?? 30_000;
  if (o.compression !== undefined && !(COMPRESSIONS as readonly string[]).includes(o.compression)) {
    throw new BusError(
      "invalid-options",
      `compression ${JSON.stringify(o.compression)}: expected ${COMPRESSIONS.join(", ")}`,
    );
  }
  if (o.maxBuffered !== undefined && !(Number.isInteger(o.maxBuffered) && o.maxBuffered >= 1)) {
    throw new BusError("invalid-options", `maxBuffered ${o.maxBuffered}`);
  }
  if (
    o.rebalanceTimeoutMs !== undefined &&
    !(Number.isInteger(o.rebalanceTimeoutMs) && o.rebalanceTimeoutMs >= 1)
  ) {
    throw new BusError(
      "invalid-options",
      `rebalanceTimeoutMs ${o.rebalanceTimeoutMs}: expected a whole number of ms, at least 1`,
    );
  }
  return {
    clientId: o.clientId ?? "danesweep",
    maxBuffered: o.maxBuffered,
    commitIntervalMs: Math.max(1, o.commitIntervalMs ?? 200),
    produce: resolveBatching(o.produce),
    compression: o.compression ?? "none",
    sessionTimeoutMs: session,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? Math.min(3000, Math.floor(session / 3)),
    rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? Math.max(session, 60_000),
    maxWaitTimeMs: o.maxWaitTimeMs ?? 500,
    replication: o.replication ?? 1,
    backoffBaseMs: base,
    backoffMaxMs: Math.max(base, o.retryBackoff?.maxMs ?? 5000),
    onError:
      o.onError ??
      ((e) => console.error(`bus/kafka: ${e.where} ${e.topic ?? ""} ${e.group ?? ""}:`, errorText(e.error))),
  };
}

export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" ? `${code} ${e.message}` : e.message;
  }
  return String(e);
}

// ------------------------------------------------------------------ decoding

const utf8 = new TextDecoder("utf-8", { fatal: true });

export type Decoded =
  | { ok: true; key: string; value: string; headers: Record<string, string> }
  | { ok: false; detail: string; headers: Record<string, string> };

/**
 * Raw record parts -> strings. Header entries that are not UTF-8 are dropped
 * from `headers` and make the record a decode failure.
 */
export function decodeRecord(
  key: Uint8Array | null | undefined,
  value: Uint8Array | null | undefined,
  headers: Iterable<[Uint8Array | string, Uint8Array | string | null | undefined]>,
): Decoded {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const [k, v] of headers) {
    const hk = text(k);
    const hv = v === null || v === undefined ? "" : text(v);
    if (hk === undefined || hv === undefined) problems.push("a header is not UTF-8");
    else out[hk] = hv;
  }
  if (key === null || key === undefined) problems.push("record has no key");
  if (value === null || value === undefined) problems.push("record has no value (tombstone)");
  const k = key ? text(key) : undefined;
  const v = value ? text(value) : undefined;
  if (key && k === undefined) problems.push("key is not UTF-8");
  if (value && v === undefined) problems.push("value is not UTF-8");
  if (problems.length > 0 || k === undefined || v === undefined) {
    return { ok: false, detail: problems.join("; "), headers: out };
  }
  return { ok: true, key: k, value: v, headers: out };
}

function text(b: Uint8Array | string): string | undefined {
  if (typeof b === "string") return b;
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------ the retry loop

export {
  abortableSleep,
  backoffMs,
  type Disposition,
  type SettleOptions,
  settle,
} from "../dispatch.ts";

// -------------------------------------------------------------- publishing

/** Bus.publish's messages as records (UTF-8); BusError "invalid-options" for an empty topic. */
export function outgoingRecords(messages: OutgoingMessage[]): ProducedRecord[] {
  for (const m of messages) {
    if (!m.topic) throw new BusError("invalid-options", "empty topic");
  }
  return messages.map((m) => ({
    topic: m.topic,
    key: Buffer.from(m.key, "utf8"),
    value: Buffer.from(m.value, "utf8"),
    headers: m.headers ?? {},
  }));
}

// -------------------------------------------------------------- dead letters

export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

/** A record as produced: the original bytes for dead letters, UTF-8 for publish. */
export interface ProducedRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}
export type DeadLetterRecord = ProducedRecord;

/** The `.dlq` record for a message: original bytes and headers plus the reason headers. */
export function deadLetterRecord(
  raw: RawRecord,
  headers: Record<string, string>,
  reason: DeadLetterReason,
  detail: string,
  ctx: { group: string; attempts: number },
): DeadLetterRecord {
  const shaped = deadLetterMessage(
    { topic: raw.topic, key: "", value: "", headers, partition: raw.partition, offset: raw.offset },
    reason,
    detail,
    ctx,
  );
  return { topic: deadLetterTopic(raw.topic), key: raw.key, value: raw.value, headers: shaped.headers ?? {} };
}

// ------------------------------------------------------------------ metrics

export interface PartitionMetrics {
  partition: number;
  /** Messages whose handling finished here (acked or dead-lettered). */
  consumed: number;
  acked: number;
  deadLettered: number;
  /** Handler attempts that asked for a retry (or threw). */
  retries: number;
  /** Sum of handler wall time in ms, all attempts. */
  handlerMs: number;
  /** Next offset to read, as committed by the group on the broker; null when the group has none. */
  committed: string | null;
  /** Log end offset (high watermark); null when it could not be read. */
  highWatermark: string | null;
  /** highWatermark - committed (from the log start when nothing is committed); null when unknown. */
  lag: number | null;
}

export interface SubscriptionMetrics {
  topic: string;
  group: string;
  /** Handlers running now, or waiting for a retry (at most `concurrency`). */
  inFlight: number;
  /** Messages held: fetched and not finished (at most maxBuffered). Always set by the adapters. */
  buffered?: number;
  commitErrors: number;
  /** Times the consume loop was restarted after an error. */
  restarts: number;
  /** Group joins by this member: 1 after start, each rebalance adds one. */
  joins: number;
  partitions: PartitionMetrics[];
}

export interface KafkaBusMetrics {
  client: "platformatic" | "kafkajs";
  /** Messages accepted by the broker per topic (dead letters included). */
  produced: Record<string, number>;
  /** Produce requests sent (publish calls are batched: see producer.ts). Always set by the adapters. */
  produceRequests?: number;
  subscriptions: SubscriptionMetrics[];
}

/** Per-partition counters kept by a subscription. */
export class Counters {
  readonly byPartition = new Map<number, Omit<PartitionMetrics, "committed" | "highWatermark" | "lag">>();
  commitErrors = 0;
  restarts = 0;
  joins = 0;
  of(partition: number) {
    let c = this.byPartition.get(partition);
    if (!c) {
      c = { partition, consumed: 0, acked: 0, deadLettered: 0, retries: 0, handlerMs: 0 };
      this.byPartition.set(partition, c);
    }
    return c;
  }
}

/** Joins counters with broker offsets (maps partition -> offset; -1 = none). */
export function partitionMetrics(
  counters: Counters,
  partitions: number[],
  committed: Map<number, bigint>,
  high: Map<number, bigint>,
  low: Map<number, bigint>,
): PartitionMetrics[] {
  const all = new Set<number>([...partitions, ...counters.byPartition.keys()]);
  return [...all]
    .sort((a, b) => a - b)
    .map((p) => {
      const c = counters.of(p);
      const hw = high.get(p);
      const cm = committed.get(p);
      const hasCommit = cm !== undefined && cm >= 0n;
      const from = hasCommit ? cm : low.get(p);
      return {
        ...c,
        committed: hasCommit ? cm.toString() : null,
        highWatermark: hw === undefined ? null : hw.toString(),
        lag: hw === undefined || from === undefined ? null : Number(hw > from ? hw - from : 0n),
      };
    });
}

export function validateConsume(
  opts: ConsumeOptions,
  concurrency: number,
  maxAttempts: number,
): string | null {
  if (!opts.topic) return "empty topic";
  if (!opts.group) return "empty group";
  if (!Number.isInteger(concurrency) || concurrency < 1) return `concurrency ${concurrency}`;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) return `maxAttempts ${maxAttempts}`;
  return orderingProblem(opts.ordering);
}

/** What both adapters' subscriptions offer the code that opens them. */
export interface StartableSubscription {
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Bus.consume for both adapters: checks the options, makes the subscription
 * (`make` gets the resolved concurrency and attempts), tracks it in `subs`
 * while it lives, starts it (a failed start closes it and rejects with
 * "consumer-start-failed"), and returns the caller's handle (close is idempotent).
 * (The checks are those of the module comment.)
 */
export async function openSubscription<S extends StartableSubscription>(
  subs: Set<S>,
  closed: boolean,
  opts: ConsumeOptions,
  make: (resolved: { concurrency: number; maxAttempts: number; ordering: Ordering }) => S,
): Promise<Subscription> {
  if (closed) throw new BusError("bus-closed", "consume after close");
  const concurrency = opts.concurrency ?? 1;
  const maxAttempts = opts.maxAttempts ?? 5;
  const bad = validateConsume(opts, concurrency, maxAttempts);
  if (bad) throw new BusError("invalid-options", bad);
  const sub = make({ concurrency, maxAttempts, ordering: opts.ordering ?? "key" });
  subs.add(sub);
  try {
    await sub.start();
  } catch (e) {
    subs.delete(sub);
    await sub.close().catch(() => {});
    throw new KafkaBusError("consumer-start-failed", `${opts.topic} / ${opts.group}`, e);
  }
  let closing: Promise<void> | undefined;
  return {
    close: () => {
      closing ??= sub.close().finally(() => subs.delete(sub));
      return closing;
    },
  };
}
