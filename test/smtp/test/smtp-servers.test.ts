/**
 * The smtp-servers CLI: a bad config exits 2 with the reason. (That it starts
 * the configured servers, records connections and stops on SIGTERM is tested
 * with a real probe in libs/probe/test/smtp-servers-cli.test.ts, so that this
 * package needs nothing of libs/probe.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../bin/smtp-servers.ts", import.meta.url));

test("a bad config exits 2 with the reason", () => {
  const dir = mkdtempSync(join(tmpdir(), "ds-smtp-cli-"));
  try {
    writeFileSync(
      join(dir, "bad.json"),
      JSON.stringify({ servers: [{ host: "127.0.0.1", port: 0, mode: "nope" }] }),
    );
    const r = spawnSync(process.execPath, [cli, "--config", join(dir, "bad.json")], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown mode "nope"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
