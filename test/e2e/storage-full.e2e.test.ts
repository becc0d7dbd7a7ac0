/**
 * A store that fills up mid-scan (a real full file system: a small tmpfs,
 * root is required, as everywhere in the test suite): the scan stops with
 * exit code 1, says the store cannot take writes and prints the resume
 * command; what was judged stays; once there is room, `--resume` finishes
 * the scan and prints every domain's verdict exactly once.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureTestbed, parseJsonl, runCli } from "./cli.ts";

const ARGS = [
  "--resolver",
  "127.53.53.53",
  "--allow-private",
  "--ehlo",
  "danesweep-e2e.invalid",
  "--per-ip-rate",
  "1000",
  "--per-ip-burst",
  "1000",
  "--format",
  "jsonl",
];

let mnt: string;
before(() => {
  ensureTestbed();
  mnt = mkdtempSync(join(tmpdir(), "danesweep-full-"));
  // A file system of its own, so that filling it fills nothing else.
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=96m", "tmpfs", mnt]);
});
after(() => {
  try {
    execFileSync("umount", [mnt]);
  } finally {
    rmSync(mnt, { recursive: true, force: true });
  }
});

test("the store filling up stops the scan, resumable; resumed with room, every domain once", {
  timeout: 300_000,
}, async () => {
  const data = join(mnt, "store");
  // Names in the test universe's unsigned zone that do not exist: quick NXDOMAIN verdicts.
  const names = Array.from({ length: 3000 }, (_, i) => `nx-full-${i}.moretesting`);
  const list = join(mnt, "names.txt");
  writeFileSync(list, `${names.join("\n")}\n`);
  // The store exists (its first scan: one domain), then the disk is filled but for a little room.
  const init = await runCli(["scan", ...ARGS, "--data", data, "nx-init.moretesting"]);
  assert.equal(init.code, 0, init.stderr);
  const filler = join(mnt, "filler");
  mkdirSync(join(mnt, "x"), { recursive: true });
  const free = () => {
    const s = statfsSync(mnt);
    return s.bavail * s.bsize;
  };
  writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 1_500_000)));

  const first = await runCli(["scan", ...ARGS, "--data", data, "-f", list]);
  assert.equal(first.code, 1, `exit code\n${first.stderr}`);
  assert.match(first.stderr, /the store cannot take writes \(storage-full: /);
  const m = /resume with:\n\s+(danesweep scan --resume (\S+) --data \S+)/.exec(first.stderr);
  assert.ok(m, `the resume command is printed:\n${first.stderr}`);
  const scanId = m[2] as string;
  const before = parseJsonl(first.stdout);
  assert.ok(before.length < names.length, `the disk filled before the end (${before.length} verdicts)`);

  rmSync(filler);
  const resumed = await runCli(["scan", "--resume", scanId, "--data", data, "--format", "jsonl"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const all = parseJsonl(resumed.stdout).map((v) => v.domain);
  assert.equal(all.length, names.length, "every domain's verdict, printed once by the resumed run");
  assert.deepEqual([...new Set(all)].sort(), [...names].sort());
  for (const v of before) assert.ok(all.includes(v.domain));
});
