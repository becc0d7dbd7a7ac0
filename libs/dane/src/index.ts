export * from "./facts.ts";
export * from "./tlsa-base.ts";
export * from "./verdict-types.ts";
