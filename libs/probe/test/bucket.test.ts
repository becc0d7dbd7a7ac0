/** Token bucket arithmetic with an injected clock (rate r tokens/s, size b). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type BucketState, bucketIsFull, bucketTake } from "../src/index.ts";

test("a fresh bucket gives `burst` tokens at once, then one per 1/rate seconds", () => {
  let s: BucketState | undefined;
  const takes: number[] = [];
  // rate 2/s, burst 3: tokens at t=0,0,0 then every 500 ms
  for (let t = 0, i = 0; i < 6; ) {
    const r = bucketTake(s, t, 2, 3);
    s = r.state;
    if (r.waitMs === 0) {
      takes.push(t);
      i++;
    } else t += r.waitMs;
  }
  assert.deepEqual(takes, [0, 0, 0, 500, 1000, 1500]);
});

test("wait is the time to the next whole token; idle time refills up to burst only", () => {
  let s = bucketTake(undefined, 1000, 1, 1).state; // empty at t=1000
  assert.equal(bucketTake(s, 1250, 1, 1).waitMs, 750);
  s = bucketTake(s, 100_000, 1, 1).state; // long idle: one token, not 99
  assert.equal(bucketTake(s, 100_000, 1, 1).waitMs, 1000);
});

test("a clock going backwards adds no tokens", () => {
  const s = bucketTake(undefined, 5000, 1, 1).state;
  assert.ok(bucketTake(s, 1000, 1, 1).waitMs > 0);
});

test("bucketIsFull: only when refilled to burst", () => {
  const s = bucketTake(undefined, 0, 1, 2).state; // 1 token left
  assert.equal(bucketIsFull(s, 500, 1, 2), false);
  assert.equal(bucketIsFull(s, 1000, 1, 2), true);
  assert.equal(bucketIsFull(undefined, 0, 1, 2), true);
});
