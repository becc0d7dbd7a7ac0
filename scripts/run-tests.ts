/**
 * Runs the project's tests with node:test, by group.
 *   unit         *.test.ts (no outside services)
 *   integration  *.int.test.ts (the testbed: Knot, Unbound, SMTP servers, PostgreSQL, Kafka)
 *   e2e          *.e2e.test.ts (whole pipeline)
 *   all          every group in one run (what scripts/test uses)
 * Usage: node scripts/run-tests.ts GROUP [--only PATTERN]
 */
import { spawnSync } from "node:child_process";
import { globSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const group = process.argv[2] ?? "all";
const onlyIdx = process.argv.indexOf("--only");
const only = onlyIdx > 0 ? process.argv[onlyIdx + 1] : undefined;
const groups: Record<string, (f: string) => boolean> = {
  unit: (f) => !f.endsWith(".int.test.ts") && !f.endsWith(".e2e.test.ts"),
  integration: (f) => f.endsWith(".int.test.ts"),
  e2e: (f) => f.endsWith(".e2e.test.ts"),
  all: () => true,
};
const pick = groups[group];
if (!pick) {
  console.error(`run-tests: unknown group "${group}"; expected one of ${Object.keys(groups).join(", ")}`);
  process.exit(2);
}
const files = globSync(
  [
    "libs/*/{src,test}/**/*.test.ts",
    "services/*/{src,test}/**/*.test.ts",
    "test/**/*.test.ts",
    "deploy/grafana/test/**/*.test.ts",
  ],
  {
    cwd: root,
    exclude: (p) => p.includes("node_modules"),
  },
)
  .filter(pick)
  .filter((f) => !only || f.includes(only))
  .sort();
if (files.length === 0) {
  console.error(`run-tests: no test files in group "${group}"`);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ["--test", "--test-reporter=spec", `--test-concurrency=${process.env.TEST_CONCURRENCY ?? "2"}`, ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(r.status ?? 1);
