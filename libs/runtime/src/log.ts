/**
 * The one logger of every danesweep process: pino, JSON lines on stderr,
 * {"level","time","service",...fields,"msg"} with the level as its name and
 * the time in ISO 8601. Written synchronously, so a crash keeps what was
 * logged before it. Fastify (the API) logs through the same pino instance
 * (`pinoOf(logger)`).
 *
 * createLogger({ service, level, write?, now?, traceIds? }) -> Logger.
 * `traceIds` (libs/telemetry activeTraceIds, given when tracing is on) adds
 * `trace_id` and `span_id` to every line written inside a span; without it
 * nothing is looked up. Error values in fields are written as
 * { code, name, message }, BigInts as text. Never throws.
 */
import { type Logger as Pino, pino } from "pino";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  write?: (line: string) => void;
  now?: () => number;
  /** The active span's ids, when tracing is on (libs/telemetry activeTraceIds). */
  traceIds?: () => { trace_id: string; span_id: string } | undefined;
}

export function errorFields(e: unknown): LogFields {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { ...(typeof code === "string" ? { code } : {}), name: e.name, message: e.message };
  }
  return { message: String(e) };
}

function safe(fields: LogFields): LogFields {
  let out: LogFields | undefined;
  for (const k in fields) {
    const v = fields[k];
    if (v instanceof Error || typeof v === "bigint") {
      out ??= { ...fields };
      out[k] = v instanceof Error ? errorFields(v) : v.toString();
    }
  }
  return out ?? fields;
}

const PINO = Symbol("pino");

/** The pino instance behind a Logger made by createLogger (Fastify's loggerInstance). */
export function pinoOf(log: Logger): Pino {
  return (log as unknown as { [PINO]: Pino })[PINO];
}

function wrap(p: Pino): Logger {
  const at =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      try {
        if (fields) p[level](safe(fields), msg);
        else p[level](msg);
      } catch {
        // nowhere left to report to
      }
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (f) => wrap(p.child(safe(f))),
    [PINO]: p,
  } as Logger;
}

export function createLogger(o: LoggerOptions): Logger {
  const now = o.now ?? Date.now;
  const write = o.write;
  const traceIds = o.traceIds;
  const destination = write
    ? {
        write: (s: string) => {
          try {
            write(s);
          } catch {
            // nowhere left to report to
          }
        },
      }
    : pino.destination({ fd: 2, sync: true });
  const p = pino(
    {
      level: o.level ?? "info",
      base: { service: o.service },
      messageKey: "msg",
      timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      ...(traceIds ? { mixin: () => traceIds() ?? {} } : {}),
    },
    destination,
  );
  return wrap(p);
}
