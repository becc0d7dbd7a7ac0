import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AuthFailure, type AuthInput, type AuthResult, authenticate, MAX_CHAIN } from "../src/auth.ts";
import type { TlsaRecord } from "../src/facts.ts";
import {
  type MadeCert,
  makeCa,
  makeCert,
  makeChain,
  makeKey,
  makeLeaf,
  makeSelfSigned,
  tlsaFor,
} from "./certs.ts";

const NOW = Date.UTC(2025, 5, 1);
const YEAR = 365 * 24 * 3600 * 1000;

const rec = (usage: number, selector: number, matchingType: number, data: string): TlsaRecord => ({
  usage,
  selector,
  matchingType,
  data,
});

/** TLSA data for a certificate, computed here with node:crypto, independently of src/. */

function run(
  records: TlsaRecord[],
  chain: string[],
  names: string[] = ["mx.example.com"],
  now = NOW,
): AuthResult {
  const input: AuthInput = { records, chain, names, now };
  return authenticate(input);
}

function assertOk(r: AuthResult, record: TlsaRecord, depth: number, usage: 2 | 3): void {
  assert.equal(r.ok, true, r.ok ? "" : `${r.failure}: ${r.detail}`);
  if (r.ok) {
    assert.equal(r.usage, usage);
    assert.equal(r.matched.depth, depth);
    assert.deepEqual(r.matched.record, record);
  }
}

function assertFail(r: AuthResult, failure: AuthFailure): void {
  assert.equal(r.ok, false, r.ok ? `unexpectedly matched: ${r.detail}` : "");
  if (!r.ok) assert.equal(r.failure, failure, r.detail);
}

const WRONG256 = "ab".repeat(32);
const WRONG512 = "cd".repeat(64);

describe("DANE-EE(3) (rule 25)", () => {
  const leaf = makeSelfSigned(["mx.example.com"]);
  for (const [s, m] of [
    [0, 1],
    [1, 1],
    [1, 2],
    [0, 0],
    [1, 0],
    [0, 2],
  ] as const) {
    it(`3 ${s} ${m} matches the leaf`, () => {
      const r = tlsaFor(3, s, m, leaf);
      assertOk(run([r], [leaf.b64]), r, 0, 3);
    });
  }
  it("a non-matching 3 1 1 fails with no-match", () => {
    const r = run([rec(3, 1, 1, WRONG256)], [leaf.b64]);
    assertFail(r, "no-match");
    if (!r.ok) assert.equal(r.tried, 1);
  });
  it("any one matching record is enough (rule 23)", () => {
    const good = tlsaFor(3, 1, 1, leaf);
    assertOk(run([rec(3, 1, 1, WRONG256), good], [leaf.b64]), good, 0, 3);
  });
  it("an expired self-signed leaf with no names passes 3 1 1; names and dates are not checked", () => {
    const old = makeCert({ noSubjectCn: true, notBefore: NOW - 3 * YEAR, notAfter: NOW - 2 * YEAR });
    const r = tlsaFor(3, 1, 1, old);
    assertOk(run([r], [old.b64], []), r, 0, 3);
    assertOk(run([r], [old.b64], ["other.example.net"]), r, 0, 3);
  });
  it("a not-yet-valid leaf passes 3 0 1", () => {
    const future = makeSelfSigned(["mx.example.com"], { notBefore: NOW + YEAR, notAfter: NOW + 2 * YEAR });
    const r = tlsaFor(3, 0, 1, future);
    assertOk(run([r], [future.b64]), r, 0, 3);
  });
  it("3 x x never matches a certificate above the leaf", () => {
    const c = makeChain();
    assertFail(
      run([tlsaFor(3, 0, 1, c.intermediates[0]!), tlsaFor(3, 1, 1, c.root)], c.withRoot),
      "no-match",
    );
  });
  it("works with RSA and Ed25519 keys", () => {
    for (const keyType of ["rsa", "ed25519"] as const) {
      const c = makeSelfSigned(["mx.example.com"], { keyType });
      const r = tlsaFor(3, 1, 1, c);
      assertOk(run([r], [c.b64]), r, 0, 3);
    }
  });
  it("record data in uppercase still matches", () => {
    const r = tlsaFor(3, 1, 1, leaf);
    const upper = { ...r, data: r.data.toUpperCase() };
    assertOk(run([upper], [leaf.b64]), upper, 0, 3);
  });
});

