/**
 * What every adapter's consumer shares: which message may start next, which
 * offset may be committed, and the retry loop that turns handler outcomes
 * into one disposition per message. Pure bookkeeping: no I/O, no clock reads
 * (settle's waits go through an injected sleep).
 *
 * - Lane<T> (one per partition of a subscription, or of a group in the
 *   in-memory bus): the messages accepted from the partition and not yet
 *   finished, in offset order.
 *   - accept(offset, key, item): takes a message in; a message below the
 *     lane's next offset (fetched again after a rejoin) is refused (undefined).
 *   - ordering "key" (default): one message of a key at a time, in offset
 *     order; the others of that key are parked until it finishes, while other
 *     keys of the partition go ahead. "none": any message may start at once.
 *     "partition": one message of the partition at a time (the behaviour of
 *     the bus before keys ran in parallel; kept for baselines).
 *   - commitPosition(): the lowest offset not finished (a message running,
 *     waiting for a retry, queued, parked, dropped or abandoned), or the next
 *     offset when everything accepted is finished. Everything below it is
 *     finished, so committing it never skips a message.
 *   - finish(slot): the message is done (acked or dead-lettered); a parked
 *     successor of its key becomes startable. abandon(slot): given up without
 *     an outcome (close, revocation): it stays unfinished, so the commit stops
 *     below it. putBack(slot): back to the front of the queue with its key
 *     still held (the in-memory bus hands it to the partition's next owner).
 *     dropPending(): forgets queued and parked messages (revocation); they
 *     stay unfinished for commitPosition.
 *   The unfinished messages are a linked list (insert at the tail, remove
 *   anywhere, O(1)); parked ones sit in per-key queues: per message cost O(1).
 * - Pool<T> (one per subscription or group member): at most `concurrency`
 *   slots running or waiting for a retry, across the lanes attached to it;
 *   next() takes the next startable message round-robin over the lanes. An
 *   optional `supply(lane)` refills a lane that has nothing startable (the
 *   in-memory bus pulls from its log on demand).
 * - settle(msg, handler, opts): runs the handler until it acks, dead-letters,
 *   or exhausts `maxAttempts` (then dead-letter "retries-exhausted"); a throw,
 *   a retry outcome or a malformed outcome counts as a retry. Retries wait
 *   `delayMs` or the exponential backoff, holding their slot; an aborted
 *   signal during that wait yields "abandoned" (the caller must not commit).
 *   Never throws.
 */
import type { DeadLetterReason, HandlerOutcome, Headers, IncomingMessage, Ordering } from "./bus.ts";
import { DEAD_LETTER_REASONS, ORDERINGS } from "./bus.ts";

type SlotState = "queued" | "parked" | "running" | "done" | "abandoned" | "dropped";

/** One accepted message, from acceptance until it is finished. */
export class Slot<T> {
  readonly offset: number;
  readonly key: string;
  readonly item: T;
  readonly lane: Lane<T>;
  state: SlotState = "queued";
  /** Handler attempts so far (the in-memory bus carries them across owners). */
  attempts = 0;
  /** The pool whose slot it occupies while running. */
  pool: Pool<T> | undefined;
  prev: Slot<T> | undefined;
  next: Slot<T> | undefined;
  constructor(lane: Lane<T>, offset: number, key: string, item: T) {
    this.lane = lane;
    this.offset = offset;
    this.key = key;
    this.item = item;
  }
}

export class Lane<T> {
  readonly partition: number;
  readonly ordering: Ordering;
  /** Aborted when the lane is revoked or its subscription closes. */
  readonly abort = new AbortController();
  /** Accepted and not finished (queued, parked, running). */
  held = 0;
  /** Running or waiting for a retry. */
  running = 0;
  pool: Pool<T> | undefined;
  /** The pool whose round-robin queue the lane waits in, if any. */
  queuedIn: Pool<T> | undefined;
  /** Offset after the last accepted message; below it, accept() refuses. */
  nextOffset: number;
  #first: Slot<T> | undefined;
  #last: Slot<T> | undefined;
  #ready: Slot<T>[] = [];
  #readyHead = 0;
  /** Keys with a message queued or running; their later messages wait in #parked. */
  readonly #busy = new Set<string>();
  readonly #parked = new Map<string, Slot<T>[]>();

