/**
 * Starts the SMTP test servers listed in a JSON config and runs until SIGTERM
 * or SIGINT (then closes them and exits 0).
 *   node test/smtp/bin/smtp-servers.ts --config FILE.json
 * Config (stable format, used by test/testbed):
 *   { "servers": [ { "host": "127.x.y.z", "port": 25, "mode": "starttls",
 *                    "certFile": "leaf-chain.pem", "keyFile": "leaf.key",
 *                    (or lists of files, in the same order, for a server with
 *                    an RSA and an ECDSA certificate)
 *                    "banner"?: "...", "hostname"?: "...", "recordFile"?: "...",
 *                    "bannerDelayMs"?: n, "hugeLineBytes"?: n, "chainLength"?: n } ] }
 * Relative file paths are taken from the config file's directory. Prints one
 * JSON line per server ({"event":"listening","host","port","mode"}) and then
 * {"event":"ready"} on stdout. Exit code 2 on a bad config, 1 when a server
 * cannot start (the reason on stderr).
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type Mode, SMTP_MODES, type SmtpServerHandle, startSmtpServer } from "../src/server.ts";

interface ServerConfig {
  host: string;
  port: number;
  mode: Mode;
  certFile?: string | string[];
  keyFile?: string | string[];
  banner?: string;
  hostname?: string;
  recordFile?: string;
  bannerDelayMs?: number;
  hugeLineBytes?: number;
  chainLength?: number;
}

function usage(msg: string): never {
  process.stderr.write(`smtp-servers: ${msg}\nusage: smtp-servers.ts --config FILE.json\n`);
  process.exit(2);
}

const i = process.argv.indexOf("--config");
const file = i > 0 ? process.argv[i + 1] : undefined;
if (!file) usage("missing --config");
let config: { servers?: unknown };
try {
  config = JSON.parse(readFileSync(file, "utf8"));
} catch (e) {
  usage(`cannot read ${file}: ${(e as Error).message}`);
}
if (!Array.isArray(config.servers)) usage("config has no servers array");
const base = dirname(resolve(file));
const servers = config.servers as ServerConfig[];
servers.forEach((s, n) => {
  if (typeof s?.host !== "string" || !Number.isInteger(s.port) || s.port < 0 || s.port > 65535) {
    usage(`servers[${n}]: host and port are required`);
  }
  if (!SMTP_MODES.includes(s.mode)) usage(`servers[${n}]: unknown mode ${JSON.stringify(s.mode)}`);
  if (Boolean(s.certFile) !== Boolean(s.keyFile)) usage(`servers[${n}]: certFile and keyFile go together`);
  if (
    Array.isArray(s.certFile) !== Array.isArray(s.keyFile) ||
    [s.certFile].flat().length !== [s.keyFile].flat().length
  ) {
    usage(`servers[${n}]: certFile and keyFile must list as many files`);
  }
});

function readFiles(f: string | string[] | undefined): Buffer | Buffer[] | undefined {
  if (f === undefined) return undefined;
  return Array.isArray(f) ? f.map((x) => readFileSync(resolve(base, x))) : readFileSync(resolve(base, f));
}

const handles: SmtpServerHandle[] = [];
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled(handles.map((h) => h.close()));
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

for (const s of servers) {
  try {
    const h = await startSmtpServer({
      host: s.host,
      port: s.port,
      mode: s.mode,
      key: readFiles(s.keyFile),
      cert: readFiles(s.certFile),
      banner: s.banner,
      hostname: s.hostname,
      recordFile: s.recordFile ? resolve(base, s.recordFile) : undefined,
      bannerDelayMs: s.bannerDelayMs,
      hugeLineBytes: s.hugeLineBytes,
      chainLength: s.chainLength,
    });
    handles.push(h);
    process.stdout.write(
      `${JSON.stringify({ event: "listening", host: h.host, port: h.port, mode: s.mode })}\n`,
    );
  } catch (e) {
    process.stderr.write(
      `smtp-servers: cannot start ${s.host}:${s.port} (${s.mode}): ${(e as Error).message}\n`,
    );
    await Promise.allSettled(handles.map((h) => h.close()));
    process.exit(1);
  }
}
process.stdout.write(`${JSON.stringify({ event: "ready" })}\n`);
