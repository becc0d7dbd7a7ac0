import assert from "node:assert/strict";
import { test } from "node:test";
import type { VerdictRecord } from "@danesweep/dane";
import type { Store } from "@danesweep/store";
import { VerdictFollower } from "../src/follow.ts";

/**
 * A stand-in for the store's verdictsSince and verdictsAt over rows that
 * become visible over time (unit test only); `read` counts the rows returned.
 */
function rows() {
  const visible: { seq: number; domain: string }[] = [];
  const out = (list: { seq: number; domain: string }[]) => {
    counts.read += list.length;
    return list.map((r) => ({ seq: r.seq, record: { domain: r.domain } as VerdictRecord }));
  };
  const counts = { read: 0 };
  const store = {
    async verdictsSince(_scan: string, after: number, limit: number) {
      return out(
        visible
          .filter((r) => r.seq > after)
          .sort((a, b) => a.seq - b.seq)
          .slice(0, limit),
      );
    },
    async verdictsAt(_scan: string, seqs: number[]) {
      const want = new Set(seqs);
      return out(visible.filter((r) => want.has(r.seq)).sort((a, b) => a.seq - b.seq));
    },
  } as unknown as Store;
  return { store, counts, commit: (seq: number, domain: string) => visible.push({ seq, domain }) };
}

test("a verdict committed after a higher judged_seq is still delivered, once", async () => {
  const { store, commit } = rows();
  let t = 0;
  const got: string[] = [];
  const f = new VerdictFollower(store, "s", (r) => void got.push(r.domain), { gapMs: 1000, now: () => t });
  commit(1, "a");
  commit(3, "c"); // 2 is still in flight
  await f.drain();
  assert.deepEqual(got, ["a", "c"]);
  commit(2, "b"); // commits late, before the gap times out
  t = 500;
  await f.drain();
  assert.deepEqual(got, ["a", "c", "b"]);
  await f.drain();
  assert.equal(f.delivered, 3);
});

test("gaps of other scans are passed after gapMs; a verdict in a skipped gap is delivered by reconcile", async () => {
  const { store, commit } = rows();
  let t = 0;
  const got: string[] = [];
  const f = new VerdictFollower(store, "s", (r) => void got.push(r.domain), { gapMs: 1000, now: () => t });
  commit(1, "a");
  commit(5, "e"); // 2..4: another scan, or a transaction still open
  await f.drain();
  t = 2000;
  await f.drain(); // the gap is skipped now
  commit(3, "c"); // a very late commit inside the skipped range
  commit(6, "f");
  await f.drain();
  assert.deepEqual(got, ["a", "e", "f"]);
  assert.equal(await f.reconcile(), 1);
  assert.equal(await f.reconcile(), 0);
  assert.deepEqual(got, ["a", "e", "f", "c"]);
  assert.equal(f.delivered, 4);
});

test("a gap does not make each drain re-read what is above it", async () => {
  const { store, counts, commit } = rows();
  let t = 0;
  let got = 0;
  const f = new VerdictFollower(store, "s", () => void got++, { gapMs: 5000, now: () => t });
  commit(1, "d1");
  for (let seq = 3; seq <= 3001; seq++) commit(seq, `d${seq}`); // 2 is in flight
  for (let i = 0; i < 20; i++) {
    t += 200; // 20 drains, all within gapMs
    await f.drain();
  }
  assert.equal(got, 3000);
  assert.ok(counts.read <= 3000, `rows read over 20 drains: ${counts.read}`);
  commit(2, "d2");
  await f.drain();
  assert.equal(got, 3001);
  commit(3002, "d3002");
  await f.drain();
  assert.equal(f.delivered, 3002);
});
