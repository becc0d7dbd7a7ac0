/**
 * The response decoder: crafted packets (encoded by dns-packet, an independent
 * encoder), compression-pointer abuse, rdata of the wrong size, and a fuzz
 * run with a fixed seed: random, truncated and mutated packets never throw out
 * of the library.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as dnsPacket from "dns-packet";
import { interpretAnswer } from "../src/answer.ts";
import {
  decodeHeaderQuestion,
  decodeMessage,
  encodeQuery,
  readAaaa,
  readName,
  readTlsa,
  readTxt,
  TYPE_CODES,
} from "../src/wire.ts";

/** mulberry32: a small deterministic PRNG for the fuzz inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sample(): Buffer {
  return dnsPacket.encode({
    type: "response",
    id: 0xbeef,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHENTIC_DATA,
    questions: [{ name: "mail.example", type: "MX", class: "IN" }],
    answers: [
      { type: "CNAME", name: "mail.example", ttl: 100, data: "mx-alias.example.net" },
      {
        type: "MX",
        name: "mx-alias.example.net",
        ttl: 50,
        data: { preference: 10, exchange: "MX1.example.net" },
      },
      { type: "MX", name: "mx-alias.example.net", ttl: 70, data: { preference: 20, exchange: "." } },
      {
        type: "TLSA",
        name: "_25._tcp.mx1.example.net",
        ttl: 70,
        data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.from("00ff10", "hex") },
      },
      { type: "AAAA", name: "mx1.example.net", ttl: 70, data: "2001:db8::1" },
    ],
    authorities: [
      {
        type: "SOA",
        name: "example.net",
        ttl: 300,
        data: {
          mname: "ns.example.net",
          rname: "host.example.net",
          serial: 7,
          refresh: 1,
          retry: 2,
          expire: 3,
          minimum: 60,
        },
      },
    ],
  });
}

describe("wire decoder", () => {
  test("decodes header, question and records of a dns-packet encoded reply", () => {
    const d = decodeMessage(sample());
    assert.ok(d.ok);
    const m = d.value;
    assert.equal(m.header.id, 0xbeef);
    assert.equal(m.header.qr, true);
    assert.equal(m.header.ad, true);
    assert.equal(m.header.tc, false);
    assert.deepEqual(m.question, { name: "mail.example", type: 15, klass: 1 });
    assert.equal(m.answers.length, 5);
    assert.equal(m.authority.length, 1);
    const mx = interpretAnswer(m, "mail.example", "MX");
    assert.equal(mx.outcome, "answer");
    assert.deepEqual(mx.chain, [{ owner: "mail.example", target: "mx-alias.example.net" }]);
    assert.equal(mx.owner, "mx-alias.example.net");
    assert.deepEqual(mx.records, [
      { preference: 10, exchange: "mx1.example.net" },
      { preference: 20, exchange: "." },
    ]);
    assert.equal(mx.ttl, 50);
    const tlsa = interpretAnswer(m, "_25._tcp.mx1.example.net", "TLSA");
    assert.deepEqual(tlsa.records, [{ usage: 3, selector: 1, matchingType: 1, data: "00ff10" }]);
    assert.deepEqual(interpretAnswer(m, "mx1.example.net", "AAAA").records, ["2001:db8::1"]);
  });

  test("a query from encodeQuery decodes to what was asked", () => {
    const q = decodeMessage(encodeQuery(77, "a.example", "TLSA", { cd: true }));
    assert.ok(q.ok);
    assert.equal(q.value.header.id, 77);
    assert.equal(q.value.header.cd, true);
    assert.equal(q.value.header.rd, true);
    assert.deepEqual(q.value.question, { name: "a.example", type: TYPE_CODES.TLSA, klass: 1 });
    const opt = q.value.additional[0]!;
    assert.equal(opt.type, 41);
    assert.equal(opt.klass, 1232);
    assert.equal(opt.ttl & 0x8000, 0x8000);
  });

  test("compression pointers that loop or point forward are rejected", () => {
    // header (12) + name at 12: pointer to itself
    const self = Buffer.alloc(16);
    self.writeUInt16BE(1, 4);
    self[12] = 0xc0;
    self[13] = 12;
    assert.equal(readName(self, 12), undefined);
    assert.equal(decodeHeaderQuestion(self).ok, false);
    // two pointers bouncing: at 14 -> 12, at 12 -> label "a" then pointer to 12 again
    const bounce = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0xc0, 12, 0, 1, 0, 1]);
    assert.equal(readName(bounce, 12), undefined);
    const forward = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 20, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(readName(forward, 12), undefined);
  });

  test("names longer than 255 octets and reserved label types are rejected", () => {
    const labels: number[] = [];
    for (let i = 0; i < 5; i++) labels.push(63, ...new Array(63).fill(0x61));
    const long = Buffer.from([...labels, 0]);
    assert.equal(readName(long, 0), undefined);
    assert.equal(readName(Buffer.from([0x40, 0]), 0), undefined);
    assert.equal(readName(Buffer.from([0x80, 0]), 0), undefined);
  });

  test("label bytes outside the hostname set come out escaped and lowercase", () => {
    const buf = Buffer.from([4, 0x41, 0x2e, 0x5c, 0x07, 3, 0x43, 0x4f, 0x4d, 0]);
    assert.deepEqual(readName(buf, 0), { name: "a\\.\\\\\\007.com", end: 10 });
  });

  test("the longest escaped name (255 octets, every byte written as \\DDD) reads whole", () => {
    // 4 labels of 63, 63, 63 and 61 bytes 0xff: 254 octets of name, 250 of them escaped.
    const sizes = [63, 63, 63, 61];
    const wire = Buffer.from([...sizes.flatMap((n) => [n, ...new Array<number>(n).fill(0xff)]), 0]);
    assert.equal(wire.length, 255);
    const r = readName(wire, 0);
    const expected = sizes.map((n) => "\\255".repeat(n)).join(".");
    assert.equal(expected.length, 1003);
    assert.deepEqual(r, { name: expected, end: 255 });
    // High bytes and upper case mixed in one label: ASCII letters fold, nothing else does.
    assert.equal(readName(Buffer.from([4, 0x80, 0x5a, 0xc4, 0x7f, 0]), 0)?.name, "\\128z\\196\\127");
  });

  test("A/AAAA/TLSA rdata of the wrong size make the lookup malformed, not a crash", () => {
    const base = dnsPacket.encode({
      type: "response",
      id: 1,
      questions: [{ name: "x.example", type: "A", class: "IN" }],
      answers: [{ type: "A", name: "x.example", ttl: 1, data: "192.0.2.1" }],
    });
    // rdlength of the A record sits just before its 4 data octets, at the end.
    const bad = Buffer.concat([base.subarray(0, base.length - 6), Buffer.from([0, 3, 192, 0, 2])]);
    const d = decodeMessage(bad);
    assert.ok(d.ok);
    const l = interpretAnswer(d.value, "x.example", "A");
    assert.equal(l.outcome, "error");
    assert.equal(l.error, "malformed");
    const rr = { name: "t", nameAt: 0, type: 52, klass: 1, ttl: 0, rdStart: 0, rdEnd: 2 };
    assert.equal(readTlsa(Buffer.from([3, 1]), rr), undefined);
    assert.deepEqual(readTlsa(Buffer.from([3, 1, 1]), { ...rr, rdEnd: 3 }), {
      usage: 3,
      selector: 1,
      matchingType: 1,
      data: "",
    });
  });

  test("TXT: the character-strings joined, octets kept as Latin-1; a string past the rdata is malformed", () => {
    const msg = dnsPacket.encode({
      type: "response",
      id: 1,
      questions: [{ name: "_mta-sts.x.example", type: "TXT", class: "IN" }],
      answers: [
        { type: "TXT", name: "_mta-sts.x.example", ttl: 1, data: ["v=STSv1; ", "id=20250701;"] },
        { type: "TXT", name: "_mta-sts.x.example", ttl: 1, data: [Buffer.from([0x76, 0xe9, 0x00])] },
      ],
    });
    const d = decodeMessage(msg);
    assert.ok(d.ok);
    const l = interpretAnswer(d.value, "_mta-sts.x.example", "TXT");
    assert.equal(l.outcome, "answer");
    assert.deepEqual(l.records, ["v=STSv1; id=20250701;", "v\u00e9\u0000"]);
    const rr = { name: "t", nameAt: 0, type: 16, klass: 1, ttl: 0, rdStart: 0, rdEnd: 3 };
    assert.equal(readTxt(Buffer.from([5, 0x61, 0x62]), rr), undefined);
    assert.equal(readTxt(Buffer.from([]), { ...rr, rdEnd: 0 }), undefined);
    assert.equal(readTxt(Buffer.from([0]), { ...rr, rdEnd: 1 }), "");
  });

  test("AAAA text is RFC 5952 form (checked against the WHATWG URL serialiser)", () => {
    const rnd = prng(5952);
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(16);
      for (let j = 0; j < 8; j++) {
        // plenty of zero groups so that compression cases come up
        const v = rnd() < 0.5 ? 0 : Math.floor(rnd() * 0x10000);
        b.writeUInt16BE(v, j * 2);
      }
      const mine = readAaaa(b, { name: "", nameAt: 0, type: 28, klass: 1, ttl: 0, rdStart: 0, rdEnd: 16 });
      const groups = Array.from({ length: 8 }, (_, j) => b.readUInt16BE(j * 2).toString(16)).join(":");
      const ref = new URL(`http://[${groups}]/`).hostname.slice(1, -1);
      // the serialiser writes ::ffff:0:0/96 in hex; RFC 5952 section 5 (and danesweep) in mixed notation
      const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ref);
      const want = mapped ? `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}` : ref;
      assert.equal(mine, want);
    }
  });

  test("fuzz: 300k random, truncated and mutated inputs never throw (seed 7672)", () => {
    const rnd = prng(7672);
    const valid = [
      sample(),
      encodeQuery(1, "example.com", "A"),
      dnsPacket.encode({
        type: "response",
        id: 2,
        flags: dnsPacket.TRUNCATED_RESPONSE,
        questions: [{ name: "a.b.c.example", type: "TLSA", class: "IN" }],
        answers: [
          { type: "CNAME", name: "a.b.c.example", ttl: 1, data: "b.c.example" },
          { type: "CNAME", name: "b.c.example", ttl: 1, data: "a.b.c.example" },
        ],
      }),
    ];
    const types = ["A", "AAAA", "MX", "TLSA", "CNAME", "SOA", "DNSKEY"] as const;
    let decodedOk = 0;
    let truncatedOk = 0;
    let internal = 0;
    const N = 300_000;
    for (let i = 0; i < N; i++) {
      const kind = i % 3;
      let buf: Buffer;
      const v = valid[i % valid.length]!;
      if (kind === 0) {
        buf = Buffer.alloc(Math.floor(rnd() * 300));
        for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
        // Make many of them look like plausible headers so deeper code is reached.
        if (buf.length >= 12 && rnd() < 0.7) {
          buf.writeUInt16BE(1, 4);
          buf.writeUInt16BE(Math.floor(rnd() * 4), 6);
        }
      } else if (kind === 1) {
        buf = v.subarray(0, Math.floor(rnd() * v.length));
      } else {
        buf = Buffer.from(v);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let j = 0; j < flips; j++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
      }
      try {
        const h = decodeHeaderQuestion(buf);
        const d = decodeMessage(buf);
        if ((!h.ok && h.error === "internal") || (!d.ok && d.error === "internal")) internal++;
        if (d.ok) {
          decodedOk++;
          if (kind === 1) truncatedOk++;
          const qn = d.value.question?.name ?? "example.com";
          for (const t of types) interpretAnswer(d.value, qn, t);
        }
      } catch (e) {
        assert.fail(`input ${i} (${buf.toString("hex")}) threw ${String(e)}`);
      }
    }
    // The decoders' last-resort guard never had to catch anything.
    assert.equal(internal, 0);
    // Each valid packet ends exactly with its last record: a strict truncation cannot decode.
    assert.equal(truncatedOk, 0);
    assert.ok(decodedOk > 1000, `only ${decodedOk} inputs decoded: the fuzz does not reach the record code`);
  });
});
