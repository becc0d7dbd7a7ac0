/**
 * The export suite, run on PGlite (export.test.ts) and on PostgreSQL
 * (export.int.test.ts): `exportSuite(name, open)` registers node:test tests;
 * `open()` returns a handle on a database of the suite's own.
 *
 * Exports are read back with DuckDB (parquet-read.ts), never with the writer.
 * Expected values come from the inputs (the judged records, the facts and
 * probes given to the store, certificates hashed here) or, for the columns
 * the store computes when it writes (tld, provider, MX host, engine,
 * problems), from the store's own view verdict_rows: the export must say
 * what was stored.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ProbeFacts } from "@danesweep/dane";
import type { DbHandle } from "../src/db.ts";
import {
  batchQuery,
  EXPORT_FILES,
  type ExportOptions,
  exportScan,
  PROBE_BATCH_SQL,
  VERDICT_BATCH_SQL,
} from "../src/export.ts";
import { sql } from "../src/sql.ts";
import { Store } from "../src/store.ts";
import { duck, parquetShape, readRows } from "./parquet-read.ts";
import { asStored, fakeCert, seedScanData, storeScan, syntheticScanData } from "./scan-data.ts";

const sha256 = (b64: string) => createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex");
const keyOf = (p: { ip?: unknown; port?: unknown; sni?: unknown }) => `${p.ip}|${p.port}|${p.sni}`;

export function exportSuite(name: string, open: () => Promise<DbHandle>): void {
  describe(`export: ${name}`, () => {
    let handle: DbHandle;
    let store: Store;
    let tmp: string;
    let n = 0;
    const outDir = () => join(tmp, `out-${n++}`);
    before(async () => {
      handle = await open();
      store = new Store(handle);
      tmp = mkdtempSync(join(tmpdir(), "danesweep-export-"));
    });
    after(async () => {
      await handle?.close();
      rmSync(tmp, { recursive: true, force: true });
    });

    async function exported(id: string, opts: Partial<ExportOptions> = {}) {
      const dir = opts.dir ?? outDir();
      const r = await exportScan(handle, id, { dir, ...opts });
      assert.ok(r.ok, `export refused: ${JSON.stringify(!r.ok && r.refused)}`);
      return { dir, summary: r.summary, file: (f: keyof typeof EXPORT_FILES) => join(dir, EXPORT_FILES[f]) };
    }

    test("the 24 seed cases: every column of every row equals what was stored", async () => {
      const data = seedScanData();
      const id = await storeScan(store, data);
      const { file, summary } = await exported(id);

      // verdicts.parquet
      const rows = await readRows(
        file("verdicts"),
        "* exclude (judged_at, collected_at), epoch_ms(judged_at)::double as judged_ms, epoch_ms(collected_at)::double as collected_ms",
      );
      assert.equal(rows.length, data.entries.length);
      assert.equal(new Set(rows.map((r) => r.domain)).size, rows.length, "each domain once");
      const stored = (
        await store.db.execute<Record<string, unknown>>(
          sql`select domain, tld, provider, mx_host, delivered_host, delivered_address, engine, profile, problems, broken
              from verdict_rows where scan_id = ${id}`,
        )
      ).rows;
      const view = new Map(stored.map((s) => [s.domain as string, s]));
      for (const e of data.entries) {
        const r = rows.find((x) => x.domain === e.record.domain);
        assert.ok(r, `${e.record.domain} exported`);
        const v = e.record.verdict;
        const s = view.get(e.record.domain)!;
        const primary = [...e.record.hosts].sort((a, b) => a.preference - b.preference)[0]?.host ?? null;
        assert.deepEqual(
          { ...r, verdict: JSON.parse(r.verdict as string), facts: JSON.parse(r.facts as string) },
          {
            scan_id: id,
            domain: e.record.domain,
            tld: s.tld,
            provider: s.provider,
            mx_host: primary,
            delivered_host: v.host ?? null,
            delivered_address: v.address ?? null,
            action: v.action,
            security: v.security ?? null,
            reason: v.reason,
            dane_state: e.record.dane,
            broken: s.broken,
            problems: s.problems,
            risks: e.record.risks ?? [],
            engine: s.engine,
            profile: s.profile,
            judged_ms: Date.parse(e.record.judgedAt),
            collected_ms: Date.parse(e.facts.collectedAt),
            // the seed cases' facts have no MTA-STS or TLS-RPT lookups
            mta_sts_policy: null,
            mta_sts_mode: null,
            mta_sts_outcome: null,
            mta_sts_reason: null,
            mta_sts_contradictions: [],
            tls_rpt: null,
            verdict: e.record,
            facts: asStored(e.facts),
          },
          e.record.domain,
        );
        assert.equal(s.mx_host, primary);
        assert.equal(s.tld, e.record.domain.split(".").pop());
      }

      // probes.parquet
      const probes = await readRows(
        file("probes"),
        "* exclude (started_at), epoch_ms(started_at)::double as started_ms",
      );
      assert.equal(probes.length, data.probes.length);
      const byKey = new Map(data.probes.map((p) => [keyOf(p), p]));
      for (const r of probes) {
        const p = byKey.get(keyOf(r)) as ProbeFacts;
        assert.ok(p, `probe ${keyOf(r)} was stored`);
        byKey.delete(keyOf(r));
        assert.deepEqual(
          { ...r, facts: JSON.parse(r.facts as string) },
          {
            scan_id: id,
            ip: p.ip,
            port: p.port,
            sni: p.sni,
            status: p.status,
            started_ms: Date.parse(p.startedAt),
            tls_version: p.tls?.version ?? null,
            tls_cipher: p.tls?.cipher ?? null,
            tls_group: p.tls?.group ?? null,
            chain: p.tls ? p.tls.chain.map(sha256) : null,
            facts: p,
          },
        );
      }
      assert.equal(byKey.size, 0, "every probe exported");

      // certificates.parquet: each certificate cited, once, with its DER
      const certs = await readRows(file("certificates"), "sha256, to_base64(der) as der");
      const cited = new Map(
        data.probes.flatMap((p) => (p.tls?.chain ?? []).map((b) => [sha256(b), b] as const)),
      );
      assert.ok(cited.size >= 2, "the seed probes present real certificates");
      assert.equal(certs.length, cited.size);
      assert.deepEqual(new Map(certs.map((c) => [c.sha256 as string, c.der as string])), cited);

      // scan.json
      const manifest = JSON.parse(readFileSync(file("scan"), "utf8"));
      assert.equal(manifest.format, "danesweep-export");
      assert.equal(manifest.version, 2);
      assert.deepEqual(manifest.scan, await store.getScanRow(id));
      assert.equal(manifest.scan.counts.judged, data.entries.length);
      assert.deepEqual(manifest.files, {
        "verdicts.parquet": { rows: data.entries.length, bytes: summary.files.verdicts.bytes },
        "probes.parquet": { rows: data.probes.length, bytes: summary.files.probes.bytes },
        "certificates.parquet": { rows: cited.size, bytes: summary.files.certificates.bytes },
      });

      // ZSTD, and the export's metadata
      for (const f of ["verdicts", "probes", "certificates"] as const) {
        const shape = await parquetShape(file(f));
        assert.deepEqual(shape.codecs, ["ZSTD"], f);
        assert.deepEqual(JSON.parse(shape.kv["danesweep.export"] ?? "null"), { format: 2, scan: id }, f);
      }
    });

    test("thousands of rows in many batches and row groups: every row once, each certificate once", async () => {
      const pool = Array.from({ length: 40 }, fakeCert);
      const data = syntheticScanData(`mb${name}`, 5000, 1200, pool);
      const id = await storeScan(store, data);
      const { file, summary } = await exported(id, {
        batchRows: 333,
        rowGroupRows: 1000,
        rowGroupBytes: 300_000,
      });
      assert.equal(summary.files.verdicts.rows, 5000);

      const rows = await readRows(file("verdicts"), "domain, json_extract_string(verdict, '$.domain') as vd");
      assert.equal(rows.length, 5000);
      assert.deepEqual(new Set(rows.map((r) => r.domain)), new Set(data.entries.map((e) => e.record.domain)));
      assert.ok(
        rows.every((r) => r.vd === r.domain),
        "each row's verdict is its own domain's",
      );
      const shape = await parquetShape(file("verdicts"));
      assert.ok(
        shape.rowGroups > 5,
        `the byte cap cut row groups below 1000 rows (${shape.rowGroups} groups)`,
      );

      const probes = await readRows(file("probes"), "ip, port, sni, chain");
      assert.equal(probes.length, 1200);
      assert.deepEqual(new Set(probes.map(keyOf)), new Set(data.probes.map(keyOf)));
      const certs = await readRows(file("certificates"), "sha256, to_base64(der) as der");
      assert.deepEqual(
        certs.map((c) => c.sha256).sort(),
        pool.map((c) => c.sha256).sort(),
        "each of the 40 certificates once, though 1200 probes in 4 batches cite them",
      );
      for (const c of certs) assert.equal(sha256(c.der as string), c.sha256);
    });

    test("each batch reads the scan's partition in key order, never all of it, even without statistics", async () => {
      const id = await storeScan(store, syntheticScanData(`plan${name}`, 3000, 600, [fakeCert()]));
      const seq = Number(
        (await store.db.execute<{ seq: number }>(sql`select seq from scans where id = ${id}`)).rows[0]?.seq,
      );
      const client = await handle.pool.connect();
      try {
        // How the plan reads the partition: "<parent node> > <scan node>".
        const reads = async (text: string, values: unknown[], table: string) => {
          const [row] = await batchQuery<{ "QUERY PLAN": unknown }>(
            client,
            "plan",
            `explain (format json) ${text}`,
            values,
          );
          const out: string[] = [];
          const walk = (n: Record<string, unknown>, parent: string) => {
            if (n["Relation Name"] === table) out.push(`${parent} > ${n["Node Type"]}`);
            for (const c of (n.Plans as Record<string, unknown>[] | undefined) ?? [])
              walk(c, String(n["Node Type"]));
          };
          walk((row!["QUERY PLAN"] as { Plan: Record<string, unknown> }[])[0]!.Plan, "");
          return out;
        };
        // The next keys by the primary key's order, cut by the LIMIT: not every row after the cursor, then a sort.
        assert.deepEqual(await reads(VERDICT_BATCH_SQL, [seq, "plan", 100], `results_${seq}`), [
          "Limit > Index Scan",
        ]);
        assert.match(
          (await reads(PROBE_BATCH_SQL, [seq, "127", 25, "", 100], `scan_probes_${seq}`)).join(),
          /^Limit > Index (Only )?Scan$/,
        );
      } finally {
        client.release();
      }
    });

    test("a scan with nothing judged exports empty files that readers accept", async () => {
      const id = await storeScan(store, { entries: [], probes: [] });
      const { file } = await exported(id);
      assert.deepEqual(await readRows(file("verdicts")), []);
      assert.deepEqual(await readRows(file("probes")), []);
      assert.deepEqual(await readRows(file("certificates")), []);
      // The layout of the three files, as DuckDB sees it.
      const columns = async (f: "verdicts" | "probes" | "certificates") =>
        (await duck("describe select * from read_parquet({file})", file(f))).map(
          (c) => `${c.column_name} ${c.column_type}`,
        );
      const [str, ts] = ["VARCHAR", "TIMESTAMP WITH TIME ZONE"];
      assert.deepEqual(await columns("verdicts"), [
        ...["scan_id", "domain", "tld", "provider", "mx_host", "delivered_host", "delivered_address"].map(
          (c) => `${c} ${str}`,
        ),
        ...["action", "security", "reason", "dane_state"].map((c) => `${c} ${str}`),
        "broken BOOLEAN",
        "problems VARCHAR[]",
        "risks VARCHAR[]",
        `engine ${str}`,
        `profile ${str}`,
        `judged_at ${ts}`,
        `collected_at ${ts}`,
        ...["mta_sts_policy", "mta_sts_mode", "mta_sts_outcome", "mta_sts_reason"].map((c) => `${c} ${str}`),
        "mta_sts_contradictions VARCHAR[]",
        `tls_rpt ${str}`,
        `verdict ${str}`,
        `facts ${str}`,
      ]);
      assert.deepEqual(await columns("probes"), [
        `scan_id ${str}`,
        `ip ${str}`,
        "port INTEGER",
        `sni ${str}`,
        `status ${str}`,
        `started_at ${ts}`,
        `tls_version ${str}`,
        `tls_cipher ${str}`,
        `tls_group ${str}`,
        "chain VARCHAR[]",
        `facts ${str}`,
      ]);
      assert.deepEqual(await columns("certificates"), [`sha256 ${str}`, "der BLOB"]);
    });

    test("refusals: unknown scan, running scan, an output that is a file or not empty", async () => {
      const r1 = await exportScan(handle, "01NOSUCHSCAN0000000000000", { dir: outDir() });
      assert.deepEqual(r1, {
        ok: false,
        refused: { code: "unknown-scan", scanId: "01NOSUCHSCAN0000000000000" },
      });

      const running = await storeScan(store, seedScanData(), { finish: false });
      const r2 = await exportScan(handle, running, { dir: outDir() });
      assert.equal(!r2.ok && r2.refused.code, "scan-running");

      const id = await storeScan(store, syntheticScanData(`rf${name}`, 3, 1, [fakeCert()]));
      const file = join(tmp, "a-file");
      writeFileSync(file, "x");
      const r3 = await exportScan(handle, id, { dir: file });
      assert.deepEqual(r3, { ok: false, refused: { code: "out-not-directory", dir: file } });

      const dir = outDir();
      await exported(id, { dir });
      writeFileSync(join(dir, "notes.txt"), "mine");
      const r4 = await exportScan(handle, id, { dir });
      assert.equal(!r4.ok && r4.refused.code, "out-not-empty");
      assert.deepEqual(!r4.ok && r4.refused.code === "out-not-empty" && r4.refused.entries, [
        "certificates.parquet",
        "notes.txt",
        "probes.parquet",
        "scan.json",
        "verdicts.parquet",
      ]);
      const again = await exported(id, { dir, force: true });
      assert.equal(again.summary.files.verdicts.rows, 3);
      assert.equal(readFileSync(join(dir, "notes.txt"), "utf8"), "mine", "--force leaves other files alone");
      assert.deepEqual(readdirSync(dir).sort(), [
        "certificates.parquet",
        "notes.txt",
        "probes.parquet",
        "scan.json",
        "verdicts.parquet",
      ]);
    });

    test("a scan that changes during its export is refused and leaves nothing behind", async () => {
      const data = syntheticScanData(`ch${name}`, 50, 3, [fakeCert()]);
      const late = syntheticScanData(`late${name}`, 1, 0, []);
      const id = await storeScan(store, data);
      const dir = outDir();
      let once = false;
      const r = await exportScan(handle, id, {
        dir,
        batchRows: 10,
        onProgress: async () => {
          if (once) return;
          once = true;
          await store.storeJudged(id, late.entries); // a late write into the finished scan
        },
      });
      assert.equal(!r.ok && r.refused.code, "scan-changed");
      assert.match(
        !r.ok && r.refused.code === "scan-changed" ? r.refused.detail : "",
        /50 verdicts.*51 verdicts/,
      );
      assert.deepEqual(readdirSync(dir), [], "no file left, no temporary file either");
    });
  });
}
