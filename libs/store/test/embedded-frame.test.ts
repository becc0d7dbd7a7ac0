/**
 * The embedded server's input framing (embedded.ts peek, take): a stream of
 * PostgreSQL protocol messages, cut into chunks at every kind of place
 * (inside a header, right after one, many messages in one chunk), is read
 * back message by message exactly as it was sent, nothing lost or repeated.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { peek, take } from "../src/embedded.ts";

/** xorshift32: the same stream and cuts on every run. */
function rng(seed: number) {
  let x = seed;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** A protocol message: type byte, int32 length (itself included), body. */
function message(type: number, body: Buffer): Buffer {
  const m = Buffer.alloc(5 + body.length);
  m[0] = type;
  m.writeInt32BE(4 + body.length, 1);
  body.copy(m, 5);
  return m;
}

test("messages cut into chunks anywhere are read back whole and in order, 2,000 random cuttings", () => {
  const r = rng(7);
  for (let round = 0; round < 2000; round++) {
    const sent: Buffer[] = [];
    for (let i = 0, n = 1 + r(12); i < n; i++) {
      const body = Buffer.alloc(r(3) === 0 ? 0 : r(40));
      for (let j = 0; j < body.length; j++) body[j] = r(256);
      sent.push(message(0x41 + r(26), body));
    }
    const stream = Buffer.concat(sent);
    // Cut points: short chunks (1-4 bytes, inside a header) are common on purpose.
    const s = { chunks: [] as Buffer[], chunkBytes: 0 };
    const got: Buffer[] = [];
    let pos = 0;
    while (pos < stream.length || s.chunkBytes > 0) {
      if (pos < stream.length) {
        const len = Math.min(stream.length - pos, r(2) === 0 ? 1 + r(4) : 1 + r(60));
        s.chunks.push(Buffer.from(stream.subarray(pos, pos + len)));
        s.chunkBytes += len;
        pos += len;
      }
      // What the server does on each chunk: while a whole message is there, peek its header, take it.
      for (;;) {
        if (s.chunkBytes < 5) break;
        const len = peek(s, 5).readInt32BE(1);
        if (s.chunkBytes < 1 + len) break;
        got.push(take(s, 1 + len));
      }
      const held = s.chunks.reduce((a, c) => a + c.length, 0);
      assert.equal(held, s.chunkBytes, `round ${round}: the chunks hold what chunkBytes counts`);
      if (pos >= stream.length && s.chunkBytes < 5) break;
    }
    assert.equal(s.chunkBytes, 0, `round ${round}: bytes left over`);
    assert.deepEqual(got, sent, `round ${round}`);
  }
});
