/**
 * Golden tables of the MTA-STS and TLS-RPT grammars (docs/rules.md rules
 * 37-40): the TXT records (RFC 8461 §3.1, RFC 8460 §3), the policy file (RFC
 * 8461 §3.2), the MX patterns (RFC 8461 §4.1) and the fetch a domain's facts
 * call for. Inputs are written from the RFCs' grammar and examples; each row
 * says what the RFC makes of it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Lookup } from "../src/facts.ts";
import {
  mxPatternMatch,
  parseStsPolicy,
  policyFetchTarget,
  stsPolicyHost,
  stsRecord,
  tlsRptRecord,
} from "../src/mta-sts.ts";
import { answer, domainFacts, failed, mxAnswer, nodata, nxdomain } from "./fixtures/build.ts";

const Q = "_mta-sts.example.com";
const txt = (...records: string[]): Lookup<string> => answer(Q, "TXT", records);

describe("the _mta-sts TXT record (RFC 8461 §3.1)", () => {
  const rows: [string, Lookup<string>, ReturnType<typeof stsRecord>][] = [
    ["the RFC's example", txt("v=STSv1; id=20160831085700Z;"), { state: "valid", id: "20160831085700Z" }],
    ["no trailing delimiter", txt("v=STSv1; id=20160831085700Z"), { state: "valid", id: "20160831085700Z" }],
    ["no white space", txt("v=STSv1;id=abc123"), { state: "valid", id: "abc123" }],
    ["tabs around the delimiter", txt("v=STSv1\t;\tid=abc"), { state: "valid", id: "abc" }],
    ["an extension field", txt("v=STSv1; id=abc; ext_1=value.x"), { state: "valid", id: "abc" }],
    ["other TXT records are discarded", txt("v=spf1 -all", "v=STSv1; id=1"), { state: "valid", id: "1" }],
    ["32-character id", txt(`v=STSv1; id=${"a".repeat(32)}`), { state: "valid", id: "a".repeat(32) }],
    ["NXDOMAIN", nxdomain(Q, "TXT"), { state: "none" }],
    ["NODATA", nodata(Q, "TXT"), { state: "none" }],
    ["only other TXT records", txt("google-site-verification=x"), { state: "none" }],
    ["the version is case-sensitive", txt("V=STSv1; id=1"), { state: "none" }],
    ["another version", txt("v=STSv2; id=1"), { state: "none" }],
    ["SERVFAIL", failed(Q, "TXT", "servfail"), { state: "lookup-failed" }],
    ["timeout", failed(Q, "TXT", "timeout"), { state: "lookup-failed" }],
  ];
  for (const [name, l, want] of rows) test(name, () => assert.deepEqual(stsRecord(l), want));

  const invalid: [string, Lookup<string>][] = [
    ["two STS records", txt("v=STSv1; id=1", "v=STSv1; id=2")],
    ["the version alone", txt("v=STSv1")],
    ["no id", txt("v=STSv1; ext=1")],
    ["empty id", txt("v=STSv1; id=")],
    ["33-character id", txt(`v=STSv1; id=${"a".repeat(33)}`)],
    ["id with a hyphen", txt("v=STSv1; id=2016-08-31")],
    ["id twice", txt("v=STSv1; id=1; id=2")],
    ["a space instead of the delimiter", txt("v=STSv1 id=1")],
    ["a longer version", txt("v=STSv12; id=1")],
    ["a field without =", txt("v=STSv1; id=1; junk")],
    ["an extension value with a space", txt("v=STSv1; id=1; x=a b")],
  ];
  for (const [name, l] of invalid)
    test(`invalid: ${name}`, () => assert.equal(stsRecord(l).state, "invalid"));
});

describe("the policy file (RFC 8461 §3.2)", () => {
  const EXAMPLE = [
    "version: STSv1",
    "mode: enforce",
    "mx: mail.example.com",
    "mx: *.example.net",
    "mx: backupmx.example.com",
    "max_age: 604800",
  ];
  const want = {
    ok: true,
    policy: {
      mode: "enforce",
      maxAge: 604800,
      mx: ["mail.example.com", "*.example.net", "backupmx.example.com"],
    },
  };
  test("the RFC's example, LF", () => assert.deepEqual(parseStsPolicy(EXAMPLE.join("\n")), want));
  test("the RFC's example, CRLF, with a final line end", () =>
    assert.deepEqual(parseStsPolicy(`${EXAMPLE.join("\r\n")}\r\n`), want));
  test("fields in another order, an unknown field ignored", () =>
    assert.deepEqual(
      parseStsPolicy("max_age: 86400\nmx: mx.example.com\nfoo: bar baz\nmode: testing\nversion: STSv1"),
      {
        ok: true,
        policy: { mode: "testing", maxAge: 86400, mx: ["mx.example.com"] },
      },
    ));
  test("mode none may omit mx", () =>
    assert.deepEqual(parseStsPolicy("version: STSv1\nmode: none\nmax_age: 0"), {
      ok: true,
      policy: { mode: "none", maxAge: 0, mx: [] },
    }));
  test("mx patterns are compared lowercase, a trailing dot dropped", () =>
    assert.deepEqual(parseStsPolicy("version: STSv1\nmode: enforce\nmx: MX.Example.COM.\nmax_age: 1"), {
      ok: true,
      policy: { mode: "enforce", maxAge: 1, mx: ["mx.example.com"] },
    }));

  const bad: [string, string][] = [
    ["no version", "mode: enforce\nmx: a.example\nmax_age: 1"],
    ["another version", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1"],
    ["no mode", "version: STSv1\nmx: a.example\nmax_age: 1"],
    ["mode in capitals", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1"],
    ["an unknown mode", "version: STSv1\nmode: report\nmx: a.example\nmax_age: 1"],
    ["no max_age", "version: STSv1\nmode: enforce\nmx: a.example"],
    ["max_age not digits", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1w"],
    ["max_age of 11 digits", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901"],
    ["enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 1"],
    ["testing without mx", "version: STSv1\nmode: testing\nmax_age: 1"],
    ["mode twice", "version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1"],
    ["a line without a colon", "version: STSv1\nmode: enforce\nmx a.example\nmax_age: 1"],
    ["an empty mx label", "version: STSv1\nmode: enforce\nmx: mail..example\nmax_age: 1"],
    ["a wildcard inside the pattern", "version: STSv1\nmode: enforce\nmx: mx.*.example\nmax_age: 1"],
    ["an HTML page", "<html><body>Not found</body></html>"],
    ["an empty body", ""],
  ];
  for (const [name, text] of bad)
    test(`invalid: ${name}`, () => assert.equal(parseStsPolicy(text).ok, false));
});

describe("MX patterns (RFC 8461 §4.1)", () => {
  const P = ["mail.example.com", "*.example.net"];
  const rows: [string, string | undefined][] = [
    ["mail.example.com", "mail.example.com"],
    ["MAIL.Example.com.", "mail.example.com"],
    ["mx1.example.net", "*.example.net"],
    ["example.net", undefined], // the wildcard stands for exactly one label
    ["a.mx1.example.net", undefined],
    ["mail.example.com.evil", undefined],
    ["other.example.com", undefined],
  ];
  for (const [host, want] of rows) test(host, () => assert.equal(mxPatternMatch(P, host), want));
});

describe("the _smtp._tls TXT record (RFC 8460 §3)", () => {
  const R = "_smtp._tls.example.com";
  const t = (...records: string[]) => answer(R, "TXT", records);
  const rows: [string, Lookup<string>, ReturnType<typeof tlsRptRecord>][] = [
    [
      "mailto",
      t("v=TLSRPTv1;rua=mailto:reports@example.com"),
      { state: "valid", rua: ["mailto:reports@example.com"] },
    ],
    [
      "https",
      t("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt"),
      { state: "valid", rua: ["https://reporting.example.com/v1/tlsrpt"] },
    ],
    [
      "two URIs",
      t("v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.com/x"),
      { state: "valid", rua: ["mailto:a@example.com", "https://r.example.com/x"] },
    ],
    ["NXDOMAIN", nxdomain(R, "TXT"), { state: "none" }],
    ["SERVFAIL", failed(R, "TXT"), { state: "lookup-failed" }],
  ];
  for (const [name, l, want] of rows) test(name, () => assert.deepEqual(tlsRptRecord(l), want));
  const bad: [string, Lookup<string>][] = [
    ["no rua", t("v=TLSRPTv1;")],
    ["an ftp URI", t("v=TLSRPTv1; rua=ftp://example.com/x")],
    ["two records", t("v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com")],
    ["rua twice", t("v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com")],
  ];
  for (const [name, l] of bad) test(`invalid: ${name}`, () => assert.equal(tlsRptRecord(l).state, "invalid"));
});

describe("the policy fetch a domain's facts call for", () => {
  const base = domainFacts("example.com", mxAnswer("example.com", [[10, "mx.example.com"]]), []);
  const host = stsPolicyHost("example.com");
  test("the policy host is mta-sts.<domain>", () => assert.equal(host, "mta-sts.example.com"));
  test("the first A record, port 443, SNI the policy host", () =>
    assert.deepEqual(
      policyFetchTarget({
        ...base,
        mtaSts: {
          txt: txt("v=STSv1; id=1"),
          host: {
            name: host,
            a: answer(host, "A", ["192.0.2.1", "192.0.2.2"]),
            aaaa: answer(host, "AAAA", ["2001:db8::1"]),
          },
        },
      }),
      { kind: "mta-sts-policy", ip: "192.0.2.1", port: 443, sni: host, host },
    ));
  test("AAAA when there is no A", () =>
    assert.equal(
      policyFetchTarget({
        ...base,
        mtaSts: {
          txt: txt("v=STSv1; id=1"),
          host: { name: host, a: failed(host, "A"), aaaa: answer(host, "AAAA", ["2001:db8::1"]) },
        },
      })?.ip,
      "2001:db8::1",
    ));
  test("none without a policy host, or without an address", () => {
    assert.equal(policyFetchTarget(base), undefined);
    assert.equal(policyFetchTarget({ ...base, mtaSts: { txt: nxdomain(Q, "TXT") } }), undefined);
    assert.equal(
      policyFetchTarget({
        ...base,
        mtaSts: {
          txt: txt("v=STSv1; id=1"),
          host: { name: host, a: nxdomain(host, "A"), aaaa: nxdomain(host, "AAAA") },
        },
      }),
      undefined,
    );
  });
});
