/**
 * The store suite on PGlite, in a temporary data directory (reopened by the
 * suite to check persistence and migrations on reopen), plus scan ids.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { newScanId, scanIdFrom } from "../src/ids.ts";
import { openStore } from "../src/store.ts";
import { storeSuite } from "./suite.ts";

const dataDir = mkdtempSync(join(tmpdir(), "danesweep-store-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

storeSuite("pglite", () => openStore({ dataDir }));

test("scan ids: ULID layout, sortable by time", () => {
  // ULID README example: ulid(1469918176385) starts "01ARYZ6S41".
  assert.equal(scanIdFrom(1469918176385, new Uint8Array(10)).slice(0, 10), "01ARYZ6S41");
  assert.equal(scanIdFrom(0, new Uint8Array(10).fill(255)), `0000000000${"Z".repeat(16)}`);
  const a = newScanId(new Date("2024-01-01T00:00:00Z"));
  const b = newScanId(new Date("2024-01-01T00:00:00.001Z"));
  assert.equal(a.length, 26);
  assert.match(a, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.ok(a < b);
});
