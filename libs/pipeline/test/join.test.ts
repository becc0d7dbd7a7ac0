/**
 * The aggregator's join (stages.ts AggregateJoin) on a real embedded store:
 * a domain is judged once its facts and every probe result it needs are in
 * hand, in whatever order they come; every message of the domain is
 * acknowledged only once its verdict is stored; a probe result that never
 * comes is found in the store; a probe result whose facts never come is let
 * go; a domain whose probe was dead-lettered is given up on; a retryable
 * store failure is retried, a permanent one dead-letters.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type HandlerOutcome, type IncomingMessage, MemoryBus, makeEnvelope, TOPICS } from "@danesweep/bus";
import { type DomainFacts, type ProbeFacts, probeKeyString, type VerdictRecord } from "@danesweep/dane";
import { openStore, type Store, StoreError } from "@danesweep/store";
import { Tracing } from "@danesweep/telemetry";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { domainFacts, probeFacts } from "../../bus/test/fixtures.ts";
import {
  AggregateJoin,
  type AggregateStageDeps,
  aggregateHandler,
  neededProbes,
  newCounters,
  SATURATED_WAIT_MS,
} from "../src/stages.ts";

let store: Store;
let bus: MemoryBus;
const scan = "01TESTJOIN0000000000000000";
let n = 0;
const fresh = () => `j${n++}.example`;

before(async () => {
  store = await openStore({ memory: true });
  await store.createScan({ id: scan, parameters: {}, startedAt: new Date().toISOString() });
  bus = new MemoryBus();
});
after(async () => {
  await bus.close();
  await store.close();
});

/** The facts of a one-host DANE domain and the probe its host needs (the key the route asks for). */
function world(domain: string): { facts: DomainFacts; probe: ProbeFacts } {
  const facts = domainFacts(domain);
  const [key] = neededProbes(facts, "all");
  assert.ok(key, "the fixture's host is probed");
  return { facts, probe: { ...probeFacts(key.ip, key.sni), port: key.port } };
}

function join(over: Partial<AggregateStageDeps> = {}): { join: AggregateJoin; judged: VerdictRecord[] } {
  const judged: VerdictRecord[] = [];
  const j = new AggregateJoin({
    bus,
    store,
    probeMode: "all",
    now: () => Date.now(),
    counters: newCounters(),
    batch: { maxItems: 50, maxDelayMs: 5 },
    joinTimeoutMs: 200,
    onJudged: (_s, records) => {
      judged.push(...records);
    },
    ...over,
  });
  return { join: j, judged };
}

const settled = (p: Promise<HandlerOutcome>) =>
  Promise.race([p, new Promise<"pending">((r) => setTimeout(() => r("pending"), 100))]);

test("facts first, then the probe result: judged once, both messages acknowledged after the verdict is stored", async () => {
  const { join: j, judged } = join();
  const d = fresh();
  const w = world(d);
  const facts = j.offer(scan, d, { facts: w.facts });
  assert.equal(await settled(facts), "pending", "the facts wait for the probe result");
  const probe = j.offer(scan, d, { probe: w.probe });
  assert.deepEqual([await facts, await probe], [{ kind: "ack" }, { kind: "ack" }]);
  assert.deepEqual(
    judged.map((r) => r.domain),
    [d],
  );
  assert.equal((await store.latestVerdict(d))?.record.domain, d, "stored before the acknowledgement");
  assert.equal(j.size, 0, "nothing held once judged");
  j.close();
});

test("the probe result first, then the facts: judged", async () => {
  const { join: j, judged } = join();
  const d = fresh();
  const w = world(d);
  const probe = j.offer(scan, d, { probe: w.probe });
  assert.equal(await settled(probe), "pending");
  const facts = j.offer(scan, d, { facts: w.facts });
  assert.deepEqual([await probe, await facts], [{ kind: "ack" }, { kind: "ack" }]);
  assert.equal(judged.length, 1);
  j.close();
});

