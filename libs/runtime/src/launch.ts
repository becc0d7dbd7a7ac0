/**
 * The entry point of a service process: `launch(name, load)` starts
 * OpenTelemetry first (libs/telemetry sdk.ts: only when the OTEL_*
 * environment configures an exporter), then loads the service's module and
 * the runtime (which load `pg`, so the pg instrumentation sees it load), runs
 * the service (service.ts runService) and exits with its code.
 *
 * This module imports nothing that loads `pg`; services/<name>/src/main.ts
 * is only a call to it.
 */
import { startTelemetry } from "@danesweep/telemetry/sdk";
import type { Fields } from "./config.ts";
import type { ServiceSpec } from "./service.ts";

export async function launch<F extends Fields>(
  name: string,
  load: () => Promise<ServiceSpec<F>>,
): Promise<never> {
  const telemetry = await startTelemetry({
    service: name,
    env: process.env,
    onError: (e) =>
      process.stderr.write(`${name}: tracing not started: ${(e as Error)?.message ?? String(e)}\n`),
  });
  const [{ runService }, spec] = await Promise.all([import("./service.ts"), load()]);
  process.exit(await runService(spec, { argv: process.argv.slice(2), env: process.env, telemetry }));
}
