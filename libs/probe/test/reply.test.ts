/**
 * The SMTP reply parser (RFC 5321 4.2): multi-line replies, chunk boundaries
 * anywhere, and every limit enforced with bounded buffering.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplyParser } from "../src/index.ts";

const limits = { maxLineBytes: 64, maxLinesPerReply: 5, maxBytes: 4096 };
const b = (s: string) => Buffer.from(s, "latin1");

test("single and multi-line replies, CRLF or bare LF, code-only line", () => {
  const p = new ReplyParser(limits);
  const r = p.feed(b("220-mx.example ESMTP\r\n220-second\r\n220 last\r\n250 OK\n354\r\n"));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.replies, [
    { code: 220, lines: ["mx.example ESMTP", "second", "last"] },
    { code: 250, lines: ["OK"] },
    { code: 354, lines: [""] },
  ]);
  assert.equal(p.idle(), true);
});

test("any split of the input into chunks gives the same replies", () => {
  const text = "220-a b c\r\n220 d\r\n250-mx\r\n250-STARTTLS\r\n250 SIZE 10\r\n";
  const whole = new ReplyParser(limits).feed(b(text)).replies;
  for (let cut = 1; cut < text.length; cut++) {
    const p = new ReplyParser(limits);
    const got = [...p.feed(b(text.slice(0, cut))).replies, ...p.feed(b(text.slice(cut))).replies];
    assert.deepEqual(got, whole, `cut at ${cut}`);
  }
  const p = new ReplyParser(limits);
  const bytewise = [...text].flatMap((c) => p.feed(b(c)).replies);
  assert.deepEqual(bytewise, whole);
});

test("idle() is false while a reply or line is incomplete", () => {
  const p = new ReplyParser(limits);
  p.feed(b("220-first\r\n"));
  assert.equal(p.idle(), false);
  p.feed(b("220 done\r\n22"));
  assert.equal(p.idle(), false);
  p.feed(b("0 x\r\n"));
  assert.equal(p.idle(), true);
});

test("malformed lines: not a code, bad separator, code changes mid-reply", () => {
  for (const bad of [
    "HTTP/1.1 200 OK\r\n",
    "22\r\n",
    "220x\r\n",
    "020 zero\r\n",
    "620 six\r\n",
    "250-a\r\n251 b\r\n",
  ]) {
    assert.equal(new ReplyParser(limits).feed(b(bad)).error, "malformed", JSON.stringify(bad));
  }
});

test("a line longer than maxLineBytes fails as soon as the buffer passes the cap", () => {
  const p = new ReplyParser(limits);
  assert.equal(p.feed(b(`220 ${"x".repeat(60)}`)).error, undefined); // 64 bytes, no CRLF yet
  assert.equal(p.feed(b("xx")).error, "line-too-long"); // 66 > 64 + room for CR
  // dead afterwards
  assert.equal(p.feed(b("\r\n250 OK\r\n")).error, "line-too-long");
  assert.deepEqual(p.feed(b("250 OK\r\n")).replies, []);
  // exactly at the cap is fine
  assert.equal(new ReplyParser(limits).feed(b(`220 ${"x".repeat(60)}\r\n`)).error, undefined);
  assert.equal(new ReplyParser(limits).feed(b(`220 ${"x".repeat(61)}\r\n`)).error, "line-too-long");
});

test("more than maxLinesPerReply lines", () => {
  const five = "250-a\r\n250-b\r\n250-c\r\n250-d\r\n250 e\r\n";
  assert.equal(new ReplyParser(limits).feed(b(five)).replies[0]!.lines.length, 5);
  assert.equal(new ReplyParser(limits).feed(b("250-a\r\n".repeat(5) + "250 f\r\n")).error, "too-many-lines");
});

test("more than maxBytes in total, replies before the failure kept", () => {
  const p = new ReplyParser({ ...limits, maxBytes: 20 });
  const r = p.feed(b("250 OK\r\n250 OK\r\n250 OK\r\n"));
  assert.equal(r.error, "too-many-bytes");
  assert.equal(p.bytes, 24);
});

test("UTF-8 text decoded, invalid UTF-8 kept byte for byte", () => {
  const p = new ReplyParser(limits);
  const r = p.feed(Buffer.concat([b("220 "), Buffer.from("héllo", "utf8"), b("\r\n250 \xe9\xff\r\n")]));
  assert.deepEqual(
    r.replies.map((x) => x.lines[0]),
    ["héllo", "\u00e9\u00ff"],
  );
});
