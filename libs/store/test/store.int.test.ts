/**
 * The store suite on a real PostgreSQL: $DANESWEEP_PG_URL, or the cluster of
 * scripts/services/postgres.sh (started when not reachable, never stopped).
 */
import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { openStore } from "../src/store.ts";
import { storeSuite } from "./suite.ts";

const script = resolve(dirname(fileURLToPath(import.meta.url)), "../../../scripts/services/postgres.sh");

async function reachable(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on("error", () => {});
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

let url = process.env.DANESWEEP_PG_URL ?? execFileSync(script, ["url"], { encoding: "utf8" }).trim();
if (!(await reachable(url))) {
  url = execFileSync(script, ["up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

storeSuite("postgresql", () => openStore({ url, poolSize: 4 }));
