/**
 * Domain lists for the seeder: files and standard input ("-"), one name per
 * line; blank lines and "#" comments skipped, anything after whitespace
 * ignored (the same input rules as `danesweep scan`). Streams: one line held
 * at a time. A file that cannot be opened rejects the iteration with the
 * stream's error (ENOENT...).
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { SeedLine } from "@danesweep/pipeline";

const MAX_LINE_CHARS = 4096;

async function* linesOf(stream: Readable, source: string): AsyncGenerator<SeedLine> {
  const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const raw of rl) {
    n++;
    const t = (raw.length > MAX_LINE_CHARS ? raw.slice(0, MAX_LINE_CHARS + 1) : raw).trim();
    if (t === "" || t.startsWith("#")) continue;
    yield { source, line: n, text: t.split(/\s+/, 1)[0] as string };
  }
}

export async function* readLists(files: string[], stdin: Readable): AsyncGenerator<SeedLine> {
  for (const f of files) {
    if (f === "-") yield* linesOf(stdin, "-");
    else yield* linesOf(createReadStream(f, { encoding: "utf8" }), f);
  }
}
