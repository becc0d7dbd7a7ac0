/**
 * The change-events suite on a real PostgreSQL, in a database of its own.
 */
import { after } from "node:test";
import { freshDatabase } from "../../../test/e2e/cli.ts";
import { openMigratedDatabase } from "../src/db.ts";
import { changesSuite } from "./changes-suite.ts";

const dbs: Awaited<ReturnType<typeof freshDatabase>>[] = [];
after(async () => {
  for (const d of dbs) await d.drop();
});

changesSuite("postgresql", async () => {
  const d = await freshDatabase();
  dbs.push(d);
  return openMigratedDatabase({ url: d.url, poolSize: 4 });
});
