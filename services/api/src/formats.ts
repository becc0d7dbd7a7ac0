/**
 * Pure helpers of the results endpoints:
 * - `negotiate(accept)`: the representation an Accept header asks for among
 *   json (a page), ndjson and csv (the whole set, streamed); q-values honoured,
 *   ties broken in that order; an absent header or any wildcard means json;
 *   undefined when nothing acceptable is offered (406).
 * - `csvHeader` / `csvLine`: CSV records (CRLF) of RESULT_COLUMNS (the
 *   verdict's columns and its risks, then the MTA-STS / TLS-RPT ones of libs/dane
 *   MAIL_POLICY_COLUMNS, a list as space-separated items) through csv.ts, the one
 *   spreadsheet-safe field encoder (RFC 4180 quoting; a leading = + - @, tab
 *   or CR gets an apostrophe).
 * - `encodeCursor` / `decodeCursor`: opaque page cursors (base64url of the
 *   last key); decodeCursor returns undefined for anything it did not make.
 */
import { MAIL_POLICY_COLUMNS } from "@danesweep/dane";
import { csvRecord } from "./csv.ts";

export const FORMATS = ["json", "ndjson", "csv"] as const;
export type Format = (typeof FORMATS)[number];

const MEDIA: Record<string, Format> = {
  "application/json": "json",
  "application/x-ndjson": "ndjson",
  "application/ndjson": "ndjson",
  "application/jsonl": "ndjson",
  "text/csv": "csv",
};

export const FORMAT_CONTENT_TYPES: Record<Format, string> = {
  json: "application/json; charset=utf-8",
  ndjson: "application/x-ndjson; charset=utf-8",
  csv: "text/csv; charset=utf-8",
};

export function negotiate(accept: string | undefined): Format | undefined {
  if (accept === undefined || accept.trim() === "") return "json";
  let best: { f: Format; q: number; rank: number } | undefined;
  for (const part of accept.split(",")) {
    const [typeRaw, ...params] = part.split(";");
    const type = (typeRaw ?? "").trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (!Number.isFinite(q) || q <= 0) continue;
    const f = type === "*/*" || type === "application/*" ? "json" : type === "text/*" ? "csv" : MEDIA[type];
    if (f === undefined) continue;
    const rank = FORMATS.indexOf(f);
    if (!best || q > best.q || (q === best.q && rank < best.rank)) best = { f, q, rank };
  }
  return best?.f;
}

export const RESULT_COLUMNS = [
  ["domain", "domain"],
  ["tld", "tld"],
  ["action", "action"],
  ["security", "security"],
  ["reason", "reason"],
  ["dane_state", "dane"],
  ["mx_host", "mxHost"],
  ["delivered_host", "deliveredHost"],
  ["judged_at", "judgedAt"],
  ["explanation", "explanation"],
  ["risks", "risks"],
  ...MAIL_POLICY_COLUMNS,
] as const;

export function csvHeader(): string {
  return csvRecord(RESULT_COLUMNS.map(([h]) => h));
}

/** A CSV line; a list (risks, the MTA-STS contradictions) is one field, its items separated by spaces. */
export function csvLine(row: Record<string, unknown>): string {
  return csvRecord(
    RESULT_COLUMNS.map(([, k]) => (Array.isArray(row[k]) ? (row[k] as unknown[]).join(" ") : row[k])),
  );
}

export function encodeCursor(key: string): string {
  return Buffer.from(`k:${key}`, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,600}$/.test(cursor)) return undefined;
  const s = Buffer.from(cursor, "base64url").toString("utf8");
  if (!s.startsWith("k:") || Buffer.from(s, "utf8").toString("base64url") !== cursor) return undefined;
  const key = s.slice(2);
  return key.length > 0 && key.length <= 400 && !/[\u0000-\u001f]/.test(key) ? key : undefined;
}
