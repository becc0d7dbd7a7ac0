/**
 * The resolver and the lookup plan against the testbed's real DNSSEC universe
 * (Knot root + children, validating Unbound on 127.53.53.53).
 * Expected values come from the zone data of the 2018 sendmail DANE test
 * cases write-up as libs/dane/seed/seed-cases.json records it, the rules of
 * docs/rules.md, and the testbed's README (extra resolver-test names). TLSA association data is checked against
 * digests of the testbed's certificate B computed here with node:crypto.
 */
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { DomainFacts, HostFacts, Lookup, TlsaRecord } from "@danesweep/dane";
import { checkValidating, collectDomainFacts, requireValidating, StubResolver } from "../src/index.ts";
import { ensureTestbed } from "./testbed.ts";

const stateDir = process.env.DANESWEEP_TESTBED_DIR ?? "/var/tmp/danesweep-testbed";
const now = () => Date.now();

const TESTBED = "127.53.53.53:53";
let resolver: StubResolver;
let certB: Buffer;
let right: string;
let sha512: string;

before(async () => {
  const addr = await ensureTestbed();
  resolver = new StubResolver({ upstreams: [addr], timeoutMs: 3000, retries: 1 });
  certB = Buffer.from(new X509Certificate(readFileSync(`${stateDir}/certs/b.pem`)).raw);
  right = createHash("sha256").update(certB).digest("hex");
  sha512 = createHash("sha512").update(certB).digest("hex");
});
after(async () => {
  await resolver?.close();
});

const facts = (d: string): Promise<DomainFacts> =>
  collectDomainFacts(resolver, d, { now, resolverValidates: true });

