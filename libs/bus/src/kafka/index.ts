/**
 * The Kafka adapters of the Bus, chosen by configuration:
 *   createKafkaBus({ brokers, client: "platformatic" | "kafkajs", ... })
 * "platformatic" (the default) uses @platformatic/kafka; "kafkajs" keeps
 * deployments standardised on kafkajs working. Both keep bus.ts's semantics
 * (see platformatic.ts, kafkajs.ts), share the consuming core (consumer.ts)
 * and the produce queue (producer.ts), take the options of core.ts
 * (KafkaBusOptions: maxBuffered, commitIntervalMs, produce batching,
 * compression...) and expose metrics(). Throws BusError "invalid-options"
 * for an empty broker list, an unknown client, compression or maxBuffered.
 */
import { BusError } from "../errors.ts";
import type { KafkaBusMetrics } from "./core.ts";
import { KafkaJsBus, type KafkaJsBusOptions } from "./kafkajs.ts";
import { PlatformaticKafkaBus, type PlatformaticKafkaBusOptions } from "./platformatic.ts";

export type {
  Compression,
  KafkaBusErrorCode,
  KafkaBusErrorEvent,
  KafkaBusMetrics,
  KafkaBusOptions,
  PartitionMetrics,
  SubscriptionMetrics,
} from "./core.ts";
export { COMPRESSIONS, KAFKA_BUS_ERROR_CODES, KafkaBusError, type ProduceBatchOptions } from "./core.ts";
export { KafkaJsBus, type KafkaJsBusOptions, registerKafkaJsZstd } from "./kafkajs.ts";
export { PlatformaticKafkaBus, type PlatformaticKafkaBusOptions } from "./platformatic.ts";
export { kafkaErrorNames, RECORD_ERRORS } from "./producer.ts";

export const KAFKA_CLIENTS = ["platformatic", "kafkajs"] as const;
export type KafkaClient = (typeof KAFKA_CLIENTS)[number];

export type CreateKafkaBusOptions =
  | ({ client?: "platformatic" } & PlatformaticKafkaBusOptions)
  | ({ client: "kafkajs" } & KafkaJsBusOptions);

export type KafkaBus = PlatformaticKafkaBus | KafkaJsBus;

export function createKafkaBus(opts: CreateKafkaBusOptions): KafkaBus {
  const client: string = opts.client ?? "platformatic";
  if (client === "platformatic") return new PlatformaticKafkaBus(opts as PlatformaticKafkaBusOptions);
  if (client === "kafkajs") return new KafkaJsBus(opts as KafkaJsBusOptions);
  throw new BusError(
    "invalid-options",
    `unknown Kafka client ${JSON.stringify(client)}; expected ${KAFKA_CLIENTS.join(" or ")}`,
  );
}

/** For callers holding a KafkaBus as a plain Bus. */
export function kafkaMetrics(bus: KafkaBus): Promise<KafkaBusMetrics> {
  return bus.metrics();
}
