/**
 * A subscription whose client is dropped from its consumer group and then
 * refused when it asks to join again, its message stream still open. Made on
 * purpose against the dev broker:
 *   1. the subscription runs in a child process and handles a first batch;
 *   2. the child is stopped (SIGSTOP) until the broker has dropped it from the
 *      group (session timeout 6 s);
 *   3. a consumer of the test joins the same group with a partition-assignment
 *      protocol of another name, so the group now speaks only that protocol;
 *   4. the child resumes: its heartbeat is refused and so is the client's own
 *      rejoin (INCONSISTENT_GROUP_PROTOCOL, reported as a consume error);
 *   5. the test's consumer leaves; a second batch is published.
 * Every message of both batches must be handled and committed (lag 0 on every
 * partition): only a member of the group can commit. With @platformatic/kafka
 * 2.12.1 the client's stream joins again by itself here; the adapter's
 * membership check (a stream outside its group for the rebalance timeout plus
 * the session timeout is failed and the client renewed; 8 + 6 s in this test)
 * is the bound if it did not.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes } from "@platformatic/kafka";
import { ensureDevBroker } from "../src/kafka/dev-broker.ts";
import { createKafkaBus } from "../src/kafka/index.ts";
import { sleep, until } from "./wait.ts";

let child: ChildProcess | undefined;
after(() => {
  child?.kill("SIGCONT");
  child?.kill("SIGKILL");
});

test("a subscription left outside its group with its stream open joins again and commits everything", {
  timeout: 180_000,
}, async () => {
  const broker = await ensureDevBroker();
  const topic = `outside-group-${Date.now()}`;
  const group = `${topic}-g`;
  const bus = createKafkaBus({
    client: "platformatic",
    brokers: [broker],
    clientId: "outside-group-test",
    onError: () => {},
  });
  const handled = new Set<string>();
  const errors: string[] = [];
  let lag: (number | null)[] = [];
  let restarts = 0;
  let ready = false;
  try {
    await bus.ensureTopics([{ name: topic, partitions: 3, replication: 1 }]);
    child = spawn(
      process.execPath,
      [new URL("./outside-group-child.ts", import.meta.url).pathname, broker, topic, group, "8000"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as {
        ready?: boolean;
        handled?: string;
        lag?: (number | null)[];
        restarts?: number;
        error?: string;
        message?: string;
      };
      if (m.ready) ready = true;
      if (m.handled) handled.add(m.handled);
      if (m.lag) {
        lag = m.lag;
        restarts = m.restarts ?? 0;
      }
      if (m.error) errors.push(`${m.error}: ${m.message}`);
    });
    const state = () => `lag ${JSON.stringify(lag)}, restarts ${restarts}, errors:\n${errors.join("\n")}`;
    const publish = (from: number) =>
      bus.publish(Array.from({ length: 30 }, (_, i) => ({ topic, key: `k${from + i}`, value: "v" })));
    // `n` messages handled and every partition committed to its end.
    const committed = (what: string, n: number, timeoutMs: number) =>
      until(
        what,
        () => handled.size === n && lag.length === 3 && lag.every((x) => x === 0),
        timeoutMs,
        state,
      );
    await until("the child's subscription", () => ready, 60_000, state);
    await publish(0);
    await committed("the first batch handled and committed", 30, 60_000);

    child.kill("SIGSTOP");
    await sleep(10_000);
    const other = new Consumer({
      clientId: "outside-group-other",
      bootstrapBrokers: [broker],
      groupId: group,
      autocommit: false,
      sessionTimeout: 6000,
      heartbeatInterval: 1000,
      protocols: [{ name: "danesweep-test-other", version: 1 }],
    });
    const stream = await other.consume({
      topics: [topic],
      mode: MessagesStreamModes.LATEST,
      fallbackMode: MessagesStreamFallbackModes.LATEST,
      autocommit: false,
    });
    stream.on("data", () => {});
    child.kill("SIGCONT");
    // The other consumer holds the group until the child has been refused (however slowly it resumes).
    await until(
      "the child's rejoin refused",
      () => errors.some((e) => e.startsWith("consume:")),
      60_000,
      state,
    );
    await stream.close();
    await other.close(true);

    await publish(30);
    await committed("both batches handled and every partition committed to its end", 60, 120_000);
    assert.deepEqual([...handled].sort(), Array.from({ length: 60 }, (_, i) => `k${i}`).sort());
  } finally {
    child?.kill("SIGTERM");
    await bus.close();
  }
});
