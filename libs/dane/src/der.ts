/**
 * A small, strict DER reader for the parts of X.509 that DANE needs. Pure.
 *
 * Contract:
 * - `readTlv(buf, pos, end)` reads one tag-length-value within [pos, end);
 *   returns undefined on any malformation (high tag numbers, indefinite or
 *   over-long lengths, value running past `end`). Never throws.
 * - `parseCertificate(der)` walks Certificate / TBSCertificate (RFC 5280 §4.1)
 *   and returns the version, the raw serial, issuer, subject and
 *   SubjectPublicKeyInfo bytes, the signature algorithm OID, the validity
 *   dates (epoch ms), the subject CNs and every extension as raw
 *   { oid, critical, value } (decoded where needed by x509-ext.ts, with
 *   @peculiar/asn1-x509). Returns undefined when the bytes are not exactly one
 *   well-formed certificate (the outer SEQUENCE must span the whole input).
 *   Never throws.
 * - `isSubjectPublicKeyInfo(der)` checks the SPKI shape (SEQUENCE { SEQUENCE
 *   { OID, ... }, BIT STRING }) spanning the whole input.
 * - `bytesEqual`, `hexToBytes` (undefined on bad hex) and `bytesToHex` helpers.
 *
 * It does not check signatures or algorithm parameters: node:crypto does that.
 */

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first value byte. */
  valueStart: number;
  /** Offset just past the value. */
  end: number;
}

export function readTlv(buf: Uint8Array, pos: number, end: number): Tlv | undefined {
  if (pos + 2 > end) return undefined;
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) return undefined; // high tag numbers never occur in what we read
  let lenByte = buf[pos + 1]!;
  let p = pos + 2;
  let len: number;
  if (lenByte < 0x80) {
    len = lenByte;
  } else {
    lenByte &= 0x7f;
    if (lenByte === 0 || lenByte > 4 || p + lenByte > end) return undefined; // indefinite or absurd
    len = 0;
    for (let i = 0; i < lenByte; i++) len = len * 256 + buf[p + i]!;
    p += lenByte;
  }
  if (p + len > end) return undefined;
  return { tag, start: pos, valueStart: p, end: p + len };
}

/** The children of a constructed TLV, or undefined when they do not tile it exactly. */
export function children(buf: Uint8Array, tlv: Tlv): Tlv[] | undefined {
  const out: Tlv[] = [];
  let p = tlv.valueStart;
  while (p < tlv.end) {
    const c = readTlv(buf, p, tlv.end);
    if (!c) return undefined;
    out.push(c);
    p = c.end;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/i;

/** Whether hexToBytes takes `hex` (lowercase or uppercase, even length), without decoding it. */
export function isHex(hex: string): boolean {
  return HEX_RE.test(hex);
}

/** Lowercase or uppercase even-length hex to bytes; undefined otherwise. */
export function hexToBytes(hex: string): Uint8Array | undefined {
  if (!isHex(hex)) return undefined;
  return new Uint8Array(Buffer.from(hex, "hex"));
}

export function bytesToHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

// ------------------------------------------------------------------ X.509

const TAG_BOOLEAN = 0x01;
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;

// DER contents of the OIDs we look for.
const OID_CN = [0x55, 0x04, 0x03]; // 2.5.4.3

/** One extension as encoded: the OID in dotted form, the critical flag, the OCTET STRING's content. */
export interface RawExtension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

export interface ParsedCertificate {
  der: Uint8Array;
  /** 1 for v1 certificates, 3 for v3. */
  version: number;
  /** The serialNumber INTEGER's content bytes. */
  serial: Uint8Array;
  /** The TBSCertificate's signature algorithm OID, dotted. */
  sigAlg: string;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** The SubjectPublicKeyInfo exactly as encoded in the certificate. */
  spki: Uint8Array;
  /** Subject commonName values, in order (usually zero or one). */
  commonNames: string[];
  /** Every extension, in order. */
  extensions: RawExtension[];
}

function oidIs(buf: Uint8Array, tlv: Tlv, oid: number[]): boolean {
  if (tlv.tag !== TAG_OID || tlv.end - tlv.valueStart !== oid.length) return false;
  for (let i = 0; i < oid.length; i++) if (buf[tlv.valueStart + i] !== oid[i]) return false;
  return true;
}

/** Dotted text of an OBJECT IDENTIFIER; undefined when malformed. */
function oidText(buf: Uint8Array, tlv: Tlv): string | undefined {
  if (tlv.tag !== TAG_OID || tlv.end <= tlv.valueStart) return undefined;
  const arcs: number[] = [];
  let v = 0;
  for (let i = tlv.valueStart; i < tlv.end; i++) {
    const b = buf[i]!;
    if (v === 0 && b === 0x80) return undefined; // non-minimal
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) return undefined;
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    }
  }
  if ((buf[tlv.end - 1]! & 0x80) !== 0) return undefined;
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

function digits(buf: Uint8Array, from: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[from + i]! - 0x30;
    if (c < 0 || c > 9) return Number.NaN;
    v = v * 10 + c;
  }
  return v;
}

/** UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5). */
function readTime(buf: Uint8Array, tlv: Tlv): number | undefined {
  const len = tlv.end - tlv.valueStart;
  let p = tlv.valueStart;
  let year: number;
  if (tlv.tag === TAG_UTC_TIME && len === 13) {
    const yy = digits(buf, p, 2);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    p += 2;
  } else if (tlv.tag === TAG_GENERALIZED_TIME && len === 15) {
    year = digits(buf, p, 4);
    p += 4;
  } else {
    return undefined;
  }
  if (buf[tlv.end - 1] !== 0x5a /* Z */) return undefined;
  const mo = digits(buf, p, 2);
  const d = digits(buf, p + 2, 2);
  const h = digits(buf, p + 4, 2);
  const mi = digits(buf, p + 6, 2);
  const s = digits(buf, p + 8, 2);
  const t = Date.UTC(year, mo - 1, d, h, mi, s);
  return Number.isNaN(t) ? undefined : t;
}

function readString(buf: Uint8Array, tlv: Tlv): string | undefined {
  const b = Buffer.from(buf.buffer, buf.byteOffset + tlv.valueStart, tlv.end - tlv.valueStart);
  switch (tlv.tag) {
    case 0x0c: // UTF8String
      return b.toString("utf8");
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // T61String (treated as Latin-1)
      return b.toString("latin1");
    case 0x1e: {
      // BMPString, UTF-16BE
      if (b.length % 2) return undefined;
      const sw = Buffer.from(b);
      sw.swap16();
      return sw.toString("utf16le");
    }
    default:
      return undefined;
  }
}

function commonNames(buf: Uint8Array, name: Tlv): string[] | undefined {
  const rdns = children(buf, name);
  if (!rdns) return undefined;
  const out: string[] = [];
  for (const rdn of rdns) {
    if (rdn.tag !== TAG_SET) return undefined;
    const atvs = children(buf, rdn);
    if (!atvs) return undefined;
    for (const atv of atvs) {
      if (atv.tag !== TAG_SEQUENCE) return undefined;
      const parts = children(buf, atv);
      if (parts?.length !== 2) return undefined;
      if (oidIs(buf, parts[0]!, OID_CN)) {
        const s = readString(buf, parts[1]!);
        if (s !== undefined) out.push(s);
      }
    }
  }
  return out;
}

function readInteger(buf: Uint8Array, tlv: Tlv): number | undefined {
  const len = tlv.end - tlv.valueStart;
  if (tlv.tag !== TAG_INTEGER || len < 1 || len > 6) return undefined;
  if (buf[tlv.valueStart]! & 0x80) return undefined; // negative
  let v = 0;
  for (let i = tlv.valueStart; i < tlv.end; i++) v = v * 256 + buf[i]!;
  return v;
}

function readExtensions(buf: Uint8Array, wrapper: Tlv): RawExtension[] | undefined {
  const inner = children(buf, wrapper);
  if (inner?.length !== 1 || inner[0]!.tag !== TAG_SEQUENCE) return undefined;
  const exts = children(buf, inner[0]!);
  if (!exts) return undefined;
  const out: RawExtension[] = [];
  for (const ext of exts) {
    if (ext.tag !== TAG_SEQUENCE) return undefined;
    const parts = children(buf, ext);
    if (!parts || parts.length < 2 || parts.length > 3) return undefined;
    const oid = oidText(buf, parts[0]!);
    const value = parts[parts.length - 1]!;
    if (oid === undefined || value.tag !== TAG_OCTET_STRING) return undefined;
    let critical = false;
    if (parts.length === 3) {
      const c = parts[1]!;
      if (c.tag !== TAG_BOOLEAN || c.end - c.valueStart !== 1) return undefined;
      critical = buf[c.valueStart] !== 0;
    }
    out.push({ oid, critical, value: buf.subarray(value.valueStart, value.end) });
  }
  return out;
}

