/**
 * Logs as JSON lines on stderr: {"time","level","service","msg",...fields}.
 * One line per call, written synchronously enough for a crash to keep what
 * was logged before it (stderr is unbuffered for files and pipes in Node).
 *
 * createLogger({ service, level, write?, now? }) -> Logger. Fields that do not
 * serialise (cycles, BigInt) are replaced by their String(); Error values are
 * written as { code, name, message }. Never throws.
 */

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
}

export function errorFields(e: unknown): LogFields {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { ...(typeof code === "string" ? { code } : {}), name: e.name, message: e.message };
  }
  return { message: String(e) };
}

function safe(v: unknown): unknown {
  if (v instanceof Error) return errorFields(v);
  if (typeof v === "bigint") return v.toString();
  return v;
}

export function createLogger(o: LoggerOptions, base: LogFields = {}): Logger {
  const min = LOG_LEVELS.indexOf(o.level ?? "info");
  const write = o.write ?? ((line: string) => process.stderr.write(line));
  const now = o.now ?? Date.now;
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    const rec: LogFields = { time: new Date(now()).toISOString(), level, service: o.service, msg, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = safe(v);
    let line: string;
    try {
      line = JSON.stringify(rec);
    } catch {
      line = JSON.stringify({
        ...rec,
        ...Object.fromEntries(Object.entries(fields ?? {}).map(([k, v]) => [k, String(v)])),
      });
    }
    try {
      write(`${line}\n`);
    } catch {
      // nowhere left to report to
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (f) => createLogger(o, { ...base, ...f }),
  };
}
