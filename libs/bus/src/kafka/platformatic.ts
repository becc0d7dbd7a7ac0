/**
 * PlatformaticKafkaBus: the Bus on Apache Kafka through @platformatic/kafka
 * (the default Kafka client). Semantics are those of bus.ts; how they are kept:
 *
 * - publish(messages): one produce with acks=all; resolves when the broker
 *   acknowledged every message, rejects with KafkaBusError "publish-failed"
 *   (the client's error as cause) otherwise. Keys are placed with the Java
 *   client's murmur2 partitioner, so a key lands on the same partition as with
 *   kafkajs or a Java producer.
 * - ensureTopics(specs): creates each topic and its `.dlq` twin (same
 *   partitions) when missing, then waits until every partition has a leader.
 *   Rejects with "topic-setup-failed".
 * - consume(opts, handler): one Consumer (classic group protocol) per
 *   subscription, starting at the group's committed offsets (earliest for a new
 *   group). Messages are queued per partition and handled one at a time per
 *   partition (so per key), at most `concurrency` handlers at once across
 *   partitions. The offset after a message is committed only once its handler
 *   acked, or its dead letter was accepted by the broker; a retry outcome or a
 *   throw runs the handler again in place after the backoff, up to maxAttempts.
 *   Records that are not UTF-8 or lack a key or value go to the `.dlq` as
 *   decode-failed with their original bytes. If the message stream fails
 *   (broker gone, rebalance), it is recreated; offsets already handled and not
 *   yet committed are not handled again by this subscription. Rejects with
 *   "consumer-start-failed" when the group cannot be joined.
 * - Subscription.close(): stops taking new messages, lets running handlers
 *   finish (a message waiting for a retry is left uncommitted), commits, leaves
 *   the group. Bus.close() closes every subscription, then the clients.
 * - metrics(): counters per topic/partition joined with the broker's committed
 *   offsets and high watermarks (lag = high watermark - committed).
 */
import {
  Admin,
  Consumer,
  compatibilityPartitioner,
  type Message,
  type MessagesStream,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
} from "@platformatic/kafka";
import type {
  Bus,
  ConsumeOptions,
  HandlerOutcome,
  IncomingMessage,
  OutgoingMessage,
  Subscription,
  TopicSpec,
} from "../bus.ts";
import { deadLetterTopic } from "../bus.ts";
import { BusError } from "../errors.ts";
import {
  abortableSleep,
  Counters,
  type DeadLetterRecord,
  deadLetterRecord,
  decodeRecord,
  KafkaBusError,
  type KafkaBusMetrics,
  type KafkaBusOptions,
  openSubscription,
  partitionMetrics,
  type RawRecord,
  type Resolved,
  resolveOptions,
  Semaphore,
  type SubscriptionMetrics,
  settle,
} from "./core.ts";

type RawMessage = Message<Buffer, Buffer, Buffer, Buffer>;

export interface PlatformaticKafkaBusOptions extends KafkaBusOptions {
  /** Messages a subscription holds in memory ahead of its handlers (default max(64, 16 * concurrency)). */
  maxBuffered?: number;
}

export class PlatformaticKafkaBus implements Bus {
  readonly #o: Resolved;
  readonly #brokers: string[];
  readonly #maxBuffered: number | undefined;
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  #admin: Admin | undefined;
  readonly #subs = new Set<PlatformaticSubscription>();
  readonly #produced = new Map<string, number>();
  #closed = false;