  constructor(partition: number, ordering: Ordering, startOffset = 0) {
    this.partition = partition;
    this.ordering = ordering;
    this.nextOffset = startOffset;
  }

  accept(offset: number, key: string, item: T): Slot<T> | undefined {
    if (offset < this.nextOffset) return undefined;
    this.nextOffset = offset + 1;
    const s = new Slot(this, offset, key, item);
    s.prev = this.#last;
    if (this.#last) this.#last.next = s;
    else this.#first = s;
    this.#last = s;
    this.held++;
    const k = this.#orderKey(s);
    if (k !== undefined && this.#busy.has(k)) {
      s.state = "parked";
      const q = this.#parked.get(k);
      if (q) q.push(s);
      else this.#parked.set(k, [s]);
      return s;
    }
    if (k !== undefined) this.#busy.add(k);
    this.#ready.push(s);
    this.pool?.wake(this);
    return s;
  }

  hasStartable(): boolean {
    return this.#readyHead < this.#ready.length;
  }

  /** The next startable message, marked running; called by Pool.next. */
  take(): Slot<T> | undefined {
    if (this.#readyHead >= this.#ready.length) return undefined;
    const s = this.#ready[this.#readyHead] as Slot<T>;
    this.#ready[this.#readyHead] = undefined as unknown as Slot<T>;
    this.#readyHead++;
    if (this.#readyHead === this.#ready.length) {
      this.#ready.length = 0;
      this.#readyHead = 0;
    } else if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
    s.state = "running";
    this.running++;
    return s;
  }

  /** The message is done (acked or dead-lettered). */
  finish(s: Slot<T>): void {
    if (s.state !== "running") return;
    this.#stopRunning(s, "done");
    this.#unlink(s);
    this.held--;
    const k = this.#orderKey(s);
    if (k !== undefined) {
      const q = this.#parked.get(k);
      const successor = q?.shift();
      if (successor) {
        if (q?.length === 0) this.#parked.delete(k);
        successor.state = "queued";
        this.#ready.push(successor);
        this.pool?.wake(this);
      } else {
        this.#busy.delete(k);
      }
    }
  }

  /** Given up without an outcome: stays unfinished (the commit stops below it). */
  abandon(s: Slot<T>): void {
    if (s.state !== "running") return;
    this.#stopRunning(s, "abandoned");
    this.held--;
  }

  /** Back to the front of the queue, its key still held, to be started again. */
  putBack(s: Slot<T>): void {
    if (s.state !== "running") return;
    this.#stopRunning(s, "queued");
    if (this.#readyHead > 0) this.#ready[--this.#readyHead] = s;
    else this.#ready.unshift(s);
    this.pool?.wake(this);
  }

  /** Forgets queued and parked messages; returns how many. They stay unfinished. */
  dropPending(): number {
    let n = 0;
    for (let i = this.#readyHead; i < this.#ready.length; i++) {
      (this.#ready[i] as Slot<T>).state = "dropped";
      n++;
    }
    this.#ready = [];
    this.#readyHead = 0;
    for (const q of this.#parked.values()) {
      for (const s of q) s.state = "dropped";
      n += q.length;
    }
    this.#parked.clear();
    this.held -= n;
    return n;
  }

  /** Lowest unfinished offset, or the next offset when all accepted are finished. */
  commitPosition(): number {
    return this.#first ? this.#first.offset : this.nextOffset;
  }

  #orderKey(s: Slot<T>): string | undefined {
    if (this.ordering === "none") return undefined;
    return this.ordering === "key" ? s.key : "";
  }

  #stopRunning(s: Slot<T>, state: SlotState): void {
    s.state = state;
    this.running--;
    const pool = s.pool;
    s.pool = undefined;
    if (pool) pool.running--;
  }

  #unlink(s: Slot<T>): void {
    if (s.prev) s.prev.next = s.next;
    else this.#first = s.next;
    if (s.next) s.next.prev = s.prev;
    else this.#last = s.prev;
    s.prev = undefined;
    s.next = undefined;
  }
}

export class Pool<T> {
  readonly concurrency: number;
  /** Slots in use: handlers running or waiting for a retry. */
  running = 0;
  readonly #supply: ((lane: Lane<T>) => void) | undefined;
  #queue: Lane<T>[] = [];
  #head = 0;

