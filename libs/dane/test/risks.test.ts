/**
 * Golden tables of the risk rules (docs/rules.md rules 37-40): TLSA
 * consistency across authoritative servers, every certificate a sender might
 * see (latent failures) and rollover risk. Each row gives facts and the
 * expected outcome as the rule's text reads; TLSA data is computed here with
 * node:crypto from real certificates (certs.ts), never by libs/dane. Every
 * case is judged through judge(), so the rows also pin that a risk never
 * changes the verdict, the DANE state or the problems.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { judgeConsistency } from "../src/consistency.ts";
import type {
  AlternateHandshake,
  AuthoritativeAnswer,
  DomainFacts,
  ProbeFacts,
  TlsaConsistencyFacts,
  TlsaRecord,
} from "../src/facts.ts";
import { judge } from "../src/judge.ts";
import { DAY_MS } from "../src/risks.ts";
import { makeChain, makeKey, makeSelfSigned, tlsaFor } from "./certs.ts";
import { mxDomain, probeStore, probeTls, simpleHost } from "./fixtures/build.ts";

const NOW = Date.UTC(2026, 5, 1);
const D = "example.org";
const MX = "mx1.example.org";
const IP = "192.0.2.1";
const Q = `_25._tcp.${MX}`;
const iso = (t: number) => new Date(t).toISOString();

const leaf = makeSelfSigned([MX]);
const next = makeSelfSigned([MX]);
const soon = makeSelfSigned([MX], { notAfter: NOW + 5 * DAY_MS });
const ecLeaf = makeSelfSigned([MX], { keyType: "ec" });
const rsaLeaf = makeSelfSigned([MX], { key: makeKey("rsa") });
/** root -> intermediate -> leaf (names for DANE-TA: the MX host). */
const viaInt = makeChain({ intermediates: 1, leafNames: [MX] });
/** root -> leaf, the root sent too. */
const viaRoot = makeChain({ intermediates: 0, leafNames: [MX] });
/** root -> leaf expiring in 5 days, the root sent too. */
const viaRootSoon = makeChain({ intermediates: 0, leafNames: [MX], leaf: { notAfter: NOW + 5 * DAY_MS } });

function domain(records: TlsaRecord[], ttl = 300, consistency?: TlsaConsistencyFacts[]): DomainFacts {
  const h = simpleHost(MX, 10, { v4: [IP], tlsa: records });
  h.tlsa[0]!.ttl = ttl;
  const f = mxDomain(D, [h]);
  if (consistency) f.consistency = consistency;
  return f;
}

function probe(chain: string[], alternates?: AlternateHandshake[]): ProbeFacts {
  const p = probeTls(IP, MX, chain);
  if (alternates) p.alternates = alternates;
  return p;
}