describe("digest agility (rule 22)", () => {
  const leaf = makeSelfSigned(["mx.example.com"]);
  it("3 1 1 <right> with 3 1 2 <wrong> fails", () => {
    assertFail(run([tlsaFor(3, 1, 1, leaf), rec(3, 1, 2, WRONG512)], [leaf.b64]), "no-match");
  });
  it("3 1 1 <wrong> with 3 1 2 <right> passes", () => {
    const good = tlsaFor(3, 1, 2, leaf);
    assertOk(run([rec(3, 1, 1, WRONG256), good], [leaf.b64]), good, 0, 3);
  });
  it("3 1 1 <right> with an unusable 3 1 2 (32 bytes) passes", () => {
    const good = tlsaFor(3, 1, 1, leaf);
    assertOk(run([good, rec(3, 1, 2, WRONG256)], [leaf.b64]), good, 0, 3);
  });
  it("3 0 1 <right> is not masked by 3 1 2 <wrong> (other selector)", () => {
    const good = tlsaFor(3, 0, 1, leaf);
    assertOk(run([good, rec(3, 1, 2, WRONG512)], [leaf.b64]), good, 0, 3);
  });
  it("3 1 0 full data still compared next to 3 1 2 <wrong>", () => {
    const full = tlsaFor(3, 1, 0, leaf);
    assertOk(run([rec(3, 1, 2, WRONG512), full], [leaf.b64]), full, 0, 3);
  });
});

