/**
 * The export suite on PGlite, in a temporary data directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { openMigratedDatabase } from "../src/db.ts";
import { exportSuite } from "./export-suite.ts";

const dataDir = mkdtempSync(join(tmpdir(), "danesweep-export-store-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

exportSuite("pglite", () => openMigratedDatabase({ dataDir }));
