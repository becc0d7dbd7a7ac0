/** Admission control: caps, ordering, closing and bounded per-IP state. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Limiter } from "../src/limiter.ts";

const opts = {
  perIpRate: 1000,
  perIpBurst: 1000,
  perIpConcurrency: 2,
  globalConcurrency: 3,
  now: () => Date.now(),
};

test("per-IP and global concurrency caps hold, waiters served as slots free", async () => {
  const l = new Limiter(opts);
  const order: string[] = [];
  const got = ["a", "a", "a", "b", "c", "c"].map((ip, i) =>
    l.acquire(ip).then((a) => {
      order.push(`${ip}${i}`);
      return a;
    }),
  );
  await new Promise((r) => setTimeout(r, 20));
  // a0, a1 (per-IP 2), b3 (global 3); a2 waits for a's slot, c4 c5 for global slots
  assert.deepEqual(order, ["a0", "a1", "b3"]);
  assert.deepEqual(l.stats(), { trackedIps: 3, active: 3, waitingIp: 1, waitingGlobal: 2, waitingToken: 0 });
  const a0 = await got[0]!;
  assert.ok(a0.ok);
  a0.release();
  a0.release(); // ignored
  await new Promise((r) => setTimeout(r, 20));
  // a's freed global slot goes to the first global waiter (c4); a2 gets a's IP slot and queues globally
  assert.deepEqual(order, ["a0", "a1", "b3", "c4"]);
  assert.equal(l.stats().active, 3);
  l.close();
  const rest = await Promise.all(got.slice(2));
  assert.deepEqual(
    rest.map((x) => x.ok),
    [false, true, true, false],
  );
  assert.equal((await l.acquire("z")).ok, false);
});

test("state for idle IPs is dropped: 100k distinct IPs leave a bounded map", async () => {
  let now = 0;
  const l = new Limiter({ ...opts, perIpRate: 1, perIpBurst: 2, globalConcurrency: 10, now: () => now });
  let maxTracked = 0;
  for (let i = 0; i < 100_000; i++) {
    const a = await l.acquire(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.ok(a.ok);
    a.release();
    now += 1; // 1 ms apart: each bucket needs 1 s to refill, so ~1000 are not yet fresh
    maxTracked = Math.max(maxTracked, l.stats().trackedIps);
  }
  assert.ok(maxTracked <= 2048 + 1, `tracked ${maxTracked}`);
});
