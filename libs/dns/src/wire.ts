/**
 * DNS wire format: query encoding and a bounded response decoder.
 *
 * - `encodeQuery(id, qname, qtype, { cd, rd })` builds a query with RD=1
 *   (RD=0 with `rd: false`, for an authoritative server), AD=1, EDNS0
 *   (payload 1232, DO=1) and, when asked, CD=1. `qname` must be a
 *   lowercase presentation name already checked by `normalizeDomain` or taken
 *   from a decoded answer; it throws RangeError only for a name it cannot
 *   encode (escapes, bad label or name length), which the resolver turns into a
 *   typed "other" error.
 * - `replyMatches(reply, id, query, questionEnd(query))` checks a reply's ID,
 *   QR, opcode and question against the query's octets (ASCII case-insensitive).
 * - `decodeHeaderQuestion(buf)` reads the header and the first question only
 *   (what reply matching needs); `decodeMessage(buf)` reads every section.
 *   Both return `{ ok: false, error }` on any malformed input and never throw:
 *   every read is bounds-checked, compression pointers must point backwards
 *   and are capped, names are capped at 255 octets.
 * - `readA`, `readAaaa`, `readName`, `readMx`, `readTlsa`, `readSoa`,
 *   `readDnskey`, `readTxt` decode one record's rdata, returning undefined
 *   when the rdata is malformed for its type. A TXT record comes out as one
 *   string: its character-strings joined without a separator, each octet as
 *   the character of the same code (Latin-1: nothing is lost). Addresses come out in the one canonical
 *   text of libs/dane `formatIp` (RFC 5952 for IPv6, an IPv4-mapped address as
 *   "::ffff:a.b.c.d"), the form probe keys and the prober's facts use.
 *
 * Names come out lowercase, without the trailing dot ("." for the root);
 * label bytes outside [a-z0-9_-] are written as RFC 1035 escapes (\. \\ \DDD).
 */

import { formatIp, type MxRecord, type RRType, type TlsaRecord } from "@danesweep/dane";

export const TYPE_CODES: Record<RRType, number> = {
  A: 1,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  AAAA: 28,
  DNSKEY: 48,
  TLSA: 52,
  TXT: 16,
  NS: 2,
};
export const TYPE_OPT = 41;
export const CLASS_IN = 1;

export const RCODE_NAMES: readonly string[] = [
  "NOERROR",
  "FORMERR",
  "SERVFAIL",
  "NXDOMAIN",
  "NOTIMP",
  "REFUSED",
  "YXDOMAIN",
  "YXRRSET",
  "NXRRSET",
  "NOTAUTH",
  "NOTZONE",
];
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

export const EDNS_PAYLOAD = 1232;

export interface SoaRecord {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export interface DnskeyRecord {
  flags: number;
  protocol: number;
  algorithm: number;
  /** Public key, base64. */
  publicKey: string;
}

export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  /** Header rcode (4 bits); `Message.rcode` adds the EDNS extended bits. */
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface Question {
  name: string;
  type: number;
  klass: number;
}

/** One resource record; rdata stays in the message buffer at [rdStart, rdEnd). */
export interface RR {
  /** Owner name; "" in the authority and additional sections until `rrName` decodes it. */
  name: string;
  /** Offset of the owner name in the message. */
  nameAt: number;
  type: number;
  klass: number;
  ttl: number;
  rdStart: number;
  rdEnd: number;
}

export interface Message {
  header: Header;
  question?: Question;
  answers: RR[];
  authority: RR[];
  additional: RR[];
  /** Full rcode: header rcode plus the OPT record's extended bits. */
  rcode: number;
  buf: Uint8Array;
}

export type DecodeError = "short-header" | "bad-question" | "bad-record" | "internal";
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: DecodeError };

// ---------------------------------------------------------------- encoding

const FLAG_RD = 0x0100;
const FLAG_AD = 0x0020;
const FLAG_CD = 0x0010;
/** OPT pseudo-record: root owner, type 41, class = payload 1232, TTL = ext-rcode 0, version 0, DO=1; no options. */
const OPT_RR = Uint8Array.of(0, 0, 41, EDNS_PAYLOAD >> 8, EDNS_PAYLOAD & 0xff, 0, 0, 0x80, 0, 0, 0);

