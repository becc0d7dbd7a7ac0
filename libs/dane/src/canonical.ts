/**
 * Facts in a canonical order. An RRset has no order (RFC 2181 §5.1): a
 * resolver may hand out the records of one RRset in a different order at every
 * query (Unbound rotates them), and Postfix shuffles the addresses it tries
 * anyway (smtp_randomize_addresses). So the facts keep every RRset sorted, and
 * nothing downstream (the route, the verdict, the stored facts) depends on the
 * order the resolver happened to use: the same zone data gives the same facts.
 *
 * `canonicalFacts(facts)` returns a copy (the input, possibly shared with a
 * resolver's cache, is not touched) with:
 * - MX records by preference, then exchange;
 * - A and AAAA records by address (numerically; text that is not an address
 *   after the addresses, by text);
 * - TLSA records by usage, selector, matching type, then data;
 * - CNAME-lookup targets and TXT records (MTA-STS, TLS-RPT) by text;
 * - the MTA-STS policy host's A and AAAA records by address (so the policy
 *   is fetched from the same address whatever order the resolver used);
 * - hosts by preference, then name (the order the route tries them in).
 * CNAME chains keep their order (a chain is a path, not a set). Pure.
 */
import type { DomainFacts, HostFacts, Lookup, MxRecord, TlsaRecord } from "./facts.ts";
import { parseIp } from "./ip.ts";

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byAddress(a: string, b: string): number {
  const x = parseIp(a);
  const y = parseIp(b);
  if (!x || !y) return x ? -1 : y ? 1 : byText(a, b);
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return 0;
}

function byMx(a: MxRecord, b: MxRecord): number {
  return a.preference - b.preference || byText(a.exchange, b.exchange);
}

function byTlsa(a: TlsaRecord, b: TlsaRecord): number {
  return (
    a.usage - b.usage || a.selector - b.selector || a.matchingType - b.matchingType || byText(a.data, b.data)
  );
}

function sorted<T>(l: Lookup<T>, cmp: (a: T, b: T) => number): Lookup<T> {
  if (l.records.length < 2) return l;
  return { ...l, records: [...l.records].sort(cmp) };
}

/** TLSA records in canonical order (a copy): what authoritative answers are compared in. */
export function canonicalTlsaRecords(records: readonly TlsaRecord[]): TlsaRecord[] {
  return [...records].sort(byTlsa);
}

/** An MX lookup with its records in canonical order. */
export function canonicalMx(l: Lookup<MxRecord>): Lookup<MxRecord> {
  return sorted(l, byMx);
}

function canonicalHost(h: HostFacts): HostFacts {
  const out: HostFacts = {
    ...h,
    a: sorted(h.a, byAddress),
    aaaa: sorted(h.aaaa, byAddress),
    tlsa: h.tlsa.map((t) => sorted(t, byTlsa)),
  };
  if (h.firstLink) out.firstLink = sorted(h.firstLink, byText);
  return out;
}

export function canonicalFacts(f: DomainFacts): DomainFacts {
  const out: DomainFacts = {
    ...f,
    mx: canonicalMx(f.mx),
    hosts: f.hosts.map(canonicalHost).sort((a, b) => a.preference - b.preference || byText(a.name, b.name)),
  };
  if (f.mxFirstLink) out.mxFirstLink = sorted(f.mxFirstLink, byText);
  if (f.mtaSts) {
    const h = f.mtaSts.host;
    out.mtaSts = { ...f.mtaSts, txt: sorted(f.mtaSts.txt, byText) };
    if (h) out.mtaSts.host = { ...h, a: sorted(h.a, byAddress), aaaa: sorted(h.aaaa, byAddress) };
  }
  if (f.tlsRpt) out.tlsRpt = sorted(f.tlsRpt, byText);
  return out;
}
