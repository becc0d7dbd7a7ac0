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
import { sql } from "drizzle-orm";
import { domainFacts, probeFacts, verdictRecord } from "../../bus/test/fixtures.ts";
import { buildSeedCases } from "../../dane/test/fixtures/seed-cases.ts";
import { MIGRATIONS_FOLDER } from "../src/db.ts";
import { StoreError } from "../src/errors.ts";
import { newScanId } from "../src/ids.ts";
import type { Store } from "../src/store.ts";

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

    test("createScan and seedDomains are idempotent", async () => {
      const id = await newScan();
      await store.createScan({ id, parameters: { other: true }, startedAt: "2030-01-01T00:00:00.000Z" });
      assert.equal(await count(store, sql`select count(*) as n from scans where id = ${id}`), 1);
      const s = await store.getScanRow(id);
      assert.deepEqual(s?.parameters, { source: name }, "the first write stays");
      assert.equal(s?.state, "running");
      const items = [1, 2, 3].map((line) => ({ domain: uniqueDomain("seed"), line }));
      await store.seedDomains(id, items);
      await store.seedDomains(id, [...items, items[0] as (typeof items)[number]]);
      assert.equal(await count(store, sql`select count(*) as n from scan_domains where scan_id = ${id}`), 3);
    });

    test("upsertFacts twice stores one row with the facts unchanged", async () => {
      const id = await newScan();
      const f = domainFacts(uniqueDomain("facts"));
      await store.upsertFacts(id, [f]);
      await store.upsertFacts(id, [f, f]);
      assert.equal(
        await count(store, sql`select count(*) as n from domain_results where scan_id = ${id}`),
        1,
      );
      assert.deepEqual(await store.getFacts(id, f.domain), f);
      const [p] = await store.pendingDomains(id);
      assert.deepEqual(p, { domain: f.domain, line: 0, state: "resolved" });
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
      assert.equal(await count(store, sql`select count(*) as n from probes where scan_id = ${id}`), 3);
      assert.equal(
        await count(
          store,
          sql`select count(*) as n from certificates where sha256 in (${leaf.sha256}, ${ca.sha256})`,
        ),
        2,
      );
      // Stored facts hold hashes, not certificates.
      const stored = (await store.db.execute(
        sql`select facts from probes where scan_id = ${id} and ip = '192.0.2.2'`,
      )) as unknown as { rows: { facts: ProbeFacts }[] };
      assert.deepEqual(stored.rows[0]?.facts.tls?.chain, [leaf.sha256, ca.sha256, leaf.sha256]);
      // Restored exactly as sent.
      assert.deepEqual(await store.getProbe(id, { ip: p2.ip, port: 25, sni: p2.sni }), p2);
      assert.deepEqual(await store.getProbes(id, [p3, p1, { ip: "192.0.2.99", port: 25, sni: "x" }]), [
        p3,
        p1,
      ]);
      // A probe of another scan with the same certificate adds no certificate.
      const id2 = await newScan();
      await store.upsertProbe(id2, p1);
      assert.equal(
        await count(
          store,
          sql`select count(*) as n from certificates where sha256 in (${leaf.sha256}, ${ca.sha256})`,
        ),
        2,
      );
    });

    test("upsertVerdicts twice: one row, one link per probe, state judged and never back", async () => {
      const id = await newScan();
      const domain = uniqueDomain("verdict");
      const probe = probeFacts("192.0.2.10", `mx.${domain}`);
      await store.seedDomains(id, [{ domain, line: 7 }]);
      await store.upsertProbe(id, probe);
      const v = verdictFor(domain, {}, probe);
      await store.upsertVerdicts(id, [v]);
      await store.upsertVerdicts(id, [v, v]);
      assert.equal(
        await count(store, sql`select count(*) as n from domain_results where scan_id = ${id}`),
        1,
      );
      assert.equal(await count(store, sql`select count(*) as n from domain_probes where scan_id = ${id}`), 1);
      // Facts redelivered after the verdict: stored, but the domain stays judged.
      await store.upsertFacts(id, [domainFacts(domain)]);
      assert.deepEqual(await store.pendingDomains(id), []);
      assert.equal(
        await count(
          store,
          sql`select count(*) as n from scan_domains where scan_id = ${id} and state = 'judged' and line = 7`,
        ),
        1,
      );
      const r = (await store.db.execute(
        sql`select action, security, reason, dane_state, tld, mx_host, delivered_host from domain_results where scan_id = ${id}`,
      )) as unknown as { rows: Record<string, string>[] };
      assert.deepEqual(r.rows[0], {
        action: "deliver",
        security: "dane-verified",
        reason: "dane-authenticated",
        dane_state: "valid",
        tld: "example",
        mx_host: `mx.${domain}`,
        delivered_host: `mx.${domain}`,
      });
      assert.deepEqual((await store.latestVerdict(domain))?.record, v);
    });

    test("a verdict citing a probe not stored is refused whole (missing-reference, retryable)", async () => {
      const id = await newScan();
      const ok = uniqueDomain("ok");
      const bad = uniqueDomain("bad");
      await assert.rejects(
        store.upsertVerdicts(id, [
          verdictFor(ok, {}),
          verdictFor(bad, {}, probeFacts("192.0.2.77", `mx.${bad}`)),
        ]),
        (e) => e instanceof StoreError && e.code === "missing-reference" && e.canRetry,
      );
      assert.equal(
        await count(store, sql`select count(*) as n from domain_results where scan_id = ${id}`),
        0,
      );
      await assert.rejects(
        store.upsertFacts("no-such-scan", [domainFacts(ok)]),
        (e) => e instanceof StoreError && e.code === "missing-reference",
      );
    });

    test("invalid facts are refused before writing (invalid-input)", async () => {
      const id = await newScan();
      const f = domainFacts(uniqueDomain("invalid"));
      await assert.rejects(
        store.upsertFacts(id, [f, { ...f, domain: "Not Normalised." } as DomainFacts]),
        (e) => e instanceof StoreError && e.code === "invalid-input" && /\/domain/.test(e.message),
      );
      await assert.rejects(
        store.upsertProbe(id, { ...probeFacts(), status: "bogus" as never }),
        (e) => e instanceof StoreError && e.code === "invalid-input",
      );
      assert.equal(
        await count(store, sql`select count(*) as n from domain_results where scan_id = ${id}`),
        0,
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
        await store.upsertVerdicts(id, [verdictFor(domain, { reason })]);
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
      await store.upsertFacts(id, [domainFacts(byLine(2)), domainFacts(byLine(4))]);
      await store.upsertVerdicts(id, [verdictFor(byLine(4), {})]);
      const all = await store.pendingDomains(id);
      assert.deepEqual(all, [
        { domain: byLine(1), line: 1, state: "seeded" },
        { domain: byLine(2), line: 2, state: "resolved" },
        { domain: byLine(3), line: 3, state: "seeded" },
        { domain: byLine(5), line: 5, state: "seeded" },
      ]);
      const page1 = await store.pendingDomains(id, { limit: 2 });
      const last = page1[1] as { line: number; domain: string };
      const page2 = await store.pendingDomains(id, { limit: 2, after: last });
      assert.deepEqual([...page1, ...page2], all);
    });

    test("counts by state, action, security, reason, DANE state and probe status; finish and interrupt", async () => {
      const id = await newScan();
      const specs: [VerdictRecord["verdict"], VerdictRecord["dane"]][] = [
        [{ action: "deliver", security: "dane-verified", reason: "dane-authenticated" }, "valid"],
        [{ action: "deliver", security: "dane-verified", reason: "dane-authenticated" }, "partial"],
        [{ action: "deliver", security: "encrypted", reason: "opportunistic-tls" }, "insecure"],
        [{ action: "defer", reason: "dane-check-failed" }, "invalid"],
        [{ action: "bounce", reason: "nxdomain" }, "no-mail"],
      ];
      const domains = specs.map(() => uniqueDomain("count"));
      await store.seedDomains(
        id,
        [...domains, uniqueDomain("unjudged")].map((domain, i) => ({ domain, line: i + 1 })),
      );
      const probe = probeFacts("192.0.2.50", "mx.count.example");
      await store.upsertProbes(id, [probe, { ...probeFacts("192.0.2.51"), status: "connect-refused" }]);
      await store.upsertVerdicts(
        id,
        specs.map(([verdict, dane], i) => {
          const rec = verdictFor(domains[i] as string, {}, i === 0 ? probe : undefined);
          return { ...rec, verdict, dane };
        }),
      );
      const s = await store.getScan(id);
      assert.ok(s);
      const c = s.liveCounts;
      assert.equal(c.domains, 6);
      assert.deepEqual(c.byState, { seeded: 1, resolved: 0, judged: 5 });
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
      assert.equal(
        (await store.markInterrupted(id, "2024-05-01T14:00:00.000Z"))?.state,
        "finished",
        "only a running scan is interrupted",
      );
      const listed = await store.listScans({ limit: 1000 });
      assert.equal(listed.filter((x) => x.id === id).length, 1);
      assert.equal(await store.getScan("no-such-scan"), undefined);
    });

    test("the 24 seed cases: facts, probes with real certificates and verdicts read back unchanged", async () => {
      const id = await newScan();
      const world = buildSeedCases();
      const probesByKey = new Map<string, ProbeFacts>();
      const verdicts: VerdictRecord[] = [];
      for (const c of world.cases) {
        const v = judge(c.facts, c.probes, { now: Date.UTC(2024, 4, 1, 12) });
        verdicts.push(v);
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
      await store.upsertFacts(
        id,
        world.cases.map((c) => c.facts),
      );
      await store.upsertProbes(id, probeList);
      await store.upsertVerdicts(id, verdicts);
      for (const c of world.cases)
        assert.deepEqual(await store.getFacts(id, c.domain), c.facts, `case ${c.n}`);
      assert.deepEqual(await store.getProbes(id, probeList), probeList);
      const ders = new Set(probeList.flatMap((p) => p.tls?.chain ?? []));
      const hashes = [...ders].map((b64) =>
        createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex"),
      );
      assert.equal(
        await count(
          store,
          sql`select count(*) as n from certificates where sha256 in (${sql.join(
            hashes.map((h) => sql`${h}`),
            sql`, `,
          )})`,
        ),
        ders.size,
      );
      const stored = (await store.db.execute(
        sql`select verdict from domain_results where scan_id = ${id}`,
      )) as unknown as { rows: { verdict: VerdictRecord }[] };
      const byDomain = (a: VerdictRecord, b: VerdictRecord) =>
        a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0;
      assert.deepEqual(stored.rows.map((r) => r.verdict).sort(byDomain), [...verdicts].sort(byDomain));
      assert.deepEqual(await store.pendingDomains(id), []);
    });

    test("batches of 5000 domains: seed, facts and verdicts", async () => {
      const id = await newScan();
      const n = 5000;
      const names = Array.from({ length: n }, (_, i) => `b${i}-${run}.example`);
      const t0 = performance.now();
      await store.seedDomains(
        id,
        names.map((domain, i) => ({ domain, line: i + 1 })),
      );
      const t1 = performance.now();
      await store.upsertFacts(
        id,
        names.map((d) => domainFacts(d)),
      );
      const t2 = performance.now();
      await store.upsertVerdicts(
        id,
        names.map((d) => verdictFor(d, {})),
      );
      const t3 = performance.now();
      const s = await store.getScan(id);
      assert.deepEqual(s?.liveCounts.byState, { seeded: 0, resolved: 0, judged: n });
      assert.equal(s?.liveCounts.byAction.deliver, n);
      console.log(
        `${name}: ${n} domains: seed ${(t1 - t0).toFixed(0)} ms, facts ${(t2 - t1).toFixed(0)} ms, verdicts ${(t3 - t2).toFixed(0)} ms`,
      );
    });
  });
}
