/**
 * The resolve stage's publishing order when the authoritative servers are
 * asked (issue 14, item 1): the check waits on each server's rate, so the
 * probe requests go out before it ends (probing and the check overlap) and
 * the domain's facts, with the check's result, after it. The DNS answers are
 * scripted (what a validating resolver says for a DANE domain); the
 * consistency checker is a stand-in whose check ends when the test says.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeEnvelope, type IncomingMessage, MemoryBus, TOPICS } from "@danesweep/bus";
import type { DomainFacts, Lookup, RRType, TlsaConsistencyFacts } from "@danesweep/dane";
import type { DnsQuerier } from "@danesweep/dns";
import { resolveHandler } from "../src/stages.ts";

const TLSA = { usage: 3, selector: 1, matchingType: 1, data: "ab".repeat(32) };

/** A validating resolver's answers for dane.example: one MX host with an address and a TLSA RRset, all secure. */
class DaneZone implements DnsQuerier {
  async query<K extends RRType>(qname: string, qtype: K): Promise<Lookup<never>> {
    const answer = (records: unknown[]) =>
      ({ qname, qtype, outcome: "answer", security: "secure", chain: [], owner: qname, records }) as never;
    if (qtype === "MX" && qname === "dane.example")
      return answer([{ preference: 10, exchange: "mx.dane.example" }]);
    if (qtype === "A" && qname === "mx.dane.example") return answer(["192.0.2.25"]);
    if (qtype === "TLSA" && qname === "_25._tcp.mx.dane.example") return answer([TLSA]);
    return {
      qname,
      qtype,
      outcome: "nodata",
      security: "secure",
      chain: [],
      owner: qname,
      records: [],
    } as never;
  }
}

/** The same zone, where every domain under .example has mx.dane.example as its MX host. */
class SharedMx extends DaneZone {
  override async query<K extends RRType>(qname: string, qtype: K): Promise<Lookup<never>> {
    if (qtype === "MX" && qname.endsWith(".example") && !qname.startsWith("mx."))
      return super.query("dane.example", qtype).then((l) => ({ ...l, qname, owner: qname }) as never);
    return super.query(qname, qtype);
  }
}

/** The handler's settings every test here shares (a validating resolver, every probe, port 25, a fixed clock). */
const SETTINGS = {
  resolverValidates: true,
  probeMode: "all",
  port: 25,
  now: () => Date.UTC(2026, 0, 1),
} as const;

function message(domain: string, scan = "scan-1"): IncomingMessage {
  const value = encodeEnvelope("domain", scan, { domain, line: 1, input: domain });
  return {
    topic: TOPICS.domains,
    partition: 0,
    offset: "0",
    key: domain,
    value,
    headers: {},
    deliveryAttempt: 1,
  };
}