/**
 * Writes the question name's wire form at `at`; returns the offset after it.
 * Throws RangeError for an empty label, a label over 63 octets, a name over
 * 255 octets or a character outside printable ASCII (no escapes).
 */
function writeName(out: Uint8Array, at: number, qname: string): number {
  if (qname === "." || qname === "") {
    out[at] = 0;
    return at + 1;
  }
  const name = qname.endsWith(".") ? qname.slice(0, -1) : qname;
  let lenAt = at;
  let pos = at + 1;
  for (let i = 0; i <= name.length; i++) {
    const c = i < name.length ? name.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      const l = pos - lenAt - 1;
      if (l < 1 || l > 63) throw new RangeError("bad label length");
      out[lenAt] = l;
      lenAt = pos;
      pos++;
      continue;
    }
    if (c < 0x21 || c > 0x7e || c === 0x5c) throw new RangeError("name not encodable");
    out[pos++] = c;
  }
  out[lenAt] = 0;
  if (lenAt + 1 - at > 255) throw new RangeError("name too long");
  return lenAt + 1;
}

/** A query: header (RD=1 unless `rd: false`, AD=1, CD as asked), one question (class IN), the EDNS0 OPT record. */
export function encodeQuery(
  id: number,
  qname: string,
  qtype: RRType,
  opts: { cd?: boolean; rd?: boolean } = {},
): Buffer {
  const type = TYPE_CODES[qtype];
  if (type === undefined) throw new RangeError("unsupported type");
  const out = Buffer.allocUnsafe(12 + qname.length + 2 + 4 + OPT_RR.length);
  out.writeUInt16BE(id & 0xffff, 0);
  out.writeUInt16BE((opts.rd === false ? 0 : FLAG_RD) | FLAG_AD | (opts.cd ? FLAG_CD : 0), 2);
  out.writeUInt32BE(0x0001_0000, 4); // QDCOUNT 1, ANCOUNT 0
  out.writeUInt32BE(0x0000_0001, 8); // NSCOUNT 0, ARCOUNT 1
  let pos = writeName(out, 12, qname);
  out[pos++] = type >> 8;
  out[pos++] = type & 0xff;
  out[pos++] = 0;
  out[pos++] = CLASS_IN;
  out.set(OPT_RR, pos);
  return out.subarray(0, pos + OPT_RR.length);
}

/** Length of the question section (name, type, class) of a query made by encodeQuery. */
export function questionEnd(query: Uint8Array): number {
  let pos = 12;
  while (pos < query.length && query[pos] !== 0) pos += query[pos]! + 1;
  return pos + 5;
}

/**
 * True when `reply` carries `id`, QR=1, opcode QUERY and one question equal to
 * the query's (name compared without regard to ASCII case, type, class).
 * Reads only the header and the question octets; never throws.
 */
export function replyMatches(reply: Uint8Array, id: number, query: Uint8Array, qEnd: number): boolean {
  if (reply.length < qEnd || qEnd > query.length) return false;
  if (((reply[0]! << 8) | reply[1]!) !== id) return false;
  const f = reply[2]!;
  if ((f & 0x80) === 0 || (f & 0x78) !== 0) return false; // QR=1, opcode 0
  if (reply[4] !== 0 || reply[5] !== 1) return false; // QDCOUNT 1
  for (let i = 12; i < qEnd; i++) {
    let a = reply[i]!;
    let b = query[i]!;
    if (a === b) continue;
    if (a >= 0x41 && a <= 0x5a) a += 0x20;
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (a !== b) return false;
  }
  return true;
}

// ---------------------------------------------------------------- names

const MAX_POINTER_JUMPS = 64;

/**
 * The presentation form of one name is built here, byte by byte, and made a
 * string once: a name used to cost a string per character and per label
 * (readName allocated more than any other function of a scan). 255 wire bytes
 * escape to at most 4 characters each.
 */
const NAME_TEXT = Buffer.alloc(1024);
const BACKSLASH = 0x5c;
const DOT = 0x2e;

