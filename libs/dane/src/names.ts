/**
 * Reference-identifier matching for DANE-TA(2) (docs/rules.md rule 27;
 * RFC 7672 §3.2.3, RFC 6125 §6.4). Pure.
 *
 * Contract:
 * - `matchesReferenceName(certDnsNames, cn, reference)`: true when one of the
 *   certificate's subjectAltName dNSNames matches `reference`; the subject CN
 *   is consulted only when the certificate has no dNSName at all. Comparison
 *   is ASCII case-insensitive, one trailing dot on either side is ignored. A
 *   wildcard is honoured only as the whole leftmost label ("*.example.com"),
 *   matches exactly one non-empty label, and needs at least two labels after it
 *   ("*.com" and "*" match nothing); partial wildcards ("mx*.example.com") and
 *   wildcards elsewhere never match. Empty or malformed names, and references
 *   containing "*", never match.
 * - `matchesAnyReferenceName(dnsNames, cns, references)`: the same over several
 *   CNs and several reference names; returns the first reference that matched.
 * Never throws.
 */

function normalise(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function matchOne(pattern: string, reference: string): boolean {
  const p = normalise(pattern);
  if (p.length === 0 || reference.length === 0) return false;
  if (p.startsWith("*.")) {
    const suffix = p.slice(2);
    if (suffix.split(".").length < 2 || suffix.includes("*")) return false;
    const dot = reference.indexOf(".");
    if (dot <= 0) return false; // the wildcard must cover one non-empty label
    return reference.slice(dot + 1) === suffix;
  }
  if (p.includes("*")) return false;
  return p === reference;
}

export function matchesReferenceName(
  certDnsNames: string[],
  cn: string | undefined,
  reference: string,
): boolean {
  const ref = normalise(reference);
  if (ref.length === 0 || ref.startsWith(".") || ref.includes("..") || ref.includes("*")) return false;
  if (certDnsNames.length > 0) return certDnsNames.some((n) => matchOne(n, ref));
  return cn !== undefined && matchOne(cn, ref);
}

export function matchesAnyReferenceName(
  certDnsNames: string[],
  commonNames: string[],
  references: string[],
): string | undefined {
  for (const ref of references) {
    if (certDnsNames.length > 0) {
      if (matchesReferenceName(certDnsNames, undefined, ref)) return ref;
    } else if (commonNames.some((cn) => matchesReferenceName([], cn, ref))) {
      return ref;
    }
  }
  return undefined;
}
