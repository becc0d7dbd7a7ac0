/**
 * MemoryBus: the in-process Bus of the embedded default (`danesweep scan`).
 * Same semantics as the Kafka adapters, checked by the same contract suite.
 *
 * Model: each topic has `partitions` logs; a message goes to the partition of
 * its key's hash (FNV-1a), so one key is always in one partition. Each
 * consumer group keeps its own cursor per partition; a message is retained
 * until every group that ever subscribed to the topic has acknowledged it (a
 * group that subscribes later starts at the oldest retained message).
 *
 * Contract:
 * - publish: resolves once every message is appended. A partition holds at
 *   most `queueCapacity` retained messages; publish waits (FIFO, order kept)
 *   until consumers free space: that is the backpressure. Dead-letter topics
 *   (`*.dlq`) are unbounded so dead-lettering never blocks a consumer; a topic
 *   nobody consumes blocks its publishers once full, by design.
 * - consume: handlers run with at most `concurrency` at once per subscription;
 *   within a partition, messages of one key run one at a time in offset
 *   order (a key whose message waits for a retry holds back later messages of
 *   that key and of the keys behind it in that partition). A message is
 *   acknowledged only after its handler resolved with `ack` or `dead-letter`.
 *   `retry` or a throw delivers it again after `delayMs` (default exponential
 *   backoff), with `deliveryAttempt` counting up; after `maxAttempts` it goes
 *   to `<topic>.dlq` as retries-exhausted. `dead-letter` outcomes go to
 *   `<topic>.dlq` with the reason headers (dead-letter.ts).
 * - Several subscriptions with the same group share the partitions
 *   (partition p belongs to member p mod n); closing one hands its partitions,
 *   and its messages waiting for a retry, to the others.
 * - Subscription.close waits for its in-flight handlers; Bus.close closes every
 *   subscription (after rejecting waiting publishers with BusError
 *   "bus-closed", so handlers blocked on a full topic can finish).
 *   Publish or consume after close rejects with "bus-closed".
 * - idle(): resolves when every group with a live member has handled every
 *   message published so far (handy for the embedded pipeline and tests).
 * Messages live in memory only: what is not consumed when the process ends is
 * lost (the embedded scan resumes from the store).
 */
import type {
  Bus,
  ConsumeOptions,
  DeadLetterReason,
  HandlerOutcome,
  Headers,
  IncomingMessage,
  OutgoingMessage,
  Subscription,
  TopicSpec,
} from "./bus.ts";
import { deadLetterTopic } from "./bus.ts";
import { deadLetterMessage } from "./dead-letter.ts";
import { BusError } from "./errors.ts";

export interface MemoryBusOptions {
  /** Partitions of a topic created implicitly (by publish or consume) (default 4). */
  partitions?: number;
  /** Retained messages per partition before publish waits (default 1024). */
  queueCapacity?: number;
  /** Retry backoff: baseMs * 2^(attempt-1), capped at maxMs (defaults 50 and 5000). */
  retryBackoff?: { baseMs?: number; maxMs?: number };
}

interface Entry {
  offset: number;
  key: string;
  value: string;
  headers: Headers;
}

interface Waiter {
  msg: OutgoingMessage;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** One partition's log: entries[head] has offset `base`. */
class Log {
  entries: (Entry | undefined)[] = [];
  head = 0;
  base = 0;
  nextOffset = 0;
  waiters: Waiter[] = [];

