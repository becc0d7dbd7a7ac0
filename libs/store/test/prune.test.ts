/**
 * The prune suite on PGlite, in a new temporary data directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { openMigratedDatabase } from "../src/db.ts";
import { pruneSuite } from "./prune-suite.ts";

const dataDir = mkdtempSync(join(tmpdir(), "danesweep-prune-store-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

pruneSuite("pglite", () => openMigratedDatabase({ dataDir }));
