/**
 * What both Kafka adapters share: options, record decoding, the retry loop
 * that turns handler outcomes into one disposition per message, dead-letter
 * records, the lane scheduler's semaphore, and the metrics they expose.
 *
 * - decodeRecord(key, value, headers): raw bytes -> the message's strings, or
 *   a decode failure (null key or value, bytes that are not UTF-8) with a
 *   detail; never throws.
 * - settle(msg, handler, opts): runs the handler until it acks, dead-letters,
 *   or exhausts `maxAttempts` (then dead-letter "retries-exhausted"); a throw,
 *   a retry outcome or a malformed outcome counts as a retry. Retries wait
 *   `delayMs` or the exponential backoff; an aborted signal during that wait
 *   yields "abandoned" (the caller must not commit). Never throws.
 * - deadLetterRecord(...): the record to write to `<topic>.dlq` (the original
 *   bytes, original headers, and the reason headers of dead-letter.ts).
 * - KafkaBusError: the closed set of errors the Kafka adapters reject with
 *   (beside BusError's bus-closed / invalid-options).
 */
import type {
  ConsumeOptions,
  DeadLetterReason,
  HandlerOutcome,
  IncomingMessage,
  Subscription,
} from "../bus.ts";
import { DEAD_LETTER_REASONS, deadLetterTopic } from "../bus.ts";
import { deadLetterMessage } from "../dead-letter.ts";
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
  /** Longest a fetch waits on the broker for data, ms (default 500): bounds how long close() waits. */
  maxWaitTimeMs?: number;
  /** Default replication factor for ensureTopics when a TopicSpec gives none (default 1). */
  replication?: number;
  /** Retry backoff for retry outcomes without delayMs: baseMs * 2^(attempt-1) capped at maxMs (50 / 5000). */
  retryBackoff?: { baseMs?: number; maxMs?: number };
  /** Where adapter-level errors (commit failures, stream restarts) are reported (default: console.error). */
  onError?: (event: KafkaBusErrorEvent) => void;
}

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
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeMs: number;
  replication: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  onError: (event: KafkaBusErrorEvent) => void;
}

export function resolveOptions(o: KafkaBusOptions): Resolved {
  const base = Math.max(0, o.retryBackoff?.baseMs ?? 50);
  const session = o.sessionTimeoutMs ?? 30_000;
  return {
    clientId: o.clientId ?? "danesweep",
    sessionTimeoutMs: session,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? Math.min(3000, Math.floor(session / 3)),
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

export type Disposition =
  | { kind: "ack"; attempts: number }
  | { kind: "dead-letter"; reason: DeadLetterReason; detail: string; attempts: number }
  | { kind: "abandoned"; attempts: number };

export interface SettleOptions {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Aborted when the subscription closes: a pending retry wait ends as "abandoned". */
  signal: AbortSignal;
  /** Injected for tests; default a timer. Resolves early when the signal aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Called after every attempt that did not settle the message (metrics). */
  onRetry?: (attempt: number, reason: string) => void;
}

export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

export async function settle(
  msg: IncomingMessage,
  handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
  opts: SettleOptions,
): Promise<Disposition> {
  const sleep = opts.sleep ?? abortableSleep;
  for (let attempt = 1; ; attempt++) {
    let outcome: unknown;
    try {
      outcome = await handler({ ...msg, headers: { ...msg.headers }, deliveryAttempt: attempt });
    } catch (e) {
      outcome = { kind: "retry", reason: thrownReason(e) };
    }
    const o = outcome as Partial<HandlerOutcome> | undefined;
    if (o?.kind === "ack") return { kind: "ack", attempts: attempt };
    if (o?.kind === "dead-letter") {
      const dl = o as Extract<HandlerOutcome, { kind: "dead-letter" }>;
      const known = (DEAD_LETTER_REASONS as readonly string[]).includes(dl.reason);
      return {
        kind: "dead-letter",
        reason: known ? dl.reason : "handler-rejected",
        detail: known
          ? String(dl.detail ?? "")
          : `unknown reason ${String(dl.reason)}: ${String(dl.detail ?? "")}`,
        attempts: attempt,
      };
    }
    const reason =
      o?.kind === "retry" ? String((o as { reason?: unknown }).reason ?? "") : `bad outcome ${kindOf(o)}`;
    opts.onRetry?.(attempt, reason);
    if (attempt >= opts.maxAttempts) {
      return {
        kind: "dead-letter",
        reason: "retries-exhausted",
        detail: `after ${attempt} attempts: ${reason}`,
        attempts: attempt,
      };
    }
    if (opts.signal.aborted) return { kind: "abandoned", attempts: attempt };
    const asked = o?.kind === "retry" ? (o as { delayMs?: unknown }).delayMs : undefined;
    const delay =
      typeof asked === "number" && asked >= 0
        ? asked
        : backoffMs(attempt, opts.backoffBaseMs, opts.backoffMaxMs);
    await sleep(delay, opts.signal);
    if (opts.signal.aborted) return { kind: "abandoned", attempts: attempt };
  }
}

function kindOf(o: unknown): string {
  if (o && typeof o === "object") return String((o as { kind?: unknown }).kind);
  return typeof o;
}

function thrownReason(e: unknown): string {
  if (e && typeof e === "object") {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return `threw ${code}`;
    const name = (e as { name?: unknown }).name;
    if (typeof name === "string") return `threw ${name}`;
  }
  return "threw";
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

// -------------------------------------------------------------- dead letters

export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface DeadLetterRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

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
  /** Handlers running now. */
  inFlight: number;
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
  subscriptions: SubscriptionMetrics[];
}

/** Per-partition counters kept by a subscription. */
export class Counters {
  readonly byPartition = new Map<number, Omit<PartitionMetrics, "committed" | "highWatermark" | "lag">>();
  inFlight = 0;
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

// ---------------------------------------------------------------- semaphore

export class Semaphore {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
  release(): void {
    const w = this.#waiters.shift();
    if (w) w();
    else this.#free++;
  }
}

export function validateConsume(
  topic: string,
  group: string,
  concurrency: number,
  maxAttempts: number,
): string | null {
  if (!topic) return "empty topic";
  if (!group) return "empty group";
  if (!Number.isInteger(concurrency) || concurrency < 1) return `concurrency ${concurrency}`;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) return `maxAttempts ${maxAttempts}`;
  return null;
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
 */
export async function openSubscription<S extends StartableSubscription>(
  subs: Set<S>,
  closed: boolean,
  opts: ConsumeOptions,
  make: (resolved: { concurrency: number; maxAttempts: number }) => S,
): Promise<Subscription> {
  if (closed) throw new BusError("bus-closed", "consume after close");
  const concurrency = opts.concurrency ?? 1;
  const maxAttempts = opts.maxAttempts ?? 5;
  const bad = validateConsume(opts.topic, opts.group, concurrency, maxAttempts);
  if (bad) throw new BusError("invalid-options", bad);
  const sub = make({ concurrency, maxAttempts });
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
