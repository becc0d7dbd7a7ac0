/**
 * PlatformaticKafkaBus: the Bus on Apache Kafka through @platformatic/kafka
 * (the default Kafka client). Semantics are those of bus.ts; how they are kept:
 *
 * - publish(messages): through the ProduceQueue (producer.ts): concurrent
 *   calls are batched into few produce requests (acks=all, compression
 *   `compression`, none by default); each call resolves when the broker
 *   acknowledged its own messages, rejects with KafkaBusError
 *   "publish-failed" (the client's error as cause) otherwise. Keys are placed
 *   with the Java client's murmur2 partitioner, so a key lands on the same
 *   partition as with kafkajs or a Java producer.
 * - ensureTopics(specs): creates each topic and its `.dlq` twin (same
 *   partitions), one request per topic, "already exists" being success (it
 *   never lists the cluster's topics: that answer fails while any topic of the
 *   cluster elects leaders), then waits until every partition has a leader.
 *   Rejects with "topic-setup-failed".
 * - consume(opts, handler): one Consumer (classic group protocol) per
 *   subscription, reading from the group's committed offsets (earliest for a
 *   new group) into a KafkaDispatcher (consumer.ts): handlers run in parallel
 *   within and across partitions as `ordering` allows, at most `concurrency`
 *   at once; the stream is read only while fewer than maxBuffered messages
 *   are held; each partition's lowest unfinished offset is committed every
 *   commitIntervalMs, when a rebalance starts (so the next owner resumes from
 *   the latest position), on revocation and on close. The assignment that
 *   comes with each group join revokes the partitions no longer ours (their
 *   messages held here are dropped or abandoned, and delivered again to the
 *   new owner). Records that are not UTF-8 or lack a key or value go to the
 *   `.dlq` as decode-failed with their original bytes. If the message stream
 *   fails (broker gone), a new client joins the group and reads on from the
 *   committed offsets (the old client is closed: after a failed join it can
 *   no longer be trusted to join again); messages already held are not
 *   handed out twice. A stream whose client stays outside the group longer
 *   than a rebalance may take is failed the same way
 *   ("consumer-outside-group"). Rejects with
 *   "consumer-start-failed" when the group cannot be joined. The client
 *   rejoins at once on a rebalance, so handlers of a revoked partition may
 *   still run while its new owner starts (at-least-once, as documented).
 * - Subscription.close(): stops taking new messages, lets running handlers
 *   finish (a message waiting for a retry is left uncommitted), commits, leaves
 *   the group. Bus.close() closes every subscription, waits for queued
 *   publishes, then closes the clients.
 * - metrics(): counters per topic/partition joined with the broker's committed
 *   offsets and high watermarks (lag = high watermark - committed), messages
 *   in flight and held per subscription, produce requests.
 */

import { settlesWithin } from "@danesweep/timers";
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
  Ordering,
  OutgoingMessage,
  Subscription,
  TopicSpec,
} from "../bus.ts";
import { deadLetterTopic } from "../bus.ts";
import { abortableSleep } from "../dispatch.ts";
import { BusError } from "../errors.ts";
import { KafkaDispatcher, MembershipWatch } from "./consumer.ts";
import {
  KafkaBusError,
  type KafkaBusMetrics,
  type KafkaBusOptions,
  openSubscription,
  outgoingRecords,
  type ProducedRecord,
  type Resolved,
  resolveOptions,
  type SubscriptionMetrics,
} from "./core.ts";
import { kafkaErrorNames, ProduceQueue } from "./producer.ts";

type RawMessage = Message<Buffer, Buffer, Buffer, Buffer>;

export type PlatformaticKafkaBusOptions = KafkaBusOptions;

export class PlatformaticKafkaBus implements Bus {
  readonly #o: Resolved;
  readonly #brokers: string[];
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  readonly #queue: ProduceQueue;
  #admin: Admin | undefined;
  readonly #subs = new Set<PlatformaticSubscription>();
  #closed = false;

