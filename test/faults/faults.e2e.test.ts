/**
 * Fault tests of the scale-out pipeline: the resolver, prober and aggregator
 * services as separate processes on a real Apache Kafka (a broker of this
 * suite's own, so killing it disturbs no one else) and a real PostgreSQL
 * (also its own, so it can be restarted), seeded and followed by
 * `danesweep scan --kafka`. Each scan has 2,000 synthetic domains of the test
 * universe; a fault is injected once part of the scan is judged. Each test
 * asserts that at the end every seeded domain has exactly one stored verdict
 * (rows counted in results), none missing, none extra, each as the
 * synthetic universe expects, and that the CLI printed each domain once.
 *
 *   - one worker of each kind SIGKILLed mid-batch and restarted (resolver,
 *     prober, aggregator in turn, during one scan);
 *   - the broker SIGKILLed mid-scan and restarted;
 *   - PostgreSQL restarted mid-scan;
 *   - poison messages injected (not JSON; a valid envelope with a body that
 *     fails its schema): the scan completes, each poison message is on its
 *     topic's dead-letter twin with the reason, and nothing else is.
 *   - rebalance: a second prober added mid-scan; no (ip, port, SNI) is dialed
 *     twice in the scan (counted from the probers' "probe dialed" logs).
 *   - the broker kept down until a subscription's group join fails, then
 *     back: the subscription joins again, handles and commits everything.
 * Kafka session timeouts are 6 s so partitions of a killed worker move fast.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  deadLetterTopic,
  HEADER,
  type IncomingMessage,
  makeEnvelope,
  readDeadLetter,
  TOPICS,
} from "@danesweep/bus";
import { createKafkaBus } from "@danesweep/bus/kafka";
import {
  checkScan,
  Deployment,
  type PrivateKafka,
  type PrivatePostgres,
  privateKafka,
  privatePostgres,
  type SynthDomain,
  sleep,
  startKafkaScan,
  synthDomains,
  waitFor,
  waitForProgress,
} from "./harness.ts";

const N = 2000;
const SCAN_TIMEOUT = 240_000;

let dir: string;
let kafka: PrivateKafka;
let postgres: PrivatePostgres;
let databaseUrl: string;
let domains: SynthDomain[];
let file: string;
let dep: Deployment;

before(async () => {
  domains = synthDomains(N);
  dir = mkdtempSync(join(tmpdir(), "danesweep-faults-"));
  file = join(dir, "domains.txt");
  writeFileSync(file, `${domains.map((d) => d.domain).join("\n")}\n`);
  kafka = privateKafka("faults");
  postgres = privatePostgres("faults");
  databaseUrl = await postgres.freshDatabase();
  dep = new Deployment({ brokers: kafka.bootstrap, databaseUrl, logDir: join(dir, "logs") });
  await dep.startAll();
  crash = dep.crash();
  crash.catch(() => {});
});

let crash: Promise<never>;

after(async () => {
  let unclean: { name: string; code: number | null; signal: NodeJS.Signals | null; tail: string }[] = [];
  if (dep) {
    unclean = (await dep.stop()).filter((s) => s.code !== 0);
    if (unclean.length > 0) failed = true;
    for (const s of unclean)
      console.error(`--- ${s.name} did not stop cleanly (exit ${s.code ?? s.signal}):\n${s.tail}`);
  }
  kafka?.down();
  postgres?.down();
  if (failed) console.error(`fault tests: logs kept in ${dir}/logs`);
  else rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(
    unclean.map((s) => s.name),
    [],
    "every worker stops cleanly (exit 0) on SIGTERM",
  );
});

let failed = false;

/** Runs one scan of the 2,000 domains, calling `fault` once `at` of it is judged; checks the outcome. */
async function scanWithFault(at: number, fault: () => Promise<void>): Promise<string> {
  failed = true;
  const run = startKafkaScan(kafka.bootstrap, databaseUrl, file);
  const scan = await Promise.race([
    run.scanId,
    run.done.then((r) => {
      throw new Error(`scan ended before it started: ${r.stderr}`);
    }),
  ]);
  latest = scan;
  await waitForProgress(databaseUrl, run.scanId, N, at);
  await fault();
  const timer = setTimeout(() => run.child.kill("SIGINT"), SCAN_TIMEOUT);
  let r: Awaited<typeof run.done>;
  try {
    r = await Promise.race([run.done, crash]);
  } finally {
    clearTimeout(timer);
    if (run.child.exitCode === null) run.child.kill("SIGKILL");
  }
  assert.equal(r.code, 0, `scan exit ${r.code}\n${r.stderr.slice(-3000)}\n${dep.tails()}`);
  await checkScan(databaseUrl, scan, domains, r.stdout);
  failed = false;
  return scan;
}

