/**
 * The aggregator service's process: tracing first (when OTEL_* configures an
 * exporter), then the service (service.ts), through libs/runtime launch.ts.
 * Run: node services/aggregator/src/main.ts (settings: --help).
 */
import { launch } from "@danesweep/runtime/launch";

if (import.meta.main)
  await launch("aggregator", async () => (await import("./service.ts")).aggregatorService);
