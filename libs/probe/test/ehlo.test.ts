/** EHLO keywords parsed line by line (RFC 5321 4.1.1.1), never by substring. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ehloKeywords, hasKeyword } from "../src/index.ts";

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
