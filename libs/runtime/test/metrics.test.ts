import assert from "node:assert/strict";
import { test } from "node:test";
import { kafkaMetricFamilies, renderMetrics } from "../src/metrics.ts";

test("Prometheus text: HELP and TYPE lines, escaped label values, non-finite samples skipped", () => {
  const text = renderMetrics([
    {
      name: "x_total",
      help: "line one\nline two",
      type: "counter",
      samples: [
        { labels: { topic: 'a"b\\c' }, value: 3 },
        { labels: { topic: "n" }, value: Number.NaN },
      ],
    },
  ]);
  assert.equal(
    text,
    '# HELP x_total line one\\nline two\n# TYPE x_total counter\nx_total{topic="a\\"b\\\\c"} 3\n',
  );
});

test("Kafka bus metrics: lag per partition, unknown lag left out", () => {
  const fams = kafkaMetricFamilies({
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
  const text = renderMetrics(fams);
  assert.match(text, /^danesweep_kafka_consumer_lag\{topic="t",group="g",partition="0"\} 6$/m);
  assert.doesNotMatch(text, /danesweep_kafka_consumer_lag\{[^}]*partition="1"/);
  assert.match(text, /^danesweep_kafka_handler_seconds_total\{topic="t",group="g",partition="0"\} 1.5$/m);
  assert.match(text, /^danesweep_kafka_produced_total\{topic="danesweep.domains"\} 5$/m);
});
