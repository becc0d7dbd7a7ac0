/**
 * KafkaJsBus: the Bus on Apache Kafka through kafkajs 2.2.4, kept for
 * deployments that standardised on it (select it with
 * createKafkaBus({ client: "kafkajs" })). Same semantics and the same
 * shared pieces (core.ts, consumer.ts, producer.ts) as PlatformaticKafkaBus:
 *
 * - publish: through the ProduceQueue (batched sendBatch requests, acks=all,
 *   compression `compression`); each call resolves on the broker's ack of
 *   its own messages, rejects with KafkaBusError "publish-failed". Keys are
 *   placed with kafkajs's DefaultPartitioner (the Java client's murmur2),
 *   like the other adapter. kafkajs has no zstd of its own: the adapter
 *   registers a codec on Node's zlib (compressing, and reading batches other
 *   clients compressed with zstd).
 * - ensureTopics: creates missing topics and `.dlq` twins, waiting for
 *   leaders; rejects with "topic-setup-failed".
 * - consume: one kafkajs consumer per subscription (fromBeginning for a new
 *   group) whose eachBatch hands records to a KafkaDispatcher (consumer.ts):
 *   parallel handlers within a partition as `ordering` allows, commits of
 *   each partition's lowest unfinished offset, revocation on each group join.
 *   eachBatch resolves each record's offset in kafkajs as the dispatcher
 *   takes it (autoResolve off), so kafkajs fetches on from there; it waits
 *   while the dispatcher holds maxBuffered messages, heartbeating every
 *   heartbeatIntervalMs meanwhile (kafkajs itself heartbeats only between
 *   batches, and would be evicted from the group during a long wait); a
 *   failed heartbeat (a rebalance) ends the wait and the batch, and kafkajs
 *   rejoins. autoCommit is off: only the dispatcher commits. Resolves once
 *   the consumer joined its group; rejects with "consumer-start-failed" when
 *   it cannot within `joinTimeoutMs`.
 * - Subscription.close / Bus.close / metrics(): as in platformatic.ts
 *   (kafkajs's commitOffsets does nothing once stop() began, so close commits
 *   before stopping the consumer).
 */
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { zstdCompress, zstdDecompress } from "node:zlib";
import {
  type Admin,
  type Consumer,
  type IHeaders,
  Kafka,
  logLevel,
  Partitioners,
  type Producer,
} from "kafkajs";
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
import { BusError } from "../errors.ts";
import { KafkaDispatcher } from "./consumer.ts";
import {
  type Compression,
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
import { ProduceQueue } from "./producer.ts";

export interface KafkaJsBusOptions extends KafkaBusOptions {
  /** kafkajs's own log output (default "error"). */
  logLevel?: "nothing" | "error" | "warn" | "info";
  /** How long consume() waits for the group join (default 60000). */
  joinTimeoutMs?: number;
  /**
   * Heartbeat while a batch waits for the dispatcher to have room (default
   * true). Turning it off brings back kafkajs's behaviour of heartbeating
   * only between batches; it exists so a test can show the eviction this
   * adapter prevents.
   */
  heartbeatWhileHandling?: boolean;
}

// kafkajs is CommonJS and Node cannot see these two among its named exports.
const { CompressionCodecs, CompressionTypes } = createRequire(import.meta.url)(
  "kafkajs",
) as typeof import("kafkajs");

const COMPRESSION_TYPES: Record<Compression, import("kafkajs").CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  zstd: CompressionTypes.ZSTD,
};

const zstd = {
  compress: promisify(zstdCompress),
  decompress: promisify(zstdDecompress),
};

/**
 * Teaches kafkajs zstd (on Node's zlib), for this adapter and any other
 * kafkajs client in the process (kafkajs's codec registry is one per
 * process). Idempotent; the adapter calls it itself.
 */
export function registerKafkaJsZstd(): void {
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: (encoder: { buffer: Buffer }) => zstd.compress(encoder.buffer),
    decompress: (buffer: Buffer) => zstd.decompress(buffer),
  });
}

const LOG_LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
} as const;

export class KafkaJsBus implements Bus {
  readonly #o: Resolved;
  readonly #kafka: Kafka;
  readonly #joinTimeoutMs: number;
  readonly #heartbeatWhileHandling: boolean;
  readonly #producer: Producer;
  readonly #queue: ProduceQueue;
  #producerReady: Promise<void> | undefined;
  #admin: Admin | undefined;
  #adminReady: Promise<void> | undefined;
  readonly #subs = new Set<KafkaJsSubscription>();
  #closed = false;

