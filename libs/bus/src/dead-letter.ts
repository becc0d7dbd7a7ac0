/**
 * The dead-letter message every adapter writes: the original key, value and
 * headers, plus the reason headers of bus.ts (HEADER.deadLetter*) and the
 * extra ones below. `deadLetterMessage` is pure; `readDeadLetter` reads the
 * reason back from a message on a `.dlq` topic (undefined fields when absent).
 */
import type { DeadLetterReason, Headers, IncomingMessage, OutgoingMessage } from "./bus.ts";
import { DEAD_LETTER_REASONS, deadLetterTopic, HEADER } from "./bus.ts";

/** Extra dead-letter headers (beyond HEADER in bus.ts). */
export const DLQ_HEADER = {
  group: "x-dlq-group",
  attempts: "x-dlq-attempts",
  sourcePartition: "x-dlq-source-partition",
  sourceOffset: "x-dlq-source-offset",
} as const;

const MAX_DETAIL = 1000;

export function deadLetterMessage(
  msg: IncomingMessage,
  reason: DeadLetterReason,
  detail: string,
  ctx: { group: string; attempts: number },
): OutgoingMessage {
  const headers: Headers = {
    ...msg.headers,
    [HEADER.deadLetterReason]: reason,
    [HEADER.deadLetterDetail]: detail.slice(0, MAX_DETAIL),
    [HEADER.deadLetterSourceTopic]: msg.topic,
    [DLQ_HEADER.group]: ctx.group,
    [DLQ_HEADER.attempts]: String(ctx.attempts),
    [DLQ_HEADER.sourcePartition]: String(msg.partition),
    [DLQ_HEADER.sourceOffset]: msg.offset,
  };
  return { topic: deadLetterTopic(msg.topic), key: msg.key, value: msg.value, headers };
}

export interface DeadLetterInfo {
  reason?: DeadLetterReason;
  detail?: string;
  sourceTopic?: string;
  group?: string;
}

export function readDeadLetter(headers: Headers): DeadLetterInfo {
  const r = headers[HEADER.deadLetterReason];
  const info: DeadLetterInfo = {};
  if (r !== undefined && (DEAD_LETTER_REASONS as readonly string[]).includes(r))
    info.reason = r as DeadLetterReason;
  const d = headers[HEADER.deadLetterDetail];
  if (d !== undefined) info.detail = d;
  const s = headers[HEADER.deadLetterSourceTopic];
  if (s !== undefined) info.sourceTopic = s;
  const g = headers[DLQ_HEADER.group];
  if (g !== undefined) info.group = g;
  return info;
}
