/**
 * StubResolver protocol handling against a scripted server on loopback, over
 * the default transport (pipelined TCP) unless UDP is the subject:
 * EDNS0/DO, AD -> security, TC -> TCP with chunked reassembly, ID and question
 * mismatches ignored, retries across upstreams, SERVFAIL + CD=1, rcodes,
 * in-flight de-duplication, TTL cache, concurrency limit, close().
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { canonicalIp } from "@danesweep/dane";
import { DnsConfigError, StubResolver } from "../src/index.ts";
import { Slots } from "../src/resolver.ts";
import {
  AD,
  type FakeServer,
  type Handler,
  type Incoming,
  RA,
  RD,
  respond,
  rrsigAnswer,
  startFakeServer,
  TC,
  tlsaAnswer,
} from "./fake-server.ts";

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(h: Handler): Promise<FakeServer> {
  const s = await startFakeServer(h);
  servers.push(s);
  return s;
}

const up = (s: FakeServer) => `127.0.0.1:${s.port}`;

function aAnswers(q: Incoming, n: number, ttl = 300) {
  return Array.from({ length: n }, (_, i) => ({
    type: "A" as const,
    name: q.name,
    ttl,
    data: `192.0.2.${i + 1}`,
  }));
}

describe("StubResolver", () => {
  test("sends EDNS0 payload 1232 with DO=1, RD=1, CD=0; AD=1 answer is secure", async () => {
    const s = await serve((q) => [respond(q, { flags: RD | RA | AD, answers: aAnswers(q, 2) })]);
    const r = new StubResolver({ upstreams: [up(s)], transport: "udp", timeoutMs: 500 });
    const l = await r.query("Host.Example.", "A");
    await r.close();
    assert.equal(s.received.length, 1);
    const q = s.received[0]!;
    assert.equal(q.payload, 1232);
    assert.equal(q.doBit, true);
    assert.equal(q.cd, false);
    assert.equal(q.name, "host.example");
    assert.equal(l.qname, "host.example");
    assert.equal(l.outcome, "answer");
    assert.equal(l.security, "secure");
    assert.deepEqual(l.records, ["192.0.2.1", "192.0.2.2"]);
    assert.equal(l.ttl, 300);
    assert.equal(l.provenance?.upstream, up(s));
    assert.equal(l.provenance?.transport, "udp");
    assert.equal(l.provenance?.rcode, "NOERROR");
    assert.equal(l.provenance?.flags.ad, true);
    assert.equal(l.provenance?.attempts, 1);
    assert.equal(l.provenance?.cached, false);
  });

  test("AD=0 NOERROR is insecure; NXDOMAIN and NODATA keep their outcome", async () => {
    const s = await serve((q) => {
      if (q.name === "nx.example") return [respond(q, { rcode: 3 })];
      if (q.name === "empty.example") return [respond(q, {})];
      return [respond(q, { answers: aAnswers(q, 1) })];
    });
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 500 });
    const [a, nx, nd] = await Promise.all([
      r.query("plain.example", "A"),
      r.query("nx.example", "A"),
      r.query("empty.example", "A"),
    ]);
    await r.close();
    assert.equal(a.security, "insecure");
    assert.equal(a.outcome, "answer");
    assert.equal(nx.outcome, "nxdomain");
    assert.equal(nx.security, "insecure");
    assert.equal(nx.provenance?.rcode, "NXDOMAIN");
    assert.equal(nd.outcome, "nodata");
    assert.deepEqual(nd.records, []);
  });

  test("a TLSA lookup keeps its RRSIG's signer as its zone only when secure and at or above the owner", async () => {
    const tlsaAnswers = (q: Incoming, signersName: string) => [
      tlsaAnswer(q.name),
      rrsigAnswer(q.name, "TLSA", signersName),
    ];
    const s = await serve((q) => {
      const insecure = q.name.startsWith("_25._tcp.plain.");
      const signer = q.name.startsWith("_25._tcp.odd.") ? "elsewhere.example" : "example";
      return [respond(q, { flags: RD | RA | (insecure ? 0 : AD), answers: tlsaAnswers(q, signer) as never })];
    });
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 500 });
    const [secure, plain, odd] = await Promise.all([
      r.query("_25._tcp.mx.example", "TLSA"),
      r.query("_25._tcp.plain.example", "TLSA"),
      r.query("_25._tcp.odd.example", "TLSA"),
    ]);
    await r.close();
    assert.deepEqual([secure.security, secure.zone], ["secure", "example"]);
    assert.deepEqual([plain.security, plain.zone], ["insecure", undefined], "not validated: no zone");
    assert.deepEqual([odd.security, odd.zone], ["secure", undefined], "a signer that is not above the owner");
  });

  test("TC=1 over UDP falls back to TCP; a reply split in small chunks is reassembled", async () => {
    const s = await serve((q) =>
      q.transport === "udp"
        ? [respond(q, { flags: RD | RA | TC })]
        : [respond(q, { flags: RD | RA | AD, answers: aAnswers(q, 40) })],
    );
    s.tcpChunkSize = 7;
    const r = new StubResolver({ upstreams: [up(s)], transport: "udp", timeoutMs: 2000 });
    const l = await r.query("big.example", "A");
    await r.close();
    assert.deepEqual(
      s.received.map((q) => q.transport),
      ["udp", "tcp"],
    );
    assert.equal(l.outcome, "answer");
    assert.equal(l.records.length, 40);
    assert.equal(l.records[39], "192.0.2.40");
    assert.equal(l.provenance?.transport, "tcp");
    assert.equal(l.provenance?.attempts, 2);
    assert.equal(l.security, "secure");
  });

  test("TCP replies with a wrong ID are skipped until the matching one", async () => {
    const s = await serve((q) =>
      q.transport === "udp"
        ? [respond(q, { flags: RD | RA | TC })]
        : [
            respond(q, { id: (q.id + 1) & 0xffff, answers: aAnswers(q, 1) }),
            respond(q, { answers: aAnswers(q, 3) }),
          ],
    );
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 1000 });
    const l = await r.query("tcp.example", "A");
    await r.close();
    assert.equal(l.records.length, 3);
  });

  test("replies with a wrong ID or question are ignored; the matching reply is taken", async () => {
    const s = await serve((q) => [
      respond(q, { id: (q.id + 1) & 0xffff, answers: aAnswers(q, 1) }),
      respond(q, {
        name: "other.example",
        answers: [{ type: "A", name: "other.example", ttl: 1, data: "198.51.100.1" }],
      }),
      respond(q, { type: "AAAA" }),
      Buffer.from([q.id >> 8, q.id & 0xff, 0x81]), // truncated garbage with the right ID
      respond(q, { answers: aAnswers(q, 2) }),
    ]);
    const r = new StubResolver({ upstreams: [up(s)], transport: "udp", timeoutMs: 1000 });
    const l = await r.query("match.example", "A");
    const st = r.stats();
    await r.close();
    assert.equal(l.outcome, "answer");
    assert.deepEqual(l.records, ["192.0.2.1", "192.0.2.2"]);
    assert.ok(st.mismatched >= 3, `mismatched ${st.mismatched}`);
    assert.ok(st.undecodable >= 1);
  });

  test("only mismatched replies: the lookup is a timeout error, never nodata", async () => {
    const s = await serve((q) => [respond(q, { id: (q.id + 7) & 0xffff })]);
    const r = new StubResolver({ upstreams: [up(s)], transport: "udp", timeoutMs: 150, retries: 1 });
    const l = await r.query("spoof.example", "A");
    await r.close();
    assert.equal(l.outcome, "error");
    assert.equal(l.error, "timeout");
    assert.equal(l.security, "indeterminate");
    assert.equal(l.provenance?.attempts, 2);
    assert.equal(l.provenance?.rcode, "NONE");
  });

  test("a timeout is retried on the next upstream", async () => {
    const silent = await serve(() => []);
    const good = await serve((q) => [respond(q, { flags: RD | RA | AD, answers: aAnswers(q, 1) })]);
    const r = new StubResolver({ upstreams: [up(silent), up(good)], timeoutMs: 150, retries: 1 });
    const l = await r.query("retry.example", "A");
    await r.close();
    assert.equal(l.outcome, "answer");
    assert.equal(l.provenance?.upstream, up(good));
    assert.equal(l.provenance?.attempts, 2);
    assert.equal(silent.received.length, 1);
  });

  test("SERVFAIL that disappears with CD=1 is bogus; SERVFAIL both times is indeterminate", async () => {
    const s = await serve((q) => {
      if (q.name === "bogus.example" && q.cd) return [respond(q, { answers: aAnswers(q, 1) })];
      return [respond(q, { rcode: 2 })];
    });
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 500 });
    const bogus = await r.query("bogus.example", "A");
    const fail = await r.query("broken.example", "A");
    await r.close();
    assert.equal(bogus.outcome, "error");
    assert.equal(bogus.error, "servfail");
    assert.equal(bogus.security, "bogus");
    assert.equal(bogus.provenance?.cdRcode, "NOERROR");
    assert.equal(bogus.provenance?.attempts, 2);
    assert.equal(fail.error, "servfail");
    assert.equal(fail.security, "indeterminate");
    assert.equal(fail.provenance?.cdRcode, "SERVFAIL");
    const cdFlags = s.received.map((q) => `${q.name}:${q.cd}`);
    assert.deepEqual(cdFlags, [
      "bogus.example:false",
      "bogus.example:true",
      "broken.example:false",
      "broken.example:true",
    ]);
  });

  test("REFUSED, FORMERR, NOTIMP are errors of their kind", async () => {
    const codes: Record<string, number> = { "r.example": 5, "f.example": 1, "n.example": 4 };
    const s = await serve((q) => [respond(q, { rcode: codes[q.name] ?? 0 })]);
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 500, retries: 0 });
    const out = await Promise.all(Object.keys(codes).map((n) => r.query(n, "MX")));
    await r.close();
    assert.deepEqual(
      out.map((l) => [l.outcome, l.error, l.security]),
      [
        ["error", "refused", "indeterminate"],
        ["error", "formerr", "indeterminate"],
        ["error", "notimp", "indeterminate"],
      ],
    );
  });

  test("identical questions in flight share one query", async () => {
    const s = await serve(async (q) => {
      await new Promise((res) => setTimeout(res, 50));
      return [respond(q, { answers: aAnswers(q, 1) })];
    });
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 1000, cache: false });
    const all = await Promise.all(Array.from({ length: 10 }, () => r.query("same.example", "A")));
    const st = r.stats();
    await r.close();
    assert.equal(s.received.length, 1);
    assert.equal(st.deduplicated, 9);
    for (const l of all) assert.deepEqual(l.records, ["192.0.2.1"]);
  });

  test("the cache honours the TTL (injected clock), negative answers use the SOA minimum", async () => {
    let t = 1_000_000;
    const s = await serve((q) => {
      if (q.name === "neg.example") {
        return [
          respond(q, {
            rcode: 3,
            authorities: [
              {
                type: "SOA",
                name: "example",
                ttl: 3600,
                data: {
                  mname: "ns.example",
                  rname: "h.example",
                  serial: 1,
                  refresh: 1,
                  retry: 1,
                  expire: 1,
                  minimum: 30,
                },
              },
            ],
          }),
        ];
      }
      return [respond(q, { answers: aAnswers(q, 1, 60) })];
    });
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 500, now: () => t });
    await r.query("c.example", "A");
    const hit = await r.query("C.example.", "A");
    assert.equal(hit.provenance?.cached, true);
    t += 59_000;
    await r.query("c.example", "A");
    assert.equal(s.received.length, 1);
    t += 2_000;
    const fresh = await r.query("c.example", "A");
    assert.equal(fresh.provenance?.cached, false);
    assert.equal(s.received.length, 2);
    await r.query("neg.example", "A");
    t += 29_000;
    assert.equal((await r.query("neg.example", "A")).outcome, "nxdomain");
    assert.equal(s.received.length, 3);
    t += 2_000;
    await r.query("neg.example", "A");
    assert.equal(s.received.length, 4);
    await r.close();
  });

  test("errors are not cached", async () => {
    const s = await serve((q) => [respond(q, { rcode: 5 })]);
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 500, retries: 0 });
    await r.query("e.example", "A");
    await r.query("e.example", "A");
    await r.close();
    assert.equal(s.received.length, 2);
  });

  test("a question asked as not shared is not kept in the cache, but a cached answer serves it", async () => {
    const s = await serve(async (q) => {
      await new Promise((res) => setTimeout(res, 20));
      return [respond(q, { answers: aAnswers(q, 1) })];
    });
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 1000 });
    const once = { shared: false };
    // Not kept: asked twice, sent twice; nothing in the cache.
    await r.query("own.example", "MX", once);
    await r.query("own.example", "MX", once);
    assert.equal(s.received.length, 2);
    assert.equal(r.stats().cacheEntries, 0);
    // Still shared while in flight.
    await Promise.all([r.query("own2.example", "MX", once), r.query("own2.example", "MX", once)]);
    assert.equal(s.received.length, 3);
    // A shared question's answer is kept, and serves a later unshared one.
    await r.query("host.example", "A");
    assert.equal(r.stats().cacheEntries, 1);
    const hit = await r.query("host.example", "A", once);
    assert.equal(hit.provenance?.cached, true);
    assert.equal(s.received.length, 4);
    await r.close();
  });

  test("the cache is capped", async () => {
    const s = await serve((q) => [respond(q, { answers: aAnswers(q, 1) })]);
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 500, cacheMaxEntries: 5 });
    for (let i = 0; i < 20; i++) await r.query(`n${i}.example`, "A");
    assert.equal(r.stats().cacheEntries, 5);
    await r.close();
  });

  test("the cache evicts the least recently used entry", async () => {
    const s = await serve((q) => [respond(q, { answers: aAnswers(q, 1) })]);
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 500, cacheMaxEntries: 2 });
    await r.query("a.example", "A");
    await r.query("b.example", "A");
    await r.query("a.example", "A"); // hit: a becomes the most recent
    await r.query("c.example", "A"); // evicts b
    assert.equal((await r.query("a.example", "A")).provenance?.cached, true);
    assert.equal((await r.query("b.example", "A")).provenance?.cached, false);
    await r.close();
  });

  test("the default transport is pipelined TCP ('auto')", async () => {
    const s = await serve((q) => [respond(q, { flags: RD | RA | AD, answers: aAnswers(q, 1) })]);
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 1000 });
    const l = await r.query("default.example", "A");
    await r.close();
    assert.equal(l.outcome, "answer");
    assert.equal(l.provenance?.transport, "tcp");
    assert.deepEqual(
      s.received.map((q) => q.transport),
      ["tcp"],
    );
  });

  test("AAAA records come out in the one canonical text, v4-mapped as ::ffff:a.b.c.d (issue 11)", async () => {
    const s = await serve((q) => [
      respond(q, {
        answers: ["::ffff:127.0.0.1", "64:ff9b::5db8:d70e", "2001:DB8:0:0:1:0:0:1", "::1.2.3.4"].map(
          (data) => ({ type: "AAAA" as const, name: q.name, ttl: 60, data }),
        ),
      }),
    ]);
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 1000 });
    const l = await r.query("mapped.example", "AAAA");
    await r.close();
    assert.equal(l.outcome, "answer");
    // RFC 5952: mixed notation for v4-mapped only (section 5), hex otherwise, longest zero run compressed
    assert.deepEqual(l.records, ["::ffff:127.0.0.1", "64:ff9b::5db8:d70e", "2001:db8::1:0:0:1", "::102:304"]);
    for (const ip of l.records) assert.equal(canonicalIp(ip), ip);
  });

  test("oversize UDP answer (200 records, > 1232 octets, no TC) is taken whole", async () => {
    const s = await serve((q) => [respond(q, { answers: aAnswers(q, 200) })]);
    const r = new StubResolver({ upstreams: [up(s)], transport: "udp", timeoutMs: 500 });
    const l = await r.query("huge.example", "A");
    await r.close();
    assert.equal(l.outcome, "answer");
    assert.equal(l.records.length, 200);
    assert.equal(l.provenance?.transport, "udp");
  });

  test("no more than perUpstreamConcurrency queries are in flight", async () => {
    let inflight = 0;
    let peak = 0;
    const s = await serve(async (q) => {
      inflight++;
      peak = Math.max(peak, inflight);
      await new Promise((res) => setTimeout(res, 20));
      inflight--;
      return [respond(q, { answers: aAnswers(q, 1) })];
    });
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 2000, perUpstreamConcurrency: 3 });
    const out = await Promise.all(Array.from({ length: 20 }, (_, i) => r.query(`p${i}.example`, "A")));
    await r.close();
    assert.equal(peak, 3);
    assert.ok(out.every((l) => l.outcome === "answer"));
  });

  test("query IDs come from the injected random source", async () => {
    const s = await serve((q) => [respond(q, { answers: aAnswers(q, 1) })]);
    const seq = [0.5, 0.25];
    let i = 0;
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 500, random: () => seq[i++ % seq.length]! });
    await r.query("id1.example", "A");
    await r.query("id2.example", "A");
    await r.close();
    assert.deepEqual(
      s.received.map((q) => q.id),
      [0x8000, 0x4000],
    );
  });

  test("close() ends pending queries with a network error", async () => {
    const s = await serve(() => []);
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 5000 });
    const p = r.query("hang.example", "A");
    await new Promise((res) => setTimeout(res, 20));
    await r.close();
    const l = await p;
    assert.equal(l.outcome, "error");
    assert.equal(l.error, "network");
  });

  test("close() also ends the queries still waiting for a slot of the upstream's limit", async () => {
    const s = await serve(() => []);
    const r = new StubResolver({ upstreams: [up(s)], timeoutMs: 5000, perUpstreamConcurrency: 1 });
    const ps = ["w1.example", "w2.example", "w3.example"].map((n) => r.query(n, "A"));
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(r.stats().inFlight, 1);
    assert.equal(r.stats().queued, 2);
    await r.close();
    const ls = await Promise.all(ps);
    assert.deepEqual(
      ls.map((l) => l.error),
      ["network", "network", "network"],
    );
  });

  test("Slots: a free slot is taken at once, waiters get released slots first come, first served", async () => {
    const slots = new Slots(2);
    assert.equal(slots.tryTake(), true);
    assert.equal(slots.tryTake(), true);
    assert.equal(slots.tryTake(), false);
    const order: number[] = [];
    const waits = [1, 2, 3].map((i) => slots.wait().then(() => order.push(i)));
    assert.equal(slots.queued, 3);
    slots.release();
    slots.release();
    await Promise.resolve();
    assert.deepEqual(order, [1, 2]);
    assert.equal(slots.active, 2);
    assert.equal(slots.queued, 1);
    slots.openAll();
    await Promise.all(waits);
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(slots.active, 3);
    for (let i = 0; i < 3; i++) slots.release();
    assert.equal(slots.active, 0);
    assert.equal(slots.tryTake(), true);
  });

  test("an unknown upstream index, an unsupported type or an unencodable name is an error, not a throw", async () => {
    const r = new StubResolver({ upstreams: ["127.0.0.1:9"] });
    const a = await r.queryUpstream(5, "x.example", "A");
    const b = await r.query("x.example", "SRV" as "A");
    const c = await r.query(`${"a".repeat(70)}.example`, "A");
    await r.close();
    for (const l of [a, b, c])
      assert.deepEqual([l.outcome, l.error, l.security], ["error", "other", "indeterminate"]);
  });

  test("bad upstream configuration is a typed error", () => {
    assert.throws(
      () => new StubResolver({ upstreams: ["dns.example:53"] }),
      (e: unknown) => e instanceof DnsConfigError && e.code === "bad-upstream",
    );
    assert.throws(
      () => new StubResolver({ upstreams: ["127.0.0.1:99999"] }),
      (e: unknown) => e instanceof DnsConfigError && e.code === "bad-upstream",
    );
    assert.throws(
      () => new StubResolver({ upstreams: ["999.1.1.1:53"] }),
      (e: unknown) => e instanceof DnsConfigError && e.code === "bad-upstream",
    );
    const r = new StubResolver({ upstreams: ["[::1]:5353", "127.0.0.1"] });
    assert.deepEqual(r.upstreams, ["[::1]:5353", "127.0.0.1:53"]);
    // the provenance key is the canonical text, however the address was written
    const c = new StubResolver({ upstreams: ["[0:0:0::1]:53", "::FFFF:7F00:1", "[2001:DB8::35]"] });
    assert.deepEqual(c.upstreams, ["[::1]:53", "[::ffff:127.0.0.1]:53", "[2001:db8::35]:53"]);
  });
});
