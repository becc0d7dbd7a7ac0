/**
 * Ctrl-C half-way through a scan, then `--resume SCAN_ID`: one verdict per
 * domain at the end, none lost, none duplicated, and the domains judged before
 * the interruption are not judged again.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { seedCases } from "@danesweep/testbed";
import { ensureTestbed, parseJsonl, runCli, startCli } from "./cli.ts";

const domains = seedCases().map((c) => c.domain);
// Slow politeness so the scan is still running when it is interrupted: most
// reference hosts share one address, probed at 2 connections per second.
const SLOW = [
  "--resolver",
  "127.53.53.53",
  "--allow-private",
  "--ehlo",
  "danesweep-e2e.invalid",
  "--per-ip-rate",
  "2",
  "--per-ip-burst",
  "1",
  "--format",
  "jsonl",
];

let dir: string;
before(() => {
  ensureTestbed();
  dir = mkdtempSync(join(tmpdir(), "danesweep-resume-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("a scan interrupted half-way and resumed yields one verdict per domain", {
  timeout: 240_000,
}, async () => {
  const data = join(dir, "store");
  const first = startCli(["scan", ...SLOW, "--data", data, ...domains]);
  let out = "";
  first.child.stdout!.on("data", (s: string) => {
    out += s;
  });
  // Interrupt once a few verdicts are out but well before the end.
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (out.split("\n").filter((l) => l.trim()).length >= 3) {
        clearInterval(t);
        first.child.kill("SIGINT");
        resolve();
      }
    }, 50);
    first.done.then(() => {
      clearInterval(t);
      reject(new Error("scan ended before it could be interrupted"));
    });
  });
  const r1 = await first.done;
  assert.equal(r1.code, 130, `exit code 130 on interrupt\n${r1.stderr}`);
  const m = /danesweep scan --resume (\S+)/.exec(r1.stderr);
  assert.ok(m, `stderr tells how to resume:\n${r1.stderr}`);
  const scanId = m[1]!;
  const before = parseJsonl(r1.stdout);
  assert.ok(
    before.length >= 3 && before.length < domains.length,
    `interrupted half-way (${before.length} verdicts)`,
  );

  const list = await runCli(["scans", "--data", data, "--json"]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(JSON.parse(list.stdout.trim().split("\n")[0]!).state, "interrupted");

  const r2 = await runCli(["scan", "--resume", scanId, "--data", data, "--format", "jsonl"]);
  assert.equal(r2.code, 0, r2.stderr);
  const all = parseJsonl(r2.stdout);
  assert.equal(all.length, domains.length, "the resumed run prints every verdict of the scan once");
  assert.deepEqual(new Set(all.map((v) => v.domain)), new Set(domains));
  for (const v of all) assert.equal(v.scan, scanId);
  // Judged before the interruption: not judged again.
  const again = new Map(all.map((v) => [v.domain, v]));
  for (const b of before)
    assert.equal(again.get(b.domain)!.judgedAt, b.judgedAt, `${b.domain} not re-judged`);

  const list2 = await runCli(["scans", "--data", data, "--json"]);
  const s = JSON.parse(list2.stdout.trim().split("\n")[0]!);
  assert.equal(s.state, "finished");
  assert.equal(s.counts.judged, domains.length);

  const r3 = await runCli(["scan", "--resume", scanId, "--data", data]);
  assert.equal(r3.code, 2, "a finished scan cannot be resumed");
  assert.match(r3.stderr, /already finished/);
});

test("a domain opted out before --resume is not scanned, though the interrupted run had seeded it", {
  timeout: 240_000,
}, async () => {
  const data = join(dir, "store-optout");
  const optOut = join(dir, "opt-out.txt");
  writeFileSync(optOut, "# nothing opted out yet\n");
  const first = startCli(["scan", ...SLOW, "--opt-out", optOut, "--data", data, ...domains]);
  let out = "";
  first.child.stdout!.on("data", (s: string) => {
    out += s;
  });
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (out.split("\n").filter((l) => l.trim()).length >= 3) {
        clearInterval(t);
        first.child.kill("SIGINT");
        resolve();
      }
    }, 50);
    first.done.then(() => {
      clearInterval(t);
      reject(new Error("scan ended before it could be interrupted"));
    });
  });
  const r1 = await first.done;
  assert.equal(r1.code, 130, r1.stderr);
  const scanId = /danesweep scan --resume (\S+)/.exec(r1.stderr)?.[1] as string;
  const judged = new Set(parseJsonl(r1.stdout).map((v) => v.domain));
  // The operator of one domain not judged yet asks to be left alone before the scan resumes.
  const gone = domains.find((d) => !judged.has(d)) as string;
  writeFileSync(optOut, `# nothing opted out yet\ndomain:${gone}\n`);
  const r2 = await runCli(["scan", "--resume", scanId, "--data", data, "--format", "jsonl"]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, new RegExp(`${gone.replace(/\./g, "\\.")} is on the opt-out list`));
  const all = parseJsonl(r2.stdout).map((v) => v.domain);
  assert.ok(!all.includes(gone), `${gone} was scanned`);
  assert.deepEqual(new Set(all), new Set(domains.filter((d) => d !== gone)));
  const list = await runCli(["scans", "--data", data, "--json"]);
  const s = JSON.parse(list.stdout.trim().split("\n")[0] as string);
  assert.equal(s.state, "finished", "the scan finished (the opted-out domain is not left pending)");
});
