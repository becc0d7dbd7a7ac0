/**
 * Mail domain normalisation (pure).
 *
 * `normalizeDomain(input)` returns the lowercase A-label form without the
 * trailing dot, or a typed error; it never throws. Rules:
 * - surrounding whitespace is trimmed and one trailing dot removed (names are
 *   absolute, rule 3);
 * - a name with non-ASCII characters, or an "xn--" label, goes through
 *   node:url `domainToASCII` (UTS #46); a failure is "bad-idn", and so is an
 *   "xn--" label that is not valid Punycode (`domainToUnicode` leaves it as is);
 * - every label is letters, digits and hyphens (RFC 5321 §4.1.2 sub-domain;
 *   RFC 1123 §2.1), not starting or ending with a hyphen, 1..63 octets; the
 *   name is at most 253 characters (255 octets on the wire);
 * - an address literal ("[192.0.2.1]", "192.0.2.1") or an all-numeric last
 *   label is "address-literal": mail domains are names.
 */
import { domainToASCII, domainToUnicode } from "node:url";

export const NORMALIZE_ERRORS = [
  "empty",
  "empty-label",
  "label-too-long",
  "name-too-long",
  "bad-character",
  "bad-hyphen",
  "bad-idn",
  "address-literal",
] as const;
export type NormalizeError = (typeof NORMALIZE_ERRORS)[number];

export type NormalizeResult =
  | { ok: true; name: string }
  | { ok: false; error: NormalizeError; detail: string };

const MAX_NAME = 253;
const MAX_LABEL = 63;
const LDH = /^[a-z0-9-]+$/;
const NUMERIC = /^[0-9]+$/;
const ASCII = /^[\x20-\x7e]*$/;

function err(error: NormalizeError, detail: string): NormalizeResult {
  return { ok: false, error, detail };
}

function printable(s: string): string {
  const cut = s.length > 80 ? s.slice(0, 80) + "..." : s;
  return JSON.stringify(cut);
}

export function normalizeDomain(input: string): NormalizeResult {
  if (typeof input !== "string") return err("empty", "not a string");
  let s = input.trim();
  if (s.endsWith(".")) s = s.slice(0, -1);
  if (s === "") return err("empty", "empty name");
  if (s.startsWith("[") && s.endsWith("]"))
    return err("address-literal", `${printable(s)} is an address literal`);
  // Bound the work on absurd inputs before IDNA processing.
  if (s.length > 4 * MAX_NAME) return err("name-too-long", `${s.length} characters`);

  let name = s.toLowerCase();
  const needsIdna = !ASCII.test(s) || name.split(".").some((l) => l.startsWith("xn--"));
  if (needsIdna) {
    // Check empty labels first: UTS #46 would quietly drop some of them.
    if (name.split(/[.\u3002\uff0e\uff61]/).some((l) => l === "")) {
      return err("empty-label", `${printable(s)} has an empty label`);
    }
    let ascii = "";
    try {
      ascii = domainToASCII(s);
    } catch {
      ascii = "";
    }
    if (ascii === "") return err("bad-idn", `${printable(s)} is not a valid internationalised name`);
    name = ascii.toLowerCase();
    if (name.endsWith(".")) name = name.slice(0, -1);
  }

  const labels = name.split(".");
  for (const label of labels) {
    if (label === "") return err("empty-label", `${printable(s)} has an empty label`);
    if (label.length > MAX_LABEL) {
      return err("label-too-long", `label of ${label.length} octets (max ${MAX_LABEL})`);
    }
    if (!LDH.test(label)) {
      return err("bad-character", `label ${printable(label)} has a character other than a-z, 0-9, "-"`);
    }
    if (label.startsWith("xn--") && domainToUnicode(label).startsWith("xn--")) {
      return err("bad-idn", `label ${printable(label)} is not valid Punycode`);
    }
    if (label.startsWith("-") || label.endsWith("-")) {
      return err("bad-hyphen", `label ${printable(label)} starts or ends with a hyphen`);
    }
  }
  if (name.length > MAX_NAME) return err("name-too-long", `${name.length} characters (max ${MAX_NAME})`);
  if (NUMERIC.test(labels[labels.length - 1]!)) {
    return err("address-literal", `${printable(s)} ends in a numeric label`);
  }
  return { ok: true, name };
}

/** Canonical form of a query name as the resolver uses it: lowercase, no trailing dot, "." for the root. */
export function canonicalQname(name: string): string {
  let n = name.toLowerCase();
  if (n.length > 1 && n.endsWith(".")) n = n.slice(0, -1);
  return n === "" ? "." : n;
}

/** True when `zone` is `name` or one of its ancestors (names as canonicalQname gives them; "." is the root). */
export function atOrAbove(zone: string, name: string): boolean {
  return zone === "." || zone === name || name.endsWith(`.${zone}`);
}
