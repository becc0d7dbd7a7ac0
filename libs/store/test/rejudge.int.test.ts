/**
 * The re-judging suite on a real PostgreSQL, in a database of its own.
 */
import { after } from "node:test";
import { freshDatabase } from "../../../test/e2e/cli.ts";
import { openMigratedDatabase } from "../src/db.ts";
import { rejudgeSuite } from "./rejudge-suite.ts";

const dbs: Awaited<ReturnType<typeof freshDatabase>>[] = [];
after(async () => {
  for (const d of dbs) await d.drop();
});

rejudgeSuite(
  "postgresql",
  async () => {
    const d = await freshDatabase();
    dbs.push(d);
    return openMigratedDatabase({ url: d.url, poolSize: 4 });
  },
  100_000,
);
