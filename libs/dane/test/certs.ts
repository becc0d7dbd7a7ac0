/**
 * Test helper: makes REAL X.509 certificates (DER, signed with node:crypto
 * keys), synchronously, for unit and integration tests. Independent of the
 * code under test: it encodes DER itself and signs with crypto.sign; OpenSSL
 * (node's X509Certificate, `openssl x509`) reads what it makes.
 *
 * Public functions:
 * - `makeKey(type?)`: a fresh key pair ("ec" P-256 by default, "rsa" 2048, "ed25519").
 * - `makeCert(spec)`: one certificate; self-signed unless `spec.issuer` is given.
 *   Options cover names (CN, SAN dNSNames and iPAddresses), CA basicConstraints
 *   and path length, keyUsage, extended key usage, subject and authority key
 *   identifiers, name constraints, extra (e.g. unknown critical) extensions,
 *   validity dates, v1 certificates, and deliberate faults (`corruptSignature`,
 *   `signWith` another key).
 * - `makeSelfSigned(names, opts?)`, `makeCa(name, opts?)`, `makeLeaf(issuer, names, opts?)`: shorthands.
 * - `makeChain({ intermediates, leafNames, ... })`: root -> intermediates -> leaf;
 *   `chain` is the base64 list leaf first, root NOT included (add it with `withRoot`).
 * - `spkiOf(cert)`: the SPKI DER as OpenSSL extracts it from the certificate.
 * - `digestHex(alg, bytes)`, `hexOf(bytes)`: for computing expected TLSA data in tests.
 * Times are epoch ms; the defaults are valid from 2020-01-01 to 2040-01-01.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign, X509Certificate } from "node:crypto";

export type KeyType = "ec" | "rsa" | "ed25519";

export interface KeyPair {
  type: KeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface MadeCert {
  der: Buffer;
  /** Base64 DER, as a probe records it. */
  b64: string;
  pem: string;
  key: KeyPair;
  /** The subject CN used (also the issuer name of certificates it signs). */
  cn: string;
  /** DER of the subject Name. */
  subjectName: Buffer;
  /** The subject key identifier this certificate carries, when it has one. */
  skid?: Buffer;
}

/** A name-constraint subtree base: a dNSName, or an IPv4/IPv6 address with its mask. */
export type NcBase = { dns: string } | { ip: number[]; mask: number[] };

export interface CertSpec {
  /** Subject commonName; omit with `noSubjectCn` for an empty subject. */
  cn?: string;
  noSubjectCn?: boolean;
  /** subjectAltName dNSNames; no SAN extension when empty or absent. */
  sans?: string[];
  /** basicConstraints: true/false for cA, or with a path length; "none" for no extension. Default: false for leaves, true for issuers made with makeCa. */
  ca?: boolean | { pathLen: number } | "none";
  /** keyUsage bits as names; omitted = no keyUsage extension. */
  keyUsage?: ("digitalSignature" | "keyEncipherment" | "keyAgreement" | "keyCertSign" | "cRLSign")[];
  /** extendedKeyUsage OIDs; omitted = no extension. */
  eku?: string[];
  /** subjectAltName iPAddress entries (dotted IPv4). */
  ips?: string[];
  /** Add a subject key identifier (true: SHA-1 of the public key; or these bytes). */
  skid?: boolean | Buffer;
  /** Add an authority key identifier naming the issuer's SKID (true) or these key id bytes. */
  akid?: boolean | Buffer;
  /** nameConstraints (critical). */
  nameConstraints?: { permitted?: NcBase[]; excluded?: NcBase[] };
  /** Further extensions, encoded as given (value is the extension's DER content). */
  extraExtensions?: { oid: string; critical: boolean; value: Buffer }[];
  notBefore?: number;
  notAfter?: number;
  /** The issuing certificate; self-signed when absent. */
  issuer?: MadeCert;
  /** Write this DER Name as the issuer (e.g. the issuer's name in another case). */
  issuerName?: Buffer;
  key?: KeyPair;
  keyType?: KeyType;
  serial?: number;
  /** A v1 certificate (no extensions at all). */
  v1?: boolean;
  /** Flip a bit in the signature value. */
  corruptSignature?: boolean;
  /** Sign with this key instead of the issuer's (names still say `issuer`). */
  signWith?: KeyPair;
}

