/**
 * A scripted DNS server on 127.0.0.1 (UDP and TCP on the same ephemeral port)
 * for the resolver's protocol unit tests. The handler sees each decoded query
 * and returns what to do: reply with crafted packets, raw bytes, or nothing.
 * `onSent` reports each reply handed to the kernel; stall-server.ts runs one in
 * a worker thread, so it answers while the test's own event loop is blocked.
 */
import { createSocket, type Socket } from "node:dgram";
import { createServer, type Server, type Socket as TcpSocket } from "node:net";
import * as dnsPacket from "dns-packet";

export interface Incoming {
  transport: "udp" | "tcp";
  id: number;
  name: string;
  type: string;
  cd: boolean;
  ad: boolean;
  doBit: boolean;
  payload: number | undefined;
  raw: Buffer;
}

/** Buffers to send back in order (UDP: one datagram each; TCP: framed, see `tcpChunks`). */
export type Reply = Buffer[];

export type Handler = (q: Incoming) => Reply | Promise<Reply>;

export interface FakeServer {
  port: number;
  address: string;
  received: Incoming[];
  /** TCP: split the framed output into chunks of this size, sent with a pause between. */
  tcpChunkSize?: number;
  /** Called once each reply has been handed to the kernel (UDP send or TCP write done). */
  onSent?: () => void;
  close(): Promise<void>;
}

export const AD = dnsPacket.AUTHENTIC_DATA;
export const TC = dnsPacket.TRUNCATED_RESPONSE;
export const RA = dnsPacket.RECURSION_AVAILABLE;
export const RD = dnsPacket.RECURSION_DESIRED;

/** Builds a response to `q` with the given flags, rcode and sections. */
export function respond(
  q: Incoming,
  opts: {
    flags?: number;
    rcode?: number;
    answers?: dnsPacket.Answer[];
    authorities?: dnsPacket.Answer[];
    id?: number;
    name?: string;
    type?: string;
  } = {},
): Buffer {
  return dnsPacket.encode({
    type: "response",
    id: opts.id ?? q.id,
    flags: (opts.flags ?? RD | RA) | (opts.rcode ?? 0),
    questions: [
      { name: opts.name ?? q.name, type: (opts.type ?? q.type) as dnsPacket.RecordType, class: "IN" },
    ],
    answers: opts.answers ?? [],
    authorities: opts.authorities ?? [],
  });
}

function parse(raw: Buffer, transport: "udp" | "tcp"): Incoming | undefined {
  try {
    const p = dnsPacket.decode(raw);
    const q = p.questions?.[0];
    if (!q) return undefined;
    const opt = (p.additionals ?? []).find((a) => a.type === "OPT") as
      | { udpPayloadSize: number; flags: number }
      | undefined;
    const flags = p.flags ?? 0;
    return {
      transport,
      id: p.id ?? 0,
      name: q.name.toLowerCase(),
      type: q.type,
      cd: (flags & dnsPacket.CHECKING_DISABLED) !== 0,
      ad: (flags & dnsPacket.AUTHENTIC_DATA) !== 0,
      doBit: opt ? (opt.flags & dnsPacket.DNSSEC_OK) !== 0 : false,
      payload: opt?.udpPayloadSize,
      raw,
    };
  } catch {
    return undefined;
  }
}

export async function startFakeServer(handler: Handler): Promise<FakeServer> {
  const udp: Socket = createSocket("udp4");
  const tcpSockets = new Set<TcpSocket>();
  const received: Incoming[] = [];
  const server: FakeServer = {
    port: 0,
    address: "127.0.0.1",
    received,
    close: async () => {
      for (const s of tcpSockets) s.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    },
  };
  udp.on("message", async (raw, rinfo) => {
    const q = parse(raw, "udp");
    if (!q) return;
    received.push(q);
    for (const b of await handler(q)) udp.send(b, rinfo.port, rinfo.address, () => server.onSent?.());
  });
  const tcp: Server = createServer((sock) => {
    tcpSockets.add(sock);
    sock.on("close", () => tcpSockets.delete(sock));
    sock.on("error", () => {});
    let buf = Buffer.alloc(0);
    sock.on("data", async (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const raw = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const q = parse(Buffer.from(raw), "tcp");
        if (!q) continue;
        received.push(q);
        const out: Buffer[] = [];
        for (const b of await handler(q)) {
          const f = Buffer.alloc(2);
          f.writeUInt16BE(b.length);
          out.push(f, b);
        }
        const all = Buffer.concat(out);
        const size = server.tcpChunkSize ?? all.length;
        for (let i = 0; i < all.length; i += size) {
          if (sock.destroyed) return;
          const last = i + size >= all.length;
          sock.write(all.subarray(i, i + size), () => {
            if (last) server.onSent?.();
          });
          if (server.tcpChunkSize) await new Promise((r) => setTimeout(r, 2));
        }
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", () => r()));
  const port = (tcp.address() as { port: number }).port;
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(port, "127.0.0.1", () => resolve());
  });
  server.port = port;
  return server;
}

/** An RRSIG record over `covered` at `name`, signed by `signersName` (fixed times, key tag and signature). */
export function rrsigAnswer(
  name: string,
  covered: string,
  signersName: string,
  originalTTL = 300,
): dnsPacket.Answer {
  return {
    type: "RRSIG",
    name,
    ttl: 300,
    data: {
      typeCovered: covered,
      algorithm: 13,
      labels: name.split(".").length,
      originalTTL,
      expiration: 2_000_000_000,
      inception: 1_700_000_000,
      keyTag: 4242,
      signersName,
      signature: Buffer.alloc(64, 7),
    },
  } as dnsPacket.Answer;
}

/** A TLSA 3 1 1 record at `name`. */
export function tlsaAnswer(name: string): dnsPacket.Answer {
  return {
    type: "TLSA",
    name,
    ttl: 300,
    data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 1) },
  } as unknown as dnsPacket.Answer;
}
