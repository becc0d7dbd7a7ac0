/**
 * DANE authentication of a server certificate chain against a secure TLSA
 * RRset (rfc7672-rules.md rules 22, 23, 25-27; RFC 7672 §3, RFC 7671 §5,
 * RFC 6698 §2.1, RFC 5280 §6.1). Pure: time is the `now` argument.
 *
 * Contract of `authenticate({ records, chain, names, now })`:
 * - Records are filtered by usability (rule 19) and digest agility (rule 22);
 *   any one remaining record that matches authenticates (rule 23).
 * - DANE-EE(3) matches the leaf only (selector 0: its DER, 1: its SPKI as
 *   encoded in it; matching 0 exact, 1 SHA-256, 2 SHA-512). No chain, names or
 *   dates are checked.
 * - DANE-TA(2) matches certificates at depth >= 1 of the chain as sent; a full
 *   TA (2 0 0 certificate, 2 1 0 bare key) may also be the unsent issuer of a
 *   certificate on the path (reported with depth -1). The path from the leaf to
 *   the TA is built by issuer name and signature over the certificates sent (in
 *   sent order first), then checked as RFC 5280 does: every issuer below the TA
 *   must be a CA (basicConstraints cA, keyUsage keyCertSign when present), each
 *   issuer's pathLenConstraint holds (the TA's too), every certificate below the
 *   TA is within its validity dates, and the leaf matches one of `names`.
 * - Success: { ok: true, matched: { record, depth }, usage, detail }.
 * - Failure: { ok: false, failure, detail, tried } with `failure` from
 *   AUTH_FAILURES and `tried` the number of records compared:
 *   no-usable-records (nothing to compare), no-certificate (empty chain),
 *   chain-too-long (more than MAX_CHAIN certificates), bad-certificate (the
 *   leaf, or under DANE-TA any certificate, is not base64 of a well-formed
 *   certificate), no-match (no record matched anything), chain-invalid (a TA
 *   matched or a candidate issuer was found but no valid path reaches a TA:
 *   bad signature, non-CA issuer, path length), expired / not-yet-valid (a
 *   certificate below the TA, lowest depth reported), name-mismatch. When
 *   DANE-EE and DANE-TA both fail, the more specific DANE-TA failure is given.
 * Never throws; each certificate is decoded and parsed at most once per call.
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import {
  bytesEqual,
  bytesToHex,
  hexToBytes,
  KEY_USAGE_KEY_CERT_SIGN,
  type ParsedCertificate,
  parseCertificate,
} from "./der.ts";
import type { TlsaRecord } from "./facts.ts";
import { matchesAnyReferenceName } from "./names.ts";
import { comparableRecords } from "./tlsa.ts";
import type { MatchedRecord } from "./verdict-types.ts";

export const AUTH_FAILURES = [
  "no-certificate",
  "no-usable-records",
  "no-match",
  "chain-invalid",
  "name-mismatch",
  "expired",
  "not-yet-valid",
  "bad-certificate",
  "chain-too-long",
] as const;
export type AuthFailure = (typeof AUTH_FAILURES)[number];

/** Longest chain judged; longer ones fail with chain-too-long. */
export const MAX_CHAIN = 32;

export interface AuthInput {
  /** The whole secure RRset (unusable records are ignored here). */
  records: TlsaRecord[];
  /** Base64 DER, exactly as the server sent it, leaf first. */
  chain: string[];
  /** Reference identifiers for DANE-TA name checks (TLSA base domain first). */
  names: string[];
  /** Epoch ms, for validity dates under DANE-TA. */
  now: number;
  /**
   * Under DANE-TA, the most certificates above the leaf a path may have
   * (Postfix smtp_tls_scert_verifydepth); 0 or absent: MAX_CHAIN.
   */
  maxDepth?: number;
}

export type AuthResult =
  | { ok: true; matched: MatchedRecord; usage: 2 | 3; detail: string }
  | { ok: false; failure: AuthFailure; detail: string; tried: number };

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

