/**
 * GET /v1/changes: the feed of change events between scans (libs/store
 * changes.ts records them under libs/dane's rules, docs/rules.md 49-51) that
 * a CERT polls: newly-broken, fixed, dane-adopted, dane-dropped and mx-moved,
 * each with the first-seen time of the new state, only ever between fully
 * observed verdicts of one policy profile.
 * Registered from app.ts (`registerChangeRoutes`); the route is thin.
 *
 * - Query: `since` (events detected at or after this RFC 3339 time), `kind`
 *   (one or more of CHANGE_KINDS, comma-separated), `domain`, `scan` (the
 *   scan that found them), `limit` (JSON pages), `cursor`.
 * - Accept: application/json (a page, in id order, default), or the whole
 *   filtered set as application/x-ndjson or text/csv (streamed in batches,
 *   through the app's export slots and lane: exports.ts), like the results.
 * - A JSON page is `{ items, next, poll }`: `next` continues now (null on the
 *   last page); `poll` is the cursor to ask with later for the events
 *   recorded after these (always given), so a poller never misses or repeats
 *   an event: ids grow in commit order (changes.ts).
 * Bad parameters are 400 naming them (problem.ts).
 */
import type { ChangeEvent, ChangeFilters, ChangeKind, Store } from "@danesweep/store";
import { CHANGE_KINDS, changesPage, streamChanges } from "@danesweep/store";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { csvRecord } from "./csv.ts";
import { type ExportContext, sendExport, takeExportSlot } from "./exports.ts";
import { decodeCursor, encodeCursor, FORMAT_CONTENT_TYPES, negotiate } from "./formats.ts";
import { badParameter, sendNotAcceptable } from "./problem.ts";
import { CursorParam, DomainParam, LimitParam, ScanIdParam } from "./schemas.ts";
import { parseTime } from "./time.ts";

