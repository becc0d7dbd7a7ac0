/**
 * MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) as data: the TXT records, the
 * policy file, the MX patterns, and which policy fetch a domain's facts call
 * for (docs/rules.md section J, rules 41-44). Pure: text in, values out.
 *
 * Contract:
 * - `stsRecord(lookup)`: the `_mta-sts` TXT lookup as a sender reads it
 *   (rule 41): "lookup-failed" (outcome error), "none" (no record beginning
 *   with "v=STSv1"), "invalid" (more than one such record, or the one
 *   record breaks the grammar of RFC 8461 §3.1: detail says where), or
 *   "valid" with the policy id.
 * - `parseStsPolicy(text)`: the policy file (RFC 8461 §3.2, rule 42): LF or
 *   CRLF separated `key: value` lines; `version: STSv1`, `mode` (enforce,
 *   testing, none) and `max_age` (1 to 10 digits) exactly once each, `mx`
 *   once or more (it may be absent with mode none); other well-formed keys
 *   are extensions and ignored. Returns the policy or the first problem.
 * - `mxPatternMatch(patterns, host)`: the first pattern that covers the MX
 *   host (RFC 8461 §4.1, rule 43): the same name, or "*." and a suffix
 *   covering exactly one more label; case and one trailing dot ignored.
 * - `tlsRptRecord(lookup)`: the `_smtp._tls` TXT lookup (RFC 8460 §3, rule
 *   40): "lookup-failed", "none", "invalid" (several "v=TLSRPTv1" records,
 *   bad syntax, no rua, a URI that is not mailto: or https:) or "valid" with
 *   the report URIs.
 * - `stsPolicyHost(domain)` is `mta-sts.<domain>`; `policyFetchTarget(facts)`
 *   the one fetch the facts call for: the first address of the policy host
 *   (A before AAAA, in the facts' canonical order), port 443, SNI the host;
 *   undefined when the facts hold no policy host or it has no address. The
 *   resolver stage requests exactly this fetch and the verdict engine looks
 *   up exactly this key.
 * Nothing here throws on well-typed input.
 */
import type { DomainFacts, Lookup, ProbeKey } from "./facts.ts";
import { matchesReferenceName } from "./names.ts";

export const MTA_STS_MODES = ["enforce", "testing", "none"] as const;
export type MtaStsMode = (typeof MTA_STS_MODES)[number];

/** The most a policy's max_age may say (RFC 8461 §3.2: one year). */
export const MAX_STS_MAX_AGE = 31_557_600;

export type StsRecord =
  | { state: "valid"; id: string }
  | { state: "none" }
  | { state: "lookup-failed" }
  | { state: "invalid"; detail: string };

export type TlsRptRecord =
  | { state: "valid"; rua: string[] }
  | { state: "none" }
  | { state: "lookup-failed" }
  | { state: "invalid"; detail: string };

export interface StsPolicy {
  mode: MtaStsMode;
  maxAge: number;
  /** The mx patterns, lowercase, in the order written. */
  mx: string[];
}

export type StsPolicyParse = { ok: true; policy: StsPolicy } | { ok: false; detail: string };

/** RFC 8461 §3.1 and RFC 8460 §3: "*WSP ';' *WSP" separates fields. */
const FIELD_DELIM = /[ \t]*;[ \t]*/;
const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
/** sts-ext-value: printable US-ASCII except ";", "=" and space. */
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;
const STS_ID = /^[A-Za-z0-9]{1,32}$/;

function show(s: string): string {
  const t = s.length > 60 ? `${s.slice(0, 60)}…` : s;
  return JSON.stringify(t);
}

/** The records of a TXT lookup that begin with the version tag; undefined when the lookup failed. */
function tagged(l: Lookup<string>, tag: string): string[] | undefined {
  if (l.outcome === "error") return undefined;
  if (l.outcome !== "answer") return [];
  return l.records.filter((r) => typeof r === "string" && r.startsWith(tag));
}

/** Splits "v=X; a=b; c=d;" into its fields after the version; a detail when it does not parse. */
function fields(record: string, tag: string): { fields: [string, string][] } | { detail: string } {
  const parts = record.split(FIELD_DELIM);
  if (parts[0] !== tag) return { detail: `${show(record)} does not begin with "${tag};"` };
  if (parts.length < 2) return { detail: `${show(record)} has no field after "${tag}"` };
  const out: [string, string][] = [];
  for (let i = 1; i < parts.length; i++) {
    const f = parts[i] as string;
    if (f === "" && i === parts.length - 1) break; // one trailing delimiter
    const eq = f.indexOf("=");
    if (eq <= 0) return { detail: `field ${show(f)} is not name=value` };
    out.push([f.slice(0, eq), f.slice(eq + 1)]);
  }
  if (out.length === 0) return { detail: `${show(record)} has no field after "${tag}"` };
  return { fields: out };
}

export function stsRecord(l: Lookup<string>): StsRecord {
  const found = tagged(l, "v=STSv1");
  if (found === undefined) return { state: "lookup-failed" };
  if (found.length === 0) return { state: "none" };
  if (found.length > 1) return { state: "invalid", detail: `${found.length} records begin with "v=STSv1"` };
  const f = fields(found[0] as string, "v=STSv1");
  if ("detail" in f) return { state: "invalid", detail: f.detail };
  let id: string | undefined;
  for (const [name, value] of f.fields) {
    if (name === "id") {
      if (id !== undefined) return { state: "invalid", detail: "id given twice" };
      if (!STS_ID.test(value))
        return { state: "invalid", detail: `id ${show(value)} is not 1-32 letters and digits` };
      id = value;
    } else if (!EXT_NAME.test(name) || !EXT_VALUE.test(value)) {
      return { state: "invalid", detail: `field ${show(`${name}=${value}`)} is not a valid extension` };
    }
  }
  if (id === undefined) return { state: "invalid", detail: "no id field" };
  return { state: "valid", id };
}

