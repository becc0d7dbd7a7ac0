/**
 * Both Kafka adapters against the real single-node broker of
 * scripts/services/kafka.sh (started if not running, never stopped).
 * Each test uses its own topics and groups (random suffix), so reruns against
 * the same broker do not collide.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { type HandlerOutcome, HEADER } from "../src/bus.ts";
import { ensureDevBroker } from "../src/kafka/dev-broker.ts";
import { createKafkaBus, type KafkaBus, type KafkaClient } from "../src/kafka/index.ts";

const uid = () => randomBytes(4).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Kafka's Utils.murmur2, results pinned by Apache Kafka's UtilsTest.testMurmur2 (Java ints). */
const JAVA_MURMUR2: Record<string, number> = {
  "21": -973932308,
  foobar: -790332482,
  "a-little-bit-long-string": -985981536,
  "a-little-bit-longer-string": -1486304829,
  lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: -58897971,
  abc: 479470107,
};

const quiet = { onError: () => {} };

interface RawRead {
  key: string;
  value: Buffer;
  partition: number;
  headers: Record<string, string>;
}

/** Reads `count` records of a topic from the beginning with a plain kafkajs consumer (bytes as stored). */
async function readRaw(brokers: string[], topic: string, count: number): Promise<RawRead[]> {
  const kafka = new Kafka({ brokers, clientId: "t-raw", logLevel: logLevel.NOTHING });
  const c = kafka.consumer({ groupId: `raw.${uid()}`, maxWaitTimeInMs: 200 });
  const out: RawRead[] = [];
  await c.connect();
  try {
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        out.push({
          key: message.key?.toString() ?? "",
          value: message.value ?? Buffer.alloc(0),
          partition,
          headers,
        });
      },
    });
    await until(`${count} records on ${topic}`, () => out.length >= count);
  } finally {
    await c.disconnect();
  }
  return out;
}

