/**
 * Whether tracing is on, from the standard OpenTelemetry environment
 * variables (pure: the environment is an argument).
 *
 * Tracing is off unless an exporter is configured, so that a default run
 * starts no SDK and pays nothing:
 * - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: off;
 * - OTEL_TRACES_EXPORTER set to an exporter (otlp, console, zipkin): on;
 * - OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set: on
 *   (the exporter defaults to OTLP, http/protobuf);
 * - nothing of these: off.
 * Every other OTEL_* variable (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
 * OTEL_TRACES_SAMPLER and _ARG, OTEL_BSP_*, OTEL_EXPORTER_OTLP_PROTOCOL,
 * _HEADERS, _TIMEOUT...) is read by the SDK as the specification says.
 */
export function tracingEnabled(env: Record<string, string | undefined>): boolean {
  const set = (k: string) => (env[k] ?? "").trim() !== "";
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
  if (exporters.length > 0) return !exporters.every((e) => e === "none");
  return set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
}
