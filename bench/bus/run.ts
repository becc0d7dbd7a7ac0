/**
 * Bus benchmark (not a test): how fast messages go through the in-memory bus
 * and both Kafka adapters, beside the behaviour before handlers ran in
 * parallel within a partition, measured in the same run.
 *
 *   node bench/bus/run.ts [--sections consume,produce,compression,ceiling]
 *        [--buses memory,platformatic,kafkajs] [--concurrency 1,100,1000]
 *        [--partitions 1,12] [--handler-ms 2] [--seconds 8] [--n 30000]
 *
 * Sections:
 *   consume      a subscription whose handler awaits --handler-ms (like a
 *                store batch) and acks; messages of distinct keys, preloaded
 *                (Kafka: one topic per partition count, read by a fresh group
 *                per row) or published while it runs (memory). Rows: bus x
 *                partitions x concurrency x mode, where mode "before" is the
 *                old behaviour (ordering "partition": one message at a time
 *                per partition; Kafka: a commit after every message, no
 *                producer batching) and "now" the default (ordering "key",
 *                commits every 200 ms, batched publishing). A row stops
 *                after --n messages or --seconds, whichever comes first.
 *   produce      publishers calling publish([one message]) in a loop, K at
 *                once (like K handlers), small (domain, ~150 B) and large
 *                (probe-result with real certificate chains, ~2.5 KB)
 *                messages; modes: before (one request per call, as before
 *                the produce queue), now (batched, the default), zstd (batched
 *                and compressed with zstd).
 *   compression  the probe-result messages compressed per batch of 1, 10,
 *                100, 500 with gzip, lz4, zstd (what a produce request would
 *                carry): ratio and CPU per message.
 *   ceiling      the broker's own figures from Apache Kafka's
 *                kafka-producer-perf-test and kafka-consumer-perf-test
 *                (org.apache.kafka.tools.*), run with the broker's class path
 *                plus the kafka-tools jar, fetched with mvn into
 *                $DANESWEEP_BENCH_CACHE (default /var/tmp/danesweep-bench) if
 *                missing. Skipped with a note when it cannot run.
 * Columns: messages/s, this process's CPU ms per message (user+system), the
 * broker's CPU ms per message (from /proc, Kafka rows), produce requests per
 * message. The broker is the shared one of scripts/services/kafka.sh
 * (never started or stopped here); topics are named bench.bus.<run id>.* and
 * deleted at the end. Figures on a loaded 2-core machine move by +-30%; read
 * the ratios between rows of one run. Exit code 0 whatever the figures.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, globSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { Admin, compressionsAlgorithms } from "@platformatic/kafka";
import type { Bus, HandlerOutcome, Ordering, OutgoingMessage } from "../../libs/bus/src/bus.ts";
import { encodeEnvelope } from "../../libs/bus/src/envelope.ts";
import { createKafkaBus, type KafkaBus, type KafkaClient } from "../../libs/bus/src/kafka/index.ts";
import { MemoryBus } from "../../libs/bus/src/memory.ts";
import { probeFacts } from "../../libs/bus/test/fixtures.ts";
import { makeCa, makeKey, makeLeaf } from "../../libs/dane/test/certs.ts";
import { pidCpuMs } from "../proc.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}
const SECTIONS = arg("sections", "consume,produce,compression,ceiling").split(",");
const BUSES = arg("buses", "memory,platformatic,kafkajs").split(",");
const CONCURRENCY = arg("concurrency", "1,100,1000").split(",").map(Number);
const PARTITIONS = arg("partitions", "1,12").split(",").map(Number);
const HANDLER_MS = Number(arg("handler-ms", "2"));
const SECONDS = Number(arg("seconds", "8"));
const N = Number(arg("n", "30000"));
const RUN = randomBytes(3).toString("hex");
const SCAN = "01JBENCH000000000000000000";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (x: number, digits = 0) =>
  Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: digits }) : "-";

// ------------------------------------------------------------------ broker

function brokerStatus(): { pid: number; address: string } | undefined {
  const r = spawnSync("bash", [join(root, "scripts/services/kafka.sh"), "status"], { encoding: "utf8" });
  const m = /^running (\d+) (\S+)/.exec(r.stdout ?? "");
  return m ? { pid: Number(m[1]), address: m[2] as string } : undefined;
}
const broker = brokerStatus();
/** The broker process's CPU so far, ms (user + system). */
function brokerCpuMs(): number {
  return broker ? pidCpuMs(broker.pid) : Number.NaN;
}