test("a probe result that never comes is looked for in the store after the join timeout", async () => {
  const { join: j, judged } = join();
  const d = fresh();
  const w = world(d);
  await store.upsertProbe(scan, w.probe);
  assert.deepEqual(await j.offer(scan, d, { facts: w.facts }), { kind: "ack" });
  assert.equal(judged.length, 1);
  j.close();
});

test("a probe result whose facts never come is let go after the join timeout, nothing stored", async () => {
  const { join: j, judged } = join();
  const d = fresh();
  assert.deepEqual(await j.offer(scan, d, { probe: world(d).probe }), { kind: "ack" });
  assert.equal(judged.length, 0);
  assert.equal(await store.latestVerdict(d), undefined);
  j.close();
});

test("a domain whose probe was dead-lettered is given up on: its messages are dead letters, now and later", async () => {
  const { join: j, judged } = join({ joinTimeoutMs: 60_000 });
  const d = fresh();
  const w = world(d);
  const facts = j.offer(scan, d, { facts: w.facts });
  j.abandon(scan, d, "retries-exhausted: connect failed");
  const out = await facts;
  assert.equal(out.kind, "dead-letter");
  assert.match((out as { detail: string }).detail, /probe-dead-lettered/);
  assert.equal((await j.offer(scan, d, { probe: w.probe })).kind, "dead-letter", "a late message too");
  assert.equal(judged.length, 0);
  j.close();
});

test("a redelivered domain already stored keeps its first verdict and is acknowledged", async () => {
  const first = join();
  const d = fresh();
  const w = world(d);
  await Promise.all([
    first.join.offer(scan, d, { facts: w.facts }),
    first.join.offer(scan, d, { probe: w.probe }),
  ]);
  first.join.close();
  const again = join();
  const out = await Promise.all([
    again.join.offer(scan, d, { facts: w.facts }),
    again.join.offer(scan, d, { probe: w.probe }),
  ]);
  assert.deepEqual(out, [{ kind: "ack" }, { kind: "ack" }]);
  assert.equal(again.judged.length, 0, "not stored (nor printed) twice");
  assert.equal((await store.domainHistory(d)).length, 1);
  again.join.close();
});

test("a store failure that can be retried asks for a retry; one that cannot dead-letters only its domain", async () => {
  let fail: StoreError | undefined = new StoreError("unavailable", "the owner went away");
  const flaky = Object.create(store) as Store;
  // The join prepares each judged domain through the store (its codec time is the store's).
  flaky.prepareJudged = store.prepareJudged.bind(store);
  flaky.storeJudged = async (s, entries) => {
    if (fail) throw fail;
    return store.storeJudged(s, entries);
  };
  const { join: j } = join({ store: flaky });
  const d = fresh();
  const w = world(d);
  const out = await Promise.all([j.offer(scan, d, { facts: w.facts }), j.offer(scan, d, { probe: w.probe })]);
  assert.deepEqual(
    out.map((o) => o.kind),
    ["retry", "retry"],
  );
  fail = new StoreError("query-failed", "value too long");
  const d2 = fresh();
  const w2 = world(d2);
  const out2 = await Promise.all([
    j.offer(scan, d2, { facts: w2.facts }),
    j.offer(scan, d2, { probe: w2.probe }),
  ]);
  assert.deepEqual(
    out2.map((o) => o.kind),
    ["dead-letter", "dead-letter"],
  );
  // Redelivered once the store is back: judged.
  fail = undefined;
  const again = await Promise.all([
    j.offer(scan, d, { facts: w.facts }),
    j.offer(scan, d, { probe: w.probe }),
  ]);
  assert.deepEqual(
    again.map((o) => o.kind),
    ["ack", "ack"],
  );
  assert.equal(probeKeyString(w.probe), probeKeyString(neededProbes(w.facts, "all")[0]!));
  j.close();
});

