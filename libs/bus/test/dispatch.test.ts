/**
 * dispatch.ts: the lane and pool bookkeeping every adapter's consumer uses,
 * given / when / then, no I/O. Expected values follow from the documented
 * rules (bus.ts, dispatch.ts): one message of a key at a time in offset
 * order ("key"), any message ("none"), one message of the partition
 * ("partition"); the commit position is the lowest unfinished offset.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Ordering } from "../src/bus.ts";
import { Lane, Pool, type Slot } from "../src/dispatch.ts";

function lane(ordering: Ordering, entries: [number, string][], start = 0): Lane<string> {
  const l = new Lane<string>(0, ordering, start);
  for (const [offset, key] of entries) l.accept(offset, key, `${key}@${offset}`);
  return l;
}

function takeAll<T>(l: Lane<T>): Slot<T>[] {
  const out: Slot<T>[] = [];
  for (let s = l.take(); s; s = l.take()) out.push(s);
  return out;
}

const offsets = <T>(slots: Slot<T>[]) => slots.map((s) => s.offset);

describe("Lane", () => {
  test('"key": other keys go ahead; a key\'s next message waits for the one before it', () => {
    const l = lane("key", [
      [0, "a"],
      [1, "a"],
      [2, "b"],
      [3, "a"],
      [4, "c"],
    ]);
    const first = takeAll(l);
    assert.deepEqual(offsets(first), [0, 2, 4]);
    l.finish(first[0] as Slot<string>); // a@0 done: a@1 may start, not a@3
    const second = takeAll(l);
    assert.deepEqual(offsets(second), [1]);
    l.finish(second[0] as Slot<string>);
    assert.deepEqual(offsets(takeAll(l)), [3]);
  });

  test('"none": every message may start at once, in offset order', () => {
    const l = lane("none", [
      [0, "a"],
      [1, "a"],
      [2, "b"],
    ]);
    assert.deepEqual(offsets(takeAll(l)), [0, 1, 2]);
  });

  test('"partition": one message at a time, whatever the keys', () => {
    const l = lane("partition", [
      [0, "a"],
      [1, "b"],
    ]);
    const [s0, ...rest] = takeAll(l);
    assert.equal(rest.length, 0);
    l.finish(s0 as Slot<string>);
    assert.deepEqual(offsets(takeAll(l)), [1]);
  });

  test("the commit position is the lowest unfinished offset, the next one when all finished", () => {
    const l = lane("none", [
      [10, "a"],
      [11, "b"],
      [13, "c"], // 12 was a gap (a control record, a compacted one)
    ]);
    assert.equal(l.commitPosition(), 10, "nothing finished");
    const [s10, s11, s13] = takeAll(l) as [Slot<string>, Slot<string>, Slot<string>];
    l.finish(s11);
    l.finish(s13);
    assert.equal(l.commitPosition(), 10, "10 still running: never past it");
    l.finish(s10);
    assert.equal(l.commitPosition(), 14, "all finished: after the last accepted");
    assert.equal(l.held, 0);
  });

  test("abandoned and dropped messages stay unfinished for the commit", () => {
    const l = lane("key", [
      [0, "a"],
      [1, "b"],
      [2, "a"],
      [3, "c"],
    ]);
    const [a0, b1, c3] = takeAll(l) as [Slot<string>, Slot<string>, Slot<string>];
    assert.equal(c3.offset, 3);
    l.finish(a0); // a@2 becomes startable
    l.abandon(b1);
    assert.equal(l.commitPosition(), 1, "b@1 abandoned");
    assert.equal(l.dropPending(), 1, "a@2 was queued");
    assert.equal(l.take(), undefined);
    l.finish(c3);
    assert.equal(l.commitPosition(), 1, "b@1 and a@2 never finished");
    assert.equal(l.held, 0);
  });

  test("a message fetched again (below the next offset) is refused", () => {
    const l = lane("none", [[5, "a"]], 5);
    assert.equal(l.accept(5, "a", "again"), undefined);
    assert.equal(l.accept(3, "z", "older"), undefined);
    assert.ok(l.accept(6, "b", "new"));
    assert.equal(l.held, 2);
  });

  test("putBack: the message starts again first, its key still held", () => {
    const l = lane("key", [
      [0, "a"],
      [1, "a"],
      [2, "b"],
    ]);
    const [a0] = takeAll(l) as [Slot<string>];
    l.putBack(a0);
    const again = takeAll(l);
    assert.deepEqual(offsets(again), [0], "a@0 again; a@1 still waits; b@2 was taken before");
  });
});

describe("Pool", () => {
  test("at most `concurrency` slots; finishing frees one", () => {
    const pool = new Pool<string>(2);
    const l = lane("none", [
      [0, "a"],
      [1, "b"],
      [2, "c"],
    ]);
    pool.attach(l);
    const a = pool.next();
    const b = pool.next();
    assert.deepEqual([a?.offset, b?.offset], [0, 1]);
    assert.equal(pool.next(), undefined, "both slots taken");
    assert.equal(pool.running, 2);
    l.finish(a as Slot<string>);
    assert.equal(pool.running, 1);
    assert.equal(pool.next()?.offset, 2);
  });

  test("round-robin over lanes", () => {
    const pool = new Pool<string>(10);
    const l0 = new Lane<string>(0, "none");
    const l1 = new Lane<string>(1, "none");
    pool.attach(l0);
    pool.attach(l1);
    for (let i = 0; i < 3; i++) {
      l0.accept(i, `k${i}`, `p0-${i}`);
      l1.accept(i, `k${i}`, `p1-${i}`);
    }
    const order: string[] = [];
    for (let s = pool.next(); s; s = pool.next()) order.push(s.item);
    assert.deepEqual(order, ["p0-0", "p1-0", "p0-1", "p1-1", "p0-2", "p1-2"]);
  });

  test("a detached lane starts nothing more; its running slot still frees the pool", () => {
    const pool = new Pool<string>(5);
    const l = lane("none", [
      [0, "a"],
      [1, "b"],
    ]);
    pool.attach(l);
    const s0 = pool.next() as Slot<string>;
    pool.detach(l);
    assert.equal(pool.next(), undefined);
    l.finish(s0);
    assert.equal(pool.running, 0);
  });

  test("a lane moved to another pool is served there, even while queued in the first", () => {
    const p1 = new Pool<string>(5);
    const p2 = new Pool<string>(5);
    const l = lane("none", [[0, "a"]]);
    p1.attach(l); // queued in p1
    p1.detach(l);
    p2.attach(l);
    assert.equal(p1.next(), undefined);
    assert.equal(p2.next()?.offset, 0);
  });

  test("supply refills a lane that has nothing to start", () => {
    const backlog: [number, string][] = [
      [0, "a"],
      [1, "a"],
      [2, "b"],
    ];
    // Like the in-memory bus: take from the backlog until something can start.
    const pool = new Pool<string>(5, (l) => {
      for (let next = backlog.shift(); next; next = l.hasStartable() ? undefined : backlog.shift()) {
        l.accept(next[0], next[1], `${next[1]}@${next[0]}`);
      }
    });
    const l = new Lane<string>(0, "key");
    pool.attach(l);
    const got: number[] = [];
    for (let s = pool.next(); s; s = pool.next()) got.push(s.offset);
    // a@0 starts; a@1 is parked behind it (taken from the backlog, not startable); b@2 starts.
    assert.deepEqual(got, [0, 2]);
    assert.equal(l.held, 3);
  });
});
