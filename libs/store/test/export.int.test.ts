/**
 * The export suite on a real PostgreSQL, in a database of its own (dropped at the end).
 */
import { after, before } from "node:test";
import { freshDatabase } from "../../../test/e2e/cli.ts";
import { openStoreHandle } from "../src/export.ts";
import { exportSuite } from "./export-suite.ts";

let db: Awaited<ReturnType<typeof freshDatabase>>;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db?.drop();
});

exportSuite("postgresql", () => openStoreHandle({ url: db.url, poolSize: 4 }));
