/**
 * DANE authentication of a server certificate chain against a secure TLSA
 * RRset, as OpenSSL 3.0's DANE verifier does it for Postfix (docs/rules.md
 * rules 22, 23, 25-27; RFC 7672 §3, RFC 7671 §5, RFC 6698 §2.1, RFC 5280 §6.1).
 * Pure: time is the `now` argument.
 *
 * Contract of `authenticate({ records, chain, names, now, maxDepth? })`:
 * - Records are filtered by usability (rule 19) and digest agility (rule 22);
 *   any one remaining record that matches authenticates (rule 23).
 * - DANE-EE(3) matches the leaf only (selector 0: its DER, 1: its SPKI as
 *   encoded in it; matching 0 exact, 1 SHA-256, 2 SHA-512). No chain, names,
 *   dates or extensions are checked.
 * - DANE-TA(2): one path is built from the leaf as OpenSSL builds it. The
 *   candidate issuers are the full trust-anchor certificates of 2 0 0 records
 *   first, then the certificates the server sent, in that order; a candidate
 *   issues a certificate when its subject equals the certificate's issuer name
 *   (compared canonically), the certificate's authority key identifier (key
 *   id, serial, issuer name), when present, agrees with the candidate, and the
 *   candidate's key type suits the certificate's signature algorithm. Among
 *   the candidates not used yet, the first one valid at `now` is taken, else
 *   the one expiring last (a duplicate or cross-signed issuer that has expired
 *   is passed over when another is valid); there is no other backtracking.
 *   Building stops at a self-signed certificate or when no candidate is left.
 *   Each certificate added (never the leaf) is compared with the TA records:
 *   the first that matches is the trust anchor and ends the path. Otherwise a
 *   2 1 0 bare key whose signature check succeeds on the top certificate of
 *   the path is the trust anchor (reported at depth -1).
 * - The path is then checked in OpenSSL's order: length (at most `maxDepth`
 *   certificates above the leaf, when given), extensions (no unsupported
 *   critical extension, no proxy certificate; every certificate above the leaf
 *   a CA: basicConstraints cA with keyCertSign when keyUsage is present, the
 *   top one may instead be a v1 self-signed root or carry keyUsage keyCertSign
 *   without basicConstraints; extended key usage, when present on any of them,
 *   includes serverAuth; the leaf's keyUsage, when present, allows
 *   digitalSignature, keyEncipherment or keyAgreement; pathLenConstraint),
 *   the leaf's names against `names` (rule 27), signatures and validity
 *   periods (every certificate below the anchor, and a self-issued anchor
 *   certificate too; an issuer's keyUsage must allow keyCertSign), and name
 *   constraints of every certificate above each one.
 * - Success: { ok: true, matched: { record, depth }, usage, detail }; depth is
 *   the index in the chain as sent, -1 for a trust anchor not sent (a 2 0 0
 *   certificate from DNS or a 2 1 0 key).
 * - Failure: { ok: false, failure, detail, tried } with `failure` from
 *   AUTH_FAILURES and `tried` the number of records compared:
 *   no-usable-records (nothing to compare), no-certificate (empty chain),
 *   chain-too-long (more than MAX_CHAIN certificates sent, or a path longer
 *   than `maxDepth` allows), bad-certificate (the leaf, or under DANE-TA any
 *   certificate, is not base64 of a well-formed certificate), no-match (no
 *   record matched anything on the path), chain-invalid (a TA record matched a
 *   certificate the path does not reach, or the path breaks a rule above:
 *   signature, CA, key usage, extended key usage, path length, name
 *   constraints, critical extension), expired / not-yet-valid (the highest
 *   certificate checked that is out of its dates), name-mismatch. When
 *   DANE-EE and DANE-TA both fail, the DANE-TA failure is given.
 * Never throws; each certificate is decoded and parsed at most once per call.
 */