function alt(offered: "ecdsa" | "rsa", chain: string[] | undefined): AlternateHandshake {
  return chain
    ? {
        offered,
        status: "tls-ok",
        tls: { version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", chain },
        timings: { totalMs: 3 },
      }
    : {
        offered,
        status: "tls-handshake-failed",
        detail: "no shared signature algorithm",
        timings: { totalMs: 2 },
      };
}

function run(f: DomainFacts, p: ProbeFacts, risk?: { rrsigMarginDays?: number; leafExpiryDays?: number }) {
  return judge(f, probeStore([p]), risk ? { now: NOW, risk } : { now: NOW });
}

// ------------------------------------------------------------------- rule 39

describe("rule 39: rollover risk per DANE host (golden table)", () => {
  const rows: {
    name: string;
    records: TlsaRecord[];
    chain: string[];
    ttl?: number;
    want: string[] | undefined;
  }[] = [
    { name: "one 3 1 1 record", records: [tlsaFor(3, 1, 1, leaf)], chain: [leaf.b64], want: ["no-next-key"] },
    {
      name: "3 1 1 current + 3 1 1 next key",
      records: [tlsaFor(3, 1, 1, leaf), tlsaFor(3, 1, 1, next)],
      chain: [leaf.b64],
      want: [],
    },
    {
      name: "one 3 0 1 record (whole certificate)",
      records: [tlsaFor(3, 0, 1, leaf)],
      chain: [leaf.b64],
      want: ["no-next-key", "ee-full-certificate"],
    },
    {
      name: "3 0 1 current + 3 0 1 next certificate",
      records: [tlsaFor(3, 0, 1, leaf), tlsaFor(3, 0, 1, next)],
      chain: [leaf.b64],
      want: ["ee-full-certificate"],
    },
    {
      name: "3 1 1 and 3 1 2 of the same key: one key covered (digest agility compares 3 1 2 only)",
      records: [tlsaFor(3, 1, 1, leaf), tlsaFor(3, 1, 2, leaf)],
      chain: [leaf.b64],
      want: ["no-next-key"],
    },
    {
      name: "3 1 1 of a leaf expiring in 5 days (threshold 14)",
      records: [tlsaFor(3, 1, 1, soon)],
      chain: [soon.b64],
      want: ["no-next-key", "leaf-expiring"],
    },
    {
      name: "next key ready, leaf expiring in 5 days, TTL 10 days",
      records: [tlsaFor(3, 1, 1, soon), tlsaFor(3, 1, 1, next)],
      chain: [soon.b64],
      ttl: 10 * 86_400,
      want: ["leaf-expiring", "ttl-exceeds-validity"],
    },
    {
      name: "a long TTL on a leaf with years left",
      records: [tlsaFor(3, 1, 1, leaf), tlsaFor(3, 1, 1, next)],
      chain: [leaf.b64],
      ttl: 30 * 86_400,
      want: [],
    },
    {
      name: "2 1 1 of the issuing intermediate",
      records: [tlsaFor(2, 1, 1, viaInt.intermediates[0]!)],
      chain: viaInt.chain,
      want: ["no-next-key", "ta-intermediate"],
    },
    {
      name: "2 1 1 of the root, sent by the server",
      records: [tlsaFor(2, 1, 1, viaRoot.root)],
      chain: viaRoot.withRoot,
      want: ["no-next-key"],
    },
    {
      name: "2 0 0 of the root, not sent (depth -1)",
      records: [tlsaFor(2, 0, 0, viaRoot.root)],
      chain: viaRoot.chain,
      want: ["no-next-key"],
    },
    {
      name: "3 1 1 + 2 1 1 intermediate: each survives a change of the other, but the intermediate is pinned",
      records: [tlsaFor(3, 1, 1, viaInt.leaf), tlsaFor(2, 1, 1, viaInt.intermediates[0]!)],
      chain: viaInt.chain,
      want: ["ta-intermediate"],
    },
    {
      name: "3 1 1 + 2 1 1 root with a leaf expiring in 5 days: the root record covers the renewal",
      records: [tlsaFor(3, 1, 1, viaRootSoon.leaf), tlsaFor(2, 1, 1, viaRootSoon.root)],
      chain: viaRootSoon.withRoot,
      ttl: 30 * 86_400,
      want: [],
    },
    {
      name: "nothing authenticates: no rollover assessment",
      records: [tlsaFor(3, 1, 1, next)],
      chain: [leaf.b64],
      want: undefined,
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const r = run(domain(row.records, row.ttl ?? 300), probe(row.chain));
      const host = r.hosts[0]!;
      assert.deepEqual(host.rolloverRisk?.reasons, row.want);
      assert.deepEqual(
        r.risks,
        (row.want ?? []).map((x) => `rollover-${x}`),
      );
      // A risk is not a problem and changes nothing else.
      assert.deepEqual(r.problems, row.want === undefined ? ["tlsa-mismatch"] : []);
      assert.equal(r.verdict.action, row.want === undefined ? "defer" : "deliver");
    });
  }

  test("the leaf threshold is an option", () => {
    const f = domain([tlsaFor(3, 1, 1, soon), tlsaFor(3, 1, 1, next)]);
    assert.deepEqual(run(f, probe([soon.b64]), { leafExpiryDays: 4 }).hosts[0]!.rolloverRisk?.reasons, []);
    assert.deepEqual(run(f, probe([soon.b64]), { leafExpiryDays: 6 }).hosts[0]!.rolloverRisk?.reasons, [
      "leaf-expiring",
    ]);
  });

  test("the record carries the leaf's expiry and the TLSA TTL", () => {
    const r = run(domain([tlsaFor(3, 1, 1, soon)], 7200), probe([soon.b64]));
    assert.equal(r.hosts[0]!.rolloverRisk?.leafNotAfter, iso(Math.floor((NOW + 5 * DAY_MS) / 1000) * 1000));
    assert.equal(r.hosts[0]!.rolloverRisk?.tlsaTtl, 7200);
  });
});

// ------------------------------------------------------------------- rule 38

