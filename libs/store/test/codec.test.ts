/** codec.ts helpers that need no store: packBytes (the batch writers' bytea parameter). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { packBytes } from "../src/codec.ts";

test("packBytes: one buffer, and 1-based starts and lengths that give each part back", () => {
  const parts = [Buffer.from("ab"), Buffer.alloc(0), Buffer.from([0x00, 0x5c, 0xff]), Buffer.from("z")];
  const p = packBytes(parts);
  assert.deepEqual(p.starts, [1, 3, 3, 6]);
  assert.deepEqual(p.lengths, [2, 0, 3, 1]);
  assert.equal(p.bytes.length, 6);
  // what SQL's substring(bytes from s for l) takes back
  parts.forEach((b, i) => {
    assert.deepEqual(p.bytes.subarray(p.starts[i]! - 1, p.starts[i]! - 1 + p.lengths[i]!), b);
  });
  assert.deepEqual(packBytes([]), { bytes: Buffer.alloc(0), starts: [], lengths: [] });
});
