/**
 * The resolver cache is bounded by bytes (issue 11, item 4): a hostile server
 * answering many names with maximum-size RRsets (one 64 KiB TCP message each,
 * about 130 KB of hex in the heap) must not grow the heap past the budget, and
 * the byte estimate must be honest: the heap the cache really holds, measured
 * after a full GC, stays within the budget (plus a fixed allowance for
 * everything else a test process keeps).
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { lookupBytes } from "../src/cache.ts";
import { StubResolver } from "../src/index.ts";
import { type FakeServer, type Incoming, respond, startFakeServer } from "./fake-server.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** One TLSA record filling a whole 65535-octet message (header, question, owner, RR fields, rdata). */
function maxTlsa(q: Incoming): Buffer {
  const nameOctets = q.name.length + 2;
  const room = 65535 - 12 - (nameOctets + 4) - (nameOctets + 10) - 3;
  const certificate = Buffer.alloc(room, q.name.length);
  const b = respond(q, {
    answers: [
      {
        type: "TLSA",
        name: q.name,
        ttl: 3600,
        data: { usage: 3, selector: 1, matchingType: 0, certificate },
      },
    ] as never,
  });
  assert.equal(b.length, 65535);
  return b;
}

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
}

test("maximum-size RRsets for many names: the cache keeps within its byte budget, and so does the heap", async () => {
  const s = await startFakeServer((q) => [maxTlsa(q)]);
  servers.push(s);
  const budget = 4 * 1048576;
  const r = new StubResolver({
    upstreams: [`127.0.0.1:${s.port}`],
    transport: "tcp",
    timeoutMs: 10_000,
    cacheMaxBytes: budget,
  });
  const names = Array.from({ length: 300 }, (_, i) => `_25._tcp.mx${i}.hostile.example`);
  assert.equal((await r.query("_25._tcp.warm.hostile.example", "TLSA")).outcome, "answer");
  const before = heapMb();
  let peak = 0;
  for (let i = 0; i < names.length; i += 10) {
    const got = await Promise.all(names.slice(i, i + 10).map((n) => r.query(n, "TLSA")));
    for (const l of got)
      assert.equal(l.records[0]?.data.length, 2 * (65535 - 12 - 2 * (l.qname.length + 2) - 17));
    peak = Math.max(peak, r.stats().cacheBytes);
  }
  const grown = heapMb() - before;
  const st = r.stats();
  assert.ok(peak <= budget, `cache estimate ${peak} > budget ${budget}`);
  assert.ok(st.cacheEntries >= 20 && st.cacheEntries < 40, `${st.cacheEntries} entries of ~130 KB in 4 MiB`);
  // 300 x 130 KB = 39 MB went through; the heap keeps the budget's worth (the old rope strings kept 1.9 MB each)
  assert.ok(
    grown < budget / 1048576 + 2,
    `heap grew ${grown.toFixed(1)} MB for a ${budget / 1048576} MiB cache`,
  );
  // the youngest entries are still served from the cache
  assert.equal((await r.query(names.at(-1)!, "TLSA")).provenance?.cached, true);
  assert.equal((await r.query(names[0]!, "TLSA")).provenance?.cached, false);
  await r.close();
});

test("an entry over an eighth of the budget is not kept; a bound of 0 turns the cache off", async () => {
  const s = await startFakeServer((q) => [maxTlsa(q)]);
  servers.push(s);
  const small = new StubResolver({
    upstreams: [`127.0.0.1:${s.port}`],
    transport: "tcp",
    cacheMaxBytes: 512 * 1024,
  });
  await small.query("_25._tcp.a.example", "TLSA");
  assert.deepEqual([small.stats().cacheEntries, small.stats().cacheBytes], [0, 0]);
  await small.close();
  const off = new StubResolver({ upstreams: [`127.0.0.1:${s.port}`], transport: "tcp", cacheMaxBytes: 0 });
  await off.query("_25._tcp.a.example", "TLSA");
  await off.query("_25._tcp.a.example", "TLSA");
  assert.equal(s.received.length, 3);
  await off.close();
});

test("lookupBytes counts every string in full: hex data at one byte a character, names, the key", () => {
  const data = "ab".repeat(50_000);
  const l = {
    qname: "_25._tcp.mx.example",
    qtype: "TLSA" as const,
    outcome: "answer" as const,
    security: "secure" as const,
    chain: [],
    owner: "_25._tcp.mx.example",
    records: [{ usage: 3, selector: 1, matchingType: 1, data }],
  };
  const n = lookupBytes("TLSA _25._tcp.mx.example", l);
  assert.ok(n >= data.length + 3 * 19, `${n}`);
  assert.ok(n < data.length + 2048, `${n}`);
  const many = { ...l, records: Array.from({ length: 1000 }, () => ({ ...l.records[0]!, data: "00" })) };
  assert.ok(lookupBytes("k", many) >= 1000 * (8 + 24 + 4 * 8), "each record's object and slot count");
});
