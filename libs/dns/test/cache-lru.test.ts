/**
 * The resolver cache's eviction order, against a model written from its
 * documented rules (cache.ts): least recently used first; a hit moves the
 * entry to the young end unless it moved there within the last quarter of the
 * cache's turnover; setting a key again replaces it at the young end.
 * Long random runs cross the Map's rehashes, where an eviction cursor kept
 * between calls (how `set` stays cheap on a full cache) could go wrong.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Lookup } from "@danesweep/dane";
import { LookupCache } from "../src/cache.ts";

function lookup(name: string): Lookup<string> {
  return {
    qname: name,
    qtype: "A",
    outcome: "answer",
    security: "secure",
    chain: [],
    records: ["192.0.2.1"],
    ttl: 60,
  } as never;
}

/** The documented behaviour, kept in plain arrays. */
class Model {
  order: string[] = [];
  stamps = new Map<string, number>();
  stamp = 0;
  readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  set(k: string): void {
    const i = this.order.indexOf(k);
    if (i >= 0) this.order.splice(i, 1);
    while (this.order.length >= this.max) this.stamps.delete(this.order.shift() as string);
    this.order.push(k);
    this.stamps.set(k, ++this.stamp);
  }
  get(k: string): boolean {
    const s = this.stamps.get(k);
    if (s === undefined) return false;
    if (this.stamp - s > this.order.length >> 2) {
      this.order.splice(this.order.indexOf(k), 1);
      this.order.push(k);
      this.stamps.set(k, ++this.stamp);
    }
    return true;
  }
  clear(): void {
    this.order = [];
    this.stamps.clear();
  }
}

/** xorshift32: the same sequence on every run. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test("eviction follows least-recent use through 200,000 random sets, hits and clears", () => {
  const max = 64;
  const cache = new LookupCache({ maxEntries: max, maxBytes: 1 << 30, now: () => 0 });
  const model = new Model(max);
  const r = rng(7);
  for (let i = 0; i < 200_000; i++) {
    const k = `k${Math.floor(r() * 200)}.example`;
    const op = r();
    if (op < 0.55) {
      assert.equal(cache.set(k, lookup(k), 3600), true);
      model.set(k);
    } else if (op < 0.9999) {
      assert.equal(cache.get(k) !== undefined, model.get(k), `step ${i}: get ${k}`);
    } else {
      cache.clear();
      model.clear();
    }
    assert.equal(cache.size, model.order.length, `step ${i}: size`);
  }
  for (const k of model.order) assert.ok(cache.get(k), `${k} kept`);
});

test("a full cache evicts exactly the oldest key at each insertion, whatever was replaced meanwhile", () => {
  const cache = new LookupCache({ maxEntries: 1000, maxBytes: 1 << 30, now: () => 0 });
  for (let i = 0; i < 1000; i++) cache.set(`n${i}`, lookup(`n${i}`), 3600);
  // Setting n0 again makes it the youngest: n1 is now the oldest.
  cache.set("n0", lookup("n0"), 3600);
  for (let i = 1000; i < 50_000; i++) {
    cache.set(`n${i}`, lookup(`n${i}`), 3600);
    if (i < 1999) assert.equal(cache.get(`n${i - 999}`), undefined, `n${i - 999} evicted at n${i}`);
    assert.equal(cache.size, 1000);
  }
  for (let i = 49_000; i < 50_000; i++) assert.ok(cache.get(`n${i}`), `n${i} kept`);
  assert.equal(cache.get("n48999"), undefined);
});
