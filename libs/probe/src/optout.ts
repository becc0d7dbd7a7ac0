/**
 * The opt-out list: addresses, networks and names danesweep never contacts (pure).
 *
 * Text format, one entry a line, "#" starts a comment, blank lines ignored:
 *   192.0.2.25            one address (IPv4 or IPv6)
 *   198.51.100.0/24       a network (host bits are ignored)
 *   example.net           a name: refuses an MX host, SNI or mail domain equal
 *                         to it or under it
 *   host:mx1.example.org  exactly this MX host name (or SNI), not names under it
 *   domain:example.org    mail domain example.org and its subdomains
 * Names are compared as lowercase A-labels without the trailing dot; a U-label
 * is converted to its A-label.
 *
 * Addresses are compared as bytes, never as text, and IPv4 carried in IPv6 is
 * unwrapped on both sides with address.ts embeddedIpv4, the function the
 * private-address check uses: an entry 93.184.215.14 refuses a dial to
 * ::ffff:93.184.215.14, 64:ff9b::5db8:d70e, ::93.184.215.14 or a NAT64
 * local-use address carrying it, and an entry written in one of those forms
 * refuses 93.184.215.14. A network entry is unwrapped only when it is
 * narrower than the /96 that embeds the IPv4 address (::ffff:192.0.2.0/120
 * is 192.0.2.0/24); a /96 or wider one (64:ff9b::/96) keeps to the IPv6
 * addresses it names, and does not turn into "all of IPv4".
 *
 * - parseOptOutList(text) never throws: each bad line is reported as
 *   { line (1-based), error code, text } and skipped; the good lines form the list.
 * - matchOptOut(list, target) returns the entry that refuses the target (its
 *   kind and the text as written), or undefined.
 * - emptyOptOutList() is the list with no entries.
 */
import { domainToASCII } from "node:url";
import { parseIp } from "@danesweep/dane";
import { embeddedIpv4, type IpBytes, prefixMatch } from "./address.ts";

export const OPT_OUT_ERRORS = ["invalid-address", "invalid-cidr", "invalid-name", "unknown-prefix"] as const;
export type OptOutError = (typeof OPT_OUT_ERRORS)[number];

export type OptOutKind = "address" | "cidr" | "name" | "host" | "domain";

interface Net {
  prefix: IpBytes;
  bits: number;
  text: string;
}

export interface OptOutList {
  /** Networks and single addresses (a single address is a /32 or /128). */
  nets: Net[];
  /** Single addresses by their bytes in hex (an entry carrying IPv4 in IPv6 under both), for speed. */
  addresses: Map<string, string>;
  /** Name suffix entries (bare names): name -> text. */
  names: Map<string, string>;
  /** Exact MX host entries: name -> text. */
  hosts: Map<string, string>;
  /** Mail domain suffix entries: name -> text. */
  domains: Map<string, string>;
}

export interface OptOutTarget {
  ip: string;
  mxHost?: string;
  sni?: string;
  domain?: string;
}

export interface OptOutMatch {
  kind: OptOutKind;
  /** The entry as written in the list. */
  entry: string;
}