interface Node {
  depth: number;
  parsed: ParsedCertificate;
  x509?: X509Certificate;
  /** The certificate's public key; null when OpenSSL cannot load it. */
  key?: KeyObject | null;
}

interface Anchor {
  record: TlsaRecord;
  key: KeyObject;
  /** Set for 2 0 0 (a full certificate); absent for 2 1 0 (a bare key). */
  cert?: ParsedCertificate;
}

function recordText(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType}`;
}

function decodeCert(b64: unknown): ParsedCertificate | undefined {
  if (typeof b64 !== "string" || b64.length % 4 !== 0 || !BASE64_RE.test(b64)) return undefined;
  const der = new Uint8Array(Buffer.from(b64, "base64"));
  return parseCertificate(der);
}

function x509Of(node: Node): X509Certificate | undefined {
  if (!node.x509) {
    try {
      node.x509 = new X509Certificate(node.parsed.der);
    } catch {
      return undefined;
    }
  }
  return node.x509;
}

/** Per-call matcher with a cache of the selected data's digests. */
class Matcher {
  readonly #cache = new Map<string, string>();

  matches(node: Node, r: TlsaRecord): boolean {
    const key = `${node.depth}/${r.selector}/${r.matchingType}`;
    let value = this.#cache.get(key);
    if (value === undefined) {
      const selected = r.selector === 0 ? node.parsed.der : node.parsed.spki;
      value =
        r.matchingType === 0
          ? bytesToHex(selected)
          : createHash(r.matchingType === 1 ? "sha256" : "sha512")
              .update(selected)
              .digest("hex");
      this.#cache.set(key, value);
    }
    return value === r.data.toLowerCase();
  }
}

function keyOf(node: Node): KeyObject | undefined {
  if (node.key === undefined) {
    try {
      node.key = x509Of(node)?.publicKey ?? null;
    } catch {
      node.key = null;
    }
  }
  return node.key ?? undefined;
}

function verifies(node: Node, key: KeyObject): boolean {
  const x = x509Of(node);
  if (!x) return false;
  try {
    return x.verify(key);
  } catch {
    return false;
  }
}

function anchorsOf(records: TlsaRecord[]): Anchor[] {
  const out: Anchor[] = [];
  for (const r of records) {
    if (r.usage !== 2 || r.matchingType !== 0) continue;
    const data = hexToBytes(r.data);
    if (!data) continue;
    try {
      if (r.selector === 0) {
        const cert = parseCertificate(data);
        if (cert) out.push({ record: r, key: new X509Certificate(data).publicKey, cert });
      } else {
        out.push({
          record: r,
          key: createPublicKey({ key: Buffer.from(data), format: "der", type: "spki" }),
        });
      }
    } catch {
      // unusable data was filtered already; stay total anyway
    }
  }
  return out;
}

function isSelfIssued(c: ParsedCertificate): boolean {
  return bytesEqual(c.subject, c.issuer);
}

/** RFC 5280 §6.1.4 (k), (n) for an intermediate; a looser test for a trust anchor certificate. */
function caProblem(c: ParsedCertificate, isAnchor: boolean): string | undefined {
  if (c.keyUsage !== undefined && (c.keyUsage & KEY_USAGE_KEY_CERT_SIGN) === 0) {
    return "keyUsage lacks keyCertSign";
  }
  if (c.basicConstraints) return c.basicConstraints.ca ? undefined : "basicConstraints cA is false";
  if (isAnchor) return undefined;
  return "no basicConstraints";
}

type TaOutcome =
  | { ok: true; matched: MatchedRecord; detail: string }
  | { ok: false; failure: AuthFailure; detail: string };

function daneTa(
  nodes: Node[],
  taRecords: TlsaRecord[],
  matcher: Matcher,
  names: string[],
  now: number,
): TaOutcome {
  const anchors = anchorsOf(taRecords);
  const taMatch = (n: Node): TlsaRecord | undefined =>
    n.depth >= 1 ? taRecords.find((r) => matcher.matches(n, r)) : undefined;

  const path: Node[] = [nodes[0]!];
  const inPath = new Set<number>([0]);
  const problems: string[] = [];
  let ta: { record: TlsaRecord; depth: number; cert?: ParsedCertificate } | undefined;

  for (let cur = nodes[0]!; path.length <= MAX_CHAIN; ) {
    const hit = taMatch(cur);
    if (hit) {
      ta = { record: hit, depth: cur.depth, cert: cur.parsed };
      path.pop(); // the TA itself is not below the TA
      break;
    }
    // Issuers among the certificates sent: the next one in sent order first.
    const byName = nodes.filter(
      (n) => !inPath.has(n.depth) && bytesEqual(n.parsed.subject, cur.parsed.issuer),
    );
    byName.sort((a, b) =>
      a.depth === cur.depth + 1 ? -1 : b.depth === cur.depth + 1 ? 1 : a.depth - b.depth,
    );
    const verified: Node[] = [];
    for (const cand of byName) {
      const key = keyOf(cand);
      if (key && verifies(cur, key)) verified.push(cand);
      else
        problems.push(`signature of depth ${cur.depth} does not verify with the key of depth ${cand.depth}`);
    }
    const toAnchor = verified.find((n) => taMatch(n));
    if (!toAnchor) {
      // A full trust anchor not (yet) in the path may have issued `cur`.
      const anchor = anchors.find((a) => {
        if (!a.cert) return verifies(cur, a.key);
        if (!bytesEqual(a.cert.subject, cur.parsed.issuer)) return false;
        if (verifies(cur, a.key)) return true;
        problems.push(
          `signature of depth ${cur.depth} does not verify with the key of the full trust anchor`,
        );
        return false;
      });
      if (anchor) {
        ta = anchor.cert
          ? { record: anchor.record, depth: -1, cert: anchor.cert }
          : { record: anchor.record, depth: -1 };
        break;
      }
    }
    const next = toAnchor ?? verified[0];
    if (!next) break;
    path.push(next);
    inPath.add(next.depth);
    cur = next;
  }

  if (!ta) {
    const sentTa = nodes.find((n) => taMatch(n));
    if (sentTa || problems.length > 0) {
      return {
        ok: false,
        failure: "chain-invalid",
        detail: sentTa
          ? `a DANE-TA record matched depth ${sentTa.depth} but no valid path reaches it from the leaf${problems.length ? `: ${problems[0]}` : ""}`
          : `no trust anchor reached: ${problems[0]}`,
      };
    }
    return {
      ok: false,
      failure: "no-match",
      detail: "no DANE-TA record matched a certificate at depth >= 1 or issued the chain",
    };
  }

  // RFC 5280 checks on the path below the TA: issuers are CAs, path lengths hold.
  const issuers: { cert: ParsedCertificate; pos: number; anchor: boolean; label: string }[] = [];
  for (let k = 1; k < path.length; k++) {
    issuers.push({ cert: path[k]!.parsed, pos: k, anchor: false, label: `depth ${path[k]!.depth}` });
  }
  if (ta.cert) {
    issuers.push({
      cert: ta.cert,
      pos: path.length,
      anchor: true,
      label: ta.depth >= 0 ? `the TA at depth ${ta.depth}` : "the TA",
    });
  }
  for (const { cert, pos, anchor, label } of issuers) {
    const problem = caProblem(cert, anchor);
    if (problem) return { ok: false, failure: "chain-invalid", detail: `${label} is not a CA: ${problem}` };
    const pathLen = cert.basicConstraints?.pathLen;
    if (pathLen !== undefined) {
      let below = 0;
      for (let k = 1; k < pos; k++) if (!isSelfIssued(path[k]!.parsed)) below++;
      if (below > pathLen) {
        return {
          ok: false,
          failure: "chain-invalid",
          detail: `${label} has pathLenConstraint ${pathLen} but ${below} intermediate certificates follow it`,
        };
      }
    }
  }
  for (const n of path) {
    if (now < n.parsed.notBefore) {
      return {
        ok: false,
        failure: "not-yet-valid",
        detail: `certificate at depth ${n.depth} is not valid before ${new Date(n.parsed.notBefore).toISOString()}`,
      };
    }
    if (now > n.parsed.notAfter) {
      return {
        ok: false,
        failure: "expired",
        detail: `certificate at depth ${n.depth} expired at ${new Date(n.parsed.notAfter).toISOString()}`,
      };
    }
  }
  const leaf = nodes[0]!.parsed;
  const refs = Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
  const matchedName = matchesAnyReferenceName(leaf.dnsNames, leaf.commonNames, refs);
  if (matchedName === undefined) {
    const presented = leaf.dnsNames.length ? leaf.dnsNames : leaf.commonNames;
    return {
      ok: false,
      failure: "name-mismatch",
      detail: `leaf names [${presented.slice(0, 5).join(", ")}] match none of [${refs.slice(0, 5).join(", ")}]`,
    };
  }
  const where = ta.depth >= 0 ? `depth ${ta.depth}` : "a trust anchor not sent (depth -1)";
  return {
    ok: true,
    matched: { record: ta.record, depth: ta.depth },
    detail: `${recordText(ta.record)} matched ${where}; chain of ${path.length} below it valid; leaf matches ${matchedName}`,
  };
}

export function authenticate(input: AuthInput): AuthResult {
  const records = Array.isArray(input?.records)
    ? input.records.filter((r) => r && typeof r === "object")
    : [];
  const comparable = comparableRecords(records);
  const tried = comparable.length;
  if (tried === 0) {
    return {
      ok: false,
      failure: "no-usable-records",
      detail: `none of ${records.length} TLSA records is usable`,
      tried,
    };
  }
  const chain = Array.isArray(input.chain) ? input.chain : [];
  if (chain.length === 0)
    return { ok: false, failure: "no-certificate", detail: "the server sent no certificate", tried };
  if (chain.length > MAX_CHAIN) {
    return {
      ok: false,
      failure: "chain-too-long",
      detail: `${chain.length} certificates, more than ${MAX_CHAIN}`,
      tried,
    };
  }
  const leafParsed = decodeCert(chain[0]);
  if (!leafParsed) {
    return { ok: false, failure: "bad-certificate", detail: "the leaf certificate does not parse", tried };
  }
  const nodes: Node[] = [{ depth: 0, parsed: leafParsed }];
  const matcher = new Matcher();

  // DANE-EE(3): the leaf only.
  for (const r of comparable) {
    if (r.usage === 3 && matcher.matches(nodes[0]!, r)) {
      return {
        ok: true,
        matched: { record: r, depth: 0 },
        usage: 3,
        detail: `${recordText(r)} matched the leaf`,
      };
    }
  }

  const taRecords = comparable.filter((r) => r.usage === 2);
  if (taRecords.length === 0) {
    return {
      ok: false,
      failure: "no-match",
      detail: `none of ${tried} DANE-EE records matched the leaf`,
      tried,
    };
  }
  for (let i = 1; i < chain.length; i++) {
    const parsed = decodeCert(chain[i]);
    if (!parsed)
      return {
        ok: false,
        failure: "bad-certificate",
        detail: `certificate at depth ${i} does not parse`,
        tried,
      };
    nodes.push({ depth: i, parsed });
  }
  if (!x509Of(nodes[0]!)) {
    return {
      ok: false,
      failure: "bad-certificate",
      detail: "the leaf certificate is rejected by OpenSSL",
      tried,
    };
  }
  const ta = daneTa(nodes, taRecords, matcher, input.names, input.now);
  if (ta.ok) return { ok: true, matched: ta.matched, usage: 2, detail: ta.detail };
  const eeCount = comparable.length - taRecords.length;
  const detail =
    eeCount > 0 ? `${ta.detail}; none of ${eeCount} DANE-EE records matched the leaf` : ta.detail;
  return { ok: false, failure: ta.failure, detail, tried };
}
