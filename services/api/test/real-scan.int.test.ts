/**
 * A real scan of the 24 seed domains against the testbed (`danesweep scan`,
 * resolver 127.53.53.53, --allow-private) into a PGlite directory, then
 * queried through the API. The testbed is brought up when needed (idempotent)
 * and left running. Expected outcomes are the write-up's (SEED_EXPECTED).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { openStore } from "@danesweep/store";
import { SEED_EXPECTED } from "../../../libs/dane/test/fixtures/seed-cases.ts";
import { buildApp } from "../src/app.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const dataDir = mkdtempSync(join(tmpdir(), "danesweep-api-scan-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

test("a real scan of the 24 seed domains, queried through the API", { timeout: 600_000 }, async () => {
  execFileSync(join(root, "test/testbed/bin/testbed"), ["up"], { stdio: ["ignore", "ignore", "inherit"] });
  const domains = Array.from({ length: 24 }, (_, i) => `test${i + 1}.testing`);
  execFileSync(
    process.execPath,
    [
      join(root, "services/cli/src/main.ts"),
      "scan",
      "--data",
      dataDir,
      "--resolver",
      "127.53.53.53",
      "--allow-private",
      "--quiet",
      "--format",
      "jsonl",
      ...domains,
    ],
    { stdio: ["ignore", "ignore", "inherit"], timeout: 300_000 },
  );
  const store = await openStore({ dataDir });
  const app = buildApp({ store, auth: { readRequiresToken: false }, rateLimit: false });
  try {
    const scans = (await app.inject("/v1/scans")).json().items as { id: string; state: string }[];
    assert.equal(scans.length, 1);
    const scanId = scans[0]?.id as string;
    const s = (await app.inject(`/v1/scans/${scanId}`)).json();
    assert.equal(s.progress.judged, 24);
    for (const [i, d] of domains.entries()) {
      const res = await app.inject(`/v1/domains/${d}`);
      assert.equal(res.statusCode, 200, d);
      const v = res.json().verdict.verdict;
      const want = SEED_EXPECTED[i + 1];
      assert.equal(v.action, want?.action, d);
      assert.equal(v.security, want?.security, d);
      if (want?.host) assert.equal(v.host, want.host, d);
    }
    const defers = (await app.inject(`/v1/scans/${scanId}/results?action=defer&limit=100`)).json().items as {
      domain: string;
    }[];
    assert.deepEqual(
      defers.map((x) => x.domain),
      domains.filter((_, i) => SEED_EXPECTED[i + 1]?.action === "defer").sort(),
    );
    // Every deferral of the write-up is a DANE failure, so each is on the broken list.
    const broken = (await app.inject(`/v1/broken?scan=${scanId}&limit=100`)).json().items as {
      domain: string;
    }[];
    for (const d of defers)
      assert.ok(
        broken.some((b) => b.domain === d.domain),
        `${d.domain} listed broken`,
      );
  } finally {
    await app.close();
    await store.close();
  }
});
