export * from "./bus.ts";
export * from "./dead-letter.ts";
export * from "./envelope.ts";
export * from "./errors.ts";
export * from "./memory.ts";
export * from "./schemas.ts";
export * from "./validate.ts";
