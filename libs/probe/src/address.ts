/**
 * IP address parsing and classification (pure).
 *
 * - parseIp(text): the address as bytes (4 for IPv4, 16 for IPv6), or
 *   undefined when the text is not a literal address. IPv4 is dotted quad
 *   without leading zeros; IPv6 is RFC 4291 text, with an embedded dotted quad
 *   and an optional zone ("%eth0", ignored). Never throws.
 * - canonicalIp(text): RFC 5952 form for IPv6 (lowercase, longest zero run
 *   compressed, "::ffff:a.b.c.d" for v4-mapped), dotted quad for IPv4;
 *   undefined when the text is not an address.
 * - classifyAddress(text): { public: true } for an address a scanner may
 *   contact, otherwise { public: false, range } naming the IANA
 *   special-purpose range (or "invalid" for text that is not an address).
 *   v4-mapped, v4-compatible and NAT64 (64:ff9b::/96) IPv6 addresses are judged
 *   by the IPv4 address they carry. The choice errs towards "not public": a
 *   whole IETF block is refused even when the registry marks a sub-block
 *   globally reachable, because no mail host lives there.
 * - prefixMatch(addr, prefix, bits): whether the first `bits` bits agree.
 */

export type IpBytes = Uint8Array;

export type AddressClass = { public: true } | { public: false; range: string };

/** Names of the non-public ranges classifyAddress reports. */
export const ADDRESS_RANGES = [
  "invalid",
  "this-network",
  "rfc1918",
  "cgnat",
  "loopback",
  "link-local",
  "ietf-protocol",
  "documentation",
  "6to4-relay",
  "benchmarking",
  "multicast",
  "reserved",
  "broadcast",
  "unspecified",
  "ipv4-compatible",
  "nat64-local",
  "discard-only",
  "dummy-prefix",
  "6to4",
  "srv6-sid",
  "ula",
  "site-local",
] as const;
export type AddressRange = (typeof ADDRESS_RANGES)[number];

function parseV4(s: string): IpBytes | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return undefined;
    if (p.length > 1 && p[0] === "0") return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseV6(input: string): IpBytes | undefined {
  let s = input;
  const pct = s.indexOf("%");
  if (pct >= 0) {
    if (pct === s.length - 1) return undefined;
    s = s.slice(0, pct);
  }
  if (s.length < 2 || s.length > 45) return undefined;
  const words: number[] = [];
  let tailV4: IpBytes | undefined;
  const lastColon = s.lastIndexOf(":");
  if (s.indexOf(".", lastColon) >= 0) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (!tailV4) return undefined;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = s.indexOf("::");
  if (dbl >= 0 && s.indexOf("::", dbl + 1) >= 0) return undefined;
  const parseGroups = (t: string): number[] | undefined => {
    if (t === "") return [];
    const g = t.split(":");
    const r: number[] = [];
    for (const h of g) {
      if (h.length === 0 || h.length > 4 || !/^[0-9a-fA-F]+$/.test(h)) return undefined;
      r.push(Number.parseInt(h, 16));
    }
    return r;
  };
  if (dbl >= 0) {
    const head = parseGroups(s.slice(0, dbl));
    const tail = parseGroups(s.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    words.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  } else {
    const all = parseGroups(s);
    if (all?.length !== 8) return undefined;
    words.push(...all);
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  if (tailV4) out.set(tailV4, 12);
  return out;
}

export function parseIp(text: string): IpBytes | undefined {
  if (typeof text !== "string" || text.length === 0 || text.length > 64) return undefined;
  return text.includes(":") ? parseV6(text) : parseV4(text);
}

export function formatIp(b: IpBytes): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (prefixMatch(b, V4_MAPPED, 96)) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  // longest run of zero words (length >= 2), first one on ties (RFC 5952 4.2.3)
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(w);
  return `${hex(w.slice(0, bestAt))}::${hex(w.slice(bestAt + bestLen))}`;
}

export function canonicalIp(text: string): string | undefined {
  const b = parseIp(text);
  return b ? formatIp(b) : undefined;
}

export function prefixMatch(addr: IpBytes, prefix: IpBytes, bits: number): boolean {
  if (addr.length !== prefix.length) return false;
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== prefix[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((addr[full]! ^ prefix[full]!) & mask) === 0;
}

type RangeRow = [prefix: IpBytes, bits: number, range: AddressRange | "embedded-v4"];

const V4_MAPPED = parseV6("::ffff:0:0")!;

function rows(list: [string, AddressRange | "embedded-v4"][]): RangeRow[] {
  return list.map(([cidr, range]) => {
    const [a, b] = cidr.split("/");
    return [parseIp(a!)!, Number(b), range];
  });
}

/**
 * IANA IPv4 Special-Purpose Address Registry (RFC 6890 and updates), most
 * specific first. Blocks the registry marks globally reachable that a mail
 * host may sit in (AS112 192.31.196.0/24, 192.175.48.0/24, AMT
 * 192.52.193.0/24) are left public.
 */
const V4_ROWS = rows([
  ["255.255.255.255/32", "broadcast"],
  ["0.0.0.0/8", "this-network"],
  ["10.0.0.0/8", "rfc1918"],
  ["100.64.0.0/10", "cgnat"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "rfc1918"],
  ["192.0.0.0/24", "ietf-protocol"],
  ["192.0.2.0/24", "documentation"],
  ["192.88.99.0/24", "6to4-relay"],
  ["192.168.0.0/16", "rfc1918"],
  ["198.18.0.0/15", "benchmarking"],
  ["198.51.100.0/24", "documentation"],
  ["203.0.113.0/24", "documentation"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved"],
]);

/** IANA IPv6 Special-Purpose Address Registry, plus everything outside 2000::/3. */
const V6_ROWS = rows([
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["::ffff:0:0/96", "embedded-v4"],
  ["64:ff9b::/96", "embedded-v4"],
  ["::/96", "ipv4-compatible"],
  ["64:ff9b:1::/48", "nat64-local"],
  ["100::/64", "discard-only"],
  ["100:0:0:1::/64", "dummy-prefix"],
  ["2001:db8::/32", "documentation"],
  ["2001::/23", "ietf-protocol"],
  ["2002::/16", "6to4"],
  ["3fff::/20", "documentation"],
  ["5f00::/16", "srv6-sid"],
  ["fc00::/7", "ula"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "site-local"],
  ["ff00::/8", "multicast"],
]);

const GLOBAL_UNICAST = parseIp("2000::")!;

function classifyV4(b: IpBytes): AddressClass {
  for (const [p, bits, range] of V4_ROWS) {
    if (prefixMatch(b, p, bits)) return { public: false, range };
  }
  return { public: true };
}

export function classifyBytes(b: IpBytes): AddressClass {
  if (b.length === 4) return classifyV4(b);
  for (const [p, bits, range] of V6_ROWS) {
    if (!prefixMatch(b, p, bits)) continue;
    if (range === "embedded-v4") return classifyV4(b.subarray(12, 16));
    if (range === "ipv4-compatible") {
      const inner = classifyV4(b.subarray(12, 16));
      return inner.public ? { public: false, range } : inner;
    }
    return { public: false, range };
  }
  if (!prefixMatch(b, GLOBAL_UNICAST, 3)) return { public: false, range: "reserved" };
  return { public: true };
}

export function classifyAddress(ip: string): AddressClass {
  const b = parseIp(ip);
  if (!b) return { public: false, range: "invalid" };
  return classifyBytes(b);
}
