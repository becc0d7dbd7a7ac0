/**
 * The one text form of an IP address in danesweep (pure, no I/O).
 *
 * Every package that writes an address as text (the DNS decoder for A and
 * AAAA rdata, the prober's facts, probe keys, the dialer's per-host state, the
 * opt-out list, resolver upstreams) goes through `formatIp`, so two texts of
 * one address never meet: a probe wait keyed on an AAAA record and the facts
 * the prober stores for it carry the same string.
 *
 * The canonical form:
 * - IPv4: dotted decimal, four parts 0-255 without leading zeros ("192.0.2.1").
 * - IPv6: RFC 5952 section 4: lowercase hexadecimal, no leading zeros in a
 *   group, the longest run of two or more all-zero groups written "::" (the
 *   first run when two are as long), a lone zero group written "0".
 * - IPv4-mapped IPv6 (::ffff:0:0/96) in the mixed notation RFC 5952 section 5
 *   recommends: "::ffff:192.0.2.1". It stays an IPv6 text (it is what the
 *   AAAA record said, and it is dialled over IPv6); what it reaches is the
 *   policy checks' business (libs/probe unwraps it, and the other IPv4-in-IPv6
 *   forms, before any comparison). Other forms that embed an IPv4 address
 *   (NAT64 64:ff9b::/96, the deprecated IPv4-compatible ::/96) are written in
 *   hexadecimal like any IPv6 address.
 *
 * Contract:
 * - parseIp(text): the address as 4 bytes (IPv4) or 16 bytes (IPv6), or
 *   undefined when `text` is not an address literal. IPv4 must be dotted
 *   decimal without leading zeros (a leading zero is octal to some parsers,
 *   so it is refused rather than guessed). IPv6 is RFC 4291 section 2.2 text,
 *   in any case, with "::" at most once, an optional dotted IPv4 tail and an
 *   optional zone ("%eth0"), which is dropped. Never throws.
 * - formatIp(bytes): the canonical text of a 4- or 16-byte address; throws
 *   RangeError for any other length (a programming error, not input).
 * - canonicalIp(text): formatIp(parseIp(text)), or undefined when `text` is
 *   not an address.
 */

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

function parseDotted(s: string): IpBytes | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
      continue;
    }
    if (c < 0x30 || c > 0x39) return undefined;
    if (digits === 1 && value === 0) return undefined; // leading zero
    value = value * 10 + (c - 0x30);
    if (++digits > 3 || value > 255) return undefined;
  }
  return part === 4 ? out : undefined;
}

/** Hex groups separated by ":" ("" is no group); undefined when one is malformed. */
function parseGroups(s: string): number[] | undefined {
  if (s === "") return [];
  const groups = s.split(":");
  const out: number[] = [];
  for (const g of groups) {
    if (g.length === 0 || g.length > 4 || !/^[0-9a-fA-F]+$/.test(g)) return undefined;
    out.push(Number.parseInt(g, 16));
  }
  return out;
}

function parseColon(input: string): IpBytes | undefined {
  let s = input;
  const zone = s.indexOf("%");
  if (zone >= 0) {
    if (zone === s.length - 1) return undefined;
    s = s.slice(0, zone);
  }
  if (s.length < 2 || s.length > 45) return undefined;
  let v4: IpBytes | undefined;
  const lastColon = s.lastIndexOf(":");
  if (s.indexOf(".", lastColon) >= 0) {
    // A dotted IPv4 tail stands for the last two groups.
    v4 = parseDotted(s.slice(lastColon + 1));
    if (!v4) return undefined;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const gap = s.indexOf("::");
  let words: number[];
  if (gap >= 0) {
    if (s.indexOf("::", gap + 1) >= 0) return undefined;
    const head = parseGroups(s.slice(0, gap));
    const tail = parseGroups(s.slice(gap + 2));
    // "::" stands for at least one zero group (RFC 5952 4.2.2 writes a single one as "0")
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseGroups(s);
    if (all?.length !== 8) return undefined;
    words = all;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  if (v4) out.set(v4, 12);
  return out;
}

export function parseIp(text: string): IpBytes | undefined {
  if (typeof text !== "string" || text.length === 0 || text.length > 64) return undefined;
  return text.includes(":") ? parseColon(text) : parseDotted(text);
}

function isV4Mapped(b: IpBytes): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

export function formatIp(b: IpBytes): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${b.length}`);
  if (isV4Mapped(b)) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i]! << 8) | b[i + 1]!);
  // The longest run of zero groups, at least two long; the first of equal runs.
  let runAt = -1;
  let runLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > runLen) {
      runAt = i;
      runLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (runAt < 0) return hex(w);
  return `${hex(w.slice(0, runAt))}::${hex(w.slice(runAt + runLen))}`;
}

export function canonicalIp(text: string): string | undefined {
  const b = parseIp(text);
  return b ? formatIp(b) : undefined;
}
