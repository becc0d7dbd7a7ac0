/**
 * The export suite on PGlite, in a temporary data directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { openStoreHandle } from "../src/export.ts";
import { exportSuite } from "./export-suite.ts";

const dataDir = mkdtempSync(join(tmpdir(), "danesweep-export-store-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

exportSuite("pglite", () => openStoreHandle({ dataDir }));
