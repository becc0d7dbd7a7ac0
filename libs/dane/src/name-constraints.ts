/**
 * Name constraints (RFC 5280 §4.2.1.10) as OpenSSL 3.0 applies them on a
 * DANE-TA path (docs/rules.md rule 26). Pure.
 *
 * Contract of `nameConstraintViolation(cert, ext, isLeaf, constraints)` (ext:
 * the certificate's decoded extensions):
 * the names of a certificate are its subject (as a directoryName, when not
 * empty), the emailAddress attributes of its subject, every subjectAltName
 * entry, and for the leaf without a dNSName SAN each subject CN that looks like
 * a host name (two or more labels of letters, digits, "-" and "_"). Each name
 * is checked against the subtrees of its own type: when permitted subtrees of
 * that type exist, one must match; no excluded subtree may match. A subtree
 * with a minimum other than 0 or a maximum, and a constrained name type this
 * module cannot compare, are violations as in OpenSSL. Returns a sentence
 * saying what was violated, or undefined. Never throws.
 *
 * Matching: dNSName "example.com" covers example.com and names under it,
 * ".example.com" only names under it; iPAddress compares address bits under
 * the mask (same family); rfc822Name "user@host" is exact (host case-blind),
 * "@"-less "host" matches that host, ".host" hosts under it; URI compares the
 * host part the same way; directoryName is a prefix of the subject's RDNs.
 */
import type { ParsedCertificate } from "./der.ts";
import { type CertExtensions, type ConstraintBase, nameRdns, type Subtree } from "./x509-ext.ts";

type NameToCheck =
  | { type: "dns"; value: string }
  | { type: "ip"; value: Uint8Array }
  | { type: "email"; value: string }
  | { type: "uri"; value: string }
  | { type: "dirName"; rdns: string[] }
  | { type: "other"; kind: string };

function suffixMatch(name: string, base: string): boolean {
  const n = name.toLowerCase();
  const b = base.toLowerCase();
  if (b.length === 0) return true;
  if (n.length < b.length) return false;
  if (n.length === b.length) return n === b;
  const tail = n.slice(n.length - b.length);
  if (tail !== b) return false;
  return b.startsWith(".") || n[n.length - b.length - 1] === ".";
}

function emailMatch(email: string, base: string): boolean {
  const at = email.lastIndexOf("@");
  if (at < 0) return false;
  const host = email.slice(at + 1).toLowerCase();
  if (base.includes("@")) {
    const bat = base.lastIndexOf("@");
    return email.slice(0, at) === base.slice(0, bat) && host === base.slice(bat + 1).toLowerCase();
  }
  if (base.startsWith(".")) return host.length > base.length && host.endsWith(base.toLowerCase());
  return host === base.toLowerCase();
}

function uriHost(uri: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#:@]*@)?(\[[^\]]*\]|[^/?#:]*)/.exec(uri);
  return m?.[2] || undefined;
}

function uriMatch(uri: string, base: string): boolean {
  const host = uriHost(uri);
  if (host === undefined) return false;
  if (base.startsWith("."))
    return host.length > base.length && host.toLowerCase().endsWith(base.toLowerCase());
  return host.toLowerCase() === base.toLowerCase();
}

function ipMatch(ip: Uint8Array, base: { addr: Uint8Array; mask: Uint8Array }): boolean {
  if (ip.length !== base.addr.length) return false;
  for (let i = 0; i < ip.length; i++) {
    if ((ip[i]! & base.mask[i]!) !== (base.addr[i]! & base.mask[i]!)) return false;
  }
  return true;
}

/** true: matches; false: does not; "unsupported": OpenSSL cannot compare these. */
function matches(name: NameToCheck, base: ConstraintBase): boolean | "unsupported" {
  if (name.type === "dns" && base.type === "dns") return suffixMatch(name.value, base.value);
  if (name.type === "ip" && base.type === "ip") return ipMatch(name.value, base);
  if (name.type === "email" && base.type === "email") return emailMatch(name.value, base.value);
  if (name.type === "uri" && base.type === "uri") return uriMatch(name.value, base.value);
  if (name.type === "dirName" && base.type === "dirName") {
    const b = nameRdns(base.der);
    if (!b) return "unsupported";
    return b.length <= name.rdns.length && b.every((r, i) => r === name.rdns[i]);
  }
  return "unsupported";
}

