/**
 * Domain lists: the one reader of input files for `danesweep scan` (the CLI
 * adds its command-line arguments) and the seeder service. One name per
 * line; blank lines and lines starting with "#" are skipped; anything after
 * whitespace on a line is ignored (so "example.com  # note" works).
 *
 * Yields SeedLine { source, line, text } for every candidate name, `source`
 * the file name or "-" for standard input, `line` 1-based; normalisation,
 * de-duplication and the report of an invalid name (by source and line)
 * happen downstream (seed.ts and the store).
 *
 * - Lines end at LF, CRLF or a lone CR (a CRLF split between two reads is
 *   one line end), as node:readline counts them.
 * - Memory is bounded whatever the input: `splitLines` keeps at most
 *   MAX_LINE_CHARS + 1 characters of a line and drops the rest as it reads,
 *   so an 800 MB file without a newline is one over-long line (reported
 *   invalid downstream, and reading goes on with the next line), not a
 *   string too long for V8 (readline's "RangeError: Invalid string length").
 * - `text` is `printable`: characters a terminal acts on (C0 and C1 controls,
 *   DEL, bidirectional-text controls) and the backslash are written as
 *   escapes (\x1b, \u{202e}, \\). No domain name holds any of them, so this
 *   changes nothing that could be scanned, and an input line can never drive
 *   the terminal when it is echoed in an error message or a log line.
 * - A file that cannot be opened rejects the iteration with the stream's
 *   error (ENOENT...).
 */
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { SeedLine } from "./seed.ts";

/** Longest line accepted before it is reported as invalid without being kept. */
export const MAX_LINE_CHARS = 4096;

const TERMINAL_ACTIVE = /[\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The text with the characters a terminal would act on, and backslashes, written as escapes. */
export function printable(s: string): string {
  return s.replace(TERMINAL_ACTIVE, (c) => {
    if (c === "\\") return "\\\\";
    const cp = c.codePointAt(0) as number;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u{${cp.toString(16)}}`;
  });
}

/** The candidate name of an input line (its first word, printable), or undefined for a blank or comment line. */
export function candidateFromLine(raw: string): string | undefined {
  const t = raw.trim();
  if (t === "" || t.startsWith("#")) return undefined;
  const first = t.split(/\s+/, 1)[0]!;
  return printable(first);
}

/**
 * The lines of a stream of text or bytes (UTF-8), each cut to `max` + 1
 * characters while it is read: a longer line costs no more memory.
 */
export async function* splitLines(
  stream: AsyncIterable<string | Buffer>,
  max = MAX_LINE_CHARS,
): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  let line = "";
  let open = false; // characters seen since the last line end
  let crPending = false; // the last chunk ended with CR: an LF first in the next belongs to it
  const add = (piece: string) => {
    if (piece.length > 0) open = true;
    if (line.length <= max) line += piece.slice(0, max + 1 - line.length);
  };
  const ends = /\r\n|\r|\n/g;
  for await (const chunk of stream) {
    const text = typeof chunk === "string" ? chunk : decoder.write(chunk);
    let from = crPending && text.startsWith("\n") ? 1 : 0;
    crPending = false;
    ends.lastIndex = from;
    for (let m = ends.exec(text); m !== null; m = ends.exec(text)) {
      add(text.slice(from, m.index));
      yield ownCopy(line);
      line = "";
      open = false;
      from = m.index + m[0].length;
      if (m[0] === "\r" && from === text.length) crPending = true;
    }
    add(text.slice(from));
  }
  add(decoder.end());
  if (open) yield ownCopy(line);
}

/**
 * A line as a string of its own. A slice of a chunk's text shares the whole
 * chunk in V8 (64 KiB of a file): a name kept while its domain is scanned (in
 * the [domains] message, as its input text) would keep its chunk alive; with
 * thousands in flight that was 15 MB of a 100k scan's heap.
 */
function ownCopy(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}

/** The candidate names of one stream, numbered by line ("-" names standard input). */
export async function* readLines(
  stream: AsyncIterable<string | Buffer>,
  source: string,
): AsyncGenerator<SeedLine> {
  let n = 0;
  for await (const raw of splitLines(stream)) {
    n++;
    const c = candidateFromLine(raw);
    if (c !== undefined) yield { source, line: n, text: c };
  }
}

/** The candidate names of domain list files, in order; "-" reads `stdin`. */
export async function* readLists(files: string[], stdin: Readable): AsyncGenerator<SeedLine> {
  for (const f of files) {
    if (f === "-") yield* readLines(stdin, "-");
    else yield* readLines(createReadStream(f, { encoding: "utf8" }), f);
  }
}
