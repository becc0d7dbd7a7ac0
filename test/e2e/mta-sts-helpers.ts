/**
 * Helpers of the MTA-STS end-to-end tests.
 *
 * `checkMtaSts(verdicts)`: each verdict's MTA-STS and TLS-RPT judgements and
 * DANE verdict against the testbed's expected ones (mtaStsCases).
 *
 * `waitForMtaStsRecords()`: waiting until the validating resolver serves the testbed's MTA-STS records
 * (test/testbed src/mta-sts.ts), with cli.ts `waitForRecords`.
 */

import assert from "node:assert/strict";
import { mtaStsCases } from "@danesweep/testbed";
import { type JsonVerdict, waitForRecords } from "./cli.ts";

export async function waitForMtaStsRecords(timeoutMs = 360_000): Promise<void> {
  const names = mtaStsCases().flatMap((c) => [
    [`_mta-sts.${c.domain}`, "TXT"],
    [c.domain, "MX"],
    [`mta-sts.${c.domain}`, "A"],
    ...c.mx.map((m) => [m.name, "A"]),
  ]) as [string, string][];
  await waitForRecords(names, "the MTA-STS records", timeoutMs);
}

const cases = mtaStsCases();

export function checkMtaSts(verdicts: JsonVerdict[]): void {
  assert.equal(verdicts.length, cases.length);
  const by = new Map(verdicts.map((v) => [v.domain, v]));
  for (const c of cases) {
    const v = by.get(c.domain);
    assert.ok(v, c.domain);
    const m = v.mtaSts;
    assert.ok(m, `${c.domain}: an MTA-STS judgement`);
    assert.equal(m.policy, c.expected.policy, `${c.domain}: policy (${m.detail ?? ""})`);
    assert.deepEqual(m.contradictions, c.expected.contradictions, `${c.domain}: contradictions`);
    if (c.expected.outcome) {
      assert.equal(m.outcome?.action, c.expected.outcome.action, `${c.domain}: outcome`);
      assert.equal(m.outcome?.reason, c.expected.outcome.reason, `${c.domain}: outcome reason`);
      if (c.expected.outcome.host) assert.equal(m.outcome?.host, c.expected.outcome.host, c.domain);
    } else assert.equal(m.outcome, undefined, c.domain);
    assert.equal(v.tlsRpt?.state, c.expected.tlsRpt, `${c.domain}: TLS-RPT`);
    assert.equal(v.verdict.action, c.expected.dane.action, `${c.domain}: DANE verdict`);
    assert.equal(v.dane, c.expected.dane.state, `${c.domain}: DANE state`);
  }
}