describe("rule 38: every certificate a sender might see (golden table)", () => {
  const rows: {
    name: string;
    records: TlsaRecord[];
    first: string[];
    alternates: AlternateHandshake[];
    latent: { offered: string; keyType?: string; failure: string }[];
    results: string[];
    action: string;
  }[] = [
    {
      name: "ECDSA matches, the RSA certificate does not: a sender preferring RSA defers",
      records: [tlsaFor(3, 1, 1, ecLeaf)],
      first: [ecLeaf.b64],
      alternates: [alt("rsa", [rsaLeaf.b64])],
      latent: [{ offered: "rsa", keyType: "rsa", failure: "no-match" }],
      results: ["failed"],
      action: "deliver",
    },
    {
      name: "both certificates have a record: nothing latent",
      records: [tlsaFor(3, 1, 1, ecLeaf), tlsaFor(3, 1, 1, rsaLeaf)],
      first: [ecLeaf.b64],
      alternates: [alt("rsa", [rsaLeaf.b64])],
      latent: [],
      results: ["dane-verified"],
      action: "deliver",
    },
    {
      name: "only the RSA certificate matches: the probe's own handshake is the latent one",
      records: [tlsaFor(3, 1, 1, rsaLeaf)],
      first: [ecLeaf.b64],
      alternates: [alt("rsa", [rsaLeaf.b64])],
      latent: [{ offered: "default", keyType: "ec", failure: "no-match" }],
      results: ["dane-verified"],
      action: "defer",
    },
    {
      name: "the server has no RSA certificate (the handshake fails): nothing latent",
      records: [tlsaFor(3, 1, 1, ecLeaf)],
      first: [ecLeaf.b64],
      alternates: [alt("rsa", undefined)],
      latent: [],
      results: ["no-certificate"],
      action: "deliver",
    },
    {
      name: "the server sends the same certificate again: nothing latent",
      records: [tlsaFor(3, 1, 1, ecLeaf)],
      first: [ecLeaf.b64],
      alternates: [alt("rsa", [ecLeaf.b64])],
      latent: [],
      results: ["dane-verified"],
      action: "deliver",
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const r = run(domain(row.records), probe(row.first, row.alternates));
      assert.deepEqual(
        (r.latent ?? []).map((l) => ({ offered: l.offered, keyType: l.keyType, failure: l.failure })),
        row.latent,
      );
      for (const l of r.latent ?? []) assert.deepEqual([l.host, l.address], [MX, IP]);
      assert.deepEqual(
        r.hosts[0]!.addresses[0]!.alternates?.map((a) => a.result),
        row.results,
      );
      assert.equal(r.verdict.action, row.action);
      assert.equal(r.risks?.includes("latent-mismatch"), row.latent.length > 0);
    });
  }

  test("the alternates' certificates count for rollover: a second key in use needs its record too", () => {
    const r = run(
      domain([tlsaFor(3, 1, 1, ecLeaf), tlsaFor(3, 1, 1, rsaLeaf)]),
      probe([ecLeaf.b64], [alt("rsa", [rsaLeaf.b64])]),
    );
    // Both records match a certificate in use: none is ready for a next key.
    assert.deepEqual(r.hosts[0]!.rolloverRisk?.reasons, ["no-next-key"]);
  });
});

// ------------------------------------------------------------------- rule 37

