/**
 * KafkaDispatcher (consumer.ts) without a broker: records are handed in as
 * the adapters hand them, and the client hooks record what would go to
 * Kafka (commits, dead letters). The Kafka adapters' own tests
 * (test/kafka-adapters.int.test.ts, the contract suite) run the same code
 * against the real broker; these pin the bookkeeping exactly.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { HandlerOutcome, IncomingMessage, Ordering } from "../bus.ts";
import { type CommitOffset, type DispatchSpec, KafkaDispatcher, MembershipWatch } from "./consumer.ts";
import { type DeadLetterRecord, resolveOptions } from "./core.ts";

const o = resolveOptions({
  brokers: ["127.0.0.1:1"],
  retryBackoff: { baseMs: 1, maxMs: 5 },
  onError: () => {},
});

interface Harness {
  d: KafkaDispatcher;
  commits: CommitOffset[][];
  deadLetters: DeadLetterRecord[];
  calls: string[];
  /** Resolves the handler call of partition/offset with an outcome. */
  settle(partition: number, offset: number, outcome?: HandlerOutcome): void;
  feed(partition: number, offsets: number[], key?: (offset: number) => string): void;
}

function harness(
  spec: Partial<DispatchSpec> & { ordering?: Ordering },
  hooks: { failDeadLetters?: number } = {},
): Harness {
  const pending = new Map<string, (o: HandlerOutcome) => void>();
  const calls: string[] = [];
  const commits: CommitOffset[][] = [];
  const deadLetters: DeadLetterRecord[] = [];
  let dlFailures = hooks.failDeadLetters ?? 0;
  const handler = (m: IncomingMessage): Promise<HandlerOutcome> => {
    const id = `${m.partition}/${m.offset}`;
    calls.push(`${id}#${m.deliveryAttempt}`);
    return new Promise((resolve) => pending.set(id, resolve));
  };
  const d = new KafkaDispatcher(
    {
      topic: "t",
      group: "g",
      concurrency: 10,
      maxAttempts: 5,
      ordering: "none",
      maxBuffered: 100,
      commitIntervalMs: 60_000, // tests flush by hand
      handler,
      ...spec,
    },
    o,
    {
      commit: async (offsets) => {
        commits.push(offsets.map((x) => ({ ...x })));
      },
      sendDeadLetter: async (rec) => {
        if (dlFailures-- > 0) throw new Error("broker says no");
        deadLetters.push(rec);
      },
    },
  );
  return {
    d,
    commits,
    deadLetters,
    calls,
    settle(partition, offset, outcome = { kind: "ack" }) {
      const id = `${partition}/${offset}`;
      const r = pending.get(id);
      assert.ok(r, `handler of ${id} is running`);
      pending.delete(id);
      r(outcome);
    },
    feed(partition, offsets, key = (off) => `k${off}`) {
      for (const offset of offsets) {
        d.accept({
          partition,
          offset: BigInt(offset),
          leaderEpoch: 7,
          key: Buffer.from(key(offset)),
          value: Buffer.from(`v${offset}`),
          headers: [],
        });
      }
    },
  };
}

/** Lets settled handler promises run their continuations. */
const turn = () => sleep(1);

test("commits each partition's lowest unfinished offset", async () => {
  const h = harness({});
  h.feed(0, [0, 1, 2, 3, 4]);
  h.feed(1, [20, 21]);
  for (const off of [0, 1, 3]) h.settle(0, off);
  h.settle(1, 21);
  await turn();
  await h.d.flush();
  assert.deepEqual(h.commits.at(-1), [
    { partition: 0, offset: 2n, leaderEpoch: 7 },
    { partition: 1, offset: 20n, leaderEpoch: 7 },
  ]);
  h.settle(0, 2);
  h.settle(1, 20);
  await turn();
  await h.d.flush();
  assert.deepEqual(h.commits.at(-1), [
    { partition: 0, offset: 4n, leaderEpoch: 7 },
    { partition: 1, offset: 22n, leaderEpoch: 7 },
  ]);
  const before = h.commits.length;
  await h.d.flush();
  assert.equal(h.commits.length, before, "nothing moved: no commit request");
  h.settle(0, 4);
  await h.d.close();
  assert.deepEqual(h.commits.at(-1), [{ partition: 0, offset: 5n, leaderEpoch: 7 }]);
});

test("finished messages are committed on their own after commitIntervalMs", async () => {
  const h = harness({ commitIntervalMs: 5 });
  h.feed(0, [0, 1]);
  h.settle(0, 0);
  h.settle(0, 1);
  for (let i = 0; i < 1000 && h.commits.length === 0; i++) await turn();
  assert.deepEqual(h.commits[0], [{ partition: 0, offset: 2n, leaderEpoch: 7 }]);
  await h.d.close();
});

