/**
 * Writes the dashboards (index.ts) into deploy/grafana/dashboards, the folder
 * Grafana's provisioning loads, and removes any other .json file there.
 *   node deploy/grafana/src/generate.ts          write
 *   node deploy/grafana/src/generate.ts --check  write nothing; exit 1 naming
 *                                                 each stale, missing or extra file
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderDashboards } from "./index.ts";

export const DASHBOARD_DIR = fileURLToPath(new URL("../dashboards", import.meta.url));

/** What differs between the generated dashboards and the folder: one line per file. */
export function staleFiles(dir = DASHBOARD_DIR): string[] {
  const want = renderDashboards();
  const have = readdirSync(dir).filter((f) => f.endsWith(".json"));
  const out: string[] = [];
  for (const [file, text] of want) {
    if (!have.includes(file)) out.push(`${file}: missing`);
    else if (readFileSync(join(dir, file), "utf8") !== text) out.push(`${file}: differs from the code`);
  }
  for (const f of have) if (!want.has(f)) out.push(`${f}: not made by the code`);
  return out;
}

if (import.meta.main) {
  if (process.argv.includes("--check")) {
    const stale = staleFiles();
    for (const s of stale) console.error(`stale: deploy/grafana/dashboards/${s}`);
    if (stale.length > 0) console.error("run: node deploy/grafana/src/generate.ts");
    process.exit(stale.length > 0 ? 1 : 0);
  }
  const want = renderDashboards();
  for (const f of readdirSync(DASHBOARD_DIR))
    if (f.endsWith(".json") && !want.has(f)) rmSync(join(DASHBOARD_DIR, f));
  for (const [file, text] of want) writeFileSync(join(DASHBOARD_DIR, file), text);
  console.log(`wrote ${[...want.keys()].join(", ")} in ${DASHBOARD_DIR}`);
}
