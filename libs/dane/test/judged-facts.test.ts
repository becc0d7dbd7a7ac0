/**
 * The judged form of facts (facts.ts judgedLookup, judgedFacts): what the
 * resolver stage sends on and the store keeps. It must drop only what no
 * rule reads, so a verdict judged from it is the verdict judged from the
 * facts as collected.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type DomainFacts, judgedFacts, judgedLookup, type Lookup, type Provenance } from "../src/facts.ts";
import { judge } from "../src/judge.ts";
import { buildSeedCases } from "./fixtures/seed-cases.ts";

const NOW = Date.UTC(2025, 0, 1);

const provenance = (rcode: string): Provenance => ({
  upstream: "127.0.0.1:53",
  transport: "udp",
  rcode,
  flags: { aa: false, tc: false, rd: true, ra: true, ad: true, cd: false },
  attempts: 2,
  elapsedMs: 12.5,
  cached: true,
});

function lookup(over: Partial<Lookup<string>>): Lookup<string> {
  return {
    qname: "mx.example",
    qtype: "A",
    outcome: "answer",
    security: "secure",
    chain: [],
    owner: "mx.example",
    records: ["192.0.2.1"],
    ...over,
  };
}

test("judgedLookup: an answer loses its provenance and signer zone, keeps a secure TTL, in the same key order", () => {
  const l = lookup({ ttl: 3600, zone: "example", provenance: provenance("NOERROR") });
  const j = judgedLookup(l);
  assert.deepEqual(Object.keys(j), [
    "qname",
    "qtype",
    "outcome",
    "security",
    "chain",
    "owner",
    "records",
    "ttl",
  ]);
  assert.equal(j.ttl, 3600);
  assert.ok(l.provenance && l.zone, "the lookup given is not changed");
});

test("judgedLookup: the TTL of an answer that is not secure is dropped", () => {
  for (const security of ["insecure", "bogus", "indeterminate"] as const) {
    assert.equal(judgedLookup(lookup({ security, ttl: 299 })).ttl, undefined, security);
  }
});

test("judgedLookup: a failed lookup keeps its provenance without timing and cache flag", () => {
  const j = judgedLookup(
    lookup({ outcome: "error", error: "servfail", records: [], provenance: provenance("SERVFAIL") }),
  );
  assert.deepEqual(j.provenance, {
    upstream: "127.0.0.1:53",
    transport: "udp",
    rcode: "SERVFAIL",
    flags: { aa: false, tc: false, rd: true, ra: true, ad: true, cd: false },
    attempts: 2,
  });
});

test("judgedLookup: a lookup with nothing to drop is returned as it is, and the form is stable", () => {
  const l = lookup({ ttl: 60 });
  assert.equal(judgedLookup(l), l);
  const once = judgedLookup(lookup({ security: "insecure", ttl: 5, provenance: provenance("NOERROR") }));
  assert.deepEqual(judgedLookup(once), once);
});

/** The case's facts as a resolver collects them: every lookup with a provenance, TLSA with its signer. */
function asCollected(f: DomainFacts): DomainFacts {
  const add = <T>(l: Lookup<T>): Lookup<T> => ({
    ...l,
    ...(l.qtype === "TLSA" && l.security === "secure" ? { zone: "testing" } : {}),
    provenance: provenance(
      l.outcome === "nxdomain" ? "NXDOMAIN" : l.outcome === "error" ? "SERVFAIL" : "NOERROR",
    ),
  });
  return {
    ...f,
    mx: add(f.mx),
    hosts: f.hosts.map((h) => ({ ...h, a: add(h.a), aaaa: add(h.aaaa), tlsa: h.tlsa.map(add) })),
  };
}

test("every reference case: the verdict from the judged form is the verdict from the facts as collected", () => {
  const world = buildSeedCases();
  let dropped = 0;
  for (const c of world.cases) {
    const collected = asCollected(c.facts);
    const j = judgedFacts(collected);
    dropped += JSON.stringify(collected).length - JSON.stringify(j).length;
    assert.deepEqual(
      judge(j, c.probes, { now: NOW }),
      judge(collected, c.probes, { now: NOW }),
      `case ${c.n}`,
    );
    assert.equal(
      j.mx.provenance,
      c.facts.mx.outcome === "error" ? j.mx.provenance : undefined,
      `case ${c.n}`,
    );
  }
  assert.ok(dropped > 0, "the judged form is smaller");
});
