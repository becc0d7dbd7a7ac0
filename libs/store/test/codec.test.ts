/** codec.ts helpers that need no store: packBytes (the batch writers' bytea parameter). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { blobText, packBytes, sha256Hex } from "../src/codec.ts";

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

test("blobText: the key is the UUID form of the first 16 bytes of the SHA-256 of the JSON text", () => {
  // SHA-256 of the 7 bytes {"a":1} is 015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862
  // (sha256sum, outside this code); the key is its first 32 hex digits, dashed 8-4-4-4-12.
  const t = blobText({ a: 1 });
  assert.equal(t.text.toString("utf8"), '{"a":1}');
  assert.equal(t.hash, "015abd7f-5cc5-7a2d-d94b-7590f04ad808");
  assert.equal(
    sha256Hex(Buffer.from('{"a":1}')),
    "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862",
  );
});
