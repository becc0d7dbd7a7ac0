/**
 * Transports to one upstream resolver. Every exchange resolves, never rejects,
 * with `{ kind: "reply", buf }`, `{ kind: "timeout" }` or `{ kind: "network", detail }`.
 *
 * `UdpChannel`: one connected UDP socket multiplexing many queries by ID.
 *   `exchange(query, qEnd, timeoutMs, pickId)` writes a free ID into the query
 *   (made by wire.encodeQuery; `qEnd` = questionEnd(query)), sends it and
 *   resolves with the first reply whose ID, QR bit and question octets match
 *   (replyMatches); any other datagram is ignored (counted) and the wait goes
 *   on. Send errors (e.g. ICMP unreachable) are counted and end as a timeout;
 *   after close() every exchange is "network".
 * `TcpChannel`: persistent TCP connections (RFC 7766) with queries pipelined:
 *   queries asked in one event-loop turn go out in one write per connection,
 *   2-octet length framed; replies are matched by ID, in any order, reassembled
 *   across chunks. A connection that fails, is reset or closed by the server
 *   ends its pending queries as "network" (with `connectFailed` when it never
 *   connected) and is replaced on the next query; a timeout on a connection
 *   that has never delivered a reply says so (`unanswered`: a server over its
 *   connection limit accepts in the kernel but never reads); a frame over 65535 octets
 *   cannot occur, a reply that does not match is ignored (counted). Idle
 *   sockets do not keep the process alive.
 * Timeouts and a stalled event loop: a query's timer that fires later than
 * STALL_MS past its due time (measured on the monotonic clock) means the event
 * loop was held up (GC, a busy caller) and the reply may be sitting unread in
 * the socket. Instead of a timeout, the timer is re-armed for as long as the
 * loop was late (at most the timeout, at most MAX_STALL_EXTENSIONS times), so
 * the poll phase reads the socket first. A stall never becomes a timeout, and
 * a server that does not answer still times out, within at most three times
 * the timeout. Such re-arms are counted (`lateTimers`).
 */
import { createSocket, type Socket } from "node:dgram";
import { connect, isIPv6, type Socket as NetSocket } from "node:net";
import { formatIp, parseIp } from "@danesweep/dane";
import { replyMatches } from "./wire.ts";
export interface Upstream {
  /** As configured and reported in provenance: "127.0.0.1:53", "[::1]:53". */
  key: string;
  host: string;
  port: number;
}

export type UpstreamParseResult = { ok: true; upstream: Upstream } | { ok: false; detail: string };

/**
 * Parses "127.0.0.1", "127.0.0.1:53", "[::1]:53", "::1". Only IP addresses (no
 * names: no bootstrap lookups); the key and host are in the canonical text of
 * libs/dane formatIp, so "[0:0::1]:53" and "[::1]:53" are one upstream.
 */
export function parseUpstream(text: string): UpstreamParseResult {
  const s = String(text ?? "").trim();
  let hostText: string;
  let portText = "53";
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const hostPort = /^([^:]+)(?::(\d+))?$/.exec(s);
  if (bracket) {
    hostText = bracket[1]!;
    if (bracket[2]) portText = bracket[2];
  } else if (hostPort) {
    hostText = hostPort[1]!;
    if (hostPort[2]) portText = hostPort[2];
  } else {
    hostText = s; // a bare IPv6 address (its colons are not a port separator)
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { ok: false, detail: `bad port in upstream ${JSON.stringify(text)}` };
  }
  const addr = parseIp(hostText);
  if (!addr || (addr.length === 16) !== hostText.includes(":")) {
    return { ok: false, detail: `upstream ${JSON.stringify(text)} is not an IP address` };
  }
  // a zone ("fe80::1%eth0") is no part of the address, but a link-local upstream needs it to be reached
  const zone = hostText.includes("%") ? hostText.slice(hostText.indexOf("%")) : "";
  const host = formatIp(addr) + zone;
  return {
    ok: true,
    upstream: { key: addr.length === 16 ? `[${host}]:${port}` : `${host}:${port}`, host, port },
  };
}

export type ExchangeResult =
  | { kind: "reply"; buf: Buffer }
  | { kind: "timeout"; unanswered?: boolean }
  | { kind: "network"; detail: string; connectFailed?: boolean };

export interface TransportCounters {
  udpSent: number;
  tcpSent: number;
  received: number;
  mismatched: number;
  undecodable: number;
  timeouts: number;
  networkErrors: number;
  tcpConnects: number;
  /** Query timers that fired late (a stalled event loop) and were re-armed instead of timing out. */
  lateTimers: number;
}

export function newCounters(): TransportCounters {
  return {
    udpSent: 0,
    tcpSent: 0,
    received: 0,
    mismatched: 0,
    undecodable: 0,
    timeouts: 0,
    networkErrors: 0,
    tcpConnects: 0,
    lateTimers: 0,
  };
}

interface Pending {
  id: number;
  query: Buffer;
  qEnd: number;
  timer: NodeJS.Timeout | undefined;
  done: (r: ExchangeResult) => void;
}