import { createHash, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { bytesEqual, bytesToHex, hexToBytes, type ParsedCertificate, parseCertificate } from "./der.ts";
import type { TlsaRecord } from "./facts.ts";
import { nameConstraintViolation } from "./name-constraints.ts";
import { matchesAnyReferenceName } from "./names.ts";
import { comparableRecords } from "./tlsa.ts";
import type { MatchedRecord } from "./verdict-types.ts";
import {
  type CertExtensions,
  certExtensions,
  EKU_SERVER_AUTH,
  EKU_SGC,
  KU_DIGITAL_SIGNATURE,
  KU_KEY_AGREEMENT,
  KU_KEY_CERT_SIGN,
  KU_KEY_ENCIPHERMENT,
  NS_ANY_CA,
  NS_SSL_CA,
  NS_SSL_SERVER,
  nameRdns,
  sameName,
} from "./x509-ext.ts";

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

/** A certificate that may be on the path: sent by the server (depth >= 0) or from a 2 0 0 record (depth -1). */
interface Node {
  depth: number;
  /** A root of a WebPKI trust store (depth -1). */
  trusted?: boolean;
  parsed: ParsedCertificate;
  x509?: X509Certificate | null;
  /** The certificate's public key; null when OpenSSL cannot load it. */
  key?: KeyObject | null;
  /** Its decoded extensions, once asked for. */
  ext?: CertExtensions;
}

type TaOutcome =
  | { ok: true; matched: MatchedRecord; detail: string }
  | { ok: false; failure: AuthFailure; detail: string };

function recordText(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType}`;
}

/*
 * What is derived from a certificate alone (its parse, OpenSSL's view of it,
 * its public key, its extensions, its TLSA digests, which keys verify its
 * signature) depends on nothing else, and a scan meets the same few chains
 * again and again (every domain of a hosting provider): it is worked out once
 * per certificate and kept. The decoded certificates are keyed by their base64
 * text in a bounded map (the oldest go first); everything else hangs off the
 * decoded certificate in WeakMaps, so it goes with it. A memo of pure
 * functions: no result depends on what was asked before.
 */
const DECODED_MAX = 4096;
const decoded = new Map<string, ParsedCertificate | null>();
/**
 * The keys of `decoded` in the order they were set, a ring: the slot of the
 * next key is that of the oldest, evicted first. (Not `decoded.keys().next()`:
 * a Map keeps deleted entries' slots until it rehashes, and every new iterator
 * steps over them; see libs/dns evict.ts, which this library cannot import.)
 */
const decodedOrder: string[] = [];
let decodedNext = 0;
const x509s = new WeakMap<ParsedCertificate, X509Certificate | null>();
const keys = new WeakMap<ParsedCertificate, KeyObject | null>();
const extensions = new WeakMap<ParsedCertificate, CertExtensions>();
const digests = new WeakMap<ParsedCertificate, Map<string, string>>();
const signatures = new WeakMap<ParsedCertificate, WeakMap<KeyObject, boolean>>();

function decodeCert(b64: unknown): ParsedCertificate | undefined {
  if (typeof b64 !== "string") return undefined;
  const known = decoded.get(b64);
  if (known !== undefined) return known ?? undefined;
  let parsed: ParsedCertificate | null = null;
  if (b64.length % 4 === 0 && BASE64_RE.test(b64)) {
    parsed = parseCertificate(new Uint8Array(Buffer.from(b64, "base64"))) ?? null;
  }
  if (decodedOrder.length === DECODED_MAX) decoded.delete(decodedOrder[decodedNext] as string);
  decodedOrder[decodedNext] = b64;
  decodedNext = (decodedNext + 1) % DECODED_MAX;
  decoded.set(b64, parsed);
  return parsed ?? undefined;
}

function x509Of(node: Node): X509Certificate | undefined {
  if (node.x509 === undefined) {
    let x = x509s.get(node.parsed);
    if (x === undefined) {
      try {
        x = new X509Certificate(node.parsed.der);
      } catch {
        x = null;
      }
      x509s.set(node.parsed, x);
    }
    node.x509 = x;
  }
  return node.x509 ?? undefined;
}

function keyOf(node: Node): KeyObject | undefined {
  if (node.key === undefined) {
    let k = keys.get(node.parsed);
    if (k === undefined) {
      try {
        k = x509Of(node)?.publicKey ?? null;
      } catch {
        k = null;
      }
      keys.set(node.parsed, k);
    }
    node.key = k;
  }
  return node.key ?? undefined;
}

function extOf(node: Node): CertExtensions {
  if (!node.ext) {
    let e = extensions.get(node.parsed);
    if (!e) {
      e = certExtensions(node.parsed);
      extensions.set(node.parsed, e);
    }
    node.ext = e;
  }
  return node.ext;
}

function verifies(node: Node, key: KeyObject): boolean {
  let byKey = signatures.get(node.parsed);
  if (!byKey) {
    byKey = new WeakMap();
    signatures.set(node.parsed, byKey);
  }
  const known = byKey.get(key);
  if (known !== undefined) return known;
  const ok = verifiesNow(node, key);
  byKey.set(key, ok);
  return ok;
}

function verifiesNow(node: Node, key: KeyObject): boolean {
  const x = x509Of(node);
  if (!x) return false;
  try {
    return x.verify(key);
  } catch {
    return false;
  }
}

/** Per-call matcher with a cache of each certificate's selected data and digests. */
class Matcher {
  matches(node: Node, r: TlsaRecord): boolean {
    let byKind = digests.get(node.parsed);
    if (!byKind) {
      byKind = new Map();
      digests.set(node.parsed, byKind);
    }
    const kind = `${r.selector}/${r.matchingType}`;
    let value = byKind.get(kind);
    if (value === undefined) {
      const selected = r.selector === 0 ? node.parsed.der : node.parsed.spki;
      value =
        r.matchingType === 0
          ? bytesToHex(selected)
          : createHash(r.matchingType === 1 ? "sha256" : "sha512")
              .update(selected)
              .digest("hex");
      byKind.set(kind, value);
    }
    return value === r.data.toLowerCase();
  }
}

// ------------------------------------------------------------ issuer choice

/** The key family a signature algorithm needs (OpenSSL check_sig_alg_match); undefined when unknown. */
function signatureKeyType(oid: string): string | undefined {
  if (oid.startsWith("1.2.840.113549.1.1.")) return "rsa"; // PKCS #1 v1.5 and RSASSA-PSS (…1.10)
  if (oid === "1.3.14.3.2.29") return "rsa"; // sha1WithRSASignature (OIW)
  if (oid.startsWith("1.2.840.10045.4.")) return "ec";
  if (oid === "1.3.101.112") return "ed25519";
  if (oid === "1.3.101.113") return "ed448";
  if (oid === "1.2.840.10040.4.3" || oid.startsWith("2.16.840.1.101.3.4.3.")) return "dsa";
  if (oid === "1.2.156.10197.1.501") return "sm2";
  return undefined;
}

function keySuits(key: KeyObject | undefined, sigAlg: string): boolean {
  const want = signatureKeyType(sigAlg);
  const have = key?.asymmetricKeyType;
  if (!want || !have) return false;
  if (want === "rsa") return have === "rsa" || (have === "rsa-pss" && sigAlg === "1.2.840.113549.1.1.10");
  return want === have;
}

function serialHex(p: ParsedCertificate): string {
  return bytesToHex(p.serial);
}

/** X509_check_akid: the subject's authority key identifier does not contradict the candidate. */
function akidAgrees(candidate: Node, subject: CertExtensions): boolean {
  const akid = subject.authorityKeyId;
  if (!akid) return true;
  const skid = extOf(candidate).subjectKeyId;
  if (akid.keyId !== undefined && skid !== undefined && akid.keyId !== skid) return false;
  if (akid.serial !== undefined && akid.serial !== serialHex(candidate.parsed)) return false;
  const dirName = akid.issuerNames[0];
  if (dirName !== undefined && !sameName(dirName, candidate.parsed.issuer)) return false;
  return true;
}

/** ossl_x509_likely_issued: name, authority key identifier, key type. No signature check. */
function likelyIssued(candidate: Node, subject: Node): boolean {
  if (!sameName(candidate.parsed.subject, subject.parsed.issuer)) return false;
  if (extOf(candidate).invalid || extOf(subject).invalid) return false;
  if (!akidAgrees(candidate, extOf(subject))) return false;
  return keySuits(keyOf(candidate), subject.parsed.sigAlg);
}

function selfIssued(n: Node): boolean {
  return sameName(n.parsed.subject, n.parsed.issuer);
}

/** EXFLAG_SS: self-issued, its own AKID agrees, and its key suits its signature. */
function selfSigned(n: Node): boolean {
  return selfIssued(n) && likelyIssued(n, n);
}

/** The instant OpenSSL compares: whole seconds. */
function secondsOf(now: number): number {
  return Math.floor(now / 1000) * 1000;
}

/** RFC 5280's "no well-defined expiration date", 99991231235959Z. */
const NO_EXPIRY = Date.UTC(9999, 11, 31, 23, 59, 59);

function timeProblem(p: ParsedCertificate, now: number): "expired" | "not-yet-valid" | undefined {
  const t = secondsOf(now);
  if (t < p.notBefore) return "not-yet-valid";
  if (p.notAfter !== NO_EXPIRY && t > p.notAfter) return "expired";
  return undefined;
}

function bestIssuer(cur: Node, pool: Node[], path: Node[], now: number): Node | undefined {
  let latest: Node | undefined;
  for (const cand of pool) {
    // No certificate twice on a path, unless a self-issued leaf is its own issuer.
    const exempt = path.length === 1 && selfIssued(cur);
    if (!exempt && path.some((n) => bytesEqual(n.parsed.der, cand.parsed.der))) continue;
    if (!likelyIssued(cand, cur)) continue;
    if (timeProblem(cand.parsed, now) === undefined) return cand;
    if (!latest || cand.parsed.notAfter > latest.parsed.notAfter) latest = cand;
  }
  return latest;
}

// ------------------------------------------------------------ path checks

function hasServerEku(ext: CertExtensions): boolean {
  const eku = ext.extKeyUsage;
  if (!eku) return true;
  return eku.includes(EKU_SERVER_AUTH) || EKU_SGC.some((o) => eku.includes(o));
}

/** X509_check_ca: 0 not a CA, 1 a CA by basicConstraints, 3 a v1 self-signed root, 4 keyUsage only, 5 Netscape CA. */
function caKind(n: Node): number {
  const ext = extOf(n);
  if (ext.invalid) return 0;
  if (ext.keyUsage !== undefined && (ext.keyUsage & KU_KEY_CERT_SIGN) === 0) return 0;
  if (ext.basicConstraints) return ext.basicConstraints.ca ? 1 : 0;
  if (n.parsed.version === 1 && selfSigned(n)) return 3;
  if (ext.keyUsage !== undefined) return 4;
  if (ext.nsCertType !== undefined && (ext.nsCertType & NS_ANY_CA) !== 0) return 5;
  return 0;
}

function label(n: Node, i: number, anchor: boolean): string {
  if (n.depth < 0) return n.trusted ? "the trusted root" : "the trust anchor from DNS";
  if (i === 0) return "the leaf";
  return anchor ? `the trust anchor at depth ${n.depth}` : `the certificate at depth ${n.depth}`;
}

/** check_extensions for the ssl_server purpose. */
function extensionProblem(path: Node[], anchorIsCert: boolean): string | undefined {
  let plen = 0;
  for (let i = 0; i < path.length; i++) {
    const n = path[i]!;
    const ext = extOf(n);
    const who = label(n, i, anchorIsCert && i === path.length - 1);
    if (ext.unsupportedCritical)
      return `${who} has an unsupported critical extension ${ext.unsupportedCritical}`;
    if (ext.proxy) return `${who} is a proxy certificate`;
    if (i > 0) {
      const kind = caKind(n);
      if (kind === 0) {
        const why =
          ext.keyUsage !== undefined && (ext.keyUsage & KU_KEY_CERT_SIGN) === 0
            ? "keyUsage lacks keyCertSign"
            : ext.basicConstraints
              ? "basicConstraints cA is false"
              : ext.invalid
                ? ext.invalid
                : "no basicConstraints";
        return `${who} is not a CA: ${why}`;
      }
      if (i + 1 < path.length && kind !== 1) return `${who} is not a CA: no basicConstraints`;
      if (!hasServerEku(ext)) return `${who} has an extended key usage without serverAuth`;
      if (kind === 5 && ((ext.nsCertType ?? 0) & NS_SSL_CA) === 0) return `${who} is not an SSL CA`;
    } else {
      if (!hasServerEku(ext)) return `${who} has an extended key usage without serverAuth`;
      if (ext.nsCertType !== undefined && (ext.nsCertType & NS_SSL_SERVER) === 0) {
        return `${who} has a Netscape cert type without SSL server`;
      }
      const tls = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT;
      if (ext.keyUsage !== undefined && (ext.keyUsage & tls) === 0) {
        return `${who} has a keyUsage that allows no TLS server key use`;
      }
    }
    const pathLen = ext.basicConstraints?.pathLen;
    if (i > 1 && pathLen !== undefined && plen > pathLen) {
      return `${who} has pathLenConstraint ${pathLen} but ${plen} intermediate certificates follow it`;
    }
    if (i > 0 && !selfIssued(n)) plen++;
  }
  return undefined;
}

type Broken = { failure: AuthFailure; detail: string };

/** internal_verify: signatures and validity periods, from the top down. */
function signatureOrTimeProblem(path: Node[], bareKey: boolean, now: number): Broken | undefined {
  let n = path.length - 1;
  const top = path[n]!;
  let issuer: Node | undefined;
  let subject = top;
  if (bareKey) {
    issuer = undefined; // the bare key's signature on the top was checked when it was chosen
  } else if (likelyIssued(top, top)) {
    issuer = top; // self-issued anchor: its dates count, its self-signature does not
  } else if (n > 0) {
    issuer = top; // an anchor that is not self-issued: only what it signed is checked
    n--;
    subject = path[n]!;
  } else {
    return { failure: "chain-invalid", detail: "the leaf's signature cannot be verified" };
  }
  for (;;) {
    if (issuer && issuer !== subject) {
      const ku = extOf(issuer).keyUsage;
      const issuerIdx = n + 1;
      if (ku !== undefined && (ku & KU_KEY_CERT_SIGN) === 0) {
        return {
          failure: "chain-invalid",
          detail: `${label(issuer, issuerIdx, issuerIdx === path.length - 1)} has a keyUsage without keyCertSign`,
        };
      }
      const key = keyOf(issuer);
      if (!key || !verifies(subject, key)) {
        return {
          failure: "chain-invalid",
          detail: `the signature of ${label(subject, n, false)} does not verify with the key of ${label(issuer, issuerIdx, issuerIdx === path.length - 1)}`,
        };
      }
    }
    const t = timeProblem(subject.parsed, now);
    if (t) {
      const who = label(subject, n, !bareKey && n === path.length - 1);
      const when =
        t === "expired"
          ? `expired at ${new Date(subject.parsed.notAfter).toISOString()}`
          : `is not valid before ${new Date(subject.parsed.notBefore).toISOString()}`;
      return { failure: t, detail: `${who} ${when}` };
    }
    if (n === 0) return undefined;
    issuer = subject;
    n--;
    subject = path[n]!;
  }
}

/** check_name_constraints: every certificate against the constraints of those above it. */
function nameConstraintProblem(path: Node[]): string | undefined {
  for (let i = path.length - 1; i >= 0; i--) {
    const n = path[i]!;
    if (i !== 0 && selfIssued(n)) continue;
    for (let j = path.length - 1; j > i; j--) {
      const nc = extOf(path[j]!).nameConstraints;
      if (!nc) continue;
      const v = nameConstraintViolation(n.parsed, extOf(n), i === 0, nc);
      if (v) return `${label(n, i, false)}: ${v} (name constraints of ${label(path[j]!, j, false)})`;
    }
  }
  return undefined;
}

// ------------------------------------------------------------ DANE-TA

function dnsAnchors(records: TlsaRecord[]): Node[] {
  const out: Node[] = [];
  for (const r of records) {
    if (r.usage !== 2 || r.selector !== 0 || r.matchingType !== 0) continue;
    const data = hexToBytes(r.data);
    const parsed = data ? parseCertificate(data) : undefined;
    if (parsed) out.push({ depth: -1, parsed });
  }
  return out;
}

function bareKeys(records: TlsaRecord[]): { record: TlsaRecord; key: KeyObject }[] {
  const out: { record: TlsaRecord; key: KeyObject }[] = [];
  for (const r of records) {
    if (r.usage !== 2 || r.selector !== 1 || r.matchingType !== 0) continue;
    const data = hexToBytes(r.data);
    if (!data) continue;
    try {
      out.push({ record: r, key: createPublicKey({ key: Buffer.from(data), format: "der", type: "spki" }) });
    } catch {
      // unusable data was filtered already; stay total anyway
    }
  }
  return out;
}

function daneTa(
  sent: Node[],
  taRecords: TlsaRecord[],
  matcher: Matcher,
  names: string[],
  now: number,
  maxDepth: number,
): TaOutcome {
  const leaf = sent[0]!;
  // Trust anchors from DNS first, then what the server sent (the leaf included).
  const pool = [...dnsAnchors(taRecords), ...sent];
  const path: Node[] = [leaf];
  let anchor: { record: TlsaRecord; node?: Node } | undefined;
  while (path.length <= MAX_CHAIN) {
    const cur = path[path.length - 1]!;
    if (selfSigned(cur)) break;
    const next = bestIssuer(cur, pool, path, now);
    if (!next) break;
    pool.splice(pool.indexOf(next), 1);
    path.push(next);
    const hit = taRecords.find((r) => matcher.matches(next, r));
    if (hit) {
      anchor = { record: hit, node: next };
      break;
    }
  }
  let bare = false;
  if (!anchor) {
    const top = path[path.length - 1]!;
    const key = bareKeys(taRecords).find((k) => verifies(top, k.key));
    if (key) {
      anchor = { record: key.record };
      bare = true;
    }
  }
  if (!anchor) {
    const off = sent.find((n) => n.depth >= 1 && taRecords.some((r) => matcher.matches(n, r)));
    if (off) {
      return {
        ok: false,
        failure: "chain-invalid",
        detail: `a DANE-TA record matched depth ${off.depth}, but the path built from the leaf (${path.length} certificate(s)) does not reach it`,
      };
    }
    return {
      ok: false,
      failure: "no-match",
      detail: `no DANE-TA record matched the path built from the leaf (${path.length} certificate(s)) or signed its top`,
    };
  }

  // The path from the leaf to the anchor: the anchor certificate included, a bare key not.
  const above = path.length - 1;
  if (maxDepth > 0 && above > maxDepth) {
    return {
      ok: false,
      failure: "chain-too-long",
      detail: `the path has ${above} certificates above the leaf, more than the verify depth ${maxDepth}`,
    };
  }
  const ext = extensionProblem(path, !bare);
  if (ext) return { ok: false, failure: "chain-invalid", detail: ext };
  const leafExt = extOf(leaf);
  const refs = Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
  const dnsNames = leafExt.san?.dns ?? [];
  const matchedName = matchesAnyReferenceName(dnsNames, leaf.parsed.commonNames, refs);
  if (matchedName === undefined) {
    const presented = dnsNames.length ? dnsNames : leaf.parsed.commonNames;
    return {
      ok: false,
      failure: "name-mismatch",
      detail: `leaf names [${presented.slice(0, 5).join(", ")}] match none of [${refs.slice(0, 5).join(", ")}]`,
    };
  }
  const broken = signatureOrTimeProblem(path, bare, now);
  if (broken) return { ok: false, ...broken };
  const nc = nameConstraintProblem(path);
  if (nc) return { ok: false, failure: "chain-invalid", detail: nc };

  const depth = anchor.node ? anchorDepth(anchor.node, sent) : -1;
  const where =
    depth >= 0
      ? `depth ${depth}`
      : bare
        ? "a bare key not sent (depth -1)"
        : "a trust anchor not sent (depth -1)";
  return {
    ok: true,
    matched: { record: anchor.record, depth },
    detail: `${recordText(anchor.record)} matched ${where}; path of ${path.length} certificate(s) valid; leaf matches ${matchedName}`,
  };
}

/** Where an anchor certificate sits in the chain as sent; -1 when only DNS had it. */
function anchorDepth(node: Node, sent: Node[]): number {
  if (node.depth >= 0) return node.depth;
  const same = sent.find((n) => n.depth >= 1 && bytesEqual(n.parsed.der, node.parsed.der));
  return same ? same.depth : -1;
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
  const maxDepth = typeof input.maxDepth === "number" && input.maxDepth > 0 ? input.maxDepth : 0;
  const ta = daneTa(nodes, taRecords, matcher, input.names, input.now, maxDepth);
  if (ta.ok) return { ok: true, matched: ta.matched, usage: 2, detail: ta.detail };
  const eeCount = comparable.length - taRecords.length;
  const detail =
    eeCount > 0 ? `${ta.detail}; none of ${eeCount} DANE-EE records matched the leaf` : ta.detail;
  return { ok: false, failure: ta.failure, detail, tried };
}

// ------------------------------------------------------------ WebPKI

/**
 * Roots a WebPKI client trusts, by subject (the name it was made under is
 * recorded on the verdicts judged with it). Build it once with `trustStore`.
 */
export class TrustStore {
  readonly name: string;
  readonly size: number;
  readonly #bySubject = new Map<string, Node[]>();

  constructor(name: string, roots: ParsedCertificate[]) {
    this.name = name;
    for (const parsed of roots) {
      const k = nameKey(parsed.subject);
      const list = this.#bySubject.get(k);
      const node: Node = { depth: -1, trusted: true, parsed };
      if (list) {
        if (!list.some((n) => bytesEqual(n.parsed.der, parsed.der))) list.push(node);
      } else this.#bySubject.set(k, [node]);
    }
    this.size = [...this.#bySubject.values()].reduce((a, l) => a + l.length, 0);
  }

  /** Roots whose subject is the certificate's issuer (compared canonically). */
  issuersOf(cert: ParsedCertificate): Node[] {
    return this.#bySubject.get(nameKey(cert.issuer)) ?? [];
  }
}

function nameKey(der: Uint8Array): string {
  return nameRdns(der)?.join(",") ?? `#${bytesToHex(der)}`;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/**
 * A trust store from PEM texts (each may hold many certificates; anything
 * outside BEGIN/END CERTIFICATE blocks is ignored). Returns the store, or the
 * first block that is not a certificate. Pure.
 */
export function trustStore(
  name: string,
  pems: readonly string[],
): { ok: true; store: TrustStore } | { ok: false; detail: string } {
  const roots: ParsedCertificate[] = [];
  let n = 0;
  for (const text of pems) {
    for (const m of String(text).matchAll(PEM_BLOCK)) {
      n++;
      const parsed = parseCertificate(
        new Uint8Array(Buffer.from((m[1] as string).replace(/\s+/g, ""), "base64")),
      );
      if (!parsed) return { ok: false, detail: `certificate ${n} does not parse` };
      roots.push(parsed);
    }
  }
  if (roots.length === 0) return { ok: false, detail: "no certificate found" };
  return { ok: true, store: new TrustStore(name, roots) };
}

export const WEBPKI_FAILURES = [
  "no-certificate",
  "bad-certificate",
  "untrusted",
  "chain-invalid",
  "expired",
  "not-yet-valid",
  "name-mismatch",
] as const;
export type WebPkiFailure = (typeof WEBPKI_FAILURES)[number];

export type WebPkiResult =
  | { ok: true; detail: string }
  | { ok: false; failure: WebPkiFailure; detail: string };

export interface WebPkiInput {
  /** Base64 DER, exactly as the server sent it, leaf first. */
  chain: string[];
  /** The name the certificate must be valid for (the MX host, the policy host). */
  name: string;
  store: TrustStore;
  /** Epoch ms. */
  now: number;
}

/**
 * WebPKI validation of a server certificate chain for a host name, as an
 * OpenSSL client verifying a peer does it (X509_verify_cert, trusted first):
 * the path is built from the leaf as for DANE-TA, each step taking an
 * issuer from the trust store before one the server sent, and ends at the
 * first root of the store; then the same extension, signature, validity and
 * name-constraint checks as DANE-TA (above). The leaf must name `name` in a
 * subjectAltName dNSName (RFC 6125 §6.4, a wildcard as the whole leftmost
 * label; the subject CN is not consulted: RFC 8461 §4.2 wants a DNS-ID).
 * Failures, in the order they are checked: no-certificate, bad-certificate,
 * untrusted (no path to a root of the store), chain-invalid, name-mismatch,
 * expired / not-yet-valid. Never throws.
 */
export function verifyWebPki(input: WebPkiInput): WebPkiResult {
  try {
    return webPki(input);
  } catch (e) {
    return {
      ok: false,
      failure: "bad-certificate",
      detail: `cannot be checked: ${(e as Error)?.message ?? e}`,
    };
  }
}

function webPki(input: WebPkiInput): WebPkiResult {
  const chain = Array.isArray(input.chain) ? input.chain : [];
  if (chain.length === 0)
    return { ok: false, failure: "no-certificate", detail: "the server sent no certificate" };
  const sent: Node[] = [];
  for (let i = 0; i < Math.min(chain.length, MAX_CHAIN); i++) {
    const parsed = decodeCert(chain[i]);
    if (!parsed)
      return { ok: false, failure: "bad-certificate", detail: `certificate at depth ${i} does not parse` };
    sent.push({ depth: i, parsed });
  }
  const leaf = sent[0]!;
  if (!x509Of(leaf))
    return { ok: false, failure: "bad-certificate", detail: "the leaf is rejected by OpenSSL" };
  const now = input.now;
  const path: Node[] = [leaf];
  const pool = sent.slice(1);
  let anchored = false;
  while (path.length <= MAX_CHAIN) {
    const cur = path[path.length - 1]!;
    const root = bestIssuer(cur, input.store.issuersOf(cur.parsed), path, now);
    if (root) {
      path.push(root);
      anchored = true;
      break;
    }
    if (selfSigned(cur)) break;
    const next = bestIssuer(cur, pool, path, now);
    if (!next) break;
    pool.splice(pool.indexOf(next), 1);
    path.push(next);
  }
  if (!anchored) {
    const top = path[path.length - 1]!;
    return {
      ok: false,
      failure: "untrusted",
      detail: selfSigned(top)
        ? `the path of ${path.length} certificate(s) ends in a self-signed certificate that ${input.store.name} does not hold`
        : `no issuer of ${label(top, path.length - 1, false)} is in the chain or in ${input.store.name}`,
    };
  }
  const ext = extensionProblem(path, true);
  if (ext) return { ok: false, failure: "chain-invalid", detail: ext };
  const broken = signatureOrTimeProblem(path, false, now);
  if (broken && broken.failure === "chain-invalid")
    return { ok: false, failure: "chain-invalid", detail: broken.detail };
  const nc = nameConstraintProblem(path);
  if (nc) return { ok: false, failure: "chain-invalid", detail: nc };
  const dnsNames = extOf(leaf).san?.dns ?? [];
  if (matchesAnyReferenceName(dnsNames, [], [input.name]) === undefined) {
    return {
      ok: false,
      failure: "name-mismatch",
      detail: `leaf names [${dnsNames.slice(0, 5).join(", ")}] do not cover ${input.name}`,
    };
  }
  if (broken)
    return { ok: false, failure: broken.failure as "expired" | "not-yet-valid", detail: broken.detail };
  return {
    ok: true,
    detail: `path of ${path.length} certificate(s) to a root of ${input.store.name}; valid for ${input.name}`,
  };
}

/** What the risk rules read of one certificate (risks.ts). */
export interface CertificateInfo {
  notAfter: number;
  /** Subject and issuer names are equal (a root, or a self-signed leaf). */
  selfIssued: boolean;
  /** The public key's type as OpenSSL names it ("ec", "rsa", "rsa-pss", "ed25519", ...). */
  keyType?: string;
}

/**
 * `certificateInfo(b64)`: the expiry, self-issuance and key type of a
 * certificate (base64 DER, as a probe records it), from the same per-certificate
 * memo authenticate() uses; undefined when it does not parse. Never throws.
 */
export function certificateInfo(b64: string): CertificateInfo | undefined {
  const parsed = decodeCert(b64);
  if (!parsed) return undefined;
  let info = infos.get(parsed);
  if (!info) {
    const node: Node = { depth: 0, parsed };
    info = { notAfter: parsed.notAfter, selfIssued: selfIssued(node) };
    const type = keyOf(node)?.asymmetricKeyType;
    if (type !== undefined) info.keyType = type;
    infos.set(parsed, info);
  }
  return info;
}

const infos = new WeakMap<ParsedCertificate, CertificateInfo>();

/**
 * `matchesCertificate(record, b64)`: whether the record's selected data and
 * digest equal the certificate's (no usability, path or name check: the
 * risk rules ask which records a chain that authenticated uses). Memoized
 * per certificate like authenticate(); never throws.
 */
export function matchesCertificate(record: TlsaRecord, b64: string): boolean {
  const parsed = decodeCert(b64);
  if (!parsed || typeof record?.data !== "string") return false;
  return new Matcher().matches({ depth: 0, parsed }, record);
}
