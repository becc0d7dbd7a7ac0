/**
 * @danesweep/api: the query API (app.ts), its tokens (tokens.ts), problems,
 * formats, exports, trusted proxies, request tracing (otel.ts) and the spreadsheet-safe CSV encoder (csv.ts, also
 * "@danesweep/api/csv" for importers that do not want the web server).
 */
export * from "./app.ts";
export * from "./csv.ts";
export * from "./exports.ts";
export * from "./formats.ts";
export * from "./otel.ts";
export * from "./problem.ts";
export * from "./proxy.ts";
export * from "./schemas.ts";
export * from "./time.ts";
export * from "./tokens.ts";
