/**
 * Ctrl-C and SIGTERM during a scan: the first signal prints `message` and
 * aborts the returned signal (the scan stops cleanly and saves progress);
 * `abort` stops the scan without a message; `dispose` removes the handlers.
 */
export function interruptOnSignals(
  stderr: NodeJS.WritableStream,
  message: string,
): { signal: AbortSignal; abort: () => void; dispose: () => void } {
  const controller = new AbortController();
  const on = () => {
    if (controller.signal.aborted) return;
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
