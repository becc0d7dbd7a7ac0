/**
 * Unit tests of the seed universe's pure parts: the case table against the write-up,
 * the zone data against the write-up's record shapes, the root's DS handling, and
 * the client-policy cases' zone data against rules 32-34 (src/profiles.ts).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { NEVER_CONTACT_ADDRESS, SMTP_HOSTS } from "../src/addresses.ts";
import { ensureCertificates, ensureIssuedLeaf } from "../src/certs.ts";
import { STS_MX_SERVER, STS_POLICY_SERVER } from "../src/mta-sts.ts";
import { PROFILE_CASES, REFUSING_ADDRESSES } from "../src/profiles.ts";
import { RISK_HOSTS } from "../src/risk.ts";
import { rootZone, seedCases, seedZones } from "../src/seed.ts";

const dir = mkdtempSync(join(tmpdir(), "testbed-seed-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const certs = ensureCertificates(dir);
const pemB = readFileSync(certs.B.cert, "utf8");
// Independent digest of certificate B: openssl's DER, hashed by sha256sum.
const der = execFileSync("openssl", ["x509", "-in", certs.B.cert, "-outform", "DER"]);
const sha256B = execFileSync("sha256sum", { input: der }).toString().split(" ")[0]!;
const sha512B = execFileSync("sha512sum", { input: der }).toString().split(" ")[0]!;
const testing = seedZones(pemB)["testing."]!;
const rr = (owner: string, type: string) =>
  testing
    .split("\n")
    .filter((l) => l.startsWith(`${owner} ${type} `))
    .map((l) => l.slice(owner.length + type.length + 2));

test("the CA-issued certificates verify with openssl, each for its names (leaf, intermediate, MTA-STS)", () => {
  const sts = ensureIssuedLeaf(dir, "sts-policy", [
    "mta-sts.sts-enforce.testing",
    "mta-sts.sts-testing.testing",
  ]);
  const verify = (cert: string, untrusted?: string) =>
    execFileSync(
      "openssl",
      [
        "verify",
        "-CAfile",
        certs.ca.cert,
        ...(untrusted ? ["-untrusted", untrusted] : []),
        "-purpose",
        "sslserver",
        cert,
      ],
      { encoding: "utf8" },
    ).trim();
  assert.equal(verify(certs.taLeaf.cert), `${certs.taLeaf.cert}: OK`);
  assert.equal(verify(certs.intLeaf.cert, certs.int.cert), `${certs.intLeaf.cert}: OK`);
  assert.equal(verify(sts.cert), `${sts.cert}: OK`);
  // Without the intermediate, taint.testing's leaf has no path to the CA.
  assert.throws(() => verify(certs.intLeaf.cert));
  const text = (cert: string) =>
    execFileSync("openssl", ["x509", "-noout", "-text", "-in", cert], { encoding: "utf8" });
  assert.match(text(certs.int.cert), /CA:TRUE/);
  assert.match(text(certs.intLeaf.cert), /DNS:taint\.testing/);
  assert.match(text(certs.taLeaf.cert), /DNS:\*\.synth, DNS:\*\.mx\.synth/);
  assert.match(text(sts.cert), /DNS:mta-sts\.sts-enforce\.testing, DNS:mta-sts\.sts-testing\.testing/);
  // The chain files are what a server sends: leaf, then its issuers up to the CA.
  const count = (file: string) => readFileSync(file, "utf8").match(/BEGIN CERTIFICATE/g)?.length;
  assert.equal(count(certs.intLeaf.chain), 3);
  assert.equal(count(certs.taLeaf.chain), 2);
  assert.equal(count(sts.chain), 2);
});

test("24 cases, numbered 1..24, domains test<N>.testing", () => {
  const cases = seedCases();
  assert.equal(cases.length, 24);
  cases.forEach((c, i) => {
    assert.equal(c.case, i + 1);
    assert.equal(c.domain, `test${i + 1}.testing`);
  });
});

test("expected outcomes follow the write-up (deliver for 1,3,5,7,9,11,13,15,17,19,21,23)", () => {
  for (const c of seedCases()) {
    assert.equal(c.expected.action, c.case % 2 === 1 ? "deliver" : "defer", `case ${c.case}`);
  }
  const byCase = new Map(seedCases().map((c) => [c.case, c.expected]));
  // Write-up: "delivered (verify=TRUSTED) to the secondary MX" for 1 and 3.
  assert.equal(byCase.get(1)!.host, "test1b.testing");
  assert.equal(byCase.get(3)!.host, "test3b.testing");
  // verify=FAIL (unauthenticated) for 5, 7, 9, 11, 19.
  for (const n of [5, 7, 9, 11, 19]) assert.equal(byCase.get(n)!.security, "encrypted", `case ${n}`);
  // Case 19 goes to the MX host, never to the domain's own A.
  assert.equal(byCase.get(19)!.host, "test19a.moretesting");
  // Case 20: TLSA lookup timeout defers.
  assert.equal(byCase.get(20)!.reason, "tlsa-lookup-failed");
});

test("the matching records carry certificate B's SHA-256, the wrong ones differ only in the first byte", () => {
  assert.deepEqual(rr("_25._tcp.test1b", "TLSA"), [`3 0 1 ${sha256B}`]);
  const [wrong] = rr("_25._tcp.test14aa", "TLSA");
  assert.equal(wrong!.length, `3 0 1 ${sha256B}`.length);
  assert.notEqual(wrong, `3 0 1 ${sha256B}`);
  assert.equal(wrong!.slice(8), sha256B.slice(2));
});

test("unusable records keep the write-up's shapes", () => {
  assert.deepEqual(rr("_25._tcp.test5a", "TLSA"), [`1 0 2 ${sha512B}`]);
  assert.deepEqual(rr("_25._tcp.test7a", "TLSA"), [`3 2 1 ${sha256B}`]);
  assert.deepEqual(rr("_25._tcp.test9a", "TLSA"), [`3 0 4 ${sha256B}`]);
  assert.deepEqual(rr("_25._tcp.test11a", "TLSA"), [`3 0 1 ${sha256B.slice(0, 32)}`]);
});

test("addresses are the write-up's mapped onto 127/8; test19/test20's own A is the never-contact address", () => {
  assert.deepEqual(rr("test1a", "A"), ["127.167.152.113"]);
  assert.deepEqual(rr("test1b", "A"), ["127.64.93.21"]);
  assert.deepEqual(rr("test3a", "A"), ["127.167.152.152"]);
  assert.deepEqual(rr("test19", "A"), ["127.168.200.200"]);
  assert.deepEqual(rr("test20", "A"), ["127.168.200.200"]);
  assert.deepEqual(rr("_25._tcp.test20a", "CNAME"), ["_25._tcp.test20aa.timeouttesting."]);
});

test("the root keeps the DS of testing. and alters the digest of bogustesting.", () => {
  const zone = rootZone([
    "testing. DS 27299 13 2 9e907f196c8de5963b2dc3ccd0a7e9eab1d80ad101b1005d920642d023ef7007",
    "bogustesting. DS 48438 13 2 B83AB4701C7EE4BBDEC140CBB1BCE517665EB4DFA389BA9CA8DFC7113E2A8099",
    "not a ds line",
  ]);
  const ds = zone.split("\n").filter((l) => l.includes(" DS "));
  assert.deepEqual(ds, [
    "testing. DS 27299 13 2 9e907f196c8de5963b2dc3ccd0a7e9eab1d80ad101b1005d920642d023ef7007",
    "bogustesting. DS 48438 13 2 003ab4701c7ee4bbdec140cbb1bce517665eb4dfa389ba9ca8dfc7113e2a8099",
  ]);
  assert.ok(zone.includes("timeouttesting. NS ns1.timeouttesting."));
  assert.ok(zone.includes("ns1.timeouttesting. A 127.53.0.9"));
  assert.ok(!zone.includes("moretesting. DS"));
});

test("the MTA-STS domains: owners inside testing., TXT and MX as RFC 8461 and RFC 8460 write them", () => {
  const mx = readFileSync(ensureIssuedLeaf(dir, "sts-mx", ["mx.sts-enforce.testing"]).cert, "utf8");
  const zone = seedZones(pemB, { mxPem: mx })["testing."]!;
  const rrs = (owner: string, type: string) =>
    zone
      .split("\n")
      .filter((l) => l.startsWith(`${owner} ${type} `))
      .map((l) => l.slice(owner.length + type.length + 2));
  for (const line of zone.split("\n").filter((l) => l.includes("sts-"))) {
    const owner = line.split(" ")[0]!;
    assert.ok(!owner.endsWith("."), `relative owner, inside the zone: ${line}`);
  }
  assert.deepEqual(rrs("_mta-sts.sts-enforce", "TXT"), ['"v=STSv1; id=20261201;"']);
  assert.deepEqual(rrs("_smtp._tls.sts-enforce", "TXT"), [
    '"v=TLSRPTv1; rua=mailto:tlsrpt@sts-enforce.testing"',
  ]);
  assert.deepEqual(rrs("sts-uncovered", "MX"), ["10 mx.sts-uncovered", "20 mx2.sts-uncovered"]);
  assert.deepEqual(rrs("mta-sts.sts-enforce", "A"), ["127.84.61.1"]);
  // DANE-EE 3 1 1: SHA-256 of the MX leaf's SubjectPublicKeyInfo, computed here by openssl.
  const spki = execFileSync("openssl", ["x509", "-noout", "-pubkey"], { input: mx });
  const spkiDer = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: spki });
  const digest = execFileSync("sha256sum", { input: spkiDer }).toString().split(" ")[0]!;
  assert.deepEqual(rrs("_25._tcp.mx.sts-enforce", "TLSA"), [`3 1 1 ${digest}`]);
  assert.deepEqual(rrs("_25._tcp.mx.sts-badcert", "TLSA"), [`3 0 1 ${sha256B}`]);
});

test("the client-policy cases: one domain per Postfix default, each judged otherwise under rfc7672", () => {
  assert.deepEqual(
    PROFILE_CASES.map((c) => [c.domain, c.setting]),
    [
      ["pf-insecuremx.moretesting", "insecureMxPolicy"],
      ["pf-numeric.testing", "numericMx"],
      ["pf-sixth.testing", "mxAddressLimit"],
    ],
  );
  for (const c of PROFILE_CASES) {
    assert.notDeepEqual(
      [c.postfix.action, c.postfix.security, c.postfix.dane],
      [c.rfc7672.action, c.rfc7672.security, c.rfc7672.dane],
      c.domain,
    );
  }
});

test("the client-policy cases' zone data: an unsigned MX to a signed TLSA host, a numeric MX, six single-address hosts", () => {
  const zones = seedZones(pemB);
  const lines = (zone: string, owner: string, type: string) =>
    zones[zone]!.split("\n")
      .filter((l) => l.startsWith(`${owner} ${type} `))
      .map((l) => l.slice(owner.length + type.length + 2));
  // Rule 32: the MX RRset is in the unsigned zone, its host in the signed one, with a TLSA RRset
  // (3 0 1 of certificate B) that the certificate served there (A, the write-up's mismatch host) does not match.
  assert.deepEqual(lines("moretesting.", "pf-insecuremx", "MX"), ["10 pf-tlsa.testing."]);
  assert.deepEqual(lines("testing.", "pf-tlsa", "A"), ["127.167.152.113"]);
  assert.equal(SMTP_HOSTS.mismatch.address, "127.167.152.113");
  assert.equal(SMTP_HOSTS.mismatch.cert, "A");
  assert.deepEqual(lines("testing.", "_25._tcp.pf-tlsa", "TLSA"), [`3 0 1 ${sha256B}`]);
  // Rule 33: the exchange is the STARTTLS server of certificate B's address, written as an absolute name.
  assert.deepEqual(lines("testing.", "pf-numeric", "MX"), ["10 127.64.93.21."]);
  assert.equal(SMTP_HOSTS.match.mode, "starttls");
  // Rule 34: six hosts by preference, one address each; nothing listens on the first five.
  assert.deepEqual(lines("testing.", "pf-sixth", "MX"), [
    "10 pf-sixth-1",
    "20 pf-sixth-2",
    "30 pf-sixth-3",
    "40 pf-sixth-4",
    "50 pf-sixth-5",
    "60 pf-sixth-6",
  ]);
  const addresses = [1, 2, 3, 4, 5, 6].map((i) => lines("testing.", `pf-sixth-${i}`, "A"));
  assert.deepEqual(addresses, [...REFUSING_ADDRESSES.map((a) => [a]), ["127.64.93.21"]]);
  // No server of the testbed listens on a refusing address.
  const served = new Set<string>([
    ...Object.values(SMTP_HOSTS).map((h) => h.address),
    NEVER_CONTACT_ADDRESS,
    ...Object.values(RISK_HOSTS),
    STS_MX_SERVER.address,
    STS_POLICY_SERVER.address,
  ]);
  for (const a of REFUSING_ADDRESSES) {
    assert.ok(!served.has(a), a);
    assert.ok(!a.startsWith("127.60.") && !a.startsWith("127.61.0."), `${a}: synth hosts, manyaddr.testing`);
  }
  // The unsigned MX is only in moretesting. (a secure one in testing. would make it another case).
  assert.deepEqual(lines("testing.", "pf-insecuremx", "MX"), []);
});
