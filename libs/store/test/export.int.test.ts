/**
 * The export suite on a real PostgreSQL, in a database of its own (dropped at the end).
 */
import { after, before } from "node:test";
import { freshDatabase } from "../../../test/e2e/cli.ts";
import { openMigratedDatabase } from "../src/db.ts";
import { exportSuite } from "./export-suite.ts";

let db: Awaited<ReturnType<typeof freshDatabase>>;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db?.drop();
});

exportSuite("postgresql", () => openMigratedDatabase({ url: db.url, poolSize: 4 }));
