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

test("a hit among the youngest quarter stays in place; an older hit moves to the young end", () => {
  const c = new SizedLru<string, string>(8, (v) => v.length);
  for (const k of ["a", "b", "c", "d", "e", "f", "g", "h"]) c.set(k, "x");
  // 8 entries: a hit placed within the last 2 sets or moves (8 >> 2) is not moved.
  assert.equal(c.get("g"), "x", "g: 1 placement younger than it, stays");
  assert.equal(c.get("a"), "x", "a: 7 younger, moves to the young end");
  c.set("i", "x"); // over the bound by one: the oldest goes, b (a moved away)
  assert.deepEqual(keys(c, ["a", "b"]), ["a"]);
  // c..f go next, then g: its hit left it where it was, older than h.
  for (const k of ["j", "k", "l", "m", "n"]) c.set(k, "x");
  assert.deepEqual(keys(c, ["c", "d", "e", "f", "g", "h"]), ["h"]);
});
