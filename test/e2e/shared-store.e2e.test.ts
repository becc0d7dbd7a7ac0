/**
 * One embedded data directory used by several `danesweep` processes at once,
 * as a user would (issue 11, item 1): the owner serves it to the others
 * (libs/store embedded.ts), nothing is corrupted or lost.
 *   - `serve` + `scan` + `show` + `scans` at once; `serve` goes on answering
 *     after the scan (the owner, or not) exits, and sees its verdicts;
 *   - two scans at once: both finish, each with all its verdicts;
 *   - the owner SIGKILLed while others are connected: they go on; the killed
 *     scan resumes; every verdict is there exactly once.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { seedCases } from "@danesweep/testbed";
import { DANESWEEP, ensureTestbed, parseJsonl, runCli, startCli, TESTBED_SCAN } from "./cli.ts";

const domains = seedCases().map((c) => c.domain);
let dir: string;
const children: ChildProcess[] = [];

before(() => {
  ensureTestbed();
  dir = mkdtempSync(join(tmpdir(), "danesweep-shared-"));
});
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** `danesweep serve` on a free port; resolves with its address once it listens. */
async function serve(data: string): Promise<{ address: string; child: ChildProcess }> {
  const child = spawn(DANESWEEP, ["serve", "--data", data, "--port", "0", "--rate-per-address", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let err = "";
  child.stderr?.on("data", (s: Buffer) => {
    err += s.toString();
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (s: Buffer) => {
      out += s.toString();
      const m = /API on (http:\/\/\S+) /.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { address, child };
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

// Slow politeness keeps a scan of the 24 domains running for several seconds (the last
// --per-ip-rate given wins).
const SLOW = [...TESTBED_SCAN, "--per-ip-rate", "3", "--per-ip-burst", "1", "--format", "jsonl"];

test("serve, scan, show and scans at once on one data directory", { timeout: 240_000 }, async () => {
  const data = join(dir, "a");
  const api = await serve(data);
  const scan = startCli(["scan", ...SLOW, "--data", data, ...domains]);
  children.push(scan.child);
  // While the scan runs: the API answers, `scans` and `show` work.
  let rounds = 0;
  while (scan.child.exitCode === null) {
    rounds++;
    const h = await fetch(`${api.address}/v1/healthz`);
    assert.equal(h.status, 200);
    const scans = await runCli(["scans", "--data", data]);
    assert.equal(scans.code, 0, scans.stderr);
    const show = await runCli(["show", "test1.testing", "--data", data]);
    assert.ok(show.code === 0 || /no verdict/.test(show.stderr), show.stderr);
    await new Promise((r) => setTimeout(r, 300));
  }
  const r = await scan.done;
  assert.equal(r.code, 0, r.stderr);
  const verdicts = parseJsonl(r.stdout);
  assert.equal(verdicts.length, domains.length);
  const scanId = verdicts[0]?.scan as string;
  // After the scan exited the API still answers, on the same store, with every verdict.
  const s = await getJson(`${api.address}/v1/scans/${scanId}`);
  assert.equal(s.status, 200);
  assert.equal(s.body.state, "finished");
  assert.equal((s.body.progress as { judged: number }).judged, domains.length);
  const d = await getJson(`${api.address}/v1/domains/test13.testing`);
  assert.equal(d.status, 200);
  assert.ok(rounds > 0, "the API, scans and show were tried while the scan ran");
  api.child.kill("SIGTERM");
  await new Promise((res) => api.child.once("exit", res));
  // Everything is still there once every process is gone.
  const after = await runCli(["show", "test13.testing", "--data", data, "--json"]);
  assert.equal(after.code, 0, after.stderr);
});

test("two scans at once on one data directory both finish with all their verdicts", {
  timeout: 240_000,
}, async () => {
  const data = join(dir, "b");
  const half = domains.slice(0, 12);
  const other = domains.slice(12);
  const [a, b] = await Promise.all([
    runCli(["scan", ...SLOW, "--data", data, ...half]),
    runCli(["scan", ...SLOW, "--data", data, ...other]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const va = parseJsonl(a.stdout);
  const vb = parseJsonl(b.stdout);
  assert.deepEqual(va.map((v) => v.domain).sort(), [...half].sort());
  assert.deepEqual(vb.map((v) => v.domain).sort(), [...other].sort());
  const scans = await runCli(["scans", "--data", data, "--json"]);
  assert.equal(scans.code, 0, scans.stderr);
  for (const id of [va[0]?.scan, vb[0]?.scan]) assert.match(scans.stdout, new RegExp(`${id}`));
});

test("the owner SIGKILLed while others are connected: they go on; the scan resumes; every verdict once", {
  timeout: 240_000,
}, async () => {
  const data = join(dir, "c");
  // The scan opens the directory first: it is the owner. Its names come on a
  // standard input left open, so it cannot finish before it is killed.
  const scan = startCli(["scan", ...SLOW, "--data", data, "-"], {
    stdin: `${domains.join("\n")}\n`,
    keepStdinOpen: true,
  });
  children.push(scan.child);
  let out = "";
  scan.child.stdout?.on("data", (s: string) => {
    out += s;
  });
  while (parseJsonl(out).length < 3) {
    if (scan.child.exitCode !== null) throw new Error("scan ended before it could be killed");
    await new Promise((r) => setTimeout(r, 100));
  }
  const scanId = parseJsonl(out)[0]?.scan as string;
  const api = await serve(data);
  // Connected through the owner: the API sees the running scan with every name seeded.
  let seeded = 0;
  for (let i = 0; i < 100 && seeded < domains.length; i++) {
    const r = await getJson(`${api.address}/v1/scans/${scanId}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.state, "running");
    seeded = (r.body.progress as { domains: number }).domains;
    if (seeded < domains.length) await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(seeded, domains.length, "every name was seeded before the kill");
  scan.child.kill("SIGKILL");
  await scan.done;
  // The API takes the directory over (WAL recovery) and goes on answering.
  let state: unknown;
  for (let i = 0; i < 100 && state === undefined; i++) {
    const r = await fetch(`${api.address}/v1/scans/${scanId}`).catch(() => undefined);
    if (r?.status === 200) state = ((await r.json()) as { state: string }).state;
    else await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(state, "running", "the killed scan is there, still running");
  const resumed = await runCli(["scan", "--resume", scanId, "--data", data, "--format", "jsonl"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const all = parseJsonl(resumed.stdout).map((v) => v.domain);
  assert.equal(all.length, domains.length, "every verdict printed once by the resumed run");
  assert.deepEqual([...new Set(all)].sort(), [...domains].sort());
  const s = await getJson(`${api.address}/v1/scans/${scanId}`);
  assert.equal(s.body.state, "finished");
  assert.equal((s.body.progress as { judged: number }).judged, domains.length);
  api.child.kill("SIGTERM");
  await new Promise((res) => api.child.once("exit", res));
});