/**
 * Appends a label's presentation form at `at` of NAME_TEXT: ASCII letters
 * folded to lower case, "." and "\" escaped with a backslash, other bytes
 * outside printable ASCII as \DDD (RFC 1035 section 5.1). Returns the new end.
 */
function appendLabel(buf: Uint8Array, start: number, end: number, at: number): number {
  let o = at;
  for (let i = start; i < end; i++) {
    let c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c > 0x20 && c < 0x7f && c !== DOT && c !== BACKSLASH) {
      NAME_TEXT[o++] = c;
    } else if (c === DOT || c === BACKSLASH) {
      NAME_TEXT[o++] = BACKSLASH;
      NAME_TEXT[o++] = c;
    } else {
      NAME_TEXT[o++] = BACKSLASH;
      NAME_TEXT[o++] = 0x30 + Math.floor(c / 100);
      NAME_TEXT[o++] = 0x30 + (Math.floor(c / 10) % 10);
      NAME_TEXT[o++] = 0x30 + (c % 10);
    }
  }
  return o;
}

/**
 * Reads a (possibly compressed) name at `offset`. `limit` bounds the in-place
 * part (the rdata end for names inside rdata). Returns the name and the offset
 * just after its in-place part, or undefined when malformed.
 */
export function readName(
  buf: Uint8Array,
  offset: number,
  limit: number = buf.length,
): { name: string; end: number } | undefined {
  let pos = offset;
  let end = -1;
  let jumps = 0;
  let wireLen = 1;
  let n = 0;
  for (;;) {
    const bound = end < 0 ? limit : buf.length;
    if (pos >= bound) return undefined;
    const l = buf[pos]!;
    if (l === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    const kind = l & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= bound) return undefined;
      const ptr = ((l & 0x3f) << 8) | buf[pos + 1]!;
      if (end < 0) end = pos + 2;
      if (ptr >= pos || ++jumps > MAX_POINTER_JUMPS) return undefined;
      pos = ptr;
      continue;
    }
    if (kind !== 0) return undefined;
    const labelEnd = pos + 1 + l;
    if (labelEnd > bound) return undefined;
    wireLen += l + 1;
    if (wireLen > 255) return undefined;
    if (n > 0) NAME_TEXT[n++] = DOT;
    n = appendLabel(buf, pos + 1, labelEnd, n);
    pos = labelEnd;
  }
  if (n === 0) return { name: ".", end };
  // One flat string (every byte below 0x80, so Latin-1 is exact).
  return { name: NAME_TEXT.toString("latin1", 0, n), end };
}

// ---------------------------------------------------------------- messages

function u16(buf: Uint8Array, o: number): number {
  return (buf[o]! << 8) | buf[o + 1]!;
}
function u32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) >>> 0) + ((buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!);
}

function readHeader(buf: Uint8Array): Header | undefined {
  if (buf.length < 12) return undefined;
  const f = u16(buf, 2);
  return {
    id: u16(buf, 0),
    qr: (f & 0x8000) !== 0,
    opcode: (f >> 11) & 0xf,
    aa: (f & 0x0400) !== 0,
    tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0,
    ra: (f & 0x0080) !== 0,
    ad: (f & 0x0020) !== 0,
    cd: (f & 0x0010) !== 0,
    rcode: f & 0xf,
    qdcount: u16(buf, 4),
    ancount: u16(buf, 6),
    nscount: u16(buf, 8),
    arcount: u16(buf, 10),
  };
}

function readQuestion(buf: Uint8Array, offset: number): { q: Question; end: number } | undefined {
  const n = readName(buf, offset);
  if (!n || n.end + 4 > buf.length) return undefined;
  return { q: { name: n.name, type: u16(buf, n.end), klass: u16(buf, n.end + 2) }, end: n.end + 4 };
}

/** Header and first question: enough to match a reply to its query. */
export function decodeHeaderQuestion(buf: Uint8Array): Decoded<{ header: Header; question?: Question }> {
  try {
    const header = readHeader(buf);
    if (!header) return { ok: false, error: "short-header" };
    if (header.qdcount === 0) return { ok: true, value: { header } };
    const q = readQuestion(buf, 12);
    if (!q) return { ok: false, error: "bad-question" };
    return { ok: true, value: { header, question: q.q } };
  } catch {
    return { ok: false, error: "internal" };
  }
}

