/**
 * The X.509 extensions and name comparisons DANE-TA path validation reads
 * (RFC 5280 §4.2, §7.1; docs/rules.md rule 26), decoded with
 * @peculiar/asn1-x509 from the raw extensions der.ts extracts, and summarised
 * the way OpenSSL 3.0 caches them for chain verification. Pure.
 *
 * Contract:
 * - `certExtensions(parsed)`: the decoded extensions of one certificate:
 *   basicConstraints (cA, pathLen), keyUsage flags, extended key usage OIDs,
 *   Netscape cert type, subject and authority key identifiers, subjectAltName
 *   entries, name constraints; `invalid` when an extension this module decodes
 *   does not decode, appears twice, or holds a negative pathLen or an empty
 *   keyUsage (OpenSSL marks such a certificate invalid); `unsupportedCritical`
 *   names the first critical extension OpenSSL's verifier does not process;
 *   `proxy` when the certificate is an RFC 3820 proxy certificate.
 * - `sameName(a, b)`: X.501 Names compared as OpenSSL compares them:
 *   byte-equal, or equal after canonicalisation (string values as UTF-8,
 *   ASCII lowercased, surrounding white space dropped, inner runs folded).
 * - `nameRdns(der)`: the canonical RDNs of a Name, for directoryName
 *   constraints (prefix comparison); undefined when the Name does not decode.
 * - `KU_*`, `EKU_*`: the flags and OIDs the checks use.
 * Nothing here throws: decoding failures are reported through `invalid`.
 */
import { AsnConvert, AsnParser, BitString } from "@peculiar/asn1-schema";
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  ExtendedKeyUsage,
  type GeneralName,
  KeyUsage,
  Name,
  NameConstraints,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from "@peculiar/asn1-x509";
import { bytesEqual, bytesToHex, type ParsedCertificate } from "./der.ts";

/** keyUsage flags (asn1-x509 KeyUsageFlags numbering). */
export const KU_DIGITAL_SIGNATURE = 1;
export const KU_KEY_ENCIPHERMENT = 4;
export const KU_KEY_AGREEMENT = 16;
export const KU_KEY_CERT_SIGN = 32;

export const EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
/** Server-gated crypto (Netscape, Microsoft): OpenSSL accepts them for a TLS server. */
export const EKU_SGC = ["2.16.840.1.113730.4.1", "1.3.6.1.4.1.311.10.3.3"] as const;

/** Netscape cert type bits (first byte). */
export const NS_SSL_SERVER = 0x40;
export const NS_SSL_CA = 0x04;
export const NS_ANY_CA = 0x07;

const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  nameConstraints: "2.5.29.30",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  nsCertType: "2.16.840.1.113730.1.1",
  proxyCertInfo: "1.3.6.1.5.5.7.1.14",
} as const;

/** Critical extensions OpenSSL's verifier processes (X509_supported_extension). */
const SUPPORTED_CRITICAL: ReadonlySet<string> = new Set([
  OID.nsCertType,
  OID.keyUsage,
  OID.subjectAltName,
  OID.basicConstraints,
  "2.5.29.32", // certificatePolicies
  "2.5.29.31", // cRLDistributionPoints
  OID.extKeyUsage,
  "1.3.6.1.5.5.7.1.7", // sbgp-ipAddrBlock
  "1.3.6.1.5.5.7.1.8", // sbgp-autonomousSysNum
  "1.3.6.1.5.5.7.48.1.5", // OCSP noCheck
  "2.5.29.36", // policyConstraints
  OID.proxyCertInfo,
  OID.nameConstraints,
  "2.5.29.33", // policyMappings
  "2.5.29.54", // inhibitAnyPolicy
]);

export interface SanEntries {
  dns: string[];
  /** iPAddress entries, 4 or 16 bytes. */
  ip: Uint8Array[];
  email: string[];
  uri: string[];
  /** directoryName entries, DER. */
  dirNames: Uint8Array[];
  /** Entries of a type name constraints cannot check here (x400, EDI party, registeredID, otherName). */
  other: string[];
}

export type ConstraintBase =
  | { type: "dns"; value: string }
  | { type: "ip"; addr: Uint8Array; mask: Uint8Array }
  | { type: "email"; value: string }
  | { type: "uri"; value: string }
  | { type: "dirName"; der: Uint8Array }
  | { type: "other"; kind: string };

export interface Subtree {
  base: ConstraintBase;
  /** minimum other than 0 or a maximum: OpenSSL rejects the constraint (subtree min/max). */
  minMax: boolean;
}

