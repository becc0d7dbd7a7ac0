/**
 * Integration-test helper: makes sure the testbed's validating Unbound answers
 * (running `test/testbed/bin/testbed up` when it does not) and never stops it.
 * `ensureTestbed()` resolves to the resolver address, or rejects with the
 * testbed's own output when it cannot be brought up.
 */
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { StubResolver } from "../src/index.ts";

export const TESTBED_RESOLVER = "127.53.53.53:53";
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

async function answers(): Promise<boolean> {
  const r = new StubResolver({ upstreams: [TESTBED_RESOLVER], timeoutMs: 1000, retries: 1, cache: false });
  const l = await r.query(".", "SOA");
  await r.close();
  return l.outcome === "answer" && l.security === "secure";
}

let ready: Promise<string> | undefined;

export function ensureTestbed(): Promise<string> {
  ready ??= (async () => {
    if (await answers()) return TESTBED_RESOLVER;
    const up = spawnSync(resolve(root, "test/testbed/bin/testbed"), ["up"], {
      cwd: root,
      encoding: "utf8",
      timeout: 600_000,
    });
    if (up.status !== 0 || !(await answers())) {
      throw new Error(`testbed up failed (exit ${up.status}):\n${up.stderr}\n${up.stdout}`);
    }
    return TESTBED_RESOLVER;
  })();
  return ready;
}
