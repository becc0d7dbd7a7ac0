/**
 * The development/test broker (scripts/services/kafka.sh) from TypeScript.
 *
 * - devBrokerAddress(): "127.0.0.1:29092" unless DANESWEEP_KAFKA_BOOTSTRAP is set.
 * - ensureDevBroker(): resolves with the bootstrap address once a broker
 *   answers there; when nothing listens, runs `scripts/services/kafka.sh up`
 *   (which fetches, formats and starts it, and waits for readiness) and never
 *   stops it. Rejects with DevBrokerError ("dev-broker-unavailable") carrying
 *   the script's exit status and output tail. DANESWEEP_KAFKA_BOOTSTRAP set:
 *   that broker is used as is, the script is not run.
 */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

export function devBrokerAddress(): string {
  return process.env.DANESWEEP_KAFKA_BOOTSTRAP ?? "127.0.0.1:29092";
}

export class DevBrokerError extends Error {
  readonly code = "dev-broker-unavailable" as const;
  readonly canRetry = false;
  constructor(detail: string) {
    super(`dev-broker-unavailable: ${detail}`);
    this.name = "DevBrokerError";
  }
}

function listening(address: string, timeoutMs = 1000): Promise<boolean> {
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  return new Promise((res) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      res(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

let pending: Promise<string> | undefined;

export function ensureDevBroker(): Promise<string> {
  pending ??= (async () => {
    const address = devBrokerAddress();
    if (process.env.DANESWEEP_KAFKA_BOOTSTRAP) return address;
    // `up` is idempotent and returns at once when the broker is ready; run it
    // even when the port is open, so a broker still starting is waited for.
    if (await listening(address)) {
      const status = await run(["status"]).catch(() => undefined);
      if (status && status.code === 0 && status.out.startsWith("running")) return address;
    }
    const r = await run(["up"]);
    if (r.code !== 0) throw new DevBrokerError(`kafka.sh up exited ${r.code}: ${r.out.slice(-2000)}`);
    return address;
  })();
  return pending;
}

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res, rej) => {
    const p = spawn("bash", [resolve(root, "scripts/services/kafka.sh"), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
    });
    p.stderr.on("data", (d) => {
      out += d;
    });
    p.once("error", rej);
    p.once("close", (code) => res({ code: code ?? 1, out }));
  });
}
