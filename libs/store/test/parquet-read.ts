/**
 * Reading the exported Parquet files back with an independent reader: DuckDB
 * (its own C++ Parquet reader, through @duckdb/node-api), one of the tools
 * the export is for. Values come back as JSON: the queries turn timestamps
 * into epoch milliseconds and binary into base64.
 */
import { DuckDBInstance } from "@duckdb/node-api";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function literal(path: string): string {
  return `'${path.replaceAll("'", "''")}'`;
}

/** Runs `sql` with `{file}` replaced by the file's path as a string literal. */
export async function duck(sql: string, file: string): Promise<Record<string, Json>[]> {
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(sql.replaceAll("{file}", literal(file)));
    return r.getRowObjectsJson() as Record<string, Json>[];
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** Every row of the file in file order, with `select` as the column list. */
export function readRows(file: string, select = "*"): Promise<Record<string, Json>[]> {
  return duck(`select ${select} from read_parquet({file})`, file);
}

/** The file's row groups, compression codecs and key-value metadata. */
export async function parquetShape(
  file: string,
): Promise<{ rowGroups: number; codecs: string[]; kv: Record<string, string> }> {
  const groups = await duck(
    "select count(distinct row_group_id)::integer as n, list(distinct compression) as codecs from parquet_metadata({file})",
    file,
  );
  const kv = await duck("select decode(key) as k, decode(value) as v from parquet_kv_metadata({file})", file);
  return {
    rowGroups: Number(groups[0]?.n ?? 0),
    codecs: ((groups[0]?.codecs ?? []) as string[]).sort(),
    kv: Object.fromEntries(kv.map((x) => [String(x.k), String(x.v)])),
  };
}
