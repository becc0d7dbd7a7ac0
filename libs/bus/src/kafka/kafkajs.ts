/**
 * KafkaJsBus: the Bus on Apache Kafka through kafkajs 2.2.4, kept for
 * deployments that standardised on it (select it with
 * createKafkaBus({ client: "kafkajs" })). Same semantics and the same
 * shared core (core.ts) as PlatformaticKafkaBus:
 *
 * - publish: one sendBatch with acks=all; resolves on the broker's ack,
 *   rejects with KafkaBusError "publish-failed". Keys are placed with kafkajs's
 *   DefaultPartitioner (the Java client's murmur2), like the other adapter.
 * - ensureTopics: creates missing topics and `.dlq` twins, waiting for
 *   leaders; rejects with "topic-setup-failed".
 * - consume: one kafkajs consumer per subscription (fromBeginning for a new
 *   group), eachMessage with partitionsConsumedConcurrently = concurrency, so
 *   one message at a time per partition. autoCommit is off: the offset after a
 *   message is committed once its handler acked or its dead letter was
 *   accepted. kafkajs heartbeats only between messages, so a handler running
 *   longer than the session timeout would get the member evicted and the
 *   message redelivered; here the whole handling of a message (handler
 *   attempts, retry waits, dead-lettering) is wrapped in a periodic
 *   `heartbeat()` every heartbeatIntervalMs. Resolves once the consumer joined
 *   its group; rejects with "consumer-start-failed" when it cannot within
 *   `joinTimeoutMs`.
 * - Subscription.close / Bus.close / metrics(): as in platformatic.ts.
 */
import {
  type Admin,
  type Consumer,
  type IHeaders,
  Kafka,
  type KafkaMessage,
  logLevel,
  Partitioners,
  type Producer,
} from "kafkajs";
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
  type Disposition,
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
  type SubscriptionMetrics,
  settle,
} from "./core.ts";

