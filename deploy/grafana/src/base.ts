/**
 * What every danesweep dashboard shares: uid and title prefixes, the tags,
 * UTC, and (for the scan dashboards, the default) a year of scans on a
 * dashboard that refreshes only when asked. Pure.
 */
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";

export function danesweepDashboard(o: {
  /** The part after "danesweep-" of the uid. */
  name: string;
  title: string;
  description: string;
  tags: string[];
  time?: { from: string; to: string };
  refresh?: string;
}): DashboardBuilder {
  return new DashboardBuilder(`danesweep: ${o.title}`)
    .uid(`danesweep-${o.name}`)
    .tags(["danesweep", ...o.tags])
    .description(o.description)
    .timezone("utc")
    .time(o.time ?? { from: "now-1y", to: "now" })
    .refresh(o.refresh ?? "");
}