  constructor(concurrency: number, supply?: (lane: Lane<T>) => void) {
    this.concurrency = concurrency;
    this.#supply = supply;
  }

  attach(lane: Lane<T>): void {
    lane.pool = this;
    this.wake(lane);
  }

  detach(lane: Lane<T>): void {
    if (lane.pool === this) lane.pool = undefined;
  }

  /** Puts a lane in the round-robin queue (it may have something to start). */
  wake(lane: Lane<T>): void {
    if (lane.pool !== this || lane.queuedIn === this) return;
    lane.queuedIn = this;
    this.#queue.push(lane);
  }

  /** The next message to start, its slot taken; undefined when none or no slot is free. */
  next(): Slot<T> | undefined {
    while (this.running < this.concurrency && this.#head < this.#queue.length) {
      const lane = this.#queue[this.#head] as Lane<T>;
      this.#queue[this.#head] = undefined as unknown as Lane<T>;
      this.#head++;
      if (this.#head === this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      }
      if (lane.queuedIn === this) lane.queuedIn = undefined;
      if (lane.pool !== this) continue;
      if (!lane.hasStartable()) this.#supply?.(lane);
      const s = lane.take();
      if (!s) continue;
      s.pool = this;
      this.running++;
      if (this.#supply || lane.hasStartable()) this.wake(lane);
      return s;
    }
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
  /** Attempts made before (by another owner of the message); default 0. */
  attemptsBefore?: number;
  /** Injected for tests; default a timer. Resolves early when the signal aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Called after every attempt that did not settle the message (metrics). */
  onRetry?: (attempt: number, reason: string) => void;
}

export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

/**
 * The message as one attempt's handler sees it: its own copy of the headers
 * and its attempt number. `value` is read through, not copied: an in-process
 * bus makes the JSON text only when a handler asks for it (envelopeMessage).
 */
class Attempt implements IncomingMessage {
  topic: string;
  key: string;
  headers: Headers;
  partition: number;
  offset: string;
  deliveryAttempt: number;
  decoded: unknown;
  readonly #msg: IncomingMessage;
  constructor(msg: IncomingMessage, attempt: number) {
    this.topic = msg.topic;
    this.key = msg.key;
    this.headers = { ...msg.headers };
    this.partition = msg.partition;
    this.offset = msg.offset;
    this.deliveryAttempt = attempt;
    this.decoded = msg.decoded;
    this.#msg = msg;
  }
  get value(): string {
    return this.#msg.value;
  }
}

export async function settle(
  msg: IncomingMessage,
  handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
  opts: SettleOptions,
): Promise<Disposition> {
  const sleep = opts.sleep ?? abortableSleep;
  for (let attempt = (opts.attemptsBefore ?? 0) + 1; ; attempt++) {
    let outcome: unknown;
    try {
      outcome = await handler(new Attempt(msg, attempt));
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

/** Checks an ordering value from configuration; the error text names the allowed ones. */
export function orderingProblem(ordering: unknown): string | null {
  if (ordering === undefined || (ORDERINGS as readonly unknown[]).includes(ordering)) return null;
  return `ordering ${JSON.stringify(ordering)}: expected ${ORDERINGS.join(", ")}`;
}
