/**
 * A fake DNS server (fake-server.ts) in a worker thread, so that it answers
 * while the test's event loop is blocked. workerData.sent is an Int32Array on
 * a SharedArrayBuffer: its first element counts the replies handed to the
 * kernel (Atomics.notify on each), so the blocked test can wait, with
 * Atomics.wait, until its reply is in the socket buffer. Posts its port once
 * listening; answers every question with one A record 192.0.2.1.
 */
import { parentPort, workerData } from "node:worker_threads";
import { respond, startFakeServer } from "./fake-server.ts";

const sent = workerData.sent as Int32Array;
const server = await startFakeServer((q) => [
  respond(q, { answers: [{ type: "A", name: q.name, ttl: 60, data: "192.0.2.1" }] }),
]);
server.onSent = () => {
  Atomics.add(sent, 0, 1);
  Atomics.notify(sent, 0);
};
parentPort!.on("message", async (m) => {
  if (m === "close") {
    await server.close();
    parentPort!.close();
  }
});
parentPort!.postMessage(server.port);
