/**
 * @danesweep/grafana: danesweep's Grafana dashboards as code
 * (@grafana/grafana-foundation-sdk). `DASHBOARDS` names each dashboard's file
 * in deploy/grafana/dashboards and its builder; `renderDashboards()` gives
 * each file's text (stable JSON, two-space indent, final newline), which
 * generate.ts writes and the staleness test compares with the committed
 * files. sqlContract (sql.ts) and METRICS (metrics.ts) are what the tests
 * check the panels against. Pure.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { adoptionDashboard } from "./dashboards/adoption.ts";
import { breakageDashboard } from "./dashboards/breakage.ts";
import { pipelineDashboard } from "./dashboards/pipeline.ts";
import { providersDashboard } from "./dashboards/providers.ts";

export { PG, PROM } from "./datasources.ts";
export { expandMacros, type MacroContext, type VariableValue } from "./macros.ts";
export { METRICS, type MetricUse, SCRAPE_LABELS, type Service } from "./metrics.ts";
export { COLUMN_UNITS, type Column, type ColumnKind, type SqlContract, sqlContract } from "./sql.ts";

export const DASHBOARDS: readonly { file: string; build: () => DashboardBuilder }[] = [
  { file: "danesweep-adoption.json", build: adoptionDashboard },
  { file: "danesweep-breakage.json", build: breakageDashboard },
  { file: "danesweep-providers.json", build: providersDashboard },
  { file: "danesweep-pipeline.json", build: pipelineDashboard },
];

/** File name -> JSON text of every dashboard; panels are numbered 1, 2... in the order they were added. */
export function renderDashboards(): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of DASHBOARDS) {
    const dashboard = d.build().build();
    (dashboard.panels ?? []).forEach((p, i) => {
      p.id = i + 1;
    });
    out.set(d.file, `${JSON.stringify(dashboard, null, 2)}\n`);
  }
  return out;
}
