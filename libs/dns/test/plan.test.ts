/**
 * The lookup plan against a scripted in-memory querier: which questions an
 * RFC 7672 client asks, in which cases, and what lands in the facts.
 * Expected queries come from the rules (docs/rules.md 4-18), not the code.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CnameLink, Lookup, LookupOutcome, RRType, Security } from "@danesweep/dane";
import type { RecordTypes } from "../src/answer.ts";
import { collectDomainFacts, type DnsQuerier, type QueryOptions } from "../src/index.ts";

type Script = Record<string, Omit<Lookup<unknown>, "qname" | "qtype">>;

class ScriptedQuerier implements DnsQuerier {
  readonly asked: string[] = [];
  /** The questions asked as not shared (QueryOptions.shared false). */
  readonly unshared = new Set<string>();
  private readonly script: Script;
  constructor(script: Script) {
    this.script = script;
  }
  async query<K extends RRType>(qname: string, qtype: K, o?: QueryOptions): Promise<Lookup<RecordTypes[K]>> {
    const key = `${qtype} ${qname}`;
    this.asked.push(key);
    if (o?.shared === false) this.unshared.add(key);
    const s = this.script[key];
    if (!s)
      return { qname, qtype, outcome: "nxdomain", security: "secure", chain: [], owner: qname, records: [] };
    return { qname, qtype, ...s } as Lookup<RecordTypes[K]>;
  }
}

function r(
  outcome: LookupOutcome,
  security: Security,
  records: unknown[] = [],
  opts: { chain?: CnameLink[]; owner?: string; error?: "timeout" | "servfail" } = {},
): Omit<Lookup<unknown>, "qname" | "qtype"> {
  const chain = opts.chain ?? [];
  const l: Omit<Lookup<unknown>, "qname" | "qtype"> = {
    outcome,
    security,
    records,
    chain,
    owner: opts.owner ?? chain[chain.length - 1]?.target ?? "",
  };
  if (opts.error) l.error = opts.error;
  return l;
}
const mx = (exchange: string, preference = 10) => ({ preference, exchange });
const tlsa = { usage: 3, selector: 1, matchingType: 1, data: "ab".repeat(32) };
const opts = { now: () => Date.UTC(2025, 0, 2, 3, 4, 5), resolverValidates: true };

/** Fills `owner` with qname where the script left it empty. */
function script(s: Script): Script {
  for (const [k, v] of Object.entries(s)) if (!v.owner) v.owner = k.split(" ")[1]!;
  return s;
}

