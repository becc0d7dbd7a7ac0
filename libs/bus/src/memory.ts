/**
 * MemoryBus: the in-process Bus of the embedded default (`danesweep scan`).
 * Same semantics as the Kafka adapters, checked by the same contract suite.
 *
 * Model: each topic has `partitions` logs; a message goes to the partition of
 * its key's hash (FNV-1a), so one key is always in one partition. Each
 * consumer group keeps, per partition, a cursor (the next message it has not
 * taken yet) and a Lane (dispatch.ts: the messages it took and has not
 * finished). A message leaves the log once every group that ever subscribed
 * to the topic has taken it (a group that subscribes later starts at the
 * oldest message still in the log).
 *
 * Contract:
 * - publish: resolves once every message is appended. A partition's log (its
 *   backlog: messages some group has not taken yet) holds at most
 *   `queueCapacity` messages; publish waits (FIFO, order kept) until consumers
 *   take some: that is the backpressure. Messages taken and still in flight
 *   do not count, so a consumer holding thousands of messages unfinished never
 *   blocks publishers. Dead-letter topics (`*.dlq`) are unbounded so
 *   dead-lettering never blocks a consumer; a topic nobody consumes blocks its
 *   publishers once full, by design.
 * - consume: a group takes a message from the log only when one of its
 *   members has a free slot for it, or to park it behind a running message of
 *   its key (at most 2 x concurrency per partition held that way). Memory is
 *   thus bounded by the backlog capacity plus the consumers' concurrency.
 *   `concurrency` counts messages running or waiting for a retry, across the
 *   member's partitions; `ordering` ("key" by default, "none", "partition")
 *   is as in bus.ts and is the group's: a second member asking for another
 *   ordering is refused (invalid-options). A message is finished when its
 *   handler resolved with `ack` or `dead-letter`; `retry` or a throw runs it
 *   again after `delayMs` (default exponential backoff) holding its slot, with
 *   `deliveryAttempt` counting up; after `maxAttempts` it goes to `<topic>.dlq`
 *   as retries-exhausted. `dead-letter` outcomes go to `<topic>.dlq` with the
 *   reason headers (dead-letter.ts).
 * - Several subscriptions with the same group share the partitions
 *   (partition p belongs to member p mod n). Closing one hands its partitions
 *   to the others at once; its messages waiting for a retry go back to their
 *   partition (attempts kept) for the new owner, and later messages of a key
 *   still running there wait for it, so per-key order holds across owners.
 * - Subscription.close waits for its running handlers; Bus.close closes every
 *   subscription (after rejecting waiting publishers with BusError
 *   "bus-closed", so handlers blocked on a full topic can finish).
 *   Publish or consume after close rejects with "bus-closed".
 * - idle(): resolves when every group with a live member has handled every
 *   message published so far (handy for the embedded pipeline and tests).
 * Messages live in memory only: what is not consumed when the process ends is
 * lost (the embedded scan resumes from the store). A message's `decoded`
 * object (the producer's envelope) goes to its consumers with it, so that
 * they skip parsing what this process made.
 */
import type {
  Bus,
  ConsumeOptions,
  DeadLetterReason,
  HandlerOutcome,
  Headers,
  IncomingMessage,
  Ordering,
  OutgoingMessage,
  Subscription,
  TopicSpec,
} from "./bus.ts";
import { deadLetterTopic } from "./bus.ts";
import { deadLetterMessage } from "./dead-letter.ts";
import { type Disposition, Lane, orderingProblem, Pool, type Slot, settle } from "./dispatch.ts";
import { BusError } from "./errors.ts";

export interface MemoryBusOptions {
  /** Partitions of a topic created implicitly (by publish or consume) (default 4). */
  partitions?: number;
  /** Backlog per partition (messages not yet taken by every group) before publish waits (default 1024). */
  queueCapacity?: number;
  /** Retry backoff: baseMs * 2^(attempt-1), capped at maxMs (defaults 50 and 5000). */
  retryBackoff?: { baseMs?: number; maxMs?: number };
}

/**
 * A message in a partition's log, with its own copy of the headers. A message
 * carrying `decoded` (the producer's envelope) keeps the producer's message
 * and reads its value from it when a consumer asks (envelopeMessage makes the
 * JSON text lazily; consumers in this process mostly take `decoded` instead);
 * any other message's value is taken at once.
 */
class Entry {
  offset: number;
  key: string;
  headers: Headers;
  decoded: unknown;
  readonly #value: string | undefined;
  readonly #msg: OutgoingMessage | undefined;
  constructor(offset: number, msg: OutgoingMessage) {
    this.offset = offset;
    this.key = msg.key;
    this.headers = { ...msg.headers };
    this.decoded = msg.decoded;
    if (msg.decoded === undefined) this.#value = msg.value;
    else this.#msg = msg;
  }
  get value(): string {
    return this.#msg ? this.#msg.value : (this.#value as string);
  }
}

