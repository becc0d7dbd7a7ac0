/**
 * The aggregator's join state on the embedded store (PGlite in memory):
 * seedDomains returns only what it added; readyToJudge finds a domain only
 * once its facts and every awaited probe are stored, whichever came last;
 * verdictsSince pages verdicts in first-stored order, unchanged by re-judging.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "drizzle-orm";
import { domainFacts, probeFacts, verdictRecord } from "../../bus/test/fixtures.ts";
import { openStore, type Store } from "../src/store.ts";

let store: Store;
const scan = "01TESTJOINSTATE0000000000A";
before(async () => {
  store = await openStore({ memory: true });
  await store.createScan({ id: scan, parameters: {}, startedAt: "2026-01-01T00:00:00.000Z" });
});
after(() => store.close());

const k1 = { ip: "127.0.0.11", port: 25, sni: "mx1.a.example" };
const k2 = { ip: "127.0.0.12", port: 25, sni: "mx2.a.example" };

test("seedDomains returns only the domains it added", async () => {
  assert.deepEqual(
    (
      await store.seedDomains(scan, [
        { domain: "a.example", line: 1 },
        { domain: "b.example", line: 2 },
      ])
    ).sort(),
    ["a.example", "b.example"],
  );
  assert.deepEqual(
    await store.seedDomains(scan, [
      { domain: "b.example", line: 9 },
      { domain: "c.example", line: 3 },
    ]),
    ["c.example"],
  );
});

test("a domain is ready only when its facts and every awaited probe are stored", async () => {
  // Facts for a.example waiting on two probes; b.example waits on k1 only.
  await store.upsertFacts(scan, [
    domainFacts("a.example"),
    domainFacts("b.example"),
    domainFacts("c.example"),
  ]);
  await store.addProbeWaits(scan, [
    { domain: "a.example", keys: [k1, k2] },
    { domain: "b.example", keys: [k1] },
  ]);
  assert.deepEqual(await store.readyToJudge(scan, { domains: ["a.example", "b.example"] }), []);
  // c.example waits for nothing: ready at once.
  assert.deepEqual(await store.readyToJudge(scan, { domains: ["c.example"] }), ["c.example"]);
  assert.deepEqual(await store.probeProgress(scan), { wanted: 2, done: 0 });

  await store.upsertProbe(scan, probeFacts(k1.ip, k1.sni));
  assert.deepEqual(await store.readyToJudge(scan, { probe: k1 }), ["b.example"]);
  await store.upsertProbe(scan, probeFacts(k2.ip, k2.sni));
  assert.deepEqual(await store.readyToJudge(scan, { probe: k2 }), ["a.example"]);
  assert.deepEqual((await store.readyToJudge(scan, { probe: k1 })).sort(), ["a.example", "b.example"]);
  assert.deepEqual(await store.probeProgress(scan), { wanted: 2, done: 2 });
  assert.deepEqual((await store.probeWaitsOf(scan, "a.example")).map((k) => k.sni).sort(), [
    "mx1.a.example",
    "mx2.a.example",
  ]);
});

test("verdictsSince pages in first-stored order; judging again keeps the position", async () => {
  // The fixture verdicts cite a probe of 127.0.0.10 with SNI mx.<domain>: store those first.
  for (const d of ["a.example", "b.example", "c.example"])
    await store.upsertProbe(scan, probeFacts("127.0.0.10", `mx.${d}`));
  await store.upsertVerdicts(scan, [verdictRecord("c.example")]);
  await store.upsertVerdicts(scan, [verdictRecord("b.example")]);
  const first = await store.verdictsSince(scan, 0);
  assert.deepEqual(
    first.map((v) => v.record.domain),
    ["c.example", "b.example"],
  );
  assert.ok(first[0]!.seq < first[1]!.seq);
  // Judged domains are no longer "ready".
  assert.deepEqual(await store.readyToJudge(scan, { probe: k1 }), ["a.example"]);
  await store.upsertVerdicts(scan, [verdictRecord("c.example")]);
  await store.upsertVerdicts(scan, [verdictRecord("a.example")]);
  const all = await store.verdictsSince(scan, 0);
  assert.deepEqual(
    all.map((v) => v.record.domain),
    ["c.example", "b.example", "a.example"],
  );
  assert.equal(all[0]!.seq, first[0]!.seq);
  // Positions are dense: a verdict upserted over its facts row, or judged again, takes no extra value
  // (a follower waits on every missing value).
  assert.deepEqual(
    all.map((v) => v.seq - all[0]!.seq),
    [0, 1, 2],
  );
  assert.deepEqual(
    (await store.verdictsAt(scan, [all[2]!.seq, all[0]!.seq, all[2]!.seq + 100])).map((v) => v.record.domain),
    ["c.example", "a.example"],
  );
  assert.deepEqual(
    (await store.verdictsSince(scan, first[1]!.seq)).map((v) => v.record.domain),
    ["a.example"],
  );
  assert.deepEqual(await store.domainStateCounts(scan), { seeded: 0, resolved: 0, judged: 3, total: 3 });
  // Judged domains wait for nothing any more: the join state keeps only domains in flight.
  assert.deepEqual(await store.probeWaitsOf(scan, "a.example"), []);
  assert.deepEqual(await store.probeProgress(scan), { wanted: 0, done: 5 });
});

test("probe claims: one live owner per (scan, ip, port, SNI); a stale claim can be taken over", async () => {
  const k = { ip: "127.0.0.99", port: 25, sni: "mx.claims.example" };
  const t0 = "2026-01-01T00:00:00.000Z";
  const stale = (iso: string) => new Date(Date.parse(iso) - 60_000).toISOString();
  assert.equal(await store.claimProbe(scan, k, "A", t0, stale(t0)), true, "first claim wins");
  assert.equal(await store.claimProbe(scan, k, "B", t0, stale(t0)), false, "a live claim is not taken");
  assert.equal(await store.claimProbe(scan, k, "A", t0, stale(t0)), true, "the owner may claim again");
  const later = "2026-01-01T00:01:30.000Z";
  assert.equal(
    await store.claimProbe(scan, k, "B", later, stale(later)),
    true,
    "stale after the TTL: taken over",
  );
  assert.equal(await store.claimProbe(scan, k, "A", later, stale(later)), false, "the old owner lost it");
  assert.equal(await store.claimProbe(scan, { ...k, sni: "other.example" }, "A", later, stale(later)), true);
});

test("maintain() vacuums the churned join state and gives the planner statistics (PGlite has no autovacuum)", async () => {
  const own = await openStore({ memory: true });
  try {
    const id = "01TESTMAINTAIN000000000000";
    await own.createScan({ id, parameters: {}, startedAt: "2026-01-01T00:00:00.000Z" });
    const domains = Array.from({ length: 2000 }, (_, i) => `m${i}.example`);
    await own.seedDomains(
      id,
      domains.map((domain, i) => ({ domain, line: i + 1 })),
    );
    await own.addProbeWaits(
      id,
      domains.map((domain) => ({ domain, keys: [{ ip: "192.0.2.1", port: 25, sni: "mx.example" }] })),
    );
    await own.db.execute(sql`delete from probe_waits`); // what judging does, domain by domain
    const pages = async () =>
      Number(
        (
          (await own.db.execute(sql`select pg_relation_size('probe_waits') as b`)) as unknown as {
            rows: { b: number }[];
          }
        ).rows[0]?.b,
      );
    const planned = async () =>
      Number(
        (
          (await own.db.execute(
            sql`select reltuples as n from pg_class where relname = 'scan_domains'`,
          )) as unknown as { rows: { n: number }[] }
        ).rows[0]?.n,
      );
    assert.ok((await pages()) > 0, "the deleted rows still take pages");
    assert.ok((await planned()) < 0, "never analyzed");
    await own.maintain();
    assert.equal(await pages(), 0, "vacuum reclaimed the emptied table");
    assert.equal(await planned(), 2000, "statistics: the row count is known");
  } finally {
    await own.close();
  }
});
