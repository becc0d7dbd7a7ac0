/**
 * Following a scan's verdicts from the store in the order they were first
 * stored (judged_seq): how the CLI prints results, the same way on the
 * embedded default and against a deployment. Each verdict is delivered once
 * per follower, even when the aggregator judged a domain twice.
 */
import type { VerdictRecord } from "@danesweep/dane";
import type { Store } from "@danesweep/store";

export class VerdictFollower {
  #cursor = 0;
  readonly #store: Store;
  readonly #scan: string;
  readonly #onVerdict: (r: VerdictRecord) => void | Promise<void>;
  delivered = 0;

  constructor(store: Store, scan: string, onVerdict: (r: VerdictRecord) => void | Promise<void>) {
    this.#store = store;
    this.#scan = scan;
    this.#onVerdict = onVerdict;
  }

  /** Delivers every verdict stored since the last call; returns how many. */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      const page = await this.#store.verdictsSince(this.#scan, this.#cursor, 1000);
      for (const v of page) {
        await this.#onVerdict(v.record);
        this.#cursor = v.seq;
      }
      n += page.length;
      if (page.length < 1000) break;
    }
    this.delivered += n;
    return n;
  }
}
