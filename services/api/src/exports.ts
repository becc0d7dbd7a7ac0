/**
 * Whole-set exports of a scan's results (GET /v1/scans/{id}/results as NDJSON
 * or CSV), made safe for the API that serves them.
 *
 * - `ExportSlots(max)`: at most `max` exports run at once per app.
 *   `take()` returns a slot, or undefined when all are taken (the route then
 *   answers 429 with Retry-After: EXPORT_RETRY_AFTER_S); a slot's `release()`
 *   is idempotent.
 * - `exportBody(o)`: the body as a byte Readable. Rows come from `o.rows`
 *   (ApiQueries.streamResults: keyset batches of `o.batchRows`), formatted as
 *   NDJSON lines or CSV records (csv.ts; the results' columns unless `o.csv`
 *   gives others: the change events' feed, changes.ts), sent in chunks of
 *   about 64 KiB.
 *   Each batch query waits its turn in the app's `ExportLane`: one export
 *   query at a time, each on a later turn of the event loop. On PGlite a
 *   query runs on the event loop itself, so this is what lets other requests
 *   be answered while exports run.
 *   The export stops (no further query) when the route's AbortSignal aborts
 *   (the client went away), and calls `o.onStall()` when the client has taken
 *   nothing for `o.stallMs` (a client that stopped reading, or vanished
 *   without closing: the route then destroys the response).
 *   `o.onEnd(outcome, rows)` is called once, after the last query has
 *   returned, with one of EXPORT_OUTCOMES and the rows formatted.
 * - `takeExportSlot(reply, x)` / `sendExport(reply, x, slot, format, rows, csv?)`:
 *   what a route does with the above (429 without a slot; the body streamed,
 *   stopped when the client goes, the slot released at the end).
 */
import { Readable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { ResultRow } from "@danesweep/store";
import type { FastifyReply } from "fastify";
import pLimit from "p-limit";
import { csvHeader, csvLine, FORMAT_CONTENT_TYPES } from "./formats.ts";
import type { Metrics } from "./metrics.ts";
import { sendProblem } from "./problem.ts";

export const EXPORT_OUTCOMES = ["completed", "client-gone", "stalled", "failed"] as const;
export type ExportOutcome = (typeof EXPORT_OUTCOMES)[number];

/** Seconds a client refused by the export cap is asked to wait. */
export const EXPORT_RETRY_AFTER_S = 5;

const CHUNK_CHARS = 64 * 1024;

export interface ExportSlot {
  release(): void;
}

export class ExportSlots {
  readonly max: number;
  #taken = 0;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`export slots: ${max} is not a positive integer`);
    this.max = max;
  }

  get taken(): number {
    return this.#taken;
  }

  take(): ExportSlot | undefined {
    if (this.#taken >= this.max) return undefined;
    this.#taken++;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.#taken--;
      },
    };
  }
}

/**
 * One export query at a time, each begun on a later turn of the event loop
 * than the one before: on PGlite a query runs on the event loop itself, and
 * queries queued together would run back to back, so requests that arrived
 * meanwhile (a /healthz, a page of results) are answered between two batches.
 */
export class ExportLane {
  readonly #one = pLimit(1);

  /** Runs `fn` once the lane is free, on a later turn of the event loop; the lane is held until it settles. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.#one(async () => {
      await nextTurn();
      return fn();
    });
  }
}

export interface ExportBodyOptions<R = ResultRow> {
  /** Rows in keyset batches of `batchRows` (ApiQueries.streamResults): a query on the first row of each batch. */
  rows: AsyncIterable<R>;
  /** CSV header and record of a row (default: the results' columns, formats.ts). */
  csv?: { header: string; line: (row: R) => string };
  format: "ndjson" | "csv";
  batchRows: number;
  /** The app's lane: each batch query waits its turn. */
  lane: ExportLane;
  /** Aborted when the client goes away (`rows` then ends early, without an error). */
  signal: AbortSignal;
  stallMs: number;
  onStall: () => void;
  onEnd: (outcome: ExportOutcome, rows: number) => void;
}