for (const client of ["platformatic", "kafkajs"] as KafkaClient[]) {
  describe(`Kafka bus (${client})`, { concurrency: false }, () => {
    let brokers: string[];
    const buses: KafkaBus[] = [];
    const make = (extra: Record<string, unknown> = {}): KafkaBus => {
      const b = createKafkaBus({ client, brokers, clientId: `t-${client}`, ...quiet, ...extra } as never);
      buses.push(b);
      return b;
    };
    before(async () => {
      brokers = [await ensureDevBroker()];
    });
    after(async () => {
      await Promise.all(buses.map((b) => b.close()));
    });

    test("round trip keeps headers, and per-key order across partitions", async () => {
      const bus = make();
      const topic = `t.order.${uid()}`;
      await bus.ensureTopics([{ name: topic, partitions: 3 }]);
      const keys = ["a.example", "b.example", "c.example", "d.example", "e.example"];
      const perKey = 20;
      const msgs = [];
      for (let i = 0; i < perKey; i++) {
        for (const k of keys)
          msgs.push({
            topic,
            key: k,
            value: JSON.stringify({ k, i }),
            headers: { [HEADER.traceparent]: `00-${k}-${i}` },
          });
      }
      await bus.publish(msgs);
      const seen = new Map<string, number[]>();
      const partitionOfKey = new Map<string, Set<number>>();
      let running = 0;
      let maxRunning = 0;
      const sub = await bus.consume({ topic, group: `g.${uid()}`, concurrency: 3 }, async (m) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(2);
        const v = JSON.parse(m.value) as { k: string; i: number };
        assert.equal(v.k, m.key);
        assert.equal(m.headers[HEADER.traceparent], `00-${v.k}-${v.i}`);
        (seen.get(m.key) ?? seen.set(m.key, []).get(m.key))?.push(v.i);
        (partitionOfKey.get(m.key) ?? partitionOfKey.set(m.key, new Set()).get(m.key))?.add(m.partition);
        running--;
        return { kind: "ack" };
      });
      await until("all messages", () => [...seen.values()].reduce((n, l) => n + l.length, 0) >= msgs.length);
      await sub.close();
      for (const k of keys) {
        assert.deepEqual(
          seen.get(k),
          Array.from({ length: perKey }, (_, i) => i),
          `order of ${k}`,
        );
        assert.equal(partitionOfKey.get(k)?.size, 1, `${k} on one partition`);
      }
      assert.ok(maxRunning <= 3, `at most 3 handlers at once, saw ${maxRunning}`);
    });

    test("keys land on the Java client's murmur2 partition", async () => {
      const bus = make();
      const topic = `t.part.${uid()}`;
      const n = 5;
      await bus.ensureTopics([{ name: topic, partitions: n }]);
      await bus.publish(Object.keys(JAVA_MURMUR2).map((key) => ({ topic, key, value: "{}" })));
      const got = new Map<string, number>();
      const sub = await bus.consume({ topic, group: `g.${uid()}` }, async (m) => {
        got.set(m.key, m.partition);
        return { kind: "ack" };
      });
      await until("all keys", () => got.size === Object.keys(JAVA_MURMUR2).length);
      await sub.close();
      for (const [key, h] of Object.entries(JAVA_MURMUR2)) {
        assert.equal(got.get(key), (h & 0x7fffffff) % n, key);
      }
    });

    test("retry outcomes and throws deliver again with a counted attempt, then ack", async () => {
      const bus = make({ retryBackoff: { baseMs: 10, maxMs: 50 } });
      const topic = `t.retry.${uid()}`;
      await bus.ensureTopics([{ name: topic, partitions: 1 }]);
      await bus.publish([
        { topic, key: "k", value: "first" },
        { topic, key: "k", value: "second" },
      ]);
      const calls: [string, number | undefined][] = [];
      const sub = await bus.consume({ topic, group: `g.${uid()}` }, async (m): Promise<HandlerOutcome> => {
        calls.push([m.value, m.deliveryAttempt]);
        if (m.value === "first" && m.deliveryAttempt === 1)
          return { kind: "retry", reason: "busy", delayMs: 20 };
        if (m.value === "first" && m.deliveryAttempt === 2) throw new Error("transient");
        return { kind: "ack" };
      });
      await until("second handled", () => calls.some(([v]) => v === "second"));
      await sub.close();
      assert.deepEqual(calls, [
        ["first", 1],
        ["first", 2],
        ["first", 3],
        ["second", 1],
      ]);
    });

    test("dead letters: handler verdict, retries exhausted, undecodable bytes; the partition goes on", async () => {
      const bus = make({ retryBackoff: { baseMs: 5, maxMs: 20 } });
      const topic = `t.dlq.${uid()}`;
      const group = `g.${uid()}`;
      await bus.ensureTopics([{ name: topic, partitions: 1 }]);
      await bus.publish([
        { topic, key: "d1", value: "reject me", headers: { [HEADER.traceparent]: "00-abc-01" } },
        { topic, key: "d2", value: "always retry" },
      ]);
      const badValue = Buffer.from([0x7b, 0xc3, 0x28, 0x7d]); // 0xc3 0x28: not UTF-8
      await bus.sendRecords([
        { topic, key: Buffer.from("d3"), value: badValue, headers: { "x-schema": "v1" } },
      ]);
      await bus.publish([{ topic, key: "d4", value: "fine" }]);
      const handled: string[] = [];
      const sub = await bus.consume({ topic, group, maxAttempts: 3 }, async (m) => {
        handled.push(`${m.value}#${m.deliveryAttempt}`);
        if (m.value === "reject me")
          return { kind: "dead-letter", reason: "validation-failed", detail: "no domain" };
        if (m.value === "always retry") return { kind: "retry", reason: "still down" };
        return { kind: "ack" };
      });
      await until("fine handled", () => handled.includes("fine#1"));
      await sub.close();
      assert.deepEqual(handled, [
        "reject me#1",
        "always retry#1",
        "always retry#2",
        "always retry#3",
        "fine#1",
      ]);
      const dead = await readRaw(brokers, `${topic}.dlq`, 3);
      const byKey = new Map(dead.map((r) => [r.key, r]));
      const d1 = byKey.get("d1");
      assert.equal(d1?.headers[HEADER.deadLetterReason], "validation-failed");
      assert.equal(d1?.headers[HEADER.deadLetterDetail], "no domain");
      assert.equal(d1?.headers[HEADER.deadLetterSourceTopic], topic);
      assert.equal(d1?.headers["x-dlq-group"], group);
      assert.equal(d1?.headers[HEADER.traceparent], "00-abc-01", "trace context kept");
      assert.equal(d1?.value.toString(), "reject me");
      const d2 = byKey.get("d2");
      assert.equal(d2?.headers[HEADER.deadLetterReason], "retries-exhausted");
      assert.equal(d2?.headers["x-dlq-attempts"], "3");
      const d3 = byKey.get("d3");
      assert.equal(d3?.headers[HEADER.deadLetterReason], "decode-failed");
      assert.equal(d3?.headers["x-schema"], "v1");
      assert.deepEqual(d3?.value, badValue, "original bytes kept");
      const m = await bus.metrics();
      assert.equal(m.produced[`${topic}.dlq`], 3);
    });

    test("offsets are committed only after the outcome: close waits for a running handler, abandons a retry wait", async () => {
      const bus = make();
      const topic = `t.commit.${uid()}`;
      const group = `g.${uid()}`;
      await bus.ensureTopics([{ name: topic, partitions: 1 }]);
      await bus.publish(["m0", "m1", "m2", "m3"].map((value) => ({ topic, key: "k", value })));

      // A: acks m0; m1's handler is still running when close() is called.
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const seenA: string[] = [];
      const a = await bus.consume({ topic, group }, async (m) => {
        seenA.push(m.value);
        if (m.value === "m1") await gate;
        return { kind: "ack" };
      });
      await until("A at m1", () => seenA.includes("m1"));
      let closed = false;
      const closing = a.close().then(() => {
        closed = true;
      });
      await sleep(300);
      assert.equal(closed, false, "close waits for the running handler");
      release();
      await closing;
      assert.deepEqual(seenA, ["m0", "m1"]);

      // B: starts after m1 (its ack was committed on close); m2 waits for a long retry when B closes.
      const seenB: string[] = [];
      const b = await bus.consume({ topic, group }, async (m) => {
        seenB.push(`${m.value}#${m.deliveryAttempt}`);
        return { kind: "retry", reason: "later", delayMs: 60_000 };
      });
      await until("B at m2", () => seenB.length > 0);
      const t0 = Date.now();
      await b.close();
      assert.ok(Date.now() - t0 < 10_000, "close does not sit out the retry delay");
      assert.deepEqual(seenB, ["m2#1"]);

      // C: m2 again (never committed), then m3.
      const seenC: string[] = [];
      const c = await bus.consume({ topic, group }, async (m) => {
        seenC.push(m.value);
        return { kind: "ack" };
      });
      await until("C at m3", () => seenC.includes("m3"));
      await c.close();
      assert.deepEqual(seenC, ["m2", "m3"]);
    });

    test("metrics: consumed, committed, high watermark and lag per partition", async () => {
      const bus = make();
      const topic = `t.metrics.${uid()}`;
      const group = `g.${uid()}`;
      await bus.ensureTopics([{ name: topic, partitions: 1 }]);
      await bus.publish(Array.from({ length: 10 }, (_, i) => ({ topic, key: "k", value: `v${i}` })));
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let handled = 0;
      const sub = await bus.consume({ topic, group }, async (m) => {
        if (m.value === "v3") await gate;
        handled++;
        return { kind: "ack" };
      });
      await until("three handled", () => handled === 3);
      await sleep(300); // let the commit of v2 land
      let m = await bus.metrics();
      let s = m.subscriptions.find((x) => x.topic === topic && x.group === group);
      assert.equal(s?.inFlight, 1);
      assert.deepEqual(
        s?.partitions.map((p) => [p.partition, p.consumed, p.committed, p.highWatermark, p.lag]),
        [[0, 3, "3", "10", 7]],
      );
      release();
      await until("all handled", () => handled === 10);
      await sleep(300);
      m = await bus.metrics();
      s = m.subscriptions.find((x) => x.topic === topic && x.group === group);
      assert.deepEqual(
        s?.partitions.map((p) => [p.partition, p.consumed, p.acked, p.committed, p.lag]),
        [[0, 10, 10, "10", 0]],
      );
      assert.equal(s?.joins, 1);
      assert.equal(m.produced[topic], 10);
      await sub.close();
    });

    test("a handler running past twice the session timeout is not redelivered and causes no rebalance", async () => {
      const sessionTimeoutMs = 3000;
      const bus = make({ sessionTimeoutMs, heartbeatIntervalMs: 500 });
      const topic = `t.long.${uid()}`;
      const group = `g.${uid()}`;
      await bus.ensureTopics([{ name: topic, partitions: 1 }]);
      await bus.publish([
        { topic, key: "k", value: "slow" },
        { topic, key: "k", value: "next" },
      ]);
      const seen: string[] = [];
      const sub = await bus.consume({ topic, group }, async (m) => {
        seen.push(`${m.value}#${m.deliveryAttempt}`);
        if (m.value === "slow") await sleep(2 * sessionTimeoutMs + 500);
        return { kind: "ack" };
      });
      await until("next handled", () => seen.includes("next#1"), 30_000);
      await sleep(300);
      const m = await bus.metrics();
      const s = m.subscriptions.find((x) => x.group === group);
      await sub.close();
      assert.deepEqual(seen, ["slow#1", "next#1"]);
      assert.equal(s?.joins, 1, "no rebalance");
      assert.equal(s?.partitions[0]?.committed, "2");
    });

    if (client === "kafkajs") {
      test("control: without heartbeats during the handler, kafkajs gets evicted and redelivers", async () => {
        const sessionTimeoutMs = 3000;
        const bus = make({
          sessionTimeoutMs,
          heartbeatIntervalMs: 500,
          heartbeatWhileHandling: false,
          logLevel: "nothing",
        });
        const topic = `t.long.${uid()}`;
        const group = `g.${uid()}`;
        await bus.ensureTopics([{ name: topic, partitions: 1 }]);
        await bus.publish([
          { topic, key: "k", value: "slow" },
          { topic, key: "k", value: "next" },
        ]);
        const seen: string[] = [];
        let slowDone = false;
        const sub = await bus.consume({ topic, group }, async (m) => {
          seen.push(m.value);
          if (m.value === "slow" && !slowDone) {
            await sleep(2 * sessionTimeoutMs + 500);
            slowDone = true;
          }
          return { kind: "ack" };
        });
        await until("next handled", () => seen.includes("next"), 40_000);
        const m = await bus.metrics();
        const s = m.subscriptions.find((x) => x.group === group);
        await sub.close();
        assert.ok(
          seen.filter((v) => v === "slow").length >= 2 || (s?.joins ?? 0) >= 2,
          `expected eviction: seen ${seen.join(",")}, joins ${s?.joins}`,
        );
      });
    }
  });
}
