/**
 * Test wiring shared by the tests that run the stages on one in-memory bus
 * with a real prober (numeric-mx.test.ts, ask-once.test.ts,
 * probe-claims.test.ts).
 */
import { type HandlerOutcome, type IncomingMessage, type MemoryBus, TOPICS } from "@danesweep/bus";
import { Prober } from "@danesweep/probe";
import type { AggregateJoin } from "../src/stages.ts";

/** A real prober allowed to dial loopback, with per-IP limits that never slow a test; EHLO `ehloName`. */
export function testProber(ehloName: string): Prober {
  return new Prober({ allowPrivate: true, ehloName, perIpRate: 100, perIpBurst: 100 });
}

/**
 * The probe and aggregate stages on `bus`: the two topics, a consumer of
 * each, the keys of the probe requests seen. `close` stops the consumers
 * (messages still coming are let go) and the join.
 */
export async function wireStages(
  bus: MemoryBus,
  probe: (m: IncomingMessage) => Promise<HandlerOutcome>,
  aggregate: { handler: (m: IncomingMessage) => Promise<HandlerOutcome>; join: AggregateJoin },
): Promise<{ requested: string[]; close: () => Promise<void> }> {
  await bus.ensureTopics([
    { name: TOPICS.probeRequests, partitions: 1 },
    { name: TOPICS.domainFacts, partitions: 1 },
  ]);
  const requested: string[] = [];
  let ending = false;
  const probing = await bus.consume({ topic: TOPICS.probeRequests, group: "probe" }, (m) => {
    requested.push(m.key);
    return probe(m);
  });
  const aggregating = await bus.consume({ topic: TOPICS.domainFacts, group: "aggregate" }, (m) =>
    ending ? Promise.resolve({ kind: "ack" as const }) : aggregate.handler(m),
  );
  return {
    requested,
    close: async () => {
      ending = true;
      await probing.close();
      aggregate.join.close();
      await aggregating.close();
    },
  };
}
