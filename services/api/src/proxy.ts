/**
 * Whom the API believes about the client's address when it runs behind a
 * reverse proxy. The per-address rate limit keys on that address, so
 * believing the wrong peer lets a client pick its own address.
 *
 * X-Forwarded-For lists addresses oldest first, each proxy appending the
 * address it received the request from; only the right end is written by
 * proxies we run, the left end by whoever sent the request. The client
 * address is found by walking from the TCP peer leftwards through trusted
 * proxies and stopping at the first address that is not one (Fastify does the
 * walk; `fastifyTrustProxy` says who is trusted):
 * - `{ hops: N }`: exactly N proxies stand in front of the API on every path:
 *   the peer and the N-1 entries to its left are proxies, the entry after
 *   them is the client. Wrong if a client can reach the API with fewer
 *   proxies in between (it could then name any address).
 * - `{ proxies: [...] }`: the proxies' addresses and networks (IPv4 or IPv6,
 *   CIDR allowed): a peer or entry in the list is a proxy. IPv4-mapped IPv6
 *   peers (::ffff:192.0.2.1) match their IPv4 entries. Addresses are parsed
 *   and matched by @danesweep/probe (its address-list parser, the one the
 *   opt-out list uses), the project's one reading of IP text.
 *
 * `parseTrustProxy(text)` reads the `serve --trust-proxy` value: a hop count
 * (1..MAX_PROXY_HOPS) or addresses and CIDRs separated by commas; the result
 * is a tagged union whose error names the bad entry. Pure.
 */
import { matchOptOut, parseOptOutList } from "@danesweep/probe";

export type TrustProxy = { hops: number } | { proxies: string[] };

export const MAX_PROXY_HOPS = 10;

export type TrustProxyParse = { ok: true; value: TrustProxy } | { ok: false; error: string };

export function parseTrustProxy(text: string): TrustProxyParse {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const hops = Number(t);
    if (hops < 1 || hops > MAX_PROXY_HOPS)
      return { ok: false, error: `a hop count must be 1 to ${MAX_PROXY_HOPS}, got ${t}` };
    return { ok: true, value: { hops } };
  }
  const proxies = t
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (proxies.length === 0)
    return { ok: false, error: "give a hop count or the proxies' addresses (ADDR or CIDR, comma-separated)" };
  for (const p of proxies) {
    if (/[#\s]/.test(p) || addressList([p]) === undefined)
      return { ok: false, error: `"${p}" is not an IP address or CIDR (ADDR or ADDR/BITS)` };
  }
  return { ok: true, value: { proxies } };
}

/** The entries as an address list, or undefined if one is not an address or CIDR. */
function addressList(entries: string[]) {
  const { list, errors } = parseOptOutList(entries.join("\n"));
  // Names (bare, host:, domain:) are opt-out entries, not addresses.
  const names = list.names.size + list.hosts.size + list.domains.size;
  return errors.length > 0 || names > 0 ? undefined : list;
}

/**
 * Fastify's trustProxy option for a TrustProxy: whether the address `hop`
 * steps left of the TCP peer (the peer is hop 0) is a proxy.
 */
export function fastifyTrustProxy(t: TrustProxy): (address: string, hop: number) => boolean {
  if ("hops" in t) {
    const hops = t.hops;
    if (!Number.isInteger(hops) || hops < 1 || hops > MAX_PROXY_HOPS)
      throw new RangeError(`trustProxy.hops: ${hops} is not 1 to ${MAX_PROXY_HOPS}`);
    return (_address, hop) => hop < hops;
  }
  const list = addressList(t.proxies);
  if (list === undefined || t.proxies.length === 0)
    throw new RangeError(`trustProxy.proxies: not a list of addresses and CIDRs: ${t.proxies.join(", ")}`);
  return (address) => matchOptOut(list, { ip: address }) !== undefined;
}
