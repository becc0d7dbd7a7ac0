/**
 * Admission control for connections: per destination IP a concurrency cap and
 * a token bucket, plus a global concurrency cap.
 *
 * acquire(ip) resolves once the caller may open a connection to `ip`:
 *   1. a per-IP slot (at most perIpConcurrency at once per IP),
 *   2. a global slot (at most globalConcurrency at once overall),
 *   3. a token from the IP's bucket, taken last so that connection starts,
 *      not admissions, are what the bucket spaces out.
 * It resolves { ok: true, release } (call release exactly once when the
 * connection is finished; extra calls are ignored), or { ok: false, reason:
 * "closed" } when close() ran first. Waiters are served first come, first served
 * per IP and globally.
 *
 * Memory is bounded: an IP's state is dropped when nothing holds or waits for
 * it and its bucket is full again (a fresh bucket would be identical); the
 * sweep is amortised over acquisitions. Time comes from the injected clock;
 * waiting for a token uses setTimeout.
 */
import { type BucketState, bucketIsFull, bucketTake } from "./bucket.ts";

export interface LimiterOptions {
  perIpRate: number;
  perIpBurst: number;
  perIpConcurrency: number;
  globalConcurrency: number;
  now: () => number;
}

export type Admission = { ok: true; release: () => void } | { ok: false; reason: "closed" };

interface Waiter {
  ip: string;
  resolve: (a: Admission) => void;
  timer?: NodeJS.Timeout;
}

interface IpState {
  active: number;
  queue: Waiter[];
  bucket: BucketState | undefined;
}

/** FIFO queue with O(1) amortised shift (also the resolver's slot waiters: libs/dns Slots). */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}

export class Limiter {
  private readonly o: LimiterOptions;
  private readonly ips = new Map<string, IpState>();
  private readonly globalQueue = new Fifo<Waiter>();
  private readonly tokenWaiters = new Set<Waiter>();
  private globalActive = 0;
  private sweepAt = 1024;
  private closed = false;

  constructor(o: LimiterOptions) {
    this.o = o;
  }

  acquire(ip: string): Promise<Admission> {
    if (this.closed) return Promise.resolve({ ok: false, reason: "closed" });
    return new Promise<Admission>((resolve) => {
      const w: Waiter = { ip, resolve };
      const st = this.state(ip);
      if (st.active < this.o.perIpConcurrency && st.queue.length === 0) {
        st.active++;
        this.toGlobal(w);
      } else {
        st.queue.push(w);
      }
    });
  }

  /** Numbers for Prober.stats(). */
  stats(): {
    trackedIps: number;
    active: number;
    waitingIp: number;
    waitingGlobal: number;
    waitingToken: number;
  } {
    let waitingIp = 0;
    for (const s of this.ips.values()) waitingIp += s.queue.length;
    return {
      trackedIps: this.ips.size,
      active: this.globalActive - this.tokenWaiters.size,
      waitingIp,
      waitingGlobal: this.globalQueue.length,
      waitingToken: this.tokenWaiters.size,
    };
  }

  /** Refuses new and waiting acquisitions; holders keep their slots until they release. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const refused: Waiter[] = [];
    for (const w of this.globalQueue.drain()) {
      this.ips.get(w.ip)!.active--;
      refused.push(w);
    }
    for (const w of this.tokenWaiters) {
      if (w.timer) clearTimeout(w.timer);
      this.ips.get(w.ip)!.active--;
      this.globalActive--;
      refused.push(w);
    }
    this.tokenWaiters.clear();
    for (const s of this.ips.values()) refused.push(...s.queue.splice(0));
    for (const w of refused) w.resolve({ ok: false, reason: "closed" });
  }

  private state(ip: string): IpState {
    let st = this.ips.get(ip);
    if (!st) {
      if (this.ips.size >= this.sweepAt) this.sweep();
      st = { active: 0, queue: [], bucket: undefined };
      this.ips.set(ip, st);
    }
    return st;
  }

  private sweep(): void {
    const now = this.o.now();
    for (const [ip, s] of this.ips) {
      if (
        s.active === 0 &&
        s.queue.length === 0 &&
        bucketIsFull(s.bucket, now, this.o.perIpRate, this.o.perIpBurst)
      ) {
        this.ips.delete(ip);
      }
    }
    this.sweepAt = Math.max(1024, this.ips.size * 2);
  }

  private toGlobal(w: Waiter): void {
    if (this.globalActive < this.o.globalConcurrency) {
      this.globalActive++;
      this.toToken(w);
    } else {
      this.globalQueue.push(w);
    }
  }

  private toToken(w: Waiter): void {
    const st = this.ips.get(w.ip)!;
    const r = bucketTake(st.bucket, this.o.now(), this.o.perIpRate, this.o.perIpBurst);
    st.bucket = r.state;
    if (r.waitMs === 0) {
      this.tokenWaiters.delete(w);
      w.timer = undefined;
      w.resolve({ ok: true, release: this.releaser(w.ip) });
      return;
    }
    this.tokenWaiters.add(w);
    w.timer = setTimeout(() => this.toToken(w), r.waitMs);
  }

  private releaser(ip: string): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.globalActive--;
      const st = this.ips.get(ip)!;
      st.active--;
      const nextGlobal = this.globalQueue.shift();
      if (nextGlobal) {
        this.globalActive++;
        this.toToken(nextGlobal);
      }
      const nextIp = st.queue.shift();
      if (nextIp) {
        st.active++;
        this.toGlobal(nextIp);
      } else if (
        st.active === 0 &&
        bucketIsFull(st.bucket, this.o.now(), this.o.perIpRate, this.o.perIpBurst)
      ) {
        this.ips.delete(ip);
      }
    };
  }
}
