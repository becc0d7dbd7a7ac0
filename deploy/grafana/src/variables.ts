/**
 * Template variables the SQL dashboards share, and the SQL fragments that use
 * them.
 *
 * - `scan`: one scan, the latest finished first (as the API's default scan),
 *   shown with its state and start time; the first option is the default.
 * - `tld`: TLDs of the selected scan by domains, several at once or All (the
 *   default), for the by-TLD panels.
 * SELECTED_SCAN is the selected scan's seq as an init-plan: a panel that
 * filters `scan_seq = ${SELECTED_SCAN}` reads that scan's partition of
 * results only (a filter on scan_id reads every scan's partition).
 * PER_SCAN_IN_RANGE(select) runs `select` once per scan started in the time
 * range, with `s.seq` the scan's seq, so each run reads one partition.
 * Pure.
 */

import type { DaneState } from "@danesweep/dane";
import {
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { PG } from "./datasources.ts";

const SCAN_OPTIONS = `select id as __value,
  id || ' (' || state || ', ' || to_char(started_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC)' as __text
from scans
order by (state = 'finished') desc, started_at desc, id desc
limit 200`;

// Grafana's ${scan:sqlstring}: the selected scan id as a quoted SQL literal (biome.json allows ${...} here).
export const SELECTED_SCAN = "(select seq from scans where id = ${scan:sqlstring})";

export function scanVariable(): QueryVariableBuilder {
  return new QueryVariableBuilder("scan")
    .label("scan")
    .description("The scan the per-scan panels show; the latest finished scan first")
    .datasource(PG)
    .query(SCAN_OPTIONS)
    .definition(SCAN_OPTIONS)
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.Disabled)
    .multi(false)
    .includeAll(false)
    .allowCustomValue(false);
}

const TLD_OPTIONS = `select tld from verdict_rows
where scan_seq = ${SELECTED_SCAN}
group by tld order by count(*) desc, tld
limit 100`;

export function tldVariable(): QueryVariableBuilder {
  return new QueryVariableBuilder("tld")
    .label("TLD")
    .description("TLDs of the selected scan, by the domains they hold")
    .datasource(PG)
    .query(TLD_OPTIONS)
    .definition(TLD_OPTIONS)
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.Disabled)
    .multi(true)
    .includeAll(true)
    .allowCustomValue(false)
    .current({ text: "All", value: "$__all" });
}

/**
 * DANE states only a DNSSEC-signed MX RRset gets (libs/dane judge.ts, postfix
 * policy): the domains among which DANE adoption is measured. A signed MX can
 * also end in dns-error, indeterminate or no-mail, as an unsigned one can;
 * the verdict class does not say which, so those are left out.
 */
export const SIGNED_MX_STATES = [
  "valid",
  "partial",
  "invalid",
  "unusable-records",
  "none",
] as const satisfies readonly DaneState[];

export const SIGNED_MX_SQL = `(${SIGNED_MX_STATES.map((s) => `'${s}'`).join(", ")})`;

/**
 * One row per (scan started in the time range, row of `select`): `select`
 * runs once per scan with `s` the scan (s.seq its seq), as `x`; `join` may
 * add lateral rows over x; `columns` follow `s.started_at as time`.
 */
export function perScanInRange(o: {
  columns: string;
  select: string;
  join?: string;
  order?: string;
}): string {
  return `select s.started_at as time, ${o.columns}
from scans s
cross join lateral (
${o.select}
) x${o.join ? `\n${o.join}` : ""}
where $__timeFilter(s.started_at)
order by ${o.order ?? "1, 2"}`;
}
