/**
 * The project's one CSV field encoder, used by the API's text/csv exports
 * (formats.ts) and by `danesweep scan --format csv` (services/cli output.ts).
 * Pure. Imported by the CLI as "@danesweep/api/csv" so that it does not load
 * the web server.
 *
 * - `csvField(value)`: one field. null and undefined are empty.
 *   Spreadsheet-safe: a value that begins with a character a spreadsheet
 *   reads as the start of a formula or of a command (`=`, `+`, `-`, `@`, tab,
 *   carriage return, or the full-width forms of the first four) gets a
 *   leading apostrophe, as OWASP's advice on CSV injection and the
 *   `escape_formulas` option of csv-stringify do: the cell is then shown as
 *   text. MX host names come from DNS, so a name like `=1+1.escmx.evil` or
 *   `@sum(1,1)` is data from whoever runs the zone. The apostrophe is part of
 *   the field's text: a program reading the CSV sees `'=1+1.escmx.evil`.
 *   Then RFC 4180: a field holding a comma, a double quote, CR or LF is put
 *   in double quotes, with each double quote doubled.
 * - `csvRecord(fields)`: the fields joined by commas, ended by CRLF.
 */

/** First characters that make a spreadsheet evaluate a cell. */
export const CSV_FORMULA_STARTS: readonly string[] = [
  "=",
  "+",
  "-",
  "@",
  "\t",
  "\r",
  "\uff1d",
  "\uff0b",
  "\uff0d",
  "\uff20",
];

export function csvField(value: unknown): string {
  let s = value === null || value === undefined ? "" : String(value);
  if (s.length > 0 && CSV_FORMULA_STARTS.includes(s[0] as string)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvRecord(fields: readonly unknown[]): string {
  return `${fields.map(csvField).join(",")}\r\n`;
}