  retained(): number {
    return this.nextOffset - this.base;
  }
  get(offset: number): Entry | undefined {
    if (offset < this.base || offset >= this.nextOffset) return undefined;
    return this.entries[this.head + (offset - this.base)];
  }
  append(msg: OutgoingMessage): void {
    this.entries.push({
      offset: this.nextOffset,
      key: msg.key,
      value: msg.value,
      headers: { ...msg.headers },
    });
    this.nextOffset++;
  }
  trimTo(offset: number): void {
    while (this.base < offset && this.base < this.nextOffset) {
      this.entries[this.head] = undefined;
      this.head++;
      this.base++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/** A group's cursor in one partition. */
class Cursor {
  /** Every offset below is acknowledged. */
  committed: number;
  /** Next offset never delivered to this group. */
  next: number;
  done = new Set<number>();
  /** Keys with a message in flight or waiting for its retry. */
  busyKeys = new Set<string>();
  /** Offsets to deliver again, ascending, before `next`. */
  redeliver: number[] = [];
  attempts = new Map<number, number>();
  constructor(start: number) {
    this.committed = start;
    this.next = start;
  }
  caughtUp(log: Log): boolean {
    return this.committed >= log.nextOffset && this.busyKeys.size === 0;
  }
}

interface PendingRetry {
  timer: NodeJS.Timeout;
  partition: number;
  offset: number;
  key: string;
}

class Member {
  readonly group: Group;
  readonly handler: (msg: IncomingMessage) => Promise<HandlerOutcome>;
  readonly concurrency: number;
  readonly maxAttempts: number;
  inflight = 0;
  closing = false;
  rr = 0;
  retries = new Set<PendingRetry>();
  drained: (() => void)[] = [];
  constructor(
    group: Group,
    handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
    concurrency: number,
    maxAttempts: number,
  ) {
    this.group = group;
    this.handler = handler;
    this.concurrency = concurrency;
    this.maxAttempts = maxAttempts;
  }
}

class Group {
  readonly name: string;
  readonly topic: Topic;
  readonly cursors: Cursor[];
  members: Member[] = [];
  constructor(name: string, topic: Topic) {
    this.name = name;
    this.topic = topic;
    this.cursors = topic.logs.map((l) => new Cursor(l.base));
  }
}

class Topic {
  readonly name: string;
  readonly logs: Log[];
  readonly capacity: number;
  readonly groups = new Map<string, Group>();
  constructor(name: string, partitions: number, capacity: number) {
    this.name = name;
    this.logs = Array.from({ length: partitions }, () => new Log());
    this.capacity = capacity;
  }
}

/** FNV-1a over the UTF-16 code units of the key. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function errorReason(e: unknown): string {
  if (e && typeof e === "object") {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const name = (e as { name?: unknown }).name;
    if (typeof name === "string") return name;
  }
  return "thrown";
}

export class MemoryBus implements Bus {
  readonly #partitions: number;
  readonly #capacity: number;
  readonly #backoffBase: number;
  readonly #backoffMax: number;
  readonly #topics = new Map<string, Topic>();
  #closed = false;
  #idleWaiters: (() => void)[] = [];

  constructor(opts: MemoryBusOptions = {}) {
    this.#partitions = Math.max(1, Math.floor(opts.partitions ?? 4));
    this.#capacity = Math.max(1, Math.floor(opts.queueCapacity ?? 1024));
    this.#backoffBase = Math.max(0, opts.retryBackoff?.baseMs ?? 50);
    this.#backoffMax = Math.max(this.#backoffBase, opts.retryBackoff?.maxMs ?? 5000);
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    if (this.#closed) throw new BusError("bus-closed", "ensureTopics after close");
    for (const t of topics) {
      if (!t.name || !Number.isInteger(t.partitions) || t.partitions < 1) {
        throw new BusError("invalid-options", `topic ${JSON.stringify(t.name)} partitions ${t.partitions}`);
      }
      this.#topic(t.name, t.partitions);
      this.#topic(deadLetterTopic(t.name), t.partitions);
    }
  }

  /** Partition count of a topic, or undefined when it does not exist. */
  partitionsOf(topic: string): number | undefined {
    return this.#topics.get(topic)?.logs.length;
  }

  async publish(messages: OutgoingMessage[]): Promise<void> {
    for (const m of messages) {
      if (this.#closed) throw new BusError("bus-closed", "publish after close");
      if (!m.topic) throw new BusError("invalid-options", "empty topic");
      const topic = this.#topic(m.topic);
      const p = keyHash(m.key) % topic.logs.length;
      const log = topic.logs[p] as Log;
      if (log.waiters.length === 0 && log.retained() < topic.capacity) {
        log.append(m);
      } else {
        await new Promise<void>((resolve, reject) => log.waiters.push({ msg: m, resolve, reject }));
      }
      this.#pumpTopic(topic);
    }
  }

  async consume(
    opts: ConsumeOptions,
    handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
  ): Promise<Subscription> {
    if (this.#closed) throw new BusError("bus-closed", "consume after close");
    const concurrency = opts.concurrency ?? 1;
    const maxAttempts = opts.maxAttempts ?? 5;
    if (!opts.topic || !opts.group || !(concurrency >= 1) || !(maxAttempts >= 1)) {
      throw new BusError(
        "invalid-options",
        `topic ${opts.topic} group ${opts.group} concurrency ${concurrency}`,
      );
    }
    const topic = this.#topic(opts.topic);
    let group = topic.groups.get(opts.group);
    if (!group) {
      group = new Group(opts.group, topic);
      topic.groups.set(opts.group, group);
    }
    const member = new Member(group, handler, Math.floor(concurrency), Math.floor(maxAttempts));
    group.members.push(member);
    this.#pump(group);
    let closing: Promise<void> | undefined;
    return {
      close: () => {
        closing ??= this.#closeMember(member);
        return closing;
      },
    };
  }

  /** Resolves when every group with a live member has handled every message published so far. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Waiting publishers are rejected first: an in-flight handler blocked on a
    // full topic must finish (unacknowledged) for its subscription to close.
    for (const t of this.#topics.values()) {
      for (const log of t.logs) {
        for (const w of log.waiters.splice(0))
          w.reject(new BusError("bus-closed", "bus closed while publish waited"));
      }
    }
    const members: Member[] = [];
    for (const t of this.#topics.values()) for (const g of t.groups.values()) members.push(...g.members);
    await Promise.all(members.map((m) => this.#closeMember(m)));
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  // ---------------------------------------------------------------- internals

  #topic(name: string, partitions = this.#partitions): Topic {
    let t = this.#topics.get(name);
    if (!t) {
      t = new Topic(name, partitions, name.endsWith(".dlq") ? Number.POSITIVE_INFINITY : this.#capacity);
      this.#topics.set(name, t);
    }
    return t;
  }

  #pumpTopic(topic: Topic): void {
    for (const g of topic.groups.values()) this.#pump(g);
  }

  /** Starts as many handlers as the members' concurrency and the per-key order allow. */
  #pump(group: Group): void {
    const active = group.members.filter((m) => !m.closing);
    const n = active.length;
    if (n === 0) return;
    const parts = group.cursors.length;
    active.forEach((member, idx) => {
      const owned: number[] = [];
      for (let p = idx; p < parts; p += n) owned.push(p);
      if (owned.length === 0) return;
      let idleRounds = 0;
      while (member.inflight < member.concurrency && idleRounds < owned.length) {
        const p = owned[member.rr % owned.length] as number;
        member.rr++;
        const entry = this.#take(group, p);
        if (!entry) {
          idleRounds++;
          continue;
        }
        idleRounds = 0;
        this.#start(member, p, entry);
      }
    });
  }

  /** The next message of partition p this group may start, marking its key busy. */
  #take(group: Group, p: number): Entry | undefined {
    const cur = group.cursors[p] as Cursor;
    const log = group.topic.logs[p] as Log;
    for (let i = 0; i < cur.redeliver.length; i++) {
      const off = cur.redeliver[i] as number;
      const e = log.get(off);
      if (!e) {
        cur.redeliver.splice(i, 1);
        i--;
        continue;
      }
      if (cur.busyKeys.has(e.key)) continue;
      cur.redeliver.splice(i, 1);
      cur.busyKeys.add(e.key);
      return e;
    }
    if (cur.next < log.base) cur.next = log.base;
    const e = log.get(cur.next);
    if (!e || cur.busyKeys.has(e.key)) return undefined;
    cur.next++;
    cur.busyKeys.add(e.key);
    return e;
  }

  #start(member: Member, p: number, entry: Entry): void {
    const group = member.group;
    const cur = group.cursors[p] as Cursor;
    const attempt = (cur.attempts.get(entry.offset) ?? 0) + 1;
    cur.attempts.set(entry.offset, attempt);
    member.inflight++;
    const msg: IncomingMessage = {
      topic: group.topic.name,
      key: entry.key,
      value: entry.value,
      headers: { ...entry.headers },
      partition: p,
      offset: String(entry.offset),
      deliveryAttempt: attempt,
    };
    Promise.resolve()
      .then(() => member.handler(msg))
      .then(
        (outcome) => outcome,
        (e: unknown): HandlerOutcome => ({ kind: "retry", reason: errorReason(e) }),
      )
      .then((outcome) => this.#finish(member, p, entry, msg, attempt, outcome));
  }

  #finish(
    member: Member,
    p: number,
    entry: Entry,
    msg: IncomingMessage,
    attempt: number,
    outcome: HandlerOutcome,
  ) {
    const group = member.group;
    const cur = group.cursors[p] as Cursor;
    member.inflight--;
    const kind = outcome && typeof outcome === "object" ? outcome.kind : undefined;
    if (kind === "ack") {
      this.#complete(group, p, entry);
    } else if (kind === "dead-letter") {
      const o = outcome as Extract<HandlerOutcome, { kind: "dead-letter" }>;
      this.#deadLetter(group, msg, o.reason, o.detail, attempt);
      this.#complete(group, p, entry);
    } else {
      const reason =
        kind === "retry" ? (outcome as { reason: string }).reason : `bad outcome ${String(kind)}`;
      if (attempt >= member.maxAttempts) {
        this.#deadLetter(group, msg, "retries-exhausted", `after ${attempt} attempts: ${reason}`, attempt);
        this.#complete(group, p, entry);
      } else if (member.closing) {
        this.#release(cur, entry);
      } else {
        const asked = kind === "retry" ? (outcome as { delayMs?: number }).delayMs : undefined;
        const delay =
          asked !== undefined && asked >= 0
            ? asked
            : Math.min(this.#backoffMax, this.#backoffBase * 2 ** (attempt - 1));
        const pending: PendingRetry = {
          partition: p,
          offset: entry.offset,
          key: entry.key,
          timer: setTimeout(() => {
            member.retries.delete(pending);
            this.#release(cur, entry);
            this.#pump(group);
          }, delay),
        };
        member.retries.add(pending);
      }
    }
    if (member.inflight === 0 && member.closing) for (const d of member.drained.splice(0)) d();
    this.#pump(group);
    this.#checkIdle();
  }

  /** Puts an unacknowledged message back for redelivery, freeing its key. */
  #release(cur: Cursor, entry: { offset: number; key: string }): void {
    cur.busyKeys.delete(entry.key);
    const i = cur.redeliver.findIndex((o) => o > entry.offset);
    if (i < 0) cur.redeliver.push(entry.offset);
    else cur.redeliver.splice(i, 0, entry.offset);
  }

  #deadLetter(
    group: Group,
    msg: IncomingMessage,
    reason: DeadLetterReason,
    detail: string,
    attempts: number,
  ): void {
    const dl = deadLetterMessage(msg, reason, detail, { group: group.name, attempts });
    const topic = this.#topic(dl.topic, group.topic.logs.length);
    const log = topic.logs[keyHash(dl.key) % topic.logs.length] as Log;
    log.append(dl);
    this.#pumpTopic(topic);
  }

