/**
 * The closed set of errors the store raises. Callers branch on `code`, never on
 * the message; `canRetry` says whether the same call may succeed later.
 * - unavailable: the database could not be opened or reached (retry);
 * - migration-failed: the migrations did not apply;
 * - invalid-input: a fact, probe or verdict failed its schema (detail: the path);
 * - missing-reference: a write refers to a scan or probe that is not stored
 *   (e.g. a verdict citing a probe before upsertProbe) (retry: it may arrive);
 * - integrity: stored data is inconsistent (a probe's certificate is missing);
 * - conflict: the statement lost a race with another (serialization failure,
 *   deadlock) (retry);
 * - storage-full: the disk or the database's memory is full; retrying will
 *   not help until someone makes room (the scan stops, resumable);
 * - query-failed: any other database error.
 */
export const STORE_ERROR_CODES = [
  "unavailable",
  "migration-failed",
  "invalid-input",
  "missing-reference",
  "integrity",
  "conflict",
  "storage-full",
  "query-failed",
] as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

const RETRYABLE: ReadonlySet<StoreErrorCode> = new Set(["unavailable", "missing-reference", "conflict"]);

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly canRetry: boolean;
  constructor(code: StoreErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${code}: ${detail}`, options);
    this.name = "StoreError";
    this.code = code;
    this.canRetry = RETRYABLE.has(code);
  }
}

export function isStoreError(e: unknown): e is StoreError {
  return e instanceof StoreError;
}

/**
 * Maps a driver error (SQLSTATE in `code`, possibly wrapped in `cause`) to a StoreError.
 *
 * A statement the server rejected always carries a SQLSTATE. A query that
 * failed with a plain Error and no SQLSTATE (pg's "connection terminated",
 * "not queryable") lost its connection: "unavailable", like a socket error.
 */
export function toStoreError(e: unknown, what: string): StoreError {
  if (e instanceof StoreError) return e;
  if (connectionLost(e)) {
    return new StoreError("unavailable", `${what}: connection lost: ${(e as Error).message}`, { cause: e });
  }
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === "object"; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
      const msg = (cur as { message?: string }).message ?? "";
      if (code === "23503") return new StoreError("missing-reference", `${what}: ${msg}`, { cause: e });
      if (code === "40001" || code === "40P01")
        return new StoreError("conflict", `${what}: ${msg}`, { cause: e });
      if (code === "53100" || code === "53200")
        return new StoreError("storage-full", `${what}: ${code} ${msg}`, { cause: e });
      if (code.startsWith("08") || code === "57P01" || code === "57P03") {
        return new StoreError("unavailable", `${what}: ${msg}`, { cause: e });
      }
      return new StoreError("query-failed", `${what}: ${code} ${msg}`, { cause: e });
    }
    if (typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND"].includes(code)) {
      return new StoreError("unavailable", `${what}: ${code}`, { cause: e });
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return new StoreError("query-failed", `${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** The driver failed below SQL: a plain Error without a SQLSTATE (not a TypeError of a bad parameter). */
export function connectionLost(e: unknown): boolean {
  if (!(e instanceof Error) || Object.getPrototypeOf(e) !== Error.prototype) return false;
  const code = (e as { code?: unknown }).code;
  return code === undefined;
}
