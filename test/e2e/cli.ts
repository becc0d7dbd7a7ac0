/**
 * Helpers for end-to-end tests: run bin/danesweep as a user would (a child
 * process), make sure the shared services are up (and that the resolver
 * serves a test's records: waitForRecords), make fresh PostgreSQL databases.
 * Services started here are left running (scripts/test stops what it
 * started).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { VerdictRecord } from "@danesweep/dane";
import { RESOLVER } from "@danesweep/testbed";
import pg from "pg";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const DANESWEEP = `${ROOT}bin/danesweep`;

export function ensureTestbed(): void {
  execFileSync(`${ROOT}test/testbed/bin/testbed`, ["up"], { stdio: ["ignore", "ignore", "inherit"] });
}

function answers(name: string, type: string): boolean {
  try {
    return (
      execFileSync("kdig", [`@${RESOLVER.address}`, "+short", "+timeout=2", "+retry=0", name, type], {
        encoding: "utf8",
      }).trim() !== ""
    );
  } catch {
    return false;
  }
}

/**
 * Waits until the validating resolver answers each (name, type). `testbed up`
 * reloads a changed zone at once, but Unbound may still answer from what it
 * cached before (it synthesises NXDOMAIN from cached NSEC records for up to
 * their TTL, 300 s here), and the testbed is shared: another checkout's `up`
 * may have written the zone without them a moment ago. Polls with kdig every
 * 2 s; throws after `timeoutMs` naming `what` and what is still missing.
 */
export async function waitForRecords(
  names: [string, string][],
  what: string,
  timeoutMs = 360_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = names.filter(([n, t]) => !answers(n, t));
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `the resolver does not serve ${what}: ${missing.map((m) => m.join(" ")).join(", ")} ` +
          "(is the running testbed older than test/testbed/src? restart it: test/testbed/bin/testbed down, then up)",
      );
    await sleep(2000);
  }
}

export function postgresUrl(): string {
  execFileSync(`${ROOT}scripts/services/postgres.sh`, ["up"], { stdio: ["ignore", "ignore", "inherit"] });
  return execFileSync(`${ROOT}scripts/services/postgres.sh`, ["url"], { encoding: "utf8" }).trim();
}

/** A new empty database on the test PostgreSQL; returns its URL and a drop function. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = postgresUrl();
  const name = `e2e_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: base.replace(/\/[^/]*$/, `/${name}`),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(
  args: string[],
  opts: { stdin?: string; keepStdinOpen?: boolean; env?: Record<string, string> } = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(DANESWEEP, args, {
    stdio: ["pipe", "pipe", "pipe"],
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  if (opts.keepStdinOpen) {
    if (opts.stdin !== undefined) child.stdin!.write(opts.stdin);
  } else if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  else child.stdin!.end();
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

export function runCli(
  args: string[],
  opts: { stdin?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return startCli(args, opts).done;
}

export type JsonVerdict = VerdictRecord & { scan: string };

export function parseJsonl(text: string): JsonVerdict[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as JsonVerdict);
}

/** The options every scan of the test universe needs. */
export const TESTBED_SCAN = [
  "--resolver",
  "127.53.53.53",
  "--allow-private",
  "--ehlo",
  "danesweep-e2e.invalid",
  "--per-ip-rate",
  "100",
  "--per-ip-burst",
  "100",
  "--per-ip-concurrency",
  "8",
];
