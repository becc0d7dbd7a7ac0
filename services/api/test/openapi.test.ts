/**
 * The API's contract: the OpenAPI document the app serves passes `redocly
 * lint` with its recommended rules and no error (with reads public and with
 * reads behind a token); every operation has its own operationId, made from
 * the route (openapi.ts), so routes added later get one too; and the types
 * the tests' client is built on (openapi.gen.ts) are generated from this
 * document: when a route's schema changes, this test names the command that
 * regenerates them.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { completeOpenApi, operationIdOf } from "../src/openapi.ts";
import { generatedTypes, servedSpec, TYPES_FILE } from "./openapi-gen.ts";

const require = createRequire(import.meta.url);
const redoclyPkg = require.resolve("@redocly/cli/package.json");
const redocly = join(
  dirname(redoclyPkg),
  (JSON.parse(readFileSync(redoclyPkg, "utf8")) as { bin: { redocly: string } }).bin.redocly,
);

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

function lint(spec: object): LintReport {
  const dir = mkdtempSync(join(tmpdir(), "ds-openapi-"));
  try {
    const file = join(dir, "openapi.json");
    writeFileSync(file, JSON.stringify(spec));
    const r = spawnSync(
      process.execPath,
      [redocly, "lint", file, "--extends", "recommended", "--format", "json"],
      {
        encoding: "utf8",
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
        timeout: 120_000,
      },
    );
    assert.ok(r.stdout.trim().startsWith("{"), `redocly printed no report: ${r.stderr}`);
    return JSON.parse(r.stdout) as LintReport;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const readRequiresToken of [false, true]) {
  test(`redocly lint (recommended): no error in /openapi.json (reads ${readRequiresToken ? "need a token" : "public"})`, async () => {
    const report = lint(await servedSpec({ readRequiresToken }));
    const errors = report.problems.filter((p) => p.severity === "error");
    assert.deepEqual(
      errors.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`),
      [],
    );
    assert.equal(report.totals.errors, 0);
    // Left: info-license (the project states no licence yet).
    assert.deepEqual(
      report.problems.map((p) => p.ruleId),
      ["info-license"],
    );
  });
}

test("every operation has an operationId of its own, made from its method and path", async () => {
  const spec = (await servedSpec()) as { paths: Record<string, Record<string, { operationId?: string }>> };
  const ids: string[] = [];
  for (const [path, item] of Object.entries(spec.paths))
    for (const [method, op] of Object.entries(item)) {
      assert.equal(op.operationId, operationIdOf(method, path), `${method} ${path}`);
      ids.push(op.operationId as string);
    }
  assert.equal(new Set(ids).size, ids.length, "unique");
  assert.ok(ids.includes("getScansByIdResults") && ids.includes("headScansByIdResults"), ids.join(" "));
  assert.equal(operationIdOf("post", "/v1/scans"), "postScans");
  assert.equal(operationIdOf("get", "/v1/domains/:domain"), "getDomainsByDomain");
  assert.equal(
    operationIdOf("delete", "/v1/scans/{scan_id}/rejudge-runs/{id}"),
    "deleteScansByScanIdRejudgeRunsById",
  );
  // A route that names its own keeps it; GET and HEAD of one route get their own.
  const shared = { summary: "x" };
  const done = completeOpenApi({
    paths: { "/v1/a": { get: shared, head: shared, post: { operationId: "mine" } } },
  });
  assert.deepEqual(
    Object.values(done.paths["/v1/a"] as unknown as Record<string, { operationId: string }>).map(
      (o) => o.operationId,
    ),
    ["getA", "headA", "mine"],
  );
  assert.equal(shared.summary, "x");
  assert.equal((shared as { operationId?: string }).operationId, undefined, "the input is not changed");
});

test("the client types are generated from the served document (node services/api/test/openapi-gen.ts)", async () => {
  const want = await generatedTypes(await servedSpec());
  assert.ok(
    readFileSync(TYPES_FILE, "utf8") === want,
    "services/api/test/openapi.gen.ts is stale: regenerate it",
  );
});
