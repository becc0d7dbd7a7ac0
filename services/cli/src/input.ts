/**
 * Streaming domain input: command-line arguments, files (-f FILE, repeatable)
 * or standard input ("-"), one name per line. Blank lines and lines starting
 * with "#" are skipped; anything after whitespace on a line is ignored (so
 * "example.com  # note" works). Nothing is held in memory beyond one line.
 *
 * Yields { source, line, text } for every candidate name; normalisation and
 * de-duplication happen downstream (the seed stage and the store).
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

export interface InputLine {
  /** File name, "-" for stdin, or "argv". */
  source: string;
  /** 1-based line number (argument position for argv). */
  line: number;
  text: string;
}

/** Longest line accepted before it is reported as invalid without being kept. */
export const MAX_LINE_CHARS = 4096;

export function candidateFromLine(raw: string): string | undefined {
  const t = raw.trim();
  if (t === "" || t.startsWith("#")) return undefined;
  const first = t.split(/\s+/, 1)[0]!;
  return first;
}

async function* linesOf(stream: Readable, source: string): AsyncGenerator<InputLine> {
  const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const raw of rl) {
    n++;
    const text = raw.length > MAX_LINE_CHARS ? raw.slice(0, MAX_LINE_CHARS + 1) : raw;
    const c = candidateFromLine(text);
    if (c !== undefined) yield { source, line: n, text: c };
  }
}

export async function* readInputs(opts: {
  args: string[];
  files: string[];
  stdin: Readable;
}): AsyncGenerator<InputLine> {
  let pos = 0;
  for (const a of opts.args) {
    pos++;
    if (a === "-") {
      yield* linesOf(opts.stdin, "-");
      continue;
    }
    const c = candidateFromLine(a);
    if (c !== undefined) yield { source: "argv", line: pos, text: c };
  }
  for (const f of opts.files) {
    if (f === "-") yield* linesOf(opts.stdin, "-");
    else yield* linesOf(createReadStream(f, { encoding: "utf8" }), f);
  }
}