describe("collectDomainFacts", () => {
  test("secure MX, secure host without CNAME: TLSA at _25._tcp.<host> (rules 10, 15, 16)", async () => {
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.d.example")]),
        "A mx.d.example": r("answer", "secure", ["192.0.2.1"]),
        "AAAA mx.d.example": r("nodata", "secure"),
        "TLSA _25._tcp.mx.d.example": r("answer", "secure", [tlsa]),
      }),
    );
    const f = await collectDomainFacts(q, "D.Example.", opts);
    assert.equal(f.domain, "d.example");
    assert.equal(f.port, 25);
    assert.equal(f.collectedAt, "2025-01-02T03:04:05.000Z");
    assert.equal(f.hosts.length, 1);
    const h = f.hosts[0]!;
    assert.equal(h.name, "mx.d.example");
    assert.equal(h.implicit, false);
    assert.deepEqual(
      h.tlsa.map((l) => l.qname),
      ["_25._tcp.mx.d.example"],
    );
    assert.equal(h.firstLink, undefined);
    assert.deepEqual(q.asked.sort(), [
      "A mx.d.example",
      "AAAA mx.d.example",
      "MX d.example",
      "TLSA _25._tcp.mx.d.example",
    ]);
  });

  test("the route's port names the TLSA query", async () => {
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.d.example")]),
        "A mx.d.example": r("answer", "secure", ["192.0.2.1"]),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", { ...opts, port: 587 });
    assert.equal(f.hosts[0]!.tlsa[0]!.qname, "_587._tcp.mx.d.example");
  });

  test("host in an insecure zone: no TLSA query at all (rule 18, seed case 19)", async () => {
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.insecure.example")]),
        "A mx.insecure.example": r("answer", "insecure", ["192.0.2.1"]),
        "AAAA mx.insecure.example": r("nodata", "insecure"),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.deepEqual(f.hosts[0]!.tlsa, []);
    assert.ok(!q.asked.some((k) => k.startsWith("TLSA")));
  });

  test("secure CNAME chain: expanded name first, then the original on secure NODATA (rule 15)", async () => {
    const chain = [{ owner: "mx.d.example", target: "real.d.example" }];
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.d.example")]),
        "A mx.d.example": r("answer", "secure", ["192.0.2.1"], { chain }),
        "AAAA mx.d.example": r("nodata", "secure", [], { chain }),
        "TLSA _25._tcp.real.d.example": r("nodata", "secure"),
        "TLSA _25._tcp.mx.d.example": r("answer", "secure", [tlsa]),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.deepEqual(
      f.hosts[0]!.tlsa.map((l) => l.qname),
      ["_25._tcp.real.d.example", "_25._tcp.mx.d.example"],
    );
    assert.ok(!q.asked.some((k) => k.startsWith("CNAME")), "a secure answer needs no first-link query");
  });

  test("secure TLSA at the expanded name ends the search (rule 15)", async () => {
    const chain = [{ owner: "mx.d.example", target: "real.d.example" }];
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.d.example")]),
        "A mx.d.example": r("answer", "secure", ["192.0.2.1"], { chain }),
        "TLSA _25._tcp.real.d.example": r("answer", "secure", [tlsa]),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.deepEqual(
      f.hosts[0]!.tlsa.map((l) => l.qname),
      ["_25._tcp.real.d.example"],
    );
  });

  test("insecure chain: first-link CNAME query; secure first link -> TLSA at the original name only (rules 4, 15)", async () => {
    const chain = [
      { owner: "mx.d.example", target: "a.insecure.example" },
      { owner: "a.insecure.example", target: "b.insecure.example" },
    ];
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.d.example")]),
        "A mx.d.example": r("answer", "insecure", ["192.0.2.1"], { chain }),
        "AAAA mx.d.example": r("nodata", "insecure", [], { chain }),
        "CNAME mx.d.example": r("answer", "secure", ["a.insecure.example"]),
        "TLSA _25._tcp.mx.d.example": r("answer", "secure", [tlsa]),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    const h = f.hosts[0]!;
    assert.equal(h.firstLink?.qname, "mx.d.example");
    assert.equal(h.firstLink?.qtype, "CNAME");
    assert.deepEqual(
      h.tlsa.map((l) => l.qname),
      ["_25._tcp.mx.d.example"],
    );
    assert.ok(!q.asked.includes("TLSA _25._tcp.b.insecure.example"));
  });

  test("insecure first link: no TLSA query (rule 15)", async () => {
    const chain = [{ owner: "mx.d.example", target: "x.insecure.example" }];
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.d.example")]),
        "A mx.d.example": r("answer", "insecure", ["192.0.2.1"], { chain }),
        "CNAME mx.d.example": r("answer", "insecure", ["x.insecure.example"]),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.deepEqual(f.hosts[0]!.tlsa, []);
  });

  test("TLSA lookup error on a secure host: recorded, no fallback to another name (rules 15, 17)", async () => {
    const chain = [{ owner: "mx.d.example", target: "real.d.example" }];
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.d.example")]),
        "A mx.d.example": r("answer", "secure", ["192.0.2.1"], { chain }),
        "TLSA _25._tcp.real.d.example": r("error", "indeterminate", [], { error: "timeout" }),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.deepEqual(
      f.hosts[0]!.tlsa.map((l) => [l.qname, l.error]),
      [["_25._tcp.real.d.example", "timeout"]],
    );
  });

  test("MX through a CNAME chain, not secure: first-link CNAME query on the domain (rule 4)", async () => {
    const chain = [{ owner: "d.example", target: "e.insecure.example" }];
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "insecure", [mx("mx.e.insecure.example")], { chain }),
        "CNAME d.example": r("answer", "secure", ["e.insecure.example"]),
        "A mx.e.insecure.example": r("answer", "insecure", ["192.0.2.1"]),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.equal(f.mxFirstLink?.qtype, "CNAME");
    assert.equal(f.mxFirstLink?.security, "secure");
  });

  test("secure MX through a CNAME chain: the AD bit covers every link, no extra query", async () => {
    const chain = [{ owner: "d.example", target: "e.d.example" }];
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.d.example")], { chain }),
        "A mx.d.example": r("answer", "secure", ["192.0.2.1"]),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.equal(f.mxFirstLink, undefined);
  });

  test("NODATA MX: implicit MX, the domain is its own host at preference 0 (rule 8)", async () => {
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("nodata", "secure"),
        "A d.example": r("answer", "secure", ["192.0.2.1"]),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.equal(f.hosts.length, 1);
    assert.deepEqual(
      [f.hosts[0]!.name, f.hosts[0]!.preference, f.hosts[0]!.implicit],
      ["d.example", 0, true],
    );
    assert.deepEqual(
      f.hosts[0]!.tlsa.map((l) => l.qname),
      ["_25._tcp.d.example"],
    );
  });

  for (const [label, mxLookup] of [
    ["null MX (rule 9)", r("answer", "secure", [mx(".", 0)])],
    [
      "null MX among others: Postfix treats any '.' so (rule 9)",
      r("answer", "secure", [mx(".", 0), mx("mx.d.example")]),
    ],
    ["NXDOMAIN (rule 7)", r("nxdomain", "secure")],
    ["MX lookup error: no address fallback (rule 6)", r("error", "indeterminate", [], { error: "servfail" })],
    ["bogus MX (rule 6)", r("error", "bogus", [], { error: "servfail" })],
  ] as const) {
    test(`${label}: no hosts, no address queries`, async () => {
      const q = new ScriptedQuerier(script({ "MX d.example": mxLookup }));
      const f = await collectDomainFacts(q, "d.example", opts);
      assert.deepEqual(f.hosts, []);
      assert.deepEqual(q.asked, ["MX d.example"]);
    });
  }

  test("25 MX hosts: the 20 best by preference, limit recorded", async () => {
    const records = Array.from({ length: 25 }, (_, i) => mx(`mx${i}.d.example`, 100 - i));
    const q = new ScriptedQuerier(script({ "MX d.example": r("answer", "secure", records) }));
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.equal(f.hosts.length, 20);
    assert.deepEqual(f.limits, ["mx-hosts>20"]);
    // preferences 100..76: the five worst (100..96, mx0..mx4) are dropped; the rest in preference order
    assert.deepEqual(
      f.hosts.map((h) => h.name),
      records
        .slice(5)
        .reverse()
        .map((m) => m.exchange),
    );
    assert.equal(f.mx.records.length, 25);
  });

  test("the same RRsets in another order give the same facts (canonical order)", async () => {
    const records = [mx("mx1.d.example", 10), mx("mx2.d.example", 10), mx("mx0.d.example", 20)];
    const factsFor = async (order: typeof records) => {
      const q = new ScriptedQuerier(script({ "MX d.example": r("answer", "secure", order) }));
      return collectDomainFacts(q, "d.example", opts);
    };
    const a = await factsFor(records);
    const b = await factsFor([...records].reverse());
    assert.deepEqual(a, b);
    assert.deepEqual(
      a.hosts.map((h) => h.name),
      ["mx1.d.example", "mx2.d.example", "mx0.d.example"],
    );
  });

  test("duplicate exchanges become one host at the lowest preference", async () => {
    const q = new ScriptedQuerier(
      script({ "MX d.example": r("answer", "secure", [mx("mx.d.example", 20), mx("mx.d.example", 5)]) }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.deepEqual(
      f.hosts.map((h) => [h.name, h.preference]),
      [["mx.d.example", 5]],
    );
  });

  test("20 addresses: 16 kept per family, limit recorded", async () => {
    const addrs = Array.from({ length: 20 }, (_, i) => `192.0.2.${i + 1}`);
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "secure", [mx("mx.d.example")]),
        "A mx.d.example": r("answer", "secure", addrs),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.equal(f.hosts[0]!.a.records.length, 16);
    assert.equal(f.hosts[0]!.a.limitHit, "addresses>16");
    assert.deepEqual(f.limits, ["addresses>16"]);
  });

  test("a resolver that does not validate: facts say so and nothing is secure", async () => {
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "insecure", [mx("mx.d.example")]),
        "A mx.d.example": r("answer", "insecure", ["192.0.2.1"]),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", { ...opts, resolverValidates: false });
    assert.equal(f.resolverValidates, false);
    assert.equal(f.mx.security, "indeterminate");
    assert.equal(f.hosts[0]!.a.security, "indeterminate");
  });

  test("an invalid name: per-domain error facts, no query, no throw", async () => {
    const q = new ScriptedQuerier({});
    const f = await collectDomainFacts(q, "bad..example", opts);
    assert.deepEqual(q.asked, []);
    assert.equal(f.mx.outcome, "error");
    assert.equal(f.mx.security, "indeterminate");
    assert.deepEqual(f.limits, ["invalid-name:empty-label"]);
    assert.deepEqual(f.hosts, []);
  });

  test("the querier's shared Lookup objects are not mutated", async () => {
    const addrs = Array.from({ length: 20 }, (_, i) => `192.0.2.${i + 1}`);
    const shared: Lookup<string> = {
      qname: "mx.d.example",
      qtype: "A",
      outcome: "answer",
      security: "secure",
      chain: [],
      owner: "mx.d.example",
      records: addrs,
    };
    const q: DnsQuerier = {
      query: async (qname, qtype) =>
        (qtype === "A"
          ? shared
          : qtype === "MX"
            ? { ...shared, qname, qtype, records: [mx("mx.d.example")] }
            : { ...shared, qname, qtype, outcome: "nodata", records: [] }) as never,
    };
    await collectDomainFacts(q, "d.example", opts);
    assert.equal(shared.records.length, 20);
    assert.equal(shared.limitHit, undefined);
  });
  test("a numeric exchange is looked up as a name, never with TLSA (rule 33: the engine decides what to make of it)", async () => {
    const q = new ScriptedQuerier(
      script({
        "MX num.example": r("answer", "secure", [mx("192.0.2.1")]),
        "A 192.0.2.1": r("nxdomain", "secure"),
        "AAAA 192.0.2.1": r("nxdomain", "secure"),
      }),
    );
    const f = await collectDomainFacts(q, "num.example", opts);
    assert.deepEqual(q.asked.sort(), ["A 192.0.2.1", "AAAA 192.0.2.1", "MX num.example"]);
    assert.equal(f.hosts.length, 1);
    assert.equal(f.hosts[0]!.name, "192.0.2.1");
    assert.deepEqual(f.hosts[0]!.tlsa, []);
  });

  test("hosts of an insecure MX RRset get their TLSA lookups (rule 32 needs them)", async () => {
    const q = new ScriptedQuerier(
      script({
        "MX u.example": r("answer", "insecure", [mx("mx.s.example")]),
        "A mx.s.example": r("answer", "secure", ["192.0.2.1"]),
        "AAAA mx.s.example": r("nodata", "secure"),
        "TLSA _25._tcp.mx.s.example": r("answer", "secure", [tlsa]),
      }),
    );
    const f = await collectDomainFacts(q, "u.example", opts);
    assert.deepEqual(
      f.hosts[0]!.tlsa.map((l) => [l.qname, l.outcome]),
      [["_25._tcp.mx.s.example", "answer"]],
    );
  });
});