test("a record fetched again is not handed out twice", async () => {
  const h = harness({});
  h.feed(0, [0, 1]);
  h.settle(0, 0);
  await turn();
  h.feed(0, [0, 1, 2]); // after a rejoin the client reads again from the committed offset
  assert.deepEqual(h.calls, ["0/0#1", "0/1#1", "0/2#1"]);
  h.settle(0, 1);
  h.settle(0, 2);
  await h.d.close();
});

test("holds at most maxBuffered messages; space() resolves when one finishes", async () => {
  const h = harness({ concurrency: 1, maxBuffered: 3 });
  h.feed(0, [0, 1]);
  assert.equal(h.d.full, false);
  h.feed(0, [2]);
  assert.equal(h.d.full, true);
  assert.equal(h.d.inFlight, 1);
  assert.equal(h.d.buffered, 3);
  let room = false;
  const space = h.d.space().then(() => {
    room = true;
  });
  await turn();
  assert.equal(room, false);
  h.settle(0, 0);
  await space;
  assert.equal(h.d.buffered, 2);
  h.settle(0, 1);
  await turn();
  h.settle(0, 2);
  await h.d.close();
});

test("revocation: retry waits of a lost partition are given up, its queued messages dropped, its position committed", async () => {
  const h = harness({ concurrency: 3, ordering: "key" });
  h.feed(0, [0, 1]);
  h.feed(1, [0, 1, 2], () => "same"); // one key: 1/1 and 1/2 wait behind 1/0
  h.settle(0, 0);
  h.settle(1, 0, { kind: "retry", reason: "later", delayMs: 600_000 });
  await turn();
  assert.equal(h.d.inFlight, 2, "0/1 running, 1/0 waiting for its retry");
  h.d.assign([0]);
  await turn();
  assert.equal(h.d.inFlight, 1, "the retry wait of partition 1 was given up");
  assert.equal(h.d.buffered, 1);
  await h.d.flush();
  const committed = new Map(h.commits.flat().map((c) => [c.partition, c.offset]));
  assert.equal(committed.get(0), 1n);
  assert.equal(committed.get(1), 0n, "partition 1 resumes at its unfinished message for the next owner");
  h.feed(1, [3]); // fetched before the client saw the revocation
  assert.equal(h.d.buffered, 1, "records of a partition not assigned are ignored");
  h.settle(0, 1);
  await h.d.close();
  assert.deepEqual(
    h.calls.filter((c) => c.startsWith("1/")),
    ["1/0#1"],
    "nothing more of partition 1 ran here",
  );
});

test("close waits for running handlers, gives up retry waits, and commits", async () => {
  const h = harness({});
  h.feed(0, [0, 1, 2]);
  h.settle(0, 1, { kind: "retry", reason: "later", delayMs: 600_000 });
  h.settle(0, 2);
  let closed = false;
  const closing = h.d.close().then(() => {
    closed = true;
  });
  await sleep(20);
  assert.equal(closed, false, "0/0 still running");
  h.settle(0, 0);
  await closing;
  assert.deepEqual(h.commits.at(-1), [{ partition: 0, offset: 1n, leaderEpoch: 7 }]);
  h.feed(0, [3]);
  assert.deepEqual(h.calls, ["0/0#1", "0/1#1", "0/2#1"], "nothing starts after close");
});

test("a dead letter is written, retried until accepted, before its message counts as finished", async () => {
  const h = harness({}, { failDeadLetters: 2 });
  h.feed(0, [0]);
  h.settle(0, 0, { kind: "dead-letter", reason: "validation-failed", detail: "no domain" });
  for (let i = 0; i < 2000 && h.deadLetters.length === 0; i++) await turn();
  assert.equal(h.deadLetters.length, 1);
  assert.equal(h.deadLetters[0]?.topic, "t.dlq");
  await h.d.close();
  assert.deepEqual(h.commits.at(-1), [{ partition: 0, offset: 1n, leaderEpoch: 7 }]);
  assert.equal(h.d.counters.of(0).deadLettered, 1);
});

test("MembershipWatch: outside the group at every check for the limit, then it starts over; one check inside resets it", () => {
  const w = new MembershipWatch(66_000);
  assert.equal(w.outsideTooLong(0, true), false, "first seen outside");
  assert.equal(w.outsideTooLong(65_999, true), false, "1 ms short of the limit");
  assert.equal(w.outsideTooLong(66_000, true), true, "the limit reached");
  assert.equal(w.outsideTooLong(67_000, true), false, "starts over after answering");
  assert.equal(w.outsideTooLong(133_000, true), true, "a whole limit after the new start");
  // A member again in between: the time outside before does not count.
  assert.equal(w.outsideTooLong(200_000, true), false);
  assert.equal(w.outsideTooLong(250_000, false), false, "inside");
  assert.equal(w.outsideTooLong(260_000, true), false);
  assert.equal(w.outsideTooLong(300_000, true), false, "40 s since it was last seen outside anew");
  assert.equal(w.outsideTooLong(326_000, true), true);
});
