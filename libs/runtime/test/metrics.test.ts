import assert from "node:assert/strict";
import { test } from "node:test";
import { counterOf, gaugeOf, KafkaMetrics, ServiceMetrics, sampleValue as sample } from "../src/metrics.ts";

test("every series carries the service label; handled, retried, dead-lettered and the stage histogram per topic", async () => {
  let ready = false;
  const m = new ServiceMetrics("svc", { ready: () => ready });
  const topic = "danesweep.domains";
  m.observe(topic, { kind: "ack" }, 0.003);
  m.observe(topic, { kind: "retry", reason: "unavailable" }, 0.2);
  m.observe(topic, { kind: "dead-letter", reason: "validation-failed" }, 0.0001);
  const text = await m.render();
  const svc = { service: "svc" };
  assert.equal(sample(text, "danesweep_messages_handled_total", { ...svc, topic, outcome: "ack" }), 1);
  assert.equal(sample(text, "danesweep_messages_handled_total", { ...svc, topic, outcome: "retry" }), 1);
  assert.equal(sample(text, "danesweep_messages_retried_total", { ...svc, topic, reason: "unavailable" }), 1);
  assert.equal(
    sample(text, "danesweep_messages_dead_lettered_total", { ...svc, topic, reason: "validation-failed" }),
    1,
  );
  // 0.003 s falls in the 0.005 bucket, not in the 0.001 one.
  const bucket = (le: string) =>
    sample(text, "danesweep_stage_duration_seconds_bucket", { ...svc, topic, outcome: "ack", le });
  assert.equal(bucket("0.001"), 0);
  assert.equal(bucket("0.005"), 1);
  assert.equal(
    sample(text, "danesweep_stage_duration_seconds_count", { ...svc, topic, outcome: "retry" }),
    1,
  );
  assert.equal(sample(text, "danesweep_service_ready", svc), 0);
  ready = true;
  assert.equal(sample(await m.render(), "danesweep_service_ready", svc), 1);
  assert.ok((sample(text, "process_resident_memory_bytes", svc) ?? 0) > 0);
  assert.ok((sample(text, "nodejs_heap_size_used_bytes", svc) ?? 0) > 0);
});

test("counterOf and gaugeOf read their value at each scrape; label values escaped", async () => {
  const m = new ServiceMetrics("s");
  let n = 1;
  counterOf(m.registry, "x_total", "x", () => n);
  gaugeOf(m.registry, "y", "y", () => [{ labels: { k: 'a"b\\c' }, value: n * 2 }], ["k"]);
  assert.equal(sample(await m.render(), "x_total", { service: "s" }), 1);
  n = 5;
  const text = await m.render();
  assert.equal(sample(text, "x_total", { service: "s" }), 5);
  assert.match(text, /^y\{k="a\\"b\\\\c",service="s"\} 10$/m);
  assert.equal(sample(text, "y", { k: 'a"b\\c', service: "s" }), 10);
  assert.equal(sample(text, "y", { k: 'a"b\\c' }), undefined, "all labels must match");
});

test("Kafka bus metrics: lag per partition, unknown lag left out", async () => {
  const m = new ServiceMetrics("agg");
  const k = new KafkaMetrics(m.registry);
  k.update({
    client: "platformatic",
    produced: { "danesweep.domains": 5 },
    subscriptions: [
      {
        topic: "t",
        group: "g",
        inFlight: 1,
        commitErrors: 0,
        restarts: 0,
        joins: 1,
        partitions: [
          {
            partition: 0,
            consumed: 4,
            acked: 4,
            deadLettered: 0,
            retries: 1,
            handlerMs: 1500,
            committed: "4",
            highWatermark: "10",
            lag: 6,
          },
          {
            partition: 1,
            consumed: 0,
            acked: 0,
            deadLettered: 0,
            retries: 0,
            handlerMs: 0,
            committed: null,
            highWatermark: null,
            lag: null,
          },
        ],
      },
    ],
  });
  const text = await m.render();
  assert.match(text, /^danesweep_kafka_consumer_lag\{topic="t",group="g",partition="0",service="agg"\} 6$/m);
  assert.doesNotMatch(text, /danesweep_kafka_consumer_lag\{[^}]*partition="1"/);
  assert.match(
    text,
    /^danesweep_kafka_handler_seconds_total\{topic="t",group="g",partition="0",service="agg"\} 1.5$/m,
  );
  assert.match(text, /^danesweep_kafka_produced_total\{topic="danesweep.domains",service="agg"\} 5$/m);
  assert.match(text, /^danesweep_kafka_in_flight\{topic="t",group="g",service="agg"\} 1$/m);
});
