/**
 * `danesweep topics --kafka BROKERS`: creates the Kafka topics of a
 * deployment (the five pipeline topics and their `.dlq` twins) when missing,
 * with --partitions (default 12) and --replication (default 1), and waits
 * until every partition has a leader. Existing topics are left as they are
 * (their partition count is not changed). Prints one line per topic.
 * Exit 0 done, 1 when Kafka cannot be reached or refuses, 2 usage.
 */
import { deadLetterTopic } from "@danesweep/bus";
import { createKafkaBus } from "@danesweep/bus/kafka";
import { pipelineTopics } from "@danesweep/pipeline";
import { enumOption, intOption, parse, UsageError } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import type { Io } from "../main.ts";

const HELP = `usage: danesweep topics --kafka BROKERS [--partitions N] [--replication N] [--kafka-client NAME]

Creates the topics of a deployment when missing: danesweep.domains,
danesweep.probe-requests, danesweep.domain-facts, danesweep.verdicts and a
.dlq dead-letter twin of each. Partitions bound how
many instances of a service share the work (12 by default); existing topics
are left unchanged.

  --kafka BROKERS        bootstrap brokers, host:port,...
  --partitions N         partitions per topic (default 12)
  --replication N        replication factor (default 1; 3 on a real cluster)
  --kafka-client NAME    platformatic (default) | kafkajs
`;

const OPTIONS = {
  kafka: { type: "string" },
  partitions: { type: "string" },
  replication: { type: "string" },
  "kafka-client": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function run(argv: string[], io: Io): Promise<number> {
  let brokers: string[];
  let partitions: number;
  let replication: number;
  let client: "platformatic" | "kafkajs";
  try {
    const { values: v, positionals } = parse(argv, OPTIONS);
    if (v.help) {
      io.stdout.write(HELP);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    brokers = (v.kafka ?? "")
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b !== "");
    if (brokers.length === 0) throw new UsageError("--kafka BROKERS is required (host:port,...)");
    for (const b of brokers)
      if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new UsageError(`--kafka: "${b}" is not host:port`);
    partitions = intOption("partitions", v.partitions, 12, 1, 10_000);
    replication = intOption("replication", v.replication, 1, 1, 10);
    client = enumOption(
      "kafka-client",
      v["kafka-client"],
      ["platformatic", "kafkajs"] as const,
      "platformatic",
    );
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`danesweep topics: ${e.message}\n(danesweep topics --help lists the options)\n`);
      return EXIT.usage;
    }
    throw e;
  }
  const bus = createKafkaBus({
    brokers,
    client,
    clientId: "danesweep-topics",
    onError: () => {},
  } as Parameters<typeof createKafkaBus>[0]);
  try {
    const topics = pipelineTopics(partitions, replication);
    await bus.ensureTopics(topics);
    for (const t of topics) {
      io.stdout.write(`${t.name}\n${deadLetterTopic(t.name)}\n`);
    }
    io.stderr.write(
      `danesweep: ${topics.length * 2} topics present on ${brokers.join(",")} (created missing ones with ${partitions} partitions, replication ${replication})\n`,
    );
    return EXIT.ok;
  } catch (e) {
    const cause = (e as { cause?: Error }).cause;
    io.stderr.write(
      `danesweep topics: ${(e as Error).message}${cause?.message ? ` (${cause.message})` : ""}\n`,
    );
    return EXIT.failure;
  } finally {
    await bus.close().catch(() => {});
  }
}
