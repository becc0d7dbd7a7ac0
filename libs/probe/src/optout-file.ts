/**
 * Reading an opt-out file (optout.ts has the format and the matching): the
 * one reader the CLI and every service use. A file that cannot be read, or
 * holds any invalid entry, is refused as a whole: a scanner must not run
 * with half of somebody's opt-out list. The error names the file and the
 * first invalid lines.
 */
import { readFileSync } from "node:fs";
import { type OptOutList, parseOptOutList } from "./optout.ts";

export class OptOutFileError extends Error {
  override name = "OptOutFileError";
  readonly code: "unreadable" | "invalid-entries";
  constructor(code: "unreadable" | "invalid-entries", message: string) {
    super(message);
    this.code = code;
  }
}

/** The list in `file`; throws OptOutFileError (message: the file, and up to 5 invalid lines). */
export function readOptOutFile(file: string): OptOutList {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new OptOutFileError("unreadable", `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const { list, errors } = parseOptOutList(text);
  if (errors.length > 0) {
    const shown = errors
      .slice(0, 5)
      .map((e) => `  ${file}:${e.line}: ${e.error}: ${e.text}`)
      .join("\n");
    throw new OptOutFileError(
      "invalid-entries",
      `${errors.length} invalid entr${errors.length === 1 ? "y" : "ies"}\n${shown}`,
    );
  }
  return list;
}
