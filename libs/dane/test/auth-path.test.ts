/**
 * DANE-TA path validation as OpenSSL 3.0 does it for Postfix (docs/rules.md
 * rule 26): one golden table per rule, every certificate made here (certs.ts,
 * independent of libs/dane), TLSA data computed here with node:crypto.
 * Expected outcomes follow OpenSSL's verifier (x509_vfy.c: build_chain,
 * check_extensions, internal_verify, check_name_constraints; v3_purp.c for the
 * ssl_server purpose), not the code under test.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AuthFailure, type AuthResult, authenticate } from "../src/auth.ts";
import type { TlsaRecord } from "../src/facts.ts";
import {
  type CertSpec,
  type MadeCert,
  makeCa,
  makeCert,
  makeChain,
  makeKey,
  makeLeaf,
  makeSelfSigned,
  nameDer,
  oid,
  seq,
  tlsaFor,
} from "./certs.ts";

const NOW = Date.UTC(2025, 5, 1);
const DAY = 24 * 3600 * 1000;
const YEAR = 365 * DAY;
const NAME = "mx.example.com";

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const EMAIL = "1.3.6.1.5.5.7.3.4";
const ANY_EKU = "2.5.29.37.0";
const NS_SGC = "2.16.840.1.113730.4.1";

const ta = (c: MadeCert) => tlsaFor(2, 0, 1, c);

function run(
  records: TlsaRecord[],
  chain: MadeCert[],
  opts: { now?: number; maxDepth?: number } = {},
): AuthResult {
  const input = { records, chain: chain.map((c) => c.b64), names: [NAME], now: opts.now ?? NOW };
  return authenticate(opts.maxDepth === undefined ? input : { ...input, maxDepth: opts.maxDepth });
}

type Expect = "ok" | AuthFailure;

function outcome(r: AuthResult): Expect {
  return r.ok ? "ok" : r.failure;
}

function table(rows: [string, () => AuthResult, Expect][]): void {
  for (const [name, f, want] of rows) {
    it(`${name} -> ${want}`, () => {
      const r = f();
      assert.equal(outcome(r), want, r.detail);
    });
  }
}

/** root -> intermediate -> leaf, each spec merged in. */
function chain3(o: { root?: CertSpec; inter?: CertSpec; leaf?: CertSpec } = {}) {
  const root = makeCa("ca root", o.root);
  const inter = makeCa("ca inter", { issuer: root, ...o.inter });
  const leaf = makeLeaf(inter, [NAME], o.leaf);
  return { root, inter, leaf };
}

