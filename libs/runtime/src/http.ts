/**
 * The service's small HTTP server (node:http): GET /healthz (liveness: 200
 * while the process runs, 503 once it is shutting down), GET /readyz (200
 * when every readiness check passes, else 503, with each check's result as
 * JSON), GET /metrics (Prometheus text). Anything else is 404.
 *
 * startHttpServer(o) resolves with the bound port (o.port 0 picks one), or
 * rejects with the listen error (EADDRINUSE...). A check that throws or takes
 * longer than 2 s counts as failed; the metrics callback's failure is a 500.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { valueWithin } from "@danesweep/timers";

export type CheckResult = { ok: true } | { ok: false; detail: string };

export interface HttpServerOptions {
  host: string;
  port: number;
  live: () => boolean;
  checks: () => Record<string, () => Promise<CheckResult>>;
  metrics: () => Promise<string>;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 2000;

async function runCheck(fn: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await valueWithin(fn(), CHECK_TIMEOUT_MS, (): CheckResult => ({ ok: false, detail: "timed out" }));
  } catch (e) {
    return { ok: false, detail: (e as Error)?.message ?? String(e) };
  }
}

export async function readiness(
  checks: Record<string, () => Promise<CheckResult>>,
): Promise<{ ok: boolean; checks: Record<string, CheckResult> }> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((n) => runCheck(checks[n] as () => Promise<CheckResult>)));
  const out: Record<string, CheckResult> = {};
  names.forEach((n, i) => {
    out[n] = results[i] as CheckResult;
  });
  return { ok: results.every((r) => r.ok), checks: out };
}

export function startHttpServer(o: HttpServerOptions): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "method not allowed\n");
    if (path === "/healthz")
      return o.live() ? send(200, "text/plain", "ok\n") : send(503, "text/plain", "stopping\n");
    if (path === "/readyz") {
      void readiness(o.checks()).then((r) =>
        send(r.ok ? 200 : 503, "application/json", `${JSON.stringify(r)}\n`),
      );
      return;
    }
    if (path === "/metrics") {
      o.metrics().then(
        (text) => send(200, "text/plain; version=0.0.4; charset=utf-8", text),
        (e) => send(500, "text/plain", `metrics failed: ${(e as Error)?.message}\n`),
      );
      return;
    }
    send(404, "text/plain", "not found\n");
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
