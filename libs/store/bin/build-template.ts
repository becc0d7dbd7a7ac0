/**
 * Builds the template new embedded data directories are made from (a PGlite
 * data directory right after initdb) when it is missing: a new directory is
 * a copy of its files, made on disk, while running initdb inside WebAssembly
 * peaks at ~700 MB. scripts/setup.sh runs this once per PGlite version.
 * Usage: node libs/store/bin/build-template.ts [--force]
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildTemplate, templatePath } from "../src/embedded.ts";

const path = templatePath();
if (existsSync(join(path, "PG_VERSION")) && !process.argv.includes("--force")) process.exit(0);
await buildTemplate(path);
console.error(`setup: built the embedded store's template ${path}`);