describe("DANE-TA(2) (rule 26)", () => {
  const c1 = makeChain({ intermediates: 1 });
  const c2 = makeChain({ intermediates: 2 });

  it("2 0 1 of the intermediate at depth 1", () => {
    const r = tlsaFor(2, 0, 1, c1.intermediates[0]!);
    assertOk(run([r], c1.chain), r, 1, 2);
  });
  it("2 0 1 of the root sent at depth 2", () => {
    const r = tlsaFor(2, 0, 1, c1.root);
    assertOk(run([r], c1.withRoot), r, 2, 2);
  });
  it("TA at depth 1 vs depth 2 in a two-intermediate chain", () => {
    const low = tlsaFor(2, 1, 1, c2.intermediates[0]!);
    const high = tlsaFor(2, 1, 2, c2.intermediates[1]!);
    assertOk(run([low], c2.chain), low, 1, 2);
    assertOk(run([high], c2.chain), high, 2, 2);
  });
  it("2 0 1 / 2 1 1 of the leaf never match", () => {
    const ss = makeSelfSigned(["mx.example.com"]);
    assertFail(run([tlsaFor(2, 0, 1, ss), tlsaFor(2, 1, 1, ss)], [ss.b64]), "no-match");
    assertFail(run([tlsaFor(2, 0, 1, c1.leaf)], c1.chain), "no-match");
  });
  it("a digest TA (2 0 1) not in the chain sent fails", () => {
    assertFail(run([tlsaFor(2, 0, 1, c1.root)], c1.chain), "no-match");
  });
  it("a full TA (2 0 0) not sent passes with depth -1", () => {
    const r = tlsaFor(2, 0, 0, c1.root);
    assertOk(run([r], c1.chain), r, -1, 2);
  });
  it("a full TA (2 0 0) that is sent reports its depth", () => {
    const r = tlsaFor(2, 0, 0, c1.root);
    assertOk(run([r], c1.withRoot), r, 2, 2);
  });
  it("a bare key (2 1 0) verifying the top of the chain passes with depth -1", () => {
    const r = tlsaFor(2, 1, 0, c1.root);
    assertOk(run([r], c1.chain), r, -1, 2);
  });
  it("a bare key (2 1 0) may verify a leaf-only chain it signed", () => {
    const ca = makeCa("bare key ca");
    const leaf = makeLeaf(ca, ["mx.example.com"]);
    const r = tlsaFor(2, 1, 0, ca);
    assertOk(run([r], [leaf.b64]), r, -1, 2);
  });
  it("a bare key (2 1 0) of another key fails", () => {
    const other = makeCa("unrelated");
    assertFail(run([tlsaFor(2, 1, 0, other)], c1.chain), "no-match");
  });
  it("a full TA of another CA with the same name but another key fails", () => {
    const impostor = makeCa("danesweep test root");
    assertFail(run([tlsaFor(2, 0, 0, impostor)], c1.chain), "chain-invalid");
  });
  it("a chain sent out of order is still built", () => {
    const r = tlsaFor(2, 0, 1, c2.root);
    const shuffled = [c2.leaf.b64, c2.root.b64, c2.intermediates[1]!.b64, c2.intermediates[0]!.b64];
    assertOk(run([r], shuffled), r, 1, 2);
  });
  it("an expired leaf fails under 2 x x", () => {
    const c = makeChain({ leaf: { notBefore: NOW - 2 * YEAR, notAfter: NOW - YEAR } });
    assertFail(run([tlsaFor(2, 0, 1, c.intermediates[0]!)], c.chain), "expired");
  });
  it("a not-yet-valid leaf fails under 2 x x", () => {
    const c = makeChain({ leaf: { notBefore: NOW + YEAR, notAfter: NOW + 2 * YEAR } });
    assertFail(run([tlsaFor(2, 0, 1, c.intermediates[0]!)], c.chain), "not-yet-valid");
  });
  it("an expired intermediate below the TA fails; an expired intermediate that is the TA does not", () => {
    const c = makeChain({ intermediate: [{ notBefore: NOW - 2 * YEAR, notAfter: NOW - YEAR }] });
    assertFail(run([tlsaFor(2, 0, 1, c.root)], c.withRoot), "expired");
    const ta = tlsaFor(2, 0, 1, c.intermediates[0]!);
    assertOk(run([ta], c.chain), ta, 1, 2);
  });
  it("a broken signature in the chain fails", () => {
    const ca = makeCa("broken ca");
    const inter = makeCa("broken inter", { issuer: ca });
    const leaf = makeLeaf(inter, ["mx.example.com"], { corruptSignature: true });
    assertFail(run([tlsaFor(2, 0, 1, ca)], [leaf.b64, inter.b64, ca.b64]), "chain-invalid");
    assertFail(run([tlsaFor(2, 0, 1, inter)], [leaf.b64, inter.b64]), "chain-invalid");
  });
  it("an intermediate signed by the wrong key fails", () => {
    const ca = makeCa("ca");
    const inter = makeCa("inter", { issuer: ca, signWith: makeKey() });
    const leaf = makeLeaf(inter, ["mx.example.com"]);
    assertFail(run([tlsaFor(2, 0, 1, ca)], [leaf.b64, inter.b64, ca.b64]), "chain-invalid");
    assertFail(run([tlsaFor(2, 0, 0, ca)], [leaf.b64, inter.b64]), "chain-invalid");
  });
  it("a non-CA intermediate fails (cA false, or no basicConstraints)", () => {
    for (const ca of [false, "none"] as const) {
      const c = makeChain({ intermediate: [{ ca }] });
      assertFail(run([tlsaFor(2, 0, 1, c.root)], c.withRoot), "chain-invalid");
    }
  });
  it("an intermediate whose keyUsage lacks keyCertSign fails", () => {
    const c = makeChain({ intermediate: [{ keyUsage: ["digitalSignature"] }] });
    assertFail(run([tlsaFor(2, 0, 1, c.root)], c.withRoot), "chain-invalid");
  });
  it("a TA certificate with cA false fails", () => {
    const c = makeChain({ root: { ca: false } });
    assertFail(run([tlsaFor(2, 0, 1, c.root)], c.withRoot), "chain-invalid");
  });
  it("pathLenConstraint: violated fails, respected passes", () => {
    const root0 = makeChain({ intermediates: 1, root: { ca: { pathLen: 0 } } });
    assertFail(run([tlsaFor(2, 0, 1, root0.root)], root0.withRoot), "chain-invalid");
    assertFail(run([tlsaFor(2, 0, 0, root0.root)], root0.chain), "chain-invalid");
    const root1 = makeChain({ intermediates: 1, root: { ca: { pathLen: 1 } } });
    const ok = tlsaFor(2, 0, 1, root1.root);
    assertOk(run([ok], root1.withRoot), ok, 2, 2);
    // The upper of two intermediates allows none below it.
    const mid = makeChain({ intermediates: 2, intermediate: [{}, { ca: { pathLen: 0 } }] });
    assertFail(run([tlsaFor(2, 0, 1, mid.root)], mid.withRoot), "chain-invalid");
    // With the TA at that intermediate's level, its own constraint still applies.
    assertFail(run([tlsaFor(2, 0, 1, mid.intermediates[1]!)], mid.chain), "chain-invalid");
    // pathLen 0 on the leaf's own issuer is fine.
    const low = makeChain({ intermediates: 2, intermediate: [{ ca: { pathLen: 0 } }] });
    const lowTa = tlsaFor(2, 0, 1, low.root);
    assertOk(run([lowTa], low.withRoot), lowTa, 3, 2);
  });
  it("an EE mismatch with a TA failure reports the TA failure", () => {
    const c = makeChain({ leaf: { notBefore: NOW - 2 * YEAR, notAfter: NOW - YEAR } });
    const r = run([rec(3, 1, 1, WRONG256), tlsaFor(2, 0, 1, c.intermediates[0]!)], c.chain);
    assertFail(r, "expired");
    if (!r.ok) assert.equal(r.tried, 2);
  });
  it("EE and TA both present: the EE match wins", () => {
    const ee = tlsaFor(3, 1, 1, c1.leaf);
    assertOk(run([tlsaFor(2, 0, 1, c1.intermediates[0]!), ee], c1.chain), ee, 0, 3);
  });
});

