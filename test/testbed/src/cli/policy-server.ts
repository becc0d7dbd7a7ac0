/**
 * The testbed's HTTPS MTA-STS policy server (mta-sts.ts): serves
 * `GET /.well-known/mta-sts.txt` per Host, as the config says, until SIGTERM
 * or SIGINT (then closes and exits 0).
 *   node test/testbed/src/cli/policy-server.ts --config FILE.json
 * Config: { "servers": [ { "host", "port", "certFile" (chain, leaf first),
 *   "keyFile", "sites": { "<policy host>": { "status", "contentType"?, "body" } } } ] }
 * Any other path, or an unknown Host, is 404. One JSON line per request on
 * stdout ({"event":"request", host, path, sni, status}); {"event":"ready"}
 * once listening. Exit 2 on a bad config, 1 when a server cannot start.
 */
import { readFileSync } from "node:fs";
import https from "node:https";
import type { TLSSocket } from "node:tls";

interface Site {
  status: number;
  contentType?: string;
  body: string;
}
interface ServerConfig {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  sites: Record<string, Site>;
}

function usage(msg: string): never {
  process.stderr.write(`policy-server: ${msg}\nusage: policy-server.ts --config FILE.json\n`);
  process.exit(2);
}

const i = process.argv.indexOf("--config");
const file = i > 0 ? process.argv[i + 1] : undefined;
if (!file) usage("missing --config");
let servers: ServerConfig[];
try {
  servers = (JSON.parse(readFileSync(file, "utf8")) as { servers: ServerConfig[] }).servers;
} catch (e) {
  usage(`cannot read ${file}: ${(e as Error).message}`);
}
if (!Array.isArray(servers)) usage("config has no servers array");

const running: https.Server[] = [];
async function stop(): Promise<void> {
  for (const s of running) s.closeAllConnections();
  await Promise.allSettled(running.map((s) => new Promise((r) => s.close(r))));
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

for (const c of servers) {
  const server = https.createServer(
    { cert: readFileSync(c.certFile), key: readFileSync(c.keyFile) },
    (req, res) => {
      const host = String(req.headers.host ?? "")
        .toLowerCase()
        .replace(/:\d+$/, "");
      const site = req.url === "/.well-known/mta-sts.txt" ? c.sites[host] : undefined;
      const status = site?.status ?? 404;
      res.writeHead(status, { "content-type": site?.contentType ?? "text/plain" });
      res.end(site?.body ?? "not found\n");
      const sni = (req.socket as TLSSocket).servername || null;
      process.stdout.write(`${JSON.stringify({ event: "request", host, path: req.url, sni, status })}\n`);
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(c.port, c.host, () => resolve());
    });
  } catch (e) {
    process.stderr.write(`policy-server: cannot listen on ${c.host}:${c.port}: ${(e as Error).message}\n`);
    process.exit(1);
  }
  running.push(server);
  process.stdout.write(`${JSON.stringify({ event: "listening", host: c.host, port: c.port })}\n`);
}
process.stdout.write(`${JSON.stringify({ event: "ready" })}\n`);
