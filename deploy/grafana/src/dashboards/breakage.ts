/**
 * Dashboard "danesweep: broken DANE" (uid danesweep-breakage), for CERTs and
 * registries: the domains whose DANE is broken in the selected scan (the
 * verdict engine listed problems: libs/dane problems.ts), those newly broken
 * since each domain's previous scan (view newly_broken_domains, libs/store
 * migrations/0007) with what they were before, the reasons and problems, and
 * broken domains per scan over the time range. Every query reads one scan's
 * partition of results (the selected scan, or each scan in the range) and
 * joins verdict_blobs for broken domains only. Pure.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { danesweepDashboard } from "../base.ts";
import { sqlStat, sqlTable, sqlTimeSeries } from "../sql.ts";
import { perScanInRange, SELECTED_SCAN, scanVariable } from "../variables.ts";

export function breakageDashboard(): DashboardBuilder {
  return danesweepDashboard({
    name: "breakage",
    title: "broken DANE",
    description: "Domains whose DANE is broken: mail to them defers, or is only as safe as their weakest MX",
    tags: ["dane", "cert"],
  })
    .withVariable(scanVariable())
    .withPanel(
      sqlStat({
        title: "Broken",
        description: "Domains of the selected scan whose DANE is broken",
        place: { x: 0, y: 0, w: 6, h: 5 },
        column: { name: "broken", kind: "count", title: "broken" },
        sql: `select count(*)::bigint as broken from broken_domains where scan_seq = ${SELECTED_SCAN}`,
      }),
    )
    .withPanel(
      sqlStat({
        title: "Newly broken",
        description:
          "Domains broken in the selected scan and not in the domain's previous scan (or never scanned before)",
        place: { x: 6, y: 0, w: 6, h: 5 },
        column: { name: "newly_broken", kind: "count", title: "newly broken" },
        sql: `select count(*)::bigint as newly_broken from newly_broken_domains where scan_seq = ${SELECTED_SCAN}`,
      }),
    )
    .withPanel(
      sqlTable({
        title: "Broken in the selected scan, by problem",
        description: "A domain with several problems counts under each",
        place: { x: 12, y: 0, w: 12, h: 5 },
        columns: [
          { name: "problem", kind: "text" },
          { name: "domains", kind: "count" },
        ],
        sql: `select p.problem, count(*)::bigint as domains
from broken_domains b, unnest(b.problems) as p(problem)
where b.scan_seq = ${SELECTED_SCAN}
group by p.problem
order by domains desc, p.problem`,
      }),
    )
    .withPanel(
      sqlTimeSeries({
        title: "Broken domains per scan, by problem",
        description: "Per scan started in the time range; a domain with several problems counts under each",
        unit: "count",
        place: { x: 0, y: 5, w: 12, h: 9 },
        sql: perScanInRange({
          columns: "x.problem as metric, x.domains as value",
          select: `  select p.problem, count(*)::bigint as domains
  from broken_domains b, unnest(b.problems) as p(problem)
  where b.scan_seq = s.seq
  group by p.problem`,
        }),
      }),
    )
    .withPanel(
      sqlTimeSeries({
        title: "Broken domains per scan, by reason",
        description: "Per scan started in the time range, by the verdict's reason",
        unit: "count",
        stacked: true,
        place: { x: 12, y: 5, w: 12, h: 9 },
        sql: perScanInRange({
          columns: "x.reason as metric, x.domains as value",
          select: `  select b.reason, count(*)::bigint as domains
  from broken_domains b
  where b.scan_seq = s.seq
  group by b.reason`,
        }),
      }),
    )
    .withPanel(
      sqlTable({
        title: "Newly broken in the selected scan",
        description:
          "Broken now, not in the domain's previous scan: what it was then (empty when never scanned before)",
        place: { x: 0, y: 14, w: 24, h: 10 },
        columns: [
          { name: "domain", kind: "text" },
          { name: "tld", kind: "text", title: "TLD" },
          { name: "mx_host", kind: "text", title: "MX host", nullable: true },
          { name: "provider", kind: "text", nullable: true },
          { name: "dane_state", kind: "text", title: "DANE" },
          { name: "reason", kind: "text" },
          { name: "problems", kind: "text" },
          { name: "previous_dane_state", kind: "text", title: "DANE before", nullable: true },
          { name: "previous_scan", kind: "text", title: "previous scan", nullable: true },
        ],
        sql: `select domain, tld, mx_host, provider, dane_state, reason,
  array_to_string(problems, ', ') as problems,
  previous_dane_state, previous_scan_id as previous_scan
from newly_broken_domains
where scan_seq = ${SELECTED_SCAN}
order by domain
limit 1000`,
      }),
    )
    .withPanel(
      sqlTable({
        title: "Broken in the selected scan",
        description: "The list a CERT works from (the first 1000 by name; the API's /v1/broken has them all)",
        place: { x: 0, y: 24, w: 24, h: 10 },
        columns: [
          { name: "domain", kind: "text" },
          { name: "tld", kind: "text", title: "TLD" },
          { name: "mx_host", kind: "text", title: "MX host", nullable: true },
          { name: "provider", kind: "text", nullable: true },
          { name: "action", kind: "text" },
          { name: "dane_state", kind: "text", title: "DANE" },
          { name: "reason", kind: "text" },
          { name: "problems", kind: "text" },
        ],
        sql: `select domain, tld, mx_host, provider, action, dane_state, reason,
  array_to_string(problems, ', ') as problems
from broken_domains
where scan_seq = ${SELECTED_SCAN}
order by domain
limit 1000`,
      }),
    );
}
