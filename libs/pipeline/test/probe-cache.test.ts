/**
 * The prober's cache of made probes: bounded by the bytes of their JSON,
 * least recently used evicted first, a hit moving the entry to the young end
 * unless it is among the youngest quarter (libs/dns SizedLru) and giving back
 * facts equal to those put in; checked against a plain model over a long
 * random run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ProbeFacts } from "@danesweep/dane";
import { ProbeCache } from "../src/stages.ts";

test("made probes: evicted least recently used first, within the byte bound, through 100,000 random steps", () => {
  const max = 20_000;
  const cache = new ProbeCache(max);
  const order: string[] = [];
  const sizes = new Map<string, number>();
  const texts = new Map<string, string>();
  // When each key was last put at the young end, counted in puts and moves.
  const stamps = new Map<string, number>();
  let clock = 0;
  let bytes = 0;
  let x = 11;
  const r = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < 100_000; i++) {
    const k = `s|127.0.0.${Math.floor(r() * 100)}|25|mx.example`;
    if (r() < 0.5) {
      // {"status":"…"}: 13 bytes of JSON around the text; "é" is two bytes of UTF-8.
      const text = "é".repeat(Math.floor(r() * 50)) + "x".repeat(Math.floor(r() * 700));
      const size = 13 + Buffer.byteLength(text, "utf8");
      cache.set(k, { facts: { status: text } as unknown as ProbeFacts });
      texts.set(k, text);
      const at = order.indexOf(k);
      if (at >= 0) {
        order.splice(at, 1);
        bytes -= sizes.get(k) as number;
      }
      order.push(k);
      stamps.set(k, ++clock);
      sizes.set(k, size);
      bytes += size;
      while (bytes > max) {
        const old = order.shift() as string;
        bytes -= sizes.get(old) as number;
        sizes.delete(old);
      }
    } else {
      const hit = cache.get(k);
      assert.equal(hit !== undefined, sizes.has(k), `step ${i}: get ${k}`);
      if (hit) {
        assert.deepEqual(hit.facts, { status: texts.get(k) });
        if (clock - (stamps.get(k) as number) > order.length >> 2) {
          order.splice(order.indexOf(k), 1);
          order.push(k);
          stamps.set(k, ++clock);
        }
      }
    }
    assert.equal(cache.bytes, bytes, `step ${i}: bytes`);
    assert.ok(cache.bytes <= max);
  }
});