  constructor(opts: PlatformaticKafkaBusOptions) {
    if (!Array.isArray(opts.brokers) || opts.brokers.length === 0) {
      throw new BusError("invalid-options", "brokers must list at least one host:port");
    }
    this.#o = resolveOptions(opts);
    this.#brokers = [...opts.brokers];
    this.#maxBuffered = opts.maxBuffered;
    this.#producer = new Producer({
      clientId: `${this.#o.clientId}-producer`,
      bootstrapBrokers: this.#brokers,
      acks: ProduceAcks.ALL,
      partitioner: compatibilityPartitioner,
      autocreateTopics: false,
      retries: 5,
      retryDelay: 200,
    });
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    if (this.#closed) throw new BusError("bus-closed", "ensureTopics after close");
    const wanted = new Map<string, { partitions: number; replicas: number }>();
    for (const t of topics) {
      if (!t.name || !Number.isInteger(t.partitions) || t.partitions < 1) {
        throw new BusError("invalid-options", `topic ${JSON.stringify(t.name)} partitions ${t.partitions}`);
      }
      const replicas = t.replication ?? this.#o.replication;
      wanted.set(t.name, { partitions: t.partitions, replicas });
      wanted.set(deadLetterTopic(t.name), { partitions: t.partitions, replicas });
    }
    if (wanted.size === 0) return;
    const admin = this.#adminClient();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = [...wanted].filter(([name]) => !existing.has(name));
      for (const [name, spec] of missing) {
        try {
          await admin.createTopics({ topics: [name], partitions: spec.partitions, replicas: spec.replicas });
        } catch (e) {
          // Another process may have created it between listTopics and here.
          if (!hasApiId(e, "TOPIC_ALREADY_EXISTS")) throw e;
        }
      }
      await this.#waitForLeaders(admin, [...wanted.keys()]);
    } catch (e) {
      throw new KafkaBusError("topic-setup-failed", [...wanted.keys()].join(", "), e);
    }
  }

  async #waitForLeaders(admin: Admin, names: string[]): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const md = await admin.metadata({ topics: names, forceUpdate: true });
        const ready = names.every((n) => {
          const t = md.topics.get(n);
          return t !== undefined && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0);
        });
        if (ready) return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
      if (Date.now() > deadline) throw new Error("partitions without a leader after 30 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async publish(messages: OutgoingMessage[]): Promise<void> {
    if (this.#closed) throw new BusError("bus-closed", "publish after close");
    if (messages.length === 0) return;
    for (const m of messages) {
      if (!m.topic) throw new BusError("invalid-options", "empty topic");
    }
    await this.sendRecords(
      messages.map((m) => ({
        topic: m.topic,
        key: Buffer.from(m.key, "utf8"),
        value: Buffer.from(m.value, "utf8"),
        headers: m.headers ?? {},
      })),
    );
  }

  /** Produce raw records (used by publish and by dead-lettering). */
  async sendRecords(records: DeadLetterRecord[]): Promise<void> {
    try {
      await this.#producer.send({
        messages: records.map((r) => ({
          topic: r.topic,
          ...(r.key === null ? {} : { key: r.key }),
          ...(r.value === null ? {} : { value: r.value }),
          headers: new Map(Object.entries(r.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
        })),
      });
    } catch (e) {
      throw new KafkaBusError("publish-failed", `${records.length} message(s) to ${records[0]?.topic}`, e);
    }
    for (const r of records) this.#produced.set(r.topic, (this.#produced.get(r.topic) ?? 0) + 1);
  }

  async consume(
    opts: ConsumeOptions,
    handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
  ): Promise<Subscription> {
    return openSubscription(
      this.#subs,
      this.#closed,
      opts,
      ({ concurrency, maxAttempts }) =>
        new PlatformaticSubscription(this, this.#o, this.#brokers, {
          topic: opts.topic,
          group: opts.group,
          concurrency,
          maxAttempts,
          maxBuffered: this.#maxBuffered ?? Math.max(64, 16 * concurrency),
          handler,
        }),
    );
  }

  async metrics(): Promise<KafkaBusMetrics> {
    const subscriptions = await Promise.all([...this.#subs].map((s) => s.metrics()));
    return { client: "platformatic", produced: Object.fromEntries(this.#produced), subscriptions };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.close()));
    this.#subs.clear();
    await this.#producer.close().catch((e) => this.#o.onError({ where: "close", error: e }));
    await this.#admin?.close().catch((e) => this.#o.onError({ where: "close", error: e }));
  }

  #adminClient(): Admin {
    this.#admin ??= new Admin({
      clientId: `${this.#o.clientId}-admin`,
      bootstrapBrokers: this.#brokers,
      retries: 5,
      retryDelay: 200,
    });
    return this.#admin;
  }
}

