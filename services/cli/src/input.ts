/**
 * `danesweep scan`'s names: command-line arguments, files (-f FILE,
 * repeatable) or standard input ("-", as an argument or a file), in that
 * order. Files and standard input are read by libs/pipeline input.ts, the
 * one reader of domain lists (the seeder service uses it too): its line
 * rules, its bound on a line's length and its `printable` text apply; an
 * argument follows the same rules as a line (argument position as `line`,
 * "argv" as `source`).
 */

import type { Readable } from "node:stream";
import { candidateFromLine, readLines, readLists, type SeedLine } from "@danesweep/pipeline";

export async function* readInputs(opts: {
  args: string[];
  files: string[];
  stdin: Readable;
}): AsyncGenerator<SeedLine> {
  let pos = 0;
  for (const a of opts.args) {
    pos++;
    if (a === "-") {
      yield* readLines(opts.stdin, "-");
      continue;
    }
    const c = candidateFromLine(a);
    if (c !== undefined) yield { source: "argv", line: pos, text: c };
  }
  yield* readLists(opts.files, opts.stdin);
}
