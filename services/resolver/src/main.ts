/**
 * The resolver service's process: tracing first (when OTEL_* configures an
 * exporter), then the service (service.ts), through libs/runtime launch.ts.
 * Run: node services/resolver/src/main.ts (settings: --help).
 */
import { launch } from "@danesweep/runtime/launch";

if (import.meta.main) await launch("resolver", async () => (await import("./service.ts")).resolverService);