describe("faults, each during a scan of 2,000 domains", { timeout: 900_000 }, () => {
  test("one worker of each kind SIGKILLed mid-batch and restarted", async () => {
    await scanWithFault(0.1, async () => {
      await dep.killAndRestart("resolver");
      await waitForProgress(databaseUrl, Promise.resolve(lastScan()), N, 0.35);
      await dep.killAndRestart("prober");
      await waitForProgress(databaseUrl, Promise.resolve(lastScan()), N, 0.6);
      await dep.killAndRestart("aggregator");
    });
  });

  test("the broker SIGKILLed mid-scan and restarted", async () => {
    await scanWithFault(0.25, async () => {
      kafka.kill();
      await sleep(3000);
      kafka.up();
    });
  });

  test("PostgreSQL restarted mid-scan", async () => {
    await scanWithFault(0.25, async () => {
      await postgres.restart(2000);
    });
  });

  test("poison messages go to the dead-letter topics; the scan completes", async () => {
    const bus = createKafkaBus({ brokers: [kafka.bootstrap], onError: () => {} });
    const tag = `poison-${Date.now()}`;
    try {
      await scanWithFault(0.2, async () => {
        const bad = JSON.parse(
          JSON.stringify(
            makeEnvelope("probe-request", lastScan(), {
              ip: "127.60.1.1",
              port: 25,
              sni: "x.mx.synth",
              mxHost: "x.mx.synth",
              domain: "x.synth",
            }),
          ),
        );
        bad.body.port = "twenty-five";
        await bus.publish([
          { topic: TOPICS.domains, key: `${tag}-a`, value: "this is not JSON {" },
          { topic: TOPICS.probeRequests, key: `${tag}-b`, value: JSON.stringify(bad) },
        ]);
      });
      const seen = new Map<string, IncomingMessage>();
      const subs = [];
      for (const t of [TOPICS.domains, TOPICS.probeRequests]) {
        subs.push(
          await bus.consume({ topic: deadLetterTopic(t), group: `${tag}-reader-${t}` }, async (m) => {
            if (m.key.startsWith(tag)) seen.set(m.key, m);
            return { kind: "ack" };
          }),
        );
      }
      await waitFor("both poison messages on the dead-letter topics", async () => seen.size === 2, 60_000);
      for (const s of subs) await s.close();
      const a = seen.get(`${tag}-a`)!;
      assert.equal(a.topic, deadLetterTopic(TOPICS.domains));
      assert.equal(a.value, "this is not JSON {");
      assert.equal(readDeadLetter(a.headers).reason, "decode-failed");
      assert.equal(a.headers[HEADER.deadLetterSourceTopic], TOPICS.domains);
      const b = seen.get(`${tag}-b`)!;
      assert.equal(b.topic, deadLetterTopic(TOPICS.probeRequests));
      assert.equal(readDeadLetter(b.headers).reason, "validation-failed");
      assert.match(readDeadLetter(b.headers).detail ?? "", /port/);
    } finally {
      await bus.close();
    }
  });

  test("a consumer whose group join failed while the broker was down rejoins once it is back", async () => {
    // The broker stays down until a subscription reports that its group join
    // failed, then comes back. Every message published after that must be
    // handled and committed: a client that reads on without having joined
    // again cannot commit (its member id is gone), so the lag stays above 0.
    const topic = `rejoin-${Date.now()}`;
    const joinFailed: string[] = [];
    const bus = createKafkaBus({
      brokers: [kafka.bootstrap],
      sessionTimeoutMs: 6000,
      commitIntervalMs: 500,
      onError: (e) => {
        const m = e.error instanceof Error ? e.error.message : String(e.error);
        if (e.where === "consume" && m.includes("joinGroup failed")) joinFailed.push(m);
      },
    });
    const handled = new Set<string>();
    try {
      await bus.ensureTopics([{ name: topic, partitions: 6, replication: 1 }]);
      const sub = await bus.consume({ topic, group: `${topic}-g`, concurrency: 20 }, async (m) => {
        handled.add(m.key);
        return { kind: "ack" };
      });
      const publish = (from: number) =>
        bus.publish(Array.from({ length: 60 }, (_, i) => ({ topic, key: `k${from + i}`, value: "v" })));
      await publish(0);
      await waitFor("the first 60 messages handled", async () => handled.size === 60, 60_000);
      kafka.kill();
      await waitFor("a failed group join reported", async () => joinFailed.length > 0, 120_000, 100);
      kafka.up();
      await publish(60);
      await waitFor("all 120 messages handled", async () => handled.size === 120, 120_000);
      const lag = async () => {
        const m = (await bus.metrics()).subscriptions.find((x) => x.topic === topic);
        const parts = m?.partitions ?? [];
        return parts.length === 6 && parts.every((p) => p.lag === 0) ? m : undefined;
      };
      const m = await waitFor("every partition committed to its end (lag 0)", lag, 90_000, 500).catch(
        async (e: Error) => {
          const now = (await bus.metrics()).subscriptions.find((x) => x.topic === topic);
          throw new Error(`${e.message}: ${JSON.stringify(now?.partitions.map((p) => p.lag))}`);
        },
      );
      assert.ok(m.restarts >= 1, "the consume loop was restarted");
      await sub.close();
    } finally {
      await bus.close();
    }
  });

  test("rebalance: a second prober added mid-scan never dials one (ip, port, SNI) twice", async () => {
    const from = new Date().toISOString();
    await scanWithFault(0.02, async () => {
      await dep.start("prober").ready;
    });
    const to = new Date().toISOString();
    const dials = dep.dials().filter((d) => d.time >= from && d.time <= to);
    const byKey = new Map<string, string[]>();
    for (const d of dials) {
      const k = `${d.ip}|${d.port}|${d.sni}`;
      byKey.set(k, [...(byKey.get(k) ?? []), d.worker]);
    }
    assert.ok(byKey.size > 0, "probes were made");
    const twice = [...byKey].filter(([, ws]) => ws.length > 1);
    assert.deepEqual(twice, [], "keys dialed more than once in the scan");
    assert.equal(dep.live("prober").length, 2);
  });
});

let latest = "";
/** The scan id of the scan running now (set by scanWithFault's CLI). */
function lastScan(): string {
  return latest;
}
