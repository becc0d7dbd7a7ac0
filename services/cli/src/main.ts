/**
 * danesweep: the command line. `danesweep help` lists the commands; each
 * command module exports run(argv, io) -> exit code (exit-codes.ts).
 *
 * Tracing: when the OTEL_* environment configures an exporter
 * (libs/telemetry config.ts), OpenTelemetry is started before any command
 * module is loaded (so the pg instrumentation sees `pg` load), handed to the
 * command as `io.telemetry`, and shut down (spans flushed) after it. Without
 * one nothing is started.
 */
import { startTelemetry, type Telemetry } from "@danesweep/telemetry/sdk";
import { EXIT } from "./exit-codes.ts";

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** OpenTelemetry, when tracing is on (main starts it). */
  telemetry?: Telemetry;
}

type Command = (argv: string[], io: Io) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  scan: {
    summary: "scan domains (all stages in one process on the embedded default, or against a deployment)",
    load: async () => (await import("./commands/scan.ts")).run,
  },
  demo: {
    summary: "bring up the test universe and scan the 24 reference domains beside their expected outcome",
    load: async () => (await import("./commands/demo.ts")).run,
  },
  show: {
    summary: "a domain's latest verdict with its explanation, and its history across scans",
    load: async () => (await import("./commands/show.ts")).run,
  },
  scans: {
    summary: "list scans with their counts",
    load: async () => (await import("./commands/scans.ts")).run,
  },
  export: {
    summary: "write a scan's facts and verdicts as Parquet files (DuckDB, pandas, Spark)",
    load: async () => (await import("./commands/export.ts")).run,
  },
  rejudge: {
    summary: "judge a scan's stored facts again with this engine (or another profile) and count what changed",
    load: async () => (await import("./commands/rejudge.ts")).run,
  },
  prune: {
    summary: "delete a scan from the store, and the stored data no other scan refers to",
    load: async () => (await import("./commands/prune.ts")).run,
  },
  topics: {
    summary: "create the Kafka topics of a deployment",
    load: async () => (await import("./commands/topics.ts")).run,
  },
  serve: {
    summary: "run the query API over the store",
    load: async () => (await import("./commands/serve.ts")).run,
  },
  token: {
    summary: "create, list or revoke API tokens",
    load: async () => (await import("./commands/token.ts")).run,
  },
};

function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return (
    "usage: danesweep COMMAND [OPTIONS]\n\ncommands:\n" +
    Object.entries(COMMANDS)
      .map(([k, v]) => `  ${k.padEnd(w)}  ${v.summary}`)
      .join("\n") +
    "\n\n`danesweep COMMAND --help` describes a command's options.\n" +
    "Tracing (OpenTelemetry): set OTEL_EXPORTER_OTLP_ENDPOINT (and the other standard OTEL_* variables).\n"
  );
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout.write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.stderr.write(`danesweep: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await (await cmd.load())(rest, io);
  } catch (e) {
    // Anything that reaches here is a bug or an environment failure, not bad usage.
    const err = e as Error & { code?: string };
    const message = err?.message ?? String(e);
    // A StoreError's message starts with its code already.
    const code = err?.code && !message.startsWith(`${err.code}: `) ? `${err.code}: ` : "";
    io.stderr.write(
      `danesweep ${name}: failed: ${code}${message}\n` +
        (process.env.DANESWEEP_DEBUG ? `${err?.stack}\n` : "(set DANESWEEP_DEBUG=1 for the stack trace)\n"),
    );
    return EXIT.failure;
  }
}

if (import.meta.main) {
  // A closed pipe (danesweep show x | head) ends the output quietly, as for any Unix tool.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  const telemetry = await startTelemetry({
    service: "cli",
    env: process.env,
    onError: (e) => process.stderr.write(`danesweep: tracing: ${(e as Error)?.message ?? String(e)}\n`),
  });
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    ...(telemetry.tracer ? { telemetry } : {}),
  });
  await telemetry.shutdown();
  process.exitCode = code;
}
