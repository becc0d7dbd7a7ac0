/** resolveOptions (libs/bus/src/kafka/core.ts): the Kafka bus's defaults and what it refuses. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BusError } from "../src/errors.ts";
import { resolveOptions } from "../src/kafka/core.ts";

const brokers = ["127.0.0.1:9092"];

test("rebalanceTimeoutMs: max(session, 60 s) by default, as given otherwise", () => {
  assert.equal(resolveOptions({ brokers }).rebalanceTimeoutMs, 60_000);
  assert.equal(resolveOptions({ brokers, sessionTimeoutMs: 90_000 }).rebalanceTimeoutMs, 90_000);
  assert.equal(resolveOptions({ brokers, rebalanceTimeoutMs: 8000 }).rebalanceTimeoutMs, 8000);
});

test("rebalanceTimeoutMs that is not a whole number of ms of at least 1 is refused with invalid-options", () => {
  for (const bad of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => resolveOptions({ brokers, rebalanceTimeoutMs: bad }),
      (e) => e instanceof BusError && e.code === "invalid-options" && /rebalanceTimeoutMs/.test(e.message),
      `rebalanceTimeoutMs ${bad}`,
    );
  }
});