export interface CertExtensions {
  basicConstraints?: { ca: boolean; pathLen?: number };
  keyUsage?: number;
  extKeyUsage?: string[];
  nsCertType?: number;
  subjectKeyId?: string;
  authorityKeyId?: { keyId?: string; serial?: string; issuerNames: Uint8Array[] };
  san?: SanEntries;
  nameConstraints?: { permitted: Subtree[]; excluded: Subtree[] };
  proxy: boolean;
  /** The OID of the first critical extension OpenSSL does not process. */
  unsupportedCritical?: string;
  /** Why OpenSSL would mark the certificate invalid. */
  invalid?: string;
}

function ipBytes(text: string | undefined): Uint8Array | undefined {
  // asn1-x509 renders iPAddress as text; the bytes are what constraints compare.
  if (typeof text !== "string") return undefined;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    const parts = text.split(".").map(Number);
    return parts.every((n) => n >= 0 && n <= 255) ? new Uint8Array(parts) : undefined;
  }
  return undefined;
}

function rawIp(g: GeneralName): Uint8Array | undefined {
  const v = g.iPAddress as unknown;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return ipBytes(v as string | undefined);
}

/** The raw iPAddress octets of a GeneralName; asn1-x509 converts them to text, so re-read them. */
function generalNameIp(der: Uint8Array): Uint8Array | undefined {
  // [7] IMPLICIT OCTET STRING: tag 0x87, short or long length.
  if (der[0] !== 0x87) return undefined;
  let len = der[1]!;
  let p = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[p + i]!;
    p += n;
  }
  return der.subarray(p, p + len);
}

function encodeName(n: Name): Uint8Array | undefined {
  try {
    return new Uint8Array(AsnConvert.serialize(n));
  } catch {
    return undefined;
  }
}

function sanEntries(names: GeneralName[], raw: (i: number) => Uint8Array | undefined): SanEntries {
  const out: SanEntries = { dns: [], ip: [], email: [], uri: [], dirNames: [], other: [] };
  names.forEach((g, i) => {
    if (g.dNSName !== undefined) out.dns.push(g.dNSName);
    else if (g.iPAddress !== undefined) {
      const b = raw(i) ?? rawIp(g);
      if (b) out.ip.push(b);
    } else if (g.rfc822Name !== undefined) out.email.push(g.rfc822Name);
    else if (g.uniformResourceIdentifier !== undefined) out.uri.push(g.uniformResourceIdentifier);
    else if (g.directoryName !== undefined) {
      const der = encodeName(g.directoryName);
      if (der) out.dirNames.push(der);
    } else out.other.push(g.otherName ? `otherName:${g.otherName.typeId}` : "other");
  });
  return out;
}

function constraintBase(g: GeneralName, raw: Uint8Array | undefined): ConstraintBase {
  if (g.dNSName !== undefined) return { type: "dns", value: g.dNSName };
  if (g.rfc822Name !== undefined) return { type: "email", value: g.rfc822Name };
  if (g.uniformResourceIdentifier !== undefined) return { type: "uri", value: g.uniformResourceIdentifier };
  if (g.iPAddress !== undefined && raw && (raw.length === 8 || raw.length === 32)) {
    const half = raw.length / 2;
    return { type: "ip", addr: raw.subarray(0, half), mask: raw.subarray(half) };
  }
  if (g.directoryName !== undefined) {
    const der = encodeName(g.directoryName);
    if (der) return { type: "dirName", der };
  }
  return { type: "other", kind: g.otherName ? `otherName:${g.otherName.typeId}` : "other" };
}

/** Re-encodes each GeneralName of a sequence, to read iPAddress octets asn1-x509 turned into text. */
function rawGeneralNames(names: GeneralName[]): (Uint8Array | undefined)[] {
  return names.map((g) => {
    if (g.iPAddress === undefined) return undefined;
    try {
      return generalNameIp(new Uint8Array(AsnConvert.serialize(g)));
    } catch {
      return undefined;
    }
  });
}

function subtrees(list: { base: GeneralName; minimum?: number; maximum?: number }[] | undefined): Subtree[] {
  if (!list) return [];
  const bases = list.map((s) => s.base);
  const raws = rawGeneralNames(bases);
  return list.map((s, i) => ({
    base: constraintBase(s.base, raws[i]),
    minMax: (s.minimum ?? 0) !== 0 || s.maximum !== undefined,
  }));
}

function bitFlags(value: ArrayBuffer): number {
  const b = new Uint8Array(value);
  // asn1-x509 numbering: bit 0 (0x80 of the first byte) is 1, bit 1 is 2, ...
  let flags = 0;
  for (let bit = 0; bit < 16 && bit < b.length * 8; bit++) {
    if (b[bit >> 3]! & (0x80 >> (bit & 7))) flags |= 1 << bit;
  }
  return flags;
}

