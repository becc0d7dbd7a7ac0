/**
 * The committed dashboards (deploy/grafana/dashboards) are what the code
 * makes: a changed panel that was not regenerated fails here, naming the file
 * and the command that regenerates it. Also: each dashboard's panels have
 * unique ids, fit the 24-column grid, name a provisioned data source, and
 * every SQL panel states the columns it expects (sqlContract); every PromQL
 * query parses (Prometheus's grammar) and uses only the metrics and labels of
 * metrics.ts, which the e2e test checks against running services.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DASHBOARD_DIR, staleFiles } from "../src/generate.ts";
import { DASHBOARDS, METRICS, PG, PROM, renderDashboards, SCRAPE_LABELS, sqlContract } from "../src/index.ts";
import { promqlUses } from "./promql.ts";

test("the committed dashboards are the generated ones (node deploy/grafana/src/generate.ts)", () => {
  assert.deepEqual(staleFiles(), []);
});

test("a stale, missing or extra dashboard file is named", () => {
  const dir = mkdtempSync(join(tmpdir(), "ds-grafana-"));
  try {
    cpSync(DASHBOARD_DIR, dir, { recursive: true });
    const [first, second] = DASHBOARDS;
    writeFileSync(join(dir, first!.file), "{}\n");
    rmSync(join(dir, second!.file));
    writeFileSync(join(dir, "old.json"), "{}\n");
    assert.deepEqual(staleFiles(dir).sort(), [
      `${first!.file}: differs from the code`,
      `${second!.file}: missing`,
      "old.json: not made by the code",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("panels: unique ids, inside the grid, a provisioned data source; SQL panels state their columns", () => {
  for (const [file, text] of renderDashboards()) {
    const d = JSON.parse(text) as {
      uid: string;
      panels: {
        id: number;
        title: string;
        datasource?: { uid?: string };
        gridPos: { x: number; y: number; w: number; h: number };
        targets?: { datasource?: { uid?: string }; expr?: string; rawSql?: string }[];
      }[];
    };
    assert.match(d.uid, /^danesweep-/, file);
    assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length, `${file}: panel ids`);
    for (const p of d.panels) {
      const where = `${file}: "${p.title}"`;
      assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.h > 0, where);
      assert.ok([PG.uid, PROM.uid].includes(p.datasource?.uid as never), `${where}: data source`);
      assert.ok((p.targets ?? []).length > 0, `${where}: a query`);
      for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, p.datasource?.uid, where);
      if (p.datasource?.uid === PG.uid) assert.ok(sqlContract(p as never).length > 0, where);
      else for (const t of p.targets ?? []) assert.ok(t.expr, `${where}: PromQL`);
    }
  }
});

test("every PromQL query parses, and names only metrics of metrics.ts, grouped by labels they carry", () => {
  const known = new Map(Object.values(METRICS).map((m) => [m.name, m]));
  const used = new Set<string>();
  for (const [file, text] of renderDashboards()) {
    const d = JSON.parse(text) as { panels: { title: string; targets?: { expr?: string }[] }[] };
    for (const p of d.panels)
      for (const t of p.targets ?? []) {
        if (t.expr === undefined) continue;
        const where = `${file}: "${p.title}": ${t.expr}`;
        const use = promqlUses(t.expr);
        assert.deepEqual(use.errors, [], where);
        assert.ok(use.metrics.length > 0, where);
        for (const name of use.metrics) {
          const m = known.get(name);
          assert.ok(m, `${where}: ${name} is not in metrics.ts`);
          used.add(name);
          for (const l of use.grouping)
            assert.ok(
              m.labels.includes(l) || (SCRAPE_LABELS as readonly string[]).includes(l),
              `${where}: ${name} has no label ${l}`,
            );
        }
      }
  }
  assert.deepEqual(
    [...known.keys()].filter((n) => !used.has(n)),
    [],
    "every metric of metrics.ts is shown",
  );
});

test("the PromQL reader finds names, grouping labels and syntax errors", () => {
  assert.deepEqual(
    promqlUses('sum by (topic, group) (rate(a_total{x="y"}[$__rate_interval])) / on (topic) b'),
    {
      metrics: ["a_total", "b"],
      grouping: ["topic", "group", "topic"],
      errors: [],
    },
  );
  assert.ok(promqlUses("sum(rate(a_total[5m])").errors.length > 0);
});

test("the data sources the panels name are the ones provisioning creates", () => {
  const yaml = readFileSync(new URL("../provisioning/datasources/danesweep.yaml", import.meta.url), "utf8");
  const provisioned = [...yaml.matchAll(/^\s+uid: (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(provisioned.sort(), [PG.uid, PROM.uid].sort());
  const types = [...yaml.matchAll(/^\s+type: (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(types.sort(), [PG.type, PROM.type].sort());
});