  constructor(opts: KafkaJsBusOptions) {
    if (!Array.isArray(opts.brokers) || opts.brokers.length === 0) {
      throw new BusError("invalid-options", "brokers must list at least one host:port");
    }
    this.#o = resolveOptions(opts);
    this.#joinTimeoutMs = opts.joinTimeoutMs ?? 60_000;
    this.#heartbeatWhileHandling = opts.heartbeatWhileHandling ?? true;
    this.#kafka = new Kafka({
      clientId: this.#o.clientId,
      brokers: [...opts.brokers],
      logLevel: LOG_LEVELS[opts.logLevel ?? "error"],
      retry: { retries: 5, initialRetryTime: 200 },
    });
    this.#producer = this.#kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    registerKafkaJsZstd();
    this.#queue = new ProduceQueue((records) => this.#send(records), this.#o.produce);
  }

  get kafka(): Kafka {
    return this.#kafka;
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
    try {
      const admin = await this.#adminClient();
      // Listing all topics fails while any topic of the cluster is electing
      // its leaders; then every wanted topic is created ("exists" is success).
      const existing = new Set(await admin.listTopics().catch(() => [] as string[]));
      const missing = [...wanted].filter(([name]) => !existing.has(name));
      if (missing.length > 0) {
        // Resolves false (no throw) when a topic already exists. Waiting for the
        // leaders, kafkajs gives up after a few retries of its own: a loaded
        // broker can answer "does not host this topic-partition" for longer.
        // Such a retriable answer leaves the waiting to the loop below.
        try {
          await admin.createTopics({
            waitForLeaders: true,
            topics: missing.map(([topic, s]) => ({
              topic,
              numPartitions: s.partitions,
              replicationFactor: s.replicas,
            })),
          });
        } catch (e) {
          if ((e as { retriable?: unknown }).retriable !== true) throw e;
        }
      }
      // Leaders may still be elected (a loaded machine): wait, bounded.
      const deadline = Date.now() + 30_000;
      for (;;) {
        let leaderless: string[];
        try {
          const md = await admin.fetchTopicMetadata({ topics: [...wanted.keys()] });
          leaderless = md.topics
            .filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0))
            .map((t) => t.name);
        } catch (e) {
          if (Date.now() > deadline) throw e;
          leaderless = ["(metadata)"];
        }
        if (leaderless.length === 0) break;
        if (Date.now() > deadline) throw new Error(`partitions without a leader: ${leaderless.join(", ")}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch (e) {
      throw new KafkaBusError("topic-setup-failed", [...wanted.keys()].join(", "), e);
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
    const byTopic = new Map<string, { key: Buffer | null; value: Buffer | null; headers: IHeaders }[]>();
    for (const r of records) {
      let list = byTopic.get(r.topic);
      if (!list) {
        list = [];
        byTopic.set(r.topic, list);
      }
      list.push({ key: r.key, value: r.value, headers: { ...r.headers } });
    }
    this.#producerReady ??= this.#producer.connect();
    await this.#producerReady;
    await this.#producer.sendBatch({
      acks: -1,
      compression: COMPRESSION_TYPES[this.#o.compression],
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
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
        new KafkaJsSubscription(this, this.#o, {
          topic: opts.topic,
          group: opts.group,
          concurrency,
          maxAttempts,
          ordering,
          handler,
          joinTimeoutMs: this.#joinTimeoutMs,
          heartbeatWhileHandling: this.#heartbeatWhileHandling,
        }),
    );
  }

  async metrics(): Promise<KafkaBusMetrics> {
    const subscriptions = await Promise.all([...this.#subs].map((s) => s.metrics()));
    return {
      client: "kafkajs",
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
    if (this.#producerReady)
      await this.#producer.disconnect().catch((e) => this.#o.onError({ where: "close", error: e }));
    if (this.#admin)
      await this.#admin.disconnect().catch((e) => this.#o.onError({ where: "close", error: e }));
  }

  async adminClient(): Promise<Admin> {
    return this.#adminClient();
  }

  async #adminClient(): Promise<Admin> {
    if (!this.#admin) {
      this.#admin = this.#kafka.admin();
      this.#adminReady = this.#admin.connect();
    }
    await this.#adminReady;
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
  joinTimeoutMs: number;
  heartbeatWhileHandling: boolean;
}

class KafkaJsSubscription {
  readonly #bus: KafkaJsBus;
  readonly #o: Resolved;
  readonly #spec: SubSpec;
  readonly #consumer: Consumer;
  readonly #d: KafkaDispatcher;
  #closing = false;
  #started = false;

  constructor(bus: KafkaJsBus, o: Resolved, spec: SubSpec) {
    this.#bus = bus;
    this.#o = o;
    this.#spec = spec;
    this.#consumer = bus.kafka.consumer({
      groupId: spec.group,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      rebalanceTimeout: o.rebalanceTimeoutMs,
      maxWaitTimeInMs: o.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 250 },
    });
    const maxBuffered = o.maxBuffered ?? spec.concurrency + Math.max(256, spec.concurrency);
    const topic = spec.topic;
    this.#d = new KafkaDispatcher({ ...spec, maxBuffered, commitIntervalMs: o.commitIntervalMs }, o, {
      commit: async (offsets) => {
        try {
          await this.#consumer.commitOffsets(
            offsets.map((x) => ({ topic, partition: x.partition, offset: x.offset.toString() })),
          );
        } catch (e) {
          // The broker's own error (UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS...) rather than the retrier's wrapper.
          throw protocolCause(e);
        }
      },
      sendDeadLetter: (rec) => bus.sendRecords([rec]),
    });
  }

  async start(): Promise<void> {
    const c = this.#consumer;
    const { topic, group } = this.#spec;
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no group join within ${this.#spec.joinTimeoutMs} ms`)),
        this.#spec.joinTimeoutMs,
      );
      c.on(c.events.GROUP_JOIN, (ev) => {
        this.#d.counters.joins++;
        this.#d.assign(ev.payload.memberAssignment[topic] ?? []);
        clearTimeout(timer);
        resolve();
      });
      c.on(c.events.CRASH, (ev) => {
        this.#o.onError({ where: "consume", topic, group, error: ev.payload.error });
        this.#d.counters.restarts++;
        if (!ev.payload.restart) {
          clearTimeout(timer);
          reject(ev.payload.error);
        }
      });
    });
    await c.connect();
    this.#started = true;
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, pause, isRunning }) => {
        for (const m of batch.messages) {
          if (this.#closing) {
            // Not taken, not resolved: kafkajs stops fetching it; the group's next owner gets it.
            pause();
            return;
          }
          if (!isRunning()) return;
          this.#d.accept({
            partition: batch.partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
            headers: headerEntries(m.headers),
          });
          resolveOffset(m.offset);
          if (this.#d.full && !(await this.#room(heartbeat))) return;
        }
      },
    });
    await joined;
  }

  /** Waits for the dispatcher to have room; false when a heartbeat failed (kafkajs must rejoin). */
  async #room(heartbeat: () => Promise<void>): Promise<boolean> {
    if (!this.#spec.heartbeatWhileHandling) {
      await this.#d.space();
      return true;
    }
    let failed = false;
    let wake: () => void = () => {};
    const stop = new Promise<void>((r) => {
      wake = r;
    });
    const timer = setInterval(() => {
      heartbeat().catch(() => {
        failed = true;
        wake();
      });
    }, this.#o.heartbeatIntervalMs);
    try {
      await Promise.race([this.#d.space(), stop]);
    } finally {
      clearInterval(timer);
    }
    return !failed;
  }

  async metrics(): Promise<SubscriptionMetrics> {
    const { topic, group } = this.#spec;
    const committed = new Map<number, bigint>();
    const high = new Map<number, bigint>();
    const low = new Map<number, bigint>();
    let partitions: number[] = [];
    try {
      const admin = await this.#bus.adminClient();
      const offs = await admin.fetchTopicOffsets(topic);
      for (const o of offs) {
        high.set(o.partition, BigInt(o.high));
        low.set(o.partition, BigInt(o.low));
      }
      partitions = offs.map((o) => o.partition);
      const cm = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      for (const p of cm.find((t) => t.topic === topic)?.partitions ?? [])
        committed.set(p.partition, BigInt(p.offset));
    } catch (e) {
      this.#o.onError({ where: "metrics", topic, group, error: e });
    }
    return this.#d.metrics(partitions, committed, high, low);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    // Handlers finish and their offsets are committed before stop(): kafkajs
    // drops commits once it is stopping.
    await this.#d.close();
    if (!this.#started) return;
    try {
      // stop(): waits for the current fetch, then leaves the group.
      await this.#consumer.stop();
      await this.#consumer.disconnect();
    } catch (e) {
      this.#o.onError({ where: "close", topic: this.#spec.topic, group: this.#spec.group, error: e });
    }
  }
}

/** The innermost error carrying a Kafka protocol error type, else the error itself. */
function protocolCause(e: unknown): unknown {
  let cur: unknown = e;
  for (let depth = 0; cur && typeof cur === "object" && depth < 8; depth++) {
    if (typeof (cur as { type?: unknown }).type === "string") return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return e;
}

function headerEntries(h: IHeaders | undefined): [string, Buffer | string | undefined][] {
  const out: [string, Buffer | string | undefined][] = [];
  for (const [k, v] of Object.entries(h ?? {})) {
    out.push([k, Array.isArray(v) ? v[v.length - 1] : v]);
  }
  return out;
}
