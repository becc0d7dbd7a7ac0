/**
 * MTA-STS and change events through the scale-out pipeline: the resolver,
 * prober and aggregator services as separate processes on a real Apache Kafka
 * (a broker of this test's own) and PostgreSQL, seeded and followed by
 * `danesweep scan --kafka`. The resolver requests the policy fetches, the
 * prober makes them (once per policy host), the aggregator judges with the
 * trust store of DANESWEEP_MTA_STS_CA: the judgements must be the testbed's
 * expected ones (as in the embedded run, mta-sts.e2e.test.ts).
 *
 * Change events: flop.testing (test/testbed/src/changes.ts) has one MX host
 * with TLSA 3 1 1 of the testbed's certificate B, on an address where this
 * test runs its own SMTP server. A first scan by the embedded CLI in the same
 * database sees it present certificate B (DANE valid); then the server
 * presents certificate A, which no record matches, and the deployment's scan
 * records a real "newly-broken" event (valid -> invalid, tlsa-mismatch) when
 * it finishes (docs/rules.md rules 49-51).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { changesPage, openStore } from "@danesweep/store";
import { type SmtpServerHandle, startSmtpServer } from "@danesweep/test-smtp";
import {
  CHANGE_CASES,
  changeCaseNames,
  mtaStsCases,
  SMTP_PORT,
  STS_POLICY_SERVER,
  testbedState,
} from "@danesweep/testbed";
import { Deployment, type PrivateKafka, privateKafka, startKafkaScan } from "../faults/harness.ts";
import { ensureTestbed, freshDatabase, parseJsonl, runCli, TESTBED_SCAN, waitForRecords } from "./cli.ts";
import { checkMtaSts, waitForMtaStsRecords } from "./mta-sts-helpers.ts";

const domains = mtaStsCases().map((c) => c.domain);
const FLOP = CHANGE_CASES.kafka;

let dir: string;
let server: SmtpServerHandle | undefined;

/** flop.testing's MX host, presenting certificate A or B of the testbed. */
async function serve(cert: "A" | "B"): Promise<void> {
  await server?.close();
  const files = testbedState().certs[cert];
  server = await startSmtpServer({
    host: FLOP.address,
    port: SMTP_PORT,
    hostname: FLOP.mx,
    mode: "starttls",
    cert: readFileSync(files.chain),
    key: readFileSync(files.key),
  });
}
let kafka: PrivateKafka;
let db: { url: string; drop: () => Promise<void> };

before(async () => {
  ensureTestbed();
  await waitForMtaStsRecords();
  await waitForRecords(changeCaseNames(FLOP), "the change-event records (test/testbed/src/changes.ts)");
  dir = mkdtempSync(join(tmpdir(), "danesweep-mtasts-kafka-"));
  kafka = privateKafka("mtasts");
  db = await freshDatabase();
});

after(async () => {
  await server?.close();
  kafka?.down();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

test("MTA-STS judged by the services on Kafka; the deployment's scan records its change events", {
  timeout: 600_000,
}, async () => {
  // The previous scan, in the same database: flop.testing's host presents certificate B (DANE valid).
  await serve("B");
  const first = await runCli([
    "scan",
    ...TESTBED_SCAN,
    "--database",
    db.url,
    "--format",
    "jsonl",
    FLOP.domain,
  ]);
  assert.equal(first.code, 0, first.stderr);
  const before1 = parseJsonl(first.stdout)[0];
  assert.deepEqual([before1?.dane, before1?.problems], ["valid", []]);
  // Then it presents certificate A, which the TLSA record does not match.
  await serve("A");

  const dep = new Deployment({
    brokers: kafka.bootstrap,
    databaseUrl: db.url,
    logDir: join(dir, "logs"),
    env: { DANESWEEP_MTA_STS_CA: testbedState().mtaSts.caFile },
  });
  try {
    await dep.startAll();
    const file = join(dir, "seed.txt");
    writeFileSync(file, `${[...domains, FLOP.domain].join("\n")}\n`);
    const r = await startKafkaScan(kafka.bootstrap, db.url, file).done;
    assert.equal(r.code, 0, `${r.stderr}\n${dep.tails()}`);
    const got = parseJsonl(r.stdout);
    checkMtaSts(got.filter((v) => v.domain !== FLOP.domain));
    for (const v of got) if (v.mtaSts) assert.equal(v.mtaSts.trust, `file:${testbedState().mtaSts.caFile}`);

    // One fetch per policy host, through the prober's dialer (its probe log), none twice.
    const fetches = dep.dials().filter((d) => d.ip === STS_POLICY_SERVER.address && d.port === 443);
    assert.deepEqual(fetches.map((d) => d.sni).sort(), domains.map((d) => `mta-sts.${d}`).sort());

    // The deployment's prober reached this test's server, as the host named in the MX (SNI).
    assert.ok(server!.sessions().some((x) => x.tls && x.servername === FLOP.mx));
    // The deployment's scan compared flop.testing with the CLI's scan: newly broken.
    assert.match(r.stderr, /changes since the previous scans: 1 event \(1 domain compared\)/);
    const store = await openStore({ url: db.url });
    try {
      const ev = await changesPage(store, { domain: FLOP.domain }, { limit: 10 });
      assert.deepEqual(
        ev.map((e) => [e.kind, e.dane.before, e.dane.after, e.problems.after]),
        [["newly-broken", "valid", "invalid", ["tlsa-mismatch"]]],
      );
      const flop = got.find((v) => v.domain === FLOP.domain)!;
      assert.equal(ev[0]!.since, flop.judgedAt);
      assert.equal(ev[0]!.scanId, flop.scan);
      assert.equal(ev[0]!.previousScanId, before1!.scan);
    } finally {
      await store.close();
    }
  } finally {
    const stopped = await dep.stop();
    for (const s of stopped) assert.equal(s.code, 0, `${s.name} stopped cleanly on SIGTERM`);
  }
});