describe("rule 37: TLSA consistency across authoritative servers (golden table)", () => {
  const RIGHT = tlsaFor(3, 1, 1, leaf);
  const NEXT = tlsaFor(3, 1, 1, next);
  const sig = (expiresIn: number) => ({
    signer: "example.org",
    keyTag: 12345,
    algorithm: 13,
    originalTtl: 300,
    inception: iso(NOW - DAY_MS),
    expiration: iso(NOW + expiresIn),
  });
  const ok = (
    server: string,
    address: string,
    extra: Partial<AuthoritativeAnswer> = {},
  ): AuthoritativeAnswer => ({
    server,
    address,
    status: "answer",
    records: [RIGHT],
    rrsigs: [sig(20 * DAY_MS)],
    ttl: 300,
    ...extra,
  });
  const facts = (
    servers: AuthoritativeAnswer[],
    ns: Partial<TlsaConsistencyFacts["ns"]> = {},
  ): TlsaConsistencyFacts => ({
    qname: Q,
    zone: "example.org",
    ns: { outcome: "answer", security: "secure", names: ["ns1.example.net", "ns2.example.net"], ...ns },
    servers,
    checkedAt: iso(NOW - 1000),
  });
  const N1 = ["ns1.example.net", "198.51.100.1"] as const;
  const N2 = ["ns2.example.net", "198.51.100.2"] as const;
  const rows: {
    name: string;
    servers: AuthoritativeAnswer[];
    ns?: Partial<TlsaConsistencyFacts["ns"]>;
    state: string;
    reasons: string[];
    perServer: string[][];
    risks: string[];
  }[] = [
    {
      name: "every server serves the validated RRset, signed for weeks",
      servers: [ok(...N1), ok(...N2)],
      state: "consistent",
      reasons: [],
      perServer: [[], []],
      risks: [],
    },
    {
      name: "one server already serves the next key's record",
      servers: [ok(...N1), ok(...N2, { records: [RIGHT, NEXT] })],
      state: "inconsistent",
      reasons: ["rrset-differs"],
      perServer: [[], ["rrset-differs"]],
      risks: ["tlsa-inconsistent"],
    },
    {
      name: "one server has no TLSA RRset at all (NODATA)",
      servers: [ok(...N1), { server: N2[0], address: N2[1], status: "nodata" }],
      state: "inconsistent",
      reasons: ["rrset-differs"],
      perServer: [[], ["rrset-differs"]],
      risks: ["tlsa-inconsistent"],
    },
    {
      name: "a signature expiring in 2 days (margin 3)",
      servers: [ok(...N1), ok(...N2, { rrsigs: [sig(2 * DAY_MS)] })],
      state: "inconsistent",
      reasons: ["rrsig-expiring"],
      perServer: [[], ["rrsig-expiring"]],
      risks: ["rrsig-expiring"],
    },
    {
      name: "the latest of two signatures decides",
      servers: [ok(...N1, { rrsigs: [sig(-DAY_MS), sig(10 * DAY_MS)] })],
      state: "consistent",
      reasons: [],
      perServer: [[]],
      risks: [],
    },
    {
      name: "expired signatures",
      servers: [ok(...N1, { rrsigs: [sig(-60_000)] }), ok(...N2)],
      state: "inconsistent",
      reasons: ["rrsig-expired"],
      perServer: [["rrsig-expired"], []],
      risks: ["rrsig-expired"],
    },
    {
      name: "an unsigned answer",
      servers: [ok(...N1, { rrsigs: [] }), ok(...N2)],
      state: "inconsistent",
      reasons: ["rrsig-missing"],
      perServer: [["rrsig-missing"], []],
      risks: ["rrsig-missing"],
    },
    {
      name: "a server that does not answer, and a lame one",
      servers: [
        { server: N1[0], address: N1[1], status: "timeout" },
        { server: N2[0], address: N2[1], status: "not-authoritative" },
      ],
      state: "inconsistent",
      reasons: ["server-unresponsive", "server-lame"],
      perServer: [["server-unresponsive"], ["server-lame"]],
      risks: ["nameserver-unresponsive", "nameserver-lame"],
    },
    {
      name: "a server not asked by policy: incomplete",
      servers: [ok(...N1), { server: N2[0], address: N2[1], status: "policy-opt-out" }],
      state: "incomplete",
      reasons: [],
      perServer: [[], []],
      risks: [],
    },
    {
      name: "the zone's NS lookup failed: unknown",
      servers: [],
      ns: { outcome: "error", error: "timeout", security: "indeterminate", names: [] },
      state: "unknown",
      reasons: [],
      perServer: [],
      risks: [],
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const f = domain([RIGHT], 300, [facts(row.servers, row.ns)]);
      const r = run(f, probe([leaf.b64]));
      assert.equal(r.consistency?.state, row.state);
      assert.deepEqual(r.consistency?.reasons, row.reasons);
      assert.deepEqual(
        r.consistency?.servers.map((s) => s.reasons),
        row.perServer,
      );
      assert.deepEqual(
        r.risks?.filter((x) => !x.startsWith("rollover-")),
        row.risks,
      );
      // The verdict stays Postfix's: its resolver sees one answer.
      const plain = run(domain([RIGHT]), probe([leaf.b64]));
      assert.deepEqual([r.verdict, r.dane, r.problems], [plain.verdict, plain.dane, plain.problems]);
    });
  }

  test("the margin is an option", () => {
    const f = domain([RIGHT], 300, [facts([ok(...N1, { rrsigs: [sig(2 * DAY_MS)] })])]);
    assert.deepEqual(run(f, probe([leaf.b64]), { rrsigMarginDays: 1 }).consistency?.reasons, []);
    assert.deepEqual(run(f, probe([leaf.b64]), { rrsigMarginDays: 3 }).consistency?.reasons, [
      "rrsig-expiring",
    ]);
  });

  test("servers are named with the RRset, the zone and the latest expiry", () => {
    const f = domain([RIGHT], 300, [facts([ok(...N2, { rrsigs: [sig(2 * DAY_MS)] })])]);
    assert.deepEqual(run(f, probe([leaf.b64])).consistency?.servers, [
      {
        qname: Q,
        zone: "example.org",
        server: N2[0],
        address: N2[1],
        status: "answer",
        reasons: ["rrsig-expiring"],
        expiresAt: iso(NOW + 2 * DAY_MS),
      },
    ]);
  });

  test("no consistency facts: no consistency outcome (older facts)", () => {
    assert.equal(run(domain([RIGHT]), probe([leaf.b64])).consistency, undefined);
    assert.equal(
      judgeConsistency(undefined, [{ owner: Q, records: [RIGHT] }], { now: NOW, rrsigMarginMs: 0 }),
      undefined,
    );
  });

  test("facts for an RRset DANE does not use are ignored", () => {
    const other = { ...facts([ok(...N1, { records: [NEXT] })]), qname: "_25._tcp.other.example.org" };
    assert.equal(run(domain([RIGHT], 300, [other]), probe([leaf.b64])).consistency, undefined);
  });
});
