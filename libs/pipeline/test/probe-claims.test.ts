/**
 * One probe per (scan, ip, port, SNI) across prober instances: two probe
 * stage shells with their own Prober (two "instances", as during a Kafka
 * rebalance) get the same request at once; the SMTP server sees one
 * connection, both acknowledge with the same stored facts.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { envelopeMessage, type IncomingMessage, MemoryBus, makeEnvelope, TOPICS } from "@danesweep/bus";
import { Prober } from "@danesweep/probe";
import { openStore, type Store } from "@danesweep/store";
import { type SmtpServerHandle, startSmtpServer } from "@danesweep/test-smtp";
import { newCounters, probeHandler } from "../src/stages.ts";

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
    const prober = new Prober({
      allowPrivate: true,
      ehloName: "claims.test.invalid",
      perIpRate: 100,
      perIpBurst: 100,
    });
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

test("a probe is announced on [probe-results] once; a stored probe never announced is announced by the next request", async () => {
  const bus = new MemoryBus();
  const announcements: string[] = [];
  await bus.ensureTopics([{ name: TOPICS.probeResults, partitions: 1 }]);
  const sub = await bus.consume({ topic: TOPICS.probeResults, group: "watch" }, async (m) => {
    announcements.push(m.key);
    return { kind: "ack" };
  });
  const prober = new Prober({
    allowPrivate: true,
    ehloName: "claims.test.invalid",
    perIpRate: 100,
    perIpBurst: 100,
  });
  const counters = newCounters();
  const handle = probeHandler({ bus, store, prober, counters, owner: "announcer", claimPollMs: 20 });
  const request = (sni: string, offset: number) => probeRequest(sni, `d${offset}.example`, offset);
  try {
    // Three requests for one key: one dial, one announcement.
    for (let i = 0; i < 3; i++) assert.equal((await handle(request("mx.once.example", i))).kind, "ack");
    // A probe stored by a prober that died before announcing it.
    const orphan = { ip: "127.0.0.1", port: server.port, sni: "mx.orphan.example" };
    const dialed = await prober.probe({ ...orphan, mxHost: orphan.sni });
    await store.upsertProbe(scan, dialed);
    for (let i = 3; i < 6; i++) assert.equal((await handle(request("mx.orphan.example", i))).kind, "ack");
    await bus.idle();
    assert.deepEqual(announcements, [
      `127.0.0.1|${server.port}|mx.once.example`,
      `127.0.0.1|${server.port}|mx.orphan.example`,
    ]);
    assert.equal(counters.probed, 1);
    assert.equal(counters.probesReused, 5);
  } finally {
    await sub.close();
    await prober.close();
    await bus.close();
  }
});