describe("MTA-STS and TLS-RPT discovery (mailPolicies; RFC 8461 §3.1, RFC 8460 §3)", () => {
  const base = {
    "MX d.example": r("answer", "secure", [mx("mx.d.example")]),
    "A mx.d.example": r("answer", "secure", ["192.0.2.1"]),
    "AAAA mx.d.example": r("nodata", "secure"),
    "TLSA _25._tcp.mx.d.example": r("nxdomain", "secure"),
  };
  const withPolicies = { ...opts, mailPolicies: true };

  test("an STS record: both TXT lookups, then the policy host's addresses, in canonical order", async () => {
    const q = new ScriptedQuerier(
      script({
        ...base,
        "TXT _mta-sts.d.example": r("answer", "insecure", ["v=STSv1; id=2"]),
        "TXT _smtp._tls.d.example": r("answer", "insecure", ["v=TLSRPTv1; rua=mailto:r@d.example"]),
        "A mta-sts.d.example": r("answer", "insecure", ["192.0.2.9", "192.0.2.8"]),
        "AAAA mta-sts.d.example": r("nodata", "insecure"),
      }),
    );
    const f = await collectDomainFacts(q, "d.example", withPolicies);
    assert.deepEqual(f.mtaSts?.txt.records, ["v=STSv1; id=2"]);
    assert.equal(f.mtaSts?.host?.name, "mta-sts.d.example");
    assert.deepEqual(f.mtaSts?.host?.a.records, ["192.0.2.8", "192.0.2.9"]);
    assert.equal(f.mtaSts?.host?.aaaa.outcome, "nodata");
    assert.deepEqual(f.tlsRpt?.records, ["v=TLSRPTv1; rua=mailto:r@d.example"]);
    assert.ok(q.asked.includes("A mta-sts.d.example") && q.asked.includes("AAAA mta-sts.d.example"));
  });

  test("the domain's own questions are asked as not shared, its MX hosts' as shared (the cache keeps those)", async () => {
    // CNAMEd MX, not secure: the first link is asked too. Two MX hosts of a provider,
    // and an STS record, so the policy host is asked. Only names other domains' plans
    // can also ask are shared.
    const chain = [{ owner: "d.example", target: "e.d.example" }];
    const q = new ScriptedQuerier(
      script({
        "MX d.example": r("answer", "insecure", [mx("mx.hoster.example"), mx("mx2.hoster.example", 20)], {
          chain,
        }),
        "CNAME d.example": r("answer", "insecure", ["e.d.example"]),
        "A mx.hoster.example": r("answer", "secure", ["192.0.2.1"]),
        "AAAA mx.hoster.example": r("nodata", "secure"),
        "TLSA _25._tcp.mx.hoster.example": r("answer", "secure", [tlsa]),
        "A mx2.hoster.example": r("answer", "secure", ["192.0.2.2"]),
        "AAAA mx2.hoster.example": r("nodata", "secure"),
        "TXT _mta-sts.d.example": r("answer", "insecure", ["v=STSv1; id=2"]),
        "TXT _smtp._tls.d.example": r("nxdomain", "insecure"),
        "A mta-sts.d.example": r("answer", "insecure", ["192.0.2.9"]),
        "AAAA mta-sts.d.example": r("nodata", "insecure"),
      }),
    );
    await collectDomainFacts(q, "d.example", withPolicies);
    const own = [
      "MX d.example",
      "CNAME d.example",
      "TXT _mta-sts.d.example",
      "TXT _smtp._tls.d.example",
      "A mta-sts.d.example",
      "AAAA mta-sts.d.example",
    ];
    assert.deepEqual([...q.unshared].sort(), [...own].sort());
    const shared = q.asked.filter((k) => !q.unshared.has(k)).sort();
    assert.deepEqual(shared, [
      "A mx.hoster.example",
      "A mx2.hoster.example",
      "AAAA mx.hoster.example",
      "AAAA mx2.hoster.example",
      "TLSA _25._tcp.mx.hoster.example",
      "TLSA _25._tcp.mx2.hoster.example",
    ]);
  });

  test("no STS record, or an invalid one: no policy host lookup (a sender fetches nothing)", async () => {
    for (const sts of [
      r("nxdomain", "insecure"),
      r("answer", "insecure", ["v=STSv1"]),
      r("error", "indeterminate", [], { error: "servfail" }),
    ]) {
      const q = new ScriptedQuerier(script({ ...base, "TXT _mta-sts.d.example": sts }));
      const f = await collectDomainFacts(q, "d.example", withPolicies);
      assert.equal(f.mtaSts?.txt.outcome, sts.outcome);
      assert.equal(f.mtaSts?.host, undefined);
      assert.ok(!q.asked.some((a) => a.endsWith(" mta-sts.d.example")), q.asked.join(", "));
      assert.equal(f.tlsRpt?.outcome, "nxdomain");
    }
  });

  test("without the option, neither TXT lookup is made", async () => {
    const q = new ScriptedQuerier(script({ ...base }));
    const f = await collectDomainFacts(q, "d.example", opts);
    assert.equal(f.mtaSts, undefined);
    assert.equal(f.tlsRpt, undefined);
    assert.ok(!q.asked.some((a) => a.startsWith("TXT ")));
  });
});
