/**
 * The resolve, probe and aggregate stages on one in-memory bus, as the
 * embedded scan wires them (embedded.ts: askOnce, LOOK_IN_STORE_AFTER_MS):
 * domains that share an MX host ask for its probe once, and each is judged
 * with that one result, whether it waited for it, came after it (kept by
 * the join), or came after the join let it go (found in the store).
 *
 * The MX answers are scripted (a signed zone whose domains all name one
 * numeric exchange, dialled as the address it spells under the postfix
 * profile); the prober is the real one, dialling a real SMTP test server on
 * 127.0.0.1; the store is a real embedded one.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { encodeEnvelope, type IncomingMessage, MemoryBus, TOPICS } from "@danesweep/bus";
import { type Lookup, POLICY_PROFILES, type RRType, type VerdictRecord } from "@danesweep/dane";
import type { DnsQuerier } from "@danesweep/dns";
import { openStore, type Store } from "@danesweep/store";
import { type SmtpServerHandle, startSmtpServer } from "@danesweep/test-smtp";
import {
  aggregateHandler,
  LOOK_IN_STORE_AFTER_MS,
  newCounters,
  probeHandler,
  resolveHandler,
} from "../src/stages.ts";
import { testProber, wireStages } from "./wire-stages.ts";

let store: Store;
let server: SmtpServerHandle;
/** Holds each connection's banner until released: a probe in flight for as long as a test needs. */
let holding: SmtpServerHandle;
let scans = 0;

before(async () => {
  store = await openStore({ memory: true });
  server = await startSmtpServer({ host: "127.0.0.1", port: 0, mode: "plain" });
  holding = await startSmtpServer({ host: "127.0.0.1", port: 0, mode: "plain", holdBanner: true });
});
after(async () => {
  await server.close();
  await holding.close();
  await store.close();
});

/** A signed zone in which every domain's only MX exchange is 127.0.0.1; every other name has no records. */
const sharedMx: DnsQuerier = {
  async query<K extends RRType>(qname: string, qtype: K): Promise<Lookup<never>> {
    const base = { qname, qtype, security: "secure", chain: [], owner: qname } as const;
    if (qtype === "MX" && qname.endsWith(".shared.example"))
      return { ...base, outcome: "answer", records: [{ preference: 10, exchange: "127.0.0.1" }] } as never;
    return { ...base, outcome: "nodata", records: [] } as never;
  },
};

/**
 * The three stages on a fresh bus and scan, probing `port`. `keepBytes`:
 * the join's probeCacheBytes. Returns `resolve(domain)`, the probe requests seen, the
 * verdicts stored, and `judgedAll(n)`, which waits for n verdicts.
 */
async function pipeline(port: number, keepBytes: number) {
  const scan = `01TESTASKONCE${String(scans++).padStart(13, "0")}`;
  await store.createScan({ id: scan, parameters: {}, startedAt: new Date().toISOString() });
  const bus = new MemoryBus({ partitions: 1 });
  const policy = POLICY_PROFILES.postfix;
  const prober = testProber("ask-once.test.invalid");
  const counters = newCounters();
  const judged: VerdictRecord[] = [];
  const aggregate = aggregateHandler({
    bus,
    store,
    probeMode: "all",
    policy,
    now: () => Date.now(),
    batch: { maxItems: 10, maxDelayMs: 5 },
    joinTimeoutMs: 60_000,
    lookInStoreAfterMs: LOOK_IN_STORE_AFTER_MS,
    probeCacheBytes: keepBytes,
    onJudged: (_s, records) => {
      judged.push(...records);
    },
  });
  const probe = probeHandler({ bus, store, prober, counters, claims: false, newScan: scan });
  const stages = await wireStages(bus, probe, aggregate);
  const resolver = resolveHandler({
    bus,
    resolver: sharedMx,
    resolverValidates: true,
    probeMode: "all",
    policy,
    port,
    now: () => Date.now(),
    mailPolicies: false,
    askOnce: true,
  });
  const message = (domain: string): IncomingMessage => ({
    topic: TOPICS.domains,
    partition: 0,
    offset: "0",
    key: domain,
    value: encodeEnvelope("domain", scan, { domain, line: 1, input: domain }),
    headers: {},
  });
  return {
    scan,
    requested: stages.requested,
    judged,
    counters,
    resolve: async (domain: string) => assert.deepEqual(await resolver(message(domain)), { kind: "ack" }),
    /** Waits for n verdicts, failing after `ms`. */
    judgedAll: async (n: number, ms: number) => {
      const until = Date.now() + ms;
      while (judged.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(judged.length, n, `${n} verdicts within ${ms} ms`);
    },
    close: async () => {
      await stages.close();
      await prober.close();
      await bus.close();
    },
  };
}

const plaintext = {
  action: "deliver",
  security: "plaintext",
  host: "127.0.0.1",
  address: "127.0.0.1",
  reason: "opportunistic-plaintext",
};

test("domains sharing an MX host ask for its probe once; those that waited and those that came later are judged with it", {
  timeout: 60_000,
}, async () => {
  const p = await pipeline(holding.port, 16 * 1024 * 1024);
  try {
    // a asks; b comes while the probe is in flight (its banner held) and waits for a's result.
    await p.resolve("a.shared.example");
    while (holding.held() === 0) await new Promise((r) => setTimeout(r, 10));
    await p.resolve("b.shared.example");
    holding.releaseBanners();
    await p.judgedAll(2, 10_000);
    // Three more after the probe was made: the join kept its result.
    for (const d of ["c", "d", "e"]) await p.resolve(`${d}.shared.example`);
    // Well before the join would look in the store.
    await p.judgedAll(5, LOOK_IN_STORE_AFTER_MS / 2);
    assert.deepEqual(p.requested, ["127.0.0.1"], "one probe request in the scan");
    assert.equal(p.counters.probed, 1, "one probe made");
    for (const r of p.judged) assert.deepEqual(r.verdict, plaintext, r.domain);
  } finally {
    await p.close();
  }
});

test("a domain that comes after the join let its probe's result go finds it in the store", {
  timeout: 60_000,
}, async () => {
  // Nothing kept: a later domain has only the store.
  const p = await pipeline(server.port, 1);
  try {
    await p.resolve("f.shared.example");
    await p.judgedAll(1, 10_000);
    await p.resolve("g.shared.example");
    await new Promise((r) => setTimeout(r, LOOK_IN_STORE_AFTER_MS / 2));
    assert.equal(p.judged.length, 1, "g waits until the join looks in the store");
    await p.judgedAll(2, 10_000);
    assert.deepEqual(p.requested, ["127.0.0.1"], "g asked for nothing");
    assert.deepEqual(p.judged[1]?.verdict, plaintext);
  } finally {
    await p.close();
  }
});
