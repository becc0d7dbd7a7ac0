/**
 * The change-events suite on PGlite, in a new temporary data directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { openMigratedDatabase } from "../src/db.ts";
import { changesSuite } from "./changes-suite.ts";

const dataDir = mkdtempSync(join(tmpdir(), "danesweep-changes-store-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

changesSuite("pglite", () => openMigratedDatabase({ dataDir }));
