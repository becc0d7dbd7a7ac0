import assert from "node:assert/strict";
import { test } from "node:test";
import { AskedKeys } from "../src/asked-keys.ts";

const key = (i: number) => `01TESTSCAN|192.0.2.${i % 250}|25|mx${i}.example.net`;

test("every key added is reported as asked (no false negative)", () => {
  const a = new AskedKeys(20);
  for (let i = 0; i < 50_000; i++) a.add(key(i));
  for (let i = 0; i < 50_000; i++) assert.equal(a.has(key(i)), true, key(i));
});

test("keys never added are mostly reported as not asked, at about the rate a Bloom filter of its size gives", () => {
  // 2^20 bits, 7 hashes, 50,000 keys: (1 - e^(-7*50000/2^20))^7 = 0.00019 expected.
  const a = new AskedKeys(20);
  for (let i = 0; i < 50_000; i++) a.add(key(i));
  let wrong = 0;
  for (let i = 50_000; i < 150_000; i++) if (a.has(key(i))) wrong++;
  assert.ok(wrong < 200, `${wrong} of 100,000 unseen keys reported as asked (expected about 19)`);
  // An empty filter knows nothing.
  assert.equal(new AskedKeys(20).has(key(1)), false);
});

test("sizes outside 2^5..2^31 bits are refused", () => {
  assert.throws(() => new AskedKeys(4), RangeError);
  assert.throws(() => new AskedKeys(32), RangeError);
});
