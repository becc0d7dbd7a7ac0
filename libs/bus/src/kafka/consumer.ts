/**
 * KafkaDispatcher: the consuming half both Kafka adapters share. The adapter
 * fetches (a @platformatic/kafka MessagesStream, or kafkajs eachBatch) and
 * hands each record to accept(); the dispatcher decides what runs, commits,
 * and follows the group's assignment. Per subscription:
 *
 * - accept(record): decodes it (decodeRecord) and puts it in its partition's
 *   Lane (dispatch.ts). A record below the lane's next offset (fetched again
 *   after a rejoin or stream restart) is ignored; so is one of a partition not
 *   assigned to this member. The caller stops fetching while `full` (held
 *   messages >= maxBuffered) and waits on space(): memory is bounded by
 *   maxBuffered messages (plus the client's own fetch buffer).
 * - Handlers start as slots free (at most `concurrency` running or waiting
 *   for a retry), round-robin over partitions, in the subscription's ordering.
 *   Each message is settled (settle: retries in place, up to maxAttempts);
 *   a dead-letter disposition is written to `<topic>.dlq` (retried until the
 *   broker accepts it, or the lane is revoked / the subscription closes)
 *   before the message counts as finished.
 * - Commits: per partition, the lane's commitPosition() (lowest unfinished
 *   offset), at most every commitIntervalMs while something finished, one
 *   request at a time, and at once on flush(), revocation and close. A failed
 *   commit is retried at the next interval (positions are recomputed, never
 *   queued); commits only ever move forward from what this member committed.
 * - assign(partitions): the group's new assignment. Lanes of partitions no
 *   longer assigned are revoked: nothing more starts there, their queued
 *   messages are dropped, their retry waits abandoned (signal aborted); what
 *   finished is committed, and once their running handlers end, a last commit.
 *   The new owner starts from the committed position: every unfinished
 *   message is delivered again (at-least-once).
 * - close(): stops starting handlers, drops queued ones, abandons retry waits,
 *   waits for running handlers, commits (bounded attempts), resolves.
 * - metrics(...): the subscription's counters joined with the broker's
 *   offsets the adapter read (committed, high and low watermarks).
 */
import type { HandlerOutcome, IncomingMessage, Ordering } from "../bus.ts";
import { Lane, Pool, type Slot, settle } from "../dispatch.ts";
import {
  abortableSleep,
  Counters,
  type DeadLetterRecord,
  type Decoded,
  deadLetterRecord,
  decodeRecord,
  partitionMetrics,
  type RawRecord,
  type Resolved,
  type SubscriptionMetrics,
} from "./core.ts";

export interface FetchedRecord {
  partition: number;
  offset: bigint | string;
  leaderEpoch?: number;
  key: Buffer | null | undefined;
  value: Buffer | null | undefined;
  headers: Iterable<[Uint8Array | string, Uint8Array | string | null | undefined]>;
}

export interface CommitOffset {
  partition: number;
  offset: bigint;
  leaderEpoch: number;
}

/** What the dispatcher needs from the client. */
export interface ClientHooks {
  /** One OffsetCommit request for these partitions of the subscription's topic; rejects on failure. */
  commit(offsets: CommitOffset[]): Promise<void>;
  /** Produces one dead letter; resolves on the broker's ack. */
  sendDeadLetter(rec: DeadLetterRecord): Promise<void>;
}

export interface DispatchSpec {
  topic: string;
  group: string;
  concurrency: number;
  maxAttempts: number;
  ordering: Ordering;
  maxBuffered: number;
  commitIntervalMs: number;
  handler: (msg: IncomingMessage) => Promise<HandlerOutcome>;
}

interface Held {
  raw: RawRecord;
  decoded: Decoded;
}

/** Close commits at most this many times before giving up (the next owner redelivers). */
const CLOSE_COMMIT_ATTEMPTS = 3;

export class KafkaDispatcher {
  readonly counters = new Counters();
  readonly #spec: DispatchSpec;
  readonly #o: Resolved;
  readonly #hooks: ClientHooks;
  readonly #pool: Pool<Held>;
  readonly #lanes = new Map<number, Lane<Held>>();
  /** Revoked lanes still waiting for running handlers or a last commit. */
  readonly #draining = new Set<Lane<Held>>();
  readonly #committed = new WeakMap<Lane<Held>, number>();
  readonly #epochs = new Map<number, number>();
  #assigned: Set<number> | undefined;
  #held = 0;
  #closing = false;
  #spaceWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #committing: Promise<boolean> | undefined;
  #commitAgain = false;

