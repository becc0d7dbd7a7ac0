/**
 * canonicalFacts: the same RRsets in any order give the same facts; chains keep
 * their order; the input is not touched.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalFacts } from "../src/canonical.ts";
import type { DomainFacts, HostFacts, Lookup } from "../src/facts.ts";

const lookup = <T>(qtype: Lookup<T>["qtype"], records: T[], chain: Lookup<T>["chain"] = []): Lookup<T> => ({
  qname: "q.example",
  qtype,
  outcome: records.length ? "answer" : "nodata",
  security: "secure",
  chain,
  owner: "q.example",
  records,
});

const host = (
  name: string,
  preference: number,
  a: string[],
  aaaa: string[],
  tlsa: [number, number, number, string][],
): HostFacts => ({
  name,
  preference,
  implicit: false,
  a: lookup("A", a),
  aaaa: lookup("AAAA", aaaa),
  tlsa: [
    lookup(
      "TLSA",
      tlsa.map(([usage, selector, matchingType, data]) => ({ usage, selector, matchingType, data })),
    ),
  ],
});

function facts(order: "one" | "other"): DomainFacts {
  const one = order === "one";
  const hosts = [
    host("mx2.example", 20, one ? ["192.0.2.10", "192.0.2.9"] : ["192.0.2.9", "192.0.2.10"], [], []),
    host(
      "mx1.example",
      10,
      one ? ["198.51.100.1", "192.0.2.200"] : ["192.0.2.200", "198.51.100.1"],
      one ? ["2001:db8::10", "2001:db8::9"] : ["2001:db8::9", "2001:db8::10"],
      one
        ? [
            [3, 1, 1, "bb"],
            [2, 0, 1, "aa"],
            [3, 1, 1, "aa"],
          ]
        : [
            [3, 1, 1, "aa"],
            [3, 1, 1, "bb"],
            [2, 0, 1, "aa"],
          ],
    ),
    host("mx0.example", 20, ["192.0.2.1"], [], []),
  ];
  const mx = [
    { preference: 20, exchange: "mx2.example" },
    { preference: 10, exchange: "mx1.example" },
    { preference: 20, exchange: "mx0.example" },
  ];
  return {
    schema: 1,
    domain: "d.example",
    port: 25,
    resolverValidates: true,
    mx: lookup("MX", one ? mx : [...mx].reverse(), [{ owner: "d.example", target: "q.example" }]),
    hosts: one ? hosts : [...hosts].reverse(),
    limits: [],
    collectedAt: "2026-01-01T00:00:00.000Z",
  };
}

test("the same RRsets in another order give the same facts", () => {
  assert.deepEqual(canonicalFacts(facts("one")), canonicalFacts(facts("other")));
});

test("the canonical order: MX by preference then name, addresses numerically, TLSA by fields, hosts by preference then name", () => {
  const c = canonicalFacts(facts("one"));
  assert.deepEqual(
    c.mx.records.map((r) => `${r.preference} ${r.exchange}`),
    ["10 mx1.example", "20 mx0.example", "20 mx2.example"],
  );
  assert.deepEqual(
    c.hosts.map((h) => h.name),
    ["mx1.example", "mx0.example", "mx2.example"],
  );
  const mx1 = c.hosts[0] as HostFacts;
  assert.deepEqual(mx1.a.records, ["192.0.2.200", "198.51.100.1"]);
  assert.deepEqual(mx1.aaaa.records, ["2001:db8::9", "2001:db8::10"], "numerically, not as text");
  assert.deepEqual(
    mx1.tlsa[0]?.records.map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data}`),
    ["2 0 1 aa", "3 1 1 aa", "3 1 1 bb"],
  );
  assert.deepEqual(c.mx.chain, [{ owner: "d.example", target: "q.example" }]);
});

test("the input is not touched", () => {
  const f = facts("one");
  const before = JSON.stringify(f);
  canonicalFacts(f);
  assert.equal(JSON.stringify(f), before);
});
