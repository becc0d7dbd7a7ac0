/**
 * Transports to one upstream resolver.
 *
 * `UdpChannel`: one connected UDP socket multiplexing many queries by ID.
 *   `exchange(query, qname, qtype, timeoutMs, pickId)` writes the chosen ID into
 *   the query, sends it and resolves with the first reply whose source address,
 *   ID, QR bit and question (name, type, class IN) all match; any other datagram
 *   is ignored (counted) and the wait goes on. Resolves `{ kind: "timeout" }`
 *   (send errors, e.g. ICMP unreachable, are counted and also end as a
 *   timeout), or `{ kind: "network" }` once closed; never rejects.
 * `tcpExchange(upstream, query, qname, qtype, timeoutMs)`: one query over a new
 *   TCP connection with 2-octet length framing, reassembling the reply across
 *   chunks; same matching and result shape; never rejects.
 */
import { createSocket, type Socket } from "node:dgram";
import { connect, isIPv6 } from "node:net";
import { decodeHeaderQuestion } from "./wire.ts";

export interface Upstream {
  /** As configured and reported in provenance: "127.0.0.1:53", "[::1]:53". */
  key: string;
  host: string;
  port: number;
}

export type UpstreamParseResult = { ok: true; upstream: Upstream } | { ok: false; detail: string };

/** Parses "127.0.0.1", "127.0.0.1:53", "[::1]:53", "::1". Only IP addresses (no names: no bootstrap lookups). */
export function parseUpstream(text: string): UpstreamParseResult {
  const s = text.trim();
  let host: string;
  let portText = "53";
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2]) portText = bracket[2];
  } else if (isIPv6(s)) {
    host = s;
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (!m) return { ok: false, detail: `cannot parse upstream ${JSON.stringify(text)}` };
    host = m[1]!;
    if (m[2]) portText = m[2];
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { ok: false, detail: `bad port in upstream ${JSON.stringify(text)}` };
  }
  const v6 = isIPv6(host);
  if (!v6 && !/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) {
    return { ok: false, detail: `upstream ${JSON.stringify(text)} is not an IP address` };
  }
  return { ok: true, upstream: { key: v6 ? `[${host}]:${port}` : `${host}:${port}`, host, port } };
}

export type ExchangeResult =
  | { kind: "reply"; buf: Buffer }
  | { kind: "timeout" }
  | { kind: "network"; detail: string };

export interface TransportCounters {
  udpSent: number;
  tcpSent: number;
  received: number;
  mismatched: number;
  undecodable: number;
  timeouts: number;
  networkErrors: number;
}

interface Pending {
  qname: string;
  qtype: number;
  timer: NodeJS.Timeout;
  done: (r: ExchangeResult) => void;
}

function questionMatches(
  buf: Buffer,
  id: number,
  qname: string,
  qtype: number,
  counters: TransportCounters,
): boolean {
  const d = decodeHeaderQuestion(buf);
  if (!d.ok) {
    counters.undecodable++;
    return false;
  }
  const { header, question } = d.value;
  if (header.id !== id || !header.qr || header.opcode !== 0 || !question) {
    counters.mismatched++;
    return false;
  }
  if (question.name !== qname || question.type !== qtype || question.klass !== 1) {
    counters.mismatched++;
    return false;
  }
  return true;
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  return a.toLowerCase().replace(/^::ffff:/, "") === b.toLowerCase().replace(/^::ffff:/, "");
}

/** Requested socket buffer size; the kernel caps it (net.core.rmem_max / wmem_max). */
const UDP_BUFFER_BYTES = 4 << 20;

export class UdpChannel {
  readonly upstream: Upstream;
  private readonly counters: TransportCounters;
  private socket: Socket | undefined;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private connected = false;
  private backlog: Buffer[] = [];

