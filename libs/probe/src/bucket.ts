/**
 * Token bucket (pure: the time is an argument).
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens per second.
 * - bucketTake(state, now, rate, burst): takes one token when one is there
 *   ({ state, waitMs: 0 }); otherwise leaves the bucket as it is and says how
 *   many milliseconds until one will be ({ state, waitMs > 0 }). An undefined
 *   state is a full bucket. A clock that goes backwards adds nothing.
 * - bucketIsFull(state, now, rate, burst): whether the bucket is back to
 *   `burst` tokens, i.e. indistinguishable from a fresh one (it may be forgotten).
 * rate and burst must be > 0 (the caller validates its options).
 */

export interface BucketState {
  tokens: number;
  /** Time (ms) the token count was computed at. */
  at: number;
}

function refill(s: BucketState | undefined, now: number, rate: number, burst: number): BucketState {
  if (!s) return { tokens: burst, at: now };
  const elapsed = now > s.at ? now - s.at : 0;
  return { tokens: Math.min(burst, s.tokens + (elapsed * rate) / 1000), at: Math.max(now, s.at) };
}

export function bucketTake(
  state: BucketState | undefined,
  now: number,
  rate: number,
  burst: number,
): { state: BucketState; waitMs: number } {
  const s = refill(state, now, rate, burst);
  // tolerate float error: 0.9999999 tokens counts as one
  if (s.tokens >= 1 - 1e-9) return { state: { tokens: Math.max(0, s.tokens - 1), at: s.at }, waitMs: 0 };
  return { state: s, waitMs: Math.max(1, Math.ceil(((1 - s.tokens) * 1000) / rate)) };
}

export function bucketIsFull(
  state: BucketState | undefined,
  now: number,
  rate: number,
  burst: number,
): boolean {
  return refill(state, now, rate, burst).tokens >= burst - 1e-9;
}
