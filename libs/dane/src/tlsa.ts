/**
 * TLSA records: parsing, usability and digest agility (docs/rules.md rules
 * 19, 22; RFC 6698 §2.1, RFC 7218, RFC 7671 §9, RFC 7672 §3.1). Pure.
 *
 * Contract:
 * - `parseTlsaPresentation(text)`: "3 1 1 ab cd ..." (the three fields as
 *   decimals 0..255 or RFC 7218 mnemonics, the association data as hex of any
 *   case, possibly split by whitespace). Returns the record with lowercase hex,
 *   or an error from TLSA_PARSE_ERRORS: bad-syntax (fewer than four fields or a
 *   field that is not a number/mnemonic), bad-field (a number out of 0..255),
 *   bad-hex (odd length or a non-hex character).
 * - `parseTlsaRdata(rdata)`: the wire form; `truncated` when shorter than the
 *   three one-byte fields. Empty association data parses (it is unusable).
 * - `tlsaUsability(r)`: { usable: true } or the first reason from
 *   UNUSABLE_WHYS why an SMTP client must ignore the record (rule 19).
 * - `comparableRecords(records)`: the usable records a client compares after
 *   digest agility (rule 22): per (usage, selector), only the strongest
 *   supported digest present (SHA-512 > SHA-256), plus every full (0) record.
 * None of these throws.
 */
import { createPublicKey, X509Certificate } from "node:crypto";
import { hexToBytes, isHex, isSubjectPublicKeyInfo, parseCertificate } from "./der.ts";
import type { TlsaRecord } from "./facts.ts";

export const TLSA_PARSE_ERRORS = ["bad-syntax", "bad-field", "bad-hex", "truncated"] as const;
export type TlsaParseError = (typeof TLSA_PARSE_ERRORS)[number];

export type TlsaParseResult =
  | { ok: true; record: TlsaRecord }
  | { ok: false; error: TlsaParseError; detail: string };

/** RFC 7218 acronyms, accepted case-insensitively in presentation form. */
const USAGE_NAMES: Record<string, number> = {
  "pkix-ta": 0,
  "pkix-ee": 1,
  "dane-ta": 2,
  "dane-ee": 3,
  privcert: 255,
};
const SELECTOR_NAMES: Record<string, number> = { cert: 0, spki: 1, privsel: 255 };
const MATCHING_NAMES: Record<string, number> = { full: 0, "sha2-256": 1, "sha2-512": 2, privmatch: 255 };

function field(
  token: string,
  names: Record<string, number>,
  what: string,
): { ok: true; value: number } | { ok: false; error: TlsaParseError; detail: string } {
  if (/^[0-9]+$/.test(token)) {
    const value = Number(token);
    if (value > 255) return { ok: false, error: "bad-field", detail: `${what} ${token} is out of 0..255` };
    return { ok: true, value };
  }
  const named = names[token.toLowerCase()];
  if (named !== undefined) return { ok: true, value: named };
  return { ok: false, error: "bad-syntax", detail: `${what} "${token.slice(0, 20)}" is not a number` };
}

export function parseTlsaPresentation(text: string): TlsaParseResult {
  const tokens = text
    .trim()
    .split(/\s+/)
    .filter((t) => t.length > 0);
  if (tokens.length < 4) {
    return {
      ok: false,
      error: "bad-syntax",
      detail: `expected "usage selector matching-type data", got ${tokens.length} fields`,
    };
  }
  const usage = field(tokens[0]!, USAGE_NAMES, "usage");
  if (!usage.ok) return usage;
  const selector = field(tokens[1]!, SELECTOR_NAMES, "selector");
  if (!selector.ok) return selector;
  const matchingType = field(tokens[2]!, MATCHING_NAMES, "matching type");
  if (!matchingType.ok) return matchingType;
  const hex = tokens.slice(3).join("");
  if (!/^[0-9a-fA-F]*$/.test(hex))
    return { ok: false, error: "bad-hex", detail: "association data is not hex" };
  if (hex.length % 2)
    return { ok: false, error: "bad-hex", detail: "association data has an odd number of hex digits" };
  return {
    ok: true,
    record: {
      usage: usage.value,
      selector: selector.value,
      matchingType: matchingType.value,
      data: hex.toLowerCase(),
    },
  };
}

