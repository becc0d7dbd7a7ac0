/**
 * Request tracing for the API: the @fastify/otel plugin (a span per request
 * with http.* attributes, and spans for its route handler and hooks), loaded
 * only when tracing is on: `otelPlugin()` imports it then. The health,
 * readiness and metrics endpoints are not traced (scraped every few
 * seconds, they would drown the rest). The spans go to the global tracer
 * provider, the one libs/telemetry startTelemetry registered; pg's spans
 * (the store's queries) come under the request's.
 */
import type { FastifyPluginCallback } from "fastify";

const UNTRACED = /\/(healthz|readyz|metrics)$/;

export async function otelPlugin(): Promise<FastifyPluginCallback> {
  const { FastifyOtelInstrumentation } = await import("@fastify/otel");
  const instrumentation = new FastifyOtelInstrumentation({
    ignorePaths: (route) => UNTRACED.test(route.url),
  });
  return instrumentation.plugin() as FastifyPluginCallback;
}
