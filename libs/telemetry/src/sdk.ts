/**
 * Starting OpenTelemetry in a process: `startTelemetry({ service, env })`.
 *
 * Start it first, before the modules that use `pg` are loaded (the pg
 * instrumentation patches the module as it loads): the services' main.ts and
 * the CLI's main.ts start it, then import the rest (runtime launch.ts).
 *
 * When tracing is off (config.ts: no exporter configured) it loads nothing
 * and returns `TELEMETRY_OFF`: `tracer` undefined, nothing to shut down.
 * When on, it starts the Node SDK (@opentelemetry/sdk-node), which reads the
 * standard OTEL_* variables (exporter, endpoint, protocol, sampler, batch
 * processor, resource), with:
 * - service.name `danesweep-<service>` unless OTEL_SERVICE_NAME names one;
 * - the pg instrumentation (@opentelemetry/instrumentation-pg), making spans
 *   only under a span of ours (a store batch), never for polling or
 *   housekeeping outside any trace;
 * - no metric reader and no log exporter (metrics are Prometheus text on
 *   /metrics, logs JSON lines on stderr: libs/runtime).
 * `shutdown()` flushes the spans still queued, waiting at most
 * `SHUTDOWN_TIMEOUT_MS` (an unreachable collector does not hold the exit).
 * A failure to start is not fatal: it is reported through `onError` and
 * tracing stays off.
 */

import { settlesWithin } from "@danesweep/timers";
import type { Tracer } from "@opentelemetry/api";
import { tracingEnabled } from "./config.ts";
import type { Tracing } from "./tracing.ts";

export { tracingEnabled };

export interface Telemetry {
  /** undefined when tracing is off. */
  tracer: Tracer | undefined;
  /** The service.name the spans carry ("" when off). */
  serviceName: string;
  /** A Tracing for a bus of this kind, or undefined when tracing is off. */
  tracing(messagingSystem: "kafka" | "in-memory"): Tracing | undefined;
  shutdown(): Promise<void>;
}

export const TELEMETRY_OFF: Telemetry = {
  tracer: undefined,
  serviceName: "",
  tracing: () => undefined,
  shutdown: async () => {},
};

export const SHUTDOWN_TIMEOUT_MS = 5000;

export interface StartOptions {
  /** "resolver", "prober", "aggregator", "seeder", "cli"... */
  service: string;
  env: Record<string, string | undefined>;
  onError?: (e: unknown) => void;
}

export async function startTelemetry(o: StartOptions): Promise<Telemetry> {
  if (!tracingEnabled(o.env)) return TELEMETRY_OFF;
  try {
    // Loaded only now: a process that does not trace loads none of it.
    const [{ NodeSDK }, { PgInstrumentation }, api, { Tracing }] = await Promise.all([
      import("@opentelemetry/sdk-node"),
      import("@opentelemetry/instrumentation-pg"),
      import("@opentelemetry/api"),
      import("./tracing.ts"),
    ]);
    const named = (o.env.OTEL_SERVICE_NAME ?? "").trim();
    const serviceName = named !== "" ? named : `danesweep-${o.service}`;
    const sdk = new NodeSDK({
      serviceName,
      instrumentations: [new PgInstrumentation({ requireParentSpan: true })],
      metricReaders: [],
      logRecordProcessors: [],
    });
    sdk.start();
    const tracer = api.trace.getTracer("danesweep");
    return {
      tracer,
      serviceName,
      tracing: (messagingSystem) => new Tracing(tracer, { messagingSystem }),
      shutdown: async () => {
        await settlesWithin(
          sdk.shutdown().catch((e: unknown) => o.onError?.(e)),
          SHUTDOWN_TIMEOUT_MS,
          { unref: true },
        );
      },
    };
  } catch (e) {
    o.onError?.(e);
    return TELEMETRY_OFF;
  }
}
