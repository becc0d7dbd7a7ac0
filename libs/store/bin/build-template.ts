/**
 * Builds the template new embedded data directories are made from (a PGlite
 * data directory right after initdb, as a gzip tarball) when it is missing:
 * creating a directory from it peaks at ~380 MB, running initdb inside
 * WebAssembly at ~700 MB. scripts/setup.sh runs this once per PGlite version.
 * Usage: node libs/store/bin/build-template.ts [--force]
 */
import { existsSync } from "node:fs";
import { buildTemplate, templatePath } from "../src/embedded.ts";

const path = templatePath();
if (existsSync(path) && !process.argv.includes("--force")) process.exit(0);
await buildTemplate(path);
console.error(`setup: built the embedded store's template ${path}`);
