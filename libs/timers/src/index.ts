/**
 * Bounded waits: the one way the project waits for a promise with a time
 * limit (closing clients, shutting down, health checks). No dependencies
 * beyond Node; the verdict engine and other pure code never use it.
 *
 * - settlesWithin(p, ms, o): whether `p` settles, fulfilled or rejected,
 *   within `ms`. The timer is cleared as soon as either happens, so a wait
 *   that ended holds nothing; `unref: true` lets the process exit while the
 *   timer runs (for a bound that must not keep a finished process alive);
 *   `signal`: an abort ends the wait at once, as not settled.
 * - valueWithin(p, ms, fallback, o): `p`'s value when it is fulfilled within
 *   `ms`, `fallback()` when the time runs out first; a rejection of `p`
 *   within the time is passed on (the caller decides what an error means).
 *
 * A bound that is not unref'd holds the process until it fires or is
 * cleared: the caller that waits on something that may hold nothing else
 * (a handler blocked for good) gets its answer instead of a silent exit.
 */

export interface BoundOptions {
  /** Let the process exit while the timer runs (default false: the timer holds it). */
  unref?: boolean;
  /** Ends the wait at once when aborted (as if the time ran out). */
  signal?: AbortSignal;
}

const TIMED_OUT: unique symbol = Symbol("timed out");

/** `p`'s value, or TIMED_OUT when `ms` passed (or `signal` aborted) first; rejections pass on. */
async function bounded<T>(p: Promise<T>, ms: number, o: BoundOptions = {}): Promise<T | typeof TIMED_OUT> {
  if (o.signal?.aborted) return TIMED_OUT;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, ms));
    if (o.unref) timer.unref();
    if (o.signal) {
      onAbort = () => resolve(TIMED_OUT);
      o.signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
    if (onAbort) o.signal?.removeEventListener("abort", onAbort);
  }
}

/** Whether `p` settles (either way) within `ms`. */
export async function settlesWithin(p: Promise<unknown>, ms: number, o?: BoundOptions): Promise<boolean> {
  const settled = p.then(
    () => true,
    () => true,
  );
  return (await bounded(settled, ms, o)) !== TIMED_OUT;
}

/** `p`'s value when fulfilled within `ms`, else `fallback()`; a rejection within `ms` is passed on. */
export async function valueWithin<T, F>(
  p: Promise<T>,
  ms: number,
  fallback: () => F,
  o?: BoundOptions,
): Promise<T | F> {
  const v = await bounded(p, ms, o);
  return v === TIMED_OUT ? fallback() : v;
}
