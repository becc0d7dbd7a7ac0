/**
 * Turning a decoded reply into a Lookup (pure).
 *
 * `interpretAnswer(msg, qname, qtype)` follows the CNAME chain in the answer
 * section from `qname` (not for qtype CNAME, which is answered by the CNAME
 * record itself), and returns the outcome, chain, owner, records and TTLs:
 * - records of `qtype` at the end of the chain: outcome "answer";
 * - none: "nxdomain" when the rcode is NXDOMAIN, else "nodata"; the chain is kept;
 * - a CNAME loop or a chain longer than MAX_CNAME_CHAIN: outcome "error",
 *   error "limit", limitHit "cname-loop" / "cname-chain>8";
 * - malformed rdata in a record on the chain or in the final RRset: outcome
 *   "error", error "malformed".
 * It only reads NOERROR / NXDOMAIN replies (the resolver handles the other
 * rcodes); security is decided by the caller from the AD bit. Never throws.
 */
import type {
  CnameLink,
  LookupErrorKind,
  LookupOutcome,
  MxRecord,
  RRType,
  TlsaRecord,
} from "@danesweep/dane";
import {
  CLASS_IN,
  type DnskeyRecord,
  type Message,
  type RR,
  readA,
  readAaaa,
  readDnskey,
  readMx,
  readName,
  readSoa,
  readTarget,
  readTlsa,
  readTxt,
  type SoaRecord,
  TYPE_CODES,
} from "./wire.ts";

export const MAX_CNAME_CHAIN = 8;

/** The record type each query type yields. */
export interface RecordTypes {
  A: string;
  AAAA: string;
  CNAME: string;
  MX: MxRecord;
  TLSA: TlsaRecord;
  SOA: SoaRecord;
  DNSKEY: DnskeyRecord;
  /** The record's character-strings joined (wire.ts readTxt). */
  TXT: string;
  NS: string;
}

export interface Interpreted<T> {
  outcome: LookupOutcome;
  error?: LookupErrorKind;
  limitHit?: string;
  chain: CnameLink[];
  owner: string;
  records: T[];
  /**
   * TTL of the final RRset as its zone publishes it: the Original TTL of the
   * RRSIG covering it when the answer carries one (stable, whatever a caching
   * resolver has left of it), else the smallest TTL the reply gave (which
   * counts down in the resolver's cache).
   */
  ttl?: number;
  /** TLSA only: the signer name of the RRSIG covering the final RRset (its zone's apex), when it carries one. */
  zone?: string;
  /** How long the whole result may be cached (seconds); undefined: do not cache. */
  cacheTtl?: number;
}

type Reader<T> = (buf: Uint8Array, rr: RR) => T | undefined;

const READERS: { [K in RRType]: Reader<RecordTypes[K]> } = {
  A: readA,
  AAAA: readAaaa,
  CNAME: readTarget,
  MX: readMx,
  TLSA: readTlsa,
  SOA: readSoa,
  DNSKEY: readDnskey,
  TXT: readTxt,
  NS: readTarget,
};

const TYPE_CNAME = TYPE_CODES.CNAME;
const TYPE_SOA = TYPE_CODES.SOA;
const TYPE_RRSIG = 46;
const TYPE_TLSA = TYPE_CODES.TLSA;

/** RFC 4034 §3.1: an RRSIG's type covered and Original TTL (undefined when the rdata is too short). */
function rrsigCover(buf: Uint8Array, rr: RR): { type: number; originalTtl: number } | undefined {
  if (rr.rdEnd - rr.rdStart < 18) return undefined;
  const o = rr.rdStart;
  const type = ((buf[o] as number) << 8) | (buf[o + 1] as number);
  const originalTtl =
    (((buf[o + 4] as number) << 24) >>> 0) +
    (((buf[o + 5] as number) << 16) | ((buf[o + 6] as number) << 8) | (buf[o + 7] as number));
  return { type, originalTtl };
}

/** RFC 2308 §5: negative answers are cached for min(SOA TTL, SOA MINIMUM). */
function negativeTtl(msg: Message): number | undefined {
  for (const rr of msg.authority) {
    if (rr.type !== TYPE_SOA || rr.klass !== CLASS_IN) continue;
    const soa = readSoa(msg.buf, rr);
    if (soa) return Math.min(rr.ttl, soa.minimum);
  }
  return undefined;
}

export function interpretAnswer<K extends RRType>(
  msg: Message,
  qname: string,
  qtype: K,
): Interpreted<RecordTypes[K]> {
  const want = TYPE_CODES[qtype];
  const read = READERS[qtype] as Reader<RecordTypes[K]>;
  const buf = msg.buf;
  const chain: CnameLink[] = [];
  const seen = new Set<string>([qname]);
  let current = qname;
  let chainTtl = Number.POSITIVE_INFINITY;
  const fail = (error: LookupErrorKind, limitHit?: string): Interpreted<RecordTypes[K]> => {
    const r: Interpreted<RecordTypes[K]> = { outcome: "error", error, chain, owner: current, records: [] };
    if (limitHit) r.limitHit = limitHit;
    return r;
  };

  for (;;) {
    const records: RecordTypes[K][] = [];
    let ttl = Number.POSITIVE_INFINITY;
    let signedTtl = Number.POSITIVE_INFINITY;
    let zone: string | undefined;
    let cname: RR | undefined;
    for (const rr of msg.answers) {
      if (rr.klass !== CLASS_IN || rr.name !== current) continue;
      if (rr.type === want) {
        const v = read(buf, rr);
        if (v === undefined) return fail("malformed");
        records.push(v);
        if (rr.ttl < ttl) ttl = rr.ttl;
      } else if (rr.type === TYPE_CNAME && !cname) {
        cname = rr;
      } else if (rr.type === TYPE_RRSIG) {
        const sig = rrsigCover(buf, rr);
        if (sig && sig.type === want) {
          if (sig.originalTtl < signedTtl) signedTtl = sig.originalTtl;
          // The signer (RFC 4034 §3.1.7, after the 18 fixed bytes), for TLSA only: the other
          // types' lookups do not use it, and reading a name costs.
          if (want === TYPE_TLSA && zone === undefined) zone = readName(buf, rr.rdStart + 18, rr.rdEnd)?.name;
        }
      }
    }
    if (records.length > 0) {
      const published = Number.isFinite(signedTtl) ? signedTtl : ttl;
      const r: Interpreted<RecordTypes[K]> = {
        outcome: "answer",
        chain,
        owner: current,
        records,
        ttl: published,
      };
      if (zone !== undefined) r.zone = zone;
      r.cacheTtl = Math.min(ttl, chainTtl);
      return r;
    }
    if (!cname || qtype === "CNAME") break;
    const target = readTarget(buf, cname);
    if (target === undefined) return fail("malformed");
    chain.push({ owner: current, target });
    if (cname.ttl < chainTtl) chainTtl = cname.ttl;
    if (seen.has(target)) return fail("limit", "cname-loop");
    if (chain.length > MAX_CNAME_CHAIN) return fail("limit", `cname-chain>${MAX_CNAME_CHAIN}`);
    seen.add(target);
    current = target;
  }
  const outcome: LookupOutcome = msg.rcode === 3 ? "nxdomain" : "nodata";
  const r: Interpreted<RecordTypes[K]> = { outcome, chain, owner: current, records: [] };
  const neg = negativeTtl(msg);
  if (neg !== undefined) r.cacheTtl = Math.min(neg, chainTtl);
  return r;
}