function hasApiId(e: unknown, id: string): boolean {
  const seen = new Set<unknown>();
  const walk = (x: unknown): boolean => {
    if (!x || typeof x !== "object" || seen.has(x)) return false;
    seen.add(x);
    const o = x as { apiId?: unknown; errors?: unknown; cause?: unknown };
    if (o.apiId === id) return true;
    if (Array.isArray(o.errors) && o.errors.some(walk)) return true;
    return walk(o.cause);
  };
  return walk(e);
}

interface SubSpec {
  topic: string;
  group: string;
  concurrency: number;
  maxAttempts: number;
  maxBuffered: number;
  handler: (msg: IncomingMessage) => Promise<HandlerOutcome>;
}

interface Lane {
  queue: RawMessage[];
  running: boolean;
  /** Offsets below this were already queued (or handled) by this subscription. */
  nextEnqueue: bigint | undefined;
}

class PlatformaticSubscription {
  readonly #bus: PlatformaticKafkaBus;
  readonly #o: Resolved;
  readonly #spec: SubSpec;
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #lanes = new Map<number, Lane>();
  readonly #sem: Semaphore;
  readonly #abort = new AbortController();
  readonly #counters = new Counters();
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  #loop: Promise<void> | undefined;
  #buffered = 0;
  #spaceWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #closing = false;
  // Commits: one request in flight; offsets handled meanwhile are merged into the next.
  readonly #toCommit = new Map<number, { offset: bigint; leaderEpoch: number }>();
  #committing: Promise<void> | undefined;
  #assigned = new Set<number>();

