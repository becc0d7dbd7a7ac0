/**
 * SQL panels over the PostgreSQL data source, and the contract each states
 * about what its query returns.
 *
 * A panel's field config says which columns it shows and how (unit, title):
 * - a table or stat panel (format "table") has one override by name per
 *   column, in the order the query returns them; the override's unit gives
 *   the column's kind (COLUMN_UNITS: a count, a share in [0, 1], text, a
 *   time) and `noValue` marks a column that may be NULL;
 * - a time series (format "time_series") returns the long form Grafana turns
 *   into series: `time`, `metric` (the series name) and `value`, whose kind
 *   is the panel's default unit.
 * `sqlContract(panel)` reads that contract back from a built panel (the JSON
 * Grafana loads), so a test can run each query and check its columns and
 * values against it (deploy/grafana/test/sql-panels.int.test.ts).
 *
 * The panels are built with @grafana/grafana-foundation-sdk; the SQL query
 * (which the SDK has no builder for) is SqlQueryBuilder. Pure.
 */

import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import {
  BigValueGraphMode,
  type DataSourceRef,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  VisibilityMode,
  VizLegendOptionsBuilder,
} from "@grafana/grafana-foundation-sdk/common";
import type { GridPos } from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as StatPanelBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TablePanelBuilder } from "@grafana/grafana-foundation-sdk/table";
import { PanelBuilder as TimeseriesPanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import { PG } from "./datasources.ts";

export type SqlFormat = "time_series" | "table";

/** A target of the PostgreSQL data source, as Grafana stores it. */
export interface SqlTarget {
  refId: string;
  datasource: DataSourceRef;
  format: SqlFormat;
  rawQuery: true;
  editorMode: "code";
  rawSql: string;
}

export class SqlQueryBuilder implements cog.Builder<cog.Dataquery> {
  readonly #target: SqlTarget;

  constructor(rawSql: string, format: SqlFormat) {
    this.#target = { refId: "A", datasource: PG, format, rawQuery: true, editorMode: "code", rawSql };
  }

  refId(refId: string): this {
    this.#target.refId = refId;
    return this;
  }

  build(): cog.Dataquery {
    const q = { ...this.#target, _implementsDataqueryVariant() {} };
    return q;
  }
}

/** The unit of each kind of column (Grafana's unit ids). */
export const COLUMN_UNITS = {
  /** A number of domains, hosts...: an integer >= 0. */
  count: "short",
  /** A fraction in [0, 1]. */
  share: "percentunit",
  /** A string. */
  text: "string",
  /** A point in time. */
  time: "dateTimeAsIso",
} as const;
export type ColumnKind = keyof typeof COLUMN_UNITS;

export interface Column {
  name: string;
  kind: ColumnKind;
  /** The header shown (default: the name). */
  title?: string;
  /** The column may be NULL (shown as "-"). */
  nullable?: boolean;
}

export interface PanelPlace {
  x: number;
  y: number;
  w: number;
  h: number;
}

function gridPos(p: PanelPlace): GridPos {
  return { x: p.x, y: p.y, w: p.w, h: p.h };
}

function columnOverride(c: Column) {
  const properties = [
    { id: "unit", value: COLUMN_UNITS[c.kind] },
    { id: "displayName", value: c.title ?? c.name },
    ...(c.nullable ? [{ id: "noValue", value: "-" }] : []),
  ];
  return { matcher: { id: "byName", options: c.name }, properties };
}

export interface SqlPanelOptions {
  title: string;
  description: string;
  sql: string;
  place: PanelPlace;
}

/** A time series of the long form (time, metric, value): one series per metric. */
export function sqlTimeSeries(
  o: SqlPanelOptions & { unit: "count" | "share"; stacked?: boolean },
): TimeseriesPanelBuilder {
  const p = new TimeseriesPanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(PG)
    .gridPos(gridPos(o.place))
    .unit(COLUMN_UNITS[o.unit])
    .min(0)
    .showPoints(VisibilityMode.Always)
    .pointSize(5)
    .stacking(new StackingConfigBuilder().mode(o.stacked ? StackingMode.Normal : StackingMode.None))
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Right)
        .calcs(["lastNotNull"]),
    )
    .withTarget(new SqlQueryBuilder(o.sql, "time_series"));
  return o.unit === "share" ? p.max(1) : p;
}

