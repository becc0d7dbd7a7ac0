/**
 * The Bus contract suite: every adapter (in-memory, Kafka) runs it.
 *
 *   busContract("memory", async () => new MemoryBus({ queueCapacity: 8 }), { queueCapacity: 8 });
 *
 * Registers node:test tests under a describe named after the adapter. Each test
 * makes a fresh bus with `makeBus`, uses topic and group names unique to the
 * test (so a shared broker can serve every run), and closes the bus.
 * Options:
 * - queueCapacity: when the adapter bounds each partition's backlog (messages
 *   not yet taken by a consumer) to a known number, the backpressure tests
 *   check that publish waits at exactly that bound and that messages taken
 *   and still in flight do not count (adapters whose backpressure is the
 *   broker's ack skip them);
 * - timeoutMs: how long a test waits for deliveries (default 10 s);
 * - partitions: partitions of the topics the tests create (default 4).
 * Expected values come from the interface's documented semantics (bus.ts), not
 * from any adapter.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Bus, HandlerOutcome, IncomingMessage, OutgoingMessage } from "../src/bus.ts";
import { deadLetterTopic, HEADER } from "../src/bus.ts";
import { encodeEnvelope, envelopeHandler } from "../src/envelope.ts";
import { BusError } from "../src/errors.ts";

export interface ContractOptions {
  queueCapacity?: number;
  timeoutMs?: number;
  partitions?: number;
}

export function busContract(name: string, makeBus: () => Promise<Bus>, opts: ContractOptions = {}): void {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const partitions = opts.partitions ?? 4;

  async function withBus(
    fn: (bus: Bus, topic: string) => Promise<void>,
    topicPartitions = partitions,
  ): Promise<void> {
    const bus = await makeBus();
    const topic = `contract.${name}.${randomUUID().slice(0, 8)}`;
    try {
      await bus.ensureTopics([{ name: topic, partitions: topicPartitions }]);
      await fn(bus, topic);
    } finally {
      await bus.close();
    }
  }

  async function waitFor(what: string, cond: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(5);
    }
  }

  const group = () => `g-${randomUUID().slice(0, 8)}`;
  const msgs = (topic: string, n: number, key: (i: number) => string = (i) => `k${i}`): OutgoingMessage[] =>
    Array.from({ length: n }, (_, i) => ({
      topic,
      key: key(i),
      value: `v${i}`,
      headers: { "x-i": String(i) },
    }));
  const ack: HandlerOutcome = { kind: "ack" };

  describe(`bus contract: ${name}`, () => {
    test("publish / consume round trip keeps key, value and headers", async () => {
      await withBus(async (bus, topic) => {
        const got: IncomingMessage[] = [];
        const sub = await bus.consume({ topic, group: group() }, async (m) => {
          got.push(m);
          return ack;
        });
        await bus.publish(msgs(topic, 10));
        await waitFor("10 messages", () => got.length >= 10);
        await sub.close();
        const byValue = new Map(got.map((m) => [m.value, m]));
        for (let i = 0; i < 10; i++) {
          const m = byValue.get(`v${i}`);
          assert.ok(m, `v${i} delivered`);
          assert.equal(m.topic, topic);
          assert.equal(m.key, `k${i}`);
          assert.equal(m.headers["x-i"], String(i));
          assert.ok(Number.isInteger(m.partition) && m.partition >= 0 && m.partition < partitions);
          assert.equal(typeof m.offset, "string");
        }
        assert.equal(byValue.size, 10);
      });
    });

    test("messages of one key are handled in publish order, even with concurrency", async () => {
      await withBus(async (bus, topic) => {
        const seen = new Map<string, number[]>();
        const sub = await bus.consume({ topic, group: group(), concurrency: 4 }, async (m) => {
          await sleep(Number(m.value.slice(1)) % 3);
          const list = seen.get(m.key) ?? [];
          list.push(Number(m.value.slice(1)));
          seen.set(m.key, list);
          return ack;
        });
        // 5 keys, 20 messages each, interleaved; two publish calls.
        const all = msgs(topic, 100, (i) => `key-${i % 5}`);
        await bus.publish(all.slice(0, 50));
        await bus.publish(all.slice(50));
        await waitFor("100 messages", () => [...seen.values()].reduce((a, l) => a + l.length, 0) >= 100);
        await sub.close();
        for (let k = 0; k < 5; k++) {
          const expected = Array.from({ length: 20 }, (_, j) => j * 5 + k);
          assert.deepEqual(seen.get(`key-${k}`), expected, `order of key-${k}`);
        }
      });
    });

    test("a handler that throws sees the message again (at-least-once)", async () => {
      await withBus(async (bus, topic) => {
        const deliveries: { value: string; attempt: number | undefined }[] = [];
        let thrown = false;
        const sub = await bus.consume({ topic, group: group() }, async (m) => {
          deliveries.push({ value: m.value, attempt: m.deliveryAttempt });
          if (m.value === "v3" && !thrown) {
            thrown = true;
            throw new Error("transient");
          }
          return ack;
        });
        await bus.publish(msgs(topic, 6));
        await waitFor("redelivery of v3", () => deliveries.filter((d) => d.value === "v3").length >= 2);
        await waitFor("all 6", () => new Set(deliveries.map((d) => d.value)).size === 6);
        await sub.close();
        const v3 = deliveries.filter((d) => d.value === "v3");
        if (v3[0]?.attempt !== undefined) {
          assert.equal(v3[0].attempt, 1);
          assert.equal(v3[1]?.attempt, 2);
        }
      });
    });

    test("a retry outcome redelivers after the delay; retries run out into the dead-letter topic", async () => {
      await withBus(async (bus, topic) => {
        const counts = new Map<string, number>();
        const sub = await bus.consume({ topic, group: group(), maxAttempts: 3 }, async (m) => {
          const n = (counts.get(m.value) ?? 0) + 1;
          counts.set(m.value, n);
          if (m.value === "v0" && n === 1) return { kind: "retry", reason: "busy", delayMs: 20 };
          if (m.value === "v1") return { kind: "retry", reason: "always-busy", delayMs: 1 };
          return ack;
        });
        const dead: IncomingMessage[] = [];
        const dlq = await bus.consume({ topic: deadLetterTopic(topic), group: group() }, async (m) => {
          dead.push(m);
          return ack;
        });
        await bus.publish(msgs(topic, 3, () => "same"));
        await waitFor("v1 dead-lettered", () => dead.length >= 1);
        await waitFor("v2 handled", () => counts.get("v2") === 1);
        await sub.close();
        await dlq.close();
        assert.equal(counts.get("v0"), 2);
        assert.equal(counts.get("v1"), 3, "maxAttempts deliveries");
        assert.equal(dead.length, 1);
        assert.equal(dead[0]?.value, "v1");
        assert.equal(dead[0]?.key, "same");
        assert.equal(dead[0]?.headers[HEADER.deadLetterReason], "retries-exhausted");
        assert.equal(dead[0]?.headers[HEADER.deadLetterSourceTopic], topic);
        assert.match(dead[0]?.headers[HEADER.deadLetterDetail] ?? "", /always-busy/);
      });
    });

    test("a message waiting for its retry holds back the later messages of its key", async () => {
      await withBus(async (bus, topic) => {
        const acked: string[] = [];
        let retried = false;
        const sub = await bus.consume({ topic, group: group(), concurrency: 4 }, async (m) => {
          if (m.value === "v1" && !retried) {
            retried = true;
            return { kind: "retry", reason: "not yet", delayMs: 50 };
          }
          acked.push(m.value);
          return ack;
        });
        await bus.publish(msgs(topic, 5, () => "same-key"));
        await waitFor("5 acks", () => acked.length >= 5);
        await sub.close();
        assert.deepEqual(acked, ["v0", "v1", "v2", "v3", "v4"]);
      });
    });

    test("undecodable envelopes go to the dead-letter topic with the reason and do not block the partition", async () => {
      await withBus(async (bus, topic) => {
        const domains: string[] = [];
        const sub = await bus.consume(
          { topic, group: group() },
          envelopeHandler("domain", async (env) => {
            domains.push(env.body.domain);
            return ack;
          }),
        );
        const dead: IncomingMessage[] = [];
        const dlq = await bus.consume({ topic: deadLetterTopic(topic), group: group() }, async (m) => {
          dead.push(m);
          return ack;
        });
        const key = "one-key"; // all in one partition: the poison messages sit before the good one
        await bus.publish([
          { topic, key, value: "{not json" },
          {
            topic,
            key,
            value: JSON.stringify({ v: 9, type: "domain", scan: "s", body: { domain: "a.example" } }),
          },
          {
            topic,
            key,
            value: JSON.stringify({ v: 1, type: "domain", scan: "s", body: { domain: "UPPER.example." } }),
          },
          {
            topic,
            key,
            value: encodeEnvelope("domain", "s", { domain: "good.example" }),
            headers: { "x-h": "1" },
          },
        ]);
        await waitFor("good message", () => domains.length >= 1);
        await waitFor("3 dead letters", () => dead.length >= 3);
        await sub.close();
        await dlq.close();
        assert.deepEqual(domains, ["good.example"]);
        const reasons = new Map(dead.map((m) => [m.value, m.headers[HEADER.deadLetterReason]]));
        assert.equal(reasons.get("{not json"), "decode-failed");
        assert.equal(reasons.size, 3);
        assert.deepEqual([...reasons.values()].sort(), [
          "decode-failed",
          "unsupported-version",
          "validation-failed",
        ]);
        for (const m of dead) {
          assert.equal(m.key, key);
          assert.equal(m.headers[HEADER.deadLetterSourceTopic], topic);
          assert.ok((m.headers[HEADER.deadLetterDetail] ?? "").length > 0);
        }
      });
    });

    test("a dead-letter outcome moves the message with the handler's reason", async () => {
      await withBus(async (bus, topic) => {
        let handled = 0;
        const sub = await bus.consume({ topic, group: group() }, async (m) => {
          handled++;
          return m.value === "v1"
            ? { kind: "dead-letter", reason: "handler-rejected", detail: "no such scan" }
            : ack;
        });
        const dead: IncomingMessage[] = [];
        const dlq = await bus.consume({ topic: deadLetterTopic(topic), group: group() }, async (m) => {
          dead.push(m);
          return ack;
        });
        await bus.publish(msgs(topic, 3));
        await waitFor("dead letter", () => dead.length >= 1 && handled >= 3);
        await sub.close();
        await dlq.close();
        assert.equal(dead[0]?.value, "v1");
        assert.equal(dead[0]?.headers[HEADER.deadLetterReason], "handler-rejected");
        assert.equal(dead[0]?.headers[HEADER.deadLetterDetail], "no such scan");
        assert.equal(dead[0]?.headers["x-i"], "1", "original headers kept");
      });
    });

    test("a consumer never runs more than `concurrency` handlers", async () => {
      await withBus(async (bus, topic) => {
        let running = 0;
        let peak = 0;
        let done = 0;
        const sub = await bus.consume({ topic, group: group(), concurrency: 3 }, async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(15);
          running--;
          done++;
          return ack;
        });
        await bus.publish(msgs(topic, 30));
        await waitFor("30 handled", () => done >= 30);
        await sub.close();
        assert.ok(peak <= 3, `peak ${peak} <= 3`);
        assert.ok(peak >= 2, `peak ${peak}: handlers do run concurrently`);
      });
    });

    if (opts.queueCapacity !== undefined) {
      const cap = opts.queueCapacity;
      test(`publish waits while a partition's backlog holds ${cap} messages (backpressure)`, async () => {
        await withBus(async (bus, topic) => {
          let open!: () => void;
          const gate = new Promise<void>((r) => {
            open = r;
          });
          let started = 0;
          let handled = 0;
          const sub = await bus.consume({ topic, group: group() }, async () => {
            started++;
            await gate;
            handled++;
            return ack;
          });
          const key = "k"; // one partition
          // The consumer takes one message (its one slot); `cap` more fill the backlog.
          await bus.publish(msgs(topic, 1, () => key));
          await waitFor("first message taken", () => started === 1);
          await bus.publish(msgs(topic, cap, () => key));
          let accepted = false;
          const extra = bus.publish(msgs(topic, 1, () => key)).then(() => {
            accepted = true;
          });
          await sleep(50);
          assert.equal(accepted, false, "publish beyond the backlog capacity waits");
          open();
          await extra;
          assert.equal(accepted, true);
          await waitFor("all handled", () => handled >= cap + 2);
          await sub.close();
        });
      });

      test("messages taken and still in flight do not count against the backlog", async () => {
        await withBus(async (bus, topic) => {
          const inFlight = 3 * cap;
          let open!: () => void;
          const gate = new Promise<void>((r) => {
            open = r;
          });
          let started = 0;
          let handled = 0;
          const sub = await bus.consume(
            { topic, group: group(), concurrency: inFlight, ordering: "none" },
            async () => {
              started++;
              await gate;
              handled++;
              return ack;
            },
          );
          const key = "k"; // one partition
          try {
            await bus.publish(msgs(topic, inFlight, () => key));
            await waitFor(`${inFlight} handlers holding their message`, () => started === inFlight);
            // Three times the capacity is unacknowledged, yet a full backlog is still accepted.
            let accepted = false;
            const more = bus.publish(msgs(topic, cap, () => key)).then(() => {
              accepted = true;
            });
            await waitFor(`${cap} more accepted while ${inFlight} are in flight`, () => accepted);
            await more;
            let extra = false;
            const one = bus.publish(msgs(topic, 1, () => key)).then(() => {
              extra = true;
            });
            await sleep(50);
            assert.equal(extra, false, "the backlog itself is still bounded");
            open();
            await one;
          } finally {
            open();
          }
          await waitFor("all handled", () => handled >= inFlight + cap + 1);
          await sub.close();
        });
      });
    }

    test("closing a subscription waits for in-flight handlers and keeps their acks", async () => {
      await withBus(async (bus, topic) => {
        const g = group();
        let started = false;
        let finished = false;
        const sub = await bus.consume({ topic, group: g }, async () => {
          started = true;
          await sleep(100);
          finished = true;
          return ack;
        });
        await bus.publish(msgs(topic, 1));
        await waitFor("handler start", () => started);
        await sub.close();
        assert.equal(finished, true, "close resolved only after the handler");
        const again: string[] = [];
        const sub2 = await bus.consume({ topic, group: g }, async (m) => {
          again.push(m.value);
          return ack;
        });
        await bus.publish([{ topic, key: "k0", value: "after" }]);
        await waitFor("message after restart", () => again.includes("after"));
        await sub2.close();
        assert.deepEqual(again, ["after"], "the acknowledged message is not delivered again");
      });
    });

    test("a message not acknowledged when its consumer closes goes to the next member of the group", async () => {
      await withBus(async (bus, topic) => {
        const g = group();
        let first = 0;
        const sub = await bus.consume({ topic, group: g }, async () => {
          first++;
          return { kind: "retry", reason: "later", delayMs: 60_000 };
        });
        await bus.publish(msgs(topic, 1));
        await waitFor("first delivery", () => first >= 1);
        await sub.close();
        const got: IncomingMessage[] = [];
        const sub2 = await bus.consume({ topic, group: g }, async (m) => {
          got.push(m);
          return ack;
        });
        await waitFor("redelivery", () => got.length >= 1);
        await sub2.close();
        assert.equal(got[0]?.value, "v0");
      });
    });

    test('ordering "key": different keys of one partition run in parallel, each key in order', async () => {
      await withBus(async (bus, topic) => {
        const keys = 4;
        const perKey = 5;
        let running = 0;
        let peak = 0;
        const runningByKey = new Map<string, number>();
        let keyOverlap = false;
        const seen = new Map<string, number[]>();
        let release!: () => void;
        const together = new Promise<void>((r) => {
          release = r;
        });
        const sub = await bus.consume({ topic, group: group(), concurrency: 8 }, async (m) => {
          running++;
          peak = Math.max(peak, running);
          const mine = (runningByKey.get(m.key) ?? 0) + 1;
          runningByKey.set(m.key, mine);
          if (mine > 1) keyOverlap = true;
          if (running >= keys) release();
          await together; // the first message of each key waits until all keys run at once
          const list = seen.get(m.key) ?? [];
          list.push(Number(m.value.slice(1)));
          seen.set(m.key, list);
          runningByKey.set(m.key, (runningByKey.get(m.key) ?? 1) - 1);
          running--;
          return ack;
        });
        // key-0's messages first: they must not hold back the keys behind them.
        const keyOf = (i: number) => (i < perKey ? "key-0" : `key-${1 + ((i - perKey) % (keys - 1))}`);
        try {
          await bus.publish(msgs(topic, keys * perKey, keyOf));
          await waitFor(`${keys} handlers of one partition at once`, () => peak >= keys);
        } finally {
          release();
        }
        await waitFor(
          "all handled",
          () => [...seen.values()].reduce((a, l) => a + l.length, 0) >= keys * perKey,
        );
        await sub.close();
        assert.equal(keyOverlap, false, "never two messages of one key at once");
        for (let k = 0; k < keys; k++) {
          const expected = Array.from({ length: keys * perKey }, (_, i) => i).filter(
            (i) => keyOf(i) === `key-${k}`,
          );
          assert.deepEqual(seen.get(`key-${k}`), expected, `order of key-${k}`);
        }
      }, 1);
    });

    test('ordering "none": a later message of a key finishes while an earlier one waits for it', async () => {
      await withBus(async (bus, topic) => {
        const acked: string[] = [];
        let laterDone!: () => void;
        const later = new Promise<void>((r) => {
          laterDone = r;
        });
        const sub = await bus.consume(
          { topic, group: group(), concurrency: 2, ordering: "none" },
          async (m) => {
            if (m.value === "v0") await later; // like a join: v0 waits for v1 of the same key
            acked.push(m.value);
            if (m.value === "v1") laterDone();
            return ack;
          },
        );
        try {
          await bus.publish(msgs(topic, 2, () => "same-key"));
          await waitFor("both acknowledged", () => acked.length >= 2);
        } finally {
          laterDone();
        }
        await sub.close();
        assert.deepEqual(acked, ["v1", "v0"]);
      }, 1);
    });

    test("an unknown ordering is refused with invalid-options", async () => {
      await withBus(async (bus, topic) => {
        await assert.rejects(
          bus.consume({ topic, group: group(), ordering: "random" as never }, async () => ack),
          (e) => e instanceof BusError && e.code === "invalid-options" && /ordering/.test(e.message),
        );
      });
    });

    test("the commit stops at the lowest unfinished offset: the next member gets it, not what finished below", async () => {
      await withBus(async (bus, topic) => {
        const g = group();
        const seenA: string[] = [];
        // Three keys in one partition: v0 and v2 finish, v1 is still waiting for a retry when A closes.
        const a = await bus.consume({ topic, group: g, concurrency: 3 }, async (m) => {
          seenA.push(m.value);
          if (m.value === "v1") return { kind: "retry", reason: "later", delayMs: 60_000 };
          return ack;
        });
        await bus.publish(msgs(topic, 3));
        await waitFor("v0 and v2 acknowledged, v1 delivered", () =>
          ["v0", "v1", "v2"].every((v) => seenA.includes(v)),
        );
        await a.close();
        const seenB: string[] = [];
        const b = await bus.consume({ topic, group: g }, async (m) => {
          seenB.push(m.value);
          return ack;
        });
        await bus.publish([{ topic, key: "k-last", value: "last" }]);
        // One partition: everything B is given before "last" has been delivered once "last" is.
        await waitFor("v1 and the marker", () => seenB.includes("v1") && seenB.includes("last"));
        await b.close();
        assert.equal(seenB.includes("v0"), false, "v0 finished below the unfinished v1: not delivered again");
        assert.equal(seenB.filter((v) => v === "v1").length, 1);
        const all = new Set([...seenA, ...seenB]);
        for (const v of ["v0", "v1", "v2", "last"]) assert.ok(all.has(v), `${v} not lost`);
      }, 1);
    });

    test("concurrent publish calls each resolve, and one key keeps the order of the calls", async () => {
      await withBus(async (bus, topic) => {
        const n = 200;
        const seen = new Map<string, number[]>();
        const sub = await bus.consume({ topic, group: group(), concurrency: 16 }, async (m) => {
          const list = seen.get(m.key) ?? [];
          list.push(Number(m.value));
          seen.set(m.key, list);
          return ack;
        });
        // Not awaited one by one: like many handlers publishing at once.
        const calls = Array.from({ length: n }, (_, i) =>
          bus.publish([{ topic, key: i % 2 === 0 ? "even" : `odd-${i % 7}`, value: String(i) }]),
        );
        const results = await Promise.allSettled(calls);
        assert.deepEqual(
          results.filter((r) => r.status !== "fulfilled"),
          [],
          "every publish call resolved",
        );
        await waitFor(`${n} delivered`, () => [...seen.values()].reduce((a, l) => a + l.length, 0) >= n);
        await sub.close();
        const even = Array.from({ length: n / 2 }, (_, j) => 2 * j);
        assert.deepEqual(seen.get("even"), even, "the calls' order for one key");
        for (let r = 0; r < 7; r++) {
          const list = seen.get(`odd-${r}`) ?? [];
          assert.deepEqual(
            list,
            [...list].sort((x, y) => x - y),
            `order of odd-${r}`,
          );
        }
      });
    });

    test("two groups each get every message", async () => {
      await withBus(async (bus, topic) => {
        const a: string[] = [];
        const b: string[] = [];
        const sa = await bus.consume({ topic, group: group(), concurrency: 2 }, async (m) => {
          a.push(m.value);
          return ack;
        });
        const sb = await bus.consume({ topic, group: group() }, async (m) => {
          b.push(m.value);
          return ack;
        });
        await bus.publish(msgs(topic, 20));
        await waitFor("both groups", () => new Set(a).size >= 20 && new Set(b).size >= 20);
        await sa.close();
        await sb.close();
        const all = Array.from({ length: 20 }, (_, i) => `v${i}`).sort();
        assert.deepEqual([...new Set(a)].sort(), all);
        assert.deepEqual([...new Set(b)].sort(), all);
      });
    });

    test("members of one group share the messages", async () => {
      await withBus(async (bus, topic) => {
        const g = group();
        const a: string[] = [];
        const b: string[] = [];
        const sa = await bus.consume({ topic, group: g }, async (m) => {
          a.push(m.value);
          return ack;
        });
        const sb = await bus.consume({ topic, group: g }, async (m) => {
          b.push(m.value);
          return ack;
        });
        await bus.publish(msgs(topic, 40));
        await waitFor("40 handled", () => new Set([...a, ...b]).size >= 40);
        await sa.close();
        await sb.close();
        assert.equal(new Set([...a, ...b]).size, 40);
      });
    });

    test("publish and consume after close reject with bus-closed", async () => {
      const bus = await makeBus();
      const topic = `contract.${name}.${randomUUID().slice(0, 8)}`;
      await bus.ensureTopics([{ name: topic, partitions }]);
      await bus.close();
      await assert.rejects(
        bus.publish(msgs(topic, 1)),
        (e) => e instanceof BusError && e.code === "bus-closed",
      );
      await assert.rejects(
        bus.consume({ topic, group: group() }, async () => ack),
        (e) => e instanceof BusError && e.code === "bus-closed",
      );
    });
  });
}
