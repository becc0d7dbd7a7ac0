/**
 * MTA-STS and TLS-RPT beside DANE, end to end through `bin/danesweep` on the
 * real test universe: the MTA-STS domains
 * of test/testbed (src/mta-sts.ts: TXT records in the signed zone, the HTTPS
 * policy server on 127.84.61.1:443 with a certificate from the testbed CA,
 * SMTP servers with and without a WebPKI-valid certificate), judged against
 * the testbed CA given with --mta-sts-ca. Expected judgements are the
 * testbed's (read from RFC 8461 and the contradictions' definitions);
 * `danesweep rejudge` judges the stored facts again to the same verdicts.
 * (Change events between scans: changes.e2e.test.ts.)
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { mtaStsCases, testbedState } from "@danesweep/testbed";
import { ensureTestbed, parseJsonl, runCli, TESTBED_SCAN } from "./cli.ts";
import { checkMtaSts, waitForMtaStsRecords } from "./mta-sts-helpers.ts";

const domains = mtaStsCases().map((c) => c.domain);

describe("MTA-STS beside DANE, through bin/danesweep", { timeout: 600_000 }, () => {
  let dir: string;
  const ca = testbedState().mtaSts.caFile;
  before(async () => {
    ensureTestbed();
    await waitForMtaStsRecords();
    dir = mkdtempSync(join(tmpdir(), "danesweep-mtasts-e2e-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("the MTA-STS domains: each judgement as RFC 8461 has it, beside the DANE verdict", async () => {
    const data = join(dir, "sts");
    const r = await runCli([
      "scan",
      ...TESTBED_SCAN,
      "--mta-sts-ca",
      ca,
      "--data",
      data,
      "--format",
      "jsonl",
      ...domains,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const verdicts = parseJsonl(r.stdout);
    checkMtaSts(verdicts);

    // Judged again by this engine: the policy fetches are read back, and the roots the scan was
    // started with (its --mta-sts-ca) judge the certificates: every verdict says what it said.
    const scan = verdicts[0]!.scan;
    const again = await runCli(["rejudge", scan, "--json", "--quiet", "--data", data]);
    assert.equal(again.code, 0, again.stderr);
    const run = JSON.parse(again.stdout);
    assert.equal(run.missingProbes, 0);
    assert.equal(run.counts.identical, domains.length);
    assert.equal(run.newBlobs, 0);
    const badCa = join(dir, "no-such-ca.pem");
    const refused = await runCli(["rejudge", scan, "--again", "--mta-sts-ca", badCa, "--data", data]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, new RegExp(`--mta-sts-ca: MTA-STS trust store ${badCa}: cannot read it`));

    const show = await runCli(["show", "sts-badcert.testing", "--data", data]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /MTA-STS policy: valid, id 20261201/);
    assert.match(show.stdout, /mode enforce, max_age 86400, mx mx\.sts-badcert\.testing/);
    assert.match(
      show.stdout,
      /mx\.sts-badcert\.testing: covered by mx\.sts-badcert\.testing; certificate untrusted/,
    );
    assert.match(show.stdout, /an MTA-STS sender \(no DANE\) would: defer {2}reason: certificate-invalid/);
    assert.match(show.stdout, /contradictions: enforce-certificate-invalid, dane-delivers-mta-sts-defers/);
  });

  test("without the testbed CA, no policy host is trusted: every policy is refused", async () => {
    const r = await runCli([
      "scan",
      ...TESTBED_SCAN,
      "--data",
      join(dir, "node-cas"),
      "--format",
      "jsonl",
      ...domains,
    ]);
    assert.equal(r.code, 0, r.stderr);
    for (const v of parseJsonl(r.stdout)) {
      // The policy host's certificate is checked first (a sender's handshake fails before any HTTP).
      assert.equal(v.mtaSts?.policy, "host-certificate-invalid", v.domain);
      assert.deepEqual(v.mtaSts?.contradictions, ["policy-unavailable"], v.domain);
      assert.equal(v.mtaSts?.trust, "node-default");
    }
  });

  test("--no-mta-sts: no lookups, no fetch, no judgements", async () => {
    const r = await runCli([
      "scan",
      ...TESTBED_SCAN,
      "--no-mta-sts",
      "--data",
      join(dir, "off"),
      "--format",
      "jsonl",
      ...domains,
    ]);
    assert.equal(r.code, 0, r.stderr);
    for (const v of parseJsonl(r.stdout)) {
      assert.equal(v.mtaSts, undefined, v.domain);
      assert.equal(v.tlsRpt, undefined, v.domain);
    }
  });

  test("an unreadable --mta-sts-ca is a usage error naming the file", async () => {
    const r = await runCli([
      "scan",
      ...TESTBED_SCAN,
      "--mta-sts-ca",
      join(dir, "nope.pem"),
      "--data",
      join(dir, "bad"),
      "x.testing",
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--mta-sts-ca: .*nope\.pem: cannot read it/);
  });
});
