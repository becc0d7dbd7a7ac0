/**
 * Choosing the TLSA base domain of an MX host (docs/rules.md rules 13-18;
 * RFC 7672 §2.2.2, RFC 7671 §7). Pure.
 *
 * `planTlsaBase(host, port)` is used twice: by the DNS lookup plan, which asks
 * it what to query next until it says "decided", and by the verdict engine,
 * which re-derives the same decision from the stored facts. Because both use
 * the one function, stored facts judged again under new rules stay consistent.
 *
 * Contract:
 * - returns { kind: "need-cname", name } when the first-link CNAME query on the
 *   host name is needed and not in host.firstLink;
 * - returns { kind: "need-tlsa", qname, base } when the next TLSA lookup is
 *   needed and not in host.tlsa;
 * - otherwise { kind: "decided", ... } and never throws.
 */
import type { HostFacts, Lookup, Security, TlsaRecord } from "./facts.ts";
import type { TlsaBaseWhy } from "./verdict-types.ts";

export type TlsaBaseDecision =
  | {
      /** A secure TLSA RRset was found at `base` (possibly with only unusable records). */
      kind: "dane";
      base: string;
      why: "host-name-secure" | "expanded-name" | "original-name-fallback" | "original-name-chain-insecure";
      tlsa: Lookup<TlsaRecord>;
      addressSecurity: Security;
    }
  | {
      /** No DANE for this host: opportunistic TLS. */
      kind: "no-dane";
      why: "address-insecure" | "first-link-insecure" | "no-secure-tlsa";
      /** Candidate base names that were looked up, if any. */
      tried: string[];
      addressSecurity: Security;
    }
  | {
      /** The host cannot be used: TLSA or CNAME lookup error on a secure path (rules 15, 17). */
      kind: "unusable";
      why: "tlsa-lookup-error" | "cname-lookup-error";
      base?: string;
      addressSecurity: Security;
    }
  | {
      /** No usable address information: skip the host (rule 14). */
      kind: "no-address";
      why: "no-address" | "address-lookup-error";
      addressSecurity: Security;
    };

type DaneWhy = Extract<TlsaBaseDecision, { kind: "dane" }>["why"];

export type TlsaBasePlan =
  | { kind: "need-cname"; name: string }
  | { kind: "need-tlsa"; qname: string; base: string }
  | { kind: "decided"; decision: TlsaBaseDecision };

export function tlsaQname(port: number, base: string): string {
  return `_${port}._tcp.${base}`;
}

/**
 * The address lookup whose chain decides the base: the first family with an
 * answer and secure, else the first with an answer (rule 13: if one family
 * fails and the other is secure, use the secure one).
 */
export function referenceAddressLookup(host: HostFacts): Lookup<string> | undefined {
  const families = [host.a, host.aaaa];
  return (
    families.find((l) => l.outcome === "answer" && l.security === "secure") ??
    families.find((l) => l.outcome === "answer")
  );
}

function decided(decision: TlsaBaseDecision): TlsaBasePlan {
  return { kind: "decided", decision };
}

export function planTlsaBase(host: HostFacts, port: number): TlsaBasePlan {
  const ref = referenceAddressLookup(host);
  if (!ref) {
    const bothError = host.a.outcome === "error" && host.aaaa.outcome === "error";
    const anyError = host.a.outcome === "error" || host.aaaa.outcome === "error";
    const sec: Security = bothError ? "indeterminate" : host.a.security;
    return decided({
      kind: "no-address",
      why: bothError || anyError ? "address-lookup-error" : "no-address",
      addressSecurity: sec,
    });
  }
  const addressSecurity = ref.security;
  const expanded = ref.owner;
  const original = host.name;

  // Candidates in order (rule 15).
  let candidates: string[];
  let whys: DaneWhy[];
  if (addressSecurity === "secure") {
    if (ref.chain.length === 0 || expanded === original) {
      candidates = [original];
      whys = ["host-name-secure"];
    } else {
      candidates = [expanded, original];
      whys = ["expanded-name", "original-name-fallback"];
    }
  } else {
    if (ref.chain.length === 0) {
      return decided({ kind: "no-dane", why: "address-insecure", tried: [], addressSecurity });
    }
    // The AD bit covers the whole answer: learn the first link's own security.
    const first = host.firstLink;
    if (!first) return { kind: "need-cname", name: original };
    if (first.outcome === "error") {
      return decided({ kind: "unusable", why: "cname-lookup-error", addressSecurity });
    }
    if (first.security !== "secure") {
      return decided({ kind: "no-dane", why: "first-link-insecure", tried: [], addressSecurity });
    }
    candidates = [original];
    whys = ["original-name-chain-insecure"];
  }

  for (let i = 0; i < candidates.length; i++) {
    const base = candidates[i]!;
    const qname = tlsaQname(port, base);
    const lookup = host.tlsa.find((l) => l.qname === qname);
    if (!lookup) return { kind: "need-tlsa", qname, base };
    if (lookup.outcome === "error") {
      // Any error on the way makes the host unusable; never fall back (rule 15, 17).
      return decided({ kind: "unusable", why: "tlsa-lookup-error", base, addressSecurity });
    }
    if (lookup.security === "secure" && lookup.outcome === "answer") {
      // A secure RRset ends the search, even with only unusable records.
      return decided({ kind: "dane", base, why: whys[i]!, tlsa: lookup, addressSecurity });
    }
    // secure NODATA / NXDOMAIN, or insecure: try the next candidate.
  }
  return decided({ kind: "no-dane", why: "no-secure-tlsa", tried: candidates, addressSecurity });
}

export type { TlsaBaseWhy };
