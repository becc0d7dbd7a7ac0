export * from "./config.ts";
export * from "./http.ts";
export * from "./log.ts";
export * from "./metrics.ts";
export * from "./service.ts";