test("the probes are requested before the authoritative servers answer; the facts follow with the check", async () => {
  const bus = new MemoryBus({ partitions: 1 });
  const seen: { topic: string; type: string }[] = [];
  const original = bus.publish.bind(bus);
  bus.publish = async (ms) => {
    for (const m of ms) seen.push({ topic: m.topic, type: (JSON.parse(m.value) as { type: string }).type });
    return original(ms);
  };
  let release: (v: TlsaConsistencyFacts[]) => void = () => {};
  const checked: DomainFacts[] = [];
  const consistency = {
    applies: (f: DomainFacts) => f.hosts.some((h) => h.tlsa.some((l) => l.records.length > 0)),
    check: (f: DomainFacts) => {
      checked.push(f);
      return new Promise<TlsaConsistencyFacts[]>((r) => {
        release = r;
      });
    },
  };
  const handle = resolveHandler({
    bus,
    resolver: new DaneZone(),
    ...SETTINGS,
    consistency,
  });
  const done = handle(message("dane.example"));
  while (checked.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(
    seen,
    [{ topic: TOPICS.probeRequests, type: "probe-request" }],
    "the probe is requested first",
  );
  const result: TlsaConsistencyFacts = {
    qname: "_25._tcp.mx.dane.example",
    zone: "dane.example",
    ns: { outcome: "answer", security: "secure", names: ["ns.dane.example"] },
    servers: [{ server: "ns.dane.example", address: "192.0.2.53", status: "answer" }],
    checkedAt: "2026-01-01T00:00:00.000Z",
  };
  release([result]);
  assert.deepEqual(await done, { kind: "ack" });
  assert.deepEqual(seen, [
    { topic: TOPICS.probeRequests, type: "probe-request" },
    { topic: TOPICS.domainFacts, type: "dns-facts" },
  ]);
});

test("without anything to check, one publish carries the facts and the probe requests", async () => {
  const bus = new MemoryBus({ partitions: 1 });
  const batches: string[][] = [];
  const original = bus.publish.bind(bus);
  bus.publish = async (ms) => {
    batches.push(ms.map((m) => m.topic));
    return original(ms);
  };
  const handle = resolveHandler({
    bus,
    resolver: new DaneZone(),
    ...SETTINGS,
    consistency: {
      applies: () => false,
      check: async () => {
        throw new Error("not asked");
      },
    },
  });
  assert.deepEqual(await handle(message("dane.example")), { kind: "ack" });
  assert.deepEqual(batches, [[TOPICS.domainFacts, TOPICS.probeRequests]]);
});

test("askOnce: a probe is requested by the first domain of a scan that needs it, once its request is on the bus", async () => {
  const bus = new MemoryBus({ partitions: 1 });
  const requests: string[] = [];
  let fail = false;
  const original = bus.publish.bind(bus);
  bus.publish = async (ms) => {
    if (fail) throw Object.assign(new Error("broker away"), { code: "publish-failed", canRetry: true });
    for (const m of ms) {
      const env = JSON.parse(m.value) as { type: string; scan: string; body: { domain: string; ip: string } };
      if (env.type === "probe-request") requests.push(`${env.scan} ${env.body.domain} ${env.body.ip}`);
    }
    return original(ms);
  };
  const deps = {
    bus,
    resolver: new SharedMx(),
    ...SETTINGS,
    mailPolicies: false,
  };
  const once = resolveHandler({ ...deps, askOnce: true });
  // The first try of a.example cannot publish: its request is not on the bus, so b.example asks.
  fail = true;
  assert.equal((await once(message("a.example"))).kind, "retry");
  fail = false;
  assert.deepEqual(await once(message("b.example")), { kind: "ack" });
  assert.deepEqual(await once(message("a.example")), { kind: "ack" });
  assert.deepEqual(await once(message("c.example")), { kind: "ack" });
  // Another scan asks again.
  assert.deepEqual(await once(message("a.example", "scan-2")), { kind: "ack" });
  assert.deepEqual(requests, ["scan-1 b.example 192.0.2.25", "scan-2 a.example 192.0.2.25"]);
  // Without askOnce, every domain asks.
  requests.length = 0;
  const each = resolveHandler(deps);
  for (const d of ["a.example", "b.example"]) assert.deepEqual(await each(message(d)), { kind: "ack" });
  assert.deepEqual(requests, ["scan-1 a.example 192.0.2.25", "scan-1 b.example 192.0.2.25"]);
});

test("resolving: at most that many domains' lookups at once; a domain publishing its facts no longer counts", async () => {
  // MX questions wait until the test answers them; publishes wait until the test lets them through.
  const asked: string[] = [];
  const answer = new Map<string, () => void>();
  class HeldMx extends SharedMx {
    override async query<K extends RRType>(qname: string, qtype: K): Promise<Lookup<never>> {
      if (qtype === "MX") {
        asked.push(qname);
        await new Promise<void>((r) => answer.set(qname, r));
      }
      return super.query(qname, qtype);
    }
  }
  const bus = new MemoryBus({ partitions: 1 });
  const published: string[] = [];
  const publishing: (() => void)[] = [];
  const original = bus.publish.bind(bus);
  bus.publish = async (ms) => {
    await new Promise<void>((r) => publishing.push(r));
    for (const m of ms) if (m.topic === TOPICS.domainFacts) published.push(m.key);
    return original(ms);
  };
  const handle = resolveHandler({
    bus,
    resolver: new HeldMx(),
    ...SETTINGS,
    mailPolicies: false,
    resolving: 2,
  });
  const settle = () => new Promise((r) => setTimeout(r, 10));
  const outcomes = ["a.example", "b.example", "c.example", "d.example"].map((d) => handle(message(d)));
  await settle();
  assert.deepEqual(asked, ["a.example", "b.example"], "two domains resolve, the others wait");
  answer.get("a.example")?.();
  await settle();
  assert.equal(publishing.length, 1, "a.example is publishing");
  assert.deepEqual(
    asked,
    ["a.example", "b.example", "c.example"],
    "c.example resolves while a.example publishes",
  );
  answer.get("b.example")?.();
  await settle();
  assert.deepEqual(asked, ["a.example", "b.example", "c.example", "d.example"]);
  answer.get("c.example")?.();
  answer.get("d.example")?.();
  await settle();
  assert.equal(publishing.length, 4);
  for (const go of publishing) go();
  for (const o of outcomes) assert.deepEqual(await o, { kind: "ack" });
  assert.deepEqual(published.sort(), ["a.example", "b.example", "c.example", "d.example"]);
});

test("resolving: a domain whose lookups fail gives its turn back", async () => {
  let fail = true;
  class Flaky extends SharedMx {
    override async query<K extends RRType>(qname: string, qtype: K): Promise<Lookup<never>> {
      if (fail && qtype === "MX") throw Object.assign(new Error("resolver away"), { code: "unavailable" });
      return super.query(qname, qtype);
    }
  }
  const handle = resolveHandler({
    bus: new MemoryBus({ partitions: 1 }),
    resolver: new Flaky(),
    ...SETTINGS,
    mailPolicies: false,
    resolving: 1,
  });
  assert.notEqual((await handle(message("a.example"))).kind, "ack");
  fail = false;
  assert.deepEqual(await handle(message("a.example")), { kind: "ack" }, "the one turn was given back");
});