function processCpuMs(since?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

const createdTopics: string[] = [];
let admin: Admin | undefined;

async function makeTopic(name: string, partitions: number): Promise<void> {
  if (!broker) throw new Error("no broker");
  admin ??= new Admin({ clientId: "bench-bus", bootstrapBrokers: [broker.address] });
  await admin.createTopics({ topics: [name, `${name}.dlq`], partitions, replicas: 1 });
  createdTopics.push(name, `${name}.dlq`);
}

type Mode = "before" | "now" | "zstd";

function kafkaBus(client: KafkaClient, mode: Mode, extra: Record<string, unknown> = {}): KafkaBus {
  if (!broker) throw new Error("no broker");
  const before = mode === "before";
  return createKafkaBus({
    client,
    brokers: [broker.address],
    clientId: `bench-${client}`,
    onError: () => {},
    ...(client === "kafkajs" ? { logLevel: "nothing" } : {}),
    ...(before ? { produce: { batching: false }, commitIntervalMs: 1 } : {}),
    ...(mode === "zstd" ? { compression: "zstd" } : {}),
    ...extra,
  } as never);
}

// ------------------------------------------------------------------ messages

function domainMessage(topic: string, i: number): OutgoingMessage {
  const domain = `d${i}.bench-${RUN}.example`;
  return { topic, key: domain, value: encodeEnvelope("domain", SCAN, { domain, line: i + 1 }) };
}

let probeValues: string[] | undefined;
/** Probe-result envelopes with real chains: 4 RSA intermediates shared, an EC leaf each. */
function probeResultValues(): string[] {
  if (probeValues) return probeValues;
  const cas = Array.from({ length: 4 }, (_, i) =>
    makeCa(`Bench Intermediate CA ${i}`, { key: makeKey("rsa") }),
  );
  probeValues = Array.from({ length: 500 }, (_, i) => {
    const ca = cas[i % cas.length] as (typeof cas)[number];
    const sni = `mx${i}.bench${i}.example`;
    const leaf = makeLeaf(ca, [sni]);
    const f = probeFacts(`192.0.2.${i % 250}`, sni);
    if (f.tls) f.tls.chain = [leaf.b64, ca.b64];
    return encodeEnvelope("probe-result", SCAN, { domain: `bench${i}.example`, facts: f });
  });
  return probeValues;
}

// ------------------------------------------------------------------ consume

interface ConsumeRow {
  bus: string;
  partitions: number;
  concurrency: number;
  mode: Mode;
  handled: number;
  seconds: number;
  cpuMs: number;
  brokerMs: number;
}

/** Handles until `n` messages or SECONDS; the clock starts at the first handler call. */
async function measureConsume(
  bus: Bus,
  topic: string,
  concurrency: number,
  ordering: Ordering,
  n: number,
): Promise<{ handled: number; seconds: number; cpuMs: number; brokerMs: number }> {
  let handled = 0;
  let t0 = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  let broker0 = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const handler = async (): Promise<HandlerOutcome> => {
    if (t0 === 0) {
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      broker0 = brokerCpuMs();
    }
    await sleep(HANDLER_MS);
    handled++;
    if (handled >= n) done();
    return { kind: "ack" };
  };
  const sub = await bus.consume(
    { topic, group: `bench.${RUN}.${randomBytes(3).toString("hex")}`, concurrency, ordering },
    handler,
  );
  const timer = setInterval(() => {
    if (t0 > 0 && performance.now() - t0 > SECONDS * 1000) done();
  }, 50);
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = processCpuMs(cpu0);
  const brokerMs = brokerCpuMs() - broker0;
  const count = handled;
  clearInterval(timer);
  await sub.close();
  return { handled: count, seconds, cpuMs, brokerMs };
}

async function consumeSection(): Promise<void> {
  console.log(
    `\n## consume: handler awaits ${HANDLER_MS} ms, up to ${fmt(N)} messages or ${SECONDS} s a row\n`,
  );
  console.log(
    "| bus | partitions | concurrency | mode | messages/s | CPU ms/msg | broker CPU ms/msg | handled |",
  );
  console.log("|---|---:|---:|---|---:|---:|---:|---:|");
  const preloaded = new Map<number, string>();
  const preload = async (partitions: number): Promise<string> => {
    const have = preloaded.get(partitions);
    if (have) return have;
    const topic = `bench.bus.${RUN}.consume.p${partitions}`;
    await makeTopic(topic, partitions);
    const bus = kafkaBus("platformatic", "now");
    for (let i = 0; i < N; i += 2000) {
      await bus.publish(Array.from({ length: Math.min(2000, N - i) }, (_, j) => domainMessage(topic, i + j)));
    }
    await bus.close();
    preloaded.set(partitions, topic);
    return topic;
  };
  for (const name of BUSES) {
    for (const partitions of PARTITIONS) {
      for (const concurrency of CONCURRENCY) {
        for (const mode of ["before", "now"] as const) {
          const ordering: Ordering = mode === "before" ? "partition" : "key";
          let r: Awaited<ReturnType<typeof measureConsume>>;
          if (name === "memory") {
            const n = N * 3;
            const bus = new MemoryBus({ partitions });
            const topic = `bench.memory.${partitions}`;
            // The publisher waits on the backlog bound while the subscription drains it.
            const feeding = (async () => {
              for (let i = 0; i < n; i += 500) {
                await bus.publish(Array.from({ length: 500 }, (_, j) => domainMessage(topic, i + j)));
              }
            })();
            r = await measureConsume(bus, topic, concurrency, ordering, n);
            await bus.close(); // a publish still waiting is rejected with bus-closed
            await feeding.catch(() => {});
            r.brokerMs = Number.NaN;
          } else {
            if (!broker) continue;
            const topic = await preload(partitions);
            const bus = kafkaBus(name as KafkaClient, mode);
            r = await measureConsume(bus, topic, concurrency, ordering, N);
            await bus.close();
          }
          const row: ConsumeRow = { bus: name, partitions, concurrency, mode, ...r };
          console.log(
            `| ${row.bus} | ${row.partitions} | ${row.concurrency} | ${row.mode} | ${fmt(row.handled / row.seconds)} | ${fmt(row.cpuMs / row.handled, 3)} | ${fmt(row.brokerMs / row.handled, 3)} | ${fmt(row.handled)} |`,
          );
        }
      }
    }
  }
}

// ------------------------------------------------------------------ produce

async function produceSection(): Promise<void> {
  if (!broker) {
    console.log("\n## produce: skipped (no broker: scripts/services/kafka.sh status)");
    return;
  }
  console.log(
    `\n## produce: K publishers, each publish() carrying one message, 12 partitions, up to ${SECONDS} s a row\n`,
  );
  console.log("| client | message | K | mode | messages/s | CPU ms/msg | broker CPU ms/msg | requests/msg |");
  console.log("|---|---|---:|---|---:|---:|---:|---:|");
  const large = probeResultValues();
  for (const client of BUSES.filter((b) => b !== "memory") as KafkaClient[]) {
    for (const kind of ["small", "large"] as const) {
      for (const k of CONCURRENCY) {
        for (const mode of ["before", "now", "zstd"] as const) {
          const topic = `bench.bus.${RUN}.produce.${client}.${kind}.${k}.${mode}`;
          await makeTopic(topic, 12);
          const bus = kafkaBus(client, mode);
          const n = kind === "small" ? N : Math.ceil(N / 3);
          // Warm the connection (metadata, producer id) outside the clock.
          await bus.publish([domainMessage(topic, -1)]);
          const req0 = (await bus.metrics()).produceRequests ?? 0;
          let next = 0;
          const t0 = performance.now();
          const cpu0 = process.cpuUsage();
          const b0 = brokerCpuMs();
          const deadline = t0 + SECONDS * 1000;
          await Promise.all(
            Array.from({ length: k }, async () => {
              while (next < n && performance.now() < deadline) {
                const i = next++;
                const m =
                  kind === "small"
                    ? domainMessage(topic, i)
                    : { topic, key: `192.0.2.${i % 250}|${i}`, value: large[i % large.length] as string };
                await bus.publish([m]);
              }
            }),
          );
          const seconds = (performance.now() - t0) / 1000;
          const cpuMs = processCpuMs(cpu0);
          const brokerMs = brokerCpuMs() - b0;
          const requests = ((await bus.metrics()).produceRequests ?? 0) - req0;
          await bus.close();
          console.log(
            `| ${client} | ${kind} | ${k} | ${mode} | ${fmt(next / seconds)} | ${fmt(cpuMs / next, 3)} | ${fmt(brokerMs / next, 3)} | ${fmt(requests / next, 3)} |`,
          );
        }
      }
    }
  }
}

// ------------------------------------------------------------------ compression

function compressionSection(): void {
  const msgs = probeResultValues().map((v) => Buffer.from(v));
  const avg = msgs.reduce((s, m) => s + m.length, 0) / msgs.length;
  console.log(
    `\n## compression: ${msgs.length} probe-result messages (${fmt(avg)} B on average), per batch\n`,
  );
  console.log("| batch | codec | ratio | CPU µs/msg |");
  console.log("|---:|---|---:|---:|");
  const codecs: [string, (b: Buffer) => Buffer][] = [
    ["gzip", (b) => gzipSync(b)],
    ["lz4", (b) => compressionsAlgorithms.lz4.compressSync(b) as Buffer],
    ["zstd", (b) => zstdCompressSync(b)],
  ];
  const total = msgs.reduce((s, m) => s + m.length, 0);
  for (const batch of [1, 10, 100, 500]) {
    const parts: Buffer[] = [];
    for (let i = 0; i < msgs.length; i += batch) parts.push(Buffer.concat(msgs.slice(i, i + batch)));
    for (const [name, f] of codecs) {
      for (const p of parts.slice(0, 2)) f(p);
      const rounds = 5;
      const cpu0 = process.cpuUsage();
      let out = 0;
      for (let r = 0; r < rounds; r++) for (const p of parts) out += f(p).length;
      const us = (processCpuMs(cpu0) * 1000) / rounds / msgs.length;
      console.log(`| ${batch} | ${name} | ${fmt(total / (out / rounds), 2)} | ${fmt(us, 1)} |`);
    }
  }
}

// ------------------------------------------------------------------ ceiling

function toolsClassPath(): string | undefined {
  const libs = globSync("/var/cache/danesweep-kafka/*/libs").find((d) => existsSync(join(d, ".complete")));
  if (!libs) return undefined;
  if (globSync(join(libs, "kafka-tools-[0-9]*.jar")).length > 0) return `${libs}/*`;
  const cache = join(process.env.DANESWEEP_BENCH_CACHE ?? "/var/tmp/danesweep-bench", "kafka-tools");
  if (globSync(join(cache, "kafka-tools-[0-9]*.jar")).length === 0) {
    const version = /kafka-clients-(.+)\.jar$/.exec(
      globSync(join(libs, "kafka-clients-*.jar"))[0] ?? "",
    )?.[1];
    if (!version) return undefined;
    mkdirSync(cache, { recursive: true });
    const r = spawnSync(
      "mvn",
      [
        "-B",
        "-q",
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
        `-Dartifact=org.apache.kafka:kafka-tools:${version}`,
        `-DoutputDirectory=${cache}`,
      ],
      { encoding: "utf8", cwd: cache, timeout: 300_000 },
    );
    if (r.status !== 0) return undefined;
  }
  return `${libs}/*:${cache}/*`;
}

function java(cp: string, main: string, args: string[]): string {
  const r = spawnSync("java", ["-Xmx256m", "-cp", cp, main, ...args], { encoding: "utf8", timeout: 600_000 });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`;
}

async function ceilingSection(): Promise<void> {
  console.log("\n## ceiling: Apache Kafka's own perf tools against the same broker\n");
  if (!broker) {
    console.log("skipped: no broker");
    return;
  }
  const cp = toolsClassPath();
  if (!cp) {
    console.log("skipped: kafka-tools jar not available (mvn could not fetch it)");
    return;
  }
  console.log("| tool | records | record size | compression | messages/s | MB/s | broker CPU ms/msg |");
  console.log("|---|---:|---:|---|---:|---:|---:|");
  const records = 500_000;
  for (const [size, compression] of [
    [150, "none"],
    [150, "zstd"],
    [2500, "zstd"],
  ] as const) {
    const topic = `bench.bus.${RUN}.ceiling.${size}.${compression}`;
    await makeTopic(topic, 12);
    const b0 = brokerCpuMs();
    const out = java(cp, "org.apache.kafka.tools.ProducerPerformance", [
      "--topic",
      topic,
      "--num-records",
      String(records),
      "--record-size",
      String(size),
      "--throughput",
      "-1",
      "--producer-props",
      `bootstrap.servers=${broker.address}`,
      "acks=all",
      "linger.ms=5",
      `compression.type=${compression}`,
    ]);
    const brokerMs = brokerCpuMs() - b0;
    const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(
      out.trim().split("\n").at(-1) ?? "",
    );
    if (!m) console.log(`(producer-perf-test said: ${out.trim().split("\n").slice(-3).join(" / ")})`);
    console.log(
      `| producer-perf-test | ${fmt(records)} | ${size} | ${compression} | ${m ? fmt(Number(m[2])) : "?"} | ${m ? m[3] : "?"} | ${fmt(brokerMs / records, 4)} |`,
    );
    if (size === 150 && compression === "none") {
      const c0 = brokerCpuMs();
      const cout = java(cp, "org.apache.kafka.tools.ConsumerPerformance", [
        "--bootstrap-server",
        broker.address,
        "--topic",
        topic,
        "--messages",
        String(records),
      ]);
      const cms = brokerCpuMs() - c0;
      // CSV: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
      const line = cout
        .trim()
        .split("\n")
        .find((l) => /^\d{4}-\d\d-\d\d/.test(l));
      const cols = line?.split(",").map((c) => c.trim()) ?? [];
      console.log(
        `| consumer-perf-test | ${fmt(records)} | ${size} | none | ${cols[5] ? fmt(Number(cols[5])) : "?"} | ${cols[3] ?? "?"} | ${fmt(cms / records, 4)} |`,
      );
    }
  }
}

// ------------------------------------------------------------------ main

console.log(
  `# bus benchmark ${new Date().toISOString()} run ${RUN}: ${broker ? `broker ${broker.address} (pid ${broker.pid})` : "no broker: Kafka rows skipped"}`,
);
try {
  if (SECTIONS.includes("compression")) compressionSection();
  if (SECTIONS.includes("consume")) await consumeSection();
  if (SECTIONS.includes("produce")) await produceSection();
  if (SECTIONS.includes("ceiling")) await ceilingSection();
} finally {
  if (admin && createdTopics.length > 0) {
    await admin
      .deleteTopics({ topics: createdTopics })
      .catch((e) => console.error("could not delete topics:", e));
  }
  await admin?.close();
}