/** A table whose columns are `columns`, in that order. */
export function sqlTable(o: SqlPanelOptions & { columns: Column[] }): TablePanelBuilder {
  let p = new TablePanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(PG)
    .gridPos(gridPos(o.place))
    .showHeader(true)
    .filterable(true)
    .withTarget(new SqlQueryBuilder(o.sql, "table"));
  for (const c of o.columns) p = p.withOverride(columnOverride(c));
  return p;
}

/** One number: the query returns one row of one column. */
export function sqlStat(o: SqlPanelOptions & { column: Column }): StatPanelBuilder {
  return new StatPanelBuilder()
    .title(o.title)
    .description(o.description)
    .datasource(PG)
    .gridPos(gridPos(o.place))
    .unit(COLUMN_UNITS[o.column.kind])
    .graphMode(BigValueGraphMode.None)
    .reduceOptions(new ReduceDataOptionsBuilder().values(false).calcs(["lastNotNull"]).fields(""))
    .withOverride(columnOverride(o.column))
    .withTarget(new SqlQueryBuilder(o.sql, "table"));
}

// ---------------------------------------------------------------- the contract, read back

export interface SqlContract {
  panel: string;
  refId: string;
  format: SqlFormat;
  rawSql: string;
  columns: Column[];
}

interface PanelJson {
  title?: string;
  type?: string;
  fieldConfig?: {
    defaults?: { unit?: string };
    overrides?: {
      matcher?: { id?: string; options?: unknown };
      properties?: { id: string; value: unknown }[];
    }[];
  };
  targets?: { refId?: string; datasource?: { uid?: string }; format?: string; rawSql?: string }[];
}

function kindOfUnit(unit: unknown, where: string): ColumnKind {
  const k = (Object.keys(COLUMN_UNITS) as ColumnKind[]).find((x) => COLUMN_UNITS[x] === unit);
  if (!k)
    throw new Error(`${where}: unit ${JSON.stringify(unit)} is not one of ${Object.values(COLUMN_UNITS)}`);
  return k;
}

/** The SQL targets of a panel (JSON as Grafana loads it) with the columns each must return. */
export function sqlContract(panel: PanelJson): SqlContract[] {
  const name = panel.title ?? "(untitled)";
  const out: SqlContract[] = [];
  for (const t of panel.targets ?? []) {
    if (t.datasource?.uid !== PG.uid) continue;
    const where = `panel "${name}" target ${t.refId}`;
    if (t.format !== "table" && t.format !== "time_series") throw new Error(`${where}: format ${t.format}`);
    let columns: Column[];
    if (t.format === "time_series") {
      columns = [
        { name: "time", kind: "time" },
        { name: "metric", kind: "text" },
        { name: "value", kind: kindOfUnit(panel.fieldConfig?.defaults?.unit, where), nullable: true },
      ];
    } else {
      columns = (panel.fieldConfig?.overrides ?? [])
        .filter((o) => o.matcher?.id === "byName")
        .map((o) => {
          const props = new Map((o.properties ?? []).map((p) => [p.id, p.value]));
          return {
            name: String(o.matcher?.options),
            kind: kindOfUnit(props.get("unit"), `${where} column ${String(o.matcher?.options)}`),
            nullable: props.has("noValue"),
          };
        });
      if (columns.length === 0) throw new Error(`${where}: a table target without column overrides`);
    }
    out.push({ panel: name, refId: t.refId ?? "A", format: t.format, rawSql: t.rawSql ?? "", columns });
  }
  return out;
}