export function certExtensions(parsed: ParsedCertificate): CertExtensions {
  const out: CertExtensions = { proxy: false };
  const seen = new Set<string>();
  const invalid = (why: string) => {
    out.invalid ??= why;
  };
  for (const ext of parsed.extensions) {
    if (seen.has(ext.oid)) invalid(`extension ${ext.oid} appears twice`);
    seen.add(ext.oid);
    if (ext.critical && out.unsupportedCritical === undefined && !SUPPORTED_CRITICAL.has(ext.oid)) {
      out.unsupportedCritical = ext.oid;
    }
    try {
      switch (ext.oid) {
        case OID.basicConstraints: {
          const bc = AsnParser.parse(ext.value, BasicConstraints);
          const pathLen = bc.pathLenConstraint;
          if (typeof pathLen === "number" && pathLen < 0) invalid("negative pathLenConstraint");
          out.basicConstraints = pathLen === undefined ? { ca: !!bc.cA } : { ca: !!bc.cA, pathLen };
          break;
        }
        case OID.keyUsage: {
          const ku = AsnParser.parse(ext.value, KeyUsage);
          out.keyUsage = bitFlags(ku.value);
          if (out.keyUsage === 0) invalid("empty keyUsage");
          break;
        }
        case OID.extKeyUsage:
          out.extKeyUsage = [...AsnParser.parse(ext.value, ExtendedKeyUsage)].map(String);
          break;
        case OID.nsCertType: {
          const ns = AsnParser.parse(ext.value, BitString);
          out.nsCertType = new Uint8Array(ns.value)[0] ?? 0;
          break;
        }
        case OID.subjectKeyId:
          out.subjectKeyId = bytesToHex(
            new Uint8Array(AsnParser.parse(ext.value, SubjectKeyIdentifier).buffer),
          );
          break;
        case OID.authorityKeyId: {
          const a = AsnParser.parse(ext.value, AuthorityKeyIdentifier);
          const akid: NonNullable<CertExtensions["authorityKeyId"]> = { issuerNames: [] };
          if (a.keyIdentifier) akid.keyId = bytesToHex(new Uint8Array(a.keyIdentifier.buffer));
          if (a.authorityCertSerialNumber) {
            akid.serial = bytesToHex(new Uint8Array(a.authorityCertSerialNumber));
          }
          for (const g of a.authorityCertIssuer ?? []) {
            if (g.directoryName) {
              const der = encodeName(g.directoryName);
              if (der) akid.issuerNames.push(der);
            }
          }
          out.authorityKeyId = akid;
          break;
        }
        case OID.subjectAltName: {
          const names = [...AsnParser.parse(ext.value, SubjectAlternativeName)];
          const raws = rawGeneralNames(names);
          out.san = sanEntries(names, (i) => raws[i]);
          break;
        }
        case OID.nameConstraints: {
          const nc = AsnParser.parse(ext.value, NameConstraints);
          out.nameConstraints = {
            permitted: subtrees(nc.permittedSubtrees ? [...nc.permittedSubtrees] : undefined),
            excluded: subtrees(nc.excludedSubtrees ? [...nc.excludedSubtrees] : undefined),
          };
          break;
        }
        case OID.proxyCertInfo:
          out.proxy = true;
          break;
      }
    } catch {
      invalid(`extension ${ext.oid} does not decode`);
    }
  }
  return out;
}

// ------------------------------------------------------------------ names

/** Canonical form of one attribute value, as OpenSSL's X509_NAME canonical encoding. */
function canonicalValue(v: Name[number][number]["value"]): string {
  const text =
    v.utf8String ?? v.printableString ?? v.ia5String ?? v.teletexString ?? v.bmpString ?? v.universalString;
  if (text === undefined) {
    const any = v.anyValue ? bytesToHex(new Uint8Array(v.anyValue)) : "";
    return `#${any}`;
  }
  return text.trim().replace(/\s+/g, " ").toLowerCase();
}

/**
 * Names decoded so far, by the byte array holding them (a decoded
 * certificate's subject and issuer are arrays it keeps): the ASN.1 decoding
 * is what path building spent most of its time on, comparing the same names
 * again and again. A memo of a pure function.
 */
const decodedNames = new WeakMap<Uint8Array, string[] | null>();

/** Each RDN of a Name as canonical text (its attributes sorted); undefined when it does not decode. */
export function nameRdns(der: Uint8Array): string[] | undefined {
  let known = decodedNames.get(der);
  if (known === undefined) {
    known = decodeNameRdns(der) ?? null;
    decodedNames.set(der, known);
  }
  return known ?? undefined;
}

function decodeNameRdns(der: Uint8Array): string[] | undefined {
  try {
    const name = AsnParser.parse(der, Name);
    return [...name].map((rdn) =>
      [...rdn]
        .map((atv) => `${atv.type}=${canonicalValue(atv.value)}`)
        .sort()
        .join("+"),
    );
  } catch {
    return undefined;
  }
}

export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (bytesEqual(a, b)) return true;
  const x = nameRdns(a);
  const y = nameRdns(b);
  if (!x || !y || x.length !== y.length) return false;
  return x.every((r, i) => r === y[i]);
}
