/**
 * Address classification and the IPv4-in-IPv6 unwrapping every address policy
 * uses (pure). Parsing and the canonical text form are libs/dane's
 * (`parseIp`, `formatIp`, `canonicalIp`: one form for every package).
 *
 * - embeddedIpv4(bytes): the IPv4 addresses an IPv6 address carries, so that
 *   the private-address check, the opt-out list and the per-host rate limit
 *   judge the host that is really reached. IPv4-mapped (::ffff:0:0/96), NAT64
 *   well-known prefix (64:ff9b::/96) and IPv4-compatible (::/96, deprecated;
 *   not :: or ::1): the last 32 bits. NAT64 local-use (64:ff9b:1::/48, RFC
 *   8215): the operator's prefix may be 48, 56, 64 or 96 bits long, so each
 *   RFC 6052 section 2.2 position is a candidate where it is well formed
 *   (bits 64-71 zero and a zero suffix for the shorter prefixes), the /96
 *   position first. Any other address (IPv4 included): none.
 * - classifyAddress(text): { public: true } for an address a scanner may
 *   contact, otherwise { public: false, range } naming the IANA
 *   special-purpose range (or "invalid" for text that is not an address).
 *   v4-mapped and NAT64 well-known-prefix addresses are judged by the IPv4
 *   address they carry; a v4-compatible one is refused, by the range of its
 *   IPv4 address when that is not public, else as "ipv4-compatible"; the
 *   NAT64 local-use block is refused as a whole ("nat64-local"). The choice
 *   errs towards "not public": a whole IETF block is refused even when the
 *   registry marks a sub-block globally reachable, because no mail host
 *   lives there.
 * - prefixMatch(addr, prefix, bits): whether the first `bits` bits agree
 *   (false when one is IPv4 and the other IPv6).
 */
import { type IpBytes, parseIp } from "@danesweep/dane";

export type { IpBytes };

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

const V4_MAPPED = parseIp("::ffff:0:0")!;
const NAT64_WELL_KNOWN = parseIp("64:ff9b::")!;
const NAT64_LOCAL = parseIp("64:ff9b:1::")!;
const ZERO6 = new Uint8Array(16);

function zero(b: IpBytes, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

export function embeddedIpv4(b: IpBytes): IpBytes[] {
  if (b.length !== 16) return [];
  const last = b.subarray(12, 16);
  if (prefixMatch(b, V4_MAPPED, 96) || prefixMatch(b, NAT64_WELL_KNOWN, 96)) return [last];
  if (prefixMatch(b, ZERO6, 96)) return zero(b, 12, 15) && b[15]! <= 1 ? [] : [last];
  if (!prefixMatch(b, NAT64_LOCAL, 48)) return [];
  // RFC 6052 2.2: prefix length -> where the 32 IPv4 bits sit (bits 64-71, octet 8, are skipped)
  const out: IpBytes[] = [last];
  if (b[8] === 0) {
    if (zero(b, 13, 16)) out.push(b.slice(9, 13)); // /64
    if (zero(b, 12, 16)) out.push(Uint8Array.of(b[7]!, b[9]!, b[10]!, b[11]!)); // /56
    if (zero(b, 11, 16)) out.push(Uint8Array.of(b[6]!, b[7]!, b[9]!, b[10]!)); // /48
  }
  return out;
}

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
    if (range === "embedded-v4" || range === "ipv4-compatible") {
      // both rows lie inside embeddedIpv4's prefixes (:: and ::1 matched earlier rows)
      const inner = classifyV4(embeddedIpv4(b)[0]!);
      return range === "ipv4-compatible" && inner.public ? { public: false, range } : inner;
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
