export * from "./auth.ts";
export * from "./facts.ts";
export * from "./names.ts";
export * from "./tlsa.ts";
export * from "./tlsa-base.ts";
export * from "./verdict-types.ts";
