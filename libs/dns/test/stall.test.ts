/**
 * A stalled event loop is not a DNS timeout (issue 11, item 4): the resolver's
 * query timer fires late after the loop was blocked (GC, a busy caller), while
 * the reply already sits unread in the socket buffer; the reply must win. The
 * server runs in a worker thread (stall-server.ts) and reports through shared
 * memory when its reply is in the kernel, so the test blocks until then and
 * then past the timeout, whatever the machine's load: nothing here depends on
 * how fast anything runs.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { StubResolver, type TransportMode } from "../src/index.ts";

const TIMEOUT_MS = 100;

/** Blocks the event loop until the server has sent reply number `n`, then for three timeouts more. */
function blockUntilSent(sent: Int32Array, n: number): void {
  for (;;) {
    const seen = Atomics.load(sent, 0);
    if (seen >= n) break;
    assert.notEqual(Atomics.wait(sent, 0, seen, 30_000), "timed-out", "the server never answered");
  }
  const t0 = performance.now();
  while (performance.now() - t0 < 3 * TIMEOUT_MS) {
    // busy: the query's timer expires while its reply waits in the socket
  }
}

for (const transport of ["udp", "tcp"] as TransportMode[]) {
  test(`${transport}: a reply that arrived while the loop was blocked past the timeout is taken`, async () => {
    const sent = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(new URL("./stall-server.ts", import.meta.url), { workerData: { sent } });
    const [port] = (await once(worker, "message")) as [number];
    const r = new StubResolver({
      upstreams: [`127.0.0.1:${port}`],
      timeoutMs: TIMEOUT_MS,
      retries: 0,
      transport,
      cache: false,
    });
    try {
      // open the socket (UDP connect, TCP connection) first
      assert.equal((await r.query("warm.example", "A")).outcome, "answer");
      // leave the socket's read callback: blocking inside it would let the same
      // read loop pick up the next reply before any timer runs
      await new Promise((res) => setImmediate(res));
      const before = Atomics.load(sent, 0);
      const pending = r.query("stalled.example", "A");
      // The query starts once it has a slot of the upstream's limit (a few microtasks
      // later, no I/O in between): let it start.
      for (let i = 0; i < 20; i++) await Promise.resolve();
      // TCP writes the queries of one turn together, in the next check phase: let it write
      if (transport === "tcp") await new Promise((res) => setImmediate(res));
      blockUntilSent(sent, before + 1);
      const l = await pending;
      assert.equal(l.outcome, "answer", `${l.outcome} ${l.error ?? ""}`);
      assert.deepEqual(l.records, ["192.0.2.1"]);
      const st = r.stats();
      assert.equal(st.timeouts, 0);
      assert.ok(st.lateTimers >= 1, "the late timer was seen");
    } finally {
      await r.close();
      worker.postMessage("close");
      await once(worker, "exit");
    }
  });
}

test("a server that never answers still times out after a stall (at most two re-arms)", async () => {
  const { startFakeServer } = await import("./fake-server.ts");
  const silent = await startFakeServer(() => []);
  const r = new StubResolver({ upstreams: [`127.0.0.1:${silent.port}`], timeoutMs: TIMEOUT_MS, retries: 0 });
  try {
    const pending = r.query("lost.example", "A");
    const t0 = performance.now();
    while (performance.now() - t0 < 3 * TIMEOUT_MS) {
      // stall
    }
    const l = await pending;
    assert.deepEqual([l.outcome, l.error], ["error", "timeout"]);
    assert.equal(r.stats().timeouts, 1);
    assert.ok(r.stats().lateTimers <= 2);
  } finally {
    await r.close();
    await silent.close();
  }
});
