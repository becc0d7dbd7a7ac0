/**
 * The store test suite, run on PGlite (store.test.ts) and on PostgreSQL
 * (store.int.test.ts): `storeSuite(name, open)` registers node:test tests.
 * `open()` returns a Store on the same database each time it is called (a
 * reopen after close must see what was written). Every test uses its own scan
 * ids, domains and certificates (random per run), so the suite can run again
 * on a database that keeps earlier runs.
 * Expected values are computed here from the inputs, never read back from the
 * code under test.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  type DomainFacts,
  judge,
  type ProbeFacts,
  probeKeyString,
  type VerdictRecord,
} from "@danesweep/dane";
import { domainFacts, probeFacts, verdictRecord } from "../../bus/test/fixtures.ts";
import { buildSeedCases } from "../../dane/test/fixtures/seed-cases.ts";
import { openBlob } from "../src/codec.ts";
import { MIGRATIONS_FOLDER } from "../src/db.ts";
import { StoreError } from "../src/errors.ts";
import { newScanId } from "../src/ids.ts";
import { sql } from "../src/sql.ts";
import type { Store } from "../src/store.ts";
import { asStored } from "./scan-data.ts";

const run = randomBytes(4).toString("hex");
let seq = 0;
const uniqueDomain = (label: string) => `${label}-${run}-${seq++}.example`;

async function count(store: Store, query: ReturnType<typeof sql>): Promise<number> {
  const r = (await store.db.execute(query)) as unknown as { rows: { n: string | number }[] };
  return Number(r.rows[0]?.n);
}

function cert(): { b64: string; sha256: string } {
  const der = randomBytes(64 + Math.floor(Math.random() * 64));
  return { b64: der.toString("base64"), sha256: createHash("sha256").update(der).digest("hex") };
}

function verdictFor(
  domain: string,
  over: Partial<VerdictRecord["verdict"]> & { dane?: VerdictRecord["dane"] },
  probe?: ProbeFacts,
): VerdictRecord {
  const v = verdictRecord(domain);
  const { dane, ...verdict } = over;
  const rec: VerdictRecord = { ...v, verdict: { ...v.verdict, ...verdict }, dane: dane ?? v.dane };
  const host = rec.hosts[0];
  const addr = host?.addresses[0];
  assert.ok(host && addr);
  if (probe) {
    rec.hosts = [
      {
        ...host,
        addresses: [
          {
            ...addr,
            address: probe.ip,
            probe: { ip: probe.ip, port: probe.port, sni: probe.sni, status: probe.status },
          },
        ],
      },
    ];
  } else {
    const { probe: _p, ...rest } = addr;
    rec.hosts = [{ ...host, addresses: [rest] }];
  }
  return rec;
}

export function storeSuite(name: string, open: () => Promise<Store>): void {
  describe(`store: ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store?.close();
    });

    async function newScan(startedAt = "2024-05-01T12:00:00.000Z"): Promise<string> {
      const id = newScanId(new Date(startedAt));
      await store.createScan({ id, parameters: { source: name }, startedAt });
      return id;
    }
    const seqOf = (id: string) => count(store, sql`select seq as n from scans where id = ${id}`);

    test("migrations apply once: a second migrate and a reopen change nothing", async () => {
      const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as {
        entries: unknown[];
      };
      const applied = () => count(store, sql`select count(*) as n from drizzle.__drizzle_migrations`);
      assert.equal(await applied(), journal.entries.length);
      await store.migrate();
      assert.equal(await applied(), journal.entries.length);
      const scan = await newScan();
      await store.close();
      store = await open(); // migrates again on open
      assert.equal(await applied(), journal.entries.length);
      assert.equal((await store.getScanRow(scan))?.id, scan, "data survives the reopen");
    });

    test("a store that applied other text for a migration is refused, naming the migration", async () => {
      const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as {
        entries: { tag: string; when: number }[];
      };
      const second = journal.entries[1] as { tag: string; when: number };
      const row = sql`select hash as n from drizzle.__drizzle_migrations where created_at = ${second.when}`;
      const kept = (await store.db.execute<{ n: string }>(row)).rows[0]?.n as string;
      // As if a development build had applied an earlier version of that migration.
      await store.db.execute(
        sql`update drizzle.__drizzle_migrations set hash = ${"0".repeat(64)} where created_at = ${second.when}`,
      );
      try {
        await assert.rejects(
          store.migrate(),
          (e) =>
            e instanceof StoreError &&
            e.code === "migration-failed" &&
            e.message.includes(second.tag) &&
            e.message.includes("new data directory"),
        );
      } finally {
        await store.db.execute(
          sql`update drizzle.__drizzle_migrations set hash = ${kept} where created_at = ${second.when}`,
        );
      }
      await store.migrate();
    });

    test("createScan and seedDomains are idempotent; seedDomains returns only the new names", async () => {
      const id = await newScan();
      await store.createScan({ id, parameters: { other: true }, startedAt: "2030-01-01T00:00:00.000Z" });
      assert.equal(await count(store, sql`select count(*) as n from scans where id = ${id}`), 1);
      const s = await store.getScanRow(id);
      assert.deepEqual(s?.parameters, { source: name }, "the first write stays");
      assert.equal(s?.state, "running");
      const items = [1, 2, 3].map((line) => ({ domain: uniqueDomain("seed"), line }));
      assert.deepEqual((await store.seedDomains(id, items)).sort(), items.map((i) => i.domain).sort());
      const again = uniqueDomain("seed");
      assert.deepEqual(await store.seedDomains(id, [...items, { domain: again, line: 4 }]), [again]);
      const seq = await seqOf(id);
      assert.equal(await count(store, sql`select count(*) as n from scan_inputs where scan = ${seq}`), 4);
      assert.deepEqual(await store.domainStateCounts(id), { total: 4, judged: 0 });
    });

    test("storeJudged twice: one row per domain, the first verdict stays, facts and verdict read back", async () => {
      const id = await newScan();
      const domain = uniqueDomain("judged");
      const f = domainFacts(domain);
      const v = verdictFor(domain, {});
      const first = await store.storeJudged(id, [{ facts: f, record: v }]);
      assert.deepEqual(
        first.map((r) => r.domain),
        [domain],
      );
      const changed = verdictFor(domain, { action: "defer", reason: "dane-check-failed" });
      assert.deepEqual(await store.storeJudged(id, [{ facts: f, record: changed }]), [], "not stored again");
      const seq = await seqOf(id);
      assert.equal(await count(store, sql`select count(*) as n from results where scan = ${seq}`), 1);
      assert.deepEqual(await store.getFacts(id, domain), asStored(f));
      const latest = await store.latestVerdict(domain);
      assert.equal(latest?.scanId, id);
      assert.equal(latest?.record.verdict.action, "deliver");
      assert.equal(latest?.record.judgedAt, v.judgedAt);
      assert.deepEqual(await store.domainStateCounts(id), { total: 0, judged: 1 });
      await assert.rejects(
        store.storeJudged("no-such-scan", [{ facts: f, record: v }]),
        (e) => e instanceof StoreError && e.code === "missing-reference" && e.canRetry,
      );
    });

    test("a prepared entry (prepareJudged) is stored as its facts and verdict would be, beside an unprepared one", async () => {
      const id = await newScan();
      const [a, b] = [uniqueDomain("prepared"), uniqueDomain("plain")];
      const fa = { ...domainFacts(a), collectedAt: "2024-06-01T00:00:07.000Z" };
      const fb = domainFacts(b);
      const prepared = store.prepareJudged(fa, verdictFor(a, {}));
      assert.equal(prepared.collectedAt, "2024-06-01T00:00:07.000Z");
      const stored = await store.storeJudged(id, [prepared, { facts: fb, record: verdictFor(b, {}) }]);
      assert.deepEqual(stored.map((r) => r.domain).sort(), [a, b].sort());
      assert.deepEqual(await store.getFacts(id, a), asStored(fa), "read back with its collection time");
      assert.deepEqual(await store.getFacts(id, b), asStored(fb));
      // The same facts under either form are one blob.
      const same = await newScan();
      const again = await store.storeJudged(same, [{ facts: fa, record: verdictFor(a, {}) }]);
      assert.equal(again.length, 1);
      assert.equal(
        await count(store, sql`select count(distinct facts) as n from results where domain = ${a}`),
        1,
      );
    });

    test("an unchanged domain adds one row per scan and shares its facts and verdict blobs", async () => {
      const domain = uniqueDomain("same");
      const f = domainFacts(domain);
      const v = verdictFor(domain, {});
      const blobs = async () => ({
        facts: await count(store, sql`select count(*) as n from fact_blobs`),
        verdicts: await count(store, sql`select count(*) as n from verdict_blobs`),
      });
      const a = await newScan("2024-06-01T00:00:00.000Z");
      await store.storeJudged(a, [{ facts: f, record: v }]);
      const before = await blobs();
      const b = await newScan("2024-06-02T00:00:00.000Z");
      // The next day: collected at another time, looked up again (other timings), judged at another time.
      const later = { ...f, collectedAt: "2024-06-02T00:00:01.000Z", mx: { ...f.mx, provenance: undefined } };
      delete later.mx.provenance;
      await store.storeJudged(b, [{ facts: later, record: { ...v, judgedAt: "2024-06-02T00:00:02.000Z" } }]);
      assert.deepEqual(await blobs(), before, "no new blob for an unchanged domain");
      // Its authoritative servers asked again at another time: still no new blob; read back with the collection time.
      const consistency = (at: string): NonNullable<typeof f.consistency> => [
        {
          qname: `_25._tcp.mx.${domain}`,
          zone: domain,
          ns: { outcome: "answer", security: "secure", names: [`ns1.${domain}`] },
          servers: [{ server: `ns1.${domain}`, address: "192.0.2.53", status: "answer", ttl: 300 }],
          checkedAt: at,
        },
      ];
      const withCheck = { ...f, consistency: consistency("2024-06-01T00:00:05.000Z") };
      const b2 = await newScan("2024-06-02T01:00:00.000Z");
      await store.storeJudged(b2, [{ facts: withCheck, record: v }]);
      const withOne = await blobs();
      const b3 = await newScan("2024-06-02T02:00:00.000Z");
      const later2 = {
        ...withCheck,
        collectedAt: "2024-06-02T02:00:01.000Z",
        consistency: consistency("2024-06-02T02:00:03.000Z"),
      };
      await store.storeJudged(b3, [{ facts: later2, record: v }]);
      assert.deepEqual(await blobs(), withOne, "checked again, nothing changed: no new blob");
      assert.equal(
        (await store.getFacts(b3, domain))?.consistency?.[0]?.checkedAt,
        "2024-06-02T02:00:01.000Z",
      );
      // What a caching resolver has left of an unsigned answer's TTL changes from scan to scan: no new blob.
      const unsigned = (ttl: number) => {
        const x = structuredClone(withCheck);
        x.hosts[0]!.a = { ...x.hosts[0]!.a, security: "insecure", ttl };
        return x;
      };
      const u1 = await newScan("2024-06-02T03:00:00.000Z");
      await store.storeJudged(u1, [{ facts: unsigned(290), record: v }]);
      const withUnsigned = await blobs();
      const u2 = await newScan("2024-06-02T04:00:00.000Z");
      await store.storeJudged(u2, [{ facts: unsigned(289), record: v }]);
      assert.deepEqual(await blobs(), withUnsigned, "an unsigned answer's remaining TTL: no new blob");
      assert.equal((await store.getFacts(u2, domain))?.hosts[0]?.a.ttl, undefined, "and it is not kept");
      // A secure answer's TTL is its RRSIG's Original TTL, as the zone publishes it: a change is a change.
      const signedTtl = structuredClone(withCheck);
      signedTtl.hosts[0]!.a = { ...signedTtl.hosts[0]!.a, security: "secure", ttl: 7200 };
      const s1 = await newScan("2024-06-02T05:00:00.000Z");
      await store.storeJudged(s1, [{ facts: signedTtl, record: v }]);
      assert.equal(
        (await blobs()).facts,
        withUnsigned.facts + 1,
        "a secure answer's TTL changed: a new blob",
      );
      assert.equal((await store.getFacts(s1, domain))?.hosts[0]?.a.ttl, 7200);
      const c = await newScan("2024-06-03T00:00:00.000Z");
      const moved = domainFacts(domain);
      moved.hosts[0]!.a.records = ["127.0.0.11"];
      const before2 = await blobs();
      await store.storeJudged(c, [{ facts: moved, record: v }]);
      assert.equal((await blobs()).facts, before2.facts + 1, "changed facts: one new facts blob");
      assert.equal((await store.domainHistory(domain)).length, 8);
    });

    test("domains served by the same MX hosts with the same outcome share one verdict blob; each reads back as its own", async () => {
      // A hosting provider's customers: the same MX host, the same verdict but for the domain's name.
      const [d1, d2] = [uniqueDomain("tenant"), uniqueDomain("tenant")] as [string, string];
      const shared = verdictRecord(`provider-${run}.example`);
      const v1: VerdictRecord = { ...shared, domain: d1 };
      const v2: VerdictRecord = { ...shared, domain: d2 };
      const verdicts = () => count(store, sql`select count(*) as n from verdict_blobs`);
      const before = await verdicts();
      const id = await newScan("2024-07-01T00:00:00.000Z");
      await store.storeJudged(id, [
        { facts: domainFacts(d1), record: v1 },
        { facts: domainFacts(d2), record: v2 },
      ]);
      assert.equal(await verdicts(), before + 1, "one verdict blob for both");
      // A later batch of the same scan: the blob is not stored again, and the new row reads it.
      const d3 = uniqueDomain("tenant");
      const v3: VerdictRecord = { ...shared, domain: d3 };
      await store.storeJudged(id, [{ facts: domainFacts(d3), record: v3 }]);
      assert.equal(await verdicts(), before + 1, "still one verdict blob");
      const back = new Map((await store.verdictsSince(id, 0)).map((x) => [x.record.domain, x.record]));
      for (const v of [v1, v2, v3]) {
        const r = back.get(v.domain);
        assert.ok(r, `${v.domain} read back`);
        const { explanation: _e, judgedAt: _j, ...got } = r;
        const { explanation: _e2, judgedAt: _j2, ...want } = v;
        assert.deepEqual(got, want);
      }
    });

    test("probes are stored once per key and certificates once per SHA-256", async () => {
      const id = await newScan();
      const leaf = cert();
      const ca = cert();
      const p1: ProbeFacts = {
        ...probeFacts("192.0.2.1", "mx.a.example"),
        tls: { version: "TLSv1.3", cipher: "x", chain: [leaf.b64, ca.b64] },
      };
      const p2: ProbeFacts = {
        ...probeFacts("192.0.2.2", "mx.a.example"),
        tls: { version: "TLSv1.2", cipher: "y", chain: [leaf.b64, ca.b64, leaf.b64] },
      };
      const p3: ProbeFacts = { ...probeFacts("2001:db8::1", "mx.a.example"), status: "starttls-not-offered" };
      delete p3.tls;
      await store.upsertProbes(id, [p1, p2]);
      await store.upsertProbe(id, p1);
      await store.upsertProbe(id, p3);
      const seq = await seqOf(id);
      assert.equal(await count(store, sql`select count(*) as n from scan_probes where scan = ${seq}`), 3);
      assert.equal(
        await count(
          store,
          sql`select count(*) as n from certificates where sha256 in (${leaf.sha256}, ${ca.sha256})`,
        ),
        2,
      );
      // Restored exactly as sent.
      assert.deepEqual(await store.getProbe(id, { ip: p2.ip, port: 25, sni: p2.sni }), p2);
      assert.deepEqual(await store.getProbes(id, [p3, p1, { ip: "192.0.2.99", port: 25, sni: "x" }]), [
        p3,
        p1,
      ]);
      // A probe of another scan with the same certificate and content adds no certificate and no blob.
      const blobs = await count(store, sql`select count(*) as n from probe_blobs`);
      const id2 = await newScan();
      await store.upsertProbe(id2, { ...p1, startedAt: "2024-05-02T00:00:00.000Z" });
      assert.equal(
        await count(
          store,
          sql`select count(*) as n from certificates where sha256 in (${leaf.sha256}, ${ca.sha256})`,
        ),
        2,
      );
      assert.equal(await count(store, sql`select count(*) as n from probe_blobs`), blobs);
      assert.equal((await store.getProbe(id2, p1))?.startedAt, "2024-05-02T00:00:00.000Z");
    });

    test("alternate handshakes: chains stored as certificates, timings per scan, restored exactly", async () => {
      const id = await newScan();
      const ec = cert();
      const rsa = cert();
      const ca = cert();
      const p: ProbeFacts = {
        ...probeFacts("192.0.2.7", "mx.alt.example"),
        tls: { version: "TLSv1.3", cipher: "x", chain: [ec.b64, ca.b64] },
        alternates: [
          {
            offered: "rsa",
            status: "tls-ok",
            tls: { version: "TLSv1.3", cipher: "x", chain: [rsa.b64, ca.b64] },
            timings: { tlsMs: 3.21, totalMs: 9.87 },
          },
          { offered: "ecdsa", status: "tls-handshake-failed", detail: "alert 40", timings: { totalMs: 1.5 } },
        ],
      };
      await store.upsertProbe(id, p);
      assert.deepEqual(await store.getProbe(id, p), p);
      const certs = await count(
        store,
        sql`select count(*) as n from certificates where sha256 in (${ec.sha256}, ${rsa.sha256}, ${ca.sha256})`,
      );
      assert.equal(certs, 3, "the alternate's leaf is stored as a certificate too");
      // The same probe in another scan, with other timings: no new blob.
      const blobs = await count(store, sql`select count(*) as n from probe_blobs`);
      const id2 = await newScan();
      const again: ProbeFacts = {
        ...p,
        startedAt: "2024-05-02T00:00:00.000Z",
        alternates: p.alternates?.map((a) => ({ ...a, timings: { totalMs: a.timings.totalMs + 1 } })),
      };
      await store.upsertProbe(id2, again);
      assert.equal(await count(store, sql`select count(*) as n from probe_blobs`), blobs);
      assert.deepEqual(await store.getProbe(id2, p), again);
    });

    test("probe claims: one owner at a time, its own claim again, a stale claim taken over", async () => {
      const id = await newScan();
      const k = { ip: "192.0.2.40", port: 25, sni: "mx.claim.example" };
      const t = "2024-05-01T12:00:00.000Z";
      const stale = "2024-05-01T11:59:00.000Z";
      assert.equal((await store.claimProbes(id, [k], "a", t, stale)).size, 1);
      assert.equal((await store.claimProbes(id, [k], "b", t, stale)).size, 0);
      assert.equal((await store.claimProbes(id, [k, k], "a", t, stale)).size, 1);
      // Later, a's claim is older than b's staleness limit: b takes it over.
      assert.equal(
        (await store.claimProbes(id, [k], "b", "2024-05-01T12:05:00.000Z", "2024-05-01T12:01:00.000Z")).size,
        1,
      );
    });

    test("domain history: most recently started scan first, whatever the write order", async () => {
      const domain = uniqueDomain("history");
      const starts = ["2024-03-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"];
      const ids: string[] = [];
      for (const [i, startedAt] of starts.entries()) {
        const id = await newScan(startedAt);
        ids.push(id);
        const reason = (["dane-authenticated", "opportunistic-tls", "dane-check-failed"] as const)[
          i
        ] as VerdictRecord["verdict"]["reason"];
        await store.storeJudged(id, [{ facts: domainFacts(domain), record: verdictFor(domain, { reason }) }]);
      }
      const h = await store.domainHistory(domain);
      assert.deepEqual(
        h.map((e) => e.scanStartedAt),
        ["2024-03-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"],
      );
      assert.deepEqual(
        h.map((e) => e.reason),
        ["dane-authenticated", "dane-check-failed", "opportunistic-tls"],
      );
      assert.equal(h[0]?.scanId, ids[0]);
      assert.equal(h[0]?.judgedAt, "2024-05-01T12:00:02.000Z");
      assert.equal((await store.latestVerdict(domain))?.scanId, ids[0]);
      assert.equal(await store.latestVerdict(uniqueDomain("never")), undefined);
    });

    test("pending domains for resume: not judged, in input order, paginated", async () => {
      const id = await newScan();
      const d = [5, 1, 3, 2, 4].map((line) => ({ domain: uniqueDomain(`pending${line}`), line }));
      await store.seedDomains(id, d);
      const byLine = (l: number) => (d.find((x) => x.line === l) as { domain: string }).domain;
      await store.storeJudged(id, [{ facts: domainFacts(byLine(4)), record: verdictFor(byLine(4), {}) }]);
      const all = await store.pendingDomains(id);
      assert.deepEqual(all, [
        { domain: byLine(1), line: 1 },
        { domain: byLine(2), line: 2 },
        { domain: byLine(3), line: 3 },
        { domain: byLine(5), line: 5 },
      ]);
      const page1 = await store.pendingDomains(id, { limit: 2 });
      const last = page1[1] as { line: number; domain: string };
      const page2 = await store.pendingDomains(id, { limit: 2, after: last });
      assert.deepEqual([...page1, ...page2], all);
    });

    test("counts by action, security, reason, DANE state, broken and probe status; finish and interrupt", async () => {
      const id = await newScan();
      const specs: [VerdictRecord["verdict"], VerdictRecord["dane"], string[]][] = [
        [{ action: "deliver", security: "dane-verified", reason: "dane-authenticated" }, "valid", []],
        [
          { action: "deliver", security: "dane-verified", reason: "dane-authenticated" },
          "partial",
          ["tlsa-mismatch"],
        ],
        [{ action: "deliver", security: "encrypted", reason: "opportunistic-tls" }, "insecure", []],
        [{ action: "defer", reason: "dane-check-failed" }, "invalid", ["tlsa-mismatch"]],
        [{ action: "bounce", reason: "nxdomain" }, "no-mail", []],
      ];
      const domains = specs.map(() => uniqueDomain("count"));
      await store.seedDomains(
        id,
        [...domains, uniqueDomain("unjudged")].map((domain, i) => ({ domain, line: i + 1 })),
      );
      await store.upsertProbes(id, [
        probeFacts("192.0.2.50", "mx.count.example"),
        { ...probeFacts("192.0.2.51"), status: "connect-refused" },
      ]);
      await store.storeJudged(
        id,
        specs.map(([verdict, dane, problems], i) => {
          const rec = verdictFor(domains[i] as string, {});
          return {
            facts: domainFacts(domains[i]),
            record: { ...rec, verdict, dane, problems } as VerdictRecord,
          };
        }),
      );
      const s = await store.getScan(id);
      assert.ok(s);
      const c = s.liveCounts;
      assert.equal(c.domains, 6);
      assert.equal(c.judged, 5);
      assert.equal(c.broken, 2);
      assert.deepEqual(c.byAction, { deliver: 3, defer: 1, bounce: 1 });
      assert.deepEqual(c.bySecurity, { "dane-verified": 2, encrypted: 1 });
      assert.deepEqual(c.byReason, {
        "dane-authenticated": 2,
        "opportunistic-tls": 1,
        "dane-check-failed": 1,
        nxdomain: 1,
      });
      assert.deepEqual(c.byDane, { valid: 1, partial: 1, insecure: 1, invalid: 1, "no-mail": 1 });
      assert.equal(c.probes, 2);
      assert.deepEqual(c.probesByStatus, { "tls-ok": 1, "connect-refused": 1 });

      const interrupted = await store.markInterrupted(id, "2024-05-01T12:30:00.000Z");
      assert.equal(interrupted?.state, "interrupted");
      assert.equal((await store.resumeScan(id))?.state, "running");
      const done = await store.finishScan(id, "2024-05-01T13:00:00.000Z");
      assert.equal(done?.state, "finished");
      assert.equal(done?.finishedAt, "2024-05-01T13:00:00.000Z");
      assert.deepEqual(done?.counts, c);
      assert.deepEqual(await store.pendingDomains(id), [], "a finished scan's input is dropped");
      assert.equal(
        (await store.markInterrupted(id, "2024-05-01T14:00:00.000Z"))?.state,
        "finished",
        "only a running scan is interrupted",
      );
      const listed = await store.listScans({ limit: 1000 });
      assert.equal(listed.filter((x) => x.id === id).length, 1);
      assert.equal(await store.getScan("no-such-scan"), undefined);
    });

    test("the 24 seed cases: facts, probes with real certificates and verdicts read back as judged", async () => {
      const id = await newScan();
      const world = buildSeedCases();
      const probesByKey = new Map<string, ProbeFacts>();
      const entries: { facts: DomainFacts; record: VerdictRecord }[] = [];
      for (const c of world.cases) {
        const v = judge(c.facts, c.probes, { now: Date.UTC(2024, 4, 1, 12) });
        entries.push({ facts: c.facts, record: v });
        for (const h of v.hosts) {
          for (const a of h.addresses) {
            const p = a.probe ? c.probes(a.probe) : undefined;
            if (p) probesByKey.set(probeKeyString(p), p);
          }
        }
      }
      const probeList = [...probesByKey.values()];
      assert.ok(probeList.length >= 3);
      await store.seedDomains(
        id,
        world.cases.map((c) => ({ domain: c.domain, line: c.n })),
      );
      await store.upsertProbes(id, probeList);
      const stored = await store.storeJudged(id, entries);
      assert.equal(stored.length, world.cases.length);
      for (const e of entries) {
        assert.deepEqual(await store.getFacts(id, e.facts.domain), asStored(e.facts));
        // The explanation is rendered again when read: the same text judge() wrote.
        assert.deepEqual((await store.latestVerdict(e.record.domain))?.record, e.record);
      }
      assert.deepEqual(await store.getProbes(id, probeList), probeList);
      const followed = await store.verdictsSince(id, 0, 1000);
      const byDomain = (a: VerdictRecord, b: VerdictRecord) =>
        a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0;
      assert.deepEqual(
        followed.map((f) => f.record).sort(byDomain),
        entries.map((e) => e.record).sort(byDomain),
      );
      assert.deepEqual(await store.pendingDomains(id), []);
    });

    test("failing hosts: stored with the verdict; a verdict of an engine before 2.3 gets them when read", async () => {
      const id = await newScan();
      const world = buildSeedCases();
      const now = Date.UTC(2024, 4, 1, 12);
      // Seed cases 1 and 3: one MX host fails (a digest mismatch; no STARTTLS), the other delivers.
      const picked = world.cases.filter((c) => c.n === 1 || c.n === 3);
      const entries = picked.map((c) => ({ facts: c.facts, record: judge(c.facts, c.probes, { now }) }));
      const [current, older] = entries as [(typeof entries)[0], (typeof entries)[0]];
      assert.deepEqual(
        current.record.failingHosts?.map((h) => h.host),
        ["test1a.testing"],
      );
      const derived = older.record.failingHosts;
      assert.deepEqual(
        derived?.map((h) => [h.host, h.reason]),
        [["test3a.testing", "starttls-not-offered"]],
      );
      // As engine 2.2 stored it: no failingHosts field.
      const { failingHosts: _f, ...asEngine22 } = older.record;
      older.record = { ...asEngine22, engine: { version: "2.2.0", profile: "postfix" } };
      await store.seedDomains(
        id,
        picked.map((c) => ({ domain: c.domain, line: c.n })),
      );
      await store.storeJudged(id, entries);
      assert.deepEqual((await store.latestVerdict(current.record.domain))?.record, current.record);
      const read = (await store.latestVerdict(older.record.domain))?.record;
      assert.deepEqual(read, { ...older.record, failingHosts: derived });
      // The field is in the stored blob of the current engine's verdict, not in the older one's.
      const stored = async (domain: string) => {
        const r = (await store.db.execute(
          sql`select v.body from results r join verdict_blobs v on v.hash = r.verdict
              where r.scan = ${await seqOf(id)} and r.domain = ${domain}`,
        )) as unknown as { rows: { body: Buffer }[] };
        return openBlob<Partial<VerdictRecord>>(r.rows[0]?.body as Buffer, "verdict");
      };
      assert.deepEqual((await stored(current.record.domain)).failingHosts, current.record.failingHosts);
      assert.equal("failingHosts" in (await stored(older.record.domain)), false);
    });

    test("a batch of 5000 domains: seeded and stored in one statement each", async () => {
      const id = await newScan();
      const n = 5000;
      const names = Array.from({ length: n }, (_, i) => `b${i}-${run}.example`);
      const t0 = performance.now();
      await store.seedDomains(
        id,
        names.map((domain, i) => ({ domain, line: i + 1 })),
      );
      const t1 = performance.now();
      const stored = await store.storeJudged(
        id,
        names.map((d) => ({ facts: domainFacts(d), record: verdictFor(d, {}) })),
      );
      const t2 = performance.now();
      assert.equal(stored.length, n);
      const s = await store.getScan(id);
      assert.equal(s?.liveCounts.judged, n);
      assert.equal(s?.liveCounts.byAction.deliver, n);
      console.log(
        `${name}: ${n} domains: seed ${(t1 - t0).toFixed(0)} ms, judged ${(t2 - t1).toFixed(0)} ms`,
      );
    });
  });
}