export function exportBody<R = ResultRow>(o: ExportBodyOptions<R>): Readable {
  const csv = o.csv ?? {
    header: csvHeader(),
    line: (row: R) => csvLine(row as unknown as Record<string, unknown>),
  };
  let rows = 0;
  let stalled = false;
  let completed = false;
  let failed = false;

  async function* chunks(): AsyncGenerator<string> {
    let buf = o.format === "csv" ? csv.header : "";
    const it = o.rows[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<R>;
        if (rows % o.batchRows === 0) {
          // This row comes with a query: wait for the lane.
          next = await o.lane.run(() => it.next());
        } else next = await it.next();
        if (next.done) break;
        const row = next.value;
        buf += o.format === "csv" ? csv.line(row) : `${JSON.stringify(row)}\n`;
        rows++;
        if (buf.length >= CHUNK_CHARS) {
          yield* handOver(buf);
          buf = "";
        }
      }
      if (o.signal.aborted) return;
      if (buf.length > 0) yield* handOver(buf);
      completed = true;
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      await it.return?.();
    }
  }

  /** Yields one chunk; if the client takes nothing for stallMs, onStall. */
  async function* handOver(chunk: string): AsyncGenerator<string> {
    const timer = setTimeout(() => {
      stalled = true;
      o.onStall();
    }, o.stallMs);
    try {
      yield chunk;
    } finally {
      clearTimeout(timer);
    }
  }

  const stream = Readable.from(chunks(), { objectMode: false });
  // 'close' comes after the generator has finished (destroy waits for it), whatever the reason.
  stream.once("close", () => {
    const outcome: ExportOutcome = completed
      ? "completed"
      : failed
        ? "failed"
        : stalled
          ? "stalled"
          : "client-gone";
    o.onEnd(outcome, rows);
  });
  return stream;
}

/** The app's export machinery, shared by the routes that stream a whole set (results, change events). */
export interface ExportContext {
  slots: ExportSlots;
  lane: ExportLane;
  batchRows: number;
  stallMs: number;
  metrics: Metrics;
}

/**
 * A slot for an export, taken before any query; without one, 429 with
 * Retry-After is answered and undefined returned.
 */
export function takeExportSlot(reply: FastifyReply, x: ExportContext): ExportSlot | undefined {
  const slot = x.slots.take();
  if (slot) return slot;
  x.metrics.rateLimited("export");
  reply.header("retry-after", EXPORT_RETRY_AFTER_S);
  sendProblem(
    reply,
    "rate-limited",
    429,
    `${x.slots.max} exports are running, the most this server runs at once; retry after ${EXPORT_RETRY_AFTER_S} s`,
  );
  return undefined;
}

/**
 * Sends a whole set as NDJSON or CSV (exportBody): `rows(signal)` is asked
 * once, with a signal that aborts when the client goes away; the slot is
 * released when the export ends, whatever the outcome.
 */
export function sendExport<R>(
  reply: FastifyReply,
  x: ExportContext,
  slot: ExportSlot,
  format: "ndjson" | "csv",
  rows: (signal: AbortSignal) => AsyncIterable<R>,
  csv?: { header: string; line: (row: R) => string },
): FastifyReply {
  const gone = new AbortController();
  reply.raw.once("close", () => gone.abort());
  if (reply.raw.destroyed) gone.abort();
  x.metrics.exportStarted();
  const body = exportBody<R>({
    rows: rows(gone.signal),
    format,
    ...(csv ? { csv } : {}),
    batchRows: x.batchRows,
    lane: x.lane,
    signal: gone.signal,
    stallMs: x.stallMs,
    onStall: () => reply.raw.destroy(),
    onEnd: (outcome, n) => {
      slot.release();
      x.metrics.exportEnded(outcome, n);
    },
  });
  return reply.type(FORMAT_CONTENT_TYPES[format]).send(body);
}
