/** Domain normalisation: A-labels, case, trailing dot, limits of RFC 1035 §2.3.4 and RFC 5321 §4.1.2. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { normalizeDomain } from "../src/normalize.ts";

const ok = (input: string, name: string) => assert.deepEqual(normalizeDomain(input), { ok: true, name });
function bad(input: string, error: string) {
  const r = normalizeDomain(input);
  assert.equal(r.ok, false, `${JSON.stringify(input)} should be rejected`);
  if (!r.ok) assert.equal(r.error, error, `${JSON.stringify(input)}: ${r.detail}`);
}

describe("normalizeDomain", () => {
  test("lowercase, trailing dot and whitespace removed", () => {
    ok("Example.COM.", "example.com");
    ok("  test1.testing\n", "test1.testing");
    ok("xn--bcher-kva.example", "xn--bcher-kva.example");
  });

  test("IDNs become A-labels (RFC 3492 sample 'bücher' and a CJK name)", () => {
    ok("Bücher.example", "xn--bcher-kva.example");
    ok("例え.テスト", "xn--r8jz45g.xn--zckzah");
    ok("bücher。example", "xn--bcher-kva.example");
  });

  test("label and name length limits: 63 octets per label, 253 characters", () => {
    const l63 = "a".repeat(63);
    ok(`${l63}.example`, `${l63}.example`);
    bad(`${"a".repeat(64)}.example`, "label-too-long");
    const name253 = [l63, l63, l63, "a".repeat(61)].join(".");
    assert.equal(name253.length, 253);
    ok(name253, name253);
    bad(name253 + "a", "name-too-long");
    bad("a.".repeat(2000) + "com", "name-too-long");
  });

  test("invalid inputs get typed errors", () => {
    bad("", "empty");
    bad("   ", "empty");
    bad(".", "empty");
    bad("a..example", "empty-label");
    bad(".example", "empty-label");
    bad("exa mple.com", "bad-character");
    bad("under_score.example", "bad-character");
    bad("a/b.example", "bad-character");
    bad("-lead.example", "bad-hyphen");
    bad("trail-.example", "bad-hyphen");
    bad("xn--zz-.example", "bad-idn");
    bad("[192.0.2.1]", "address-literal");
    bad("192.0.2.1", "address-literal");
    bad("bad\u0000char.example", "bad-idn");
  });

  test("never throws on odd input", () => {
    for (const s of ["\uffff", "\ud800", "..", "a".repeat(100_000), "💩.example", "xn--", "\u200b.example"]) {
      const r = normalizeDomain(s);
      assert.equal(typeof r.ok, "boolean");
    }
    assert.equal(normalizeDomain(undefined as unknown as string).ok, false);
  });
});