describe("DANE-TA names (rule 27)", () => {
  const ta = (c: { intermediates: MadeCert[] }) => tlsaFor(2, 0, 1, c.intermediates[0]!);
  it("a wrong name fails; any one of the names is enough", () => {
    const c = makeChain({ leafNames: ["mx.example.com"] });
    assertFail(run([ta(c)], c.chain, ["mx.example.net"]), "name-mismatch");
    assertFail(run([ta(c)], c.chain, []), "name-mismatch");
    assertOk(run([ta(c)], c.chain, ["mx.example.net", "MX.example.com."]), ta(c), 1, 2);
  });
  it("wildcard SAN *.example.com matches mx.example.com, not a.b.example.com nor example.com", () => {
    const c = makeChain({ leafNames: ["*.example.com"] });
    assertOk(run([ta(c)], c.chain, ["mx.example.com"]), ta(c), 1, 2);
    assertFail(run([ta(c)], c.chain, ["a.b.example.com"]), "name-mismatch");
    assertFail(run([ta(c)], c.chain, ["example.com"]), "name-mismatch");
  });
  it("the CN is ignored when a SAN is present, used when there is none", () => {
    const withSan = makeChain({ leaf: { cn: "mx.example.com", sans: ["other.example.com"] } });
    assertFail(run([ta(withSan)], withSan.chain, ["mx.example.com"]), "name-mismatch");
    const cnOnly = makeChain({ leaf: { cn: "mx.example.com", sans: [] } });
    assertOk(run([ta(cnOnly)], cnOnly.chain, ["mx.example.com"]), ta(cnOnly), 1, 2);
  });
});

describe("bad input never throws and gives typed failures", () => {
  const leaf = makeSelfSigned(["mx.example.com"]);
  const good = tlsaFor(3, 1, 1, leaf);
  const c = makeChain();
  it("empty chain -> no-certificate", () => {
    assertFail(run([good], []), "no-certificate");
  });
  it("no usable records -> no-usable-records (checked first)", () => {
    const r = run([tlsaFor(1, 1, 1, leaf), rec(3, 1, 1, "00"), rec(3, 2, 1, WRONG256)], [leaf.b64]);
    assertFail(r, "no-usable-records");
    if (!r.ok) assert.equal(r.tried, 0);
    assertFail(run([], [leaf.b64]), "no-usable-records");
  });
  it("garbage base64 -> bad-certificate", () => {
    for (const junk of ["!!!not base64!!!", "abc", "", "====", `${leaf.b64}x`]) {
      assertFail(run([good], [junk]), "bad-certificate");
    }
  });
  it("garbage DER -> bad-certificate", () => {
    const truncated = leaf.der.subarray(0, leaf.der.length - 10).toString("base64");
    const trailing = Buffer.concat([leaf.der, Buffer.from([0])]).toString("base64");
    for (const junk of [Buffer.from("hello world").toString("base64"), truncated, trailing]) {
      assertFail(run([good], [junk]), "bad-certificate");
    }
  });
  it("a garbage certificate above the leaf -> bad-certificate under DANE-TA", () => {
    const r = run([tlsaFor(2, 0, 1, c.intermediates[0]!)], [c.leaf.b64, "AAAA"]);
    assertFail(r, "bad-certificate");
  });
  it(`more than ${MAX_CHAIN} certificates -> chain-too-long`, () => {
    const chain = Array.from({ length: MAX_CHAIN + 1 }, () => leaf.b64);
    assertFail(run([good], chain), "chain-too-long");
  });
  it("a chain that repeats itself terminates", () => {
    const chain = [c.leaf.b64, ...Array.from({ length: 20 }, () => c.intermediates[0]!.b64)];
    assertFail(run([tlsaFor(2, 0, 1, c.root)], chain), "no-match");
  });
  it("nonsense shapes do not throw", () => {
    const weird = [
      { records: null, chain: null, names: null, now: Number.NaN },
      { records: [null, 5, "x"], chain: [5, null], names: [1], now: 0 },
      {
        records: [good, { usage: 2, selector: 0, matchingType: 1, data: 7 }],
        chain: [leaf.b64, 42],
        names: undefined,
        now: NOW,
      },
    ] as unknown as AuthInput[];
    for (const input of weird) {
      const r = authenticate(input);
      assert.equal(typeof r.ok, "boolean");
    }
  });
  it("random corruptions of real certificates never throw", () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const ta = tlsaFor(2, 0, 1, c.root);
    for (let i = 0; i < 300; i++) {
      const src = [c.leaf, c.intermediates[0]!, c.root][i % 3]!;
      const der = Buffer.from(src.der);
      for (let k = 0; k <= i % 4; k++) der[rand() % der.length] = rand() & 0xff;
      const chain = [...c.withRoot];
      chain[i % 3] = der.toString("base64");
      const r = authenticate({ records: [ta, good], chain, names: ["mx.example.com"], now: NOW });
      assert.equal(typeof r.ok, "boolean");
    }
  });
});