test("a failed publication of verdicts retries the messages and publishes on redelivery; no verdict is lost or stored again", async () => {
  // A bus whose publish to [verdicts] fails while `down`, with a retryable error as the Kafka bus's.
  let down = true;
  const published: { domain: string; record: VerdictRecord }[] = [];
  const flaky = Object.create(bus) as MemoryBus;
  flaky.publish = async (messages) => {
    if (down)
      throw Object.assign(new Error("publish-failed: broker away"), {
        code: "publish-failed",
        canRetry: true,
      });
    for (const m of messages) {
      assert.equal(m.topic, TOPICS.verdicts);
      published.push({
        domain: m.key,
        record: (m.decoded as { body: { record: VerdictRecord } }).body.record,
      });
    }
  };
  const { join: j, judged } = join({ bus: flaky, publishVerdicts: true });
  const domains = [fresh(), fresh(), fresh()];
  const worlds = domains.map(world);
  const offerAll = () =>
    Promise.all(
      domains.flatMap((d, i) => [
        j.offer(scan, d, { facts: worlds[i]!.facts }),
        j.offer(scan, d, { probe: worlds[i]!.probe }),
      ]),
    );
  const first = await offerAll();
  assert.deepEqual(
    new Set(first.map((o) => o.kind)),
    new Set(["retry"]),
    "not acknowledged before the verdict is out",
  );
  assert.equal(judged.length, 3, "stored (and printed) once");
  assert.equal(published.length, 0);
  // The bus redelivers once the broker is back: the stored rows are not new, their verdicts go out now.
  down = false;
  const again = await offerAll();
  assert.deepEqual(new Set(again.map((o) => o.kind)), new Set(["ack"]));
  assert.deepEqual(published.map((p) => p.domain).sort(), [...domains].sort(), "each verdict published once");
  assert.equal(judged.length, 3, "not stored again");
  for (const d of domains) {
    assert.equal((await store.domainHistory(d)).length, 1);
    assert.equal(
      published.find((p) => p.domain === d)?.record.judgedAt,
      judged.find((r) => r.domain === d)?.judgedAt,
      "the stored verdict",
    );
  }
  j.close();
});

/** The facts of `domain` with its MX on `host`'s domain's host (mx.<host>): the two share a probe. */
function sharing(host: string, domain: string): DomainFacts {
  const facts = domainFacts(host);
  return { ...facts, domain, mx: { ...facts.mx, qname: domain, owner: domain } };
}

test("a probe-ref is answered from the result another domain's message brought, without the store", async () => {
  const { join: j, judged } = join({ joinTimeoutMs: 60_000 });
  const a = fresh();
  const b = fresh();
  const w = world(a);
  // Not in the store: only the kept result can answer b's ref.
  const first = [j.offer(scan, a, { facts: w.facts }), j.offer(scan, a, { probe: w.probe, bytes: 2000 })];
  assert.deepEqual(await Promise.all(first), [{ kind: "ack" }, { kind: "ack" }]);
  const ref = { ip: w.probe.ip, port: w.probe.port, sni: w.probe.sni };
  const second = [j.offer(scan, b, { ref }), j.offer(scan, b, { facts: sharing(a, b) })];
  assert.deepEqual(await Promise.all(second), [{ kind: "ack" }, { kind: "ack" }]);
  assert.deepEqual(judged.map((r) => r.domain).sort(), [a, b].sort());
  const v = judged.find((r) => r.domain === b);
  assert.equal(v?.hosts[0]?.addresses[0]?.probe?.status, w.probe.status, "judged with the referenced probe");
  j.close();
});

test("a probe-ref not kept is read from the store at once, not after the join timeout", async () => {
  const { join: j, judged } = join({ joinTimeoutMs: 60_000 });
  const d = fresh();
  const w = world(d);
  await store.upsertProbe(scan, w.probe);
  const ref = { ip: w.probe.ip, port: w.probe.port, sni: w.probe.sni };
  const outs = [j.offer(scan, d, { facts: w.facts }), j.offer(scan, d, { ref })];
  // Well inside the 60 s join timeout: the sweep has not run.
  const late = new Promise<"late">((r) => setTimeout(() => r("late"), 5000).unref());
  assert.deepEqual(await Promise.race([Promise.all(outs), late]), [{ kind: "ack" }, { kind: "ack" }]);
  assert.equal(judged.length, 1);
  j.close();
});