/** Offset just after the in-place part of the name at `pos` (structure only, no text), or -1. */
function skipName(buf: Uint8Array, pos: number): number {
  let wireLen = 1;
  for (;;) {
    if (pos >= buf.length) return -1;
    const l = buf[pos]!;
    if (l === 0) return pos + 1;
    if ((l & 0xc0) === 0xc0) return pos + 2 <= buf.length ? pos + 2 : -1;
    if ((l & 0xc0) !== 0) return -1;
    wireLen += l + 1;
    if (wireLen > 255) return -1;
    pos += l + 1;
  }
}

/**
 * Reads `count` records. With `names` false the owner names are only skipped
 * (structure checked) and left "" (use `rrName`), which saves building strings
 * for the authority and additional sections.
 */
function readRRs(buf: Uint8Array, offset: number, count: number, out: RR[], names: boolean): number {
  let pos = offset;
  for (let i = 0; i < count; i++) {
    let name = "";
    let o: number;
    if (names) {
      const n = readName(buf, pos);
      if (!n) return -1;
      name = n.name;
      o = n.end;
    } else {
      o = skipName(buf, pos);
      if (o < 0) return -1;
    }
    if (o + 10 > buf.length) return -1;
    const rdlen = u16(buf, o + 8);
    const rdStart = o + 10;
    const rdEnd = rdStart + rdlen;
    if (rdEnd > buf.length) return -1;
    out.push({
      name,
      nameAt: pos,
      type: u16(buf, o),
      klass: u16(buf, o + 2),
      ttl: u32(buf, o + 4),
      rdStart,
      rdEnd,
    });
    pos = rdEnd;
  }
  return pos;
}

/** The owner name of a record, decoding it when the section was read without names; undefined if malformed. */
export function rrName(buf: Uint8Array, rr: RR): string | undefined {
  if (rr.name !== "") return rr.name;
  return readName(buf, rr.nameAt)?.name;
}

/** Decodes every section. Trailing bytes after the counted records are ignored. */
export function decodeMessage(buf: Uint8Array): Decoded<Message> {
  try {
    const header = readHeader(buf);
    if (!header) return { ok: false, error: "short-header" };
    let pos = 12;
    let question: Question | undefined;
    for (let i = 0; i < header.qdcount; i++) {
      const q = readQuestion(buf, pos);
      if (!q) return { ok: false, error: "bad-question" };
      if (i === 0) question = q.q;
      pos = q.end;
    }
    const answers: RR[] = [];
    const authority: RR[] = [];
    const additional: RR[] = [];
    pos = readRRs(buf, pos, header.ancount, answers, true);
    if (pos >= 0) pos = readRRs(buf, pos, header.nscount, authority, false);
    if (pos >= 0) pos = readRRs(buf, pos, header.arcount, additional, false);
    if (pos < 0) return { ok: false, error: "bad-record" };
    let rcode = header.rcode;
    for (const rr of additional) {
      // OPT: the TTL field carries the extended rcode in its top byte (RFC 6891 §6.1.3).
      if (rr.type === TYPE_OPT) rcode |= (rr.ttl >>> 24) << 4;
    }
    const msg: Message = { header, answers, authority, additional, rcode, buf };
    if (question) msg.question = question;
    return { ok: true, value: msg };
  } catch {
    return { ok: false, error: "internal" };
  }
}

// ---------------------------------------------------------------- rdata

/** The address in the canonical text of libs/dane formatIp (dotted decimal). */
export function readA(buf: Uint8Array, rr: RR): string | undefined {
  if (rr.rdEnd - rr.rdStart !== 4) return undefined;
  return formatIp(buf.subarray(rr.rdStart, rr.rdEnd));
}

/** The address in the canonical text of libs/dane formatIp (RFC 5952; "::ffff:a.b.c.d" when v4-mapped). */
export function readAaaa(buf: Uint8Array, rr: RR): string | undefined {
  if (rr.rdEnd - rr.rdStart !== 16) return undefined;
  return formatIp(buf.subarray(rr.rdStart, rr.rdEnd));
}

