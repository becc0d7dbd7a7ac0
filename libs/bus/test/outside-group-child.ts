/**
 * A subscription in a process of its own, for kafka-outside-group.int.test.ts
 * (the test stops and resumes this process with SIGSTOP / SIGCONT, so that the
 * broker drops it from its group). argv: BROKER TOPIC GROUP REBALANCE_MS.
 * Prints JSON lines: {"ready":true}, {"handled":KEY}, and every 500 ms
 * {"lag":[...per partition],"restarts":N}.
 */
import { createKafkaBus } from "../src/kafka/index.ts";

const [broker, topic, group, rebalance] = process.argv.slice(2);
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const bus = createKafkaBus({
  client: "platformatic",
  brokers: [broker!],
  clientId: "outside-group-child",
  sessionTimeoutMs: 6000,
  heartbeatIntervalMs: 1000,
  rebalanceTimeoutMs: Number(rebalance),
  commitIntervalMs: 300,
  onError: (e) =>
    say({ error: e.where, message: String((e.error as Error)?.message ?? e.error).slice(0, 200) }),
});
await bus.consume({ topic: topic!, group: group!, concurrency: 10 }, async (m) => {
  say({ handled: m.key });
  return { kind: "ack" };
});
say({ ready: true });
setInterval(async () => {
  const s = (await bus.metrics()).subscriptions.find((x) => x.topic === topic);
  say({ lag: s?.partitions.map((p) => p.lag) ?? [], restarts: s?.restarts ?? 0 });
}, 500);
process.on("SIGTERM", () => void bus.close().then(() => process.exit(0)));