const TIMEOUT: ExchangeResult = { kind: "timeout" };
/** A TCP query timed out on a connection that has never delivered a reply (a server over its connection limit leaves it in the backlog). */
const TIMEOUT_UNANSWERED: ExchangeResult = { kind: "timeout", unanswered: true };
const CLOSED: ExchangeResult = { kind: "network", detail: "resolver closed" };

/** A timer this much past its due time (ms) means the event loop was stalled. */
export const STALL_MS = 10;
/** How many times one query's timer may be re-armed after a stall. */
export const MAX_STALL_EXTENSIONS = 2;

/**
 * Arms the timeout of a pending query: `expire` runs once `timeoutMs` of
 * event-loop time has passed. A timer that fires late by more than STALL_MS is
 * re-armed for the time it was late (capped at `timeoutMs`), at most
 * MAX_STALL_EXTENSIONS times, so that a reply which arrived during the stall
 * is read before the query is declared timed out. `p.timer` always holds the
 * live timer (clearTimeout(p.timer) cancels it).
 */
function armTimeout(p: Pending, timeoutMs: number, counters: TransportCounters, expire: () => void): void {
  let due = performance.now() + timeoutMs;
  let extensions = 0;
  const fire = () => {
    const now = performance.now();
    const late = now - due;
    if (late > STALL_MS && extensions < MAX_STALL_EXTENSIONS) {
      extensions++;
      counters.lateTimers++;
      const more = Math.min(late, timeoutMs);
      due = now + more;
      p.timer = setTimeout(fire, more);
      return;
    }
    expire();
  };
  p.timer = setTimeout(fire, timeoutMs);
}

/** Requested socket buffer size; the kernel caps it (net.core.rmem_max / wmem_max). */
const UDP_BUFFER_BYTES = 4 << 20;

/** A free ID from `pickId` for `pending`, or -1 after 64 collisions. */
function freeId(pending: Map<number, Pending>, pickId: () => number): number {
  let id = pickId();
  for (let tries = 0; pending.has(id); tries++) {
    if (tries > 64) return -1;
    id = pickId();
  }
  return id;
}

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
    const s = createSocket({ type: isIPv6(this.upstream.host) ? "udp6" : "udp4" });
    s.on("message", (msg) => this.onMessage(msg));
    // Errors (e.g. ICMP unreachable surfaced by the kernel) are counted; the query times out.
    s.on("error", () => {
      this.counters.networkErrors++;
    });
    s.unref();
    // Connected: the kernel drops datagrams from any other source, and sends
    // skip the per-call address lookup. Queries wait in `backlog` until then.
    s.connect(this.upstream.port, this.upstream.host, () => {
      try {
        // Large buffers: hundreds of replies can land between two event-loop turns.
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

  private onMessage(buf: Buffer): void {
    // The socket is connected: the kernel only delivers datagrams from the upstream.
    this.counters.received++;
    if (buf.length < 12) {
      this.counters.undecodable++;
      return;
    }
    const p = this.pending.get((buf[0]! << 8) | buf[1]!);
    if (!p || !replyMatches(buf, p.id, p.query, p.qEnd)) {
      this.counters.mismatched++;
      return;
    }
    this.pending.delete(p.id);
    clearTimeout(p.timer);
    p.done({ kind: "reply", buf });
  }

  /** `pickId` returns a random 16-bit ID; one not already pending on this socket is used. */
  exchange(query: Buffer, qEnd: number, timeoutMs: number, pickId: () => number): Promise<ExchangeResult> {
    if (this.closed) return Promise.resolve(CLOSED);
    const id = freeId(this.pending, pickId);
    if (id < 0) return Promise.resolve({ kind: "network", detail: "no free query ID" });
    query.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const p: Pending = { id, query, qEnd, timer: undefined, done: resolve };
      armTimeout(p, timeoutMs, this.counters, () => {
        if (this.pending.get(id) === p) this.pending.delete(id);
        this.counters.timeouts++;
        resolve(TIMEOUT);
      });
      this.pending.set(id, p);
      this.counters.udpSent++;
      this.open();
      if (this.connected) this.sendNow(query);
      else this.backlog.push(query);
    });
  }

  close(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.done(CLOSED);
    }
    this.pending.clear();
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

/** One pipelined TCP connection; owned by a TcpChannel. */
class TcpConn {
  readonly pending = new Map<number, Pending>();
  private readonly sock: NetSocket;
  private readonly counters: TransportCounters;
  private readonly onGone: (c: TcpConn) => void;
  private out: Pending[] = [];
  private flushScheduled = false;
  private rest: Buffer | undefined;
  private connected = false;
  /** A reply has arrived on this connection. */
  answered = false;
  dead = false;

  constructor(upstream: Upstream, counters: TransportCounters, onGone: (c: TcpConn) => void) {
    this.counters = counters;
    this.onGone = onGone;
    counters.tcpConnects++;
    const s = connect({ host: upstream.host, port: upstream.port, noDelay: true });
    s.unref();
    s.on("connect", () => {
      this.connected = true;
    });
    s.on("data", (chunk: Buffer) => this.onData(chunk));
    s.on("error", (err) => {
      this.counters.networkErrors++;
      this.fail(err.message);
    });
    s.on("close", () => this.fail("connection closed"));
    this.sock = s;
  }

  send(p: Pending): void {
    this.pending.set(p.id, p);
    this.out.push(p);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes every query asked since the last flush in one write. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.dead) return;
    const batch = this.out;
    this.out = [];
    let size = 0;
    let live = 0;
    for (const p of batch) {
      // Skip queries that timed out before the write.
      if (this.pending.get(p.id) !== p) continue;
      size += 2 + p.query.length;
      live++;
    }
    if (live === 0) return;
    const frame = Buffer.allocUnsafe(size);
    let pos = 0;
    for (const p of batch) {
      if (this.pending.get(p.id) !== p) continue;
      const len = p.query.length;
      frame[pos] = len >> 8;
      frame[pos + 1] = len & 0xff;
      p.query.copy(frame, pos + 2);
      frame[pos + 2] = p.id >> 8;
      frame[pos + 3] = p.id & 0xff;
      pos += 2 + len;
    }
    this.counters.tcpSent += live;
    this.sock.write(frame);
  };

  private onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let pos = 0;
    while (buf.length - pos >= 2) {
      const len = (buf[pos]! << 8) | buf[pos + 1]!;
      if (buf.length - pos - 2 < len) break;
      const msg = buf.subarray(pos + 2, pos + 2 + len);
      pos += 2 + len;
      this.onMessage(msg);
    }
    if (pos < buf.length) this.rest = Buffer.from(buf.subarray(pos));
  }

  private onMessage(msg: Buffer): void {
    this.counters.received++;
    if (msg.length < 12) {
      this.counters.undecodable++;
      return;
    }
    const p = this.pending.get((msg[0]! << 8) | msg[1]!);
    if (!p || !replyMatches(msg, p.id, p.query, p.qEnd)) {
      this.counters.mismatched++;
      return;
    }
    this.pending.delete(p.id);
    clearTimeout(p.timer);
    this.answered = true;
    p.done({ kind: "reply", buf: msg });
  }

  /** Ends every pending query as "network" and leaves the pool; idempotent. */
  fail(detail: string): void {
    if (this.dead) return;
    this.dead = true;
    this.onGone(this);
    const r: ExchangeResult = this.connected
      ? { kind: "network", detail }
      : { kind: "network", detail, connectFailed: true };
    const all = [...this.pending.values()];
    this.pending.clear();
    this.out = [];
    this.rest = undefined;
    this.sock.destroy();
    for (const p of all) {
      clearTimeout(p.timer);
      p.done(r);
    }
  }
}

