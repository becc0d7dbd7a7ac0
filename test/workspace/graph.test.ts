/**
 * The workspace's package graph stays tidy (issue 13, item 6): no cycle
 * between workspace packages (pnpm only warns about one), and no declared
 * dependency that nothing in its package uses. Reads each package.json of
 * pnpm-workspace.yaml's globs and the package's own source files; pure file
 * reading, no install.
 */
import assert from "node:assert/strict";
import { globSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

interface Pkg {
  dir: string;
  name: string;
  deps: Record<string, string>;
}

function packages(): Pkg[] {
  const yaml = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const globs = [...yaml.matchAll(/^\s+-\s+"([^"]+)"/gm)].map((m) => m[1] as string);
  assert.ok(globs.length > 0, "pnpm-workspace.yaml lists packages");
  const dirs = globSync(
    globs.map((g) => `${g}/package.json`),
    { cwd: root },
  ).map((f) => dirname(f));
  return dirs.map((dir) => {
    const j = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    return { dir, name: j.name, deps: { ...j.dependencies, ...j.devDependencies } };
  });
}

test("no cycle between workspace packages", () => {
  const all = packages();
  const byName = new Map(all.map((p) => [p.name, p]));
  const edges = new Map(
    all.map((p) => [p.name, Object.keys(p.deps).filter((d) => byName.has(d) && d !== p.name)]),
  );
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (n: string): void => {
    if (state.get(n) === "done") return;
    if (state.get(n) === "open") {
      cycles.push([...path.slice(path.indexOf(n)), n].join(" -> "));
      return;
    }
    state.set(n, "open");
    path.push(n);
    for (const m of edges.get(n) ?? []) visit(m);
    path.pop();
    state.set(n, "done");
  };
  for (const p of all) visit(p.name);
  assert.deepEqual(cycles, []);
});

/**
 * Dependencies used without an import in the package's source: command-line
 * tools run by scripts, type-only packages, and drivers loaded by name.
 */
const USED_WITHOUT_IMPORT: Record<string, string> = {
  typescript: "tsc, run by the typecheck script",
  "@biomejs/biome": "the linter, run by the lint script",
  "@redocly/cli": "redocly lint of /openapi.json (services/api test)",
  "openapi-typescript": "generates services/api/test/openapi.gen.ts",
};

test("every declared dependency is used by its package", () => {
  const unused: string[] = [];
  for (const p of packages()) {
    const files = globSync(["**/*.{ts,mts,js,mjs,cjs}", "**/*.sh", "bin/*"], {
      cwd: join(root, p.dir),
      exclude: (f) => f.includes("node_modules"),
    });
    const manifest = readFileSync(join(root, p.dir, "package.json"), "utf8");
    const sources = files.map((f) => readFileSync(join(root, p.dir, f), "utf8")).join("\n");
    for (const d of Object.keys(p.deps)) {
      if (USED_WITHOUT_IMPORT[d]) continue;
      const typesOf = d.startsWith("@types/")
        ? d.slice("@types/".length).replace(/^(.+)__(.+)$/, "@$1/$2")
        : d;
      const quoted = new RegExp(`["'\`]${typesOf.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(/[^"'\`]*)?["'\`]`);
      if (quoted.test(sources)) continue;
      // a tool named in the package's scripts
      if (
        !d.startsWith("@types/") &&
        new RegExp(`"scripts"[\\s\\S]*\\b${d.split("/").pop()}\\b`).test(manifest)
      )
        continue;
      unused.push(`${p.dir}: ${d}`);
    }
  }
  assert.deepEqual(unused, []);
});
