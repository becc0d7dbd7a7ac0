/**
 * The seeder service's process: tracing first (when OTEL_* configures an
 * exporter), then the service (service.ts), through libs/runtime launch.ts.
 * Run: node services/seeder/src/main.ts (settings: --help).
 */
import { launch } from "@danesweep/runtime/launch";

if (import.meta.main) await launch("seeder", async () => (await import("./service.ts")).seederService);
