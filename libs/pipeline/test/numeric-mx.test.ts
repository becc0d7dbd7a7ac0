/**
 * A numeric MX exchange that spells an IPv6 address in its own way, through
 * the resolve, probe and aggregate stages (issue 11, item 2): under the
 * postfix profile the exchange is dialled as the address it spells (rule 33),
 * the prober stores its facts under the address's canonical text, and the
 * join must wait for exactly that text, or the domain is never judged.
 *
 * The MX answer is scripted (what a validating resolver says for the zone);
 * the prober is the real one, dialling the IPv4-mapped address of a real
 * SMTP test server on 127.0.0.1; the store is a real embedded one.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { encodeEnvelope, type IncomingMessage, MemoryBus, TOPICS } from "@danesweep/bus";
import { type Lookup, POLICY_PROFILES, type RRType, type VerdictRecord } from "@danesweep/dane";
import type { DnsQuerier } from "@danesweep/dns";
import { openStore, type Store } from "@danesweep/store";
import { type SmtpServerHandle, startSmtpServer } from "@danesweep/test-smtp";
import { aggregateHandler, newCounters, probeHandler, resolveHandler } from "../src/stages.ts";
import { testProber, wireStages } from "./wire-stages.ts";

const scan = "01TESTNUMERICMX00000000000";
let store: Store;
let server: SmtpServerHandle;

before(async () => {
  store = await openStore({ memory: true });
  await store.createScan({ id: scan, parameters: {}, startedAt: new Date().toISOString() });
  server = await startSmtpServer({ host: "127.0.0.1", port: 0, mode: "plain" });
});
after(async () => {
  await server.close();
  await store.close();
});

/** A signed zone whose only MX exchange is `exchange`; every other name has no records. */
class NumericMxZone implements DnsQuerier {
  readonly domain: string;
  readonly exchange: string;
  constructor(domain: string, exchange: string) {
    this.domain = domain;
    this.exchange = exchange;
  }
  async query<K extends RRType>(qname: string, qtype: K): Promise<Lookup<never>> {
    const base = { qname, qtype, security: "secure", chain: [], owner: qname } as const;
    if (qtype === "MX" && qname === this.domain)
      return {
        ...base,
        outcome: "answer",
        records: [{ preference: 10, exchange: this.exchange }],
      } as never;
    return { ...base, outcome: "nodata", records: [] } as never;
  }
}

function domainMessage(domain: string): IncomingMessage {
  const value = encodeEnvelope("domain", scan, { domain, line: 1, input: domain });
  return { topic: TOPICS.domains, partition: 0, offset: "0", key: domain, value, headers: {} };
}

// RFC 4291 lets one address be written many ways; RFC 5952 section 5 writes an
// IPv4-mapped address as ::ffff: and a dotted quad: the text the prober stores.
// (Lowercase: the DNS decoder lowercases every name it reads.)
const spellings = ["::ffff:7f00:1", "0:0:0:0:0:ffff:7f00:0001"];

for (const exchange of spellings) {
  test(`postfix profile, MX "${exchange}": probed at ::ffff:127.0.0.1 and judged`, {
    timeout: 60_000,
  }, async () => {
    const domain = `n${spellings.indexOf(exchange)}.numeric.example`;
    const bus = new MemoryBus({ partitions: 1 });
    const policy = POLICY_PROFILES.postfix;
    const prober = testProber("numeric.test.invalid");
    const judged: VerdictRecord[] = [];
    let onJudged: () => void = () => {};
    const done = new Promise<void>((r) => {
      onJudged = r;
    });
    const aggregate = aggregateHandler({
      bus,
      store,
      probeMode: "all",
      policy,
      now: () => Date.now(),
      counters: newCounters(),
      batch: { maxItems: 10, maxDelayMs: 5 },
      // Short: the join also looks in the store for the probe it waits for.
      joinTimeoutMs: 200,
      onJudged: (_s, records) => {
        judged.push(...records);
        onJudged();
      },
    });
    const probe = probeHandler({ bus, store, prober, counters: newCounters(), claimPollMs: 20 });
    const { requested, close } = await wireStages(bus, probe, aggregate);
    try {
      const resolve = resolveHandler({
        bus,
        resolver: new NumericMxZone(domain, exchange),
        resolverValidates: true,
        probeMode: "all",
        policy,
        port: server.port,
        now: () => Date.now(),
        mailPolicies: false,
      });
      assert.deepEqual(await resolve(domainMessage(domain)), { kind: "ack" });
      while (requested.length === 0) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(requested, ["::ffff:127.0.0.1"], "one probe request, keyed by the canonical text");
      // Judged: the join waited for the key the prober stored its facts under.
      await done;
      const [record] = judged;
      assert.equal(record?.domain, domain);
      assert.deepEqual(record?.verdict, {
        action: "deliver",
        security: "plaintext",
        host: exchange,
        address: "::ffff:127.0.0.1",
        reason: "opportunistic-plaintext",
      });
      const stored = await store.getProbe(scan, { ip: "::ffff:127.0.0.1", port: server.port, sni: exchange });
      assert.equal(stored?.status, "starttls-not-offered");
    } finally {
      await close();
      await prober.close();
      await bus.close();
    }
  });
}
