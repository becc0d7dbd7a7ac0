/**
 * Dashboard "danesweep: MX providers" (uid danesweep-providers): providers
 * (registrable domain of the primary MX host) and MX hosts of the selected
 * scan by the domains they serve, with DANE states, and the DANE-valid
 * domains of the selected scan's ten largest providers per scan over the time
 * range. Reads verdict_rows one scan partition at a time. Pure.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { danesweepDashboard } from "../base.ts";
import { sqlTable, sqlTimeSeries } from "../sql.ts";
import { perScanInRange, SELECTED_SCAN, scanVariable } from "../variables.ts";

const STATES = `count(*) filter (where v.dane_state = 'valid') as valid,
  count(*) filter (where v.dane_state = 'partial') as partial,
  count(*) filter (where v.dane_state = 'invalid') as invalid,
  count(*) filter (where v.dane_state = 'none') as no_tlsa,
  count(*) filter (where v.dane_state = 'insecure') as insecure`;

const STATE_COLUMNS = [
  { name: "valid", kind: "count" },
  { name: "partial", kind: "count" },
  { name: "invalid", kind: "count" },
  { name: "no_tlsa", kind: "count", title: "signed, no TLSA" },
  { name: "insecure", kind: "count", title: "MX not signed" },
] as const;

export function providersDashboard(): DashboardBuilder {
  return danesweepDashboard({
    name: "providers",
    title: "MX providers",
    description: "Who hosts the mail of the scanned domains, and how their DANE fares",
    tags: ["dane"],
  })
    .withVariable(scanVariable())
    .withPanel(
      sqlTable({
        title: "Providers in the selected scan",
        description:
          "Registrable domain of each domain's primary MX host, by the domains it serves (empty: no registrable domain, e.g. an address)",
        place: { x: 0, y: 0, w: 24, h: 10 },
        columns: [
          { name: "provider", kind: "text", nullable: true },
          { name: "domains", kind: "count" },
          { name: "mx_hosts", kind: "count", title: "MX hosts" },
          ...STATE_COLUMNS,
          { name: "valid_share", kind: "share", title: "valid / domains" },
        ],
        sql: `select v.provider, count(*)::bigint as domains, count(distinct v.mx_host)::bigint as mx_hosts,
  ${STATES},
  (count(*) filter (where v.dane_state = 'valid'))::float8 / count(*) as valid_share
from verdict_rows v
where v.scan_seq = ${SELECTED_SCAN} and v.mx_host is not null
group by v.provider
order by domains desc, v.provider
limit 100`,
      }),
    )
    .withPanel(
      sqlTable({
        title: "MX hosts in the selected scan",
        description: "Primary MX hosts by the domains they serve",
        place: { x: 0, y: 10, w: 12, h: 10 },
        columns: [
          { name: "mx_host", kind: "text", title: "MX host" },
          { name: "provider", kind: "text", nullable: true },
          { name: "domains", kind: "count" },
          ...STATE_COLUMNS,
        ],
        sql: `select v.mx_host, v.provider, count(*)::bigint as domains,
  ${STATES}
from verdict_rows v
where v.scan_seq = ${SELECTED_SCAN} and v.mx_host is not null
group by v.mx_host, v.provider
order by domains desc, v.mx_host
limit 100`,
      }),
    )
    .withPanel(
      sqlTimeSeries({
        title: "DANE-valid domains of the largest providers, per scan",
        description: "The ten providers serving the most domains in the selected scan, over the time range",
        unit: "count",
        place: { x: 12, y: 10, w: 12, h: 10 },
        sql: `with top as (
  select v.provider from verdict_rows v
  where v.scan_seq = ${SELECTED_SCAN} and v.provider is not null
  group by v.provider order by count(*) desc, v.provider limit 10
)
${perScanInRange({
  columns: "x.provider as metric, x.valid as value",
  select: `  select v.provider, (count(*) filter (where v.dane_state = 'valid'))::bigint as valid
  from verdict_rows v where v.scan_seq = s.seq and v.provider in (select provider from top)
  group by v.provider`,
})}`,
      }),
    );
}
