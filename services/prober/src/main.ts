/**
 * The prober service's process: tracing first (when OTEL_* configures an
 * exporter), then the service (service.ts), through libs/runtime launch.ts.
 * Run: node services/prober/src/main.ts (settings: --help).
 */
import { launch } from "@danesweep/runtime/launch";

if (import.meta.main) await launch("prober", async () => (await import("./service.ts")).proberService);
