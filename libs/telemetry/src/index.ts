export * from "./config.ts";
export * from "./semconv.ts";
export * from "./spans.ts";
export * from "./tracing.ts";
