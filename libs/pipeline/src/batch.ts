/**
 * MicroBatcher: turns many concurrent single-item calls into few batch calls.
 * The stage shells handle one message at a time (many at once); the store is
 * far cheaper per row in batches (one statement, one transaction). Each
 * `submit(item)` resolves with that item's result once the batch containing it
 * has completed (so a handler still acknowledges its message only after its
 * own effects are durable), or rejects with the batch's error.
 *
 * A batch is cut at `maxItems` or `maxDelayMs` after its first item, whichever
 * comes first; at most `inFlight` batches run at once (default 1: one at a
 * time, in order), so that the next batch can be prepared while the store
 * works on the last. `run` must return one result per item, in the same order.
 *
 * `isolate(error)`: when a batch of several items fails with an error for
 * which it returns true (one that retrying the same batch would not cure),
 * each item is run again alone, so that one bad item fails alone and the
 * others succeed.
 */
export interface BatchOptions {
  maxItems: number;
  maxDelayMs: number;
  /** Batches running at once (default 1). */
  inFlight?: number;
  isolate?: (e: unknown) => boolean;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export class MicroBatcher<I, O> {
  readonly #run: (items: I[]) => Promise<O[]>;
  readonly #opts: BatchOptions;
  #queue: Pending<I, O>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running = 0;

  constructor(run: (items: I[]) => Promise<O[]>, opts: BatchOptions) {
    this.#run = run;
    this.#opts = opts;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#queue.length >= this.#opts.maxItems) this.#kick();
      else this.#timer ??= setTimeout(() => this.#kick(), this.#opts.maxDelayMs);
    });
  }

  #kick(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#running >= (this.#opts.inFlight ?? 1) || this.#queue.length === 0) return;
    this.#running++;
    const batch = this.#queue.splice(0, this.#opts.maxItems);
    this.#run(batch.map((p) => p.item))
      .then(
        (out) => {
          if (out.length !== batch.length) {
            const e = new Error(`batch returned ${out.length} results for ${batch.length} items`);
            for (const p of batch) p.reject(e);
          } else for (const [i, p] of batch.entries()) p.resolve(out[i]!);
        },
        async (e) => {
          if (batch.length > 1 && this.#opts.isolate?.(e)) {
            for (const p of batch) {
              try {
                const [o] = await this.#run([p.item]);
                p.resolve(o as O);
              } catch (e1) {
                p.reject(e1);
              }
            }
          } else for (const p of batch) p.reject(e);
        },
      )
      .finally(() => {
        this.#running--;
        // Whatever arrived meanwhile: cut at once if full, else wait for its timer.
        if (this.#queue.length >= this.#opts.maxItems) this.#kick();
        else if (this.#queue.length > 0)
          this.#timer ??= setTimeout(() => this.#kick(), this.#opts.maxDelayMs);
      });
  }
}
