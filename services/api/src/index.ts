/** @danesweep/api: the query API (app.ts), its tokens (tokens.ts), problems and formats. */
export * from "./app.ts";
export * from "./formats.ts";
export * from "./problem.ts";
export * from "./schemas.ts";
export * from "./tokens.ts";
