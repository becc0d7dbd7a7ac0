/**
 * The risks of issue 14 end to end (libs/dane rules 37-40), through the real
 * test universe: consisttesting. served by two Knot instances that disagree
 * (and a third server that never answers), a server with an ECDSA and an RSA
 * certificate, a leaf about to expire, a 3 0 1 record, a DANE-TA record of an
 * intermediate (test/testbed src/risk.ts). Through `bin/danesweep scan` on the
 * embedded store, `show`, and through the services on Kafka, which must find
 * the same risks. Expected risks are the testbed's description of each case
 * (RISK_CASES), written from the rules, never from the engine's output.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { RISKS } from "@danesweep/dane";
import { openStore } from "@danesweep/store";
import { CONSIST_NS2, RISK_CASES } from "@danesweep/testbed";
import { buildApp } from "../../services/api/src/app.ts";
import { Deployment, type PrivateKafka, privateKafka, startKafkaScan } from "../faults/harness.ts";
import { ensureTestbed, freshDatabase, type JsonVerdict, parseJsonl, runCli, TESTBED_SCAN } from "./cli.ts";

const SPLIT = "split.consisttesting";
const domains = [...RISK_CASES.map((c) => c.domain), SPLIT];
let dir: string;

before(() => {
  ensureTestbed();
  dir = mkdtempSync(join(tmpdir(), "danesweep-risks-e2e-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** What every run must say of the risk domains. */
function checkRisks(got: JsonVerdict[]): void {
  const by = new Map(got.map((v) => [v.domain, v]));
  for (const c of RISK_CASES) {
    const v = by.get(c.domain);
    assert.ok(v, c.domain);
    // A risk never changes the verdict: each of these delivers authenticated.
    assert.deepEqual(
      [v.verdict.action, v.verdict.security, v.dane, v.problems],
      ["deliver", "dane-verified", "valid", []],
    );
    assert.deepEqual(v.risks, c.risks, c.domain);
    assert.equal(v.consistency?.state, "consistent", `${c.domain}: one server, which agrees`);
  }
  const latent = by.get("latent.testing")!.latent;
  assert.deepEqual(
    latent?.map((l) => [l.host, l.offered, l.keyType]),
    [["dual.testing", "rsa", "rsa"]],
  );
  const s = by.get(SPLIT)!;
  assert.deepEqual([s.verdict.action, s.verdict.security], ["deliver", "dane-verified"]);
  assert.equal(s.consistency?.state, "inconsistent");
  const servers = new Map(s.consistency!.servers.map((x) => [x.server, x]));
  // The validated RRset is whichever server the resolver asked: the other one differs.
  const differs = [...servers.values()]
    .filter((x) => x.reasons.includes("rrset-differs"))
    .map((x) => x.server);
  assert.equal(differs.length, 1, differs.join(" "));
  assert.ok(["ns1.consisttesting", "ns2.consisttesting"].includes(differs[0]!), differs[0]);
  assert.ok(servers.get("ns2.consisttesting")?.reasons.includes("rrsig-expiring"));
  assert.ok(!servers.get("ns1.consisttesting")?.reasons.includes("rrsig-expiring"));
  assert.equal(servers.get("ns2.consisttesting")?.address, CONSIST_NS2.address);
  assert.deepEqual(servers.get("ns3.consisttesting")?.reasons, ["server-unresponsive"]);
  for (const r of ["tlsa-inconsistent", "rrsig-expiring", "nameserver-unresponsive"] as const) {
    assert.ok(s.risks?.includes(r), r);
  }
}

/** Seed domains beside the risk cases: DANE domains with and without risks, and not DANE at all. */
const OTHERS = ["test1.testing", "test2.testing", "test13.testing", "test5.testing", "test19.testing"];