/** A [domain-facts] message as the in-memory bus hands it over: the producer's envelope object, no text. */
function inProcess(domain: string, envelope: unknown): IncomingMessage {
  return {
    topic: TOPICS.domainFacts,
    key: domain,
    value: "",
    headers: {},
    partition: 0,
    offset: "0",
    decoded: envelope,
  };
}

test("a result an in-process bus handed over is kept at its JSON's size: a later domain needs no store", async () => {
  const judged: VerdictRecord[] = [];
  const deps: AggregateStageDeps = {
    bus,
    store,
    probeMode: "all",
    now: () => Date.now(),
    batch: { maxItems: 50, maxDelayMs: 5 },
    joinTimeoutMs: 60_000,
    onJudged: (_s, records) => {
      judged.push(...records);
    },
  };
  const a = fresh();
  const b = fresh();
  const w = world(a);
  const probe = inProcess(a, makeEnvelope("probe-result", scan, { domain: a, facts: w.probe }));
  // Room for less than the result's JSON: not kept, so b (not in the store either) waits.
  const small = aggregateHandler({ ...deps, probeCacheBytes: JSON.stringify(w.probe).length - 1 });
  const dns = (d: string, facts: DomainFacts) => inProcess(d, makeEnvelope("dns-facts", scan, { facts }));
  assert.deepEqual(await Promise.all([small.handler(dns(a, w.facts)), small.handler(probe)]), [
    { kind: "ack" },
    { kind: "ack" },
  ]);
  const waits = small.handler(dns(b, sharing(a, b)));
  assert.equal(await settled(waits), "pending", "too big to keep, not stored: b waits");
  small.join.close();
  assert.equal((await waits).kind, "retry");
  // Room for exactly its JSON: kept, and b is judged from it.
  const c = fresh();
  const d = fresh();
  const w2 = world(c);
  const fits = aggregateHandler({ ...deps, probeCacheBytes: JSON.stringify(w2.probe).length });
  await Promise.all([
    fits.handler(dns(c, w2.facts)),
    fits.handler(inProcess(c, makeEnvelope("probe-result", scan, { domain: c, facts: w2.probe }))),
  ]);
  const late = new Promise<"late">((r) => setTimeout(() => r("late"), 5000).unref());
  assert.deepEqual(await Promise.race([fits.handler(dns(d, sharing(c, d))), late]), { kind: "ack" });
  assert.deepEqual(judged.map((r) => r.domain).sort(), [a, c, d].sort());
  fits.join.close();
});

test("a saturated join looks for a waiting domain's probes in the store after SATURATED_WAIT_MS, not the join timeout", async () => {
  const within = <T>(p: Promise<T>, ms: number) =>
    Promise.race([p, new Promise<"pending">((r) => setTimeout(() => r("pending"), ms).unref())]);
  // Capacity 2: the two facts messages fill it (the bus would give it no more).
  const full = join({ joinTimeoutMs: 60_000, capacity: 2 });
  const roomy = join({ joinTimeoutMs: 60_000, capacity: 100 });
  const [a, b, c] = [fresh(), fresh(), fresh()];
  const [wa, wb, wc] = [world(a), world(b), world(c)];
  await store.upsertProbe(scan, wa.probe);
  await store.upsertProbe(scan, wc.probe);
  const outA = full.join.offer(scan, a, { facts: wa.facts });
  const outB = full.join.offer(scan, b, { facts: wb.facts });
  const outC = roomy.join.offer(scan, c, { facts: wc.facts });
  assert.equal(full.join.saturated, true);
  assert.equal(roomy.join.saturated, false);
  assert.deepEqual(await within(outA, SATURATED_WAIT_MS + 3000), { kind: "ack" }, "found in the store");
  assert.equal(await settled(outB), "pending", "its probe is not in the store yet: it waits on");
  // a's own probe result, stuck behind what the join held, comes at last: not held for the join timeout.
  assert.deepEqual(await settled(full.join.offer(scan, a, { probe: wa.probe, bytes: 500 })), { kind: "ack" });
  assert.equal(full.join.size, 1, "only b is held");
  assert.equal(await within(outC, 500), "pending", "a join with room waits for the result itself");
  assert.deepEqual(
    full.judged.map((r) => r.domain),
    [a],
  );
  full.join.close();
  roomy.join.close();
  assert.equal((await outB).kind, "retry");
  assert.equal((await outC).kind, "retry");
});

