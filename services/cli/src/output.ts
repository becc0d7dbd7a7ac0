/**
 * Output formats for verdict records: jsonl (one JSON object per domain, the
 * libs/dane verdict record plus the scan id), table (aligned columns a person
 * can read; streamed with fixed column widths so 10 million rows need no
 * buffering; control characters in a cell are shown as escapes), csv (the API's spreadsheet-safe encoder, @danesweep/api/csv:
 * RFC 4180 quoting, and a leading apostrophe on a field that begins with
 * = + - @, tab or CR). Pure: each function returns text.
 */
import { createWriteStream } from "node:fs";
import { csvRecord } from "@danesweep/api/csv";
import { MAIL_POLICY_COLUMNS, mailPolicyColumns, type VerdictRecord } from "@danesweep/dane";
import { printable } from "@danesweep/pipeline";

export const FORMATS = ["jsonl", "table", "csv"] as const;
export type Format = (typeof FORMATS)[number];

export interface Formatter {
  header(): string;
  row(r: VerdictRecord, scan: string): string;
}

const COLS = [
  { title: "DOMAIN", width: 28 },
  { title: "ACTION", width: 13 },
  { title: "SECURITY", width: 13 },
  { title: "HOST", width: 28 },
  { title: "REASON", width: 28 },
  { title: "DANE", width: 16 },
] as const;

function pad(s: string, w: number): string {
  return s.length >= w ? s : s + " ".repeat(w - s.length);
}

function tableLine(cells: string[]): string {
  return (
    cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, COLS[i]!.width)))
      .join(" ")
      .trimEnd() + "\n"
  );
}

/** The table's cells; host names come from DNS, so each is made printable (input.ts) for the terminal. */
export function tableCells(r: VerdictRecord): string[] {
  return [
    r.domain,
    r.verdict.action,
    r.verdict.security ?? "-",
    r.verdict.host ?? "-",
    r.verdict.reason,
    r.dane,
  ].map(printable);
}

export function formatter(format: Format): Formatter {
  switch (format) {
    case "jsonl":
      return { header: () => "", row: (r, scan) => `${JSON.stringify({ scan, ...r })}\n` };
    case "table":
      return {
        header: () => tableLine(COLS.map((c) => c.title)),
        row: (r) => tableLine(tableCells(r)),
      };
    case "csv":
      return {
        header: () =>
          csvRecord([
            "scan",
            "domain",
            "action",
            "security",
            "host",
            "address",
            "reason",
            "dane",
            "explanation",
            ...MAIL_POLICY_COLUMNS.map(([name]) => name),
          ]),
        row: (r, scan) =>
          csvRecord([
            scan,
            r.domain,
            r.verdict.action,
            r.verdict.security,
            r.verdict.host,
            r.verdict.address,
            r.verdict.reason,
            r.dane,
            r.explanation,
            ...mailPolicyFields(r),
          ]),
      };
  }
}

/** The MTA-STS / TLS-RPT columns of a record (libs/dane), a list as space-separated items. */
function mailPolicyFields(r: VerdictRecord): unknown[] {
  const c = mailPolicyColumns(r);
  return MAIL_POLICY_COLUMNS.map(([, k]) => {
    const v = c[k];
    return Array.isArray(v) ? v.join(" ") : v;
  });
}

/** Counts for the closing summary. */
export class Summary {
  readonly byAction = new Map<string, number>();
  readonly bySecurity = new Map<string, number>();
  readonly byDane = new Map<string, number>();
  total = 0;
  add(r: VerdictRecord): void {
    this.total++;
    bump(this.byAction, r.verdict.action);
    if (r.verdict.security) bump(this.bySecurity, r.verdict.security);
    bump(this.byDane, r.dane);
  }
  render(): string {
    const fmt = (m: Map<string, number>) =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "-";
    return (
      `judged ${this.total} domains\n` +
      `  action:   ${fmt(this.byAction)}\n` +
      `  security: ${fmt(this.bySecurity)}\n` +
      `  dane:     ${fmt(this.byDane)}\n`
    );
  }
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/**
 * Where a scan's verdicts go: standard output or --output FILE, in the chosen
 * format, with the summary counted on the way. `row` waits when the stream is
 * full (backpressure); `end` closes a file (standard output stays open).
 */
export class VerdictSink {
  readonly summary = new Summary();
  readonly #stream: NodeJS.WritableStream;
  readonly #file: boolean;
  readonly #fmt: Formatter;
  readonly #print: boolean;

  constructor(o: { format: Format; output?: string; stdout: NodeJS.WritableStream; print?: boolean }) {
    this.#file = o.output !== undefined;
    this.#stream = o.output !== undefined ? createWriteStream(o.output) : o.stdout;
    this.#fmt = formatter(o.format);
    this.#print = o.print ?? true;
  }

  header(): Promise<void> {
    return this.#write(this.#fmt.header());
  }

  row(r: VerdictRecord, scan: string): Promise<void> {
    this.summary.add(r);
    // Not printing (--quiet, the summary only): no row is formatted either.
    if (!this.#print) return Promise.resolve();
    return this.#write(this.#fmt.row(r, scan));
  }

  async #write(s: string): Promise<void> {
    if (s === "" || !this.#print) return;
    if (!this.#stream.write(s)) await new Promise((r) => this.#stream.once("drain", r));
  }

  async end(): Promise<void> {
    if (this.#file) await new Promise<void>((r) => this.#stream.end(r));
  }
}