export interface TcpChannelOptions {
  /** Connections opened to the upstream (queries spread over them); default 4. */
  connections?: number;
}

export class TcpChannel {
  readonly upstream: Upstream;
  private readonly counters: TransportCounters;
  private readonly max: number;
  private conns: TcpConn[] = [];
  private next = 0;
  private closed = false;

  constructor(upstream: Upstream, counters: TransportCounters, opts: TcpChannelOptions = {}) {
    this.upstream = upstream;
    this.counters = counters;
    this.max = Math.max(1, opts.connections ?? 4);
  }

  get inFlight(): number {
    let n = 0;
    for (const c of this.conns) n += c.pending.size;
    return n;
  }

  get connections(): number {
    return this.conns.length;
  }

  private readonly gone = (c: TcpConn): void => {
    this.conns = this.conns.filter((x) => x !== c);
  };

  /** The least busy connection, opening a new one while under the cap and every open one is busy. */
  private pick(): TcpConn {
    let best: TcpConn | undefined;
    for (let i = 0; i < this.conns.length; i++) {
      const c = this.conns[(this.next + i) % this.conns.length]!;
      if (!best || c.pending.size < best.pending.size) best = c;
    }
    this.next++;
    if (!best || (best.pending.size > 0 && this.conns.length < this.max)) {
      best = new TcpConn(this.upstream, this.counters, this.gone);
      this.conns.push(best);
    }
    return best;
  }

  exchange(query: Buffer, qEnd: number, timeoutMs: number, pickId: () => number): Promise<ExchangeResult> {
    if (this.closed) return Promise.resolve(CLOSED);
    const conn = this.pick();
    const id = freeId(conn.pending, pickId);
    if (id < 0) return Promise.resolve({ kind: "network", detail: "no free query ID" });
    return new Promise((resolve) => {
      const p: Pending = { id, query, qEnd, timer: undefined, done: resolve };
      armTimeout(p, timeoutMs, this.counters, () => {
        if (conn.pending.get(id) === p) conn.pending.delete(id);
        this.counters.timeouts++;
        resolve(conn.answered ? TIMEOUT : TIMEOUT_UNANSWERED);
      });
      conn.send(p);
    });
  }

  close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.conns]) c.fail("resolver closed");
    this.conns = [];
    return Promise.resolve();
  }
}
