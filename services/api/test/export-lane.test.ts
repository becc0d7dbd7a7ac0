import assert from "node:assert/strict";
import { test } from "node:test";
import { ExportLane } from "../src/exports.ts";

test("the export lane runs one query at a time, each on a later turn of the event loop than what was queued before it", async () => {
  const lane = new ExportLane();
  const order: string[] = [];
  let running = 0;
  let most = 0;
  const query = (n: number) =>
    lane.run(async () => {
      running++;
      most = Math.max(most, running);
      order.push(`start ${n}`);
      await new Promise((r) => setTimeout(r, 5));
      order.push(`end ${n}`);
      running--;
      // Another request's work, queued as this query ends: it goes before the next query.
      if (n === 1) setImmediate(() => order.push("other request"));
      return n;
    });
  setImmediate(() => order.push("queued first"));
  const results = await Promise.all([query(1), query(2), query(3)]);
  assert.deepEqual(results, [1, 2, 3]);
  assert.equal(most, 1);
  assert.deepEqual(order, [
    "queued first",
    "start 1",
    "end 1",
    "other request",
    "start 2",
    "end 2",
    "start 3",
    "end 3",
  ]);
  // A query that fails frees the lane.
  await assert.rejects(
    lane.run(async () => Promise.reject(new Error("gone"))),
    /gone/,
  );
  assert.equal(await lane.run(async () => "next"), "next");
});
