/** A time as the store returns it: ISO 8601 UTC, whether the driver gave a Date or text. */
export function iso(v: unknown): string {
  return (v instanceof Date ? v : new Date(String(v))).toISOString();
}

/**
 * CPU time of the calling thread, in ms (user and system). What the store's
 * cost figures (Store.stats: codecMs, backendMs) add up: unlike a clock, it
 * does not count the time the thread waited for a core on a busy machine.
 */
export function threadCpuMs(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
}
