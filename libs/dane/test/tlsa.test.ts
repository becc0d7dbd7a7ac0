import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TlsaRecord } from "../src/facts.ts";
import {
  comparableRecords,
  parseTlsaPresentation,
  parseTlsaRdata,
  type TlsaParseError,
  tlsaUsability,
  type UnusableWhy,
} from "../src/tlsa.ts";
import { digestHex, hexOf, makeSelfSigned, spkiOf } from "./certs.ts";

const cert = makeSelfSigned(["mx.example.com"]);
const certHex = hexOf(cert.der);
const spkiHex = hexOf(spkiOf(cert));
const sha256 = digestHex("sha256", spkiOf(cert));
const sha512 = digestHex("sha512", spkiOf(cert));

const rec = (usage: number, selector: number, matchingType: number, data: string): TlsaRecord => ({
  usage,
  selector,
  matchingType,
  data,
});

describe("parseTlsaPresentation", () => {
  it("parses fields and hex split by whitespace, any case, to lowercase", () => {
    const r = parseTlsaPresentation("  3 1 1 AB cd\n EF01 ");
    assert.deepEqual(r, { ok: true, record: rec(3, 1, 1, "abcdef01") });
  });
  it("accepts RFC 7218 mnemonics", () => {
    const r = parseTlsaPresentation("DANE-TA Cert SHA2-512 00");
    assert.deepEqual(r, { ok: true, record: rec(2, 0, 2, "00") });
  });
  const bad: [string, TlsaParseError][] = [
    ["", "bad-syntax"],
    ["3 1 1", "bad-syntax"],
    ["3 x 1 00", "bad-syntax"],
    ["-1 1 1 00", "bad-syntax"],
    ["256 1 1 00", "bad-field"],
    ["3 1 999 00", "bad-field"],
    ["3 1 1 abc", "bad-hex"],
    ["3 1 1 zz", "bad-hex"],
    ["3 1 1 0x00", "bad-hex"],
  ];
  for (const [text, error] of bad) {
    it(`"${text}" -> ${error}`, () => {
      const r = parseTlsaPresentation(text);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.error, error);
    });
  }
});

describe("parseTlsaRdata", () => {
  it("reads the three bytes and the data as lowercase hex", () => {
    const r = parseTlsaRdata(new Uint8Array([3, 1, 1, 0xab, 0xcd]));
    assert.deepEqual(r, { ok: true, record: rec(3, 1, 1, "abcd") });
  });
  it("keeps empty data (the record is then unusable)", () => {
    const r = parseTlsaRdata(new Uint8Array([2, 0, 0]));
    assert.deepEqual(r, { ok: true, record: rec(2, 0, 0, "") });
    if (r.ok) assert.deepEqual(tlsaUsability(r.record), { usable: false, why: "bad-certificate-data" });
  });
  it("short rdata is truncated", () => {
    for (const len of [0, 1, 2]) {
      const r = parseTlsaRdata(new Uint8Array(len).fill(3));
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.error, "truncated");
    }
  });
  it("works on a subarray of a larger buffer", () => {
    const big = new Uint8Array([9, 9, 3, 1, 2, 0xff, 9]);
    const r = parseTlsaRdata(big.subarray(2, 6));
    assert.deepEqual(r, { ok: true, record: rec(3, 1, 2, "ff") });
  });
});

