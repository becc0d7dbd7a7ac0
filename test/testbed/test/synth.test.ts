/** Unit tests of the synthetic universe generator (pure, seeded). */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ensureCertificates } from "../src/certs.ts";
import { SYNTH_CLASSES, type SynthOptions, synthUniverse } from "../src/synth.ts";

const dir = mkdtempSync(join(tmpdir(), "testbed-synth-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const certs = ensureCertificates(dir);
const base: SynthOptions = {
  n: 2000,
  seed: 7,
  hosts: 3,
  eePem: readFileSync(certs.B.cert, "utf8"),
  caPem: readFileSync(certs.ca.cert, "utf8"),
  files: {
    eeCert: "b.pem",
    eeKey: "b.key",
    taChain: "ta.pem",
    taKey: "ta.key",
    tlsCert: "a.pem",
    tlsKey: "a.key",
  },
};

test("same seed, same universe; another seed, another mixture", () => {
  const a = synthUniverse(base);
  assert.deepEqual(synthUniverse(base), a);
  assert.notDeepEqual(synthUniverse({ ...base, seed: 8 }).domains, a.domains);
});

test("every class appears, counts add up, shares are near the weights", () => {
  const u = synthUniverse(base);
  assert.equal(u.domains.length, 2000);
  assert.equal(
    Object.values(u.counts).reduce((x, y) => x + y, 0),
    2000,
  );
  for (const c of SYNTH_CLASSES) assert.ok(u.counts[c] > 100, `${c}: ${u.counts[c]}`);
});

test("few hosts are shared by many domains; insecure domains live in the unsigned zone", () => {
  const u = synthUniverse(base);
  assert.equal(u.hosts.length, 15);
  assert.equal(u.smtpConfig.servers.length, 15);
  const used = new Set(u.domains.flatMap((d) => d.mx));
  assert.ok(used.size <= 15);
  for (const d of u.domains) {
    assert.equal(d.domain.endsWith(".synthu"), d.class === "insecure", d.domain);
    assert.ok(d.mx.length >= 1 && d.mx.length <= 2);
  }
});

test("more MX names than addresses: names spread over the addresses, one SMTP server per address", () => {
  const u = synthUniverse({ ...base, n: 1000, names: 40 });
  assert.equal(u.hosts.length, 5 * 40);
  assert.equal(u.smtpConfig.servers.length, 15, "one server per address, 3 per kind");
  const ee = u.hosts.filter((h) => h.kind === "ee");
  assert.deepEqual(new Set(ee.map((h) => h.address)).size, 3);
  // Every name of the kind gets its TLSA (the SNI of each probe differs, the certificate does not).
  const synth = u.zones["synth."]!;
  for (const h of ee) assert.ok(synth.includes(`_25._tcp.${h.name} TLSA 3 1 1 `), h.name);
  const used = new Set(u.domains.flatMap((d) => d.mx));
  assert.ok(used.size > 15, `${used.size} distinct MX names used`);
  assert.throws(() => synthUniverse({ ...base, names: 0 }), RangeError);
});

test("zone lines: MX per domain, CNAME for cname-chain, TLSA for ee/bad/ta hosts only", () => {
  const u = synthUniverse({ ...base, n: 200 });
  const synth = u.zones["synth."]!;
  for (const d of u.domains.filter((x) => x.class !== "insecure")) {
    if (d.class === "cname-chain") assert.ok(synth.includes(`\n${d.domain}. CNAME `), d.domain);
    else assert.ok(synth.includes(`\n${d.domain}. MX 10 `), d.domain);
  }
  assert.ok(synth.includes("_25._tcp.ee1.mx.synth. TLSA 3 1 1 "));
  assert.ok(synth.includes("_25._tcp.ta1.mx.synth. TLSA 2 0 1 "));
  assert.ok(!synth.includes("_25._tcp.tls1.mx.synth. TLSA"));
});

test("bad options are RangeErrors", () => {
  assert.throws(() => synthUniverse({ ...base, n: 0 }), RangeError);
  assert.throws(() => synthUniverse({ ...base, hosts: 251 }), RangeError);
});
