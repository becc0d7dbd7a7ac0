/**
 * The re-judging routes over PostgreSQL, in a database of their own.
 */
import { after } from "node:test";
import { openStore } from "@danesweep/store";
import { freshDatabase } from "../../../test/e2e/cli.ts";
import { rejudgeApiSuite } from "./rejudge-suite.ts";

const dbs: Awaited<ReturnType<typeof freshDatabase>>[] = [];
after(async () => {
  for (const d of dbs) await d.drop();
});

rejudgeApiSuite("postgresql", async () => {
  const d = await freshDatabase();
  dbs.push(d);
  return openStore({ url: d.url });
});
