/**
 * Following a scan's verdicts from the store in the order they were first
 * stored (judged_seq): how the CLI prints results, the same way on the
 * embedded default and against a deployment. Each verdict is delivered once
 * per follower, even when the aggregator judged a domain twice.
 *
 * judged_seq values are taken inside the verdict transactions, so with
 * concurrent writers (several aggregator handlers or instances) a lower value
 * can become visible after a higher one, and values of other scans or of
 * rolled-back transactions never appear for this scan. The follower therefore
 * keeps a contiguous cursor, delivers what it sees above it at once
 * (remembering those sequence numbers), and moves the cursor over a missing
 * value only once it has been missing for `gapMs`. Skipped values are kept as
 * ranges; `reconcile()` delivers any verdict that became visible in one of
 * them later (call it once the scan is complete), so no verdict is missed.
 * `now` is injected for tests.
 */
import type { VerdictRecord } from "@danesweep/dane";
import type { Store } from "@danesweep/store";

const PAGE = 1000;

export class VerdictFollower {
  #cursor = 0;
  /** The highest position delivered. */
  #high = 0;
  readonly #ahead = new Set<number>();
  #gap: { seq: number; since: number } | undefined;
  readonly #skipped: [number, number][] = [];
  readonly #store: Store;
  readonly #scan: string;
  readonly #onVerdict: (r: VerdictRecord) => void | Promise<void>;
  readonly #gapMs: number;
  readonly #now: () => number;
  delivered = 0;

  constructor(
    store: Store,
    scan: string,
    onVerdict: (r: VerdictRecord) => void | Promise<void>,
    opts: { gapMs?: number; now?: () => number } = {},
  ) {
    this.#store = store;
    this.#scan = scan;
    this.#onVerdict = onVerdict;
    this.#gapMs = opts.gapMs ?? 5000;
    this.#now = opts.now ?? Date.now;
  }

  /** Delivers every verdict stored since the last call; returns how many. */
  async drain(): Promise<number> {
    let n = 0;
    const deliver = async (page: { seq: number; record: VerdictRecord }[]) => {
      for (const v of page) {
        if (v.seq <= this.#cursor || this.#ahead.has(v.seq)) continue;
        await this.#onVerdict(v.record);
        this.#ahead.add(v.seq);
        if (v.seq > this.#high) this.#high = v.seq;
        n++;
      }
    };
    // Values missing below the highest delivered one are asked for by position
    // (a bounded query), never by re-reading everything above the cursor.
    const missing: number[] = [];
    for (let q = this.#cursor + 1; q < this.#high && missing.length < PAGE; q++) {
      if (!this.#ahead.has(q)) missing.push(q);
    }
    if (missing.length > 0) await deliver(await this.#store.verdictsAt(this.#scan, missing));
    // Then whatever is new.
    for (;;) {
      const after = Math.max(this.#cursor, this.#high);
      const page = await this.#store.verdictsSince(this.#scan, after, PAGE);
      await deliver(page);
      if (page.length < PAGE) break;
    }
    this.#advance(this.#high);
    this.delivered += n;
    return n;
  }

  /** Moves the cursor over delivered values and over values missing for gapMs (up to `seen`). */
  #advance(seen: number): void {
    for (;;) {
      while (this.#ahead.has(this.#cursor + 1)) {
        this.#cursor++;
        this.#ahead.delete(this.#cursor);
      }
      if (this.#ahead.size === 0 || this.#cursor >= seen) {
        this.#gap = undefined;
        return;
      }
      const missing = this.#cursor + 1;
      const t = this.#now();
      if (this.#gap?.seq !== missing) {
        this.#gap = { seq: missing, since: t };
        return;
      }
      if (t - this.#gap.since < this.#gapMs) return;
      // Skip the whole run of missing values up to the next delivered one.
      let next = missing;
      while (!this.#ahead.has(next + 1)) next++;
      const last = this.#skipped[this.#skipped.length - 1];
      if (last && last[1] === missing - 1) last[1] = next;
      else this.#skipped.push([missing, next]);
      this.#cursor = next;
      this.#gap = undefined;
    }
  }

  /** Delivers verdicts that became visible in skipped ranges; returns how many. */
  async reconcile(): Promise<number> {
    let n = 0;
    let batch: number[] = [];
    const flush = async () => {
      for (const v of await this.#store.verdictsAt(this.#scan, batch)) {
        if (this.#ahead.has(v.seq)) continue;
        await this.#onVerdict(v.record);
        this.#ahead.add(v.seq);
        n++;
      }
      batch = [];
    };
    for (const [from, to] of this.#skipped) {
      for (let q = from; q <= to; q++) {
        batch.push(q);
        if (batch.length === PAGE) await flush();
      }
    }
    await flush();
    this.delivered += n;
    return n;
  }
}