export function emptyOptOutList(): OptOutList {
  return { nets: [], addresses: new Map(), names: new Map(), hosts: new Map(), domains: new Map() };
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Lowercase A-label without trailing dot, or undefined when not a host name. */
export function normalizeName(text: string): string | undefined {
  let s = text.trim();
  if (s.endsWith(".")) s = s.slice(0, -1);
  if (s.length === 0 || s.length > 253) return undefined;
  if (!/^[\x00-\x7f]*$/.test(s)) s = domainToASCII(s);
  s = s.toLowerCase();
  if (s.length === 0 || s.length > 253) return undefined;
  for (const l of s.split(".")) if (!LABEL.test(l)) return undefined;
  return s;
}

function addrKey(b: IpBytes): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Adds one entry to the list, or says why it cannot. */
function addEntry(list: OptOutList, entry: string): OptOutError | undefined {
  const colon = entry.indexOf(":");
  const prefixed = /^[a-z]+:/i.test(entry) && !/^[0-9a-f]{1,4}:/i.test(entry) ? entry.slice(0, colon) : "";
  if (prefixed) {
    const name = normalizeName(entry.slice(colon + 1));
    const p = prefixed.toLowerCase();
    if (p !== "host" && p !== "domain") return "unknown-prefix";
    if (!name) return "invalid-name";
    (p === "host" ? list.hosts : list.domains).set(name, entry);
    return undefined;
  }
  if (entry.includes("/")) {
    const [a, b, ...more] = entry.split("/");
    const addr = parseIp(a!);
    const bits = /^[0-9]{1,3}$/.test(b ?? "") ? Number(b) : Number.NaN;
    if (more.length || !addr || !(bits >= 0 && bits <= addr.length * 8)) return "invalid-cidr";
    list.nets.push({ prefix: addr, bits, text: entry });
    const inner = bits > 96 ? embeddedIpv4(addr)[0] : undefined;
    if (inner) list.nets.push({ prefix: inner, bits: bits - 96, text: entry });
    return undefined;
  }
  if (entry.includes(":") || /^[0-9.]+$/.test(entry)) {
    const addr = parseIp(entry);
    if (!addr) return "invalid-address";
    for (const a of [addr, ...embeddedIpv4(addr)]) {
      const k = addrKey(a);
      if (!list.addresses.has(k)) list.addresses.set(k, entry);
    }
    return undefined;
  }
  const name = normalizeName(entry);
  if (!name) return "invalid-name";
  list.names.set(name, entry);
  return undefined;
}

export function parseOptOutList(text: string): {
  list: OptOutList;
  errors: { line: number; error: OptOutError; text: string }[];
} {
  const list = emptyOptOutList();
  const errors: { line: number; error: OptOutError; text: string }[] = [];
  const lines = String(text ?? "").split(/\r?\n/);
  lines.forEach((raw, i) => {
    const hash = raw.indexOf("#");
    const entry = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (entry === "") return;
    const error = addEntry(list, entry);
    if (error) errors.push({ line: i + 1, error, text: entry });
  });
  return { list, errors };
}

/** The entry of `map` equal to `name` or to one of its parent names. */
function suffixLookup(map: Map<string, string>, name: string): string | undefined {
  if (map.size === 0) return undefined;
  let n = name;
  for (;;) {
    const hit = map.get(n);
    if (hit !== undefined) return hit;
    const dot = n.indexOf(".");
    if (dot < 0) return undefined;
    n = n.slice(dot + 1);
  }
}

export function matchOptOut(list: OptOutList, target: OptOutTarget): OptOutMatch | undefined {
  const addr = parseIp(target.ip);
  if (addr) {
    for (const a of [addr, ...embeddedIpv4(addr)]) {
      const hit = list.addresses.get(addrKey(a));
      if (hit !== undefined) return { kind: "address", entry: hit };
      for (const n of list.nets) if (prefixMatch(a, n.prefix, n.bits)) return { kind: "cidr", entry: n.text };
    }
  }
  const mx = target.mxHost ? normalizeName(target.mxHost) : undefined;
  const sni = target.sni ? normalizeName(target.sni) : undefined;
  const domain = target.domain ? normalizeName(target.domain) : undefined;
  for (const n of [mx, sni]) {
    if (!n) continue;
    const h = list.hosts.get(n);
    if (h !== undefined) return { kind: "host", entry: h };
  }
  if (domain) {
    const d = suffixLookup(list.domains, domain);
    if (d !== undefined) return { kind: "domain", entry: d };
  }
  for (const n of [mx, sni, domain]) {
    if (!n) continue;
    const s = suffixLookup(list.names, n);
    if (s !== undefined) return { kind: "name", entry: s };
  }
  return undefined;
}
