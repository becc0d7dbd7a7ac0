/**
 * Domain lists (src/input.ts), the one reader `danesweep scan` and the seeder
 * service use: line rules, line ends, a long line cut while it is read, and
 * text that cannot drive a terminal. (A line longer than V8's longest string:
 * services/seeder/test/input.test.ts; arguments and standard input in the
 * CLI's order: services/cli/test/cli-units.test.ts.)
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { candidateFromLine, MAX_LINE_CHARS, printable, readLists, splitLines } from "../src/input.ts";

test("input lines: blanks and comments skipped, first word kept", () => {
  assert.equal(candidateFromLine(""), undefined);
  assert.equal(candidateFromLine("   "), undefined);
  assert.equal(candidateFromLine("# comment"), undefined);
  assert.equal(candidateFromLine("  example.org   # note"), "example.org");
  assert.equal(candidateFromLine("example.org\tother"), "example.org");
});

test("files: the same line rules; CRLF, CR and a CRLF split between reads are one line end each", async () => {
  const dir = mkdtempSync(join(tmpdir(), "danesweep-input-"));
  try {
    const f = join(dir, "list.txt");
    // 3 MiB without a newline first: the file is read in 64 KiB pieces, so the long line spans many.
    writeFileSync(f, `${"z".repeat(3 * 2 ** 20)}\r\na.example\rb.example # note\r\n\nc.example`);
    const got = [];
    for await (const l of readLists([f], Readable.from([])))
      got.push([l.source === f, l.line, l.text.length > 100 ? l.text.length : l.text]);
    assert.deepEqual(got, [
      [true, 1, MAX_LINE_CHARS + 1],
      [true, 2, "a.example"],
      [true, 3, "b.example"],
      [true, 5, "c.example"],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const split = async (chunks: (string | Buffer)[]) => {
    const out: string[] = [];
    for await (const l of splitLines(Readable.from(chunks))) out.push(l);
    return out;
  };
  assert.deepEqual(await split(["a\r", "\nb\r", "c\n", "\n"]), ["a", "b", "c", ""]);
  // UTF-8 split inside a character: "é" is C3 A9.
  assert.deepEqual(await split([Buffer.from([0x78, 0xc3]), Buffer.from([0xa9, 0x0a])]), ["xé"]);
  assert.deepEqual(await split(["no end"]), ["no end"]);
  assert.deepEqual(await split(["x".repeat(10)]).then((l) => l.map((x) => x.length)), [10]);
});

test("standard input and files in order; a missing file rejects with its error", async () => {
  const got = [];
  for await (const l of readLists(["-"], Readable.from(["a.example\n\n# c\nb.example"])))
    got.push([l.source, l.line, l.text]);
  assert.deepEqual(got, [
    ["-", 1, "a.example"],
    ["-", 4, "b.example"],
  ]);
  const missing = readLists([join(tmpdir(), "danesweep-no-such-list")], Readable.from([]));
  await assert.rejects(missing.next(), { code: "ENOENT" });
});

test("what is echoed of an input line cannot drive the terminal", async () => {
  assert.equal(printable("plain.example"), "plain.example");
  assert.equal(printable("a\u001b[2Jb"), "a\\x1b[2Jb");
  assert.equal(printable("\u009b31m"), "\\x9b31m"); // the 8-bit CSI
  assert.equal(printable("\u202emoc.elgoog"), "\\u{202e}moc.elgoog"); // right-to-left override
  assert.equal(printable("back\\slash"), "back\\\\slash");
  const got = [];
  for await (const l of readLists(["-"], Readable.from(["evil\u001b]0;owned\u0007.example\n"])))
    got.push(l.text);
  assert.deepEqual(got, ["evil\\x1b]0;owned\\x07.example"]);
});
