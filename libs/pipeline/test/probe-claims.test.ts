/**
 * One probe per (scan, ip, port, SNI) across prober instances: two probe
 * stage shells with their own Prober (two "instances", as during a Kafka
 * rebalance) get the same request at once; the SMTP server sees one
 * connection, both acknowledge with the same stored facts.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { envelopeMessage, type IncomingMessage, MemoryBus, makeEnvelope, TOPICS } from "@danesweep/bus";
import { openStore, type Store } from "@danesweep/store";
import { type SmtpServerHandle, startSmtpServer } from "@danesweep/test-smtp";
import { newCounters, probeHandler } from "../src/stages.ts";
import { testProber } from "./wire-stages.ts";

let store: Store;
let server: SmtpServerHandle;
const scan = "01TESTPROBECLAIMS000000000";

before(async () => {
  store = await openStore({ memory: true });
  await store.createScan({ id: scan, parameters: {}, startedAt: new Date().toISOString() });
  server = await startSmtpServer({ host: "127.0.0.1", port: 0, mode: "plain", bannerDelayMs: 300 });
});
after(async () => {
  await server.close();
  await store.close();
});

/** A probe-request to the test server's port for (127.0.0.1, sni), as delivered at `offset`. */
function probeRequest(sni: string, domain: string, offset: number): IncomingMessage {
  const out = envelopeMessage(
    TOPICS.probeRequests,
    "127.0.0.1",
    makeEnvelope("probe-request", scan, { ip: "127.0.0.1", port: server.port, sni, mxHost: sni, domain }),
  );
  return { ...out, headers: out.headers ?? {}, partition: 0, offset: String(offset) };
}

test("two prober instances, one request each for the same key: one dial", async () => {
  const bus = new MemoryBus();
  const mk = (owner: string) => {
    const counters = newCounters();
    const prober = testProber("claims.test.invalid");
    return {
      counters,
      prober,
      handle: probeHandler({ bus, store, prober, counters, owner, claimPollMs: 20 }),
    };
  };
  const a = mk("instance-a");
  const b = mk("instance-b");
  const msg = probeRequest("mx.claims.example", "claims.example", 0);
  try {
    const [ra, rb] = await Promise.all([a.handle(msg), b.handle(msg)]);
    assert.deepEqual([ra.kind, rb.kind], ["ack", "ack"]);
    assert.equal(server.connections(), 1, "dialed once");
    assert.equal(a.counters.probed + b.counters.probed, 1);
    assert.equal(
      a.counters.probesReused + b.counters.probesReused,
      1,
      "the other waited for the stored result",
    );
    const stored = await store.getProbe(scan, {
      ip: "127.0.0.1",
      port: server.port,
      sni: "mx.claims.example",
    });
    assert.equal(stored?.status, "starttls-not-offered");
  } finally {
    await a.prober.close();
    await b.prober.close();
    await bus.close();
  }
});

test("every request gets the result addressed to its own domain; one dial per key; a stored probe is reused", async () => {
  const bus = new MemoryBus();
  const results: { key: string; domain: string; sni: string }[] = [];
  await bus.ensureTopics([{ name: TOPICS.domainFacts, partitions: 1 }]);
  const sub = await bus.consume({ topic: TOPICS.domainFacts, group: "watch" }, async (m) => {
    const body = (JSON.parse(m.value) as { body: { domain: string; facts: { sni: string } } }).body;
    results.push({ key: m.key, domain: body.domain, sni: body.facts.sni });
    return { kind: "ack" };
  });
  const prober = testProber("claims.test.invalid");
  const counters = newCounters();
  const handle = probeHandler({ bus, store, prober, counters, owner: "router", claimPollMs: 20 });
  const request = (sni: string, offset: number) => probeRequest(sni, `d${offset}.example`, offset);
  const before = server.connections();
  try {
    // Three requests for one key, at once: one dial, three results, each to its own domain.
    const outs = await Promise.all([0, 1, 2].map((i) => handle(request("mx.once.example", i))));
    assert.deepEqual(
      outs.map((o) => o.kind),
      ["ack", "ack", "ack"],
    );
    assert.equal(server.connections() - before, 1, "one dial");
    // A probe another prober stored earlier: no dial, the stored facts go out.
    const stored = { ip: "127.0.0.1", port: server.port, sni: "mx.stored.example" };
    await store.upsertProbe(scan, await prober.probe({ ...stored, mxHost: stored.sni }));
    const dialsBefore = server.connections();
    assert.equal((await handle(request("mx.stored.example", 3))).kind, "ack");
    assert.equal(server.connections(), dialsBefore, "the stored probe was not dialed again");
    await bus.idle();
    assert.deepEqual(results.map((r) => `${r.key} ${r.domain} ${r.sni}`).sort(), [
      "d0.example d0.example mx.once.example",
      "d1.example d1.example mx.once.example",
      "d2.example d2.example mx.once.example",
      "d3.example d3.example mx.stored.example",
    ]);
    assert.equal(counters.probed, 1);
    assert.equal(counters.probesReused, 3);
  } finally {
    await sub.close();
    await prober.close();
    await bus.close();
  }
});