export function parseCertificate(der: Uint8Array): ParsedCertificate | undefined {
  const cert = readTlv(der, 0, der.length);
  if (!cert || cert.tag !== TAG_SEQUENCE || cert.end !== der.length) return undefined;
  const top = children(der, cert);
  if (top?.length !== 3) return undefined;
  const [tbs, sigAlg, sig] = top as [Tlv, Tlv, Tlv];
  if (tbs.tag !== TAG_SEQUENCE || sigAlg.tag !== TAG_SEQUENCE || sig.tag !== TAG_BIT_STRING) return undefined;
  const f = children(der, tbs);
  if (!f) return undefined;
  let i = 0;
  let version = 1;
  if (f[0]?.tag === 0xa0) {
    const v = children(der, f[0]);
    if (v?.length !== 1) return undefined;
    const n = readInteger(der, v[0]!);
    if (n === undefined || n > 2) return undefined;
    version = n + 1;
    i = 1;
  }
  const serial = f[i];
  const sigInner = f[i + 1];
  const issuer = f[i + 2];
  const validity = f[i + 3];
  const subject = f[i + 4];
  const spki = f[i + 5];
  if (!serial || !sigInner || !issuer || !validity || !subject || !spki) return undefined;
  if (
    serial.tag !== TAG_INTEGER ||
    sigInner.tag !== TAG_SEQUENCE ||
    issuer.tag !== TAG_SEQUENCE ||
    validity.tag !== TAG_SEQUENCE ||
    subject.tag !== TAG_SEQUENCE ||
    spki.tag !== TAG_SEQUENCE
  ) {
    return undefined;
  }
  const times = children(der, validity);
  if (times?.length !== 2) return undefined;
  const notBefore = readTime(der, times[0]!);
  const notAfter = readTime(der, times[1]!);
  if (notBefore === undefined || notAfter === undefined) return undefined;
  const spkiBytes = der.subarray(spki.start, spki.end);
  if (!isSubjectPublicKeyInfo(spkiBytes)) return undefined;
  const cns = commonNames(der, subject);
  if (!cns || !children(der, issuer)) return undefined;
  const sigParts = children(der, sigInner);
  const sigAlgOid = sigParts?.[0] ? oidText(der, sigParts[0]) : undefined;
  if (sigAlgOid === undefined) return undefined;
  let extensions: RawExtension[] = [];
  for (let j = i + 6; j < f.length; j++) {
    const t = f[j]!;
    if (t.tag === 0x81 || t.tag === 0x82 || t.tag === 0xa1 || t.tag === 0xa2) continue; // unique IDs
    if (t.tag !== 0xa3 || j !== f.length - 1 || version !== 3) return undefined;
    const read = readExtensions(der, t);
    if (!read) return undefined;
    extensions = read;
  }
  return {
    der,
    version,
    serial: der.subarray(serial.valueStart, serial.end),
    sigAlg: sigAlgOid,
    issuer: der.subarray(issuer.start, issuer.end),
    subject: der.subarray(subject.start, subject.end),
    notBefore,
    notAfter,
    spki: spkiBytes,
    commonNames: cns,
    extensions,
  };
}

export function isSubjectPublicKeyInfo(der: Uint8Array): boolean {
  const t = readTlv(der, 0, der.length);
  if (!t || t.tag !== TAG_SEQUENCE || t.end !== der.length) return false;
  const parts = children(der, t);
  if (parts?.length !== 2 || parts[0]!.tag !== TAG_SEQUENCE || parts[1]!.tag !== TAG_BIT_STRING) {
    return false;
  }
  const alg = children(der, parts[0]!);
  return !!alg && alg.length >= 1 && alg[0]!.tag === TAG_OID;
}
