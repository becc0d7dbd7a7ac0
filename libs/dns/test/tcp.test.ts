/**
 * The persistent pipelined TCP transport (RFC 7766) against scripted TCP
 * servers on loopback: many queries in one write, replies out of order,
 * frames split across and packed into chunks, a connection lost mid-flight
 * (retried on a new connection, or a "network" error: never a hang), a server
 * that never answers, "auto" (the default) falling back to UDP when TCP is
 * refused or dropped under a query, the encoder against dns-packet.
 */
import assert from "node:assert/strict";
import { createSocket, type Socket as DgramSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import * as dnsPacket from "dns-packet";
import { DnsConfigError, StubResolver } from "../src/index.ts";
import { encodeQuery, questionEnd, replyMatches } from "../src/wire.ts";

interface Query {
  id: number;
  name: string;
  type: string;
}

interface Conn {
  sock: Socket;
  /** Size of each data event, in frames (complete or not). */
  chunks: number[];
  queries: Query[];
}

interface ScriptedTcp {
  port: number;
  conns: Conn[];
  server: Server;
}

/** One A record per query whose address encodes the query's name: "n<k>.example" -> 192.0.2.<k>. */
function answerFor(q: Query, flags = dnsPacket.AUTHENTIC_DATA): Buffer {
  const k = Number(/^n(\d+)\./.exec(q.name)?.[1] ?? 0);
  return dnsPacket.encode({
    type: "response",
    id: q.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | flags,
    questions: [{ name: q.name, type: q.type as dnsPacket.RecordType, class: "IN" }],
    answers: [{ type: "A", name: q.name, ttl: 60, data: `192.0.2.${k % 256}` }],
  });
}

function framed(msgs: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of msgs) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(m.length);
    parts.push(len, m);
  }
  return Buffer.concat(parts);
}

const servers: Server[] = [];
after(async () => {
  for (const s of servers) s.close();
});