  constructor(opts: PlatformaticKafkaBusOptions) {
    if (!Array.isArray(opts.brokers) || opts.brokers.length === 0) {
      throw new BusError("invalid-options", "brokers must list at least one host:port");
    }
    this.#o = resolveOptions(opts);
    this.#brokers = [...opts.brokers];
    this.#producer = new Producer({
      clientId: `${this.#o.clientId}-producer`,
      bootstrapBrokers: this.#brokers,
      acks: ProduceAcks.ALL,
      partitioner: compatibilityPartitioner,
      autocreateTopics: false,
      compression: this.#o.compression,
      retries: 5,
      retryDelay: 200,
    });
    this.#queue = new ProduceQueue((records) => this.#send(records), this.#o.produce);
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
      // Every wanted topic is created, and "already exists" is success. Listing
      // the cluster's topics first would fail while any other topic of the
      // cluster is still electing its leaders (a metadata request for all
      // topics carries their errors, and the client rejects the whole answer).
      for (const [name, spec] of wanted) {
        try {
          await admin.createTopics({ topics: [name], partitions: spec.partitions, replicas: spec.replicas });
        } catch (e) {
          const errs = kafkaErrorNames(e);
          if (errs.length === 0 || errs.some((n) => n !== "TOPIC_ALREADY_EXISTS")) throw e;
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
    await this.#queue.submit(outgoingRecords(messages));
  }

  /** Produce raw records through the same queue (dead letters; tests writing arbitrary bytes). */
  sendRecords(records: ProducedRecord[]): Promise<void> {
    return this.#queue.submit(records);
  }

  /** One produce request (the queue's). */
  async #send(records: ProducedRecord[]): Promise<void> {
    await this.#producer.send({
      messages: records.map((r) => ({
        topic: r.topic,
        ...(r.key === null ? {} : { key: r.key }),
        ...(r.value === null ? {} : { value: r.value }),
        headers: new Map(Object.entries(r.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
      })),
    });
  }

  async consume(
    opts: ConsumeOptions,
    handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
  ): Promise<Subscription> {
    return openSubscription(
      this.#subs,
      this.#closed,
      opts,
      ({ concurrency, maxAttempts, ordering }) =>
        new PlatformaticSubscription(this, this.#o, this.#brokers, {
          topic: opts.topic,
          group: opts.group,
          concurrency,
          maxAttempts,
          ordering,
          handler,
        }),
    );
  }

  async metrics(): Promise<KafkaBusMetrics> {
    const subscriptions = await Promise.all([...this.#subs].map((s) => s.metrics()));
    return {
      client: "platformatic",
      produced: Object.fromEntries(this.#queue.produced),
      produceRequests: this.#queue.requests,
      subscriptions,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.close()));
    this.#subs.clear();
    await this.#queue.idle();
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

interface SubSpec {
  topic: string;
  group: string;
  concurrency: number;
  maxAttempts: number;
  ordering: Ordering;
  handler: (msg: IncomingMessage) => Promise<HandlerOutcome>;
}

type PlatformaticConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;

/** How often a subscription checks that its client is still a member of the group. */
const MEMBERSHIP_CHECK_MS = 5000;
/** How long closing a replaced client may take before it is reported and left. */
const RETIRE_WAIT_MS = 10_000;

class PlatformaticSubscription {
  readonly #o: Resolved;
  readonly #spec: SubSpec;
  readonly #brokers: string[];
  readonly #maxBuffered: number;
  #consumer: PlatformaticConsumer;
  readonly #d: KafkaDispatcher;
  readonly #abort = new AbortController();
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  #loop: Promise<void> | undefined;
  #closing = false;
  /** Whether the client has been outside the group, with a stream open, for too long. */
  readonly #membership: MembershipWatch;
  #membershipTimer: NodeJS.Timeout | undefined;

  constructor(bus: PlatformaticKafkaBus, o: Resolved, brokers: string[], spec: SubSpec) {
    this.#o = o;
    this.#spec = spec;
    this.#brokers = brokers;
    this.#maxBuffered = o.maxBuffered ?? spec.concurrency + Math.max(256, spec.concurrency);
    this.#membership = new MembershipWatch(o.rebalanceTimeoutMs + o.sessionTimeoutMs);
    const topic = spec.topic;
    this.#d = new KafkaDispatcher(
      { ...spec, maxBuffered: this.#maxBuffered, commitIntervalMs: o.commitIntervalMs },
      o,
      {
        commit: async (offsets) => {
          await this.#consumer.commit({ offsets: offsets.map((x) => ({ topic, ...x })) });
        },
        sendDeadLetter: (rec) => bus.sendRecords([rec]),
      },
    );
    this.#consumer = this.#newConsumer();
  }

  /**
   * A consumer client wired to this subscription. Its events count only while
   * it is the subscription's current client (#renewConsumer replaces it).
   */
  #newConsumer(): PlatformaticConsumer {
    const o = this.#o;
    const { topic, group } = this.#spec;
    const c: PlatformaticConsumer = new Consumer({
      clientId: `${o.clientId}-consumer`,
      bootstrapBrokers: this.#brokers,
      groupId: group,
      autocommit: false,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      rebalanceTimeout: o.rebalanceTimeoutMs,
      maxWaitTime: o.maxWaitTimeMs,
      highWaterMark: Math.min(this.#maxBuffered, 1024),
      retries: 5,
      retryDelay: 250,
    });
    c.on("consumer:group:join", (payload) => {
      if (c !== this.#consumer) return;
      this.#d.counters.joins++;
      if (payload.assignments) {
        this.#d.assign(payload.assignments.find((a) => a.topic === topic)?.partitions ?? []);
      }
    });
    // A rebalance began: commit what finished before the partitions move.
    c.on("consumer:group:rebalance", () => {
      if (c === this.#consumer) void this.#d.flush();
    });
    // The client emits "error" when re-joining the group fails (the broker is
    // down or restarting). Unheard, Node turns it into an uncaught exception
    // and the process dies; heard, it is reported and the client keeps trying
    // (the message stream's own errors restart it in #run).
    c.on("error", (e: unknown) => {
      if (!this.#closing && c === this.#consumer) o.onError({ where: "consume", topic, group, error: e });
    });
    return c;
  }

  async start(): Promise<void> {
    this.#stream = await this.#openStream();
    this.#loop = this.#run();
    this.#membershipTimer = setInterval(() => this.#checkMembership(), MEMBERSHIP_CHECK_MS);
    this.#membershipTimer.unref();
  }

  /**
   * A stream whose client is no longer a member of the group (no member id or
   * no heartbeat) for longer than a rebalance may take is ended with an error,
   * so #run replaces the client. Such a stream reads nothing, or reads
   * partitions no one assigned it and cannot commit, and never says so.
   */
  #checkMembership(): void {
    const stream = this.#stream;
    const outside = !this.#closing && !!stream && !stream.destroyed && !this.#consumer.isActive();
    if (!this.#membership.outsideTooLong(Date.now(), outside) || !stream) return;
    const limit = this.#membership.limitMs;
    stream.destroy(
      new KafkaBusError(
        "consumer-outside-group",
        `the consumer of group ${this.#spec.group} was not a member of it for ${Math.round(limit / 1000)} s`,
      ),
    );
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
          this.#d.accept({
            partition: m.partition,
            offset: m.offset,
            leaderEpoch: m.leaderEpoch,
            key: m.key,
            value: m.value,
            headers: m.headers ?? new Map(),
          });
          if (this.#d.full) await this.#d.space();
        }
        if (this.#closing) return;
        throw new Error("message stream ended");
      } catch (e) {
        if (this.#closing) return;
        this.#d.counters.restarts++;
        this.#o.onError({ where: "consume", topic: this.#spec.topic, group: this.#spec.group, error: e });
        await abortableSleep(1000, this.#abort.signal);
        if (this.#closing) return;
        if (stream && !stream.destroyed) await stream.close().catch(() => {});
        await this.#renewConsumer();
        if (this.#closing) return;
        try {
          this.#stream = await this.#openStream();
        } catch (e2) {
          this.#o.onError({ where: "consume", topic: this.#spec.topic, group: this.#spec.group, error: e2 });
          this.#stream = undefined;
        }
      }
    }
  }

  /**
   * Replaces the client with a new one after its stream failed. The old
   * client cannot be trusted to join again: when a consume fails in its group
   * join (broker down), it keeps its member id and counts the topic as
   * subscribed, so its next consume skips the join and returns a stream with
   * no heartbeat, no assignment of its own and commits the broker refuses
   * (seen after a broker restart: every service went silent). A new client
   * has neither and joins from scratch; the group hands it the partitions,
   * and the messages held here are not handed out twice (KafkaDispatcher).
   */
  async #renewConsumer(): Promise<void> {
    const old = this.#consumer;
    this.#consumer = this.#newConsumer();
    const { topic, group } = this.#spec;
    const closing = old.close(true).catch((e: unknown) => {
      this.#o.onError({ where: "close", topic, group, error: e });
    });
    const settled = await settlesWithin(closing, RETIRE_WAIT_MS, { signal: this.#abort.signal });
    if (!settled && !this.#closing) {
      this.#o.onError({
        where: "close",
        topic,
        group,
        error: new KafkaBusError(
          "close-timeout",
          `a replaced consumer did not close in ${RETIRE_WAIT_MS} ms`,
        ),
      });
    }
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
    return this.#d.metrics(partitions, committed, high, low);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#abort.abort();
    clearInterval(this.#membershipTimer);
    await this.#d.close();
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