function host(f: DomainFacts, name: string): HostFacts {
  const h = f.hosts.find((x) => x.name === name);
  assert.ok(h, `${f.domain}: host ${name} in ${JSON.stringify(f.hosts.map((x) => x.name))}`);
  return h;
}
const tlsaNames = (h: HostFacts) => h.tlsa.map((l) => l.qname);
const rec = (l: Lookup<TlsaRecord> | undefined) =>
  l?.records.map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data}`);

describe("resolver check (rule 2)", () => {
  test("the testbed Unbound validates", async () => {
    const checks = await checkValidating(resolver);
    assert.deepEqual(checks, [{ ok: true, upstream: "127.53.53.53:53" }]);
  });

  test("the authoritative root server is refused as not validating, by name", async () => {
    const r = new StubResolver({ upstreams: ["127.53.0.1:53"], timeoutMs: 2000, retries: 0 });
    const checks = await checkValidating(r);
    await r.close();
    assert.equal(checks[0]?.ok, false);
    assert.equal(checks[0]?.ok === false && checks[0].error, "not-validating");
    const gate = requireValidating(checks, { acceptIndeterminate: false });
    assert.equal(gate.ok, false);
    assert.ok(!gate.ok && gate.message.includes("127.53.0.1:53"));
  });

  test("a server that never answers is unreachable", async () => {
    const r = new StubResolver({ upstreams: ["127.53.0.9:53"], timeoutMs: 300, retries: 1 });
    const checks = await checkValidating(r);
    await r.close();
    assert.equal(checks[0]?.ok === false && checks[0].error, "unreachable");
  });
});

describe("outcomes and security states", () => {
  test("secure answer", async () => {
    const l = await resolver.query("test1.testing", "MX");
    assert.equal(l.outcome, "answer");
    assert.equal(l.security, "secure");
    assert.deepEqual(l.records.map((r) => `${r.preference} ${r.exchange}`).sort(), [
      "10 test1a.testing",
      "20 test1b.testing",
    ]);
    assert.equal(l.provenance?.upstream, "127.53.53.53:53");
    assert.equal(l.provenance?.flags.ad, true);
  });

  test("insecure answer (unsigned zone)", async () => {
    const l = await resolver.query("mail.moretesting", "MX");
    assert.equal(l.outcome, "answer");
    assert.equal(l.security, "insecure");
  });

  test("bogus (wrong DS): servfail that CD=1 resolves", async () => {
    const l = await resolver.query("test.bogustesting", "MX");
    assert.equal(l.outcome, "error");
    assert.equal(l.error, "servfail");
    assert.equal(l.security, "bogus");
    assert.equal(l.provenance?.cdRcode, "NOERROR");
  });

  test("secure NXDOMAIN and secure NODATA", async () => {
    const nx = await resolver.query("does-not-exist.testing", "MX");
    assert.deepEqual([nx.outcome, nx.security], ["nxdomain", "secure"]);
    const nd = await resolver.query("nodata.testing", "MX");
    assert.deepEqual([nd.outcome, nd.security], ["nodata", "secure"]);
  });

  test("timeout: an upstream that never answers", async () => {
    const r = new StubResolver({ upstreams: ["127.53.0.9:53"], timeoutMs: 300, retries: 1 });
    const l = await r.query("test1.testing", "MX");
    await r.close();
    assert.deepEqual([l.outcome, l.error, l.security], ["error", "timeout", "indeterminate"]);
    assert.equal(l.provenance?.attempts, 2);
  });

  test("a zone whose server never answers is an error, never not-found", async () => {
    const l = await resolver.query("test.timeouttesting", "MX");
    assert.equal(l.outcome, "error");
    assert.ok(l.error === "servfail" || l.error === "timeout", String(l.error));
    assert.equal(l.security, "indeterminate");
  });

  test("TC over UDP: 40 MX records come over TCP", async () => {
    const l = await resolver.query("bigmx.testing", "MX");
    assert.equal(l.outcome, "answer");
    assert.equal(l.records.length, 40);
    assert.equal(l.provenance?.transport, "tcp");
    assert.equal(l.security, "secure");
  });

  test("CNAME loop and a chain of 10 links are errors", async () => {
    const loop = await resolver.query("loop1.testing", "A");
    assert.equal(loop.outcome, "error");
    const long = await resolver.query("chain0.testing", "MX");
    assert.equal(long.outcome, "error");
    if (long.error === "limit") assert.equal(long.limitHit, "cname-chain>8");
  });
});

describe("CNAME chains through secure and insecure zones (rule 4)", () => {
  test("all-secure chain: AD=1 over the whole chain", async () => {
    const l = await resolver.query("test15aa.testing", "A");
    assert.equal(l.security, "secure");
    assert.deepEqual(l.chain, [
      { owner: "test15aa.testing", target: "test15aaa.testing" },
      { owner: "test15aaa.testing", target: "test15aaaa.testing" },
    ]);
    assert.equal(l.owner, "test15aaaa.testing");
    assert.deepEqual(l.records, ["127.64.93.21"]);
  });

  test("chain through an unsigned zone is insecure; its first link alone is secure", async () => {
    const l = await resolver.query("test23aa.testing", "A");
    assert.equal(l.security, "insecure");
    assert.deepEqual(l.chain, [
      { owner: "test23aa.testing", target: "test23aaa.moretesting" },
      { owner: "test23aaa.moretesting", target: "test23aaa.testing" },
      { owner: "test23aaa.testing", target: "test23aaaa.testing" },
    ]);
    const first = await resolver.query("test23aa.testing", "CNAME");
    assert.deepEqual(
      [first.outcome, first.security, first.records],
      ["answer", "secure", ["test23aaa.moretesting"]],
    );
  });
});

describe("domain facts for the resolver-test names", () => {
  test("null MX: no hosts", async () => {
    const f = await facts("nullmx.testing");
    assert.deepEqual(f.mx.records, [{ preference: 0, exchange: "." }]);
    assert.deepEqual(f.hosts, []);
  });

  test("implicit MX: the domain is its host, TLSA at _25._tcp.<domain>", async () => {
    const f = await facts("implicitmx.testing");
    assert.equal(f.mx.outcome, "nodata");
    const h = host(f, "implicitmx.testing");
    assert.equal(h.implicit, true);
    assert.equal(h.preference, 0);
    assert.deepEqual(tlsaNames(h), ["_25._tcp.implicitmx.testing"]);
    assert.deepEqual(rec(h.tlsa[0]), [`3 0 1 ${right}`]);
  });

  test("25 MX records: 20 hosts, limit recorded", async () => {
    const f = await facts("manymx.testing");
    assert.equal(f.mx.records.length, 25);
    assert.equal(f.hosts.length, 20);
    assert.ok(f.limits.includes("mx-hosts>20"));
    // preferences 10..250: the 20 best are mx01..mx20
    assert.deepEqual(
      f.hosts.map((h) => h.name).sort(),
      Array.from({ length: 20 }, (_, i) => `mx${String(i + 1).padStart(2, "0")}.manymx.testing`),
    );
  });

  test("20 addresses: 16 kept, limit recorded (implicit MX host)", async () => {
    const f = await facts("manyaddr.testing");
    const h = host(f, "manyaddr.testing");
    assert.equal(h.a.records.length, 16);
    assert.equal(h.a.limitHit, "addresses>16");
    assert.ok(f.limits.includes("addresses>16"));
  });

  test("NXDOMAIN and bogus MX: no hosts, no fallback to addresses", async () => {
    const nx = await facts("does-not-exist.testing");
    assert.deepEqual([nx.mx.outcome, nx.hosts.length], ["nxdomain", 0]);
    const bogus = await facts("test.bogustesting");
    assert.deepEqual([bogus.mx.outcome, bogus.mx.security, bogus.hosts.length], ["error", "bogus", 0]);
  });

  test("an invalid name is a per-domain error", async () => {
    const f = await facts("bad..testing");
    assert.deepEqual(f.limits, ["invalid-name:empty-label"]);
  });
});

describe("the 24 seed domains: facts each case needs", () => {
  const tlsaOf = (usage: number, sel: number, mt: number, data: () => string) => () =>
    `${usage} ${sel} ${mt} ${data()}`;
  // Cases with one MX host test<N>a and a TLSA RRset at _25._tcp.test<N>a (write-up zone data).
  const single: [number, () => string][] = [
    [2, () => "3 0 1 <wrong>"],
    [4, tlsaOf(3, 0, 1, () => right)],
    [5, tlsaOf(1, 0, 2, () => sha512)],
    [6, tlsaOf(1, 0, 2, () => sha512)],
    [7, tlsaOf(3, 2, 1, () => right)],
    [8, tlsaOf(3, 2, 1, () => right)],
    [9, tlsaOf(3, 0, 4, () => right)],
    [10, tlsaOf(3, 0, 4, () => right)],
    [11, tlsaOf(3, 0, 1, () => right.slice(0, 32))],
    [12, tlsaOf(3, 0, 1, () => right.slice(0, 32))],
  ];
  for (const [n, expected] of single) {
    test(`case ${n}: secure MX -> test${n}a, secure A, secure TLSA at _25._tcp.test${n}a`, async () => {
      const f = await facts(`test${n}.testing`);
      assert.deepEqual([f.mx.outcome, f.mx.security], ["answer", "secure"]);
      assert.equal(f.hosts.length, 1);
      const h = host(f, `test${n}a.testing`);
      assert.deepEqual([h.a.outcome, h.a.security], ["answer", "secure"]);
      assert.deepEqual(tlsaNames(h), [`_25._tcp.test${n}a.testing`]);
      assert.deepEqual([h.tlsa[0]!.outcome, h.tlsa[0]!.security], ["answer", "secure"]);
      const got = rec(h.tlsa[0])!;
      if (n === 2) {
        assert.equal(got.length, 1);
        assert.match(got[0]!, /^3 0 1 [0-9a-f]{64}$/);
      } else {
        assert.deepEqual(got, [expected()]);
      }
    });
  }

  for (const n of [1, 3]) {
    test(`case ${n}: two MX hosts, each with a secure TLSA RRset`, async () => {
      const f = await facts(`test${n}.testing`);
      assert.deepEqual(f.hosts.map((h) => [h.name, h.preference]).sort(), [
        [`test${n}a.testing`, 10],
        [`test${n}b.testing`, 20],
      ]);
      for (const h of f.hosts) {
        assert.deepEqual(tlsaNames(h), [`_25._tcp.${h.name}`]);
        assert.equal(h.tlsa[0]!.security, "secure");
        assert.deepEqual(rec(h.tlsa[0]), [`3 0 1 ${right}`]);
      }
    });
  }

  for (const n of [13, 14]) {
    test(`case ${n}: domain CNAME -> secure MX; TLSA at _25._tcp.test${n}aa`, async () => {
      const f = await facts(`test${n}.testing`);
      assert.deepEqual(f.mx.chain, [{ owner: `test${n}.testing`, target: `test${n}a.testing` }]);
      assert.equal(f.mx.owner, `test${n}a.testing`);
      assert.equal(f.mx.security, "secure");
      const h = host(f, `test${n}aa.testing`);
      assert.deepEqual(tlsaNames(h), [`_25._tcp.test${n}aa.testing`]);
      assert.equal(h.tlsa[0]!.outcome, "answer");
      if (n === 13) assert.deepEqual(rec(h.tlsa[0]), [`3 0 1 ${right}`]);
      else assert.notDeepEqual(rec(h.tlsa[0]), [`3 0 1 ${right}`]);
    });
  }

  for (const n of [15, 16]) {
    test(`case ${n}: secure host chain; expanded name has no TLSA, original name does (rule 15)`, async () => {
      const f = await facts(`test${n}.testing`);
      const h = host(f, `test${n}aa.testing`);
      assert.equal(h.a.security, "secure");
      assert.equal(h.a.owner, `test${n}aaaa.testing`);
      assert.deepEqual(tlsaNames(h), [`_25._tcp.test${n}aaaa.testing`, `_25._tcp.test${n}aa.testing`]);
      assert.equal(h.tlsa[0]!.security, "secure");
      assert.ok(h.tlsa[0]!.outcome === "nxdomain" || h.tlsa[0]!.outcome === "nodata");
      assert.deepEqual([h.tlsa[1]!.outcome, h.tlsa[1]!.security], ["answer", "secure"]);
    });
  }

  for (const n of [17, 18, 21, 22]) {
    test(`case ${n}: secure host chain; TLSA at the expanded name ends the search`, async () => {
      const f = await facts(`test${n}.testing`);
      const h = host(f, `test${n}aa.testing`);
      assert.deepEqual(tlsaNames(h), [`_25._tcp.test${n}aaaa.testing`]);
      assert.deepEqual([h.tlsa[0]!.outcome, h.tlsa[0]!.security], ["answer", "secure"]);
      const matches = n === 17 || n === 21;
      assert.equal(rec(h.tlsa[0])![0] === `3 0 1 ${right}`, matches);
    });
  }

  test("case 19: MX host in an insecure zone: no TLSA query, never the domain's own A", async () => {
    const f = await facts("test19.testing");
    assert.equal(f.mx.security, "secure");
    assert.deepEqual(
      f.hosts.map((h) => h.name),
      ["test19a.moretesting"],
    );
    const h = f.hosts[0]!;
    assert.deepEqual([h.a.outcome, h.a.security], ["answer", "insecure"]);
    assert.deepEqual(h.tlsa, []);
  });

  test("case 20: secure host whose TLSA lookup fails: the error is recorded, nothing else tried", async () => {
    const f = await facts("test20.testing");
    assert.deepEqual(
      f.hosts.map((h) => h.name),
      ["test20a.testing"],
    );
    const h = f.hosts[0]!;
    assert.equal(h.a.security, "secure");
    assert.deepEqual(tlsaNames(h), ["_25._tcp.test20a.testing"]);
    assert.equal(h.tlsa[0]!.outcome, "error");
  });

  for (const n of [23, 24]) {
    test(`case ${n}: chain through an insecure zone; secure first link; TLSA at the original name only`, async () => {
      const f = await facts(`test${n}.testing`);
      const h = host(f, `test${n}aa.testing`);
      assert.equal(h.a.security, "insecure");
      assert.equal(h.a.chain.length, 3);
      assert.deepEqual([h.firstLink?.outcome, h.firstLink?.security], ["answer", "secure"]);
      assert.deepEqual(tlsaNames(h), [`_25._tcp.test${n}aa.testing`]);
      assert.deepEqual([h.tlsa[0]!.outcome, h.tlsa[0]!.security], ["answer", "secure"]);
      assert.equal(rec(h.tlsa[0])![0] === `3 0 1 ${right}`, n === 23);
    });
  }
});

describe("pipelined TCP (transport 'tcp') gives the same facts as UDP", () => {
  test("the 24 seed domains and the first synthetic domains: identical facts but for provenance", async () => {
    const names = Array.from({ length: 24 }, (_, i) => `test${i + 1}.testing`);
    try {
      const synth = readFileSync(`${stateDir}/synth/domains.txt`, "utf8").trim().split("\n");
      names.push(...synth.slice(0, 200).map((l) => l.split(/\s+/)[0]!));
    } catch {
      // No synthetic universe generated: the seed domains alone.
    }
    const opts = { timeoutMs: 3000, retries: 1, cache: false };
    const udp = new StubResolver({ upstreams: [TESTBED], ...opts, transport: "udp" });
    const tcp = new StubResolver({ upstreams: [TESTBED], ...opts, transport: "tcp" });
    // Provenance differs by design (transport, attempts, timing), TTLs count
    // down in Unbound's cache between the two questions, and Unbound rotates
    // RRset order (so MX host order too): compare the rest, sorted.
    const canon = (v: unknown): unknown => {
      if (Array.isArray(v))
        return v.map(canon).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
      if (v && typeof v === "object") {
        const o: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) if (k !== "provenance" && k !== "ttl") o[k] = canon(x);
        return o;
      }
      return v;
    };
    const strip = (f: DomainFacts) => canon({ ...f, collectedAt: "" });
    const both = async (d: string) =>
      Promise.all([
        collectDomainFacts(udp, d, { now, resolverValidates: true }),
        collectDomainFacts(tcp, d, { now, resolverValidates: true }),
      ]);
    const results = await Promise.all(names.map(both));
    const tcpStats = tcp.stats();
    await Promise.all([udp.close(), tcp.close()]);
    for (const [i, [u, t]] of results.entries()) assert.deepEqual(strip(t), strip(u), names[i]);
    const tcpProv = results.flatMap(([, t]) => [t.mx, ...t.hosts.map((h) => h.a)]);
    assert.ok(tcpProv.every((l) => l.provenance === undefined || l.provenance.transport === "tcp"));
    assert.equal(tcpStats.udpSent, 0);
    assert.ok(tcpStats.tcpSent > 0);
  });
});