test("a probe's result serves every domain waiting for it, and one whose facts come later, without the store", async () => {
  const { join: j, judged } = join({ joinTimeoutMs: 60_000 });
  const [a, b, c] = [fresh(), fresh(), fresh()];
  const w = world(a);
  // b asked for nothing (its resolver asked for the probe once, with a): it waits for a's result.
  const outB = j.offer(scan, b, { facts: sharing(a, b) });
  const outA = [j.offer(scan, a, { facts: w.facts })];
  assert.equal(await settled(outB), "pending");
  // The result came serialized (not in the store: only the join can hand it over).
  outA.push(j.offer(scan, a, { probe: w.probe, bytes: 2000 }));
  assert.deepEqual(await Promise.all([...outA, outB]), [{ kind: "ack" }, { kind: "ack" }, { kind: "ack" }]);
  // c comes after the result: served from the kept result at once.
  assert.deepEqual(await settled(j.offer(scan, c, { facts: sharing(a, c) })), { kind: "ack" });
  assert.deepEqual(judged.map((r) => r.domain).sort(), [a, b, c].sort());
  for (const r of judged)
    assert.equal(
      r.hosts[0]?.addresses[0]?.probe?.status,
      w.probe.status,
      `${r.domain} judged with a's probe`,
    );
  assert.equal(j.size, 0);
  j.close();
});

/** A join that looks in the store 100 ms into a wait, and when each of its probe reads was made. */
function joinLookingInStore(): { gets: number[]; j2: ReturnType<typeof join> } {
  const gets: number[] = [];
  const spy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "getProbes") gets.push(Date.now());
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { gets, j2: join({ joinTimeoutMs: 60_000, lookInStoreAfterMs: 100, store: spy }) };
}

test("lookInStoreAfterMs: a domain whose probe result went elsewhere finds it in the store, looking again after a miss", async () => {
  const [a, b] = [fresh(), fresh()];
  const w = world(a);
  const { gets, j2 } = joinLookingInStore();
  const out = j2.join.offer(scan, b, { facts: sharing(a, b) });
  // Its result went to a's instance; the probe is not stored yet: the first look misses.
  while (gets.length === 0) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await settled(out), "pending");
  await store.upsertProbe(scan, w.probe);
  const late = new Promise<"late">((r) => setTimeout(() => r("late"), 3000).unref());
  assert.deepEqual(
    await Promise.race([out, late]),
    { kind: "ack" },
    "found on a later look, well inside 60 s",
  );
  assert.ok(gets.length >= 2, `looked again after the miss (${gets.length} reads)`);
  assert.ok(gets[1]! - gets[0]! >= 150, "the second look waited twice as long as the first");
  assert.deepEqual(
    j2.judged.map((r) => r.domain),
    [b],
  );
  j2.join.close();
});

