/**
 * The seeder's domain lists (src/input.ts: libs/pipeline's reader, the one
 * `danesweep scan` uses): a line longer than V8's longest string is cut while
 * it is read and reported invalid by its line number, and the names after it
 * are seeded. With node:readline the seeder died on it with "RangeError:
 * Invalid string length" (issue 11, item 5, "Input").
 *
 * The input is generated as it is read (one 64 KiB piece, sent again and
 * again), so the test holds next to nothing whatever its length (under
 * 200 MB resident; readline held the whole line until it failed).
 */
import assert from "node:assert/strict";
import { constants } from "node:buffer";
import { Readable } from "node:stream";
import { test } from "node:test";
import { MAX_LINE_CHARS } from "@danesweep/pipeline";
import { readLists } from "../src/input.ts";

/** Standard input: `head`, then `total` characters of "y" with no line end, then `tail`. */
function generated(head: string, total: number, tail: string): Readable {
  const piece = "y".repeat(64 * 1024);
  async function* text() {
    yield head;
    for (let sent = 0; sent < total; sent += piece.length) yield piece;
    yield tail;
  }
  return Readable.from(text());
}

test("a 600 Mi-character line is cut while it is read, numbered, and invalid; the names after it follow", {
  timeout: 300_000,
}, async () => {
  const total = 600 * 2 ** 20;
  assert.ok(total > constants.MAX_STRING_LENGTH, "longer than any string V8 can hold");
  const stdin = generated("a.example\n# a comment\n", total, "\nb.example\nc.example\n");
  const got: [string, number, string | number][] = [];
  let long = "";
  for await (const l of readLists(["-"], stdin)) {
    got.push([l.source, l.line, l.text.length > 100 ? l.text.length : l.text]);
    if (l.text.length > 100) long = l.text;
  }
  assert.deepEqual(got, [
    ["-", 1, "a.example"],
    ["-", 3, MAX_LINE_CHARS + 1],
    ["-", 4, "b.example"],
    ["-", 5, "c.example"],
  ]);
  // The seed stage (libs/pipeline seedDomains) reports line 3 as an invalid name with its
  // source and line number, as it does every invalid name: no domain name is that long.
  assert.ok(long.length > 253);
});
