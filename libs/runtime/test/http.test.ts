import assert from "node:assert/strict";
import { test } from "node:test";
import { startHttpServer } from "../src/http.ts";

test("healthz, readyz with each check's result, metrics, 404", async () => {
  let live = true;
  let storeUp = false;
  const s = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    live: () => live,
    checks: () => ({
      store: async () => (storeUp ? { ok: true } : { ok: false, detail: "down" }),
      bus: async () => ({ ok: true }),
      throws: async () => {
        if (!storeUp) throw new Error("boom");
        return { ok: true };
      },
    }),
    metrics: async () => "m 1\n",
  });
  const get = async (p: string) => {
    const r = await fetch(`http://127.0.0.1:${s.port}${p}`);
    return { status: r.status, body: await r.text(), type: r.headers.get("content-type") };
  };
  try {
    assert.equal((await get("/healthz")).status, 200);
    const notReady = await get("/readyz");
    assert.equal(notReady.status, 503);
    const body = JSON.parse(notReady.body);
    assert.deepEqual(body.checks.store, { ok: false, detail: "down" });
    assert.deepEqual(body.checks.bus, { ok: true });
    assert.deepEqual(body.checks.throws, { ok: false, detail: "boom" });
    storeUp = true;
    assert.equal((await get("/readyz")).status, 200);
    const m = await get("/metrics");
    assert.equal(m.body, "m 1\n");
    assert.match(m.type ?? "", /^text\/plain; version=0.0.4/);
    assert.equal((await get("/nope")).status, 404);
    live = false;
    assert.equal((await get("/healthz")).status, 503);
  } finally {
    await s.close();
  }
});