/** A UDP server on 127.0.0.1:`port` (0: a free one) answering every query with answerFor. */
async function udpAnswering(port: number): Promise<DgramSocket> {
  const udp = createSocket("udp4");
  udp.on("message", (raw, rinfo) => {
    const p = dnsPacket.decode(raw);
    const q = p.questions![0]!;
    udp.send(answerFor({ id: p.id!, name: q.name, type: q.type }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r, reject) => {
    udp.once("error", reject);
    udp.bind(port, "127.0.0.1", () => r());
  });
  return udp;
}

/**
 * A UDP answerer on a port where nothing listens over TCP: the port is taken
 * from a TCP listener of this test's own, closed once the UDP socket holds the
 * same number (an ephemeral UDP port of the system's choosing may have a TCP
 * listener of another test process on it, which would accept the connection).
 */
async function udpWithoutTcp(): Promise<DgramSocket> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
  const port = (probe.address() as { port: number }).port;
  try {
    return await udpAnswering(port);
  } finally {
    await new Promise<void>((r) => probe.close(() => r()));
  }
}

/** A TCP server that parses framed queries and hands each connection's batch to `onQueries`. */
async function scripted(onQueries: (c: Conn, fresh: Query[]) => void): Promise<ScriptedTcp> {
  const conns: Conn[] = [];
  const server = createServer((sock) => {
    const c: Conn = { sock, chunks: [], queries: [] };
    sock.setNoDelay(true);
    conns.push(c);
    sock.on("error", () => {});
    let buf = Buffer.alloc(0);
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      const fresh: Query[] = [];
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const p = dnsPacket.decode(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        const q = p.questions![0]!;
        fresh.push({ id: p.id!, name: q.name.toLowerCase(), type: q.type });
      }
      c.chunks.push(fresh.length);
      c.queries.push(...fresh);
      if (fresh.length) onQueries(c, fresh);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as { port: number }).port, conns, server };
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i + 1}.example`);

describe("TCP transport", () => {
  test("encodeQuery writes the same octets as dns-packet (an independent encoder)", () => {
    for (const [name, type, cd] of [
      ["mail.example.com", "MX", false],
      ["_25._tcp.mx1.example", "TLSA", true],
      [".", "SOA", false],
      ["x-y_z.example", "AAAA", false],
    ] as const) {
      const mine = encodeQuery(4321, name, type, { cd });
      const ref = dnsPacket.encode({
        type: "query",
        id: 4321,
        flags:
          dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA | (cd ? dnsPacket.CHECKING_DISABLED : 0),
        questions: [{ type, name, class: "IN" }],
        additionals: [
          {
            type: "OPT",
            name: ".",
            udpPayloadSize: 1232,
            flags: dnsPacket.DNSSEC_OK,
            options: [],
          } as unknown as dnsPacket.Answer,
        ],
      });
      assert.deepEqual(mine, ref, `${name} ${type}`);
    }
    assert.throws(() => encodeQuery(1, "a..b", "A"), RangeError);
    assert.throws(() => encodeQuery(1, `${"a".repeat(64)}.b`, "A"), RangeError);
    assert.throws(() => encodeQuery(1, "a b.example", "A"), RangeError);
  });

  test("replyMatches: ID, QR, opcode and the question (ASCII case-insensitive) must match", () => {
    const q = encodeQuery(7, "a.example", "A");
    const end = questionEnd(q);
    const reply = (over: Partial<dnsPacket.Packet>, name = "a.example") =>
      dnsPacket.encode({
        type: "response",
        id: 7,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: "A", name, class: "IN" }],
        ...over,
      });
    assert.equal(replyMatches(reply({}), 7, q, end), true);
    assert.equal(replyMatches(reply({}, "A.EXAMPLE"), 7, q, end), true);
    assert.equal(replyMatches(reply({ id: 8 }), 7, q, end), false);
    assert.equal(replyMatches(reply({}, "b.example"), 7, q, end), false);
    assert.equal(replyMatches(reply({ type: "query" }), 7, q, end), false);
    assert.equal(
      replyMatches(reply({ questions: [{ type: "AAAA", name: "a.example", class: "IN" }] }), 7, q, end),
      false,
    );
    assert.equal(replyMatches(reply({}).subarray(0, end - 1), 7, q, end), false);
  });

  test("queries asked together are pipelined: one write per connection, answered on one connection", async () => {
    const s = await scripted((c, fresh) => c.sock.write(framed(fresh.map((q) => answerFor(q)))));
    const r = new StubResolver({ upstreams: [`127.0.0.1:${s.port}`], transport: "tcp", tcpConnections: 1 });
    const ls = await Promise.all(names(50).map((n) => r.query(n, "A")));
    await r.close();
    assert.equal(s.conns.length, 1);
    // All 50 framed queries arrived in the first data event: one write.
    assert.equal(s.conns[0]!.chunks[0], 50);
    ls.forEach((l, i) => {
      assert.equal(l.outcome, "answer");
      assert.equal(l.security, "secure");
      assert.deepEqual(l.records, [`192.0.2.${i + 1}`]);
      assert.equal(l.provenance?.transport, "tcp");
    });
  });

  test("replies out of order reach the right queries; frames split across chunks and packed together", async () => {
    const s = await scripted((c, fresh) => {
      // Reverse order, all in one buffer, written 5 octets at a time.
      const all = framed(fresh.reverse().map((q) => answerFor(q)));
      let i = 0;
      const drip = () => {
        if (i >= all.length || c.sock.destroyed) return;
        // Mostly tiny pieces (frames split), now and then a large one (frames packed).
        const n = i % 3 === 0 ? 300 : 5;
        c.sock.write(all.subarray(i, i + n));
        i += n;
        setTimeout(drip, 1);
      };
      drip();
    });
    const r = new StubResolver({
      upstreams: [`127.0.0.1:${s.port}`],
      transport: "tcp",
      tcpConnections: 1,
      retries: 0,
    });
    const ls = await Promise.all(names(20).map((n) => r.query(n, "A")));
    await r.close();
    ls.forEach((l, i) => {
      assert.deepEqual(l.records, [`192.0.2.${i + 1}`]);
      assert.equal(l.provenance?.attempts, 1);
    });
  });

  test("queries spread over the configured number of connections", async () => {
    const s = await scripted((c, fresh) => c.sock.write(framed(fresh.map((q) => answerFor(q)))));
    const r = new StubResolver({ upstreams: [`127.0.0.1:${s.port}`], transport: "tcp", tcpConnections: 3 });
    const ls = await Promise.all(names(30).map((n) => r.query(n, "A")));
    await r.close();
    assert.equal(s.conns.length, 3);
    assert.equal(
      s.conns.reduce((a, c) => a + c.queries.length, 0),
      30,
    );
    assert.ok(ls.every((l) => l.outcome === "answer"));
  });

  test("a connection lost mid-flight: pending queries are retried on a new connection", async () => {
    let first = true;
    const s = await scripted((c, fresh) => {
      if (first) {
        first = false;
        // Answer one, then drop the connection with the rest pending.
        c.sock.write(framed([answerFor(fresh[0]!)]), () => c.sock.destroy());
        return;
      }
      c.sock.write(framed(fresh.map((q) => answerFor(q))));
    });
    const r = new StubResolver({
      upstreams: [`127.0.0.1:${s.port}`],
      transport: "tcp",
      tcpConnections: 1,
      timeoutMs: 3000,
    });
    const t0 = performance.now();
    const ls = await Promise.all(names(10).map((n) => r.query(n, "A")));
    await r.close();
    // Retried at once, not after the timeout.
    assert.ok(performance.now() - t0 < 1500);
    assert.equal(s.conns.length, 2);
    for (const [i, l] of ls.entries()) assert.deepEqual(l.records, [`192.0.2.${i + 1}`]);
    assert.equal(ls[0]!.provenance?.attempts, 1);
    assert.equal(ls[9]!.provenance?.attempts, 2);
  });

  test("a connection lost with no retries left is a network error, never a hang", async () => {
    const s = await scripted((c) => c.sock.destroy());
    const r = new StubResolver({
      upstreams: [`127.0.0.1:${s.port}`],
      transport: "tcp",
      retries: 1,
      timeoutMs: 5000,
    });
    const t0 = performance.now();
    const ls = await Promise.all(names(5).map((n) => r.query(n, "A")));
    await r.close();
    assert.ok(performance.now() - t0 < 2000);
    for (const l of ls) {
      assert.deepEqual([l.outcome, l.error, l.security], ["error", "network", "indeterminate"]);
      assert.equal(l.provenance?.attempts, 2);
    }
  });

  test("a server that reads but never answers: timeout, not a hang", async () => {
    const s = await scripted(() => {});
    const r = new StubResolver({
      upstreams: [`127.0.0.1:${s.port}`],
      transport: "tcp",
      retries: 0,
      timeoutMs: 150,
    });
    const l = await r.query("n1.example", "A");
    await r.close();
    assert.deepEqual([l.outcome, l.error], ["error", "timeout"]);
  });

  test("a reply with a wrong question is ignored on TCP too", async () => {
    const s = await scripted((c, fresh) =>
      c.sock.write(
        framed(fresh.flatMap((q) => [answerFor({ ...q, name: "other.example" }), answerFor(q, 0)])),
      ),
    );
    const r = new StubResolver({ upstreams: [`127.0.0.1:${s.port}`], transport: "tcp" });
    const l = await r.query("n3.example", "A");
    const st = r.stats();
    await r.close();
    assert.deepEqual(l.records, ["192.0.2.3"]);
    assert.equal(l.security, "insecure");
    assert.equal(st.mismatched, 1);
  });

  test("refused connections: 'tcp' is a network error, 'auto' asks over UDP instead", async () => {
    // A UDP-only server on a port where nothing listens over TCP.
    const udp = await udpWithoutTcp();
    const port = udp.address().port;
    try {
      const tcp = new StubResolver({ upstreams: [`127.0.0.1:${port}`], transport: "tcp", retries: 1 });
      const a = await tcp.query("n4.example", "A");
      await tcp.close();
      assert.deepEqual([a.outcome, a.error], ["error", "network"]);

      const auto = new StubResolver({ upstreams: [`127.0.0.1:${port}`], transport: "auto", retries: 1 });
      const b = await auto.query("n5.example", "A");
      const c = await auto.query("n6.example", "A");
      await auto.close();
      assert.deepEqual(b.records, ["192.0.2.5"]);
      assert.equal(b.provenance?.transport, "udp");
      assert.equal(b.provenance?.attempts, 2);
      // Later queries go straight to UDP.
      assert.equal(c.provenance?.attempts, 1);
      assert.equal(c.provenance?.transport, "udp");
    } finally {
      udp.close();
    }
  });

  test("'auto' (the default): a connection closed under the query (a resolver reload) is asked over UDP at once", async () => {
    // TCP accepts, then drops every connection as soon as a query arrives; UDP answers.
    const s = await scripted((c) => c.sock.resetAndDestroy());
    const udp = await udpAnswering(s.port);
    try {
      const auto = new StubResolver({ upstreams: [`127.0.0.1:${s.port}`], retries: 0 });
      const a = await auto.query("n7.example", "A");
      const b = await auto.query("n8.example", "A");
      await auto.close();
      assert.deepEqual(a.records, ["192.0.2.7"]);
      assert.equal(a.provenance?.transport, "udp");
      assert.equal(a.provenance?.attempts, 2);
      // the connection had opened: TCP is tried again for the next query (and falls back again)
      assert.deepEqual(b.records, ["192.0.2.8"]);
      assert.equal(b.provenance?.attempts, 2);
      assert.equal(s.conns.length, 2);
      // "tcp" alone has no fallback: the same drop is a network error
      const tcp = new StubResolver({ upstreams: [`127.0.0.1:${s.port}`], transport: "tcp", retries: 0 });
      const c = await tcp.query("n9.example", "A");
      await tcp.close();
      assert.deepEqual([c.outcome, c.error], ["error", "network"]);
    } finally {
      udp.close();
    }
  });

  test("'auto': a TCP connection that never answers (a resolver over its connection limit) sends the retry over UDP", async () => {
    // TCP accepts and reads but never answers; UDP answers.
    const s = await scripted(() => {});
    const udp = await udpAnswering(s.port);
    try {
      const auto = new StubResolver({ upstreams: [`127.0.0.1:${s.port}`], retries: 1, timeoutMs: 200 });
      const a = await auto.query("n10.example", "A");
      const b = await auto.query("n11.example", "A");
      await auto.close();
      assert.deepEqual(a.records, ["192.0.2.10"]);
      assert.deepEqual([a.provenance?.transport, a.provenance?.attempts], ["udp", 2]);
      // for a while, straight to UDP
      assert.deepEqual([b.provenance?.transport, b.provenance?.attempts], ["udp", 1]);
      assert.equal(s.conns.length, 1);
    } finally {
      udp.close();
    }
  });

  test("close() ends pending TCP queries with a network error", async () => {
    const s = await scripted(() => {});
    const r = new StubResolver({ upstreams: [`127.0.0.1:${s.port}`], transport: "tcp", timeoutMs: 5000 });
    const p = r.query("n1.example", "A");
    await new Promise((res) => setTimeout(res, 30));
    await r.close();
    const l = await p;
    assert.deepEqual([l.outcome, l.error], ["error", "network"]);
  });

  test("an unknown transport is a typed configuration error", () => {
    assert.throws(
      () => new StubResolver({ upstreams: ["127.0.0.1"], transport: "quic" as "tcp" }),
      (e: unknown) => e instanceof DnsConfigError && e.code === "bad-transport",
    );
  });
});