export const ChangesQuery = Type.Object(
  {
    since: Type.Optional(Type.String({ maxLength: 64, description: "detected at or after (RFC 3339)" })),
    kind: Type.Optional(
      Type.String({
        maxLength: 200,
        pattern: "^[a-z-]+(,[a-z-]+)*$",
        description: `comma-separated: ${CHANGE_KINDS.join(", ")}`,
      }),
    ),
    domain: Type.Optional(DomainParam),
    scan: Type.Optional(ScanIdParam),
    limit: Type.Optional(LimitParam),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const ChangeEventSchema = Type.Object({
  id: Type.Integer(),
  detectedAt: Type.String(),
  domain: Type.String(),
  kind: Type.Union(CHANGE_KINDS.map((k) => Type.Literal(k))),
  since: Type.String({ description: "first seen in the new state (when the scan judged the domain)" }),
  previousAt: Type.String({ description: "last seen in the old state" }),
  scanId: Type.String(),
  previousScanId: Type.String(),
  dane: Type.Object({ before: Type.String(), after: Type.String() }),
  mx: Type.Object({ before: Nullable(Type.String()), after: Nullable(Type.String()) }),
  problems: Type.Object({ before: Type.Array(Type.String()), after: Type.Array(Type.String()) }),
});

export const ChangesPage = Type.Object({
  items: Type.Array(ChangeEventSchema),
  next: Nullable(Type.String({ description: "cursor of the next page; null on the last page" })),
  poll: Type.String({ description: "cursor to ask with later, for the events recorded after these" }),
});

/** CSV columns of the feed, in order. */
export const CHANGE_COLUMNS = [
  "id",
  "detected_at",
  "domain",
  "kind",
  "since",
  "previous_at",
  "scan_id",
  "previous_scan_id",
  "dane_before",
  "dane_after",
  "mx_before",
  "mx_after",
  "problems_before",
  "problems_after",
] as const;

export function changeCsvLine(e: ChangeEvent): string {
  return csvRecord([
    e.id,
    e.detectedAt,
    e.domain,
    e.kind,
    e.since,
    e.previousAt,
    e.scanId,
    e.previousScanId,
    e.dane.before,
    e.dane.after,
    e.mx.before,
    e.mx.after,
    e.problems.before.join(" "),
    e.problems.after.join(" "),
  ]);
}

export interface ChangeRouteDeps {
  store: Store;
  /** The app's export slots, lane and metrics (exports.ts). */
  exporting: ExportContext;
  /** The route config and security of the API's reads. */
  config: object;
  security: object[];
  /** The 4xx / 5xx response schemas. */
  errors: object;
  /** The domain as the API normalises it (app.ts normaliseDomain). */
  normaliseDomain: (d: string) => string | undefined;
}

/** A cursor names the id of the last event seen ("0": before the first). */
function cursorAfter(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const k = decodeCursor(cursor);
  if (k === undefined || !/^(0|[1-9][0-9]{0,17})$/.test(k))
    throw badParameter("cursor", "not a cursor this API made");
  return Number(k);
}

function filtersOf(
  q: Static<typeof ChangesQuery>,
  normalise: (d: string) => string | undefined,
): ChangeFilters {
  const f: ChangeFilters = {};
  if (q.since !== undefined) {
    const t = parseTime(q.since);
    if (!t.ok) throw badParameter("since", t.error);
    f.since = t.iso;
  }
  if (q.kind !== undefined) {
    const kinds = q.kind.split(",");
    for (const k of kinds)
      if (!(CHANGE_KINDS as readonly string[]).includes(k))
        throw badParameter("kind", `${JSON.stringify(k)} is not one of ${CHANGE_KINDS.join(", ")}`);
    f.kinds = [...new Set(kinds)] as ChangeKind[];
  }
  if (q.domain !== undefined) {
    const d = normalise(q.domain);
    if (d === undefined) throw badParameter("domain", "not a domain name");
    f.domain = d;
  }
  if (q.scan !== undefined) f.scanId = q.scan;
  return f;
}

export function registerChangeRoutes(scope: FastifyInstance, d: ChangeRouteDeps): void {
  const api = scope.withTypeProvider<TypeBoxTypeProvider>();
  api.route({
    method: ["GET", "HEAD"],
    url: "/v1/changes",
    exposeHeadRoute: false,
    config: d.config,
    schema: {
      summary:
        "Change events between scans (newly-broken, fixed, dane-adopted, dane-dropped, mx-moved); JSON pages, or the whole set as NDJSON or CSV (Accept)",
      querystring: ChangesQuery,
      security: d.security,
      produces: ["application/json", "application/x-ndjson", "text/csv"],
      response: { 200: ChangesPage, ...d.errors },
    } as never,
    handler: async (req, reply) => {
      const q = req.query as Static<typeof ChangesQuery>;
      const format = negotiate(req.headers.accept);
      if (format === undefined) return sendNotAcceptable(reply);
      const filters = filtersOf(q, d.normaliseDomain);
      const after = cursorAfter(q.cursor);
      if (req.method === "HEAD") return reply.type(FORMAT_CONTENT_TYPES[format]).send();
      if (format === "json") {
        const limit = q.limit ?? 100;
        const rows = await changesPage(
          d.store,
          filters,
          after === undefined ? { limit: limit + 1 } : { after, limit: limit + 1 },
        );
        const items = rows.slice(0, limit);
        const last = items[items.length - 1];
        const poll = encodeCursor(String(last?.id ?? after ?? 0));
        return { items, next: rows.length > limit && last ? encodeCursor(String(last.id)) : null, poll };
      }
      const slot = takeExportSlot(reply, d.exporting);
      if (!slot) return reply;
      return sendExport(
        reply,
        d.exporting,
        slot,
        format,
        (signal) => streamChanges(d.store, filters, d.exporting.batchRows, after, signal),
        { header: csvRecord(CHANGE_COLUMNS), line: changeCsvLine },
      );
    },
  });
}
