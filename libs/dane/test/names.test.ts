import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchesAnyReferenceName, matchesReferenceName } from "../src/names.ts";

// Expected results follow RFC 6125 §6.4.3 as restricted by RFC 7672 §3.2.3
// (wildcard only as the complete leftmost label, matching one label).
describe("matchesReferenceName (rule 27)", () => {
  const table: [string, string[], string | undefined, string, boolean][] = [
    ["exact SAN", ["mx.example.com"], undefined, "mx.example.com", true],
    ["case-insensitive", ["MX.Example.COM"], undefined, "mx.EXAMPLE.com", true],
    ["trailing dot on the reference", ["mx.example.com"], undefined, "mx.example.com.", true],
    ["trailing dot on the SAN", ["mx.example.com."], undefined, "mx.example.com", true],
    ["any one SAN", ["a.example.net", "mx.example.com"], undefined, "mx.example.com", true],
    ["wrong name", ["mx.example.net"], undefined, "mx.example.com", false],
    ["suffix is not a match", ["example.com"], undefined, "mx.example.com", false],
    ["wildcard matches one label", ["*.example.com"], undefined, "mx.example.com", true],
    ["wildcard does not match two labels", ["*.example.com"], undefined, "a.b.example.com", false],
    ["wildcard does not match the parent", ["*.example.com"], undefined, "example.com", false],
    ["wildcard needs a non-empty label", ["*.example.com"], undefined, ".example.com", false],
    ["partial wildcard is not honoured", ["mx*.example.com"], undefined, "mx1.example.com", false],
    ["wildcard not leftmost is not honoured", ["mx.*.com"], undefined, "mx.example.com", false],
    ["wildcard over a public suffix only is refused", ["*.com"], undefined, "example.com", false],
    ["bare * matches nothing", ["*"], undefined, "com", false],
    ["a reference containing * matches nothing", ["*.example.com"], undefined, "*.example.com", false],
    ["CN used when there is no SAN", [], "mx.example.com", "mx.example.com", true],
    ["CN wildcard when there is no SAN", [], "*.example.com", "mx.example.com", true],
    ["CN ignored when a SAN is present", ["other.example.com"], "mx.example.com", "mx.example.com", false],
    ["no names at all", [], undefined, "mx.example.com", false],
    ["empty reference", ["mx.example.com"], undefined, "", false],
    ["empty SAN", [""], undefined, "mx.example.com", false],
  ];
  for (const [name, sans, cn, ref, expected] of table) {
    it(`${name}: ${JSON.stringify(sans)} cn=${cn} vs ${ref} -> ${expected}`, () => {
      assert.equal(matchesReferenceName(sans, cn, ref), expected);
    });
  }
});

describe("matchesAnyReferenceName", () => {
  it("returns the first reference that matched", () => {
    assert.equal(
      matchesAnyReferenceName(["mx.example.com"], [], ["mx.example.net", "mx.example.com"]),
      "mx.example.com",
    );
  });
  it("checks every CN when there is no SAN", () => {
    assert.equal(
      matchesAnyReferenceName([], ["junk", "mx.example.com"], ["mx.example.com"]),
      "mx.example.com",
    );
  });
  it("undefined when nothing matches or no references", () => {
    assert.equal(matchesAnyReferenceName(["mx.example.com"], [], ["example.com"]), undefined);
    assert.equal(matchesAnyReferenceName(["mx.example.com"], [], []), undefined);
  });
});
