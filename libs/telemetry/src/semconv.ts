/**
 * Attribute names danesweep's spans use: OpenTelemetry semantic conventions
 * (messaging.*, network.*, server.*, tls.*, dns.*, error.type) where one
 * fits, `danesweep.*` for the rest. Kept here as plain strings, in one place,
 * so every span spells them the same way (the incubating conventions'
 * package is not meant to be imported by libraries).
 */
export const ATTR = {
  messagingSystem: "messaging.system",
  messagingOperationType: "messaging.operation.type",
  messagingOperationName: "messaging.operation.name",
  messagingDestination: "messaging.destination.name",
  messagingConsumerGroup: "messaging.consumer.group.name",
  messagingPartition: "messaging.destination.partition.id",
  messagingKafkaKey: "messaging.kafka.message.key",
  messagingKafkaOffset: "messaging.kafka.offset",
  messagingBatchCount: "messaging.batch.message_count",
  networkPeerAddress: "network.peer.address",
  networkPeerPort: "network.peer.port",
  networkTransport: "network.transport",
  serverAddress: "server.address",
  tlsProtocolVersion: "tls.protocol.version",
  tlsCipher: "tls.cipher",
  tlsServerName: "tls.client.server_name",
  dnsQuestionName: "dns.question.name",
  errorType: "error.type",
  dbSystem: "db.system.name",
  dbOperation: "db.operation.name",
  dbBatchSize: "db.operation.batch.size",
  scan: "danesweep.scan",
  domain: "danesweep.domain",
  stage: "danesweep.stage",
  probeStatus: "danesweep.probe.status",
  probeReused: "danesweep.probe.reused",
  probeSni: "danesweep.probe.sni",
  verdictAction: "danesweep.verdict.action",
  verdictReason: "danesweep.verdict.reason",
  daneState: "danesweep.dane.state",
  joinProbes: "danesweep.join.probes",
} as const;
