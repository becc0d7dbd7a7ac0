/**
 * `danesweep export` and `danesweep prune` as a user runs them (bin/danesweep,
 * a child process), on the embedded store and on PostgreSQL: two finished
 * scans of the 24 reference cases and a running one, written through the
 * store as the pipeline writes them (no testbed needed); the export read
 * back with DuckDB; prune's confirmation, refusals and report; what the
 * other commands see afterwards.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openMigratedDatabase, Store, type StoreConfig } from "@danesweep/store";
import { readRows } from "../../libs/store/test/parquet-read.ts";
import { seedScanData, storeScan } from "../../libs/store/test/scan-data.ts";
import { freshDatabase, parseJsonl, runCli } from "./cli.ts";

const seed = seedScanData();
const domains = seed.entries.map((e) => e.record.domain).sort();

/** Scan A and B (finished, the same 24 cases), C (running); the store is closed again. */
async function populate(cfg: StoreConfig): Promise<{ a: string; b: string; c: string }> {
  const handle = await openMigratedDatabase(cfg);
  try {
    const store = new Store(handle);
    const a = await storeScan(store, seed, { startedAt: "2024-05-01T00:00:00.000Z" });
    const b = await storeScan(store, seed, { startedAt: "2024-05-02T00:00:00.000Z" });
    const c = await storeScan(store, seed, { startedAt: "2024-05-03T00:00:00.000Z", finish: false });
    return { a, b, c };
  } finally {
    await handle.close();
  }
}

function flow(name: string, setup: () => Promise<{ where: string[]; cleanup: () => Promise<void> }>) {
  describe(`export and prune through bin/danesweep: ${name}`, () => {
    let where: string[];
    let cleanup: () => Promise<void>;
    let tmp: string;
    let scans: { a: string; b: string; c: string };
    before(async () => {
      tmp = mkdtempSync(join(tmpdir(), "danesweep-e2e-export-"));
      ({ where, cleanup } = await setup());
      const cfg: StoreConfig = where[0] === "--data" ? { dataDir: where[1]! } : { url: where[1]! };
      scans = await populate(cfg);
    });
    after(async () => {
      await cleanup?.();
      rmSync(tmp, { recursive: true, force: true });
    });

    test("export: the files, then refusals naming what is wrong", { timeout: 120_000 }, async () => {
      const out = join(tmp, "a");
      const r = await runCli(["export", scans.a, "--format", "parquet", "--out", out, ...where]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`exported scan ${scans.a} \\(finished`));
      assert.match(r.stdout, /verdicts\.parquet\s+24 rows/);
      assert.match(r.stdout, /certificates\.parquet\s+2 rows/);
      const rows = await readRows(join(out, "verdicts.parquet"), "domain, scan_id, action");
      assert.deepEqual(rows.map((x) => x.domain).sort(), domains);
      assert.ok(rows.every((x) => x.scan_id === scans.a));
      const manifest = JSON.parse(readFileSync(join(out, "scan.json"), "utf8"));
      assert.equal(manifest.scan.id, scans.a);
      assert.equal(manifest.files["verdicts.parquet"].rows, 24);

      const again = await runCli(["export", scans.a, "--out", out, ...where]);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /--out .* is not empty .*--force/);
      const forced = await runCli(["export", scans.a, "--out", out, "--force", ...where]);
      assert.equal(forced.code, 0, forced.stderr);

      const cases: [string[], RegExp][] = [
        [
          ["export", "01NOSUCHSCAN0000000000000", "--out", join(tmp, "x"), ...where],
          /no scan "01NOSUCHSCAN0000000000000"/,
        ],
        [["export", scans.c, "--out", join(tmp, "c"), ...where], /still running/],
        [
          ["export", scans.a, "--format", "csv", "--out", join(tmp, "y"), ...where],
          /--format must be one of parquet/,
        ],
        [["export", scans.a, ...where], /--out DIR is required/],
      ];
      for (const [args, message] of cases) {
        const x = await runCli(args);
        assert.equal(x.code, 2, `${args.join(" ")}: ${x.stderr}`);
        assert.match(x.stderr, message);
      }
      assert.ok(!existsSync(join(tmp, "c", "verdicts.parquet")), "nothing written for a running scan");
    });

    test("prune: asks for --yes, refuses a running scan, then removes the scan and says what went", {
      timeout: 120_000,
    }, async () => {
      const unconfirmed = await runCli(["prune", scans.a, ...where]);
      assert.equal(unconfirmed.code, 2);
      assert.match(unconfirmed.stderr, /add --yes/);
      const running = await runCli(["prune", scans.c, "--yes", ...where]);
      assert.equal(running.code, 2);
      assert.match(running.stderr, new RegExp(`scan ${scans.c} is running`));
      const listed = async () =>
        (await runCli(["scans", "--json", ...where])).stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).id as string)
          .sort();
      assert.deepEqual(await listed(), [scans.a, scans.b, scans.c].sort(), "nothing pruned yet");

      const r = await runCli(["prune", scans.a, "--yes", ...where]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`pruned scan ${scans.a} \\(finished`));
      assert.match(r.stdout, /removed with the scan: 24 verdicts, \d+ probes, 0 input rows/);
      // B and C store the same cases: no blob was A's alone.
      assert.match(r.stdout, /no longer referred to, removed: 0 facts, 0 verdicts, 0 probes, 0 certificates/);
      assert.match(r.stdout, /database size: .* before, .* after/);
      assert.deepEqual(await listed(), [scans.b, scans.c].sort());
      const show = await runCli(["show", domains[0]!, "--json", ...where]);
      assert.equal(show.code, 0, show.stderr);
      assert.deepEqual(
        parseJsonl(show.stdout).map((v) => v.scan),
        [scans.c, scans.b],
        "the domain's history no longer has A",
      );
      const gone = await runCli(["prune", scans.a, "--yes", ...where]);
      assert.equal(gone.code, 2);
      assert.match(gone.stderr, /no scan/);
    });
  });
}

flow("embedded", async () => {
  const dir = mkdtempSync(join(tmpdir(), "danesweep-e2e-export-store-"));
  return { where: ["--data", dir], cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

flow("postgresql", async () => {
  const db = await freshDatabase();
  return { where: ["--database", db.url], cleanup: db.drop };
});