/** A message as a consumer's handler gets it; `value` read through from its log entry. */
class Delivered implements IncomingMessage {
  topic: string;
  key: string;
  headers: Headers;
  partition: number;
  offset: string;
  decoded: unknown;
  readonly #entry: Entry;
  constructor(topic: string, partition: number, e: Entry) {
    this.topic = topic;
    this.key = e.key;
    this.headers = e.headers;
    this.partition = partition;
    this.offset = String(e.offset);
    this.decoded = e.decoded;
    this.#entry = e;
  }
  get value(): string {
    return this.#entry.value;
  }
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

  /** Messages some group has not taken yet. */
  backlog(): number {
    return this.nextOffset - this.base;
  }
  get(offset: number): Entry | undefined {
    if (offset < this.base || offset >= this.nextOffset) return undefined;
    return this.entries[this.head + (offset - this.base)];
  }
  append(msg: OutgoingMessage): void {
    this.entries.push(new Entry(this.nextOffset, msg));
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

class Member {
  readonly group: Group;
  readonly handler: (msg: IncomingMessage) => Promise<HandlerOutcome>;
  readonly pool: Pool<Entry>;
  readonly maxAttempts: number;
  /** Aborted on close: retry waits end and their messages go back to their partition. */
  readonly abort = new AbortController();
  closing = false;
  drained: (() => void)[] = [];
  constructor(
    group: Group,
    handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
    pool: Pool<Entry>,
    maxAttempts: number,
  ) {
    this.group = group;
    this.handler = handler;
    this.pool = pool;
    this.maxAttempts = maxAttempts;
  }
}

class Group {
  readonly name: string;
  readonly topic: Topic;
  readonly ordering: Ordering;
  /** Per partition: the next offset this group has not taken from the log. */
  readonly cursors: number[];
  readonly lanes: Lane<Entry>[];
  members: Member[] = [];
  constructor(name: string, topic: Topic, ordering: Ordering) {
    this.name = name;
    this.topic = topic;
    this.ordering = ordering;
    this.cursors = topic.logs.map((l) => l.base);
    this.lanes = topic.logs.map((l, p) => new Lane<Entry>(p, ordering, l.base));
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
    if (this.#closed) throw new BusError("bus-closed", "publish after close");
    for (const m of messages) {
      if (!m.topic) throw new BusError("invalid-options", "empty topic");
    }
    for (const m of messages) {
      if (this.#closed) throw new BusError("bus-closed", "publish after close");
      const topic = this.#topic(m.topic);
      const p = keyHash(m.key) % topic.logs.length;
      const log = topic.logs[p] as Log;
      if (log.waiters.length === 0 && log.backlog() < topic.capacity) {
        log.append(m);
        this.#arrived(topic, p);
      } else {
        await new Promise<void>((resolve, reject) => log.waiters.push({ msg: m, resolve, reject }));
      }
    }
  }

  async consume(
    opts: ConsumeOptions,
    handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
  ): Promise<Subscription> {
    if (this.#closed) throw new BusError("bus-closed", "consume after close");
    const concurrency = opts.concurrency ?? 1;
    const maxAttempts = opts.maxAttempts ?? 5;
    const ordering = opts.ordering ?? "key";
    if (!opts.topic || !opts.group || !Number.isInteger(concurrency) || concurrency < 1) {
      throw new BusError(
        "invalid-options",
        `topic ${JSON.stringify(opts.topic)} group ${JSON.stringify(opts.group)} concurrency ${concurrency}`,
      );
    }
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new BusError("invalid-options", `maxAttempts ${maxAttempts}`);
    }
    const bad = orderingProblem(opts.ordering);
    if (bad) throw new BusError("invalid-options", bad);
    const topic = this.#topic(opts.topic);
    let group = topic.groups.get(opts.group);
    if (!group) {
      group = new Group(opts.group, topic, ordering);
      topic.groups.set(opts.group, group);
    } else if (group.ordering !== ordering) {
      throw new BusError(
        "invalid-options",
        `group ${opts.group} consumes ${opts.topic} with ordering "${group.ordering}", not "${ordering}"`,
      );
    }
    const g = group;
    const pool = new Pool<Entry>(concurrency, (lane) => this.#supply(g, lane, 2 * concurrency));
    const member = new Member(g, handler, pool, maxAttempts);
    g.members.push(member);
    this.#rebalance(g);
    this.#pumpGroup(g);
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

  /** A message was appended to partition p: wake that partition's lane in every group. */
  #arrived(topic: Topic, p: number): void {
    for (const g of topic.groups.values()) {
      const lane = g.lanes[p] as Lane<Entry>;
      lane.pool?.wake(lane);
      this.#pumpGroup(g);
    }
  }

  /**
   * Pool supply: when a lane has nothing startable, takes messages from the
   * log into it, until one is startable or the lane holds `cap` (the rest of
   * a busy key's messages wait in the log, counted in its backlog).
   */
  #supply(group: Group, lane: Lane<Entry>, cap: number): void {
    const p = lane.partition;
    const log = group.topic.logs[p] as Log;
    let took = false;
    while (!lane.hasStartable() && lane.held < cap) {
      const cursor = group.cursors[p] as number;
      const e = log.get(cursor);
      if (!e) break;
      group.cursors[p] = cursor + 1;
      lane.accept(e.offset, e.key, e);
      took = true;
    }
    if (took) this.#trim(group.topic, p);
  }

  /** Drops messages every group has taken, then admits waiting publishers. */
  #trim(topic: Topic, p: number): void {
    const log = topic.logs[p] as Log;
    let min = log.nextOffset;
    for (const g of topic.groups.values()) min = Math.min(min, g.cursors[p] as number);
    log.trimTo(min);
    let admitted = false;
    while (log.waiters.length > 0 && log.backlog() < topic.capacity) {
      const w = log.waiters.shift() as Waiter;
      log.append(w.msg);
      w.resolve();
      admitted = true;
    }
    if (admitted) {
      // Not from inside the supply that called us: wake the lanes once it returned.
      queueMicrotask(() => this.#arrived(topic, p));
    }
  }

  /** Partition p of a group belongs to its live member p mod n. */
  #rebalance(group: Group): void {
    const active = group.members.filter((m) => !m.closing);
    for (const lane of group.lanes) {
      const owner = active.length > 0 ? active[lane.partition % active.length] : undefined;
      if (lane.pool === owner?.pool) continue;
      lane.pool?.detach(lane);
      owner?.pool.attach(lane);
    }
  }

  /** Starts as many handlers as the members' free slots and the ordering allow. */
  #pumpGroup(group: Group): void {
    for (const member of group.members) {
      if (member.closing) continue;
      for (let s = member.pool.next(); s; s = member.pool.next()) this.#start(member, s);
    }
  }

  #start(member: Member, s: Slot<Entry>): void {
    const group = member.group;
    const msg = new Delivered(group.topic.name, s.lane.partition, s.item);
    // Started from a microtask: a handler that publishes synchronously must
    // not start further handlers from inside this one (unbounded recursion).
    Promise.resolve()
      .then(() =>
        settle(msg, member.handler, {
          maxAttempts: member.maxAttempts,
          backoffBaseMs: this.#backoffBase,
          backoffMaxMs: this.#backoffMax,
          signal: member.abort.signal,
          attemptsBefore: s.attempts,
        }),
      )
      .then((d) => this.#finish(member, s, msg, d));
  }

  #finish(member: Member, s: Slot<Entry>, msg: IncomingMessage, d: Disposition): void {
    const group = member.group;
    s.attempts = d.attempts;
    if (d.kind === "abandoned") {
      s.lane.putBack(s);
    } else {
      if (d.kind === "dead-letter") this.#deadLetter(group, msg, d.reason, d.detail, d.attempts);
      s.lane.finish(s);
    }
    if (member.closing && member.pool.running === 0) for (const w of member.drained.splice(0)) w();
    this.#pumpGroup(group);
    this.#checkIdle();
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
    const p = keyHash(dl.key) % topic.logs.length;
    (topic.logs[p] as Log).append(dl);
    this.#arrived(topic, p);
  }

  async #closeMember(member: Member): Promise<void> {
    if (!member.closing) {
      member.closing = true;
      const group = member.group;
      group.members = group.members.filter((m) => m !== member);
      this.#rebalance(group);
      member.abort.abort();
      this.#pumpGroup(group);
    }
    if (member.pool.running > 0) await new Promise<void>((resolve) => member.drained.push(resolve));
    this.#checkIdle();
  }

  #isIdle(): boolean {
    for (const t of this.#topics.values()) {
      for (const g of t.groups.values()) {
        if (g.members.length === 0) continue;
        for (let p = 0; p < t.logs.length; p++) {
          if ((g.cursors[p] as number) < (t.logs[p] as Log).nextOffset) return false;
          if ((g.lanes[p] as Lane<Entry>).held > 0) return false;
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
