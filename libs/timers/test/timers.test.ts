import assert from "node:assert/strict";
import { test } from "node:test";
import { settlesWithin, valueWithin } from "../src/index.ts";

const never = () => new Promise<never>(() => {});

test("settlesWithin: fulfilled or rejected in time is true; never is false once the time runs out", async () => {
  assert.equal(await settlesWithin(Promise.resolve(1), 1000), true);
  assert.equal(await settlesWithin(Promise.reject(new Error("closing failed")), 1000), true);
  const t0 = performance.now();
  assert.equal(await settlesWithin(never(), 80), false);
  const waited = performance.now() - t0;
  assert.ok(waited >= 75 && waited < 1000, `waited ${waited.toFixed(0)} ms for an 80 ms bound`);
});

test("settlesWithin: an abort ends the wait at once, as not settled; an aborted signal does not wait at all", async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 30);
  const t0 = performance.now();
  assert.equal(await settlesWithin(never(), 10_000, { signal: ac.signal }), false);
  assert.ok(performance.now() - t0 < 5000);
  assert.equal(await settlesWithin(Promise.resolve(), 10_000, { signal: ac.signal }), false);
});

test("valueWithin: the value in time, the fallback after it; a rejection in time is passed on", async () => {
  assert.equal(await valueWithin(Promise.resolve("v"), 1000, () => "late"), "v");
  assert.equal(await valueWithin(never(), 50, () => "late"), "late");
  await assert.rejects(
    valueWithin(Promise.reject(new Error("boom")), 1000, () => "late"),
    /boom/,
  );
});

test("a wait that ended holds nothing: the process has no timer of it left", async () => {
  const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  await settlesWithin(Promise.resolve(), 60_000);
  await valueWithin(Promise.resolve(1), 60_000, () => 0);
  const after = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  assert.equal(after, before);
});

test("unref: a bound that does not hold the process lets a child exit while it runs", async () => {
  const { spawnSync } = await import("node:child_process");
  const src = new URL("../src/index.ts", import.meta.url).href;
  const code = (unref: boolean) =>
    `import { settlesWithin } from ${JSON.stringify(src)};
     settlesWithin(new Promise(() => {}), 5000, { unref: ${unref} }).then(() => console.log("bound fired"));`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code(true)], { encoding: "utf8" });
  assert.equal(r.status, 0);
  assert.equal(r.stdout, "", "the process ended before the 5 s bound");
  assert.ok(performance.now() - t0 < 4500);
  const held = spawnSync(
    process.execPath,
    ["--input-type=module", "-e", code(false).replace("5000", "200")],
    {
      encoding: "utf8",
    },
  );
  assert.equal(held.stdout.trim(), "bound fired", "a bound that holds the process fires");
});
