export * from "./api-queries.ts";
export * from "./db.ts";
export * from "./errors.ts";
export * from "./export.ts";
export * from "./ids.ts";
export * from "./schema.ts";
export * from "./sql.ts";
export * from "./store.ts";
