/** Unit tests of the Kafka adapters' shared core: no broker. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type HandlerOutcome, HEADER, type IncomingMessage } from "../bus.ts";
import { backoffMs, Counters, deadLetterRecord, decodeRecord, partitionMetrics, settle } from "./core.ts";

const msg: IncomingMessage = {
  topic: "t",
  key: "k",
  value: "v",
  headers: { a: "1" },
  partition: 0,
  offset: "7",
};
const noSleep = async () => {};

function scripted(outcomes: (HandlerOutcome | Error | unknown)[]) {
  const attempts: (number | undefined)[] = [];
  const handler = async (m: IncomingMessage): Promise<HandlerOutcome> => {
    attempts.push(m.deliveryAttempt);
    const o = outcomes[attempts.length - 1];
    if (o instanceof Error) throw o;
    return o as HandlerOutcome;
  };
  return { handler, attempts };
}

test("settle: ack on the first attempt", async () => {
  const { handler, attempts } = scripted([{ kind: "ack" }]);
  const d = await settle(msg, handler, {
    maxAttempts: 5,
    backoffBaseMs: 1,
    backoffMaxMs: 1,
    signal: new AbortController().signal,
    sleep: noSleep,
  });
  assert.deepEqual(d, { kind: "ack", attempts: 1 });
  assert.deepEqual(attempts, [1]);
});

test("settle: retry and throw count as attempts, with the asked delay or the backoff", async () => {
  const delays: number[] = [];
  const { handler, attempts } = scripted([
    { kind: "retry", reason: "x", delayMs: 123 },
    new Error("boom"),
    { kind: "ack" },
  ]);
  const d = await settle(msg, handler, {
    maxAttempts: 5,
    backoffBaseMs: 10,
    backoffMaxMs: 1000,
    signal: new AbortController().signal,
    sleep: async (ms) => {
      delays.push(ms);
    },
  });
  assert.deepEqual(d, { kind: "ack", attempts: 3 });
  assert.deepEqual(attempts, [1, 2, 3]);
  // attempt 1 asked 123 ms; attempt 2 threw: backoff 10 * 2^(2-1) = 20
  assert.deepEqual(delays, [123, 20]);
});

test("settle: maxAttempts retries become a retries-exhausted dead letter", async () => {
  const { handler, attempts } = scripted([
    { kind: "retry", reason: "a" },
    { kind: "retry", reason: "b" },
    { kind: "retry", reason: "c" },
  ]);
  const d = await settle(msg, handler, {
    maxAttempts: 3,
    backoffBaseMs: 1,
    backoffMaxMs: 1,
    signal: new AbortController().signal,
    sleep: noSleep,
  });
  assert.equal(d.kind, "dead-letter");
  assert.equal(d.kind === "dead-letter" && d.reason, "retries-exhausted");
  assert.equal(d.kind === "dead-letter" && d.detail, "after 3 attempts: c");
  assert.deepEqual(attempts, [1, 2, 3]);
});

test("settle: a dead-letter outcome is final; an unknown reason becomes handler-rejected", async () => {
  const a = await settle(
    msg,
    scripted([{ kind: "dead-letter", reason: "validation-failed", detail: "d" }]).handler,
    {
      maxAttempts: 5,
      backoffBaseMs: 1,
      backoffMaxMs: 1,
      signal: new AbortController().signal,
      sleep: noSleep,
    },
  );
  assert.deepEqual(a, { kind: "dead-letter", reason: "validation-failed", detail: "d", attempts: 1 });
  const b = await settle(msg, scripted([{ kind: "dead-letter", reason: "nonsense", detail: "d" }]).handler, {
    maxAttempts: 5,
    backoffBaseMs: 1,
    backoffMaxMs: 1,
    signal: new AbortController().signal,
    sleep: noSleep,
  });
  assert.equal(b.kind === "dead-letter" && b.reason, "handler-rejected");
});

test("settle: a malformed outcome is retried", async () => {
  const { handler, attempts } = scripted([undefined, { kind: "weird" }, { kind: "ack" }]);
  const d = await settle(msg, handler, {
    maxAttempts: 5,
    backoffBaseMs: 1,
    backoffMaxMs: 1,
    signal: new AbortController().signal,
    sleep: noSleep,
  });
  assert.deepEqual(d, { kind: "ack", attempts: 3 });
  assert.deepEqual(attempts, [1, 2, 3]);
});

test("settle: closing during a retry wait abandons the message (no commit)", async () => {
  const ac = new AbortController();
  const { handler, attempts } = scripted([{ kind: "retry", reason: "x", delayMs: 60_000 }, { kind: "ack" }]);
  const d = await settle(msg, handler, {
    maxAttempts: 5,
    backoffBaseMs: 1,
    backoffMaxMs: 1,
    signal: ac.signal,
    sleep: async () => {
      ac.abort();
    },
  });
  assert.deepEqual(d, { kind: "abandoned", attempts: 1 });
  assert.deepEqual(attempts, [1]);
});

test("settle: the handler gets a copy of the headers", async () => {
  const local = { ...msg, headers: { a: "1" } };
  await settle(
    local,
    async (m) => {
      m.headers.a = "changed";
      return { kind: "ack" };
    },
    { maxAttempts: 1, backoffBaseMs: 1, backoffMaxMs: 1, signal: new AbortController().signal },
  );
  assert.equal(local.headers.a, "1");
});

test("backoff doubles from the base and stops at the cap", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffMs(a, 50, 5000)),
    [50, 100, 200, 400, 800, 1600, 3200, 5000],
  );
});

test("decodeRecord: UTF-8 key, value and headers", () => {
  const d = decodeRecord(Buffer.from("example.org"), Buffer.from('{"é":1}'), [
    [Buffer.from("traceparent"), Buffer.from("00-1")],
  ]);
  assert.deepEqual(d, { ok: true, key: "example.org", value: '{"é":1}', headers: { traceparent: "00-1" } });
});

test("decodeRecord: invalid UTF-8, missing key, tombstone", () => {
  // 0xc3 0x28: a two-byte lead followed by a non-continuation byte (invalid UTF-8).
  const bad = Buffer.from([0xc3, 0x28]);
  const v = decodeRecord(Buffer.from("k"), bad, []);
  assert.equal(v.ok, false);
  assert.match(!v.ok ? v.detail : "", /value is not UTF-8/);
  const k = decodeRecord(null, Buffer.from("v"), []);
  assert.match(!k.ok ? k.detail : "", /no key/);
  const t = decodeRecord(Buffer.from("k"), null, []);
  assert.match(!t.ok ? t.detail : "", /tombstone/);
  const h = decodeRecord(Buffer.from("k"), Buffer.from("v"), [
    ["x", bad],
    ["ok", "yes"],
  ]);
  assert.equal(h.ok, false);
  assert.deepEqual(h.headers, { ok: "yes" });
  // An empty key or value is valid (zero bytes are valid UTF-8).
  assert.equal(decodeRecord(Buffer.alloc(0), Buffer.alloc(0), []).ok, true);
});

test("deadLetterRecord keeps bytes and headers and adds the reason", () => {
  const raw = {
    topic: "danesweep.domains",
    partition: 2,
    offset: "41",
    key: Buffer.from("k"),
    value: Buffer.from([0xff]),
  };
  const r = deadLetterRecord(raw, { traceparent: "00-x" }, "decode-failed", "value is not UTF-8", {
    group: "g",
    attempts: 0,
  });
  assert.equal(r.topic, "danesweep.domains.dlq");
  assert.deepEqual(r.value, Buffer.from([0xff]));
  assert.equal(r.headers[HEADER.deadLetterReason], "decode-failed");
  assert.equal(r.headers[HEADER.deadLetterSourceTopic], "danesweep.domains");
  assert.equal(r.headers[HEADER.traceparent], "00-x");
  assert.equal(r.headers["x-dlq-source-partition"], "2");
  assert.equal(r.headers["x-dlq-source-offset"], "41");
});

test("partitionMetrics: lag from the commit, or from the log start when none", () => {
  const c = new Counters();
  c.of(0).consumed = 3;
  const m = partitionMetrics(
    c,
    [0, 1],
    new Map([
      [0, 3n],
      [1, -1n],
    ]),
    new Map([
      [0, 10n],
      [1, 5n],
    ]),
    new Map([
      [0, 0n],
      [1, 2n],
    ]),
  );
  assert.deepEqual(
    m.map((p) => [p.partition, p.consumed, p.committed, p.highWatermark, p.lag]),
    [
      [0, 3, "3", "10", 7],
      [1, 0, null, "5", 3],
    ],
  );
});