describe("tlsaUsability (rule 19)", () => {
  const sha256Of16 = sha256.slice(0, 32); // 16 bytes
  const table: [string, TlsaRecord, UnusableWhy | "usable"][] = [
    ["3 1 1 SHA-256 of 32 bytes", rec(3, 1, 1, sha256), "usable"],
    ["3 1 2 SHA-512 of 64 bytes", rec(3, 1, 2, sha512), "usable"],
    ["2 0 1", rec(2, 0, 1, sha256), "usable"],
    ["3 0 0 full certificate", rec(3, 0, 0, certHex), "usable"],
    ["3 1 0 full SPKI", rec(3, 1, 0, spkiHex), "usable"],
    ["2 1 0 bare key", rec(2, 1, 0, spkiHex), "usable"],
    ["usage 0 PKIX-TA", rec(0, 1, 1, sha256), "usage-pkix"],
    ["usage 1 PKIX-EE", rec(1, 1, 1, sha256), "usage-pkix"],
    ["usage 255 PrivCert", rec(255, 1, 1, sha256), "usage-unknown"],
    ["usage 4", rec(4, 1, 1, sha256), "usage-unknown"],
    ["selector 2", rec(3, 2, 1, sha256), "selector-unknown"],
    ["selector 255", rec(3, 255, 1, sha256), "selector-unknown"],
    ["matching type 4", rec(3, 1, 4, sha256), "matching-type-unknown"],
    ["matching type 255", rec(3, 1, 255, sha256), "matching-type-unknown"],
    ["SHA-256 with 16 bytes", rec(3, 1, 1, sha256Of16), "digest-length"],
    ["SHA-256 with 64 bytes", rec(3, 1, 1, sha512), "digest-length"],
    ["SHA-512 with 32 bytes", rec(3, 1, 2, sha256), "digest-length"],
    ["SHA-256 empty", rec(3, 1, 1, ""), "digest-length"],
    ["3 0 0 data that is not a certificate", rec(3, 0, 0, "3003020101"), "bad-certificate-data"],
    ["3 0 0 data that is an SPKI, not a certificate", rec(3, 0, 0, spkiHex), "bad-certificate-data"],
    ["3 0 0 certificate with trailing garbage", rec(3, 0, 0, `${certHex}00`), "bad-certificate-data"],
    ["3 1 0 data that is not an SPKI", rec(3, 1, 0, "deadbeef"), "bad-spki-data"],
    ["3 1 0 data that is a certificate, not an SPKI", rec(3, 1, 0, certHex), "bad-spki-data"],
    ["2 1 0 truncated SPKI", rec(2, 1, 0, spkiHex.slice(0, -2)), "bad-spki-data"],
    ["odd hex", rec(3, 1, 1, `${sha256}0`), "bad-hex"],
    ["non-hex", rec(3, 1, 1, `zz${sha256.slice(2)}`), "bad-hex"],
  ];
  for (const [name, r, expected] of table) {
    it(`${name} -> ${expected}`, () => {
      const u = tlsaUsability(r);
      if (expected === "usable") assert.deepEqual(u, { usable: true });
      else assert.deepEqual(u, { usable: false, why: expected });
    });
  }
  it("never throws on nonsense", () => {
    const weird = { usage: 3, selector: 1, matchingType: 1, data: null } as unknown as TlsaRecord;
    assert.deepEqual(tlsaUsability(weird), { usable: false, why: "bad-hex" });
  });
});

describe("comparableRecords (rule 22, digest agility)", () => {
  const other = "11".repeat(32);
  const other512 = "22".repeat(64);
  it("keeps only SHA-512 when SHA-256 and SHA-512 share (usage, selector)", () => {
    const a = rec(3, 1, 1, sha256);
    const b = rec(3, 1, 2, other512);
    assert.deepEqual(comparableRecords([a, b]), [b]);
  });
  it("keeps full records alongside the strongest digest", () => {
    const full = rec(3, 1, 0, spkiHex);
    const d1 = rec(3, 1, 1, sha256);
    const d2 = rec(3, 1, 2, sha512);
    assert.deepEqual(comparableRecords([d1, full, d2]), [full, d2]);
  });
  it("is per (usage, selector): other pairs keep their own strongest", () => {
    const ee1 = rec(3, 1, 1, sha256);
    const ee0 = rec(3, 0, 1, other);
    const ta2 = rec(2, 0, 2, other512);
    const ta1 = rec(2, 0, 1, other);
    const ta11 = rec(2, 1, 1, other);
    assert.deepEqual(comparableRecords([ee1, ee0, ta2, ta1, ta11]), [ee1, ee0, ta2, ta11]);
  });
  it("keeps every record of the strongest digest", () => {
    const a = rec(3, 1, 1, sha256);
    const b = rec(3, 1, 1, other);
    assert.deepEqual(comparableRecords([a, b]), [a, b]);
  });
  it("ignores unusable records, including a SHA-512 of the wrong length", () => {
    const good = rec(3, 1, 1, sha256);
    const short512 = rec(3, 1, 2, other); // 32 bytes: unusable, so it does not mask SHA-256
    const pkix = rec(1, 1, 2, other512);
    assert.deepEqual(comparableRecords([good, short512, pkix]), [good]);
  });
  it("empty in, empty out", () => {
    assert.deepEqual(comparableRecords([]), []);
  });
});