describe("validity periods (internal_verify: every certificate below the anchor, a self-issued anchor too)", () => {
  const expired = { notBefore: NOW - 2 * YEAR, notAfter: NOW - YEAR };
  const future = { notBefore: NOW + YEAR, notAfter: NOW + 2 * YEAR };
  table([
    [
      "valid path, root TA sent",
      () => {
        const c = chain3();
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "ok",
    ],
    [
      "expired leaf",
      () => {
        const c = chain3({ leaf: expired });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "expired",
    ],
    [
      "expired intermediate below the TA",
      () => {
        const c = chain3({ inter: expired });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "expired",
    ],
    [
      "expired self-signed root TA that the server sent",
      () => {
        const c = chain3({ root: expired });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "expired",
    ],
    [
      "expired self-signed root TA from DNS (2 0 0)",
      () => {
        const c = chain3({ root: expired });
        return run([tlsaFor(2, 0, 0, c.root)], [c.leaf, c.inter]);
      },
      "expired",
    ],
    [
      "not-yet-valid self-signed root TA",
      () => {
        const c = chain3({ root: future });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "not-yet-valid",
    ],
    [
      "expired intermediate that is itself the TA (not self-issued: its dates are not checked)",
      () => {
        const c = chain3({ inter: expired });
        return run([ta(c.inter)], [c.leaf, c.inter]);
      },
      "ok",
    ],
    [
      "leaf valid until exactly now",
      () => {
        const c = chain3({ leaf: { notAfter: NOW } });
        return run([ta(c.inter)], [c.leaf, c.inter]);
      },
      "ok",
    ],
    [
      "leaf expired less than a second ago (OpenSSL compares whole seconds)",
      () => {
        const c = chain3({ leaf: { notAfter: NOW } });
        return run([ta(c.inter)], [c.leaf, c.inter], { now: NOW + 999 });
      },
      "ok",
    ],
    [
      "leaf expired a second ago",
      () => {
        const c = chain3({ leaf: { notAfter: NOW } });
        return run([ta(c.inter)], [c.leaf, c.inter], { now: NOW + 1000 });
      },
      "expired",
    ],
    [
      "DANE-EE ignores an expired leaf",
      () => {
        const c = chain3({ leaf: expired });
        return run([tlsaFor(3, 1, 1, c.leaf)], [c.leaf]);
      },
      "ok",
    ],
  ]);
});

describe("extended key usage (ssl_server purpose: when an EKU is present it must allow serverAuth)", () => {
  const leafEku = (eku: string[]) => () => {
    const c = chain3({ leaf: { eku } });
    return run([ta(c.inter)], [c.leaf, c.inter]);
  };
  table([
    ["leaf EKU serverAuth", leafEku([SERVER_AUTH]), "ok"],
    ["leaf EKU serverAuth and clientAuth", leafEku([CLIENT_AUTH, SERVER_AUTH]), "ok"],
    ["leaf EKU Netscape server-gated crypto", leafEku([NS_SGC]), "ok"],
    ["leaf EKU clientAuth only", leafEku([CLIENT_AUTH]), "chain-invalid"],
    ["leaf EKU emailProtection only", leafEku([EMAIL]), "chain-invalid"],
    [
      "leaf EKU anyExtendedKeyUsage only (OpenSSL does not accept it for a purpose)",
      leafEku([ANY_EKU]),
      "chain-invalid",
    ],
    [
      "intermediate EKU clientAuth only",
      () => {
        const c = chain3({ inter: { eku: [CLIENT_AUTH] } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "chain-invalid",
    ],
    [
      "TA certificate EKU clientAuth only",
      () => {
        const c = chain3({ inter: { eku: [CLIENT_AUTH] } });
        return run([ta(c.inter)], [c.leaf, c.inter]);
      },
      "chain-invalid",
    ],
    [
      "intermediate EKU serverAuth",
      () => {
        const c = chain3({ inter: { eku: [SERVER_AUTH] } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "ok",
    ],
    [
      "DANE-EE ignores the leaf's EKU",
      () => {
        const c = chain3({ leaf: { eku: [CLIENT_AUTH] } });
        return run([tlsaFor(3, 1, 1, c.leaf)], [c.leaf]);
      },
      "ok",
    ],
  ]);
});

describe("leaf keyUsage (ssl_server purpose: digitalSignature, keyEncipherment or keyAgreement)", () => {
  const leafKu = (keyUsage: CertSpec["keyUsage"]) => () => {
    const c = chain3({ leaf: { keyUsage } });
    return run([ta(c.inter)], [c.leaf, c.inter]);
  };
  table([
    ["digitalSignature", leafKu(["digitalSignature"]), "ok"],
    ["keyEncipherment", leafKu(["keyEncipherment"]), "ok"],
    ["keyAgreement", leafKu(["keyAgreement"]), "ok"],
    ["cRLSign only", leafKu(["cRLSign"]), "chain-invalid"],
  ]);
});

describe("basicConstraints and keyUsage of every issuer", () => {
  table([
    [
      "intermediate without basicConstraints",
      () => {
        const c = chain3({ inter: { ca: "none" } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "chain-invalid",
    ],
    [
      "intermediate with cA false",
      () => {
        const c = chain3({ inter: { ca: false } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "chain-invalid",
    ],
    [
      "intermediate whose keyUsage lacks keyCertSign",
      () => {
        const c = chain3({ inter: { keyUsage: ["digitalSignature"] } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "chain-invalid",
    ],
    [
      "intermediate without keyUsage (basicConstraints suffices)",
      () => {
        const c = chain3({ inter: { keyUsage: undefined } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "ok",
    ],
    [
      "top anchor with keyUsage keyCertSign and no basicConstraints",
      () => {
        const c = chain3({ root: { ca: "none" } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "ok",
    ],
    [
      "top anchor with neither basicConstraints nor keyUsage",
      () => {
        const c = chain3({ root: { ca: "none", keyUsage: undefined } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "chain-invalid",
    ],
    [
      "a v1 self-signed root as the anchor",
      () => {
        const c = chain3({ root: { v1: true } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "ok",
    ],
    [
      "a v1 intermediate",
      () => {
        const c = chain3({ inter: { v1: true } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "chain-invalid",
    ],
    [
      "an intermediate anchor with keyUsage keyCertSign only, no basicConstraints",
      () => {
        const c = chain3({ inter: { ca: "none" } });
        return run([ta(c.inter)], [c.leaf, c.inter]);
      },
      "ok",
    ],
  ]);
});

describe("pathLenConstraint (self-issued intermediates do not count)", () => {
  it("root pathLen 0 over a self-issued key-rollover intermediate and the leaf -> ok", () => {
    const root = makeCa("rollover ca", { ca: { pathLen: 0 }, skid: true });
    // Same subject as the root, a new key, signed by the root: self-issued, not self-signed (AKID != SKID).
    const rolled = makeCert({
      cn: "rollover ca",
      ca: true,
      keyUsage: ["keyCertSign"],
      issuer: root,
      skid: true,
      akid: true,
    });
    const leaf = makeLeaf(rolled, [NAME], { akid: true });
    const r = run([ta(root)], [leaf, rolled, root]);
    assert.equal(outcome(r), "ok", r.detail);
  });
  table([
    [
      "root pathLen 0 over one ordinary intermediate",
      () => {
        const c = chain3({ root: { ca: { pathLen: 0 } } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "chain-invalid",
    ],
    [
      "root pathLen 1 over one intermediate",
      () => {
        const c = chain3({ root: { ca: { pathLen: 1 } } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "ok",
    ],
    [
      "intermediate pathLen 0 over the leaf only",
      () => {
        const c = chain3({ inter: { ca: { pathLen: 0 } } });
        return run([ta(c.root)], [c.leaf, c.inter, c.root]);
      },
      "ok",
    ],
  ]);
});

describe("name constraints (of every certificate above, the anchor's included)", () => {
  const nc = (o: { root?: CertSpec; inter?: CertSpec; leaf?: CertSpec }) => () => {
    const c = chain3(o);
    return run([ta(c.root)], [c.leaf, c.inter, c.root]);
  };
  table([
    [
      "permitted example.com, leaf mx.example.com",
      nc({ root: { nameConstraints: { permitted: [{ dns: "example.com" }] } } }),
      "ok",
    ],
    [
      "permitted example.net, leaf mx.example.com",
      nc({ root: { nameConstraints: { permitted: [{ dns: "example.net" }] } } }),
      "chain-invalid",
    ],
    [
      "excluded example.com (on the intermediate), leaf mx.example.com",
      nc({ inter: { nameConstraints: { excluded: [{ dns: "example.com" }] } } }),
      "chain-invalid",
    ],
    [
      "excluded other.example.com, leaf mx.example.com",
      nc({ root: { nameConstraints: { excluded: [{ dns: "other.example.com" }] } } }),
      "ok",
    ],
    [
      "permitted .mx.example.com (subdomains only), leaf mx.example.com",
      nc({ root: { nameConstraints: { permitted: [{ dns: ".mx.example.com" }] } } }),
      "chain-invalid",
    ],
    [
      "permitted example.net, leaf without SAN named by its CN mx.example.com (the CN is checked)",
      nc({
        root: { nameConstraints: { permitted: [{ dns: "example.net" }] } },
        leaf: { sans: [], cn: NAME },
      }),
      "chain-invalid",
    ],
    [
      "permitted example.com, leaf without SAN named by its CN mx.example.com",
      nc({
        root: { nameConstraints: { permitted: [{ dns: "example.com" }] } },
        leaf: { sans: [], cn: NAME },
      }),
      "ok",
    ],
    [
      "permitted 192.0.2.0/24, leaf IP 192.0.2.9",
      nc({
        root: { nameConstraints: { permitted: [{ ip: [192, 0, 2, 0], mask: [255, 255, 255, 0] }] } },
        leaf: { ips: ["192.0.2.9"] },
      }),
      "ok",
    ],
    [
      "permitted 192.0.2.0/24, leaf IP 198.51.100.9",
      nc({
        root: { nameConstraints: { permitted: [{ ip: [192, 0, 2, 0], mask: [255, 255, 255, 0] }] } },
        leaf: { ips: ["198.51.100.9"] },
      }),
      "chain-invalid",
    ],
  ]);
});

describe("issuer choice: OpenSSL's, with no backtracking beyond it", () => {
  it("duplicate issuers, the first expired: the valid one is taken", () => {
    const root = makeCa("dup root");
    const key = makeKey();
    const old = makeCa("dup inter", { issuer: root, key, notBefore: NOW - 2 * YEAR, notAfter: NOW - YEAR });
    const renewed = makeCa("dup inter", { issuer: root, key });
    const leaf = makeLeaf(renewed, [NAME]);
    const r = run([ta(root)], [leaf, old, renewed, root]);
    assert.equal(outcome(r), "ok", r.detail);
  });
  it("both candidates expired: the one expiring last is taken, and its dates fail the path", () => {
    const root = makeCa("dup root");
    const key = makeKey();
    const older = makeCa("dup inter", {
      issuer: root,
      key,
      notBefore: NOW - 3 * YEAR,
      notAfter: NOW - 2 * YEAR,
    });
    const newer = makeCa("dup inter", { issuer: root, key, notBefore: NOW - 2 * YEAR, notAfter: NOW - DAY });
    const leaf = makeLeaf(newer, [NAME]);
    const r = run([ta(root)], [leaf, older, newer, root]);
    assert.equal(outcome(r), "expired", r.detail);
    assert.match(r.detail, new RegExp(new Date(NOW - DAY).toISOString().slice(0, 10)));
  });
  it("two issuers of the same name, the first with another key: the authority key identifier picks the right one", () => {
    const root = makeCa("akid root", { skid: true });
    const wrong = makeCa("akid inter", { issuer: root, skid: true, akid: true });
    const right = makeCa("akid inter", { issuer: root, skid: true, akid: true });
    const leaf = makeLeaf(right, [NAME], { akid: true });
    assert.equal(outcome(run([ta(root)], [leaf, wrong, right, root])), "ok");
  });
  it("the same without key identifiers: OpenSSL takes the first by name and its signature fails", () => {
    const root = makeCa("noakid root");
    const wrong = makeCa("noakid inter", { issuer: root });
    const right = makeCa("noakid inter", { issuer: root });
    const leaf = makeLeaf(right, [NAME]);
    assert.equal(outcome(run([ta(root)], [leaf, wrong, right, root])), "chain-invalid");
    assert.equal(outcome(run([ta(root)], [leaf, right, wrong, root])), "ok");
  });
  it("a candidate whose key type cannot have made the signature is passed over", () => {
    const root = makeCa("keytype root");
    const rsa = makeCa("keytype inter", { issuer: root, keyType: "rsa" });
    const ec = makeCa("keytype inter", { issuer: root });
    const leaf = makeLeaf(ec, [NAME]);
    assert.equal(outcome(run([ta(root)], [leaf, rsa, ec, root])), "ok");
  });
  it("cross-signed intermediate: the path follows the first valid copy; a TA only the other copy reaches fails", () => {
    const oldRoot = makeCa("old root");
    const newRoot = makeCa("new root");
    const key = makeKey();
    const viaOld = makeCa("cross inter", { issuer: oldRoot, key });
    const viaNew = makeCa("cross inter", { issuer: newRoot, key });
    const leaf = makeLeaf(viaNew, [NAME]);
    // The leaf verifies under either copy (same key); the first valid copy leads to the old root.
    const r = run([ta(newRoot)], [leaf, viaOld, viaNew, newRoot]);
    assert.equal(outcome(r), "chain-invalid", r.detail);
    // With the cross-signed copy expired, the new root's copy is taken.
    const expiredOld = makeCa("cross inter", {
      issuer: oldRoot,
      key,
      notBefore: NOW - 2 * YEAR,
      notAfter: NOW - YEAR,
    });
    assert.equal(outcome(run([ta(newRoot)], [leaf, expiredOld, viaNew, newRoot])), "ok");
    // A TA on the shared key matches whichever copy comes first.
    assert.equal(outcome(run([tlsaFor(2, 1, 1, viaNew)], [leaf, viaOld, viaNew])), "ok");
  });
  it("issuer names compare canonically (case and spacing), as OpenSSL compares them", () => {
    const ca = makeCa("Canon  CA");
    const leaf = makeCert({ cn: NAME, sans: [NAME], issuer: ca, issuerName: nameDer("canon ca") });
    assert.equal(outcome(run([ta(ca)], [leaf, ca])), "ok");
  });
});

describe("DANE-TA 2 1 0 bare keys", () => {
  table([
    [
      "the root's key, root not sent: it signs the top of the path",
      () => {
        const c = chain3();
        return run([tlsaFor(2, 1, 0, c.root)], [c.leaf, c.inter]);
      },
      "ok",
    ],
    [
      "the root's key, root sent: matched as a certificate's SPKI",
      () => {
        const c = chain3();
        return run([tlsaFor(2, 1, 0, c.root)], [c.leaf, c.inter, c.root]);
      },
      "ok",
    ],
    [
      "the intermediate's key, only the leaf sent",
      () => {
        const c = chain3();
        return run([tlsaFor(2, 1, 0, c.inter)], [c.leaf]);
      },
      "ok",
    ],
    [
      "another key",
      () => {
        const c = chain3();
        return run([tlsaFor(2, 1, 0, makeCa("other"))], [c.leaf, c.inter]);
      },
      "no-match",
    ],
    [
      "the root's key, but an unrelated certificate with the root's name tops the path",
      () => {
        const c = chain3();
        const impostor = makeCa("ca root");
        return run([tlsaFor(2, 1, 0, c.root)], [c.leaf, c.inter, impostor]);
      },
      "no-match",
    ],
    [
      "an expired certificate signed by the bare key",
      () => {
        const c = chain3({ inter: { notBefore: NOW - 2 * YEAR, notAfter: NOW - YEAR } });
        return run([tlsaFor(2, 1, 0, c.root)], [c.leaf, c.inter]);
      },
      "expired",
    ],
    [
      "a self-signed leaf and its own key",
      () => {
        const s = makeSelfSigned([NAME]);
        return run([tlsaFor(2, 1, 0, s)], [s]);
      },
      "ok",
    ],
    [
      "a self-signed leaf and its own certificate as 2 0 0 (the leaf is never a TA)",
      () => {
        const s = makeSelfSigned([NAME]);
        return run([tlsaFor(2, 0, 0, s)], [s]);
      },
      "no-match",
    ],
  ]);
  it("matched depth: -1 for a key not sent, the index of the certificate otherwise", () => {
    const c = chain3();
    const notSent = run([tlsaFor(2, 1, 0, c.root)], [c.leaf, c.inter]);
    const sent = run([tlsaFor(2, 1, 0, c.root)], [c.leaf, c.inter, c.root]);
    assert.equal(notSent.ok && notSent.matched.depth, -1);
    assert.equal(sent.ok && sent.matched.depth, 2);
  });
});

describe("path length limit (smtp_tls_scert_verifydepth) and critical extensions", () => {
  it("ten certificates above the leaf exceed a verify depth of 9; nine do not", () => {
    const c = makeChain({ intermediates: 10 });
    const top = c.root;
    const r = authenticate({ records: [ta(top)], chain: c.withRoot, names: [NAME], now: NOW, maxDepth: 9 });
    assert.equal(outcome(r), "chain-too-long", r.detail);
    const ninth = c.intermediates[8]!;
    const ok = authenticate({ records: [ta(ninth)], chain: c.chain, names: [NAME], now: NOW, maxDepth: 9 });
    assert.equal(outcome(ok), "ok", ok.detail);
    const unlimited = authenticate({ records: [ta(top)], chain: c.withRoot, names: [NAME], now: NOW });
    assert.equal(outcome(unlimited), "ok", unlimited.detail);
  });
  const unknown = { oid: "1.3.6.1.4.1.55555.1", critical: true, value: seq(oid("1.2.3")) };
  table([
    [
      "leaf with an unknown critical extension under DANE-TA",
      () => {
        const c = chain3({ leaf: { extraExtensions: [unknown] } });
        return run([ta(c.inter)], [c.leaf, c.inter]);
      },
      "chain-invalid",
    ],
    [
      "the same extension not critical",
      () => {
        const c = chain3({ leaf: { extraExtensions: [{ ...unknown, critical: false }] } });
        return run([ta(c.inter)], [c.leaf, c.inter]);
      },
      "ok",
    ],
    [
      "leaf with an unknown critical extension under DANE-EE",
      () => {
        const c = chain3({ leaf: { extraExtensions: [unknown] } });
        return run([tlsaFor(3, 1, 1, c.leaf)], [c.leaf]);
      },
      "ok",
    ],
  ]);
});
