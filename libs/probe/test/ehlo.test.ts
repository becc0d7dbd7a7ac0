/** EHLO keywords parsed line by line (RFC 5321 4.1.1.1), never by substring. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ehloKeywords, hasKeyword, isValidEhloName } from "../src/index.ts";

test("keywords from each line after the greeting, uppercased, params dropped", () => {
  const lines = [
    "mx.example.com Hello [192.0.2.1]",
    "SIZE 35882577",
    "8BITMIME",
    "starttls",
    "AUTH=LOGIN PLAIN",
    "ENHANCEDSTATUSCODES",
  ];
  assert.deepEqual(ehloKeywords(lines), ["SIZE", "8BITMIME", "STARTTLS", "AUTH", "ENHANCEDSTATUSCODES"]);
});

test("STARTTLS in the greeting, inside another keyword or in params is not the keyword", () => {
  const lines = [
    "mx.example STARTTLS is great",
    "X-STARTTLS",
    "STARTTLSX",
    "XCLIENT STARTTLS",
    " STARTTLS",
    "PIPELINING",
  ];
  const kws = ehloKeywords(lines);
  assert.equal(hasKeyword(kws, "STARTTLS"), false);
  assert.deepEqual(kws, ["X-STARTTLS", "STARTTLSX", "XCLIENT", "PIPELINING"]);
});

test("a one-line reply has no keywords; invalid first tokens are skipped; duplicates once", () => {
  assert.deepEqual(ehloKeywords(["mx.example"]), []);
  assert.deepEqual(ehloKeywords(["mx", "", "-DASH", "ÄÖ", "OK", "ok"]), ["OK"]);
  assert.equal(hasKeyword(["STARTTLS"], "starttls"), true);
});

test("the EHLO name: a host name or an RFC 5321 address literal whose address parses", () => {
  // RFC 5321 4.1.3: "[" IPv4 "]" or "[IPv6:" IPv6 "]"; the tag is not optional.
  for (const ok of ["scanner.example.net", "[192.0.2.1]", "[IPv6:2001:db8::1]", "[IPv6:::ffff:192.0.2.1]"])
    assert.equal(isValidEhloName(ok), true, ok);
  for (const bad of [
    "[1.2]",
    "[300.1.1.1]",
    "[::1]",
    "[IPv6:192.0.2.1]",
    "[IPv6:1::2::3]",
    "[IPv6:fe80::1%eth0]",
    "[:::]",
    "[]",
  ])
    assert.equal(isValidEhloName(bad), false, bad);
});
