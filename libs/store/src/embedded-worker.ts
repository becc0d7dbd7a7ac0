/**
 * The thread that serves an embedded data directory (embedded.ts): it binds
 * the directory's socket and runs PGlite, so that PostgreSQL's work runs on a
 * core of its own while the process's main thread runs the pipeline.
 *
 * workerData: { name, dataDir, command }: the socket, the directory, and the
 * command line owner.json records (the parent's: this thread's argv would
 * name this file).
 *
 * Messages from the parent: "stats" (answered with { stats }), "close" (the
 * server hands the directory over, then the thread answers "closed" and ends).
 * To the parent, once: { owned: true }, { owned: false } (someone else holds
 * the socket) or { error } (PGlite could not be opened).
 */
import { parentPort, workerData } from "node:worker_threads";
import { PgliteServer } from "./embedded.ts";

const { name, dataDir, command } = workerData as {
  name: string;
  dataDir: string | undefined;
  command: string;
};
const port = parentPort;
if (!port) throw new Error("embedded-worker.ts runs as a worker thread");

try {
  const server = await PgliteServer.tryOwn(name, dataDir, command);
  if (!server) {
    port.postMessage({ owned: false });
    port.close();
  } else {
    port.postMessage({ owned: true });
    port.on("message", async (m: unknown) => {
      if (m === "stats") {
        const mem = process.memoryUsage();
        port.postMessage({
          stats: { ...server.stats, wasmBytes: server.wasmBytes, threadHeapBytes: mem.heapUsed },
        });
      } else if (m === "close") {
        await server.close().catch(() => {});
        port.postMessage("closed");
        port.close();
      }
    });
  }
} catch (e) {
  port.postMessage({ error: (e as Error)?.message ?? String(e) });
  port.close();
}
