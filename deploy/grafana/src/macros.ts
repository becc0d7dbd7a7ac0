/**
 * Expands what Grafana expands in a query before sending it to the data
 * source, so that tests can run the dashboards' queries themselves.
 *
 * expandMacros(text, ctx, dialect):
 * - PostgreSQL macros: $__timeFilter(col) -> `col BETWEEN '<from>' AND
 *   '<to>'`, $__timeFrom() and $__timeTo() -> the quoted RFC 3339 instants,
 *   $__time(col) -> `col AS "time"`;
 * - global variables: $__interval (e.g. 5m), $__interval_ms, $__rate_interval
 *   (four intervals, at least 1m: the rule Grafana's Prometheus source uses
 *   with the default 15 s scrape interval), $__range, $__range_s, $__from and
 *   $__to (epoch ms);
 * - template variables, as $name, ${name}, ${name:format} or [[name]]. For
 *   PostgreSQL without a format, a value of a multi-value or include-All
 *   variable is a quoted literal and a list of them is joined with commas
 *   (Grafana's SQL data sources do so); a single-value variable is inserted
 *   raw. Formats: raw, csv, sqlstring (quoted, quotes doubled), regex
 *   ((a|b), for Prometheus, whose default this is for lists).
 * Anything else that looks like a macro or variable is an error (MacroError,
 * code "unknown-macro", "unknown-variable", "unknown-format", "bad-argument")
 * naming it: Grafana would send it on unexpanded, and the query would fail
 * later with a less useful message.
 *
 * variableValue(variable, options): the value Grafana selects for a query
 * variable once its options are known: all of them when the current value is
 * All ($__all; a custom All value is refused), the current value when it is among the
 * options, else the first option. Pure.
 */

export type Dialect = "postgres" | "prometheus";

export interface VariableValue {
  value: string | string[];
  multi: boolean;
  includeAll: boolean;
}

export interface MacroContext {
  from: Date;
  to: Date;
  /** The panel's interval ($__interval), in milliseconds. */
  intervalMs: number;
  variables: Readonly<Record<string, VariableValue>>;
}

export type MacroErrorCode = "unknown-macro" | "unknown-variable" | "unknown-format" | "bad-argument";

export class MacroError extends Error {
  readonly code: MacroErrorCode;
  constructor(code: MacroErrorCode, message: string) {
    super(message);
    this.name = "MacroError";
    this.code = code;
  }
}

/** Grafana's interval text: the largest unit that divides it (1d, 2h, 5m, 30s, 250ms). */
export function intervalText(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms)}ms`;
}

/** RFC 3339 in UTC without fractional seconds, as Grafana writes the time range into SQL. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function quote(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}

function escapeRegex(v: string): string {
  return v.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
}

function format(name: string, v: VariableValue, fmt: string | undefined, dialect: Dialect): string {
  const list = Array.isArray(v.value) ? v.value : [v.value];
  switch (fmt) {
    case undefined:
      if (dialect === "postgres")
        return Array.isArray(v.value) || v.multi || v.includeAll ? list.map(quote).join(",") : list.join("");
      return Array.isArray(v.value) ? `(${list.map(escapeRegex).join("|")})` : list.join("");
    case "raw":
      return list.join(",");
    case "csv":
      return list.join(",");
    case "sqlstring":
      return list.map(quote).join(",");
    case "regex":
      return list.length === 1 ? escapeRegex(list[0] as string) : `(${list.map(escapeRegex).join("|")})`;
    default:
      throw new MacroError(
        "unknown-format",
        `variable ${name}: format "${fmt}" is not one this expander knows`,
      );
  }
}

/** A macro's single column argument (an SQL expression without parentheses of its own is enough here). */
function column(macro: string, args: string): string {
  const a = args.trim();
  if (a === "" || a.includes(",")) throw new MacroError("bad-argument", `${macro}(${args}) takes one column`);
  return a;
}

export function expandMacros(text: string, ctx: MacroContext, dialect: Dialect = "postgres"): string {
  const from = rfc3339(ctx.from);
  const to = rfc3339(ctx.to);
  let out = text;
  if (dialect === "postgres") {
    out = out.replace(/\$__(\w+)\(([^()]*)\)/g, (_m, name: string, args: string) => {
      switch (name) {
        case "timeFilter":
          return `${column("$__timeFilter", args)} BETWEEN '${from}' AND '${to}'`;
        case "timeFrom":
          return `'${from}'`;
        case "timeTo":
          return `'${to}'`;
        case "time":
          return `${column("$__time", args)} AS "time"`;
        default:
          throw new MacroError("unknown-macro", `$__${name}(${args}) is not a macro this expander knows`);
      }
    });
  }
  const rangeMs = ctx.to.getTime() - ctx.from.getTime();
  const globals: Record<string, string> = {
    __interval_ms: String(ctx.intervalMs),
    __interval: intervalText(ctx.intervalMs),
    __rate_interval: intervalText(Math.max(4 * ctx.intervalMs, 60_000)),
    __range_s: String(Math.round(rangeMs / 1000)),
    __range_ms: String(rangeMs),
    __range: intervalText(rangeMs),
    __from: String(ctx.from.getTime()),
    __to: String(ctx.to.getTime()),
  };
  // Grafana's variable syntaxes: $name, [[name]] or [[name:format]], ${name} or ${name:format}.
  return out.replace(
    /\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g,
    (m, a?: string, b?: string, bf?: string, c?: string, cf?: string) => {
      const name = (a ?? b ?? c) as string;
      const fmt = bf ?? cf;
      if (name.startsWith("__")) {
        const g = globals[name];
        if (g === undefined)
          throw new MacroError("unknown-macro", `${m} is not a global variable this expander knows`);
        return g;
      }
      const v = ctx.variables[name];
      if (v === undefined) throw new MacroError("unknown-variable", `${m}: no variable "${name}"`);
      return format(name, v, fmt, dialect);
    },
  );
}

export interface QueryVariableJson {
  name: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  current?: { value?: string | string[] };
}

export function variableValue(variable: QueryVariableJson, options: readonly string[]): VariableValue {
  const multi = variable.multi === true;
  const includeAll = variable.includeAll === true;
  const cur = variable.current?.value;
  const curList = cur === undefined ? [] : Array.isArray(cur) ? cur : [cur];
  let value: string | string[];
  if (variable.allValue !== undefined)
    throw new MacroError("bad-argument", `variable ${variable.name}: a custom All value is not supported`);
  if (includeAll && curList.includes("$__all")) value = [...options];
  else if (curList.length > 0 && curList.every((c) => options.includes(c)))
    value = multi ? curList : (curList[0] as string);
  else if (options.length > 0) value = multi ? [options[0] as string] : (options[0] as string);
  else throw new MacroError("unknown-variable", `variable ${variable.name} has no options to select`);
  return { value, multi, includeAll };
}
