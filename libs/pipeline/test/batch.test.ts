import assert from "node:assert/strict";
import { test } from "node:test";
import { MicroBatcher } from "../src/batch.ts";

test("concurrent submits are cut into batches by size, results go back in order", async () => {
  const seen: number[][] = [];
  const b = new MicroBatcher<number, number>(
    async (xs) => {
      seen.push(xs);
      return xs.map((x) => x * 10);
    },
    { maxItems: 3, maxDelayMs: 50 },
  );
  const out = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((x) => b.submit(x)));
  assert.deepEqual(out, [10, 20, 30, 40, 50, 60, 70]);
  assert.deepEqual(seen, [[1, 2, 3], [4, 5, 6], [7]]);
});

test("a lone item is flushed after maxDelayMs", async () => {
  const b = new MicroBatcher<string, string>(async (xs) => xs.map((x) => x.toUpperCase()), {
    maxItems: 100,
    maxDelayMs: 20,
  });
  const t0 = performance.now();
  assert.equal(await b.submit("a"), "A");
  assert.ok(performance.now() - t0 >= 15);
});

test("a failing batch rejects every item in it and the next batch still runs", async () => {
  let calls = 0;
  const b = new MicroBatcher<number, number>(
    async (xs) => {
      calls++;
      if (xs.includes(2)) throw new Error("store down");
      return xs;
    },
    { maxItems: 2, maxDelayMs: 5 },
  );
  const r = await Promise.allSettled([1, 2, 3].map((x) => b.submit(x)));
  assert.deepEqual(
    r.map((x) => x.status),
    ["rejected", "rejected", "fulfilled"],
  );
  assert.equal(calls, 2);
});

test("batches never overlap", async () => {
  let active = 0;
  let maxActive = 0;
  const b = new MicroBatcher<number, number>(
    async (xs) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return xs;
    },
    { maxItems: 2, maxDelayMs: 1 },
  );
  await Promise.all(Array.from({ length: 20 }, (_, i) => b.submit(i)));
  assert.equal(maxActive, 1);
});

test("a batch returning the wrong number of results rejects its items", async () => {
  const b = new MicroBatcher<number, number>(async () => [], { maxItems: 1, maxDelayMs: 1 });
  await assert.rejects(b.submit(1), /0 results for 1 items/);
});
