/**
 * POST /v1/scans on a deployment: `danesweep serve --kafka` seeds the scan
 * onto Kafka, the resolver, prober and aggregator services (separate
 * processes) scan it, the server marks it finished, and the API serves the
 * verdicts — the write-up's outcome for the 24 reference domains.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { seedCases } from "@danesweep/testbed";
import {
  Deployment,
  ensureTestbed,
  type PrivateKafka,
  privateKafka,
  ROOT,
  waitFor,
} from "../faults/harness.ts";
import { freshDatabase, runCli } from "./cli.ts";

const cases = seedCases();
let dir: string;
let kafka: PrivateKafka;
let db: { url: string; drop: () => Promise<void> };

before(async () => {
  ensureTestbed();
  dir = mkdtempSync(join(tmpdir(), "danesweep-api-kafka-"));
  kafka = privateKafka("api");
  db = await freshDatabase();
});

after(async () => {
  kafka?.down();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

function serve(args: string[]): { child: ChildProcess; address: Promise<string> } {
  const child = spawn(process.execPath, [`${ROOT}services/cli/src/main.ts`, "serve", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const address = new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      const m = /API on (http:\/\/[^\s]+) /.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  return { child, address };
}

test("POST /v1/scans through the seeder on Kafka: scanned by the services, finished, served", {
  timeout: 300_000,
}, async () => {
  const dep = new Deployment({ brokers: kafka.bootstrap, databaseUrl: db.url, logDir: join(dir, "logs") });
  const api = serve(["--database", db.url, "--kafka", kafka.bootstrap, "--port", "0"]);
  try {
    await dep.startAll();
    const base = await api.address;
    const tok = await runCli(["token", "create", "--name", "e2e", "--scope", "scan", "--database", db.url]);
    assert.equal(tok.code, 0, tok.stderr);
    const token = /ds_[A-Za-z0-9_-]+/.exec(tok.stdout)?.[0];
    assert.ok(token, tok.stdout);

    const denied = await fetch(`${base}/v1/scans`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ domains: ["test1.testing"] }),
    });
    assert.equal(denied.status, 401);

    const res = await fetch(`${base}/v1/scans`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ domains: cases.map((c) => c.domain) }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    const { scanId } = (await res.json()) as { scanId: string };

    const scan = await waitFor(
      `scan ${scanId} finished`,
      async () => {
        const s = (await (await fetch(`${base}/v1/scans/${scanId}`)).json()) as { state: string };
        return s.state === "finished" ? s : undefined;
      },
      240_000,
      500,
    );
    assert.equal(scan.state, "finished");
    for (const c of cases) {
      const r = (await (await fetch(`${base}/v1/domains/${c.domain}`)).json()) as {
        scanId: string;
        verdict: { verdict: { action: string; security?: string; host?: string } };
      };
      assert.equal(r.scanId, scanId, c.domain);
      assert.equal(r.verdict.verdict.action, c.expected.action, `case ${c.case}`);
      if (c.expected.action === "deliver") {
        assert.equal(r.verdict.verdict.security, c.expected.security, `case ${c.case}`);
        assert.equal(r.verdict.verdict.host, c.expected.host, `case ${c.case}`);
      }
    }
  } finally {
    api.child.kill("SIGTERM");
    await dep.stop();
  }
});