  constructor(bus: PlatformaticKafkaBus, o: Resolved, brokers: string[], spec: SubSpec) {
    this.#bus = bus;
    this.#o = o;
    this.#spec = spec;
    this.#sem = new Semaphore(spec.concurrency);
    this.#consumer = new Consumer({
      clientId: `${o.clientId}-consumer`,
      bootstrapBrokers: brokers,
      groupId: spec.group,
      autocommit: false,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      rebalanceTimeout: Math.max(o.sessionTimeoutMs, 60_000),
      maxWaitTime: o.maxWaitTimeMs,
      highWaterMark: Math.min(spec.maxBuffered, 1024),
      retries: 5,
      retryDelay: 250,
    });
    this.#consumer.on("consumer:group:join", (payload) => {
      this.#counters.joins++;
      if (!payload.assignments) return;
      const mine = payload.assignments.find((a) => a.topic === spec.topic)?.partitions ?? [];
      this.#assigned = new Set(mine);
      this.#dropRevoked();
    });
  }

  async start(): Promise<void> {
    this.#stream = await this.#openStream();
    this.#loop = this.#run();
  }

  #openStream(): Promise<MessagesStream<Buffer, Buffer, Buffer, Buffer>> {
    return this.#consumer.consume({
      topics: [this.#spec.topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
    });
  }

  async #run(): Promise<void> {
    while (!this.#closing) {
      const stream = this.#stream;
      try {
        if (!stream) throw new Error("no stream");
        for await (const m of stream as AsyncIterable<RawMessage>) {
          if (this.#closing) continue;
          this.#enqueue(m);
          while (this.#buffered >= this.#spec.maxBuffered && !this.#closing) {
            await new Promise<void>((r) => this.#spaceWaiters.push(r));
          }
        }
        if (this.#closing) return;
        throw new Error("message stream ended");
      } catch (e) {
        if (this.#closing) return;
        this.#counters.restarts++;
        this.#o.onError({ where: "consume", topic: this.#spec.topic, group: this.#spec.group, error: e });
        await abortableSleep(1000, this.#abort.signal);
        if (this.#closing) return;
        try {
          if (stream && !stream.destroyed) await stream.close().catch(() => {});
          this.#stream = await this.#openStream();
        } catch (e2) {
          this.#o.onError({ where: "consume", topic: this.#spec.topic, group: this.#spec.group, error: e2 });
          this.#stream = undefined;
        }
      }
    }
  }

  #lane(p: number): Lane {
    let lane = this.#lanes.get(p);
    if (!lane) {
      lane = { queue: [], running: false, nextEnqueue: undefined };
      this.#lanes.set(p, lane);
    }
    return lane;
  }

  #enqueue(m: RawMessage): void {
    const lane = this.#lane(m.partition);
    if (lane.nextEnqueue !== undefined && m.offset < lane.nextEnqueue) return; // refetched after a stream restart
    lane.nextEnqueue = m.offset + 1n;
    lane.queue.push(m);
    this.#buffered++;
    if (!lane.running) void this.#drain(lane);
  }

  /** Forgets queued (not started) messages of partitions this member no longer owns. */
  #dropRevoked(): void {
    for (const [p, lane] of this.#lanes) {
      if (this.#assigned.has(p)) continue;
      this.#buffered -= lane.queue.length;
      lane.queue.length = 0;
      lane.nextEnqueue = undefined;
    }
    this.#wakeSpace();
    this.#checkIdle();
  }

  async #drain(lane: Lane): Promise<void> {
    lane.running = true;
    try {
      while (lane.queue.length > 0 && !this.#closing) {
        await this.#sem.acquire();
        const m = lane.queue.shift();
        if (!m || this.#closing) {
          this.#sem.release();
          if (m) lane.queue.unshift(m);
          break;
        }
        this.#counters.inFlight++;
        try {
          await this.#handle(m);
        } finally {
          this.#counters.inFlight--;
          this.#sem.release();
          this.#buffered--;
          this.#wakeSpace();
        }
      }
    } finally {
      lane.running = false;
      if (this.#closing) {
        this.#buffered -= lane.queue.length;
        lane.queue.length = 0;
      }
      this.#checkIdle();
    }
  }

  async #handle(m: RawMessage): Promise<void> {
    const { topic, group, handler, maxAttempts } = this.#spec;
    const c = this.#counters.of(m.partition);
    const raw: RawRecord = {
      topic,
      partition: m.partition,
      offset: m.offset.toString(),
      key: m.key ?? null,
      value: m.value ?? null,
    };
    const d = decodeRecord(raw.key, raw.value, m.headers ?? new Map());
    let outcome: Awaited<ReturnType<typeof settle>>;
    if (!d.ok) {
      outcome = { kind: "dead-letter", reason: "decode-failed", detail: d.detail, attempts: 0 };
    } else {
      const msg: IncomingMessage = {
        topic,
        key: d.key,
        value: d.value,
        headers: d.headers,
        partition: m.partition,
        offset: raw.offset,
      };
      const started = performance.now();
      outcome = await settle(msg, handler, {
        maxAttempts,
        backoffBaseMs: this.#o.backoffBaseMs,
        backoffMaxMs: this.#o.backoffMaxMs,
        signal: this.#abort.signal,
        onRetry: () => {
          c.retries++;
        },
      });
      c.handlerMs += performance.now() - started;
    }
    if (outcome.kind === "abandoned") return;
    if (outcome.kind === "dead-letter") {
      const rec = deadLetterRecord(raw, d.headers, outcome.reason, outcome.detail, {
        group,
        attempts: outcome.attempts,
      });
      // Never drop, never commit before the dead letter is accepted: retry until it is or we close.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#bus.sendRecords([rec]);
          break;
        } catch (e) {
          this.#o.onError({ where: "dead-letter", topic, group, error: e });
          if (this.#closing) return;
          await abortableSleep(Math.min(5000, 200 * attempt), this.#abort.signal);
          if (this.#closing) return;
        }
      }
      c.deadLettered++;
    } else {
      c.acked++;
    }
    c.consumed++;
    this.#commit(m.partition, m.offset + 1n, m.leaderEpoch);
  }

  #commit(partition: number, offset: bigint, leaderEpoch: number): void {
    const cur = this.#toCommit.get(partition);
    if (!cur || cur.offset < offset) this.#toCommit.set(partition, { offset, leaderEpoch });
    this.#kickCommits();
  }

  #kickCommits(): void {
    if (this.#committing || this.#toCommit.size === 0) return;
    this.#committing = this.#flushCommits().finally(() => {
      this.#committing = undefined;
      this.#kickCommits();
    });
  }

  /**
   * Commits what is pending, one request at a time. On a rebalance error the
   * offsets are dropped (the partition's new owner starts from the last
   * commit: at-least-once); on another error they are retried, until close.
   */
  async #flushCommits(): Promise<void> {
    const { topic, group } = this.#spec;
    for (let failures = 0; this.#toCommit.size > 0; ) {
      const batch = [...this.#toCommit].map(([partition, v]) => ({ topic, partition, ...v }));
      this.#toCommit.clear();
      try {
        await this.#consumer.commit({ offsets: batch });
        failures = 0;
      } catch (e) {
        this.#counters.commitErrors++;
        failures++;
        this.#o.onError({ where: "commit", topic, group, error: e });
        if (hasNeedsRejoin(e) || (this.#closing && failures > 1)) continue;
        for (const b of batch) {
          const cur = this.#toCommit.get(b.partition);
          if (!cur || cur.offset < b.offset) this.#toCommit.set(b.partition, b);
        }
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * failures)));
      }
    }
  }

  #wakeSpace(): void {
    if (this.#buffered < this.#spec.maxBuffered || this.#closing) {
      for (const w of this.#spaceWaiters.splice(0)) w();
    }
  }

  #isIdle(): boolean {
    for (const lane of this.#lanes.values()) if (lane.running) return false;
    return true;
  }

  #checkIdle(): void {
    if (this.#isIdle()) for (const w of this.#idleWaiters.splice(0)) w();
  }

  async metrics(): Promise<SubscriptionMetrics> {
    const { topic, group } = this.#spec;
    const committed = new Map<number, bigint>();
    const high = new Map<number, bigint>();
    const low = new Map<number, bigint>();
    let partitions: number[] = [];
    try {
      const [latest, earliest] = await Promise.all([
        this.#consumer.listOffsets({ topics: [topic], timestamp: -1n }),
        this.#consumer.listOffsets({ topics: [topic], timestamp: -2n }),
      ]);
      const hw = latest.get(topic) ?? [];
      const lw = earliest.get(topic) ?? [];
      partitions = hw.map((_, i) => i);
      for (const [i, v] of hw.entries()) high.set(i, v);
      for (const [i, v] of lw.entries()) low.set(i, v);
      const cm = await this.#consumer.listCommittedOffsets({ topics: [{ topic, partitions }] });
      for (const [i, v] of (cm.get(topic) ?? []).entries()) committed.set(i, v);
    } catch (e) {
      this.#o.onError({ where: "metrics", topic, group, error: e });
    }
    return {
      topic,
      group,
      inFlight: this.#counters.inFlight,
      commitErrors: this.#counters.commitErrors,
      restarts: this.#counters.restarts,
      joins: this.#counters.joins,
      partitions: partitionMetrics(this.#counters, partitions, committed, high, low),
    };
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#abort.abort();
    this.#wakeSpace();
    if (!this.#isIdle()) await new Promise<void>((r) => this.#idleWaiters.push(r));
    while (this.#committing) await this.#committing;
    try {
      await this.#stream?.close();
    } catch (e) {
      this.#o.onError({ where: "close", topic: this.#spec.topic, group: this.#spec.group, error: e });
    }
    await this.#loop;
    try {
      await this.#consumer.close(true);
    } catch (e) {
      this.#o.onError({ where: "close", topic: this.#spec.topic, group: this.#spec.group, error: e });
    }
  }
}

function hasNeedsRejoin(e: unknown): boolean {
  const seen = new Set<unknown>();
  const walk = (x: unknown): boolean => {
    if (!x || typeof x !== "object" || seen.has(x)) return false;
    seen.add(x);
    const o = x as { needsRejoin?: unknown; errors?: unknown; cause?: unknown };
    if (o.needsRejoin === true) return true;
    if (Array.isArray(o.errors) && o.errors.some(walk)) return true;
    return walk(o.cause);
  };
  return walk(e);
}
