/**
 * The 24 cases of the 2018 sendmail DANE write-up, judged from their facts.
 * Expected outcomes (action, security, host, reason, DANE state) are the seed
 * table's (libs/dane/seed/seed-cases.json), transcribed by hand from the
 * write-up and docs/rules.md; the facts are built from the same table's zone
 * records (fixtures/seed-cases.ts).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import type { ProbeKey } from "../src/facts.ts";
import { judge } from "../src/judge.ts";
import { probeTargets, routeOf } from "../src/probe-targets.ts";
import { SEED_CASES } from "../src/seed-cases.ts";
import { buildSeedCases, IP_B } from "./fixtures/seed-cases.ts";

const NOW = Date.UTC(2025, 0, 1);
const world = buildSeedCases();

describe("seed cases (sendmail DANE write-up, 2018)", () => {
  test("the table holds cases 1..24 in order, deliveries for the odd ones (the write-up's pattern)", () => {
    assert.deepEqual(
      SEED_CASES.map((c) => c.case),
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    for (const c of SEED_CASES) {
      assert.equal(c.domain, `test${c.case}.testing`);
      assert.equal(c.expected.action, c.case % 2 === 1 ? "deliver" : "defer", `case ${c.case}`);
    }
  });

  for (const c of world.cases) {
    test(`case ${c.n}: ${c.domain}`, () => {
      const r = judge(c.facts, c.probes, { now: NOW });
      const e = c.expected;
      assert.equal(r.verdict.action, e.action, r.explanation);
      assert.equal(r.verdict.security, e.security, r.explanation);
      assert.equal(r.verdict.host, e.host, r.explanation);
      assert.equal(r.verdict.reason, e.reason, r.explanation);
      assert.equal(r.dane, e.dane, r.explanation);
      assert.equal(r.domain, c.domain);
      assert.equal(r.judgedAt, "2025-01-01T00:00:00.000Z");
    });
  }

  test("a route derived once (routeOf) and handed to probeTargets and the judge gives what each derives itself", () => {
    for (const c of world.cases) {
      const route = routeOf(c.facts);
      assert.ok(route, `case ${c.n}`);
      assert.deepEqual(
        probeTargets(c.facts, { probeMode: "all", route }),
        probeTargets(c.facts, { probeMode: "all" }),
      );
      assert.deepEqual(judge(c.facts, c.probes, { now: NOW, route }), judge(c.facts, c.probes, { now: NOW }));
    }
    assert.equal(routeOf({ domain: "x.example" } as never), undefined);
  });

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
