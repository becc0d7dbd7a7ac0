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

function message(domain: string): IncomingMessage {
  const value = encodeEnvelope("domain", "scan-1", { domain, line: 1, input: domain });
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
    resolverValidates: true,
    probeMode: "all",
    port: 25,
    now: () => Date.UTC(2026, 0, 1),
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
    resolverValidates: true,
    probeMode: "all",
    port: 25,
    now: () => Date.UTC(2026, 0, 1),
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