export function readTarget(buf: Uint8Array, rr: RR): string | undefined {
  const n = readName(buf, rr.rdStart, rr.rdEnd);
  return n && n.end === rr.rdEnd ? n.name : undefined;
}

export function readMx(buf: Uint8Array, rr: RR): MxRecord | undefined {
  if (rr.rdEnd - rr.rdStart < 3) return undefined;
  const n = readName(buf, rr.rdStart + 2, rr.rdEnd);
  if (!n || n.end !== rr.rdEnd) return undefined;
  return { preference: u16(buf, rr.rdStart), exchange: n.name };
}

/**
 * The certificate association data is lowercase hex, made in one piece (a
 * string built by appending two characters an octet is a rope of one heap
 * object per append: some 2 MB for a 64 KiB record, held for as long as the
 * lookup is cached).
 */
export function readTlsa(buf: Uint8Array, rr: RR): TlsaRecord | undefined {
  if (rr.rdEnd - rr.rdStart < 3) return undefined;
  const data = Buffer.from(buf.buffer, buf.byteOffset + rr.rdStart + 3, rr.rdEnd - rr.rdStart - 3).toString(
    "hex",
  );
  return {
    usage: buf[rr.rdStart]!,
    selector: buf[rr.rdStart + 1]!,
    matchingType: buf[rr.rdStart + 2]!,
    data,
  };
}

/** RFC 1035 §3.3.14: one or more <character-string>s (a length octet, then that many octets). */
export function readTxt(buf: Uint8Array, rr: RR): string | undefined {
  if (rr.rdEnd <= rr.rdStart) return undefined;
  const parts: string[] = [];
  for (let pos = rr.rdStart; pos < rr.rdEnd; ) {
    const n = buf[pos]!;
    if (pos + 1 + n > rr.rdEnd) return undefined;
    parts.push(Buffer.from(buf.buffer, buf.byteOffset + pos + 1, n).toString("latin1"));
    pos += 1 + n;
  }
  return parts.join("");
}

export function readSoa(buf: Uint8Array, rr: RR): SoaRecord | undefined {
  const m = readName(buf, rr.rdStart, rr.rdEnd);
  if (!m) return undefined;
  const r = readName(buf, m.end, rr.rdEnd);
  if (!r || r.end + 20 !== rr.rdEnd) return undefined;
  const o = r.end;
  return {
    mname: m.name,
    rname: r.name,
    serial: u32(buf, o),
    refresh: u32(buf, o + 4),
    retry: u32(buf, o + 8),
    expire: u32(buf, o + 12),
    minimum: u32(buf, o + 16),
  };
}

/** An RRSIG's fields (RFC 4034 §3.1) but the signature; times in seconds since the epoch. */
export interface RrsigRecord {
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signer: string;
}

/**
 * Reads an RRSIG's rdata. The 32-bit times are read as unsigned seconds
 * since 1970 (RFC 4034 §3.1.5 serial arithmetic agrees until 2106).
 */
export function readRrsig(buf: Uint8Array, rr: RR): RrsigRecord | undefined {
  const o = rr.rdStart;
  if (rr.rdEnd - o < 19) return undefined;
  const signer = readName(buf, o + 18, rr.rdEnd);
  if (!signer) return undefined;
  return {
    typeCovered: u16(buf, o),
    algorithm: buf[o + 2]!,
    labels: buf[o + 3]!,
    originalTtl: u32(buf, o + 4),
    expiration: u32(buf, o + 8),
    inception: u32(buf, o + 12),
    keyTag: u16(buf, o + 16),
    signer: signer.name,
  };
}

export function readDnskey(buf: Uint8Array, rr: RR): DnskeyRecord | undefined {
  if (rr.rdEnd - rr.rdStart < 4) return undefined;
  return {
    flags: u16(buf, rr.rdStart),
    protocol: buf[rr.rdStart + 2]!,
    algorithm: buf[rr.rdStart + 3]!,
    publicKey: Buffer.from(buf.subarray(rr.rdStart + 4, rr.rdEnd)).toString("base64"),
  };
}
