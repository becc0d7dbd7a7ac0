/**
 * Service configuration from the environment and command-line flags, checked
 * against a TypeBox schema per field before anything starts.
 *
 * A field names its environment variable (DANESWEEP_...), its flag (derived:
 * DANESWEEP_PER_IP_RATE -> --per-ip-rate), its schema, and a default (a field
 * without one is required). Text is converted by the schema's kind: numbers
 * and integers with Number(), booleans from true/false/1/0/yes/no (a boolean
 * flag without a value is true), arrays split on commas. A flag wins over the
 * environment variable.
 *
 * loadConfig(fields, { env, argv }) never throws: it returns the typed values
 * and the positional arguments, or every problem found, each naming the
 * variable (and flag) at fault: unknown flags, missing required values, values
 * that do not convert or fail the schema (a value outside a closed set, a
 * union of literals, is told the choices). configHelp(fields) lists them all.
 * redactedConfig(fields, config) is the config with secret fields masked, for
 * the start-up log line.
 */
import { parseArgs } from "node:util";
import { redactUrl as maskUrlPassword } from "@danesweep/store";
import { KindGuard, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

export interface Field<T extends TSchema = TSchema> {
  env: string;
  schema: T;
  /** Absent: the field is required. */
  default?: Static<T>;
  doc: string;
  /** Masked in logs (passwords inside URLs). */
  secret?: boolean;
}

export type Fields = Record<string, Field>;

export type ConfigOf<F extends Fields> = { [K in keyof F]: Static<F[K]["schema"]> };

export interface ConfigIssue {
  /** The environment variable at fault ("" for an unknown flag). */
  variable: string;
  flag: string;
  message: string;
}

export type ConfigResult<F extends Fields> =
  | { ok: true; config: ConfigOf<F>; positionals: string[]; help: boolean }
  | { ok: false; issues: ConfigIssue[] };

/** DANESWEEP_PER_IP_RATE -> per-ip-rate. */
export function flagName(env: string): string {
  return env
    .replace(/^DANESWEEP_/, "")
    .toLowerCase()
    .replace(/_/g, "-");
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

type Converted = { ok: true; value: unknown } | { ok: false; message: string };

function convert(schema: TSchema, text: string): Converted {
  if (KindGuard.IsNumber(schema) || KindGuard.IsInteger(schema)) {
    const t = text.trim();
    const n = t === "" ? Number.NaN : Number(t);
    if (!Number.isFinite(n)) return { ok: false, message: `expected a number, got ${JSON.stringify(text)}` };
    return { ok: true, value: n };
  }
  if (KindGuard.IsBoolean(schema)) {
    const t = text.trim().toLowerCase();
    if (TRUE.has(t)) return { ok: true, value: true };
    if (FALSE.has(t)) return { ok: true, value: false };
    return { ok: false, message: `expected true or false, got ${JSON.stringify(text)}` };
  }
  if (KindGuard.IsArray(schema)) {
    const items = text
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const out: unknown[] = [];
    for (const it of items) {
      const c = convert(schema.items, it);
      if (!c.ok) return c;
      out.push(c.value);
    }
    return { ok: true, value: out };
  }
  return { ok: true, value: text };
}

/** The choices of a closed set (a union of literals); undefined for any other schema. */
function choicesOf(schema: TSchema): unknown[] | undefined {
  if (!KindGuard.IsUnion(schema) || !schema.anyOf.every((s) => KindGuard.IsLiteral(s))) return undefined;
  return schema.anyOf.map((s) => s.const);
}

function describe(value: unknown): string {
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function loadConfig<F extends Fields>(
  fields: F,
  src: { env: Record<string, string | undefined>; argv: string[] },
): ConfigResult<F> {
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const f of Object.values(fields)) {
    options[flagName(f.env)] = { type: KindGuard.IsBoolean(f.schema) ? "boolean" : "string" };
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: src.argv, options, allowPositionals: true, strict: true });
    values = parsed.values as Record<string, string | boolean | undefined>;
    positionals = parsed.positionals;
  } catch (e) {
    return {
      ok: false,
      issues: [{ variable: "", flag: "", message: (e as Error).message.split("\n")[0] ?? "bad arguments" }],
    };
  }
  const issues: ConfigIssue[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(fields)) {
    const flag = flagName(f.env);
    const fromFlag = values[flag];
    let value: unknown;
    if (typeof fromFlag === "boolean") value = fromFlag;
    else {
      const text = fromFlag ?? src.env[f.env];
      if (text === undefined || (text === "" && !KindGuard.IsString(f.schema))) {
        if (f.default === undefined) {
          issues.push({ variable: f.env, flag: `--${flag}`, message: `required: ${f.doc}` });
          continue;
        }
        value = f.default;
      } else {
        const c = convert(f.schema, text);
        if (!c.ok) {
          issues.push({ variable: f.env, flag: `--${flag}`, message: c.message });
          continue;
        }
        value = c.value;
      }
    }
    if (!Value.Check(f.schema, value)) {
      const choices = choicesOf(f.schema);
      if (choices) {
        const message = `expected one of ${choices.map(String).join(", ")} (got ${describe(value)})`;
        issues.push({ variable: f.env, flag: `--${flag}`, message });
        continue;
      }
      const first = Value.Errors(f.schema, value).First();
      issues.push({
        variable: f.env,
        flag: `--${flag}`,
        message: `${first?.message ?? "invalid"}${first?.path ? ` at ${first.path}` : ""} (got ${describe(value)})`,
      });
      continue;
    }
    config[key] = value;
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, config: config as ConfigOf<F>, positionals, help: values.help === true };
}

export function formatIssues(service: string, issues: ConfigIssue[]): string {
  return issues
    .map((i) =>
      i.variable === ""
        ? `${service}: bad arguments: ${i.message}`
        : `${service}: bad configuration: ${i.variable} (${i.flag}): ${i.message}`,
    )
    .join("\n");
}

export function configHelp(fields: Fields): string {
  const rows = Object.values(fields).map((f) => {
    const def = f.default === undefined ? "required" : `default ${describe(f.default)}`;
    return `  ${f.env} / --${flagName(f.env)}\n      ${f.doc} (${def})`;
  });
  return `${rows.join("\n")}\n`;
}

/** The config with secret fields masked (userinfo passwords in URLs, or the whole value). */
export function redactedConfig<F extends Fields>(fields: F, config: ConfigOf<F>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(fields)) {
    const v = (config as Record<string, unknown>)[k];
    out[k] = f.secret ? (typeof v === "string" ? redactUrl(v) : "***") : v;
  }
  return out;
}

/** A secret setting as it may be shown: a URL with its password masked (libs/store redactUrl), anything else "***". */
export function redactUrl(url: string): string {
  return /^[a-z]+:\/\//i.test(url) ? maskUrlPassword(url) : "***";
}