export interface KafkaJsBusOptions extends KafkaBusOptions {
  /** kafkajs's own log output (default "error"). */
  logLevel?: "nothing" | "error" | "warn" | "info";
  /** How long consume() waits for the group join (default 60000). */
  joinTimeoutMs?: number;
  /**
   * Heartbeat while a handler runs (default true). Turning it off brings back
   * kafkajs's behaviour of heartbeating only between messages; it exists so a
   * test can show the eviction this adapter prevents.
   */
  heartbeatWhileHandling?: boolean;
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
  #producerReady: Promise<void> | undefined;
  #admin: Admin | undefined;
  #adminReady: Promise<void> | undefined;
  readonly #subs = new Set<KafkaJsSubscription>();
  readonly #produced = new Map<string, number>();
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
      const existing = new Set(await admin.listTopics());
      const missing = [...wanted].filter(([name]) => !existing.has(name));
      if (missing.length > 0) {
        // Resolves false (no throw) when a topic already exists.
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map(([topic, s]) => ({
            topic,
            numPartitions: s.partitions,
            replicationFactor: s.replicas,
          })),
        });
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
    const byTopic = new Map<string, { key: Buffer | null; value: Buffer | null; headers: IHeaders }[]>();
    for (const r of records) {
      let list = byTopic.get(r.topic);
      if (!list) {
        list = [];
        byTopic.set(r.topic, list);
      }
      list.push({ key: r.key, value: r.value, headers: { ...r.headers } });
    }
    try {
      this.#producerReady ??= this.#producer.connect();
      await this.#producerReady;
      await this.#producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
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
        new KafkaJsSubscription(this, this.#o, {
          topic: opts.topic,
          group: opts.group,
          concurrency,
          maxAttempts,
          handler,
          joinTimeoutMs: this.#joinTimeoutMs,
          heartbeatWhileHandling: this.#heartbeatWhileHandling,
        }),
    );
  }

  async metrics(): Promise<KafkaBusMetrics> {
    const subscriptions = await Promise.all([...this.#subs].map((s) => s.metrics()));
    return { client: "kafkajs", produced: Object.fromEntries(this.#produced), subscriptions };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.close()));
    this.#subs.clear();
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
  handler: (msg: IncomingMessage) => Promise<HandlerOutcome>;
  joinTimeoutMs: number;
  heartbeatWhileHandling: boolean;
}

class KafkaJsSubscription {
  readonly #bus: KafkaJsBus;
  readonly #o: Resolved;
  readonly #spec: SubSpec;
  readonly #consumer: Consumer;
  readonly #abort = new AbortController();
  readonly #counters = new Counters();
  #closing = false;
  #started = false;
  #idle: (() => void)[] = [];

  constructor(bus: KafkaJsBus, o: Resolved, spec: SubSpec) {
    this.#bus = bus;
    this.#o = o;
    this.#spec = spec;
    this.#consumer = bus.kafka.consumer({
      groupId: spec.group,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      rebalanceTimeout: Math.max(o.sessionTimeoutMs, 60_000),
      maxWaitTimeInMs: o.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 250 },
    });
  }

  async start(): Promise<void> {
    const c = this.#consumer;
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no group join within ${this.#spec.joinTimeoutMs} ms`)),
        this.#spec.joinTimeoutMs,
      );
      c.on(c.events.GROUP_JOIN, () => {
        this.#counters.joins++;
        clearTimeout(timer);
        resolve();
      });
      c.on(c.events.CRASH, (ev) => {
        this.#o.onError({
          where: "consume",
          topic: this.#spec.topic,
          group: this.#spec.group,
          error: ev.payload.error,
        });
        this.#counters.restarts++;
        if (!ev.payload.restart) {
          clearTimeout(timer);
          reject(ev.payload.error);
        }
      });
    });
    await c.connect();
    this.#started = true;
    await c.subscribe({ topics: [this.#spec.topic], fromBeginning: true });
    await c.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.#spec.concurrency,
      eachMessage: async ({ topic, partition, message, heartbeat, pause }) => {
        if (this.#closing) {
          // Not handled, not committed: the group's next owner gets it.
          pause();
          return;
        }
        await this.#onMessage(topic, partition, message, heartbeat);
      },
    });
    await joined;
  }

  async #onMessage(
    topic: string,
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const timer = this.#spec.heartbeatWhileHandling
      ? setInterval(() => {
          // A failure (e.g. a rebalance started) surfaces again in kafkajs's own
          // heartbeat right after this message, which makes it rejoin.
          heartbeat().catch(() => {});
        }, this.#o.heartbeatIntervalMs)
      : undefined;
    this.#counters.inFlight++;
    try {
      const done = await this.#handle(topic, partition, message);
      if (timer) clearInterval(timer);
      if (!done) return;
      // kafkajs's consumer.commitOffsets silently does nothing once stop() began,
      // so close() waits for in-flight messages before stopping the consumer.
      const offset = (BigInt(message.offset) + 1n).toString();
      await this.#consumer.commitOffsets([{ topic, partition, offset }]);
    } catch (e) {
      this.#counters.commitErrors++;
      this.#o.onError({ where: "commit", topic, group: this.#spec.group, error: e });
      // Hand kafkajs the broker's own error (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
      // REBALANCE_IN_PROGRESS...) rather than its retrier's wrapper: its runner
      // rejoins the group on those, where the wrapper would crash the consumer
      // for good. The message is delivered again, which at-least-once allows.
      throw protocolCause(e);
    } finally {
      if (timer) clearInterval(timer);
      this.#counters.inFlight--;
      if (this.#counters.inFlight === 0) for (const w of this.#idle.splice(0)) w();
    }
  }

  /** Handles one message; true when its offset may be committed. */
  async #handle(topic: string, partition: number, m: KafkaMessage): Promise<boolean> {
    const { group, handler, maxAttempts } = this.#spec;
    const c = this.#counters.of(partition);
    const raw: RawRecord = { topic, partition, offset: m.offset, key: m.key ?? null, value: m.value ?? null };
    const d = decodeRecord(raw.key, raw.value, headerEntries(m.headers));
    let outcome: Disposition;
    if (!d.ok) {
      outcome = { kind: "dead-letter", reason: "decode-failed", detail: d.detail, attempts: 0 };
    } else {
      const msg: IncomingMessage = {
        topic,
        key: d.key,
        value: d.value,
        headers: d.headers,
        partition,
        offset: m.offset,
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
    if (outcome.kind === "abandoned") return false;
    if (outcome.kind === "dead-letter") {
      const rec = deadLetterRecord(raw, d.headers, outcome.reason, outcome.detail, {
        group,
        attempts: outcome.attempts,
      });
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#bus.sendRecords([rec]);
          break;
        } catch (e) {
          this.#o.onError({ where: "dead-letter", topic, group, error: e });
          if (this.#closing) return false;
          await abortableSleep(Math.min(5000, 200 * attempt), this.#abort.signal);
          if (this.#closing) return false;
        }
      }
      c.deadLettered++;
    } else {
      c.acked++;
    }
    c.consumed++;
    return true;
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
    if (!this.#started) return;
    if (this.#counters.inFlight > 0) await new Promise<void>((r) => this.#idle.push(r));
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