/** A dot-separated host name of letters, digits and hyphens (RFC 5321 Domain), lowercase. */
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

function validPattern(p: string): boolean {
  const name = p.startsWith("*.") ? p.slice(2) : p;
  return name.length > 0 && name.length <= 253 && DOMAIN.test(name);
}

export function parseStsPolicy(text: string): StsPolicyParse {
  if (typeof text !== "string") return { ok: false, detail: "no policy text" };
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  let version: string | undefined;
  let mode: string | undefined;
  let maxAge: string | undefined;
  const mx: string[] = [];
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, "");
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return { ok: false, detail: `line ${i + 1} ${show(line)} is not "key: value"` };
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^[ \t]+/, "");
    if (!EXT_NAME.test(key)) return { ok: false, detail: `line ${i + 1}: ${show(key)} is not a field name` };
    const once = (prev: string | undefined) => {
      if (prev !== undefined) throw new Error(`${key} given twice`);
      return value;
    };
    try {
      if (key === "version") version = once(version);
      else if (key === "mode") mode = once(mode);
      else if (key === "max_age") maxAge = once(maxAge);
      else if (key === "mx") mx.push(value.toLowerCase().replace(/\.$/, ""));
      else if (value === "" || !/^[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*$/.test(value)) {
        return { ok: false, detail: `line ${i + 1}: extension ${show(key)} has no printable value` };
      }
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
  }
  if (version === undefined) return { ok: false, detail: "no version field" };
  if (version !== "STSv1") return { ok: false, detail: `version ${show(version)} is not STSv1` };
  if (mode === undefined) return { ok: false, detail: "no mode field" };
  if (!(MTA_STS_MODES as readonly string[]).includes(mode)) {
    return { ok: false, detail: `mode ${show(mode)} is not enforce, testing or none` };
  }
  if (maxAge === undefined) return { ok: false, detail: "no max_age field" };
  if (!/^[0-9]{1,10}$/.test(maxAge))
    return { ok: false, detail: `max_age ${show(maxAge)} is not 1-10 digits` };
  for (const p of mx)
    if (!validPattern(p)) return { ok: false, detail: `mx ${show(p)} is not a host name or *.suffix` };
  if (mx.length === 0 && mode !== "none") return { ok: false, detail: `no mx field (mode ${mode})` };
  return { ok: true, policy: { mode: mode as MtaStsMode, maxAge: Number(maxAge), mx } };
}

export function mxPatternMatch(patterns: readonly string[], host: string): string | undefined {
  for (const p of patterns) if (matchesReferenceName([p], undefined, host)) return p;
  return undefined;
}

const RUA_SCHEMES = /^(mailto|https):/i;

export function tlsRptRecord(l: Lookup<string>): TlsRptRecord {
  const found = tagged(l, "v=TLSRPTv1");
  if (found === undefined) return { state: "lookup-failed" };
  if (found.length === 0) return { state: "none" };
  if (found.length > 1)
    return { state: "invalid", detail: `${found.length} records begin with "v=TLSRPTv1"` };
  const f = fields(found[0] as string, "v=TLSRPTv1");
  if ("detail" in f) return { state: "invalid", detail: f.detail };
  let rua: string[] | undefined;
  for (const [name, value] of f.fields) {
    if (name === "rua") {
      if (rua !== undefined) return { state: "invalid", detail: "rua given twice" };
      rua = value.split(/[ \t]*,[ \t]*/);
      for (const u of rua) {
        if (!RUA_SCHEMES.test(u) || /[\s]/.test(u) || u.length <= 7) {
          return { state: "invalid", detail: `rua ${show(u)} is not a mailto: or https: URI` };
        }
      }
    } else if (!EXT_NAME.test(name) || !EXT_VALUE.test(value)) {
      return { state: "invalid", detail: `field ${show(`${name}=${value}`)} is not a valid extension` };
    }
  }
  if (rua === undefined) return { state: "invalid", detail: "no rua field" };
  return { state: "valid", rua };
}

export function stsPolicyHost(domain: string): string {
  return `mta-sts.${domain}`;
}

/** HTTPS, where the policy is fetched from (RFC 8461 §3.3). */
export const STS_POLICY_PORT = 443;
/** The path of the policy on the policy host. */
export const STS_POLICY_PATH = "/.well-known/mta-sts.txt";

export interface PolicyFetchTarget extends ProbeKey {
  kind: "mta-sts-policy";
  /** The policy host (also the SNI and the Host header). */
  host: string;
}

export function policyFetchTarget(facts: DomainFacts): PolicyFetchTarget | undefined {
  const h = facts?.mtaSts?.host;
  if (!h) return undefined;
  const first = (l: Lookup<string> | undefined) =>
    l?.outcome === "answer" && typeof l.records[0] === "string" ? l.records[0] : undefined;
  const ip = first(h.a) ?? first(h.aaaa);
  if (ip === undefined) return undefined;
  return { kind: "mta-sts-policy", ip, port: STS_POLICY_PORT, sni: h.name, host: h.name };
}
