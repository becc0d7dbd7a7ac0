/**
 * A small guarded DNS client that asks one authoritative server directly:
 * RD=0, EDNS0 with DO=1, so the reply carries the server's own data and its
 * RRSIGs. It exists to compare what each server of a zone serves (libs/dane
 * consistency.ts); everything else goes through the validating resolver.
 *
 * `askTlsa(guard, server, qname, opts)` resolves, never rejects, with an
 * AuthoritativeAnswer (libs/dane facts.ts):
 * - the guard's policy first (libs/probe Guard: non-public addresses refused
 *   unless allowPrivate, the opt-out list with the server's name as the host):
 *   a refused server is never contacted (status "policy-*");
 * - then admission through the guard's per-server rate and caps;
 * - one UDP exchange (the transports of transport.ts, with their strict reply
 *   matching), TCP when the reply is truncated, up to `retries` more attempts
 *   on a timeout or network error;
 * - NOERROR / NXDOMAIN with AA=1: "answer" (TLSA records at `qname`,
 *   canonical order, with the RRSIGs covering them and the RRset's TTL),
 *   "nodata" or "nxdomain"; without AA: "not-authoritative"; other rcodes
 *   and failures: their AUTH_STATUSES code.
 */
import {
  type AuthoritativeAnswer,
  type AuthStatus,
  canonicalTlsaRecords,
  formatIp,
  parseIp,
  type RrsigFacts,
  type TlsaRecord,
} from "@danesweep/dane";
import type { Guard } from "@danesweep/probe";
import { rcodeError } from "./resolver.ts";
import { newCounters, TcpChannel, UdpChannel } from "./transport.ts";
import {
  CLASS_IN,
  decodeMessage,
  encodeQuery,
  type Message,
  questionEnd,
  readRrsig,
  readTlsa,
  TYPE_CODES,
} from "./wire.ts";

const TYPE_RRSIG = 46;

export interface AskOptions {
  /** Per attempt; default 2000. */
  timeoutMs?: number;
  /** Further attempts after a timeout or network failure; default 1. */
  retries?: number;
  /** Port; default 53. */
  port?: number;
  /** Uniform in [0, 1) for query IDs; default Math.random (IDs are also matched with the question). */
  random?: () => number;
}

/** The TLSA records at `qname` in the answer section, canonical order, and the RRSIGs covering them. */
function tlsaAnswer(msg: Message, qname: string): Pick<AuthoritativeAnswer, "records" | "rrsigs" | "ttl"> {
  const records: TlsaRecord[] = [];
  const rrsigs: RrsigFacts[] = [];
  let ttl: number | undefined;
  for (const rr of msg.answers) {
    if (rr.klass !== CLASS_IN || rr.name !== qname) continue;
    if (rr.type === TYPE_CODES.TLSA) {
      const t = readTlsa(msg.buf, rr);
      if (t) records.push(t);
      ttl = ttl === undefined ? rr.ttl : Math.min(ttl, rr.ttl);
    } else if (rr.type === TYPE_RRSIG) {
      const s = readRrsig(msg.buf, rr);
      if (s && s.typeCovered === TYPE_CODES.TLSA) {
        rrsigs.push({
          signer: s.signer,
          keyTag: s.keyTag,
          algorithm: s.algorithm,
          originalTtl: s.originalTtl,
          inception: new Date(s.inception * 1000).toISOString(),
          expiration: new Date(s.expiration * 1000).toISOString(),
        });
      }
    }
  }
  const sorted = canonicalTlsaRecords(records);
  const out: Pick<AuthoritativeAnswer, "records" | "rrsigs" | "ttl"> = { records: sorted, rrsigs };
  if (ttl !== undefined) out.ttl = ttl;
  return out;
}

/** Asks `server` (a name server's name and one of its addresses) for the TLSA RRset at `qname`. */
export async function askTlsa(
  guard: Guard,
  server: { name: string; address: string },
  qname: string,
  opts: AskOptions = {},
): Promise<AuthoritativeAnswer> {
  const bytes = parseIp(server.address);
  const address = bytes ? formatIp(bytes) : server.address;
  const base = { server: server.name, address };
  const refused = guard.refusal({ ip: address, mxHost: server.name });
  if (refused) return { ...base, status: refused.status, detail: refused.detail };
  const admission = await guard.admit(address);
  if (!admission.ok) return { ...base, status: "network", detail: "closed" };
  const port = opts.port ?? 53;
  const upstream = {
    key: bytes?.length === 16 ? `[${address}]:${port}` : `${address}:${port}`,
    host: address,
    port,
  };
  const counters = newCounters();
  const udp = new UdpChannel(upstream, counters);
  const tcp = new TcpChannel(upstream, counters, { connections: 1 });
  const random = opts.random ?? Math.random;
  const pickId = () => Math.floor(random() * 0x10000) & 0xffff;
  const timeoutMs = opts.timeoutMs ?? 2000;
  try {
    let query: Buffer;
    try {
      query = encodeQuery(0, qname, "TLSA", { rd: false });
    } catch {
      return { ...base, status: "other", detail: "the name cannot be encoded" };
    }
    const qEnd = questionEnd(query);
    let last: AuthStatus = "timeout";
    let detail = `no reply within ${timeoutMs} ms`;
    for (let attempt = 0; attempt <= (opts.retries ?? 1); attempt++) {
      let r = await udp.exchange(query, qEnd, timeoutMs, pickId);
      if (r.kind === "reply" && (r.buf[2]! & 0x02) !== 0)
        r = await tcp.exchange(query, qEnd, timeoutMs, pickId);
      if (r.kind === "timeout") {
        last = "timeout";
        continue;
      }
      if (r.kind === "network") {
        last = "network";
        detail = r.detail;
        continue;
      }
      const d = decodeMessage(r.buf);
      if (!d.ok) return { ...base, status: "malformed", detail: d.error };
      const msg = d.value;
      if (msg.rcode !== 0 && msg.rcode !== 3) return { ...base, status: rcodeError(msg.rcode) as AuthStatus };
      if (!msg.header.aa) return { ...base, status: "not-authoritative", detail: "reply without AA" };
      if (msg.rcode === 3) return { ...base, status: "nxdomain" };
      const a = tlsaAnswer(msg, qname);
      if ((a.records ?? []).length === 0) return { ...base, status: "nodata" };
      return { ...base, status: "answer", ...a };
    }
    return { ...base, status: last, detail };
  } finally {
    admission.release();
    await Promise.all([udp.close(), tcp.close()]);
  }
}