export const DEFAULT_NOT_BEFORE = Date.UTC(2020, 0, 1);
export const DEFAULT_NOT_AFTER = Date.UTC(2040, 0, 1);

// --------------------------------------------------------------- DER encoding

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

export const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);

function int(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));
const bool = (b: boolean) => tlv(0x01, Buffer.from([b ? 0xff : 0]));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
const explicit = (n: number, c: Buffer) => tlv(0xa0 | n, c);

function time(ms: number): Buffer {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const p2 = (n: number) => String(n).padStart(2, "0");
  const rest = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(`${p2(y % 100)}${rest}`, "ascii"));
  return tlv(0x18, Buffer.from(`${String(y).padStart(4, "0")}${rest}`, "ascii"));
}

export function nameDer(cn: string | undefined): Buffer {
  const rdns = [set(seq(oid("2.5.4.10"), utf8("danesweep test")))];
  if (cn !== undefined) rdns.push(set(seq(oid("2.5.4.3"), utf8(cn))));
  return seq(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

const KEY_USAGE_BITS = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

function ncSubtrees(tag: number, bases: NcBase[]): Buffer {
  return tlv(
    tag,
    ...bases.map((b) =>
      seq("dns" in b ? tlv(0x82, Buffer.from(b.dns, "ascii")) : tlv(0x87, Buffer.from([...b.ip, ...b.mask]))),
    ),
  );
}

function sigAlg(type: KeyType): { alg: Buffer; hash: string | null } {
  switch (type) {
    case "ec":
      return { alg: seq(oid("1.2.840.10045.4.3.2")), hash: "sha256" };
    case "rsa":
      return { alg: seq(oid("1.2.840.113549.1.1.11"), tlv(0x05)), hash: "sha256" };
    case "ed25519":
      return { alg: seq(oid("1.3.101.112")), hash: null };
  }
}

// ------------------------------------------------------------------ makers

let serialCounter = 1;

export function makeKey(type: KeyType = "ec"): KeyPair {
  const pair =
    type === "ec"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : type === "rsa"
        ? generateKeyPairSync("rsa", { modulusLength: 2048 })
        : generateKeyPairSync("ed25519");
  return { type, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export function makeCert(spec: CertSpec = {}): MadeCert {
  const key = spec.key ?? makeKey(spec.keyType ?? "ec");
  const cn = spec.cn ?? "danesweep test";
  const subjectName = nameDer(spec.noSubjectCn ? undefined : cn);
  const issuerName = spec.issuerName ?? (spec.issuer ? spec.issuer.subjectName : subjectName);
  const signer = spec.signWith ?? spec.issuer?.key ?? key;
  const { alg, hash } = sigAlg(signer.type);

  const exts: Buffer[] = [];
  const ca = spec.ca ?? false;
  if (ca !== "none") {
    const caFlag = ca === true || typeof ca === "object";
    const fields: Buffer[] = caFlag ? [bool(true)] : [];
    if (typeof ca === "object") fields.push(int(ca.pathLen));
    exts.push(extension("2.5.29.19", true, seq(...fields)));
  }
  if (spec.keyUsage) {
    let mask = 0;
    for (const u of spec.keyUsage) mask |= 0x80 >> KEY_USAGE_BITS[u];
    exts.push(extension("2.5.29.15", true, bits(Buffer.from([mask]))));
  }
  const sanEntries = [
    ...(spec.sans ?? []).map((n) => tlv(0x82, Buffer.from(n, "ascii"))),
    ...(spec.ips ?? []).map((ip) => tlv(0x87, Buffer.from(ip.split(".").map(Number)))),
  ];
  if (sanEntries.length > 0) exts.push(extension("2.5.29.17", false, seq(...sanEntries)));
  if (spec.eku) exts.push(extension("2.5.29.37", false, seq(...spec.eku.map(oid))));
  let skid: Buffer | undefined;
  if (spec.skid) {
    skid =
      spec.skid === true
        ? createHash("sha1")
            .update(key.publicKey.export({ type: "spki", format: "der" }))
            .digest()
        : spec.skid;
    exts.push(extension("2.5.29.14", false, octets(skid)));
  }
  if (spec.akid) {
    const keyId = spec.akid === true ? spec.issuer?.skid : spec.akid;
    if (keyId) exts.push(extension("2.5.29.35", false, seq(tlv(0x80, keyId))));
  }
  if (spec.nameConstraints) {
    const parts: Buffer[] = [];
    if (spec.nameConstraints.permitted) parts.push(ncSubtrees(0xa0, spec.nameConstraints.permitted));
    if (spec.nameConstraints.excluded) parts.push(ncSubtrees(0xa1, spec.nameConstraints.excluded));
    exts.push(extension("2.5.29.30", true, seq(...parts)));
  }
  for (const e of spec.extraExtensions ?? []) exts.push(extension(e.oid, e.critical, e.value));

  const spki = key.publicKey.export({ type: "spki", format: "der" });
  const tbsFields = [
    int(spec.serial ?? serialCounter++),
    alg,
    issuerName,
    seq(time(spec.notBefore ?? DEFAULT_NOT_BEFORE), time(spec.notAfter ?? DEFAULT_NOT_AFTER)),
    subjectName,
    spki,
  ];
  const tbs = spec.v1
    ? seq(...tbsFields)
    : seq(explicit(0, int(2)), ...tbsFields, ...(exts.length ? [explicit(3, seq(...exts))] : []));
  const signature = sign(hash, tbs, signer.privateKey);
  if (spec.corruptSignature) signature[signature.length - 1] = signature[signature.length - 1]! ^ 0x01;
  const der = seq(tbs, alg, bits(signature));
  const b64 = der.toString("base64");
  const pem = `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`;
  const made: MadeCert = { der, b64, pem, key, cn, subjectName };
  if (skid) made.skid = skid;
  return made;
}

export function makeSelfSigned(names: string[], opts: CertSpec = {}): MadeCert {
  return makeCert({ cn: names[0] ?? "self-signed", sans: names, ...opts });
}

export function makeCa(cn: string, opts: CertSpec = {}): MadeCert {
  return makeCert({ cn, ca: true, keyUsage: ["keyCertSign", "cRLSign"], ...opts });
}

export function makeLeaf(issuer: MadeCert, names: string[], opts: CertSpec = {}): MadeCert {
  return makeCert({ cn: names[0] ?? "leaf", sans: names, issuer, ...opts });
}

export interface MadeChain {
  root: MadeCert;
  /** Intermediates, lowest (the leaf's issuer) first. */
  intermediates: MadeCert[];
  leaf: MadeCert;
  /** Base64 DER, leaf first, then intermediates; the root is not included. */
  chain: string[];
  /** The same with the root appended. */
  withRoot: string[];
}

export function makeChain(
  opts: {
    intermediates?: number;
    leafNames?: string[];
    leaf?: CertSpec;
    root?: CertSpec;
    /** Spec overrides per intermediate, lowest first. */
    intermediate?: CertSpec[];
  } = {},
): MadeChain {
  const root = makeCa("danesweep test root", opts.root);
  const intermediates: MadeCert[] = [];
  let issuer = root;
  const n = opts.intermediates ?? 1;
  // Build top-down; the list is kept lowest first.
  for (let i = n - 1; i >= 0; i--) {
    const c = makeCa(`danesweep test intermediate ${i + 1}`, { issuer, ...opts.intermediate?.[i] });
    intermediates.unshift(c);
    issuer = c;
  }
  const leaf = makeLeaf(issuer, opts.leafNames ?? ["mx.example.com"], opts.leaf);
  const chain = [leaf.b64, ...intermediates.map((c) => c.b64)];
  return { root, intermediates, leaf, chain, withRoot: [...chain, root.b64] };
}

// -------------------------------------------------------- expected values

/** The SPKI DER as OpenSSL extracts it (independent of libs/dane's DER reader). */
export function spkiOf(cert: MadeCert): Buffer {
  return new X509Certificate(cert.der).publicKey.export({ type: "spki", format: "der" });
}

export function digestHex(alg: "sha256" | "sha512", bytes: Buffer): string {
  return createHash(alg).update(bytes).digest("hex");
}

export function hexOf(bytes: Buffer): string {
  return bytes.toString("hex");
}

/** A TLSA record for a certificate, its data computed here with node:crypto (independently of libs/dane). */
export function tlsaFor(
  usage: number,
  selector: number,
  matchingType: number,
  cert: MadeCert,
): { usage: number; selector: number; matchingType: number; data: string } {
  const selected = selector === 0 ? cert.der : spkiOf(cert);
  const data =
    matchingType === 0 ? hexOf(selected) : digestHex(matchingType === 1 ? "sha256" : "sha512", selected);
  return { usage, selector, matchingType, data };
}
