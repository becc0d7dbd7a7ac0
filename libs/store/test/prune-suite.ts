/**
 * The prune suite, run on PGlite (prune.test.ts) and on PostgreSQL
 * (prune.int.test.ts): `pruneSuite(name, open)` registers node:test tests;
 * `open()` returns a handle on a new, empty database (the first test counts
 * every stored blob, so nothing else may be in it).
 *
 * Two scans share blobs: A and B store the same 24 seed cases (same facts,
 * verdicts, probes and real certificates: one blob each), and each has
 * domains, probes and certificates of its own; one domain and one probe
 * changed between them. Expected counts are worked out here from that
 * design, never read from the code under test.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ProbeFacts } from "@danesweep/dane";
import { domainFacts, verdictRecord } from "../../bus/test/fixtures.ts";
import type { DbHandle } from "../src/db.ts";
import { EXPORT_FILES, exportScan } from "../src/export.ts";
import { pruneScan } from "../src/prune.ts";
import { type SQL, sql } from "../src/sql.ts";
import { Store } from "../src/store.ts";
import { readRows } from "./parquet-read.ts";
import { fakeCert, type ScanData, seedScanData, storeScan, syntheticScanData } from "./scan-data.ts";

export function pruneSuite(name: string, open: () => Promise<DbHandle>): void {
  describe(`prune: ${name}`, () => {
    let handle: DbHandle;
    let store: Store;
    let tmp: string;
    before(async () => {
      handle = await open();
      store = new Store(handle);
      tmp = mkdtempSync(join(tmpdir(), "danesweep-prune-"));
    });
    after(async () => {
      await handle?.close();
      rmSync(tmp, { recursive: true, force: true });
    });

    const count = async (q: SQL) => Number((await store.db.execute<{ n: string }>(q)).rows[0]?.n);
    const tables = async () => ({
      facts: await count(sql`select count(*) as n from fact_blobs`),
      verdicts: await count(sql`select count(*) as n from verdict_blobs`),
      probes: await count(sql`select count(*) as n from probe_blobs`),
      certificates: await count(sql`select count(*) as n from certificates`),
    });
    const certsOf = (probes: ProbeFacts[]) => new Set(probes.flatMap((p) => p.tls?.chain ?? []));

    /** What a scan reads back through the store: records, facts and probes. */
    async function readBack(id: string, data: ScanData) {
      const records = (await store.verdictsSince(id, 0, 100_000)).map((v) => v.record);
      records.sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
      const facts = await store.getFactsMany(
        id,
        data.entries.map((e) => e.record.domain),
      );
      const probes = await store.getProbes(id, data.probes);
      return { records, facts: [...facts.entries()].sort(), probes };
    }

    test("after exporting and pruning A of two scans sharing blobs, B reads back unchanged and nothing only A used is left", async () => {
      const seed = seedScanData();
      const shared = fakeCert();
      const aCerts = [fakeCert(), fakeCert(), fakeCert()];
      const bCerts = [fakeCert(), fakeCert()];
      const aOwn = syntheticScanData("aonly", 30, 6, [...aCerts, shared]);
      const bOwn = syntheticScanData("bonly", 20, 4, [...bCerts, shared]);
      // One domain judged differently in each scan (other facts, other verdict), one probe that changed.
      const [changedA] = syntheticScanData("changed", 1, 0, []).entries;
      const changedB = {
        facts: { ...changedA!.facts, port: 26 },
        record: { ...changedA!.record, dane: "invalid" as const },
      };
      const probe = seed.probes[0]!;
      const probeB: ProbeFacts = { ...probe, status: "tls-timeout", tls: undefined as never };
      delete (probeB as Partial<ProbeFacts>).tls;
      const a: ScanData = {
        entries: [...seed.entries, ...aOwn.entries, changedA!],
        probes: [...seed.probes, ...aOwn.probes],
      };
      const b: ScanData = {
        entries: [...seed.entries, ...bOwn.entries, changedB],
        probes: [...seed.probes.slice(1), probeB, ...bOwn.probes],
      };
      const scanA = await storeScan(store, a, { startedAt: "2024-05-01T00:00:00.000Z" });
      const scanB = await storeScan(store, b, { startedAt: "2024-05-02T00:00:00.000Z" });

      // What the design stores: one blob per distinct content.
      const bCited = certsOf(b.probes);
      const aCited = certsOf(a.probes);
      const allCerts = new Set([...aCited, ...bCited]);
      assert.deepEqual(await tables(), {
        facts: seed.entries.length + 30 + 20 + 2,
        verdicts: seed.entries.length + 30 + 20 + 2,
        probes: seed.probes.length + 6 + 4 + 1,
        certificates: allCerts.size,
      });
      const bBefore = await readBack(scanB, b);
      const seqA = await count(sql`select seq as n from scans where id = ${scanA}`);

      const out = join(tmp, "a");
      const ex = await exportScan(handle, scanA, { dir: out });
      assert.ok(ex.ok);
      const pruned = await pruneScan(handle, scanA);
      assert.ok(pruned.ok, JSON.stringify(!pruned.ok && pruned.refused));
      const r = pruned.report;

      // Only B's blobs are left, every one of them.
      const aOnlyCerts = [...aCited].filter((c) => !bCited.has(c));
      assert.ok(aOnlyCerts.length >= aCerts.length);
      const onlyA = { facts: 30 + 1, verdicts: 30 + 1, probes: 6 + 1, certificates: aOnlyCerts.length };
      assert.deepEqual(await tables(), {
        facts: seed.entries.length + 20 + 1,
        verdicts: seed.entries.length + 20 + 1,
        probes: b.probes.length,
        certificates: bCited.size,
      });
      const certRows = (
        await store.db.execute<{ sha256: string; der: Buffer }>(sql`select sha256, der from certificates`)
      ).rows;
      const left = new Set(certRows.map((c) => c.der.toString("base64")));
      assert.deepEqual(left, bCited, "the certificates B cites, the shared one included, and no other");
      assert.deepEqual(await readBack(scanB, b), bBefore, "B reads back as before");
      // (Explanations are rendered when read: the synthetic records' own text is not kept.)
      const noText = <T extends { explanation: string }>({ explanation: _e, ...rest }: T) => rest;
      assert.deepEqual(
        bBefore.records.map(noText),
        b.entries.map((e) => noText(e.record)).sort((x, y) => (x.domain < y.domain ? -1 : 1)),
        "B's records are the records judged",
      );

      // The report says what went.
      assert.deepEqual(
        {
          rows: r.rows,
          blobs: Object.fromEntries(Object.entries(r.blobs).map(([k, v]) => [k, v.rows])),
        },
        {
          rows: {
            results: a.entries.length,
            probes: a.probes.length,
            inputs: 0,
            counters: 1,
            claims: 0,
            rejudgements: 0,
          },
          blobs: onlyA,
        },
      );
      assert.ok(r.blobs.certificates.bytes >= 80 * aCerts.length, "bytes of the certificates removed");
      assert.ok(r.partitionBytes >= 2 * 8192, `the partitions took ${r.partitionBytes} bytes`);
      assert.ok(r.sizeBefore > r.partitionBytes && r.sizeAfter > 0, `size ${r.sizeBefore} -> ${r.sizeAfter}`);

      // A is gone from the store, and kept in its export.
      assert.equal(await store.getScanRow(scanA), undefined);
      assert.equal(await count(sql`select count(*) as n from scan_counters where scan = ${seqA}`), 0);
      assert.equal(
        await count(
          sql`select count(*) as n from pg_class where relname in (${`results_${seqA}`}, ${`scan_probes_${seqA}`})`,
        ),
        0,
        "its partitions are dropped",
      );
      assert.equal(
        (await readRows(join(out, EXPORT_FILES.verdicts), "domain")).length,
        a.entries.length,
        "the export still holds A",
      );
      assert.equal((await readRows(join(out, EXPORT_FILES.certificates), "sha256")).length, aCited.size);
    });

    test("a certificate only an alternate handshake cites stays while a scan cites it", async () => {
      const [own, shared] = [fakeCert(), fakeCert()];
      const kept = syntheticScanData("alt-kept", 3, 1, [shared]);
      const alt = fakeCert();
      const p = kept.probes[0] as ProbeFacts;
      p.alternates = [
        {
          offered: "rsa",
          status: "tls-ok",
          tls: { version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", chain: [alt.b64, shared.b64] },
          timings: { tlsMs: 2, totalMs: 4 },
        },
      ];
      const keptId = await storeScan(store, kept);
      const goneId = await storeScan(store, syntheticScanData("alt-gone", 3, 1, [own]));
      const r = await pruneScan(handle, goneId);
      assert.ok(r.ok);
      const left = await count(sql`select count(*) as n from certificates where sha256 = ${alt.sha256}`);
      assert.equal(left, 1, "the alternate's certificate is still cited");
      assert.deepEqual(await store.getProbes(keptId, kept.probes), kept.probes);
    });

    test("a running scan is refused and keeps everything; an unknown scan is refused", async () => {
      const data = syntheticScanData("running", 10, 2, [fakeCert()]);
      const id = await storeScan(store, data, { finish: false });
      const before = await tables();
      const r = await pruneScan(handle, id);
      assert.equal(!r.ok && r.refused.code, "scan-running");
      assert.deepEqual(await tables(), before);
      assert.equal((await store.getScan(id))?.liveCounts.judged, 10);
      assert.deepEqual(await pruneScan(handle, "01NOSUCHSCAN0000000000000"), {
        ok: false,
        refused: { code: "unknown-scan", scanId: "01NOSUCHSCAN0000000000000" },
      });
    });

    test("a verdict blob this writer stored for a pruned scan is stored again for the next scan", async () => {
      // The writer skips verdict blobs it knows a row of the running scan refers to; what it knew of an
      // earlier scan must not count once that scan is pruned (its blobs are swept).
      const shared = verdictRecord("provider-reused.example");
      const entry = (domain: string) => ({ facts: domainFacts(domain), record: { ...shared, domain } });
      const a = await storeScan(store, { entries: [entry("reused-a.example")], probes: [] });
      const before = await tables();
      assert.ok((await pruneScan(handle, a)).ok);
      assert.equal((await tables()).verdicts, before.verdicts - 1, "the pruned scan's verdict blob is swept");
      const data = { entries: [entry("reused-b.example")], probes: [] };
      const b = await storeScan(store, data, { finish: false });
      const back = await store.verdictsSince(b, 0);
      assert.deepEqual(
        back.map((x) => [x.record.domain, x.record.verdict]),
        [["reused-b.example", shared.verdict]],
      );
    });

    test("an interrupted scan is pruned with its input, which a finished scan no longer has", async () => {
      const data = syntheticScanData("interrupted", 12, 0, []);
      const id = await storeScan(store, data, { finish: false });
      await store.markInterrupted(id, "2024-05-01T13:00:00.000Z");
      const r = await pruneScan(handle, id);
      assert.ok(r.ok);
      assert.deepEqual(r.report.rows, {
        results: 12,
        probes: 0,
        inputs: 12,
        counters: 1,
        claims: 0,
        rejudgements: 0,
      });
      assert.equal(r.report.scan.state, "interrupted");
      assert.equal(await store.getScanRow(id), undefined);
    });
  });
}
