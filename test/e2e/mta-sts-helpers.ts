/**
 * Helpers of the MTA-STS end-to-end tests.
 *
 * `checkMtaSts(verdicts)`: each verdict's MTA-STS and TLS-RPT judgements and
 * DANE verdict against the testbed's expected ones (mtaStsCases).
 *
 * `waitForMtaStsRecords()`: waiting until the validating resolver serves the testbed's MTA-STS records
 * (test/testbed src/mta-sts.ts). `testbed up` reloads the zone at once, but
 * Unbound may still answer from what it cached before (it synthesises
 * NXDOMAIN from cached NSEC records for up to their TTL, 300 s here), and the
 * testbed is shared: another checkout's `up` may have written the zone
 * without them a moment ago. Polls with kdig every 2 s; throws after
 * `timeoutMs` naming what is still missing.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { mtaStsCases, RESOLVER } from "@danesweep/testbed";
import type { JsonVerdict } from "./cli.ts";

function answers(name: string, type: string): boolean {
  try {
    return (
      execFileSync("kdig", [`@${RESOLVER.address}`, "+short", "+timeout=2", "+retry=0", name, type], {
        encoding: "utf8",
      }).trim() !== ""
    );
  } catch {
    return false;
  }
}

export async function waitForMtaStsRecords(timeoutMs = 360_000): Promise<void> {
  const names = mtaStsCases().flatMap((c) => [
    [`_mta-sts.${c.domain}`, "TXT"],
    [c.domain, "MX"],
    [`mta-sts.${c.domain}`, "A"],
    ...c.mx.map((m) => [m.name, "A"]),
  ]) as [string, string][];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = names.filter(([n, t]) => !answers(n, t));
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `the resolver does not serve the MTA-STS records: ${missing.map((m) => m.join(" ")).join(", ")}`,
      );
    await sleep(2000);
  }
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
