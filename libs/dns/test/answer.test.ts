/**
 * Following CNAMEs in an answer: chains, loops, the 8-link limit, NODATA and
 * NXDOMAIN at the end of a chain, qtype CNAME, negative-caching TTL.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as dnsPacket from "dns-packet";
import { interpretAnswer } from "../src/answer.ts";
import { decodeMessage, type Message } from "../src/wire.ts";
import { rrsigAnswer, tlsaAnswer } from "./fake-server.ts";

function msg(qname: string, qtype: dnsPacket.RecordType, answers: dnsPacket.Answer[], rcode = 0): Message {
  const buf = dnsPacket.encode({
    type: "response",
    id: 1,
    flags: rcode,
    questions: [{ name: qname, type: qtype, class: "IN" }],
    answers,
  });
  const d = decodeMessage(buf);
  assert.ok(d.ok);
  return d.value;
}

const cname = (name: string, data: string, ttl = 300): dnsPacket.Answer => ({
  type: "CNAME",
  name,
  ttl,
  data,
});
const a = (name: string, data: string, ttl = 300): dnsPacket.Answer => ({ type: "A", name, ttl, data });

describe("interpretAnswer", () => {
  test("chain of CNAMEs to an A RRset, in any order in the section", () => {
    const m = msg("h.example", "A", [
      a("c.example", "192.0.2.7", 40),
      cname("b.example", "c.example", 30),
      cname("H.example", "b.example", 100),
    ]);
    const r = interpretAnswer(m, "h.example", "A");
    assert.equal(r.outcome, "answer");
    assert.deepEqual(r.chain, [
      { owner: "h.example", target: "b.example" },
      { owner: "b.example", target: "c.example" },
    ]);
    assert.equal(r.owner, "c.example");
    assert.deepEqual(r.records, ["192.0.2.7"]);
    assert.equal(r.ttl, 40);
    assert.equal(r.cacheTtl, 30);
  });

  test("a signed RRset's TTL is its RRSIG's Original TTL, whatever the cache has left; caching uses what is left", () => {
    const sig = (covered: string, originalTTL: number): dnsPacket.Answer =>
      ({
        type: "RRSIG",
        name: "h.example",
        ttl: 1234,
        data: {
          typeCovered: covered,
          algorithm: 13,
          labels: 2,
          originalTTL,
          expiration: 2_000_000_000,
          inception: 1_700_000_000,
          keyTag: 4242,
          signersName: "example",
          signature: Buffer.alloc(64, 7),
        },
      }) as dnsPacket.Answer;
    const m = msg("h.example", "A", [a("h.example", "192.0.2.9", 1234), sig("A", 3600), sig("MX", 60)]);
    const r = interpretAnswer(m, "h.example", "A");
    assert.equal(r.ttl, 3600, "the RRSIG covering A, not the one covering MX");
    assert.equal(r.cacheTtl, 1234);
    // Unsigned: the TTL the reply gave.
    assert.equal(
      interpretAnswer(msg("h.example", "A", [a("h.example", "192.0.2.9", 77)]), "h.example", "A").ttl,
      77,
    );
  });

  test("a signed TLSA RRset names its zone: the signer of the RRSIG covering it, at the end of the chain", () => {
    const sig = rrsigAnswer;
    const tlsa = tlsaAnswer;
    const owner = "_25._tcp.mx.hosting.example";
    // A CNAME into another zone: the zone is the target's (the RRSIG at the final owner), not the first name's.
    const m = msg("_25._tcp.mx.example", "TLSA", [
      cname("_25._tcp.mx.example", owner),
      sig("_25._tcp.mx.example", "CNAME", "example"),
      tlsa(owner),
      sig(owner, "TLSA", "hosting.example"),
    ]);
    const r = interpretAnswer(m, "_25._tcp.mx.example", "TLSA");
    assert.equal(r.owner, owner);
    assert.equal(r.zone, "hosting.example");
    // Unsigned: no zone. Another type, signed: no zone either (only the consistency check of TLSA RRsets uses it).
    assert.equal(interpretAnswer(msg(owner, "TLSA", [tlsa(owner)]), owner, "TLSA").zone, undefined);
    const signedA = msg("h.example", "A", [a("h.example", "192.0.2.9"), sig("h.example", "A", "example")]);
    assert.equal(interpretAnswer(signedA, "h.example", "A").zone, undefined);
  });

  test("records not on the chain are ignored", () => {
    const m = msg("h.example", "A", [a("other.example", "192.0.2.1"), a("h.example", "192.0.2.2")]);
    assert.deepEqual(interpretAnswer(m, "h.example", "A").records, ["192.0.2.2"]);
  });

  test("a chain whose target has no record of the type is NODATA, chain kept", () => {
    const m = msg("h.example", "TLSA", [cname("h.example", "t.example")]);
    const r = interpretAnswer(m, "h.example", "TLSA");
    assert.equal(r.outcome, "nodata");
    assert.equal(r.owner, "t.example");
    assert.equal(r.chain.length, 1);
  });

  test("NXDOMAIN at the end of a chain is NXDOMAIN with the chain (RFC 6604)", () => {
    const m = msg("h.example", "A", [cname("h.example", "gone.example")], 3);
    const r = interpretAnswer(m, "h.example", "A");
    assert.equal(r.outcome, "nxdomain");
    assert.equal(r.owner, "gone.example");
    assert.deepEqual(r.chain, [{ owner: "h.example", target: "gone.example" }]);
  });

  test("a CNAME loop is an error of kind limit", () => {
    const m = msg("x.example", "A", [cname("x.example", "y.example"), cname("y.example", "x.example")]);
    const r = interpretAnswer(m, "x.example", "A");
    assert.equal(r.outcome, "error");
    assert.equal(r.error, "limit");
    assert.equal(r.limitHit, "cname-loop");
    assert.equal(r.cacheTtl, undefined);
  });

  test("8 CNAMEs are followed, 9 hit the limit (RFC 7672 rules: chain of 8)", () => {
    const names = Array.from({ length: 11 }, (_, i) => `n${i}.example`);
    const build = (links: number) =>
      msg("n0.example", "A", [
        ...names.slice(0, links).map((n, i) => cname(n, names[i + 1]!)),
        a(names[links]!, "192.0.2.9"),
      ]);
    const ok = interpretAnswer(build(8), "n0.example", "A");
    assert.equal(ok.outcome, "answer");
    assert.equal(ok.chain.length, 8);
    const over = interpretAnswer(build(9), "n0.example", "A");
    assert.equal(over.outcome, "error");
    assert.equal(over.error, "limit");
    assert.equal(over.limitHit, "cname-chain>8");
  });

  test("qtype CNAME is answered by the CNAME itself, without following", () => {
    const m = msg("h.example", "CNAME", [cname("h.example", "b.example"), cname("b.example", "c.example")]);
    const r = interpretAnswer(m, "h.example", "CNAME");
    assert.equal(r.outcome, "answer");
    assert.deepEqual(r.records, ["b.example"]);
    assert.deepEqual(r.chain, []);
    assert.equal(interpretAnswer(msg("z.example", "CNAME", []), "z.example", "CNAME").outcome, "nodata");
  });

  test("null MX decodes its exchange as the root", () => {
    const m = msg("d.example", "MX", [
      { type: "MX", name: "d.example", ttl: 1, data: { preference: 0, exchange: "." } },
    ]);
    assert.deepEqual(interpretAnswer(m, "d.example", "MX").records, [{ preference: 0, exchange: "." }]);
  });

  test("a negative answer without SOA is not cacheable", () => {
    assert.equal(interpretAnswer(msg("q.example", "A", []), "q.example", "A").cacheTtl, undefined);
  });
});