  #complete(group: Group, p: number, entry: Entry): void {
    const cur = group.cursors[p] as Cursor;
    cur.busyKeys.delete(entry.key);
    cur.attempts.delete(entry.offset);
    cur.done.add(entry.offset);
    while (cur.done.has(cur.committed)) {
      cur.done.delete(cur.committed);
      cur.committed++;
    }
    this.#trim(group.topic, p);
  }

  /** Drops messages every group acknowledged, then admits waiting publishers. */
  #trim(topic: Topic, p: number): void {
    const log = topic.logs[p] as Log;
    let min = log.nextOffset;
    for (const g of topic.groups.values()) min = Math.min(min, (g.cursors[p] as Cursor).committed);
    log.trimTo(min);
    let admitted = false;
    while (log.waiters.length > 0 && log.retained() < topic.capacity) {
      const w = log.waiters.shift() as Waiter;
      log.append(w.msg);
      w.resolve();
      admitted = true;
    }
    if (admitted) this.#pumpTopic(topic);
  }

  async #closeMember(member: Member): Promise<void> {
    if (member.closing) {
      if (member.inflight === 0) return;
      return new Promise((resolve) => member.drained.push(resolve));
    }
    member.closing = true;
    const group = member.group;
    group.members = group.members.filter((m) => m !== member);
    for (const r of member.retries) {
      clearTimeout(r.timer);
      this.#release(group.cursors[r.partition] as Cursor, r);
    }
    member.retries.clear();
    if (member.inflight > 0) await new Promise<void>((resolve) => member.drained.push(resolve));
    this.#pump(group);
    this.#checkIdle();
  }

  #isIdle(): boolean {
    for (const t of this.#topics.values()) {
      for (const g of t.groups.values()) {
        if (g.members.length === 0) continue;
        for (let p = 0; p < t.logs.length; p++) {
          if (!(g.cursors[p] as Cursor).caughtUp(t.logs[p] as Log)) return false;
        }
      }
    }
    return true;
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }
}
