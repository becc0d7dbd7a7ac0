/**
 * Ctrl-C and SIGTERM during a scan.
 * - The first signal prints `message` and aborts the returned signal: the scan
 *   stops cleanly, waiting for work in flight (a probe may take up to its
 *   deadline), and saves its progress.
 * - A second signal stops at once: it prints `secondMessage` (default
 *   SECOND_INTERRUPT_MESSAGE, a scan's) and calls `exit(EXIT.interrupted)`
 *   (130; default process.exit). What was judged is already stored;
 *   `--resume` finishes the scan.
 * `abort` stops the scan without a message (and is not a signal: a Ctrl-C
 * after it is still the first); `dispose` removes the handlers.
 */
import { EXIT } from "./exit-codes.ts";

export const SECOND_INTERRUPT_MESSAGE =
  "\ndanesweep: interrupted again; stopping now without waiting for work in flight " +
  "(verdicts already stored are kept; --resume finishes the scan)\n";

export function interruptOnSignals(
  stderr: NodeJS.WritableStream,
  message: string,
  exit: (code: number) => void = (code) => process.exit(code),
  secondMessage: string = SECOND_INTERRUPT_MESSAGE,
): { signal: AbortSignal; abort: () => void; dispose: () => void } {
  const controller = new AbortController();
  let signals = 0;
  const on = () => {
    signals++;
    if (signals > 1) {
      stderr.write(secondMessage);
      exit(EXIT.interrupted);
      return;
    }
    stderr.write(message);
    controller.abort();
  };
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return {
    signal: controller.signal,
    abort: () => controller.abort(),
    dispose: () => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    },
  };
}
