/**
 * Unit tests of the CLI's pure pieces: input line handling, output formats,
 * option validation, progress rendering, the demo's comparison.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { VerdictRecord } from "@danesweep/dane";
import { PGLITE_NODE_FLAGS } from "@danesweep/store";
import { enumOption, intOption, numberOption, resolverAddress, UsageError } from "../src/args.ts";
import { agrees, demoTable } from "../src/commands/demo.ts";
import { parseScanArgs } from "../src/commands/scan.ts";
import { serveOptions } from "../src/commands/serve.ts";
import { candidateFromLine, MAX_LINE_CHARS, readInputs } from "../src/input.ts";
import { formatter, Summary } from "../src/output.ts";
import { formatDuration, renderProgress } from "../src/progress.ts";
import { defaultDataDir, storeConfig } from "../src/store-options.ts";

const record = (
  over: Partial<VerdictRecord["verdict"]> = {},
  dane: VerdictRecord["dane"] = "valid",
): VerdictRecord => ({
  schema: 1,
  domain: "example.org",
  verdict: {
    action: "deliver",
    security: "dane-verified",
    host: "mx.example.org",
    address: "192.0.2.1",
    reason: "dane-authenticated",
    ...over,
  },
  dane,
  mxSecure: true,
  hosts: [],
  explanation: 'mx, "quoted"\nsecond line',
  judgedAt: "2026-01-01T00:00:00.000Z",
});

test("input lines: blanks and comments skipped, first word kept", () => {
  assert.equal(candidateFromLine(""), undefined);
  assert.equal(candidateFromLine("   "), undefined);
  assert.equal(candidateFromLine("# comment"), undefined);
  assert.equal(candidateFromLine("  example.org   # note"), "example.org");
  assert.equal(candidateFromLine("example.org\tother"), "example.org");
});

test("readInputs streams stdin with line numbers and cuts huge lines", async () => {
  const huge = "y".repeat(MAX_LINE_CHARS * 10);
  const stdin = Readable.from([`a.example\n\n# c\n${huge}\r\nb.example`]);
  const got = [];
  for await (const l of readInputs({ args: ["x.example", "-"], files: [], stdin })) got.push(l);
  assert.deepEqual(
    got.map((g) => [g.source, g.line, g.text.length > 100 ? "huge" : g.text]),
    [
      ["argv", 1, "x.example"],
      ["-", 1, "a.example"],
      ["-", 4, "huge"],
      ["-", 5, "b.example"],
    ],
  );
  assert.ok(got[2]!.text.length <= MAX_LINE_CHARS + 1);
});

test("csv quoting follows RFC 4180", () => {
  const row = formatter("csv").row(record(), "S1");
  assert.equal(
    row,
    'S1,example.org,deliver,dane-verified,mx.example.org,192.0.2.1,dane-authenticated,valid,"mx, ""quoted""\nsecond line"\r\n',
  );
  assert.equal(
    formatter("csv").header(),
    "scan,domain,action,security,host,address,reason,dane,explanation\r\n",
  );
});

test("csv output is spreadsheet-safe: a host named like a formula gets a leading apostrophe", () => {
  const evil = formatter("csv").row(record({ host: "=1+1.escmx.evil" }), "S1");
  assert.equal(evil.split(",")[4], "'=1+1.escmx.evil");
  const sum = formatter("csv").row(record({ host: "@sum(1,1)" }), "S1");
  assert.ok(sum.includes(`,"'@sum(1,1)",192.0.2.1,`), sum);
});

test("jsonl is one JSON object per line with the scan id", () => {
  const line = formatter("jsonl").row(record(), "S1");
  assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
  const o = JSON.parse(line);
  assert.equal(o.scan, "S1");
  assert.equal(o.verdict.host, "mx.example.org");
});

test("table rows line up under the header", () => {
  const f = formatter("table");
  const h = f.header();
  const r = f.row(
    record({ action: "defer", security: undefined, host: undefined, reason: "dane-check-failed" }, "invalid"),
    "S",
  );
  assert.equal(h.indexOf("ACTION"), r.indexOf("defer"));
  assert.equal(h.indexOf("REASON"), r.indexOf("dane-check-failed"));
  assert.match(r, /defer\s+-\s+-\s+dane-check-failed\s+invalid/);
});

test("summary counts by action, security and DANE state", () => {
  const s = new Summary();
  s.add(record());
  s.add(record({ action: "defer", security: undefined, reason: "dane-check-failed" }, "invalid"));
  s.add(record());
  assert.match(s.render(), /judged 3 domains/);
  assert.match(s.render(), /action:\s+deliver 2, defer 1/);
  assert.match(s.render(), /dane:\s+valid 2, invalid 1/);
});

test("option validators name the option and the bad value", () => {
  assert.equal(intOption("n", undefined, 5, 1, 10), 5);
  assert.equal(intOption("n", "7", 5, 1, 10), 7);
  assert.throws(() => intOption("n", "7.5", 5, 1, 10), /--n must be a whole number, got "7.5"/);
  assert.throws(() => intOption("n", "11", 5, 1, 10), /between 1 and 10/);
  assert.equal(numberOption("r", "0.5", 1, 0.001, 10), 0.5);
  assert.throws(() => numberOption("r", "", 1, 0, 10), UsageError);
  assert.throws(() => enumOption("f", "xml", ["a", "b"] as const, "a"), /one of a, b, got "xml"/);
  assert.equal(resolverAddress("127.0.0.1"), "127.0.0.1:53");
  assert.equal(resolverAddress("127.0.0.1:5353"), "127.0.0.1:5353");
  assert.equal(resolverAddress("::1"), "[::1]:53");
  assert.equal(resolverAddress("[2001:db8::1]:5300"), "[2001:db8::1]:5300");
  for (const bad of ["300.1.1.1", "resolver.example", "127.0.0.1:0", "[::1]:70000", ""]) {
    assert.throws(() => resolverAddress(bad), UsageError, bad);
  }
});

test("store options: --data and --database exclude each other; default data dir", () => {
  assert.deepEqual(storeConfig({ data: "/d" }), { dataDir: "/d" });
  assert.deepEqual(storeConfig({ database: "postgres://u@h/db" }), { url: "postgres://u@h/db" });
  assert.throws(() => storeConfig({ data: "/d", database: "postgres://h/db" }), UsageError);
  assert.throws(() => storeConfig({ database: "mysql://h/db" }), /postgres:\/\//);
  assert.equal(defaultDataDir({ DANESWEEP_DATA: "/x" }), "/x");
  assert.equal(defaultDataDir({ XDG_DATA_HOME: "/xdg" }), "/xdg/danesweep");
});

test("scan options: defaults are the polite ones", () => {
  const p = parseScanArgs(["a.example"], false);
  assert.equal(p.params.perIpRate, 1);
  assert.equal(p.params.perIpBurst, 2);
  assert.equal(p.params.perIpConcurrency, 2);
  assert.equal(p.params.allowPrivate, false);
  assert.equal(p.params.probeMode, "all");
  assert.deepEqual(p.params.resolvers, ["127.0.0.1:53"]);
  assert.equal(p.out.format, "jsonl");
  assert.equal(parseScanArgs(["a.example"], true).out.format, "table");
  assert.throws(
    () => parseScanArgs(["--kafka", "k:9092", "a.example"], false),
    /--kafka needs --database URL/,
  );
});

test("progress line and durations", () => {
  assert.equal(formatDuration(5_000), "5s");
  assert.equal(formatDuration(125_000), "2m05s");
  assert.equal(formatDuration(3_725_000), "1h02m");
  const p = renderProgress(
    { seeded: 100, resolved: 80, probesDone: 10, probesWanted: 20, judged: 50, inputDone: true },
    10_000,
  );
  assert.match(p, /seeded 100 +resolved 80 +probed 10\/20 +judged 50 +5\.0\/s +ETA 10s/);
  assert.match(
    renderProgress(
      { seeded: 1, resolved: 0, probesDone: 0, probesWanted: 0, judged: 0, inputDone: false },
      1,
    ),
    /seeded 1\+.*ETA \?/,
  );
});

test("serve options: --trust-proxy takes a hop count or proxy addresses; --max-exports a count", () => {
  assert.equal(serveOptions([]).trustProxy, undefined);
  assert.deepEqual(serveOptions(["--trust-proxy", "1"]).trustProxy, { hops: 1 });
  assert.deepEqual(serveOptions(["--trust-proxy", "10.0.0.0/8,::1"]).trustProxy, {
    proxies: ["10.0.0.0/8", "::1"],
  });
  // The old boolean form trusted whatever the client wrote: it is refused, naming the option.
  assert.throws(() => serveOptions(["--trust-proxy"]), UsageError);
  assert.throws(() => serveOptions(["--trust-proxy", "--log"]), UsageError);
  assert.throws(() => serveOptions(["--trust-proxy", "proxy.example"]), /--trust-proxy: "proxy.example"/);
  assert.equal(serveOptions([]).maxExports, 4);
  assert.equal(serveOptions(["--max-exports", "8"]).maxExports, 8);
  assert.throws(() => serveOptions(["--max-exports", "0"]), /--max-exports/);
});

test("demo comparison: deliver must match security and host; defer only the action", () => {
  const c = {
    case: 1,
    domain: "example.org",
    description: "",
    writeUp: "",
    expected: {
      action: "deliver" as const,
      security: "dane-verified" as const,
      host: "mx.example.org",
      reason: "dane-authenticated" as const,
    },
  };
  assert.equal(agrees(c, record()), true);
  assert.equal(agrees(c, record({ host: "other.example.org" })), false);
  assert.equal(agrees(c, record({ security: "encrypted" })), false);
  assert.equal(agrees(c, undefined), false);
  const d = { ...c, expected: { action: "defer" as const, reason: "dane-check-failed" as const } };
  assert.equal(
    agrees(
      d,
      record({ action: "defer", security: undefined, host: undefined, reason: "starttls-not-offered" }),
    ),
    true,
  );
  const t = demoTable([c, d], new Map([["example.org", record()]]));
  assert.equal(t.mismatches, 1);
  assert.match(t.text, /MISMATCH/);
});

test("bin/danesweep starts Node with the flags the embedded store needs (PGLITE_NODE_FLAGS)", () => {
  const launcher = readFileSync(new URL("../../../bin/danesweep", import.meta.url), "utf8");
  const exec = launcher.split("\n").find((l) => l.startsWith("exec "));
  assert.ok(exec, "an exec line");
  for (const flag of PGLITE_NODE_FLAGS) assert.ok(exec.split(/\s+/).includes(flag), `${flag} in: ${exec}`);
});
