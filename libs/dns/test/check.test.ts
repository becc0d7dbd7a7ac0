/** The start-up gate (rule 2): AD=1 on the root SOA, or a clear refusal naming the resolver. */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { checkValidating, requireValidating, StubResolver } from "../src/index.ts";
import { AD, type FakeServer, RA, RD, respond, startFakeServer } from "./fake-server.ts";

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const soa = {
  type: "SOA" as const,
  name: ".",
  ttl: 86400,
  data: { mname: "a.root", rname: "h.root", serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 },
};

describe("checkValidating", () => {
  test("AD=1 passes, AD=0 is not-validating, silence is unreachable, SERVFAIL is error", async () => {
    const validating = await startFakeServer((q) => [respond(q, { flags: RD | RA | AD, answers: [soa] })]);
    const plain = await startFakeServer((q) => [respond(q, { answers: [soa] })]);
    const silent = await startFakeServer(() => []);
    const failing = await startFakeServer((q) => [respond(q, { rcode: 2 })]);
    servers.push(validating, plain, silent, failing);
    const ups = [validating, plain, silent, failing].map((s) => `127.0.0.1:${s.port}`);
    const r = new StubResolver({ upstreams: ups, timeoutMs: 150, retries: 1 });
    const checks = await checkValidating(r);
    await r.close();
    assert.deepEqual(
      checks.map((c) => [c.upstream, c.ok ? "ok" : c.error]),
      [
        [ups[0], "ok"],
        [ups[1], "not-validating"],
        [ups[2], "unreachable"],
        [ups[3], "error"],
      ],
    );
    // Each check stays on its own upstream, even when retrying.
    assert.equal(silent.received.length, 2);
    assert.equal(validating.received.length, 1);
    assert.equal(validating.received[0]!.name, ".");
    assert.equal(validating.received[0]!.type, "SOA");

    const refused = requireValidating(checks, { acceptIndeterminate: false });
    assert.equal(refused.ok, false);
    if (!refused.ok) {
      for (const u of ups.slice(1)) assert.ok(refused.message.includes(u), `message names ${u}`);
      assert.ok(!refused.message.includes(`${ups[0]}:`));
    }
    assert.deepEqual(requireValidating(checks, { acceptIndeterminate: true }), {
      ok: true,
      resolverValidates: false,
    });
    assert.deepEqual(requireValidating([checks[0]!], { acceptIndeterminate: false }), {
      ok: true,
      resolverValidates: true,
    });
  });
});