export function parseTlsaRdata(rdata: Uint8Array): TlsaParseResult {
  if (rdata.length < 3) {
    return { ok: false, error: "truncated", detail: `TLSA rdata of ${rdata.length} bytes, need at least 3` };
  }
  return {
    ok: true,
    record: {
      usage: rdata[0]!,
      selector: rdata[1]!,
      matchingType: rdata[2]!,
      data: Buffer.from(rdata.buffer, rdata.byteOffset + 3, rdata.byteLength - 3).toString("hex"),
    },
  };
}

// ------------------------------------------------------------- usability

export const UNUSABLE_WHYS = [
  "usage-pkix", // 0 PKIX-TA, 1 PKIX-EE: not for SMTP (RFC 7672 §3.1.3)
  "usage-unknown", // anything but 0..3 (255 PrivCert included)
  "selector-unknown", // not 0 Cert / 1 SPKI
  "matching-type-unknown", // not 0 Full / 1 SHA2-256 / 2 SHA2-512
  "digest-length", // SHA-256 data not 32 bytes, SHA-512 not 64
  "bad-certificate-data", // 2/3 0 0 whose data is not a certificate
  "bad-spki-data", // 2/3 1 0 whose data is not a SubjectPublicKeyInfo
  "bad-hex", // association data not even-length hex
] as const;
export type UnusableWhy = (typeof UNUSABLE_WHYS)[number];

export type Usability = { usable: true } | { usable: false; why: UnusableWhy };

/** Expected data length per matching type; 0 (full) has none. */
export const DIGEST_LENGTH: Record<number, number> = { 1: 32, 2: 64 };

/** Full certificate bytes parse both with our DER reader and with OpenSSL (via node). */
export function certificateParses(der: Uint8Array): boolean {
  if (!parseCertificate(der)) return false;
  try {
    new X509Certificate(der);
    return true;
  } catch {
    return false;
  }
}

/** Bare SubjectPublicKeyInfo bytes that OpenSSL accepts as a public key. */
export function spkiParses(der: Uint8Array): boolean {
  if (!isSubjectPublicKeyInfo(der)) return false;
  try {
    createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
    return true;
  } catch {
    return false;
  }
}

/** The answers of tlsaUsability: one object each, shared (read-only). */
const USABLE: Usability = Object.freeze({ usable: true });
const UNUSABLE = Object.fromEntries(
  UNUSABLE_WHYS.map((why) => [why, Object.freeze({ usable: false, why })]),
) as Record<UnusableWhy, Usability>;

/**
 * Whether a sender can use a TLSA record, or why not. A digest's data is
 * checked for its hex and its length only (nothing is decoded); full data is
 * decoded and parsed. The answer is a shared read-only object.
 */
export function tlsaUsability(r: TlsaRecord): Usability {
  if (r.usage === 0 || r.usage === 1) return UNUSABLE["usage-pkix"];
  if (r.usage !== 2 && r.usage !== 3) return UNUSABLE["usage-unknown"];
  if (r.selector !== 0 && r.selector !== 1) return UNUSABLE["selector-unknown"];
  if (r.matchingType !== 0 && r.matchingType !== 1 && r.matchingType !== 2) {
    return UNUSABLE["matching-type-unknown"];
  }
  if (typeof r.data !== "string" || !isHex(r.data)) return UNUSABLE["bad-hex"];
  if (r.matchingType !== 0) {
    return r.data.length === 2 * DIGEST_LENGTH[r.matchingType]! ? USABLE : UNUSABLE["digest-length"];
  }
  const data = hexToBytes(r.data);
  if (!data) return UNUSABLE["bad-hex"];
  if (r.selector === 0) return certificateParses(data) ? USABLE : UNUSABLE["bad-certificate-data"];
  return spkiParses(data) ? USABLE : UNUSABLE["bad-spki-data"];
}

// ---------------------------------------------------------- digest agility

/** Strength order of supported digests (RFC 7671 §9): higher wins. */
const DIGEST_STRENGTH: Record<number, number> = { 1: 1, 2: 2 };

export function comparableRecords(records: TlsaRecord[]): TlsaRecord[] {
  const usable = records.filter((r) => tlsaUsability(r).usable);
  const strongest = new Map<string, number>();
  for (const r of usable) {
    if (r.matchingType === 0) continue;
    const key = `${r.usage} ${r.selector}`;
    const s = DIGEST_STRENGTH[r.matchingType]!;
    if ((strongest.get(key) ?? 0) < s) strongest.set(key, s);
  }
  return usable.filter(
    (r) =>
      r.matchingType === 0 || DIGEST_STRENGTH[r.matchingType] === strongest.get(`${r.usage} ${r.selector}`),
  );
}
