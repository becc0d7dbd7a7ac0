/**
 * The consistency check (issue 14, item 1) against the testbed's
 * consisttesting. zone: two Knot instances signing with one key but serving
 * different TLSA RRsets (ns1 127.53.0.2: 3 1 1 of certificate B; ns2
 * 127.53.0.3: that and 3 1 1 of certificate A, with signatures valid two days
 * at most) and a name server that never answers (ns3, 127.53.0.9). The
 * expected records are computed here from the testbed's certificates; the
 * expected statuses come from how the testbed is built (test/testbed
 * src/risk.ts), and the politeness from the prober's rules.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { DomainFacts, TlsaConsistencyFacts } from "@danesweep/dane";
import { Guard, parseOptOutList } from "@danesweep/probe";
import {
  ConsistencyChecker,
  collectDomainFacts,
  type DnsQuerier,
  NS_POLITENESS,
  StubResolver,
} from "../src/index.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const stateDir = process.env.DANESWEEP_TESTBED_DIR ?? "/var/tmp/danesweep-testbed";
const OWNER = "_25._tcp.mx.consisttesting";
let resolver: StubResolver;
let facts: DomainFacts;

const spkiSha256 = (pem: string) =>
  createHash("sha256")
    .update(new X509Certificate(readFileSync(pem)).publicKey.export({ type: "spki", format: "der" }))
    .digest("hex");

before(async () => {
  execFileSync(resolve(root, "test/testbed/bin/testbed"), ["up"], { stdio: ["ignore", "ignore", "inherit"] });
  resolver = new StubResolver({ upstreams: ["127.53.53.53:53"], timeoutMs: 3000, retries: 1 });
  facts = await collectDomainFacts(resolver, "split.consisttesting", {
    now: Date.now,
    resolverValidates: true,
  });
});
after(() => resolver?.close());

function checker(o: {
  allowPrivate: boolean;
  optOut?: string;
  cacheBytes?: number;
  cacheMs?: number;
  now?: () => number;
}) {
  const now = o.now ?? Date.now;
  const guard = new Guard({
    ...NS_POLITENESS,
    allowPrivate: o.allowPrivate,
    optOut: o.optOut ? parseOptOutList(o.optOut).list : undefined,
    now: Date.now,
  });
  return new ConsistencyChecker({
    resolver,
    guard,
    now,
    ask: { timeoutMs: 500, retries: 0 },
    ...(o.cacheBytes !== undefined ? { cacheBytes: o.cacheBytes } : {}),
    ...(o.cacheMs !== undefined ? { cacheMs: o.cacheMs } : {}),
  });
}

function byServer(c: TlsaConsistencyFacts[] | undefined) {
  assert.equal(c?.length, 1);
  assert.equal(c[0]!.qname, OWNER);
  assert.equal(c[0]!.zone, "consisttesting");
  assert.deepEqual(c[0]!.ns.names, ["ns1.consisttesting", "ns2.consisttesting", "ns3.consisttesting"]);
  assert.equal(c[0]!.ns.security, "secure");
  return new Map(c[0]!.servers.map((s) => [s.server, s]));
}

test("every server of the zone is asked directly: what each serves, its signatures, who does not answer", async () => {
  const a = spkiSha256(`${stateDir}/certs/a.pem`);
  const b = spkiSha256(`${stateDir}/certs/b.pem`);
  const t0 = Date.now();
  const s = byServer(await checker({ allowPrivate: true }).check(facts));
  const ns1 = s.get("ns1.consisttesting")!;
  assert.deepEqual([ns1.address, ns1.status], ["127.53.0.2", "answer"]);
  assert.deepEqual(ns1.records, [{ usage: 3, selector: 1, matchingType: 1, data: b }]);
  const ns2 = s.get("ns2.consisttesting")!;
  assert.deepEqual([ns2.address, ns2.status], ["127.53.0.3", "answer"]);
  assert.deepEqual(new Set(ns2.records?.map((r) => r.data)), new Set([a, b]));
  // ns2 signs for two days at most; ns1 for 30 (Knot refreshes 7 days ahead).
  const latest = (x: typeof ns2) => Math.max(...(x.rrsigs ?? []).map((r) => Date.parse(r.expiration)));
  assert.ok(latest(ns2) - t0 <= 2 * 86_400_000 + 60_000, ns2.rrsigs?.[0]?.expiration);
  assert.ok(latest(ns1) - t0 > 7 * 86_400_000, ns1.rrsigs?.[0]?.expiration);
  for (const x of [ns1, ns2]) for (const r of x.rrsigs ?? []) assert.equal(r.signer, "consisttesting");
  assert.deepEqual(
    [s.get("ns3.consisttesting")?.address, s.get("ns3.consisttesting")?.status],
    ["127.53.0.9", "timeout"],
  );
});

test("the zone comes from the TLSA RRset's signature: one NS question, not a walk up from the owner", async () => {
  const host = facts.hosts.find((h) => h.tlsa.some((l) => l.owner === OWNER));
  assert.equal(
    host?.tlsa.find((l) => l.owner === OWNER)?.zone,
    "consisttesting",
    "the signer, from the resolver",
  );
  const run = async (f: DomainFacts) => {
    const asked: string[] = [];
    const recording: DnsQuerier = {
      query: (qname, qtype, opts) => {
        if (qtype === "NS") asked.push(qname);
        return resolver.query(qname, qtype, opts);
      },
    };
    const guard = new Guard({
      ...NS_POLITENESS,
      allowPrivate: true,
      optOut: parseOptOutList("127.53.0.9\n").list,
      now: Date.now,
    });
    const c = new ConsistencyChecker({
      resolver: recording,
      guard,
      now: Date.now,
      ask: { timeoutMs: 500, retries: 0 },
    });
    const s = byServer(await c.check(f));
    assert.equal(s.get("ns1.consisttesting")?.status, "answer");
    return asked;
  };
  assert.deepEqual(await run(facts), ["consisttesting"]);
  // Without the signer (or with one that is not above the owner), the walk from the owner finds the same zone.
  const withZone = (zone: string | undefined): DomainFacts => ({
    ...facts,
    hosts: facts.hosts.map((h) => ({
      ...h,
      tlsa: h.tlsa.map((l) => {
        const { zone: _z, ...rest } = l;
        return zone === undefined ? rest : { ...rest, zone };
      }),
    })),
  });
  const walk = [OWNER, "_tcp.mx.consisttesting", "mx.consisttesting", "consisttesting"];
  assert.deepEqual(await run(withZone(undefined)), walk);
  assert.deepEqual(await run(withZone("elsewhere.example")), walk);
});

test("the prober's politeness: no private address unless allowed, the opt-out list by the server's name", async () => {
  const refused = byServer(await checker({ allowPrivate: false }).check(facts));
  for (const x of refused.values()) assert.equal(x.status, "policy-private-address", x.server);
  const opted = byServer(
    await checker({ allowPrivate: true, optOut: "host:ns2.consisttesting\n127.53.0.9\n" }).check(facts),
  );
  assert.equal(opted.get("ns1.consisttesting")?.status, "answer");
  assert.equal(opted.get("ns2.consisttesting")?.status, "policy-opt-out");
  assert.equal(opted.get("ns3.consisttesting")?.status, "policy-opt-out");
  assert.equal(opted.get("ns2.consisttesting")?.records, undefined);
});

test("an RRset is asked once however many domains use it (cached per owner)", async () => {
  const c = checker({ allowPrivate: true });
  await Promise.all([c.check(facts), c.check(facts), c.check(facts)]);
  assert.deepEqual([c.stats().checked, c.stats().reused], [1, 2]);
});

test("a settled result is kept as text: a later domain gets equal facts of its own; no room or past cacheMs, it is asked again", async () => {
  let t = 1_000_000;
  const c = checker({ allowPrivate: true, cacheMs: 60_000, now: () => t });
  const first = await c.check(facts);
  const second = await c.check(facts);
  assert.deepEqual(second, first);
  assert.notEqual(second![0], first![0], "each domain gets its own copy");
  assert.deepEqual([c.stats().checked, c.stats().reused, c.stats().cached], [1, 1, 1]);
  assert.equal(c.stats().cachedBytes, JSON.stringify(first![0]).length);
  t += 60_000;
  await c.check(facts);
  assert.deepEqual([c.stats().checked, c.stats().cached], [2, 1], "past cacheMs: asked again, kept once");
  const tight = checker({ allowPrivate: true, cacheBytes: 10 });
  await tight.check(facts);
  await tight.check(facts);
  assert.deepEqual([tight.stats().checked, tight.stats().cached, tight.stats().cachedBytes], [2, 0, 0]);
});

test("no secure TLSA RRset, no check: an insecure domain, a domain without TLSA", async () => {
  const c = checker({ allowPrivate: true });
  for (const d of ["mail.moretesting", "nodata.testing"]) {
    const f = await collectDomainFacts(resolver, d, { now: Date.now, resolverValidates: true });
    assert.equal(await c.check(f), undefined, d);
  }
  assert.equal(c.stats().checked, 0);
});
