/**
 * Change events between scans, end to end through `bin/danesweep` on the real
 * test universe (docs/rules.md rules 49-51), with real changes and none made
 * up by our own policy.
 *
 * flip.testing (test/testbed/src/changes.ts) is a DANE domain whose one MX
 * host, mx.flip.testing, has TLSA 3 1 1 of the testbed's certificate B and an
 * address on which the testbed runs no server: this test runs its own SMTP
 * server there and changes what it presents between scans, the zones stay
 * as they are. test1.testing (the write-up's case 1: its primary presents a
 * certificate no record matches, its secondary the right one) is scanned
 * beside it, once with its failing primary left out by the opt-out list.
 *
 *   scan  mx.flip.testing presents         flip.testing               test1.testing                     events
 *   1     certificate A                    invalid [tlsa-mismatch]    partial [tlsa-mismatch]           none (nothing before)
 *   2     certificate B                    valid []                   primary opted out: valid [],      flip: fixed
 *                                                                     not fully observed (rule 51)      (test1: none)
 *   3     no STARTTLS                      invalid [starttls-missing] partial [tlsa-mismatch],          flip: newly-broken
 *                                                                     compared with scan 1: unchanged   (test1: none)
 *   4     nothing (server stopped)         indeterminate (not fully   partial [tlsa-mismatch]           none
 *                                          observed, rule 51)
 * Expected states and problems follow the DANE states' and rule 36's
 * definitions (libs/dane README), the events rules 49-51. dane-adopted,
 * dane-dropped and mx-moved need a change in DNS (the TLSA RRsets, the MX
 * RRset and its security decide them, never a server), which this test does
 * not make: the shared zones stay as they are. libs/dane's golden table and
 * libs/store's suite cover them.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type SmtpServerHandle, startSmtpServer } from "@danesweep/test-smtp";
import { CHANGE_CASES, changeCaseNames, SMTP_HOSTS, SMTP_PORT, testbedState } from "@danesweep/testbed";
import { ensureTestbed, parseJsonl, runCli, TESTBED_SCAN, waitForRecords } from "./cli.ts";

const FLIP = CHANGE_CASES.cli;
const TEST1 = "test1.testing";

describe("change events between scans, through bin/danesweep", { timeout: 600_000 }, () => {
  let dir: string;
  let server: SmtpServerHandle | undefined;
  const certs = testbedState().certs;

  /** What mx.flip.testing presents from now on: a certificate, no STARTTLS, or nothing. */
  async function serve(what: "A" | "B" | "plain" | "nothing"): Promise<void> {
    await server?.close();
    server = undefined;
    if (what === "nothing") return;
    const base = { host: FLIP.address, port: SMTP_PORT, hostname: FLIP.mx };
    server =
      what === "plain"
        ? await startSmtpServer({ ...base, mode: "plain" })
        : await startSmtpServer({
            ...base,
            mode: "starttls",
            cert: readFileSync(certs[what].chain),
            key: readFileSync(certs[what].key),
          });
  }

  before(async () => {
    ensureTestbed();
    await waitForRecords(changeCaseNames(FLIP), "the change-event records (test/testbed/src/changes.ts)");
    dir = mkdtempSync(join(tmpdir(), "danesweep-changes-e2e-"));
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a real fix and a real break are events; a verdict our policy kept from seeing all is not compared", async () => {
    const data = join(dir, "data");
    const optOut = join(dir, "opt-out.txt");
    writeFileSync(
      optOut,
      `# the primary MX of test1.testing, which fails DANE\n${SMTP_HOSTS.mismatch.address}\n`,
    );
    const scan = async (...extra: string[]) => {
      const r = await runCli([
        "scan",
        ...TESTBED_SCAN,
        "--data",
        data,
        "--format",
        "jsonl",
        ...extra,
        FLIP.domain,
        TEST1,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const v = parseJsonl(r.stdout);
      const of = (d: string) => v.find((x) => x.domain === d)!;
      return { flip: of(FLIP.domain), test1: of(TEST1), stderr: r.stderr };
    };

    await serve("A");
    const s1 = await scan();
    assert.deepEqual([s1.flip.dane, s1.flip.problems], ["invalid", ["tlsa-mismatch"]]);
    assert.deepEqual([s1.test1.dane, s1.test1.problems], ["partial", ["tlsa-mismatch"]]);
    assert.match(s1.stderr, /changes since the previous scans: 0 events \(0 domains compared\)/);
    // The scanner reached this test's server, as the host named in the MX (SNI), and sent no mail.
    assert.ok(server!.sessions().some((s) => s.tls && s.servername === FLIP.mx));
    assert.ok(server!.sessions().every((s) => !s.forbidden));

    await serve("B");
    const s2 = await scan("--opt-out", optOut);
    assert.deepEqual([s2.flip.dane, s2.flip.problems], ["valid", []]);
    assert.equal(s2.flip.verdict.security, "dane-verified");
    // Without its primary, test1 looks valid and not broken: not fully observed, so not a "fix".
    assert.deepEqual([s2.test1.dane, s2.test1.problems], ["valid", []]);
    assert.deepEqual(s2.test1.verdict, { action: "indeterminate", reason: "policy-refused" });
    assert.match(
      s2.stderr,
      /changes since the previous scans: 1 event \(1 domain compared, 1 not compared: not fully observed, or another profile\)/,
    );

    await serve("plain");
    const s3 = await scan();
    assert.deepEqual([s3.flip.dane, s3.flip.problems], ["invalid", ["starttls-missing"]]);
    assert.deepEqual([s3.test1.dane, s3.test1.problems], ["partial", ["tlsa-mismatch"]]);
    // test1 is compared with scan 1, its last full look: the same verdict, no event.
    assert.match(s3.stderr, /changes since the previous scans: 1 event \(2 domains compared\)/);

    await serve("nothing");
    const s4 = await scan();
    assert.equal(s4.flip.dane, "indeterminate");
    assert.deepEqual(s4.flip.verdict, { action: "defer", reason: "connection-failed" });
    assert.match(
      s4.stderr,
      /changes since the previous scans: 0 events \(1 domain compared, 1 not compared: not fully observed, or another profile\)/,
    );

    const show = await runCli(["show", FLIP.domain, "--data", data]);
    assert.equal(show.code, 0, show.stderr);
    const block = show.stdout.slice(show.stdout.indexOf("changes ("));
    const lines = block.split("\n").filter((l) => /^\s{4}\d{4}-/.test(l));
    console.log(`show ${FLIP.domain}, its change history:\n${block}`);
    assert.equal(lines.length, 2, block);
    assert.match(
      lines[0]!,
      new RegExp(
        `^\\s+${s3.flip.judgedAt}\\s+newly-broken\\s+problems \\[\\] -> \\[starttls-missing\\], DANE valid -> invalid`,
      ),
    );
    assert.match(
      lines[0]!,
      new RegExp(`scan ${s3.flip.scan}, before: scan ${s2.flip.scan} at ${s2.flip.judgedAt}`),
    );
    assert.match(
      lines[1]!,
      new RegExp(
        `^\\s+${s2.flip.judgedAt}\\s+fixed\\s+problems \\[tlsa-mismatch\\] -> \\[\\], DANE invalid -> valid`,
      ),
    );
    assert.match(
      lines[1]!,
      new RegExp(`scan ${s2.flip.scan}, before: scan ${s1.flip.scan} at ${s1.flip.judgedAt}`),
    );

    const shown1 = await runCli(["show", TEST1, "--data", data]);
    assert.equal(shown1.code, 0, shown1.stderr);
    assert.doesNotMatch(shown1.stdout, /changes \(/, "test1.testing has no change event");
  });
});