  constructor(upstream: Upstream, counters: TransportCounters) {
    this.upstream = upstream;
    this.counters = counters;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  private open(): Socket {
    if (this.socket) return this.socket;
    // A large receive buffer: hundreds of replies can land between two event-loop turns.
    const s = createSocket({ type: isIPv6(this.upstream.host) ? "udp6" : "udp4" });
    s.on("message", (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
    // Errors (e.g. ICMP unreachable surfaced by the kernel) are counted; the query times out.
    s.on("error", () => {
      this.counters.networkErrors++;
    });
    s.unref();
    // Connected: the kernel drops datagrams from any other source, and sends
    // skip the per-call address lookup. Queries wait in `backlog` until then.
    s.connect(this.upstream.port, this.upstream.host, () => {
      try {
        s.setRecvBufferSize(UDP_BUFFER_BYTES);
        s.setSendBufferSize(UDP_BUFFER_BYTES);
      } catch {
        // The kernel's default buffers still work, with more loss under bursts.
      }
      this.connected = true;
      for (const b of this.backlog) this.sendNow(b);
      this.backlog = [];
    });
    this.socket = s;
    return s;
  }

  private sendNow(b: Buffer): void {
    try {
      this.socket?.send(b);
    } catch {
      this.counters.networkErrors++;
    }
  }

  private onMessage(buf: Buffer, address: string, port: number): void {
    this.counters.received++;
    if (port !== this.upstream.port || !sameAddress(address, this.upstream.host) || buf.length < 2) {
      this.counters.mismatched++;
      return;
    }
    const id = buf.readUInt16BE(0);
    const p = this.pending.get(id);
    if (!p) {
      this.counters.mismatched++;
      return;
    }
    if (!questionMatches(buf, id, p.qname, p.qtype, this.counters)) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.done({ kind: "reply", buf });
  }

  /** `pickId` returns a random 16-bit ID; one not already pending on this socket is used. */
  exchange(
    query: Buffer,
    qname: string,
    qtype: number,
    timeoutMs: number,
    pickId: () => number,
  ): Promise<ExchangeResult> {
    if (this.closed) return Promise.resolve({ kind: "network", detail: "resolver closed" });
    let id = pickId();
    for (let tries = 0; this.pending.has(id); tries++) {
      if (tries > 64) return Promise.resolve({ kind: "network", detail: "no free query ID" });
      id = pickId();
    }
    query.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.pending.get(id)?.timer === timer) this.pending.delete(id);
        this.counters.timeouts++;
        resolve({ kind: "timeout" });
      }, timeoutMs);
      this.pending.set(id, { qname, qtype, timer, done: resolve });
      this.counters.udpSent++;
      this.open();
      if (this.connected) this.sendNow(query);
      else this.backlog.push(query);
    });
  }

  close(): Promise<void> {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.done({ kind: "network", detail: "resolver closed" });
    }
    const s = this.socket;
    this.socket = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/** Largest reply accepted over TCP: the framing's own limit. */
const MAX_TCP_MESSAGE = 65535;

export function tcpExchange(
  upstream: Upstream,
  query: Buffer,
  qname: string,
  qtype: number,
  timeoutMs: number,
  counters: TransportCounters,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const id = query.readUInt16BE(0);
    let settled = false;
    let chunks: Buffer[] = [];
    let have = 0;
    const sock = connect({ host: upstream.host, port: upstream.port });
    const finish = (r: ExchangeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => {
      counters.timeouts++;
      finish({ kind: "timeout" });
    }, timeoutMs);
    sock.on("connect", () => {
      const frame = Buffer.allocUnsafe(query.length + 2);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      counters.tcpSent++;
      sock.write(frame);
    });
    sock.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      // Several framed messages may arrive; take each complete one in turn.
      for (;;) {
        if (have < 2) return;
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, have);
        chunks = [all];
        const len = all.readUInt16BE(0);
        if (len > MAX_TCP_MESSAGE || have < len + 2) return;
        const msg = all.subarray(2, 2 + len);
        const rest = all.subarray(2 + len);
        chunks = rest.length ? [rest] : [];
        have = rest.length;
        counters.received++;
        if (questionMatches(msg, id, qname, qtype, counters)) {
          finish({ kind: "reply", buf: Buffer.from(msg) });
          return;
        }
      }
    });
    sock.on("error", (err) => {
      counters.networkErrors++;
      finish({ kind: "network", detail: err.message });
    });
    sock.on("close", () => finish({ kind: "network", detail: "connection closed before a reply" }));
  });
}