  constructor(spec: DispatchSpec, o: Resolved, hooks: ClientHooks) {
    this.#spec = spec;
    this.#o = o;
    this.#hooks = hooks;
    this.#pool = new Pool<Held>(spec.concurrency);
  }

  /** Messages held: queued, parked, running or waiting for a retry. */
  get buffered(): number {
    return this.#held;
  }

  /** Slots in use: handlers running or waiting for a retry. */
  get inFlight(): number {
    return this.#pool.running;
  }

  get full(): boolean {
    return this.#held >= this.#spec.maxBuffered && !this.#closing;
  }

  /** Resolves once the dispatcher holds fewer than maxBuffered messages, or closes. */
  space(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  accept(r: FetchedRecord): void {
    if (this.#closing) return;
    const p = r.partition;
    if (this.#assigned && !this.#assigned.has(p)) return;
    let lane = this.#lanes.get(p);
    if (!lane) {
      lane = new Lane<Held>(p, this.#spec.ordering);
      this.#lanes.set(p, lane);
      this.#pool.attach(lane);
    }
    const offset = Number(r.offset);
    if (offset < lane.nextOffset) return;
    const raw: RawRecord = {
      topic: this.#spec.topic,
      partition: p,
      offset: String(r.offset),
      key: r.key ?? null,
      value: r.value ?? null,
    };
    const decoded = decodeRecord(raw.key, raw.value, r.headers);
    lane.accept(offset, decoded.ok ? decoded.key : "", { raw, decoded });
    this.#held++;
    if (r.leaderEpoch !== undefined) this.#epochs.set(p, r.leaderEpoch);
    this.#pump();
  }

  /** The group's assignment for this topic changed: revoke the lanes of partitions not in it. */
  assign(partitions: Iterable<number>): void {
    this.#assigned = new Set(partitions);
    let revoked = false;
    for (const [p, lane] of this.#lanes) {
      if (this.#assigned.has(p)) continue;
      this.#lanes.delete(p);
      this.#retire(lane);
      this.#draining.add(lane);
      revoked = true;
    }
    if (revoked) {
      this.#wakeSpace();
      void this.flush();
    }
  }

  /** Commits what finished now (one request at a time); resolves false when the commit failed. */
  flush(): Promise<boolean> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#committing) {
      this.#commitAgain = true;
      return this.#committing;
    }
    this.#committing = this.#commitOnce().finally(() => {
      this.#committing = undefined;
      if (this.#commitAgain) {
        this.#commitAgain = false;
        void this.flush();
      }
    });
    return this.#committing;
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const lane of this.#lanes.values()) this.#retire(lane);
    for (const lane of this.#draining) lane.abort.abort();
    this.#wakeSpace();
    if (this.#pool.running > 0) await new Promise<void>((r) => this.#idleWaiters.push(r));
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#committing) await this.#committing;
    for (let i = 0; i < CLOSE_COMMIT_ATTEMPTS; i++) {
      if (await this.flush()) break;
      await new Promise((r) => setTimeout(r, 100 * (i + 1)));
    }
  }

  /** This subscription's metrics, joined with the broker's offsets (partition -> offset; -1 none). */
  metrics(
    partitions: number[],
    committed: Map<number, bigint>,
    high: Map<number, bigint>,
    low: Map<number, bigint>,
  ): SubscriptionMetrics {
    const c = this.counters;
    return {
      topic: this.#spec.topic,
      group: this.#spec.group,
      inFlight: this.inFlight,
      buffered: this.buffered,
      commitErrors: c.commitErrors,
      restarts: c.restarts,
      joins: c.joins,
      partitions: partitionMetrics(c, partitions, committed, high, low),
    };
  }

  // ---------------------------------------------------------------- internals

  /** No more starts in this lane: queued messages dropped, retry waits abandoned. */
  #retire(lane: Lane<Held>): void {
    this.#pool.detach(lane);
    this.#held -= lane.dropPending();
    lane.abort.abort();
  }

  #pump(): void {
    for (let s = this.#pool.next(); s; s = this.#pool.next()) this.#run(s);
  }

  #run(s: Slot<Held>): void {
    void this.#handle(s).then((finished) => {
      if (finished) s.lane.finish(s);
      else s.lane.abandon(s);
      this.#held--;
      this.#scheduleCommit();
      this.#wakeSpace();
      if (!this.#closing) this.#pump();
      if (this.#pool.running === 0) for (const w of this.#idleWaiters.splice(0)) w();
    });
  }

  /** Handles one message; true when it finished (acked or dead-lettered). Never throws. */
  async #handle(s: Slot<Held>): Promise<boolean> {
    const { topic, group, handler, maxAttempts } = this.#spec;
    const { raw, decoded: d } = s.item;
    const signal = s.lane.abort.signal;
    const c = this.counters.of(raw.partition);
    let outcome: Awaited<ReturnType<typeof settle>>;
    if (!d.ok) {
      outcome = { kind: "dead-letter", reason: "decode-failed", detail: d.detail, attempts: 0 };
    } else {
      const msg: IncomingMessage = {
        topic,
        key: d.key,
        value: d.value,
        headers: d.headers,
        partition: raw.partition,
        offset: raw.offset,
      };
      const started = performance.now();
      outcome = await settle(msg, handler, {
        maxAttempts,
        backoffBaseMs: this.#o.backoffBaseMs,
        backoffMaxMs: this.#o.backoffMaxMs,
        signal,
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
      // Never drop, never count as finished before the dead letter is accepted.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#hooks.sendDeadLetter(rec);
          break;
        } catch (e) {
          this.#o.onError({ where: "dead-letter", topic, group, error: e });
          if (signal.aborted) return false;
          await abortableSleep(Math.min(5000, 200 * attempt), signal);
          if (signal.aborted) return false;
        }
      }
      c.deadLettered++;
    } else {
      c.acked++;
    }
    c.consumed++;
    return true;
  }

