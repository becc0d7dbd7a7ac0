/**
 * Following a scan that runs on a deployment (the stage services on Kafka,
 * PostgreSQL as the store) to completion: what `danesweep scan --kafka` and
 * the seeder service do after (and while) seeding. Progress is read from the
 * store only, so it is the same whichever process seeded the scan.
 *
 * followScan(o) polls every `pollMs`: streams new verdicts to `onVerdict`
 * through a VerdictFollower (once per domain, in judged order) and reads the
 * per-state counts. Outcomes, never thrown:
 * - "finished": input done and every seeded domain judged;
 * - "interrupted": `signal` aborted (the deployment keeps working; following
 *   again later picks up where the store is);
 * - "stuck": no progress for `stallMs` while `deadLetters()` reports messages
 *   of this scan dead-lettered: those domains cannot be judged; up to 100
 *   pending ones are listed.
 * Without dead letters a stall is only reported (`onStall`, once per
 * `stallMs`): the services may be down or restarting, and the scan resumes
 * when they return. Store errors while following are reported (`onStoreError`)
 * and retried on the next poll.
 */
import type { VerdictRecord } from "@danesweep/dane";
import type { PendingDomain, StateCounts, Store } from "@danesweep/store";
import { VerdictFollower } from "./follow.ts";

export type { StateCounts };

export interface FollowOptions {
  store: Store;
  scan: string;
  signal: AbortSignal;
  onVerdict: (r: VerdictRecord) => void | Promise<void>;
  /** True once every input line has been seeded; the scan cannot finish before. */
  inputDone: () => boolean;
  /** Messages of this scan dead-lettered so far. */
  deadLetters?: () => number;
  pollMs?: number;
  stallMs?: number;
  onStall?: (idleMs: number, counts: StateCounts) => void;
  onStoreError?: (e: unknown) => void;
  now?: () => number;
}

export interface FollowResult {
  state: "finished" | "interrupted" | "stuck";
  delivered: number;
  counts: StateCounts;
  stuck: PendingDomain[];
}

export class ScanFollower {
  readonly #o: FollowOptions;
  readonly #follower: VerdictFollower;
  counts: StateCounts = { judged: 0, total: 0 };

  constructor(o: FollowOptions) {
    this.#o = o;
    this.#follower = new VerdictFollower(o.store, o.scan, o.onVerdict);
  }

  get delivered(): number {
    return this.#follower.delivered;
  }

  async run(): Promise<FollowResult> {
    const o = this.#o;
    const now = o.now ?? Date.now;
    const pollMs = o.pollMs ?? 250;
    const stallMs = o.stallMs ?? 60_000;
    let lastChange = now();
    let lastStallReport = now();
    let fingerprint = "";
    const done = (state: FollowResult["state"], stuck: PendingDomain[] = []): FollowResult => ({
      state,
      delivered: this.#follower.delivered,
      counts: this.counts,
      stuck,
    });
    for (;;) {
      if (o.signal.aborted) return done("interrupted");
      const inputDone = o.inputDone();
      try {
        await this.#follower.drain();
        this.counts = await o.store.domainStateCounts(o.scan);
        // Verdicts stored between the drain and the count are delivered before finishing.
        if (inputDone && this.counts.judged >= this.counts.total) {
          await this.#follower.drain();
          await this.#follower.reconcile();
          return done("finished");
        }
      } catch (e) {
        o.onStoreError?.(e);
      }
      const fp = `${this.counts.total}/${this.counts.judged}/${this.#follower.delivered}`;
      const t = now();
      if (fp !== fingerprint || !inputDone) {
        fingerprint = fp;
        lastChange = t;
        lastStallReport = t;
      } else if (t - lastChange >= stallMs) {
        if ((o.deadLetters?.() ?? 0) > 0) {
          let stuck: PendingDomain[] = [];
          try {
            stuck = await o.store.pendingDomains(o.scan, { limit: 100 });
          } catch (e) {
            o.onStoreError?.(e);
          }
          return done("stuck", stuck);
        }
        if (t - lastStallReport >= stallMs) {
          lastStallReport = t;
          o.onStall?.(t - lastChange, this.counts);
        }
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(finish, pollMs);
        function finish() {
          clearTimeout(timer);
          o.signal.removeEventListener("abort", finish);
          r();
        }
        o.signal.addEventListener("abort", finish, { once: true });
      });
    }
  }
}