test("a scan only this handler probes: a new key is dialed without a store lookup; a key asked before is looked up", async () => {
  const bus = new MemoryBus();
  await bus.ensureTopics([{ name: TOPICS.domainFacts, partitions: 1 }]);
  const prober = testProber("claims.test.invalid");
  const counters = newCounters();
  let lookups = 0;
  const getProbes = store.getProbes.bind(store);
  store.getProbes = (s, keys) => {
    lookups += keys.length;
    return getProbes(s, keys);
  };
  // cacheBytes 1: no probe stays in memory, so a second request must find the first one's result in the store.
  const handle = probeHandler({ bus, store, prober, counters, claims: false, newScan: scan, cacheBytes: 1 });
  const other = probeHandler({ bus, store, prober, counters: newCounters(), claims: false, cacheBytes: 1 });
  const before = server.connections();
  try {
    assert.equal((await handle(probeRequest("mx.new.example", "n0.example", 0))).kind, "ack");
    assert.equal(lookups, 0, "a key never asked for in the new scan is not looked for");
    assert.equal(server.connections() - before, 1, "dialed");
    assert.equal((await handle(probeRequest("mx.new.example", "n1.example", 1))).kind, "ack");
    assert.equal(lookups, 1, "asked before and gone from the cache: looked for in the store");
    assert.equal(server.connections() - before, 1, "found there, not dialed again");
    assert.equal(counters.probed, 1);
    assert.equal(counters.probesReused, 1);
    // Without newScan (a resumed scan, or several probers) every first request looks in the store.
    assert.equal((await other(probeRequest("mx.other.example", "o0.example", 2))).kind, "ack");
    assert.equal(lookups, 2);
  } finally {
    store.getProbes = getProbes;
    await prober.close();
    await bus.close();
  }
});

test("by reference: the request that made or fetched a probe gets its facts, every other request its key, sent only once the probe is stored", async () => {
  const bus = new MemoryBus();
  await bus.ensureTopics([{ name: TOPICS.domainFacts, partitions: 1 }]);
  const seen: string[] = [];
  const sub = await bus.consume({ topic: TOPICS.domainFacts, group: "watch" }, async (m) => {
    const env = JSON.parse(m.value) as {
      type: string;
      body: { domain: string; sni?: string; port?: number; facts?: { sni: string } };
    };
    const sni = env.body.facts?.sni ?? env.body.sni ?? "";
    // What a ref names is in the store by the time the ref can be read.
    const stored = await store.getProbe(scan, { ip: "127.0.0.1", port: server.port, sni });
    seen.push(`${env.type} ${env.body.domain} ${sni} ${stored ? "stored" : "not stored"}`);
    return { kind: "ack" };
  });
  const prober = testProber("claims.test.invalid");
  const counters = newCounters();
  const handle = probeHandler({ bus, store, prober, counters, owner: "refs", byReference: true });
  const before = server.connections();
  try {
    const outs = await Promise.all(
      [0, 1, 2].map((i) => handle(probeRequest("mx.ref.example", `r${i}.example`, i))),
    );
    assert.deepEqual(
      outs.map((o) => o.kind),
      ["ack", "ack", "ack"],
    );
    // Later, from the cache.
    assert.equal((await handle(probeRequest("mx.ref.example", "r3.example", 3))).kind, "ack");
    // A probe another prober stored: the request that fetched it sends its facts.
    const fetched = { ip: "127.0.0.1", port: server.port, sni: "mx.fetched.example" };
    await store.upsertProbe(scan, await prober.probe({ ...fetched, mxHost: fetched.sni }));
    assert.equal((await handle(probeRequest("mx.fetched.example", "f0.example", 4))).kind, "ack");
    assert.equal((await handle(probeRequest("mx.fetched.example", "f1.example", 5))).kind, "ack");
    await bus.idle();
    assert.equal(
      server.connections() - before,
      2,
      "one dial for mx.ref.example, one to make the stored probe",
    );
    const refs = seen.filter((s) => s.startsWith("probe-ref"));
    const results = seen.filter((s) => s.startsWith("probe-result"));
    assert.equal(results.length, 2, `one result per probe: ${seen.join("; ")}`);
    assert.deepEqual(
      results.map((s) => s.split(" ")[2]),
      ["mx.ref.example", "mx.fetched.example"],
    );
    assert.deepEqual(
      refs.map((s) => s.split(" ").slice(1).join(" ")).sort(),
      [
        "f1.example mx.fetched.example stored",
        // The request that made the probe (one of r0-r2) got the facts; the rest got refs.
        ...["r0", "r1", "r2", "r3"]
          .filter((d) => !results[0]?.includes(` ${d}.example `))
          .map((d) => `${d}.example mx.ref.example stored`),
      ].sort(),
    );
    assert.equal(counters.probed, 1);
    // Two sharers and one cache hit of mx.ref.example; the fetch and one cache hit of mx.fetched.example.
    assert.equal(counters.probesReused, 5);
  } finally {
    await sub.close();
    await prober.close();
    await bus.close();
  }
});
