export * from "./batch.ts";
export * from "./deployment.ts";
export * from "./embedded.ts";
export * from "./follow.ts";
export * from "./seed.ts";
export * from "./stage-table.ts";
export * from "./stages.ts";
export * from "./trust.ts";
