/**
 * SizedLru (evict.ts): bounded by the sizes of its values, least recently
 * used out first; a hit makes an entry the youngest; replacing or deleting an
 * entry gives its size back; a value over the bound alone is not kept.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SizedLru } from "../src/evict.ts";

const keys = (c: SizedLru<string, string>, all: string[]) => all.filter((k) => c.get(k) !== undefined);

test("evicts the least recently used first, counting the values' sizes", () => {
  const c = new SizedLru<string, string>(10, (v) => v.length);
  c.set("a", "xxx");
  c.set("b", "xxx");
  c.set("c", "xxx");
  assert.equal(c.size, 9);
  assert.equal(c.get("a"), "xxx", "a is now the youngest");
  c.set("d", "xx"); // 11 > 10: b, the oldest, goes
  assert.equal(c.get("b"), undefined);
  assert.deepEqual([c.count, c.size], [3, 8]);
  c.set("e", "xxxxxx"); // 14: c then a go (oldest first), d and e stay
  assert.deepEqual(keys(c, ["a", "b", "c", "d", "e"]), ["d", "e"]);
  assert.equal(c.size, 8);
});

test("replacing and deleting give the old value's size back; a value over the bound is not kept", () => {
  const c = new SizedLru<string, string>(10, (v) => v.length);
  c.set("a", "xxxx");
  c.set("a", "xx");
  assert.deepEqual([c.count, c.size], [1, 2]);
  c.delete("a");
  c.delete("nothing");
  assert.deepEqual([c.count, c.size], [0, 0]);
  c.set("b", "xxx");
  c.set("big", "x".repeat(11));
  assert.deepEqual([c.count, c.size], [0, 0], "b went to make room, then big itself");
  c.set("c", "xxxx");
  assert.equal(c.get("c"), "xxxx", "usable after");
});
