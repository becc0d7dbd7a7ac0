/** A time as the store returns it: ISO 8601 UTC, whether the driver gave a Date or text. */
export function iso(v: unknown): string {
  return (v instanceof Date ? v : new Date(String(v))).toISOString();
}
