/**
 * Unit tests of the CLI's pure pieces: its names (arguments, then libs/pipeline's
 * reader, tested in libs/pipeline/test/input.test.ts), output formats,
 * option validation, progress rendering, the demo's comparison.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { VerdictRecord } from "@danesweep/dane";
import { normalizeDomain } from "@danesweep/dns";
import { MAX_LINE_CHARS } from "@danesweep/pipeline";
import { PGLITE_NODE_ENV, PGLITE_NODE_FLAGS } from "@danesweep/store";
import { makeCa } from "../../../libs/dane/test/certs.ts";
import { ehloOption, enumOption, intOption, numberOption, resolverAddress, UsageError } from "../src/args.ts";
import { agrees, demoTable, testbedResolver } from "../src/commands/demo.ts";
import { parseScanArgs, skipMessage } from "../src/commands/scan.ts";
import { serveOptions } from "../src/commands/serve.ts";
import { readInputs } from "../src/input.ts";
import { SECOND_INTERRUPT_MESSAGE } from "../src/interrupt.ts";
import { formatter, Summary } from "../src/output.ts";
import { formatDuration, renderProgress } from "../src/progress.ts";
import { defaultDataDir, storeConfig } from "../src/store-options.ts";

const record = (
  over: Partial<VerdictRecord["verdict"]> = {},
  dane: VerdictRecord["dane"] = "valid",
): VerdictRecord => ({
  schema: 2,
  domain: "example.org",
  engine: { version: "2.0.0", profile: "postfix" },
  problems: [],
  mx: { outcome: "answer", security: "secure" },
  probeMode: "all",
  tld: "org",
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

test("what is echoed of an input line cannot drive the terminal", async () => {
  const stdin = Readable.from([
    "evil\u001b]0;owned\u0007.example\n\u001b[2J\u001b[Hx.example\nok.example\nb\u007fad.example\n",
  ]);
  const lines = [];
  for await (const l of readInputs({ args: ["\u001b[31mred.example"], files: ["-"], stdin })) lines.push(l);
  assert.deepEqual(
    lines.map((l) => l.text),
    [
      "\\x1b[31mred.example",
      "evil\\x1b]0;owned\\x07.example",
      "\\x1b[2J\\x1b[Hx.example",
      "ok.example",
      "b\\x7fad.example",
    ],
  );
  // As `danesweep scan` reports them: every one but ok.example is invalid, and no message holds a control character.
  for (const l of lines) {
    const n = normalizeDomain(l.text);
    if (l.text === "ok.example") {
      assert.ok(n.ok);
      continue;
    }
    assert.ok(!n.ok, l.text);
    const m = skipMessage(l, { kind: "invalid", error: n.error, detail: n.detail }) ?? "";
    assert.ok(m.includes(`${l.source === "argv" ? "argument" : "stdin:"}`), m);
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(m), JSON.stringify(m));
  }
});

test("csv quoting follows RFC 4180", () => {
  const row = formatter("csv").row(record(), "S1");
  assert.equal(
    row,
    // then the MTA-STS / TLS-RPT columns: empty, the record has no such judgement
    'S1,example.org,deliver,dane-verified,mx.example.org,192.0.2.1,dane-authenticated,valid,"mx, ""quoted""\nsecond line",,,,,,\r\n',
  );
  assert.equal(
    formatter("csv").header(),
    "scan,domain,action,security,host,address,reason,dane,explanation," +
      "mta_sts_policy,mta_sts_mode,mta_sts_outcome,mta_sts_reason,mta_sts_contradictions,tls_rpt\r\n",
  );
  const sts = formatter("csv").row(
    {
      ...record(),
      mtaSts: {
        policy: "valid",
        mode: "enforce",
        outcome: { action: "defer", reason: "certificate-invalid" },
        contradictions: ["enforce-certificate-invalid", "dane-delivers-mta-sts-defers"],
      },
      tlsRpt: { state: "none" },
    },
    "S1",
  );
  assert.ok(
    sts.endsWith(
      ",valid,enforce,defer,certificate-invalid,enforce-certificate-invalid dane-delivers-mta-sts-defers,none\r\n",
    ),
    sts,
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

test("table cells cannot drive the terminal: a host name from DNS with escapes is shown escaped", () => {
  const r = formatter("table").row(record({ host: "mx\u001b[2J.example" }), "S");
  assert.ok(r.includes("mx\\x1b[2J.example"), r);
  assert.ok(!r.includes("\u001b"), JSON.stringify(r));
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
  // One text per address (RFC 5952), as the resolver keys its upstreams.
  assert.equal(resolverAddress("2001:DB8:0:0::53"), "[2001:db8::53]:53");
  assert.equal(resolverAddress("[0:0::1]:5353"), "[::1]:5353");
  for (const bad of [
    "300.1.1.1",
    "resolver.example",
    "127.0.0.1:0",
    "[::1]:70000",
    "",
    "::::",
    "1::2::3",
    "127.000.0.1",
    "[1.2]:53",
  ]) {
    assert.throws(() => resolverAddress(bad), UsageError, bad);
  }
});

test("--ehlo: a host name or an address literal; anything else is a usage error (exit 2)", () => {
  assert.equal(ehloOption(undefined), undefined);
  for (const ok of ["scanner.example.net", "localhost", "[192.0.2.1]", "[IPv6:2001:db8::1]"])
    assert.equal(ehloOption(ok), ok);
  for (const bad of ["bad name", "-scanner.example", "scanner..example", "a_b.example", "", "x".repeat(64)])
    assert.throws(() => ehloOption(bad), /--ehlo must be/, bad);
  assert.throws(() => parseScanArgs(["--ehlo", "bad name!", "a.example"], false), UsageError);
  // The whole command: refused before it opens a store or a socket.
  const dir = mkdtempSync(join(tmpdir(), "danesweep-ehlo-"));
  try {
    const r = spawnSync(
      process.execPath,
      [
        new URL("../src/main.ts", import.meta.url).pathname,
        "scan",
        "--ehlo",
        "bad name!",
        "--data",
        dir,
        "a.example",
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--ehlo must be a host name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
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

test("Ctrl-C: the first stops cleanly (waiting for work in flight), the second stops at once", {
  timeout: 60_000,
}, async () => {
  // A process whose work in flight never ends, like a probe waiting on a slow server.
  const script = `
    import { interruptOnSignals } from ${JSON.stringify(new URL("../src/interrupt.ts", import.meta.url).href)};
    const i = interruptOnSignals(process.stderr, "first\\n");
    i.signal.addEventListener("abort", () => process.stdout.write("aborted\\n"));
    setInterval(() => {}, 1000);
    process.stdout.write("ready\\n");`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    let out = "";
    let err = "";
    const seen = (what: () => string, text: string) =>
      new Promise<void>((ok) => {
        const check = () => {
          if (what().includes(text)) ok();
          else setTimeout(check, 10);
        };
        check();
      });
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString();
    });
    const exited = new Promise<number | null>((ok) => child.once("exit", (code) => ok(code)));
    await seen(() => out, "ready");
    child.kill("SIGINT");
    await seen(() => out, "aborted");
    assert.equal(err, "first\n");
    assert.equal(child.exitCode, null, "the first Ctrl-C waits for the work in flight");
    child.kill("SIGINT");
    assert.equal(await exited, 130);
    assert.equal(err, `first\n${SECOND_INTERRUPT_MESSAGE}`);
  } finally {
    child.kill("SIGKILL");
  }
});

test("progress line and durations", () => {
  assert.equal(formatDuration(5_000), "5s");
  assert.equal(formatDuration(125_000), "2m05s");
  assert.equal(formatDuration(3_725_000), "1h02m");
  const p = renderProgress(
    { seeded: 100, resolved: 80, probesDone: 10, judged: 50, inputDone: true },
    10_000,
  );
  assert.match(p, /seeded 100 +resolved 80 +probed 10 +judged 50 +5\.0\/s +ETA 10s/);
  // A follower of a deployment knows only what the store says: seeded and judged.
  assert.match(
    renderProgress({ seeded: 100, judged: 50, inputDone: true }, 10_000),
    /^seeded 100 +judged 50 +5\.0\/s/,
  );
  assert.match(
    renderProgress({ seeded: 1, resolved: 0, probesDone: 0, judged: 0, inputDone: false }, 1),
    /seeded 1\+.*ETA \?/,
  );
  // A resumed scan: 19 domains seeded again, 24 judged (5 of them before the interruption).
  assert.match(
    renderProgress({ seeded: 19, resolved: 19, probesDone: 20, judged: 24, inputDone: true }, 80_000),
    /judged 24 +0\.3\/s +ETA 0s$/,
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

test("serve options: --mta-sts-ca names the roots re-judging judges MTA-STS with; Node's CAs without", () => {
  assert.equal(serveOptions([]).mtaSts.name, "node-default");
  assert.ok(serveOptions([]).mtaSts.size > 10, "Node's default CA certificates");
  const dir = mkdtempSync(join(tmpdir(), "danesweep-serve-ca-"));
  try {
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, makeCa("serve test root").pem);
    const o = serveOptions(["--mta-sts-ca", ca]);
    assert.equal(o.mtaSts.name, `file:${ca}`);
    assert.equal(o.mtaSts.size, 1);
    const missing = join(dir, "missing.pem");
    assert.throws(
      () => serveOptions(["--mta-sts-ca", missing]),
      (e: unknown) =>
        e instanceof UsageError && e.message.includes(`--mta-sts-ca: MTA-STS trust store ${missing}`),
    );
    writeFileSync(join(dir, "junk.pem"), "not a certificate\n");
    assert.throws(() => serveOptions(["--mta-sts-ca", join(dir, "junk.pem")]), /no certificate found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

test("demo: the resolver comes from the testbed's own command (`testbed env`), not from its package", () => {
  // The testbed's README and bin/testbed name Unbound at 127.53.53.53, port 53.
  const env = spawnSync(new URL("../../../test/testbed/bin/testbed", import.meta.url).pathname, ["env"], {
    encoding: "utf8",
  });
  assert.equal(env.status, 0, env.stderr);
  assert.deepEqual(testbedResolver(env.stdout), { ok: true, value: "127.53.53.53:53" });
  const missing = testbedResolver("export DANESWEEP_TESTBED_RESOLVER='127.53.53.53'\n");
  assert.ok(
    !missing.ok && missing.error.includes("DANESWEEP_TESTBED_RESOLVER_PORT"),
    JSON.stringify(missing),
  );
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  assert.equal(pkg.dependencies["@danesweep/testbed"], undefined, "the CLI does not depend on the testbed");
});

test("bin/danesweep starts Node with the flags and environment the embedded store needs (PGLITE_NODE_FLAGS, PGLITE_NODE_ENV)", () => {
  const launcher = readFileSync(new URL("../../../bin/danesweep", import.meta.url), "utf8");
  const lines = launcher.split("\n");
  const exec = lines.find((l) => l.startsWith("exec "));
  assert.ok(exec, "an exec line");
  for (const flag of PGLITE_NODE_FLAGS) assert.ok(exec.split(/\s+/).includes(flag), `${flag} in: ${exec}`);
  for (const [k, v] of Object.entries(PGLITE_NODE_ENV)) {
    assert.ok(lines.includes(`export ${k}="\${${k}:-${v}}"`), `${k} defaults to ${v} in bin/danesweep`);
  }
});

test("openResources names what holds the event loop, counted by kind", async () => {
  const { openResources } = await import("../src/commands/scan-kafka.ts");
  const timers = [setTimeout(() => {}, 60_000), setTimeout(() => {}, 60_000)];
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const text = openResources();
    const timeouts = /Timeout x(\d+)/.exec(text);
    assert.ok(timeouts && Number(timeouts[1]) >= 2, `two timers at least: ${text}`);
    assert.match(text, /TCPServerWrap x1\b/, `the listening server: ${text}`);
  } finally {
    for (const t of timers) clearTimeout(t);
    await new Promise((r) => server.close(r));
  }
  // libuv lets the handle go a moment after the close callback.
  for (let i = 0; i < 100 && /TCPServerWrap/.test(openResources()); i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.doesNotMatch(openResources(), /TCPServerWrap/, "gone once closed");
});