test("danesweep scan finds each risk, show prints it, /v1/stats/risk counts it", {
  timeout: 180_000,
}, async () => {
  const data = join(dir, "pglite");
  const r = await runCli([
    "scan",
    ...TESTBED_SCAN,
    "--data",
    data,
    "--format",
    "jsonl",
    ...domains,
    ...OTHERS,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const got = parseJsonl(r.stdout);
  assert.equal(got.length, domains.length + OTHERS.length);
  checkRisks(got);

  // The API's share of DANE domains at risk, against the printed records themselves.
  const dane = got.filter((v) => v.dane === "valid" || v.dane === "partial");
  const atRisk = dane.filter((v) => (v.risks ?? []).length > 0);
  const byRisk: Record<string, number> = {};
  for (const v of dane) for (const x of v.risks ?? []) byRisk[x] = (byRisk[x] ?? 0) + 1;
  const store = await openStore({ dataDir: data });
  const app = buildApp({ store, auth: { readRequiresToken: false }, rateLimit: false });
  try {
    const res = await app.inject("/v1/stats/risk");
    assert.equal(res.statusCode, 200, res.body);
    const series = res.json().series as {
      daneDomains: number;
      atRisk: number;
      share: number;
      rolloverAtRisk: number;
      byRisk: Record<string, number>;
    }[];
    assert.equal(series.length, 1);
    const s = series[0]!;
    assert.equal(s.daneDomains, dane.length);
    assert.ok(
      s.daneDomains > atRisk.length - 1 && got.length > dane.length,
      "some domains are not DANE domains",
    );
    assert.equal(s.atRisk, atRisk.length);
    assert.equal(s.share, atRisk.length / dane.length);
    assert.equal(
      s.rolloverAtRisk,
      dane.filter((v) => (v.risks ?? []).some((x) => x.startsWith("rollover-"))).length,
    );
    assert.deepEqual(s.byRisk, byRisk);
    for (const k of Object.keys(s.byRisk)) assert.ok((RISKS as readonly string[]).includes(k), k);
  } finally {
    await app.close();
    await store.close();
  }
  const show = await runCli(["show", SPLIT, "--data", data]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /authoritative servers: inconsistent/);
  assert.match(
    show.stdout,
    /ns2\.consisttesting \[127\.53\.0\.3\]: answer, signatures until \S+ -> (rrset-differs, )?rrsig-expiring/,
  );
  const latent = await runCli(["show", "latent.testing", "--data", data]);
  assert.match(latent.stdout, /latent: dual\.testing \[127\.64\.93\.30\] to senders offering rsa/);
});

let kafka: PrivateKafka | undefined;
let db: { url: string; drop: () => Promise<void> } | undefined;
after(async () => {
  kafka?.down();
  await db?.drop();
});

test("the services on Kafka find the same risks", { timeout: 300_000 }, async () => {
  kafka = privateKafka("risks");
  db = await freshDatabase();
  const dep = new Deployment({ brokers: kafka.bootstrap, databaseUrl: db.url, logDir: join(dir, "logs") });
  try {
    await dep.startAll();
    const file = join(dir, "seed.txt");
    writeFileSync(file, `${domains.join("\n")}\n`);
    const run = startKafkaScan(kafka.bootstrap, db.url, file);
    const r = await run.done;
    assert.equal(r.code, 0, `${r.stderr}\n${dep.tails()}`);
    const got = parseJsonl(r.stdout);
    assert.equal(got.length, domains.length);
    checkRisks(got);
  } finally {
    await dep.stop();
  }
});

test("--rrsig-margin sets the margin; --skip-ns-check asks no authoritative server", {
  timeout: 120_000,
}, async () => {
  const data = join(dir, "pglite-options");
  const r = await runCli([
    "scan",
    ...TESTBED_SCAN,
    "--data",
    data,
    "--format",
    "jsonl",
    "--rrsig-margin",
    "0",
    SPLIT,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [v] = parseJsonl(r.stdout);
  // Knot keeps ns2's signatures unexpired: with no margin, none is expiring; the RRsets still differ.
  const reasons = v!.consistency?.servers.flatMap((x) => x.reasons) ?? [];
  assert.ok(!reasons.includes("rrsig-expiring"), reasons.join(" "));
  assert.ok(reasons.includes("rrset-differs"), reasons.join(" "));
  const skip = await runCli([
    "scan",
    ...TESTBED_SCAN,
    "--data",
    data,
    "--format",
    "jsonl",
    "--skip-ns-check",
    SPLIT,
  ]);
  assert.equal(skip.code, 0, skip.stderr);
  const [w] = parseJsonl(skip.stdout);
  assert.equal(w!.consistency, undefined);
  assert.deepEqual(w!.verdict, v!.verdict);
});
