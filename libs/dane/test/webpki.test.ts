/**
 * WebPKI validation of a server chain for a host name (docs/rules.md rule
 * 42), as an MTA-STS sender makes it (RFC 8461 §3.3 and §4.2: a path to a
 * root it trusts, valid dates, a subjectAltName DNS-ID for the name per RFC
 * 6125 §6.4). Every certificate is real, made here by test/certs.ts and
 * readable by OpenSSL; the expected result is what RFC 5280 path validation
 * and RFC 6125 name matching say of each chain, not what the code does.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, test } from "node:test";
import { rootCertificates } from "node:tls";
import { trustStore, verifyWebPki, type WebPkiFailure } from "../src/auth.ts";
import { makeCa, makeChain, makeLeaf, makeSelfSigned } from "./certs.ts";

const NOW = Date.UTC(2025, 6, 1);
const DAY = 86_400_000;

const chain = makeChain({ intermediates: 1, leafNames: ["mx.example.com", "*.mail.example.net"] });
const other = makeChain({ intermediates: 1, root: { cn: "another root" }, leafNames: ["mx.example.com"] });
const store = (() => {
  const s = trustStore("test roots", [chain.root.pem, other.root.pem]);
  assert.ok(s.ok);
  return s.store;
})();

function check(certs: string[], name: string, now = NOW) {
  return verifyWebPki({ chain: certs, name, store, now });
}

function failure(certs: string[], name: string, now = NOW): WebPkiFailure | "ok" {
  const r = check(certs, name, now);
  return r.ok ? "ok" : r.failure;
}

describe("paths to a trusted root", () => {
  test("leaf and intermediate, root in the store", () =>
    assert.equal(failure(chain.chain, "mx.example.com"), "ok"));
  test("the root sent too", () => assert.equal(failure(chain.withRoot, "mx.example.com"), "ok"));
  test("two intermediates", () => {
    const c = makeChain({ intermediates: 2, leafNames: ["mx.example.com"] });
    const s = trustStore("two", [c.root.pem]);
    assert.ok(s.ok);
    assert.equal(verifyWebPki({ chain: c.chain, name: "mx.example.com", store: s.store, now: NOW }).ok, true);
  });
  test("a leaf issued by the root directly", () => {
    const leaf = makeLeaf(chain.root, ["direct.example.com"]);
    assert.equal(failure([leaf.b64], "direct.example.com"), "ok");
  });
  test("the intermediate missing from the chain: no path", () =>
    assert.equal(failure([chain.leaf.b64], "mx.example.com"), "untrusted"));
  test("a self-signed leaf", () =>
    assert.equal(failure([makeSelfSigned(["mx.example.com"]).b64], "mx.example.com"), "untrusted"));
  test("a chain to a root not in the store", () => {
    const c = makeChain({ intermediates: 1, root: { cn: "unknown root" }, leafNames: ["mx.example.com"] });
    assert.equal(failure(c.withRoot, "mx.example.com"), "untrusted");
  });
  test("an issuer named like a trusted root but with another key: the signature fails", () => {
    const impostor = makeCa("danesweep test root");
    const leaf = makeLeaf(impostor, ["mx.example.com"]);
    assert.equal(failure([leaf.b64], "mx.example.com"), "chain-invalid");
  });
});

describe("what the path must satisfy", () => {
  test("an intermediate that is not a CA", () => {
    const notCa = makeCert2();
    assert.equal(failure(notCa, "mx.example.com"), "chain-invalid");
  });
  test("a leaf whose extended key usage lacks serverAuth", () => {
    const leaf = makeLeaf(chain.intermediates[0]!, ["mx.example.com"], { eku: ["1.3.6.1.5.5.7.3.2"] });
    assert.equal(failure([leaf.b64, chain.intermediates[0]!.b64], "mx.example.com"), "chain-invalid");
  });
  test("a corrupted signature on the leaf", () => {
    const leaf = makeLeaf(chain.intermediates[0]!, ["mx.example.com"], { corruptSignature: true });
    assert.equal(failure([leaf.b64, chain.intermediates[0]!.b64], "mx.example.com"), "chain-invalid");
  });
  test("an expired leaf", () => {
    const leaf = makeLeaf(chain.intermediates[0]!, ["mx.example.com"], { notAfter: NOW - DAY });
    assert.equal(failure([leaf.b64, chain.intermediates[0]!.b64], "mx.example.com"), "expired");
  });
  test("a leaf not valid yet", () => {
    const leaf = makeLeaf(chain.intermediates[0]!, ["mx.example.com"], { notBefore: NOW + DAY });
    assert.equal(failure([leaf.b64, chain.intermediates[0]!.b64], "mx.example.com"), "not-yet-valid");
  });
  test("an expired intermediate", () => {
    const mid = makeCa("short-lived intermediate", { issuer: chain.root, notAfter: NOW - DAY });
    const leaf = makeLeaf(mid, ["mx.example.com"]);
    assert.equal(failure([leaf.b64, mid.b64], "mx.example.com"), "expired");
  });
  test("the same chain, judged before it expired", () => {
    const leaf = makeLeaf(chain.intermediates[0]!, ["mx.example.com"], { notAfter: NOW - DAY });
    assert.equal(failure([leaf.b64, chain.intermediates[0]!.b64], "mx.example.com", NOW - 2 * DAY), "ok");
  });
  test("no certificate", () => assert.equal(failure([], "mx.example.com"), "no-certificate"));
  test("not a certificate", () =>
    assert.equal(failure(["bm90IGEgY2VydGlmaWNhdGU="], "mx.example.com"), "bad-certificate"));
});

describe("the name (RFC 6125 §6.4: a DNS-ID; RFC 8461 §4.2)", () => {
  const rows: [string, WebPkiFailure | "ok"][] = [
    ["mx.example.com", "ok"],
    ["MX.EXAMPLE.COM", "ok"],
    ["a.mail.example.net", "ok"], // *.mail.example.net
    ["mail.example.net", "name-mismatch"], // the wildcard needs one label
    ["b.a.mail.example.net", "name-mismatch"],
    ["mx2.example.com", "name-mismatch"],
  ];
  for (const [name, want] of rows) test(name, () => assert.equal(failure(chain.chain, name), want));
  test("a certificate with the name only in its subject CN does not do", () => {
    const leaf = makeLeaf(chain.intermediates[0]!, [], { cn: "mx.example.com" });
    assert.equal(failure([leaf.b64, chain.intermediates[0]!.b64], "mx.example.com"), "name-mismatch");
  });
});

describe("trust stores", () => {
  test("PEM bundles, text around the blocks ignored", () => {
    const s = trustStore("bundle", [`# a comment\n${chain.root.pem}junk\n${other.root.pem}`]);
    assert.ok(s.ok);
    assert.equal(s.store.size, 2);
    assert.equal(s.store.name, "bundle");
  });
  test("a block that is not a certificate is refused, naming it", () => {
    const s = trustStore("bad", [
      `${chain.root.pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
    ]);
    assert.equal(s.ok, false);
    assert.match(!s.ok ? s.detail : "", /certificate 2/);
  });
  test("no certificate at all is refused", () => assert.equal(trustStore("empty", ["hello"]).ok, false));
  test("Node's bundled roots load", () => {
    const s = trustStore("node", [...rootCertificates]);
    assert.ok(s.ok);
    assert.equal(
      s.store.size,
      new Set(rootCertificates.map((p) => new X509Certificate(p).fingerprint256)).size,
    );
  });
});

/** A leaf issued by a certificate without CA basicConstraints, and that issuer, issued by the root. */
function makeCert2(): string[] {
  const notCa = makeLeaf(chain.root, ["not-a-ca.example.com"], { ca: false });
  const leaf = makeLeaf(notCa, ["mx.example.com"]);
  return [leaf.b64, notCa.b64];
}
