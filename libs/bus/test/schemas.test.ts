/**
 * The TypeBox schemas match the libs/dane types: compile-time identity of
 * Static<schema> and the dane type (tsc fails on any drift, including a
 * missing optional field), and runtime validation of hand-built objects
 * written from the dane types' documentation.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DANE_STATES,
  type DomainFacts,
  judgedFacts,
  PROBE_STATUSES,
  type ProbeFacts,
  REASONS,
  type VerdictRecord,
} from "@danesweep/dane";
import type { Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { DomainFactsSchema, ProbeFactsSchema, VerdictRecordSchema } from "../src/schemas.ts";
import { domainFacts, probeFacts, verdictRecord } from "./fixtures.ts";

// Exact type identity (not mere assignability): fails when a field is missing
// on either side, optional on one side only, or of a different type.
type Equals<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
type Deep<T> = T extends (infer U)[] ? Deep<U>[] : T extends object ? { [K in keyof T]: Deep<T[K]> } : T;
const domainFactsSame: Equals<Deep<Static<typeof DomainFactsSchema>>, Deep<DomainFacts>> = true;
const probeFactsSame: Equals<Deep<Static<typeof ProbeFactsSchema>>, Deep<ProbeFacts>> = true;
const verdictSame: Equals<Deep<Static<typeof VerdictRecordSchema>>, Deep<VerdictRecord>> = true;

test("schema types are identical to the libs/dane types", () => {
  assert.equal(domainFactsSame && probeFactsSame && verdictSame, true);
});

const checkDomain = TypeCompiler.Compile(DomainFactsSchema);
const checkProbe = TypeCompiler.Compile(ProbeFactsSchema);
const checkVerdict = TypeCompiler.Compile(VerdictRecordSchema);

test("hand-built facts and verdicts validate", () => {
  assert.deepEqual([...checkDomain.Errors(domainFacts())], []);
  assert.deepEqual([...checkProbe.Errors(probeFacts())], []);
  assert.deepEqual([...checkVerdict.Errors(verdictRecord())], []);
});

test("every value of the dane closed sets is accepted", () => {
  for (const status of PROBE_STATUSES)
    assert.equal(checkProbe.Check({ ...probeFacts(), status }), true, status);
  for (const dane of DANE_STATES) assert.equal(checkVerdict.Check({ ...verdictRecord(), dane }), true, dane);
  for (const reason of REASONS) {
    const v = verdictRecord();
    assert.equal(checkVerdict.Check({ ...v, verdict: { ...v.verdict, reason } }), true, reason);
  }
});

test("the judged form of facts (what the resolver stage sends) validates, a failed lookup's provenance included", () => {
  const f = domainFacts();
  const failed = {
    ...f,
    mx: { ...f.mx, outcome: "error" as const, error: "servfail" as const, records: [] },
  };
  const judged = judgedFacts(failed);
  assert.equal(judged.mx.provenance?.elapsedMs, undefined, "the judged form drops the timing");
  assert.equal(judged.mx.provenance?.rcode, "NOERROR");
  assert.deepEqual([...checkDomain.Errors(judged)], []);
  assert.deepEqual([...checkDomain.Errors(judgedFacts(f))], []);
});

test("values outside the contract are rejected", () => {
  const bad: [string, unknown, { Check(v: unknown): boolean }][] = [
    ["unknown probe status", { ...probeFacts(), status: "tls-maybe" }, checkProbe],
    ["port above 65535", { ...probeFacts(), port: 70000 }, checkProbe],
    ["fractional port", { ...probeFacts(), port: 25.5 }, checkProbe],
    [
      "chain not base64",
      { ...probeFacts(), tls: { ...probeFacts().tls, chain: ["not base64!"] } },
      checkProbe,
    ],
    ["schema version 2", { ...probeFacts(), schema: 2 }, checkProbe],
    ["missing timings", { ...probeFacts(), timings: undefined }, checkProbe],
    ["uppercase domain", { ...domainFacts(), domain: "Example.org" }, checkDomain],
    ["trailing dot", { ...domainFacts(), domain: "example.org." }, checkDomain],
    ["collectedAt not a time", { ...domainFacts(), collectedAt: "yesterday" }, checkDomain],
    ["TLSA data not hex", tlsaData("zz"), checkDomain],
    ["TLSA data uppercase hex", tlsaData("AB"), checkDomain],
    ["unknown action", { ...verdictRecord(), verdict: { action: "drop", reason: "null-mx" } }, checkVerdict],
    ["unknown dane state", { ...verdictRecord(), dane: "maybe" }, checkVerdict],
    ["address family 5", addressFamily(5), checkVerdict],
  ];
  for (const [name, value, check] of bad) assert.equal(check.Check(value), false, name);
});

test("TLSA data may be empty or odd-sized (malformed data is still a fact)", () => {
  assert.equal(checkDomain.Check(tlsaData("")), true);
  assert.equal(checkDomain.Check(tlsaData("abc")), true);
});

function tlsaData(data: string): unknown {
  const f = domainFacts();
  const host = f.hosts[0];
  const tlsa = host?.tlsa[0];
  assert.ok(host && tlsa);
  return { ...f, hosts: [{ ...host, tlsa: [{ ...tlsa, records: [{ ...tlsa.records[0], data }] }] }] };
}

function addressFamily(family: number): unknown {
  const v = verdictRecord();
  const host = v.hosts[0];
  const addr = host?.addresses[0];
  assert.ok(host && addr);
  return { ...v, hosts: [{ ...host, addresses: [{ ...addr, family }] }] };
}