test("the looks in the store for a probe that is not there yet stop doubling at 4x the first wait", async () => {
  const [a, b] = [fresh(), fresh()];
  const w = world(a);
  const { gets, j2 } = joinLookingInStore();
  const out = j2.join.offer(scan, b, { facts: sharing(a, b) });
  // The probe is made elsewhere and stored only after 2.5 s: doubling up to the join timeout
  // would look at ~0.1, 0.3, 0.7, 1.5 and 3.1 s; stopping at 4x the first wait, every 0.4 s from 0.7 s.
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(await settled(out), "pending");
  await store.upsertProbe(scan, w.probe);
  const storedAt = Date.now();
  assert.deepEqual(await out, { kind: "ack" });
  const gaps = gets.slice(1).map((t, i) => t - gets[i]!);
  assert.ok(gets.length >= 6, `looked ${gets.length} times in 2.5 s (${gaps.join(", ")} ms apart)`);
  assert.ok(Math.max(...gaps) < 400 + 200, `no wait between two looks much over 400 ms: ${gaps.join(", ")}`);
  assert.ok(Date.now() - storedAt < 400 + 200, "found at the next look after it was stored");
  j2.join.close();
});

test("a dead-lettered probe gives up on every domain that needs it, held now or coming later", async () => {
  const { join: j, judged } = join({ joinTimeoutMs: 60_000 });
  const [a, b, c, other] = [fresh(), fresh(), fresh(), fresh()];
  const w = world(a);
  const key = { ip: w.probe.ip, port: w.probe.port, sni: w.probe.sni };
  const held = [j.offer(scan, a, { facts: w.facts }), j.offer(scan, b, { facts: sharing(a, b) })];
  const unrelated = j.offer(scan, other, { facts: world(other).facts });
  // a's request for the probe was dead-lettered (the aggregator reads it from [probe-requests.dlq]).
  const request = makeEnvelope("probe-request", scan, { ...key, mxHost: key.sni, domain: a });
  j.abandonRequest(request, "retries-exhausted: store unavailable");
  for (const o of [...(await Promise.all(held)), await j.offer(scan, c, { facts: sharing(a, c) })]) {
    assert.equal(o.kind, "dead-letter");
    assert.match((o as { detail: string }).detail, /probe-dead-lettered.*store unavailable/);
  }
  assert.equal(await settled(unrelated), "pending", "a domain needing another probe waits on");
  assert.equal(judged.length, 0);
  j.close();
  assert.equal((await unrelated).kind, "retry");
});

test("with tracing, the join of a domain served by another domain's probe result links to that message", async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracing = new Tracing(provider.getTracer("test"), { messagingSystem: "in-memory" });
  const { join: j } = join({ joinTimeoutMs: 60_000, tracing });
  const [a, b] = [fresh(), fresh()];
  const w = world(a);
  const sent = (domain: string) => {
    const span = tracing.send(TOPICS.domainFacts, domain, {});
    span.end();
    return { span, msg: { topic: TOPICS.domainFacts, key: domain, headers: tracing.headers(span) } };
  };
  const [factsA, factsB, result] = [sent(a), sent(b), sent(a)];
  const outs = [
    j.offer(scan, b, { facts: sharing(a, b) }, factsB.msg),
    j.offer(scan, a, { facts: w.facts }, factsA.msg),
    j.offer(scan, a, { probe: w.probe, bytes: 2000 }, result.msg),
  ];
  assert.deepEqual(
    (await Promise.all(outs)).map((o) => o.kind),
    ["ack", "ack", "ack"],
  );
  await provider.forceFlush();
  const joins = exporter.getFinishedSpans().filter((x) => x.name === "join");
  const of = (d: string) => joins.find((x) => x.attributes["danesweep.domain"] === d);
  const linked = (d: string) => of(d)?.links.map((l) => l.context.spanId) ?? [];
  const id = (x: { span: { spanContext(): { spanId: string } } }) => x.span.spanContext().spanId;
  assert.equal(joins.length, 2);
  assert.equal(of(b)?.parentSpanContext?.spanId, id(factsB), "b's join is the child of b's facts message");
  assert.deepEqual(linked(b), [id(result)], "b's join links to the result a's message brought");
  assert.deepEqual(linked(a), [id(result)], "a's join links to its own result once");
  j.close();
});
