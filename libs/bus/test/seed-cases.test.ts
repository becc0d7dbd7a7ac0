/**
 * The libs/dane seed-case fixtures (the 24 cases of the 2018 write-up, with
 * real certificates) and their verdicts from judge(): every fact, probe and
 * verdict validates against the bus schemas and round-trips through its
 * envelope unchanged.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { judge, type ProbeFacts } from "@danesweep/dane";
import { buildSeedCases } from "../../dane/test/fixtures/seed-cases.ts";
import { decodeEnvelope, encodeEnvelope } from "../src/envelope.ts";

const now = Date.UTC(2024, 4, 1, 12);

test("seed-case facts, probes and verdicts round-trip through their envelopes", () => {
  const world = buildSeedCases();
  assert.equal(world.cases.length, 24);
  let probesSeen = 0;
  for (const c of world.cases) {
    const facts = decodeEnvelope(encodeEnvelope("dns-facts", "scan", { facts: c.facts }), "dns-facts");
    assert.ok(facts.ok, `case ${c.n} facts: ${facts.ok ? "" : facts.detail}`);
    assert.deepEqual(facts.envelope.body.facts, c.facts);

    const record = judge(c.facts, c.probes, { now });
    const verdict = decodeEnvelope(encodeEnvelope("verdict", "scan", { record }), "verdict");
    assert.ok(verdict.ok, `case ${c.n} verdict: ${verdict.ok ? "" : verdict.detail}`);
    assert.deepEqual(verdict.envelope.body.record, record);

    for (const h of record.hosts) {
      for (const a of h.addresses) {
        if (!a.probe) continue;
        const p = c.probes(a.probe) as ProbeFacts;
        assert.ok(p, `case ${c.n}: probe ${a.probe.ip}`);
        const r = decodeEnvelope(
          encodeEnvelope("probe-result", "scan", { domain: c.domain, facts: p }),
          "probe-result",
        );
        assert.ok(r.ok, `case ${c.n} probe: ${r.ok ? "" : r.detail}`);
        assert.deepEqual(r.envelope.body.facts, p);
        probesSeen++;
      }
    }
  }
  assert.ok(probesSeen > 0, "some verdicts cite probes");
});