function sameType(name: NameToCheck, base: ConstraintBase): boolean {
  if (name.type === "other" || base.type === "other") {
    return name.type === "other" && base.type === "other" && name.kind === base.kind;
  }
  return name.type === base.type;
}

function describe(name: NameToCheck): string {
  switch (name.type) {
    case "ip":
      return `iPAddress ${[...name.value].join(name.value.length === 4 ? "." : ":")}`;
    case "dirName":
      return `subject ${name.rdns.join(",")}`;
    case "other":
      return name.kind;
    default:
      return `${name.type} ${name.value}`;
  }
}

function check(name: NameToCheck, permitted: Subtree[], excluded: Subtree[]): string | undefined {
  let sawPermitted = false;
  let permittedMatch = false;
  for (const s of permitted) {
    if (!sameType(name, s.base)) continue;
    if (s.minMax) return "a subtree has a minimum or maximum";
    sawPermitted = true;
    if (permittedMatch) continue;
    const m = matches(name, s.base);
    if (m === "unsupported") return `${describe(name)}: constraint type not supported`;
    if (m) permittedMatch = true;
  }
  if (sawPermitted && !permittedMatch) return `${describe(name)} is outside the permitted subtrees`;
  for (const s of excluded) {
    if (!sameType(name, s.base)) continue;
    if (s.minMax) return "a subtree has a minimum or maximum";
    const m = matches(name, s.base);
    if (m === "unsupported") return `${describe(name)}: constraint type not supported`;
    if (m) return `${describe(name)} is in an excluded subtree`;
  }
  return undefined;
}

/** A CN that may be used as a host name: two or more labels, LDH and "_" only. */
function cnAsHostName(cn: string): string | undefined {
  if (cn.length === 0 || cn.includes("\0")) return undefined;
  let dotted = false;
  for (let i = 0; i < cn.length; i++) {
    const c = cn[i]!;
    if (/[A-Za-z0-9_]/.test(c)) continue;
    const inner = i > 0 && i < cn.length - 1;
    if (inner && c === "-") continue;
    if (inner && c === "." && cn[i + 1] !== "." && cn[i - 1] !== "-" && cn[i + 1] !== "-") {
      dotted = true;
      continue;
    }
    return undefined;
  }
  return dotted ? cn : undefined;
}

const EMAIL_ADDRESS_OID = "1.2.840.113549.1.9.1";

function namesOf(cert: ParsedCertificate, ext: CertExtensions, isLeaf: boolean): NameToCheck[] {
  const out: NameToCheck[] = [];
  const rdns = nameRdns(cert.subject);
  if (rdns && rdns.length > 0) {
    out.push({ type: "dirName", rdns });
    for (const rdn of rdns) {
      for (const atv of rdn.split("+")) {
        if (atv.startsWith(`${EMAIL_ADDRESS_OID}=`)) {
          out.push({ type: "email", value: atv.slice(EMAIL_ADDRESS_OID.length + 1) });
        }
      }
    }
  }
  const san = ext.san;
  if (san) {
    for (const v of san.dns) out.push({ type: "dns", value: v });
    for (const v of san.ip) out.push({ type: "ip", value: v });
    for (const v of san.email) out.push({ type: "email", value: v });
    for (const v of san.uri) out.push({ type: "uri", value: v });
    for (const d of san.dirNames) {
      const r = nameRdns(d);
      if (r) out.push({ type: "dirName", rdns: r });
    }
    for (const k of san.other) out.push({ type: "other", kind: k });
  }
  if (isLeaf && !(san && san.dns.length > 0)) {
    for (const cn of cert.commonNames) {
      const host = cnAsHostName(cn);
      if (host) out.push({ type: "dns", value: host });
    }
  }
  return out;
}

export function nameConstraintViolation(
  cert: ParsedCertificate,
  ext: CertExtensions,
  isLeaf: boolean,
  constraints: { permitted: Subtree[]; excluded: Subtree[] },
): string | undefined {
  try {
    for (const name of namesOf(cert, ext, isLeaf)) {
      const v = check(name, constraints.permitted, constraints.excluded);
      if (v) return v;
    }
    return undefined;
  } catch {
    return "the names could not be checked";
  }
}
