/**
 * The 24 cases of the 2018 sendmail DANE write-up, judged from their facts.
 * Expected outcomes are transcribed by hand from the write-up and from
 * rfc7672-rules.md's worked examples; DANE states from the definitions in
 * libs/dane/README.md, worked out by hand per case.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import type { ProbeKey } from "../src/facts.ts";
import { judge } from "../src/judge.ts";
import { probeTargets } from "../src/probe-targets.ts";
import { buildSeedCases, IP_B, SEED_EXPECTED } from "./fixtures/seed-cases.ts";

const NOW = Date.UTC(2025, 0, 1);
const world = buildSeedCases();

type Row = [
  action: string,
  security: string | undefined,
  host: string | undefined,
  reason: string,
  dane: string,
];

// case: [action, security, host, reason, DANE state]
const EXPECTED: Record<number, Row> = {
  1: ["deliver", "dane-verified", "test1b.testing", "dane-authenticated", "partial"],
  2: ["defer", undefined, undefined, "dane-check-failed", "invalid"],
  3: ["deliver", "dane-verified", "test3b.testing", "dane-authenticated", "partial"],
  4: ["defer", undefined, undefined, "starttls-not-offered", "invalid"],
  5: ["deliver", "encrypted", "test5a.testing", "tls-required-unauthenticated", "unusable-records"],
  6: ["defer", undefined, undefined, "starttls-not-offered", "unusable-records"],
  7: ["deliver", "encrypted", "test7a.testing", "tls-required-unauthenticated", "unusable-records"],
  8: ["defer", undefined, undefined, "starttls-not-offered", "unusable-records"],
  9: ["deliver", "encrypted", "test9a.testing", "tls-required-unauthenticated", "unusable-records"],
  10: ["defer", undefined, undefined, "starttls-not-offered", "unusable-records"],
  11: ["deliver", "encrypted", "test11a.testing", "tls-required-unauthenticated", "unusable-records"],
  12: ["defer", undefined, undefined, "starttls-not-offered", "unusable-records"],
  13: ["deliver", "dane-verified", "test13aa.testing", "dane-authenticated", "valid"],
  14: ["defer", undefined, undefined, "dane-check-failed", "invalid"],
  15: ["deliver", "dane-verified", "test15aa.testing", "dane-authenticated", "valid"],
  16: ["defer", undefined, undefined, "dane-check-failed", "invalid"],
  17: ["deliver", "dane-verified", "test17aa.testing", "dane-authenticated", "valid"],
  18: ["defer", undefined, undefined, "dane-check-failed", "invalid"],
  19: ["deliver", "encrypted", "test19a.moretesting", "opportunistic-tls", "none"],
  20: ["defer", undefined, undefined, "tlsa-lookup-failed", "dns-error"],
  21: ["deliver", "dane-verified", "test21aa.testing", "dane-authenticated", "valid"],
  22: ["defer", undefined, undefined, "dane-check-failed", "invalid"],
  23: ["deliver", "dane-verified", "test23aa.testing", "dane-authenticated", "valid"],
  24: ["defer", undefined, undefined, "dane-check-failed", "invalid"],
};

describe("seed cases (sendmail DANE write-up, 2018)", () => {
  test("the fixture's expectations agree with this test's transcription", () => {
    for (let n = 1; n <= 24; n++) {
      const [action, security, host] = EXPECTED[n]!;
      const e = SEED_EXPECTED[n]!;
      assert.deepEqual([e.action, e.security, e.host], [action, security, host], `case ${n}`);
    }
  });

  for (const c of world.cases) {
    test(`case ${c.n}: ${c.domain}`, () => {
      const r = judge(c.facts, c.probes, { now: NOW });
      const [action, security, host, reason, dane] = EXPECTED[c.n]!;
      assert.equal(r.verdict.action, action, r.explanation);
      assert.equal(r.verdict.security, security, r.explanation);
      assert.equal(r.verdict.host, host, r.explanation);
      assert.equal(r.verdict.reason, reason, r.explanation);
      assert.equal(r.dane, dane, r.explanation);
      assert.equal(r.domain, c.domain);
      assert.equal(r.judgedAt, "2025-01-01T00:00:00.000Z");
    });
  }

  test("the write-up's right digest is cert B's and the wrong one differs", () => {
    assert.equal(world.right, createHash("sha256").update(world.certB.der).digest("hex"));
    assert.notEqual(world.wrong, world.right);
    assert.equal(world.wrong.slice(2), world.right.slice(2));
  });

  test("cases 1 and 3: the primary fails the way the write-up says, the secondary authenticates the leaf", () => {
    const [c1, , c3] = world.cases;
    const r1 = judge(c1!.facts, c1!.probes, { now: NOW });
    assert.equal(r1.hosts[0]!.host, "test1a.testing");
    assert.equal(r1.hosts[0]!.addresses[0]!.reason, "dane-check-failed");
    assert.equal(r1.hosts[1]!.addresses[0]!.auth?.matched?.depth, 0);
    assert.match(
      r1.explanation,
      /test1b\.testing \(127\.64\.93\.21\): TLSA 3 0 1 [0-9a-f]{8}… matched the leaf certificate \(depth 0\)/,
    );
    const r3 = judge(c3!.facts, c3!.probes, { now: NOW });
    assert.equal(r3.hosts[0]!.addresses[0]!.reason, "starttls-not-offered");
  });

  test("rule 15: the TLSA base domain per case", () => {
    const base = (n: number) => {
      const c = world.cases[n - 1]!;
      const h = judge(c.facts, c.probes, { now: NOW }).hosts[0]!;
      return [h.tlsaBase, h.tlsaBaseWhy];
    };
    assert.deepEqual(base(15), ["test15aa.testing", "original-name-fallback"]);
    assert.deepEqual(base(17), ["test17aaaa.testing", "expanded-name"]);
    assert.deepEqual(base(21), ["test21aaaa.testing", "expanded-name"]);
    assert.deepEqual(base(22), ["test22aaaa.testing", "expanded-name"]);
    assert.deepEqual(base(23), ["test23aa.testing", "original-name-chain-insecure"]);
    assert.deepEqual(base(24), ["test24aa.testing", "original-name-chain-insecure"]);
    assert.deepEqual(base(19), [undefined, "address-insecure"]);
    assert.deepEqual(base(20), ["test20a.testing", "tlsa-lookup-error"]);
  });

  test("rule 24: the probe of a CNAME'd DANE host uses the TLSA base domain as SNI", () => {
    const c = world.cases[16]!; // case 17
    const asked: ProbeKey[] = [];
    judge(
      c.facts,
      (k) => {
        asked.push(k);
        return c.probes(k);
      },
      { now: NOW },
    );
    assert.deepEqual(asked, [{ ip: IP_B, port: 25, sni: "test17aaaa.testing" }]);
    assert.deepEqual(
      probeTargets(c.facts, { probeMode: "dane" }).map((t) => [t.ip, t.sni, t.mxHost]),
      [[IP_B, "test17aaaa.testing", "test17aa.testing"]],
    );
  });

  test("cases 19 and 20: never the domain's own A record; case 20's host is not contacted", () => {
    const c19 = world.cases[18]!;
    const r19 = judge(c19.facts, c19.probes, { now: NOW });
    assert.equal(r19.verdict.address, IP_B);
    const c20 = world.cases[19]!;
    const asked: ProbeKey[] = [];
    const r20 = judge(
      c20.facts,
      (k) => {
        asked.push(k);
        return c20.probes(k);
      },
      { now: NOW },
    );
    assert.equal(asked.length, 0);
    assert.equal(r20.verdict.address, undefined);
    assert.equal(r20.hosts.length, 1);
  });
});
