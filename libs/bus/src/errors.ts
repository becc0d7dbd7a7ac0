/**
 * The closed set of errors the bus adapters reject with. Callers branch on
 * `code`, never on the message text.
 * - bus-closed: publish or consume after close() (or a publish still waiting
 *   for queue space when close() was called);
 * - invalid-options: a ConsumeOptions / TopicSpec / message field out of range
 *   (empty topic or group, concurrency < 1, partitions < 1).
 */
export const BUS_ERROR_CODES = ["bus-closed", "invalid-options"] as const;
export type BusErrorCode = (typeof BUS_ERROR_CODES)[number];

export class BusError extends Error {
  readonly code: BusErrorCode;
  readonly canRetry: boolean;
  constructor(code: BusErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = "BusError";
    this.code = code;
    this.canRetry = false;
  }
}

export function isBusError(e: unknown): e is BusError {
  return e instanceof BusError;
}
