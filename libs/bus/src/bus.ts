/**
 * The messaging interface the pipeline stages talk through. Adapters: the
 * in-memory bus (the embedded default) and Kafka (@platformatic/kafka by
 * default, kafkajs selectable). One contract test suite runs against each.
 *
 * Semantics every adapter keeps:
 * - at-least-once: a message is acknowledged (its offset committable) only
 *   after its handler resolved, i.e. after the handler's effects are durable;
 *   a handler that throws a retryable error sees the message again. A
 *   partition's committed position is its lowest unfinished offset, so a
 *   consumer that stops hands every unfinished message to the next member of
 *   its group (finished ones above it may be delivered again);
 * - order (ConsumeOptions.ordering): with "key" (the default) messages of one
 *   key are handled one at a time in publish order while other keys of the
 *   same partition run in parallel; with "none" any message may run as soon
 *   as a slot is free; with "partition" one message of a partition at a time;
 * - concurrency: a subscription holds at most `concurrency` messages running
 *   or waiting for a retry, across all its partitions; a retry of one message
 *   never holds back other keys;
 * - backpressure: `publish` resolves only once the message is accepted by the
 *   bus (bounded backlog in memory, broker ack in Kafka); concurrent publish
 *   calls may be sent together, each resolving or rejecting on its own, and
 *   messages of one key keep the order of the publish calls that carry them;
 * - dead letters: a message the consumer cannot decode or validate, or whose
 *   handler returns { kind: "dead-letter" }, goes to `<topic>.dlq` with the
 *   reason in headers; it never blocks its partition and is never dropped.
 */

export type Headers = Record<string, string>;

export interface OutgoingMessage {
  topic: string;
  key: string;
  /** Serialized payload (JSON text of a validated envelope). */
  value: string;
  headers?: Headers;
  /**
   * The value as the producer built it (the envelope object whose JSON text
   * `value` is). An in-process bus hands it to consumers, which then need not
   * parse and validate what their own process made; a bus that serializes
   * (Kafka) ignores it.
   */
  decoded?: unknown;
}

export interface IncomingMessage {
  topic: string;
  key: string;
  value: string;
  headers: Headers;
  partition: number;
  offset: string;
  /** How many times this message has been delivered to this group (1 on first delivery) when known. */
  deliveryAttempt?: number;
  /** The producer's own object (OutgoingMessage.decoded), when the bus is in-process. */
  decoded?: unknown;
}

/**
 * What a handler decided (Emmett-style outcome, not a thrown error):
 * - ack: done, commit;
 * - retry: transient failure, deliver again later (after `delayMs`); `detail`
 *   says what failed, for the logs;
 * - dead-letter: permanent failure, move to `<topic>.dlq` with the reason.
 * A handler that throws is treated as retry.
 */
export type HandlerOutcome =
  | { kind: "ack" }
  | { kind: "retry"; reason: string; delayMs?: number; detail?: string }
  | { kind: "dead-letter"; reason: DeadLetterReason; detail: string };

export const DEAD_LETTER_REASONS = [
  "decode-failed",
  "validation-failed",
  "unsupported-version",
  "handler-rejected",
  "retries-exhausted",
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** Header names used by every adapter. */
export const HEADER = {
  deadLetterReason: "x-dlq-reason",
  deadLetterDetail: "x-dlq-detail",
  deadLetterSourceTopic: "x-dlq-source-topic",
  traceparent: "traceparent",
  tracestate: "tracestate",
  schema: "x-schema",
} as const;

/**
 * How a subscription orders the messages of one partition (see the module comment):
 * "key" (default), "none" (for handlers that hold a message while later ones of the
 * same key must run, e.g. a join), "partition" (the old one-at-a-time behaviour).
 */
export const ORDERINGS = ["key", "none", "partition"] as const;
export type Ordering = (typeof ORDERINGS)[number];

export interface ConsumeOptions {
  topic: string;
  group: string;
  /**
   * The most messages this subscription holds unfinished at once (running or
   * waiting for a retry), across its partitions (default 1). May be large (10,000).
   */
  concurrency?: number;
  /** Order within a partition (default "key"). */
  ordering?: Ordering;
  /** Retries before a message goes to the dead-letter topic as retries-exhausted (default 5). */
  maxAttempts?: number;
}

export interface Subscription {
  /**
   * Stop taking messages, wait for running handlers (a message waiting for a
   * retry is given up, unacknowledged), commit, leave the group.
   */
  close(): Promise<void>;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  replication?: number;
}

export interface Bus {
  /** Create topics (and their `.dlq` twins) if missing. Idempotent. */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /**
   * Resolves when the bus has accepted every message (backpressure); rejects
   * when it could not, concerning only this call's messages.
   */
  publish(messages: OutgoingMessage[]): Promise<void>;
  consume(
    opts: ConsumeOptions,
    handler: (msg: IncomingMessage) => Promise<HandlerOutcome>,
  ): Promise<Subscription>;
  close(): Promise<void>;
}

/**
 * Topic names. Keys: the domain, except probe requests (the destination IP,
 * so one prober instance owns each IP). [domain-facts] carries everything the
 * aggregator joins for a domain: its DNS facts (dns-facts) and the result of
 * each probe it asked for (probe-result, addressed to the domain), keyed by
 * the domain so that one partition, hence one aggregator instance, sees all of
 * a domain's facts.
 */
export const TOPICS = {
  domains: "danesweep.domains",
  probeRequests: "danesweep.probe-requests",
  domainFacts: "danesweep.domain-facts",
  verdicts: "danesweep.verdicts",
} as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}