  #scheduleCommit(): void {
    if (this.#timer || this.#closing) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#spec.commitIntervalMs);
  }

  /** One commit of every lane whose position moved; true when it succeeded (or nothing moved). */
  async #commitOnce(): Promise<boolean> {
    const { topic, group } = this.#spec;
    const byPartition = new Map<number, { lane: Lane<Held>; pos: number }>();
    // A revoked lane first, so a live lane of the same partition (assigned again) wins.
    for (const lane of [...this.#draining, ...this.#lanes.values()]) {
      const pos = lane.commitPosition();
      if (pos > (this.#committed.get(lane) ?? -1)) byPartition.set(lane.partition, { lane, pos });
      else byPartition.delete(lane.partition);
    }
    let ok = true;
    if (byPartition.size > 0) {
      const offsets = [...byPartition].map(([partition, { pos }]) => ({
        partition,
        offset: BigInt(pos),
        leaderEpoch: this.#epochs.get(partition) ?? -1,
      }));
      try {
        await this.#hooks.commit(offsets);
        for (const { lane, pos } of byPartition.values()) {
          const before = this.#committed.get(lane) ?? -1;
          if (pos > before) this.#committed.set(lane, pos);
        }
      } catch (e) {
        ok = false;
        this.counters.commitErrors++;
        this.#o.onError({ where: "commit", topic, group, error: e });
        this.#scheduleCommit();
      }
    }
    for (const lane of this.#draining) {
      if (lane.running === 0 && (this.#committed.get(lane) ?? -1) >= lane.commitPosition()) {
        this.#draining.delete(lane);
      }
    }
    return ok;
  }

  #wakeSpace(): void {
    if (this.full) return;
    for (const w of this.#spaceWaiters.splice(0)) w();
  }
}

/**
 * When a fetching client has been outside its consumer group too long: fed
 * what the adapter sees at each check (`outside`: a stream is open but the
 * client has no member id or no heartbeat), it answers true once that held
 * at every check for `limitMs` (the rebalance timeout plus the session
 * timeout: the longest a rebalance may legitimately keep a member out), then
 * starts over. One check that sees the client inside resets it. The time is
 * the caller's: no clock is read here.
 */
export class MembershipWatch {
  readonly limitMs: number;
  #since: number | undefined;

  constructor(limitMs: number) {
    this.limitMs = limitMs;
  }

  outsideTooLong(now: number, outside: boolean): boolean {
    if (!outside) {
      this.#since = undefined;
      return false;
    }
    this.#since ??= now;
    if (now - this.#since < this.limitMs) return false;
    this.#since = undefined;
    return true;
  }
}
