/**
 * MTA-STS and change events through the scale-out pipeline: the resolver,
 * prober and aggregator services as separate processes on a real Apache Kafka
 * (a broker of this test's own) and PostgreSQL, seeded and followed by
 * `danesweep scan --kafka`. The resolver requests the policy fetches, the
 * prober makes them (once per policy host), the aggregator judges with the
 * trust store of DANESWEEP_MTA_STS_CA: the judgements must be the testbed's
 * expected ones (as in the embedded run, mta-sts.e2e.test.ts). A first scan
 * of test1.testing stored by the embedded CLI in the same database, with its
 * failing primary MX left out, makes the deployment's scan record a
 * "newly-broken" event when it finishes.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { changesPage, openStore } from "@danesweep/store";
import { mtaStsCases, SMTP_HOSTS, STS_POLICY_SERVER, testbedState } from "@danesweep/testbed";
import { Deployment, type PrivateKafka, privateKafka, startKafkaScan } from "../faults/harness.ts";
import { ensureTestbed, freshDatabase, parseJsonl, runCli, TESTBED_SCAN } from "./cli.ts";
import { checkMtaSts, waitForMtaStsRecords } from "./mta-sts-helpers.ts";

const domains = mtaStsCases().map((c) => c.domain);

let dir: string;
let kafka: PrivateKafka;
let db: { url: string; drop: () => Promise<void> };

before(async () => {
  ensureTestbed();
  await waitForMtaStsRecords();
  dir = mkdtempSync(join(tmpdir(), "danesweep-mtasts-kafka-"));
  kafka = privateKafka("mtasts");
  db = await freshDatabase();
});

after(async () => {
  kafka?.down();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

test("MTA-STS judged by the services on Kafka; the deployment's scan records its change events", {
  timeout: 600_000,
}, async () => {
  // The previous scan, in the same database: test1.testing without its failing primary (DANE valid).
  const optOut = join(dir, "opt-out.txt");
  writeFileSync(optOut, `${SMTP_HOSTS.mismatch.address}\n`);
  const first = await runCli([
    "scan",
    ...TESTBED_SCAN,
    "--opt-out",
    optOut,
    "--database",
    db.url,
    "--format",
    "jsonl",
    "test1.testing",
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(parseJsonl(first.stdout)[0]?.dane, "valid");

  const dep = new Deployment({
    brokers: kafka.bootstrap,
    databaseUrl: db.url,
    logDir: join(dir, "logs"),
    env: { DANESWEEP_MTA_STS_CA: testbedState().mtaSts.caFile },
  });
  try {
    await dep.startAll();
    const file = join(dir, "seed.txt");
    writeFileSync(file, `${[...domains, "test1.testing"].join("\n")}\n`);
    const r = await startKafkaScan(kafka.bootstrap, db.url, file).done;
    assert.equal(r.code, 0, `${r.stderr}\n${dep.tails()}`);
    const got = parseJsonl(r.stdout);
    checkMtaSts(got.filter((v) => v.domain !== "test1.testing"));
    for (const v of got) if (v.mtaSts) assert.equal(v.mtaSts.trust, `file:${testbedState().mtaSts.caFile}`);

    // One fetch per policy host, through the prober's dialer (its probe log), none twice.
    const fetches = dep.dials().filter((d) => d.ip === STS_POLICY_SERVER.address && d.port === 443);
    assert.deepEqual(fetches.map((d) => d.sni).sort(), domains.map((d) => `mta-sts.${d}`).sort());

    // The deployment's scan compared test1.testing with the CLI's scan: newly broken.
    assert.match(r.stderr, /changes since the previous scans: 1 event \(1 domain compared\)/);
    const store = await openStore({ url: db.url });
    try {
      const ev = await changesPage(store, { domain: "test1.testing" }, { limit: 10 });
      assert.deepEqual(
        ev.map((e) => [e.kind, e.dane.before, e.dane.after, e.problems.after]),
        [["newly-broken", "valid", "partial", ["tlsa-mismatch"]]],
      );
      const test1 = got.find((v) => v.domain === "test1.testing")!;
      assert.equal(ev[0]!.since, test1.judgedAt);
      assert.equal(ev[0]!.scanId, test1.scan);
    } finally {
      await store.close();
    }
  } finally {
    const stopped = await dep.stop();
    for (const s of stopped) assert.equal(s.code, 0, `${s.name} stopped cleanly on SIGTERM`);
  }
});
