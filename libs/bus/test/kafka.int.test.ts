/**
 * The bus contract suite (contract.ts) against both Kafka adapters on the real
 * broker of scripts/services/kafka.sh (started if not running, never stopped).
 * Backpressure in Kafka is the broker's ack, so the queue-capacity test is
 * not asked for.
 */
import { ensureDevBroker } from "../src/kafka/dev-broker.ts";
import { createKafkaBus, KAFKA_CLIENTS } from "../src/kafka/index.ts";
import { busContract } from "./contract.ts";

for (const client of KAFKA_CLIENTS) {
  busContract(
    `kafka-${client}`,
    async () => {
      const brokers = [await ensureDevBroker()];
      return createKafkaBus({
        client,
        brokers,
        clientId: `contract-${client}`,
        retryBackoff: { baseMs: 5, maxMs: 200 },
        onError: () => {},
        ...(client === "kafkajs" ? { logLevel: "nothing" as const } : {}),
      });
    },
    { timeoutMs: 30_000, partitions: 4 },
  );
}
