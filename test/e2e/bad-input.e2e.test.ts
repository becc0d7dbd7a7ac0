/**
 * Bad input: a file mixing valid names, garbage, overlong labels and names,
 * IDNs, duplicates in several spellings, comments and a 1 MB line. Every
 * invalid line is reported on stderr with its line number, the rest are
 * scanned, and each distinct valid domain gets exactly one verdict. Usage
 * errors (an unknown --policy profile among them) exit 2 naming what was
 * wrong; a scan's --policy profile is recorded on every verdict.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureTestbed, parseJsonl, runCli, TESTBED_SCAN } from "./cli.ts";

let dir: string;
before(() => {
  ensureTestbed();
  dir = mkdtempSync(join(tmpdir(), "danesweep-badinput-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("a hostile input file: invalid lines reported by number, the rest scanned once each", {
  timeout: 120_000,
}, async () => {
  const lines = [
    "# reference domains, with duplicates in other spellings", // 1
    "test13.testing", // 2
    "", // 3
    "TEST13.TESTING.", // 4 duplicate of line 2
    "garbage!!name.testing", // 5 invalid character
    `${"a".repeat(64)}.testing`, // 6 label of 64 octets
    `${"abcdefghi.".repeat(26)}testing`, // 7 name over 253 octets
    "bücher.testing", // 8 IDN -> xn--bcher-kva.testing (does not exist: bounce)
    "x".repeat(1024 * 1024), // 9 a 1 MB line
    "test19.testing   # trailing comment", // 10
    "..", // 11 empty labels
    "test13.testing", // 12 duplicate
    "   test2.testing   ", // 13 surrounding blanks
  ];
  const file = join(dir, "domains.txt");
  writeFileSync(file, lines.join("\n") + "\n");
  const r = await runCli([
    "scan",
    ...TESTBED_SCAN,
    "--data",
    join(dir, "store"),
    "--format",
    "jsonl",
    "-f",
    file,
  ]);
  assert.equal(r.code, 0, r.stderr);
  for (const n of [5, 6, 7, 9, 11]) {
    assert.match(
      r.stderr,
      new RegExp(`domains\\.txt:${n}: invalid domain`),
      `line ${n} reported:\n${r.stderr}`,
    );
  }
  for (const n of [2, 4, 8, 10, 12, 13]) {
    assert.doesNotMatch(r.stderr, new RegExp(`domains\\.txt:${n}: `), `line ${n} is valid`);
  }
  assert.ok(r.stderr.length < 20_000, "a 1 MB line is not echoed back whole");
  const v = parseJsonl(r.stdout);
  assert.deepEqual(v.map((x) => x.domain).sort(), [
    "test13.testing",
    "test19.testing",
    "test2.testing",
    "xn--bcher-kva.testing",
  ]);
  const idn = v.find((x) => x.domain === "xn--bcher-kva.testing")!;
  assert.equal(idn.verdict.action, "bounce");
  assert.equal(idn.verdict.reason, "nxdomain");
  assert.match(r.stderr, /duplicate names skipped: 2/);
});

test("usage errors name what was wrong and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["scan", "--format", "xml", "a.example"], /--format must be one of jsonl, table, csv/],
    [["scan", "--per-ip-rate", "fast", "a.example"], /--per-ip-rate must be a number/],
    [["scan", "--resolver", "not-an-ip", "a.example"], /--resolver must be an IP address/],
    [
      ["scan", "--data", "/tmp/x", "--database", "postgres://x/y", "a.example"],
      /either --data DIR .* or --database URL/,
    ],
    [["scan", "--no-such-option"], /Unknown option '--no-such-option'/],
    [
      ["scan", "--policy", "sendmail", "a.example"],
      /--policy must be one of postfix, rfc7672, got "sendmail"/,
    ],
    [["scan", "-f", join(dir, "missing.txt"), "--data", join(dir, "s2"), ...TESTBED_SCAN], /missing\.txt/],
    [["nosuchcommand"], /unknown command "nosuchcommand"/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit 2\n${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
  }
});

test("scan --policy rfc7672: the profile is on every verdict, as scan and show print it", {
  timeout: 120_000,
}, async () => {
  const data = join(dir, "policy");
  const domains = ["test1.testing", "test13.testing"];
  const r = await runCli([
    "scan",
    ...TESTBED_SCAN,
    "--policy",
    "rfc7672",
    "--data",
    data,
    "--format",
    "jsonl",
    ...domains,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const v = parseJsonl(r.stdout);
  assert.deepEqual(v.map((x) => x.domain).sort(), domains);
  for (const x of v) assert.equal(x.engine.profile, "rfc7672", x.domain);
  const json = await runCli(["show", "test13.testing", "--json", "--data", data]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(
    parseJsonl(json.stdout).map((x) => x.engine.profile),
    ["rfc7672"],
  );
  const text = await runCli(["show", "test13.testing", "--data", data]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /judged by: engine [0-9.]+\/rfc7672/);
  // Without --policy: postfix, the Postfix defaults.
  const dflt = await runCli([
    "scan",
    ...TESTBED_SCAN,
    "--data",
    join(dir, "policy-default"),
    "--format",
    "jsonl",
    "test13.testing",
  ]);
  assert.equal(dflt.code, 0, dflt.stderr);
  assert.deepEqual(
    parseJsonl(dflt.stdout).map((x) => x.engine.profile),
    ["postfix"],
  );
});

test("a resolver that does not validate is refused with exit 3, naming it", async () => {
  // The child Knot server answers authoritatively without the AD bit: not a validating resolver.
  const r = await runCli(["scan", "--resolver", "127.53.0.2", "--data", join(dir, "s3"), "test1.testing"]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /127\.53\.0\.2:53/);
  assert.match(r.stderr, /does not validate|did not answer|answered/);
});
