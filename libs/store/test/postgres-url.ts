/**
 * The PostgreSQL the integration tests use: $DANESWEEP_PG_URL, or the cluster
 * of scripts/services/postgres.sh (started when not reachable, never stopped
 * here: scripts/test stops what it started); `adminQuery(url, sql)` runs one
 * statement on its own connection (creating and dropping test databases and
 * roles).
 */
import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

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

export async function testPostgresUrl(): Promise<string> {
  const url = process.env.DANESWEEP_PG_URL ?? execFileSync(script, ["url"], { encoding: "utf8" }).trim();
  if (await reachable(url)) return url;
  return execFileSync(script, ["up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** Runs one statement (no parameters: identifiers the caller made) on a connection of its own. */
export async function adminQuery(url: string, query: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(query);
  } finally {
    await c.end();
  }
}
