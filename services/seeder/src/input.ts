/**
 * Domain lists for the seeder: files and standard input ("-"), read by
 * libs/pipeline input.ts, the one reader `danesweep scan` uses too (same
 * line rules; a line longer than MAX_LINE_CHARS is cut while it is read and
 * reported invalid by its line number, and reading goes on). A file that
 * cannot be opened rejects the iteration with the stream's error (ENOENT...).
 */
export { readLists } from "@danesweep/pipeline";
