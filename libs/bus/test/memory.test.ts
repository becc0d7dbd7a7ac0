/**
 * MemoryBus: the contract suite, plus what only the in-memory adapter promises
 * (idle(), waiting publishers rejected on close, retention per group).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BusError } from "../src/errors.ts";
import { keyHash, MemoryBus } from "../src/memory.ts";
import { busContract } from "./contract.ts";

busContract(
  "memory",
  async () => new MemoryBus({ partitions: 4, queueCapacity: 8, retryBackoff: { baseMs: 5 } }),
  {
    queueCapacity: 8,
  },
);

busContract("memory-one-partition", async () => new MemoryBus({ partitions: 1, queueCapacity: 4 }), {
  queueCapacity: 4,
  partitions: 1,
});

test("FNV-1a key hash matches the published test vectors", () => {
  // FNV-1a 32-bit reference values (draft-eastlake-fnv): "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968.
  assert.equal(keyHash(""), 0x811c9dc5);
  assert.equal(keyHash("a"), 0xe40c292c);
  assert.equal(keyHash("foobar"), 0xbf9cf968);
});

test("idle() resolves once every live group has handled everything published", async () => {
  const bus = new MemoryBus({ partitions: 2, queueCapacity: 4 });
  let handled = 0;
  await bus.consume({ topic: "t", group: "g", concurrency: 2 }, async () => {
    await sleep(2);
    handled++;
    return { kind: "ack" };
  });
  const pub = bus.publish(
    Array.from({ length: 20 }, (_, i) => ({ topic: "t", key: `k${i}`, value: String(i) })),
  );
  await pub;
  await bus.idle();
  assert.equal(handled, 20);
  await bus.close();
});

test("a publish waiting for space is rejected with bus-closed when the bus closes", async () => {
  const bus = new MemoryBus({ partitions: 1, queueCapacity: 1 });
  await bus.publish([{ topic: "t", key: "k", value: "1" }]); // nobody consumes: the partition is full
  const waiting = bus.publish([{ topic: "t", key: "k", value: "2" }]);
  await bus.close();
  await assert.rejects(waiting, (e) => e instanceof BusError && e.code === "bus-closed");
});

test("a group that joins later starts at the oldest message still retained for another group", async () => {
  const bus = new MemoryBus({ partitions: 1, queueCapacity: 100 });
  await bus.publish([1, 2, 3].map((i) => ({ topic: "t", key: "k", value: String(i) })));
  const a: string[] = [];
  await bus.consume({ topic: "t", group: "a" }, async (m) => {
    a.push(m.value);
    return { kind: "ack" };
  });
  await bus.idle();
  const b: string[] = [];
  await bus.consume({ topic: "t", group: "b" }, async (m) => {
    b.push(m.value);
    return { kind: "ack" };
  });
  await bus.publish([{ topic: "t", key: "k", value: "4" }]);
  await bus.idle();
  assert.deepEqual(a, ["1", "2", "3", "4"]);
  // Group a acknowledged 1..3 before b existed: they were dropped, b starts at 4.
  assert.deepEqual(b, ["4"]);
  await bus.close();
});

test("100k messages flow through small bounded queues", async () => {
  const bus = new MemoryBus({ partitions: 4, queueCapacity: 256 });
  let sum = 0;
  await bus.consume({ topic: "t", group: "g", concurrency: 8 }, async (m) => {
    sum += Number(m.value);
    return { kind: "ack" };
  });
  const n = 100_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    await bus.publish(
      Array.from({ length: 1000 }, (_, j) => ({ topic: "t", key: `d${i + j}`, value: String(i + j) })),
    );
  }
  await bus.idle();
  const ms = performance.now() - t0;
  assert.equal(sum, (n * (n - 1)) / 2);
  console.log(`memory bus: ${n} messages in ${ms.toFixed(0)} ms`);
  await bus.close();
});
