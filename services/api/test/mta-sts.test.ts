/**
 * The MTA-STS judgement through the API over PGlite: a domain's facts with
 * MTA-STS and TLS-RPT lookups, its probes and its policy fetch stored as the
 * pipeline stores them (upsertProbes, storeJudged), its verdict judged by
 * libs/dane against a test root. GET /v1/domains/{domain} gives the record's
 * `mtaSts` and, among the probes, the policy fetch with the policy served;
 * the results' JSON page and CSV carry the judgement's main fields. Expected
 * values: what RFC 8461 makes of the domain (an enforce policy whose only MX
 * presents a self-signed certificate that its DANE-EE record matches).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { judge, probeKeyString, trustStore } from "@danesweep/dane";
import { newScanId, openStore, type Store } from "@danesweep/store";
import type { FastifyInstance } from "fastify";
import { makeChain, makeSelfSigned, tlsaFor } from "../../../libs/dane/test/certs.ts";
import { mxDomain, probeTls, simpleHost } from "../../../libs/dane/test/fixtures/build.ts";
import { policyFetch, withMailPolicies } from "../../../libs/dane/test/fixtures/mta-sts.ts";
import { buildApp } from "../src/app.ts";

const D = "example.com";
const MX = "mx.example.com";
const POLICY = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n";

describe("MTA-STS through the API", () => {
  let store: Store;
  let app: FastifyInstance;
  let scanId: string;

  before(async () => {
    store = await openStore({ memory: true });
    const ca = makeChain({ intermediates: 1, leafNames: [`mta-sts.${D}`] });
    const trust = trustStore("test root", [ca.root.pem]);
    assert.ok(trust.ok);
    const self = makeSelfSigned([MX]);
    const facts = withMailPolicies(
      mxDomain(D, [simpleHost(MX, 10, { v4: ["192.0.2.1"], tlsa: [tlsaFor(3, 1, 1, self)] })]),
      {
        sts: ["v=STSv1; id=7"],
        hostV4: ["192.0.2.80"],
      },
    );
    const probes = [
      probeTls("192.0.2.1", MX, [self.b64]),
      policyFetch("192.0.2.80", `mta-sts.${D}`, ca.chain, { body: POLICY }),
    ];
    const byKey = new Map(probes.map((p) => [probeKeyString(p), p]));
    const record = judge(facts, (k) => byKey.get(probeKeyString(k)), { now: Date.now(), trust: trust.store });
    scanId = newScanId(new Date());
    await store.createScan({ id: scanId, parameters: {}, startedAt: new Date().toISOString() });
    await store.upsertProbes(scanId, probes);
    await store.storeJudged(scanId, [{ facts, record }]);
    app = buildApp({ store, auth: { readRequiresToken: false }, rateLimit: false });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  test("GET /v1/domains/{domain}: the judgement, and the policy fetch among the probes", async () => {
    const r = await app.inject(`/v1/domains/${D}`);
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json() as {
      verdict: { verdict: { action: string }; mtaSts: Record<string, unknown> };
      probes: { kind?: string; port: number; http?: { status: number; body?: string } }[];
    };
    assert.equal(body.verdict.verdict.action, "deliver", "DANE-EE authenticates the self-signed certificate");
    assert.equal(body.verdict.mtaSts.policy, "valid");
    assert.deepEqual(body.verdict.mtaSts.outcome, { action: "defer", reason: "certificate-invalid" });
    assert.deepEqual(body.verdict.mtaSts.contradictions, [
      "enforce-certificate-invalid",
      "dane-delivers-mta-sts-defers",
    ]);
    const fetch = body.probes.find((p) => p.kind === "mta-sts-policy");
    assert.ok(fetch, "the policy fetch is served with the verdict's probes");
    assert.equal(fetch.port, 443);
    assert.deepEqual([fetch.http?.status, fetch.http?.body], [200, POLICY]);
    assert.equal(body.probes.length, 2);
  });

  test("results: the JSON page and the CSV carry the judgement's main fields", async () => {
    const page = (await app.inject(`/v1/scans/${scanId}/results`)).json() as {
      items: Record<string, unknown>[];
    };
    const row = page.items[0]!;
    assert.deepEqual(
      [
        row.mtaStsPolicy,
        row.mtaStsMode,
        row.mtaStsOutcome,
        row.mtaStsReason,
        row.mtaStsContradictions,
        row.tlsRpt,
      ],
      [
        "valid",
        "enforce",
        "defer",
        "certificate-invalid",
        ["enforce-certificate-invalid", "dane-delivers-mta-sts-defers"],
        "none",
      ],
    );
    const csv = await app.inject({ url: `/v1/scans/${scanId}/results`, headers: { accept: "text/csv" } });
    const line = csv.body.split("\r\n")[1]!;
    assert.ok(
      line.endsWith(
        ",valid,enforce,defer,certificate-invalid,enforce-certificate-invalid dane-delivers-mta-sts-defers,none",
      ),
      line,
    );
  });
});
