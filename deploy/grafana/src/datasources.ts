/**
 * The data sources the dashboards read, by the uids that
 * deploy/grafana/provisioning/datasources/danesweep.yaml gives them:
 * - PG: the PostgreSQL the aggregator writes, through the read-only login
 *   (the views of libs/store/migrations);
 * - PROM: the Prometheus that scrapes the services' /metrics.
 */
import type { DataSourceRef } from "@grafana/grafana-foundation-sdk/common";

export const PG = {
  type: "grafana-postgresql-datasource",
  uid: "danesweep-pg",
} as const satisfies DataSourceRef;
export const PROM = { type: "prometheus", uid: "danesweep-prom" } as const satisfies DataSourceRef;
