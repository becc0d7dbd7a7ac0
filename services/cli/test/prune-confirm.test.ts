/**
 * `danesweep prune` asking on a terminal: the command's run() with a standard
 * input that says it is a terminal, on an embedded store in a temporary
 * directory. "n" keeps the scan (exit 1); "y" prunes it (exit 0). Without a
 * terminal and without --yes it refuses (the e2e test runs that through
 * bin/danesweep). Also the byte sizes the export and prune summaries print.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { openMigratedDatabase, Store } from "@danesweep/store";
import { seedScanData, storeScan } from "../../../libs/store/test/scan-data.ts";
import { formatBytes } from "../src/commands/export.ts";
import { run } from "../src/commands/prune.ts";

const dir = mkdtempSync(join(tmpdir(), "danesweep-prune-confirm-"));
let scanId: string;
before(async () => {
  const handle = await openMigratedDatabase({ dataDir: dir });
  try {
    scanId = await storeScan(new Store(handle), seedScanData());
  } finally {
    await handle.close();
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

function terminal(answer: string) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  stdin.end(answer);
  let out = "";
  let err = "";
  const sink = (add: (s: string) => void) =>
    new PassThrough().on("data", (b: Buffer) => add(b.toString())) as NodeJS.WritableStream;
  return {
    io: {
      stdin,
      stdout: sink((s) => {
        out += s;
      }),
      stderr: sink((s) => {
        err += s;
      }),
    },
    out: () => out,
    err: () => err,
  };
}

async function stillThere(): Promise<boolean> {
  const handle = await openMigratedDatabase({ dataDir: dir });
  try {
    return (await new Store(handle).getScanRow(scanId)) !== undefined;
  } finally {
    await handle.close();
  }
}

test("answered no on a terminal: asked with what would go, nothing pruned", async () => {
  const t = terminal("n\n");
  assert.equal(await run([scanId, "--data", dir], t.io), 1);
  assert.match(
    t.err(),
    new RegExp(`Prune scan ${scanId} \\(finished, started .*: 24 verdicts, 25 probes\\)`),
  );
  assert.match(t.err(), /\[y\/N\] /);
  assert.match(t.err(), /not pruned/);
  assert.equal(t.out(), "");
  assert.ok(await stillThere());
});

test("answered yes on a terminal: pruned", async () => {
  const t = terminal("yes\n");
  assert.equal(await run([scanId, "--data", dir], t.io), 0, t.err());
  assert.match(t.out(), new RegExp(`pruned scan ${scanId}`));
  assert.equal(await stillThere(), false);
});

test("byte sizes in powers of 1000", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1000), "1.0 kB");
  assert.equal(formatBytes(8_798_331), "8.8 MB");
  assert.equal(formatBytes(-57_300), "-57.3 kB");
});
