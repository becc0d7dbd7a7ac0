/** Waiting in the bus's tests: a sleep, and polling a condition until it holds or time runs out. */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `f` every 50 ms until it returns a truthy value, which it returns;
 * after `timeoutMs` throws "timed out waiting for <what>", followed by
 * `detail()` when given (the state the test saw last).
 */
export async function until<T>(
  what: string,
  f: () => T | undefined | false,
  timeoutMs = 30_000,
  detail?: () => string,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail ? `; ${detail()}` : ""}`);
    await sleep(50);
  }
}
