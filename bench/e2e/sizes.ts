/**
 * bench/e2e/sizes.ts: where a store's bytes are, table by table (heap, TOAST
 * and indexes), for reading beside bench/e2e's bytes per domain.
 *
 *   node bench/e2e/sizes.ts DATA_DIR [DOMAINS]
 *
 * Prints each table of schema public with its total size, its rows and,
 * given DOMAINS (the number of domains scanned), bytes per domain.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStore, sql } from "@danesweep/store";

const [data, domainsArg] = process.argv.slice(2);
if (!data) {
  console.error("usage: node bench/e2e/sizes.ts DATA_DIR [DOMAINS]");
  process.exit(2);
}
// Never create a store where none is: that would measure an empty one.
if (!existsSync(join(data, "PG_VERSION"))) {
  console.error(`bench/e2e/sizes.ts: ${data} is not a danesweep data directory (no PG_VERSION in it)`);
  process.exit(2);
}
const domains = Number(domainsArg ?? 0);
if (!Number.isInteger(domains) || domains < 0) {
  console.error(`bench/e2e/sizes.ts: DOMAINS must be a whole number, not ${JSON.stringify(domainsArg)}`);
  process.exit(2);
}
const store = await openStore({ dataDir: data });
const r = await store.db.execute<{ name: string; total: string; heap: string; rows: string }>(
  sql`select c.relname as name, pg_total_relation_size(c.oid) as total,
             pg_relation_size(c.oid) as heap, c.reltuples::bigint as rows
      from pg_class c join pg_namespace s on s.oid = c.relnamespace
      where s.nspname = 'public' and c.relkind = 'r' order by 2 desc`,
);
let sum = 0;
console.log(
  `${"table".padEnd(28)} ${"total".padStart(12)} ${"heap".padStart(12)} ${"rows".padStart(10)}${domains ? "  bytes/dom" : ""}`,
);
for (const x of r.rows) {
  const total = Number(x.total);
  sum += total;
  if (total <= 16384) continue;
  console.log(
    `${x.name.padEnd(28)} ${String(total).padStart(12)} ${String(x.heap).padStart(12)} ${String(x.rows).padStart(10)}${domains ? `  ${(total / domains).toFixed(0).padStart(9)}` : ""}`,
  );
}
console.log(
  `${"(all tables)".padEnd(28)} ${String(sum).padStart(12)}${domains ? `  ${(sum / domains).toFixed(0)} bytes/dom` : ""}`,
);
await store.close();
