/**
 * Who owns an embedded data directory, as a user meets it (issue 11, item 1,
 * as reviewed): owner.json names the command that owns the directory
 * (`danesweep serve ...`, `danesweep scan ...`), and an owner suspended with
 * Ctrl-Z (SIGSTOP) makes the other commands stop at once with exit 1 and a
 * message naming it and how to resume it, instead of waiting for ever; once
 * resumed (SIGCONT) they work again. No DNS or SMTP is needed: the scan
 * below waits for names on a standard input left open.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DANESWEEP, runCli, startCli } from "./cli.ts";

let dir: string;
const children: ChildProcess[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), "danesweep-owner-"));
});
after(() => {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.kill("SIGCONT");
    c.kill("SIGKILL");
  }
  rmSync(dir, { recursive: true, force: true });
});

/** owner.json of a directory, once it is there. */
async function ownerOf(data: string, child: ChildProcess): Promise<{ pid: number; command: string }> {
  for (;;) {
    try {
      return JSON.parse(readFileSync(join(data, "owner.json"), "utf8"));
    } catch {
      if (child.exitCode !== null) throw new Error(`the owner exited ${child.exitCode} before owner.json`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The state letter Linux gives process `pid` ("T" when stopped). */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

test("a scan that owns the directory is named in owner.json as the command the user ran", {
  timeout: 120_000,
}, async () => {
  const data = join(dir, "scan");
  const scan = startCli(
    [
      "scan",
      "--data",
      data,
      "--resolver",
      "127.53.53.53",
      "--accept-nonvalidating",
      "--format",
      "jsonl",
      "-",
    ],
    { keepStdinOpen: true },
  );
  children.push(scan.child);
  const o = await ownerOf(data, scan.child);
  assert.equal(o.pid, scan.child.pid);
  assert.equal(
    o.command,
    `danesweep scan --data ${data} --resolver 127.53.53.53 --accept-nonvalidating --format jsonl -`,
  );
  scan.child.kill("SIGKILL");
  await scan.done;
});

test("a stopped serve: scans and scan exit 1 at once naming it and how to resume it; resumed, they work", {
  timeout: 240_000,
}, async () => {
  const data = join(dir, "serve");
  const serve = spawn(DANESWEEP, ["serve", "--data", data, "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(serve);
  let out = "";
  serve.stdout?.on("data", (s: Buffer) => {
    out += s.toString();
  });
  while (!/API on http/.test(out)) {
    if (serve.exitCode !== null) throw new Error(`serve exited ${serve.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = serve.pid as number;
  const o = await ownerOf(data, serve);
  assert.equal(o.pid, pid);
  assert.equal(o.command, `danesweep serve --data ${data} --port 0`);

  serve.kill("SIGSTOP");
  while (procState(pid) !== "T") await new Promise((r) => setTimeout(r, 20));
  const scans = await runCli(["scans", "--data", data]);
  assert.equal(scans.code, 1, scans.stderr);
  for (const part of [
    `owned by pid ${pid} (danesweep serve --data ${data} --port 0)`,
    "stopped",
    `kill -CONT ${pid}`,
  ])
    assert.ok(scans.stderr.includes(part), `"${part}" in: ${scans.stderr}`);
  assert.doesNotMatch(scans.stderr, /unavailable: unavailable/);
  const scan = await runCli(["scan", "--data", data, "--accept-nonvalidating", "x.example"]);
  assert.equal(scan.code, 1, scan.stderr);
  assert.match(scan.stderr, /cannot open the store .* is stopped .*kill -CONT/);

  serve.kill("SIGCONT");
  const again = await runCli(["scans", "--data", data]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /no scans yet/);
  serve.kill("SIGTERM");
  await new Promise((r) => serve.once("exit", r));
});
