/**
 * Dashboard "danesweep: DANE adoption" (uid danesweep-adoption): DANE states
 * and verdicts per scan over the time range, the share of DANE-valid domains
 * among those with a DNSSEC-signed MX, overall and by TLD, and the TLDs of
 * the selected scan. Reads verdict_rows (libs/store migrations/0006) one scan
 * partition at a time; only the by-TLD panels join verdict_blobs. Pure.
 */
import type { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { danesweepDashboard } from "../base.ts";
import { sqlTable, sqlTimeSeries } from "../sql.ts";
import { perScanInRange, SELECTED_SCAN, SIGNED_MX_SQL, scanVariable, tldVariable } from "../variables.ts";

const SHARES = `count(*) filter (where v.dane_state = 'valid') as valid,
    count(*) filter (where v.dane_state in ('valid', 'partial')) as authenticated,
    count(*) filter (where v.dane_state in ${SIGNED_MX_SQL}) as signed`;

export function adoptionDashboard(): DashboardBuilder {
  return danesweepDashboard({
    name: "adoption",
    title: "DANE adoption",
    description: "DANE for SMTP (RFC 7672) across danesweep's scans",
    tags: ["dane"],
  })
    .withVariable(scanVariable())
    .withVariable(tldVariable())
    .withPanel(
      sqlTimeSeries({
        title: "Domains by DANE state, per scan",
        description: "Judged domains of each scan started in the time range, by DANE state",
        unit: "count",
        stacked: true,
        place: { x: 0, y: 0, w: 12, h: 9 },
        sql: perScanInRange({
          columns: "x.dane_state as metric, x.domains as value",
          select: `  select v.dane_state, count(*)::bigint as domains
  from verdict_rows v where v.scan_seq = s.seq
  group by v.dane_state`,
        }),
      }),
    )
    .withPanel(
      sqlTimeSeries({
        title: "DANE-valid among DNSSEC-signed MX, per scan",
        description:
          "Of the domains whose MX RRset is DNSSEC-signed and whose DANE state says so (valid, partial, invalid, unusable-records, none), the share valid, and valid or partial (mail delivered authenticated). A signed MX whose lookups failed (dns-error) is not counted: the stored verdict class does not tell whether its MX was signed.",
        unit: "share",
        place: { x: 12, y: 0, w: 12, h: 9 },
        sql: perScanInRange({
          columns: "m.metric, m.value",
          select: `  select ${SHARES}
  from verdict_rows v where v.scan_seq = s.seq`,
          join: `cross join lateral (values
  ('valid', x.valid::float8 / nullif(x.signed, 0)),
  ('valid or partial', x.authenticated::float8 / nullif(x.signed, 0))
) m(metric, value)`,
        }),
      }),
    )
    .withPanel(
      sqlTimeSeries({
        title: "Verdicts per scan (action, security)",
        description: "What a DANE-enforcing sender would do with mail to each domain, per scan",
        unit: "count",
        stacked: true,
        place: { x: 0, y: 9, w: 12, h: 9 },
        sql: perScanInRange({
          columns: "x.action || coalesce(' ' || x.security, '') as metric, x.domains as value",
          select: `  select v.action, v.security, count(*)::bigint as domains
  from verdict_rows v where v.scan_seq = s.seq
  group by v.action, v.security`,
        }),
      }),
    )
    .withPanel(
      sqlTimeSeries({
        title: "DANE-valid among DNSSEC-signed MX, by TLD",
        description:
          "Per TLD chosen above (default: all of the selected scan's top 100), the share of valid among signed-MX domains, per scan",
        unit: "share",
        place: { x: 12, y: 9, w: 12, h: 9 },
        sql: perScanInRange({
          columns: "x.tld as metric, x.valid::float8 / x.signed as value",
          select: `  select v.tld, ${SHARES}
  from verdict_rows v where v.scan_seq = s.seq and v.tld in ($tld)
  group by v.tld
  having count(*) filter (where v.dane_state in ${SIGNED_MX_SQL}) > 0`,
        }),
      }),
    )
    .withPanel(
      sqlTimeSeries({
        title: "DANE domains at risk, per scan",
        description:
          "Of the domains delivered authenticated (DANE valid or partial), the share with any risk (libs/dane rule 40: authoritative servers that disagree, a certificate other senders would see failing, rollover risk), and the share with a rollover risk. Risks do not break DANE today.",
        unit: "share",
        place: { x: 0, y: 18, w: 12, h: 9 },
        sql: perScanInRange({
          columns: "m.metric, m.value",
          select: `  select count(*) as dane,
    count(*) filter (where cardinality(v.risks) > 0) as at_risk,
    count(*) filter (where exists (select 1 from unnest(v.risks) r where r like 'rollover-%')) as rollover
  from verdict_rows v where v.scan_seq = s.seq and v.dane_state in ('valid', 'partial')`,
          join: `cross join lateral (values
  ('any risk', x.at_risk::float8 / nullif(x.dane, 0)),
  ('rollover risk', x.rollover::float8 / nullif(x.dane, 0))
) m(metric, value)`,
        }),
      }),
    )
    .withPanel(
      sqlTimeSeries({
        title: "DANE domains per risk, per scan",
        description:
          "Domains delivered authenticated (valid or partial) per risk; a domain with several counts under each",
        unit: "count",
        place: { x: 12, y: 18, w: 12, h: 9 },
        sql: perScanInRange({
          columns: "x.risk as metric, x.domains as value",
          select: `  select r.risk, count(*)::bigint as domains
  from verdict_rows v, unnest(v.risks) as r(risk)
  where v.scan_seq = s.seq and v.dane_state in ('valid', 'partial')
  group by r.risk`,
        }),
      }),
    )
    .withPanel(
      sqlTable({
        title: "TLDs of the selected scan",
        description:
          "Per TLD chosen above: domains, signed-MX domains, DANE states and the share valid among signed",
        place: { x: 0, y: 27, w: 24, h: 10 },
        columns: [
          { name: "tld", kind: "text", title: "TLD" },
          { name: "domains", kind: "count" },
          { name: "signed", kind: "count", title: "signed MX" },
          { name: "valid", kind: "count" },
          { name: "partial", kind: "count" },
          { name: "invalid", kind: "count" },
          { name: "valid_share", kind: "share", title: "valid / signed", nullable: true },
        ],
        sql: `select v.tld, count(*)::bigint as domains,
  count(*) filter (where v.dane_state in ${SIGNED_MX_SQL}) as signed,
  count(*) filter (where v.dane_state = 'valid') as valid,
  count(*) filter (where v.dane_state = 'partial') as partial,
  count(*) filter (where v.dane_state = 'invalid') as invalid,
  (count(*) filter (where v.dane_state = 'valid'))::float8
    / nullif(count(*) filter (where v.dane_state in ${SIGNED_MX_SQL}), 0) as valid_share
from verdict_rows v
where v.scan_seq = ${SELECTED_SCAN} and v.tld in ($tld)
group by v.tld
order by domains desc, v.tld`,
      }),
    );
}
