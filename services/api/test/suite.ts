/**
 * The API test suite, run over PGlite (api.test.ts) and PostgreSQL
 * (api.int.test.ts): `apiSuite(name, open)` registers node:test tests on a
 * Store holding the two scans of fixtures.ts (stored once, before the tests).
 * Every endpoint goes through inject(): the requests and answers the
 * OpenAPI document describes through the typed client generated from it
 * (client.ts, openapi.gen.ts), so a test cannot ask for or read what the spec
 * does not say; what the client cannot express (malformed input, raw
 * headers, CSV and NDJSON exports, HEAD) through inject() itself. Expected
 * values come from the write-up's outcomes (fixtures.ts), from the rules of
 * RFC 7672 as the write-up applies them, or from tallies of the stored inputs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { type ClientRequest, type IncomingMessage, request } from "node:http";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { ApiQueries, newScanId, type Store, sql } from "@danesweep/store";
import type { FastifyInstance } from "fastify";
import { buildSeedCases } from "../../../libs/dane/test/fixtures/seed-cases.ts";
import { asStored } from "../../../libs/store/test/scan-data.ts";
import { type BuildAppOptions, buildApp, listen, type StartScan } from "../src/app.ts";
import { encodeCursor } from "../src/formats.ts";
import { PROBLEM_TYPE_BASE } from "../src/problem.ts";
import { createToken } from "../src/tokens.ts";
import { type ApiClient, apiClient } from "./client.ts";
import {
  judgeAndStore,
  loadUniverse,
  SCAN1_START,
  SCAN2_START,
  storeBulkScan,
  storeScan,
  tally,
  type Universe,
} from "./fixtures.ts";
import type { operations } from "./openapi.gen.ts";

/** The seeder's storage step: create the scan and seed its domains. */
export function seedingStarter(store: Store, now: () => Date = () => new Date()): StartScan {
  return async (domains, parameters) => {
    const at = now();
    const scanId = newScanId(at);
    await store.createScan({ id: scanId, parameters, startedAt: at.toISOString() });
    await store.seedDomains(
      scanId,
      domains.map((domain, i) => ({ domain, line: i + 1 })),
    );
    return { scanId };
  };
}

async function count(store: Store, table: "scans" | "scan_inputs" | "api_tokens" | "results") {
  const r = (await store.db.execute(sql`select count(*) as n from ${sql.identifier(table)}`)) as unknown as {
    rows: { n: string | number }[];
  };
  return Number(r.rows[0]?.n);
}

/** Query strings and JSON bodies of operations, as the OpenAPI document describes them. */
type Query<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;
type Json<Op extends keyof operations> = operations[Op]["responses"] extends {
  200: { content: { "application/json": infer B } };
}
  ? B
  : never;

/** A problem answered to the typed client: status, problem+json, its code and parameter. */
function assertClientProblem(
  r: { response: Response; error?: unknown },
  status: number,
  code: string,
  parameter?: string,
) {
  assert.equal(r.response.status, status, JSON.stringify(r.error));
  assert.match(String(r.response.headers.get("content-type")), /^application\/problem\+json/);
  const p = r.error as { type: string; status: number; parameter?: string };
  assert.equal(p.type, `${PROBLEM_TYPE_BASE}${code}`);
  assert.equal(p.status, status);
  if (parameter !== undefined) assert.equal(p.parameter, parameter);
  return p;
}

function assertProblem(
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  status: number,
  code: string,
  parameter?: string,
) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers["content-type"]), /^application\/problem\+json/);
  const p = JSON.parse(res.body) as { type: string; status: number; parameter?: string; title: string };
  assert.equal(p.type, `${PROBLEM_TYPE_BASE}${code}`);
  assert.equal(p.status, status);
  if (parameter !== undefined) assert.equal(p.parameter, parameter, res.body);
  return p;
}

/** The seed cases broken in scan 1, per problem (the write-up's failures, named by the RFC 7672 rule that fails):
 *  "DANE check failed" with a usable 3 0 1 record = a mismatch (2, 14, 16, 18, 22, 24; and case 1's primary);
 *  "no STARTTLS" where TLSA requires TLS (4, 6, 8, 10, 12; and case 3's primary); the TLSA timeout of case 20. */
const BROKEN_SCAN1: Record<number, string[]> = {
  1: ["tlsa-mismatch"],
  2: ["tlsa-mismatch"],
  3: ["starttls-missing"],
  4: ["starttls-missing"],
  6: ["starttls-missing"],
  8: ["starttls-missing"],
  10: ["starttls-missing"],
  12: ["starttls-missing"],
  14: ["tlsa-mismatch"],
  16: ["tlsa-mismatch"],
  18: ["tlsa-mismatch"],
  20: ["tlsa-lookup-failed"],
  22: ["tlsa-mismatch"],
  24: ["tlsa-mismatch"],
};
/** Scan 2: cases 2 and 4 repaired, case 13 newly broken (fixtures.ts). */
const BROKEN_SCAN2: Record<number, string[]> = (() => {
  const b = { ...BROKEN_SCAN1, 13: ["tlsa-mismatch"] };
  delete (b as Record<number, unknown>)[2];
  delete (b as Record<number, unknown>)[4];
  return b;
})();

const dom = (n: number) => `test${n}.testing`;

/** One sample of /metrics (a counter or gauge line, labels included). */
async function metric(app: FastifyInstance, series: string): Promise<number> {
  const body = (await app.inject("/metrics")).body;
  // Every series carries service="api", written after its own labels.
  const prefix = series.endsWith("}")
    ? `${series.slice(0, -1)},service="api"} `
    : `${series}{service="api"} `;
  const line = body.split("\n").find((l) => l.startsWith(prefix));
  assert.ok(line, `${series} in /metrics`);
  return Number(line.slice(prefix.length));
}

/** Resolves once `check` holds, asking again every 20 ms (the test's timeout bounds the wait). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

/** A GET over a real connection, resolved with the response once its headers are in; the body is not read. */
function openExport(
  address: string,
  path: string,
  accept: string,
): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  const u = new URL(path, address);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: { accept } });
    req.on("response", (res) => {
      res.pause();
      ok({ req, res });
    });
    req.on("error", fail);
    req.end();
  });
}

/** Sends raw bytes to a listening app and resolves with everything it answers until it closes. */
function rawExchange(address: string, bytes: string): Promise<string> {
  const u = new URL(address);
  return new Promise((ok, fail) => {
    let got = "";
    const s = connect({ host: u.hostname, port: Number(u.port) }, () => s.write(bytes));
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      got += d;
    });
    s.on("error", (e) => (got ? ok(got) : fail(e)));
    s.on("close", () => ok(got));
  });
}

/** Status, content type and problem code of a raw HTTP/1.1 answer. */
function rawProblem(answer: string): { status: number; type: string; code: string } {
  const [head = "", body = ""] = answer.split("\r\n\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]);
  const type = /^content-type: *(.*)$/im.exec(head)?.[1] ?? "";
  const code = String((JSON.parse(body) as { type: string }).type).slice(PROBLEM_TYPE_BASE.length);
  return { status, type, code };
}

/** Rows of the bulk scan (storeBulkScan): each NDJSON line is about 1.3 KB, 26 MB in all, far more than a
 *  paused client's socket buffers hold, so an export to a client that stops reading cannot finish. */
const BULK_ROWS = 20_000;
const BULK_REPEAT = 40;

export function apiSuite(name: string, open: () => Promise<Store>): void {
  describe(`api: ${name}`, () => {
    let store: Store;
    let u: Universe;
    let app: FastifyInstance;
    let api: ApiClient;
    let scanToken: string;
    let readToken: string;
    let revokedToken: string;
    const suffix = randomBytes(4).toString("hex");

    const bulk = `BULK-${suffix}`;
    const bulkResults = `/v1/scans/${bulk}/results`;
    /** An app over the same store with other options (listening when a test needs real connections). */
    const variant = (o: Partial<BuildAppOptions>) =>
      buildApp({ store, auth: { readRequiresToken: false }, rateLimit: false, ...o });

    before(async () => {
      store = await open();
      u = await loadUniverse(store, suffix);
      await storeBulkScan(store, bulk, BULK_ROWS, BULK_REPEAT);
      const q = new ApiQueries(store);
      scanToken = (
        await createToken(q, { name: `scan-${suffix}`, scopes: ["scan", "read"], now: new Date() })
      ).token;
      readToken = (await createToken(q, { name: `read-${suffix}`, scopes: ["read"], now: new Date() })).token;
      const revoked = await createToken(q, { name: `revoked-${suffix}`, scopes: ["scan"], now: new Date() });
      revokedToken = revoked.token;
      assert.deepEqual(await q.revokeToken(revoked.id, new Date().toISOString()), [revoked.id]);
      app = buildApp({
        store,
        auth: { readRequiresToken: false },
        startScan: seedingStarter(store),
        rateLimit: false,
      });
      await app.ready();
      api = apiClient(app);
    });
    after(async () => {
      await app?.close();
      await store?.close();
    });

    test("healthz, readyz, metrics, openapi.json and the docs page", async () => {
      assert.deepEqual((await app.inject("/healthz")).json(), { status: "ok" });
      assert.deepEqual((await api.GET("/v1/healthz")).data, { status: "ok" });
      assert.deepEqual((await api.GET("/v1/readyz")).data, { status: "ready" });
      await api.GET("/v1/domains/{domain}", { params: { path: { domain: dom(1) } } });
      const m = await api.GET("/v1/metrics", { parseAs: "text" });
      assert.match(String(m.response.headers.get("content-type")), /^text\/plain; version=0\.0\.4/);
      assert.match(
        m.data ?? "",
        /danesweep_api_requests_total\{route="\/v1\/domains\/:domain",method="GET",status="200",service="api"\} \d+/,
      );
      assert.match(m.data ?? "", /# TYPE danesweep_api_request_duration_seconds histogram/);
      const doc = (await app.inject("/openapi.json")).json() as {
        openapi: string;
        paths: Record<string, unknown>;
      };
      assert.equal(doc.openapi, "3.1.0");
      for (const p of [
        "/v1/domains/{domain}",
        "/v1/scans",
        "/v1/scans/{id}",
        "/v1/scans/{id}/results",
        "/v1/stats/adoption",
        "/v1/stats/providers",
        "/v1/broken",
        "/v1/metrics",
        "/v1/healthz",
        "/v1/readyz",
      ])
        assert.ok(doc.paths[p], `openapi has ${p}`);
      const docs = await app.inject("/docs/");
      assert.equal(docs.statusCode, 200);
      assert.match(docs.body, /swagger/i);
    });

    test("GET /v1/domains/{d}: the latest verdict with its facts and probes; history with changes", async () => {
      const domain = (d: string, history?: boolean) =>
        api.GET("/v1/domains/{domain}", {
          params: { path: { domain: d }, query: history === undefined ? {} : { history } },
        });
      for (const d of u.domains) {
        const res = await domain(d);
        assert.equal(res.response.status, 200, JSON.stringify(res.error));
        const b = res.data!;
        assert.equal(b.scanId, u.scan2);
        assert.equal(b.scanStartedAt, SCAN2_START);
        const want = u.expected[1].get(d);
        assert.equal(b.verdict.verdict.action, want?.action, d);
        assert.equal(b.verdict.verdict.security, want?.security, d);
        assert.deepEqual(b.verdict, u.records[1].get(d));
        assert.deepEqual(b.facts, asStored(u.facts[1].get(d)!)); // the stored form (libs/store codec.ts)
        assert.ok(b.verdict.explanation.length > 0);
        const probed = new Set(
          b.verdict.hosts.flatMap((h) => h.addresses.flatMap((a) => (a.probe ? [a.probe.ip] : []))),
        );
        assert.deepEqual(new Set(b.probes.map((p) => p.ip)), probed, d);
        assert.equal(b.history, undefined);
        // Chains come back as the prober sent them: base64 DER (a SEQUENCE, 0x30), not as stored hashes.
        for (const p of b.probes) {
          if (p.status !== "tls-ok") continue;
          assert.ok(p.tls && p.tls.chain.length > 0);
          for (const c of p.tls.chain) assert.equal(Buffer.from(c, "base64")[0], 0x30);
        }
      }
      // Names are case-insensitive; a trailing dot is the same name.
      const upper = await domain("TEST5.Testing.");
      assert.equal(upper.data?.domain, dom(5));

      const h1 = (await domain(dom(1), true)).data!;
      assert.deepEqual(
        h1.history?.map((e) => e.scanId),
        [u.scan1, u.scan2],
        "oldest first",
      );
      assert.deepEqual(
        h1.history?.map((e) => e.action),
        ["deliver", "defer"],
      );
      const [change, ...more] = h1.changes ?? [];
      assert.equal(more.length, 0);
      assert.equal(change?.scanId, u.scan2);
      assert.equal(change?.from.action, "deliver");
      assert.equal(change?.from.security, "dane-verified");
      assert.equal(change?.to.action, "defer");
      for (const d of u.domains) {
        const h = (await domain(d, true)).data;
        assert.equal(h?.changes?.length, u.changed.includes(d) ? 1 : 0, d);
      }
      assertClientProblem(await domain("never-scanned.example"), 404, "not-found");
    });

    test("GET /v1/scans and /v1/scans/{id}: state, progress, timings and counts", async () => {
      const list = (await api.GET("/v1/scans", { params: { query: { limit: 1000 } } })).data!;
      const ids = list.items.map((s) => s.id);
      assert.ok(ids.indexOf(u.scan2) >= 0 && ids.indexOf(u.scan2) < ids.indexOf(u.scan1), "newest first");
      // Paging through one at a time visits the same scans in the same order.
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Json<"getScans"> = (
          await api.GET("/v1/scans", { params: { query: { limit: 1, ...(cursor ? { cursor } : {}) } } })
        ).data!;
        seen.push(...page.items.map((s) => s.id));
        cursor = page.next;
      } while (cursor);
      assert.deepEqual(seen, ids);

      for (const [i, id] of [u.scan1, u.scan2].entries()) {
        const scan = { params: { path: { id } } };
        const s = (await api.GET("/v1/scans/{id}", scan)).data!;
        assert.equal(s.state, "finished");
        assert.equal(s.parameters, undefined, "parameters are for scan-scoped tokens only");
        const withScan = await api.GET("/v1/scans/{id}", {
          ...scan,
          headers: { authorization: `Bearer ${scanToken}` },
        });
        assert.deepEqual(withScan.data?.parameters, { source: "api-test" });
        assert.equal(s.timings.startedAt, i === 0 ? SCAN1_START : SCAN2_START);
        assert.equal(s.timings.elapsedMs, 60_000);
        assert.deepEqual(
          { domains: s.progress.domains, judged: s.progress.judged },
          { domains: 24, judged: 24 },
        );
        assert.equal(
          s.progress.probes.done,
          Object.values(s.progress.probes.byStatus).reduce((a, b) => a + b, 0),
        );
        const exp = u.expected[i as 0 | 1];
        assert.deepEqual(
          s.counts.action,
          tally(exp.values(), (e) => e.action),
        );
        assert.deepEqual(
          s.counts.security,
          tally(exp.values(), (e) => e.security),
        );
        assert.deepEqual(
          s.counts.dane,
          tally(u.records[i as 0 | 1].values(), (r) => r.dane),
        );
        assert.deepEqual(
          s.counts.reason,
          tally(u.records[i as 0 | 1].values(), (r) => r.verdict.reason),
        );
      }
      assertClientProblem(
        await api.GET("/v1/scans/{id}", { params: { path: { id: "NOSUCHSCAN" } } }),
        404,
        "not-found",
      );
    });

    test("GET /v1/scans/{id}/results: filters, cursor pages, NDJSON and CSV", async () => {
      const url = (q: string) => `/v1/scans/${u.scan2}/results?${q}`;
      const all = async (q: Query<"getScansByIdResults">, limit: number) => {
        const out: { domain: string; action: string; security: string | null; dane: string }[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const res: { response: Response; data?: Json<"getScansByIdResults">; error?: unknown } =
            await api.GET("/v1/scans/{id}/results", {
              params: { path: { id: u.scan2 }, query: { ...q, limit, ...(cursor ? { cursor } : {}) } },
            });
          assert.equal(res.response.status, 200, JSON.stringify(res.error));
          const p = res.data!;
          assert.ok(p.items.length <= limit);
          out.push(...p.items);
          cursor = p.next;
          pages++;
        } while (cursor);
        return { out, pages };
      };
      const every = await all({}, 5);
      assert.deepEqual(
        every.out.map((r) => r.domain),
        [...u.domains].sort(),
        "every domain once, in domain order",
      );
      assert.equal(every.pages, 5);
      for (const r of every.out) {
        assert.equal(r.action, u.expected[1].get(r.domain)?.action);
        assert.equal(r.security, u.expected[1].get(r.domain)?.security ?? null);
      }
      const defers = await all({ action: "defer" }, 4);
      assert.deepEqual(
        defers.out.map((r) => r.domain),
        u.domains.filter((d) => u.expected[1].get(d)?.action === "defer").sort(),
      );
      const verified = await all({ action: "deliver", security: "dane-verified" }, 100);
      assert.deepEqual(
        verified.out.map((r) => r.domain),
        u.domains.filter((d) => u.expected[1].get(d)?.security === "dane-verified").sort(),
      );
      const byDane = await all({ dane: "valid" }, 100);
      assert.deepEqual(
        byDane.out.map((r) => r.domain),
        u.domains.filter((d) => u.records[1].get(d)?.dane === "valid").sort(),
      );
      assert.deepEqual((await all({ tld: "testing" }, 100)).out.length, 24);
      assert.deepEqual((await all({ tld: "example" }, 100)).out.length, 0);
      // Case 19's only MX host is test19a.moretesting (the write-up's mail goes to it).
      assert.deepEqual(
        (await all({ mx: "test19a.moretesting" }, 100)).out.map((r) => r.domain),
        [dom(19)],
      );
      assert.deepEqual(
        (await all({ provider: "test19a.moretesting" }, 100)).out.map((r) => r.domain),
        [dom(19)],
      );
      assert.deepEqual(
        (await all({ reason: "tlsa-lookup-failed" }, 100)).out.map((r) => r.domain),
        [dom(20)],
      );

      const nd = await app.inject({ url: url("action=defer"), headers: { accept: "application/x-ndjson" } });
      assert.match(String(nd.headers["content-type"]), /^application\/x-ndjson/);
      const lines = nd.body
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { domain: string });
      assert.deepEqual(
        lines.map((l) => l.domain),
        defers.out.map((r) => r.domain),
      );
      const csv = await app.inject({ url: url(""), headers: { accept: "text/csv" } });
      assert.match(String(csv.headers["content-type"]), /^text\/csv/);
      const rows = csv.body.split("\r\n").filter((l) => l !== "");
      assert.equal(
        rows[0],
        "domain,tld,action,security,reason,dane_state,mx_host,delivered_host,judged_at,explanation,risks," +
          "mta_sts_policy,mta_sts_mode,mta_sts_outcome,mta_sts_reason,mta_sts_contradictions,tls_rpt",
      );
      // The explanation is free text: count records by the domain at the start of each line.
      assert.deepEqual(
        rows.filter((l) => /^test\d+\.testing,testing,/.test(l)).map((l) => l.split(",")[0]),
        [...u.domains].sort(),
      );
      const q = await app.inject({
        url: url(""),
        headers: { accept: "text/csv;q=0.5, application/x-ndjson;q=0.9" },
      });
      assert.match(String(q.headers["content-type"]), /^application\/x-ndjson/);
      assertProblem(
        await app.inject({ url: url(""), headers: { accept: "image/png" } }),
        406,
        "not-acceptable",
        "Accept",
      );
      assertClientProblem(
        await api.GET("/v1/scans/{id}/results", { params: { path: { id: "NOSUCHSCAN" } } }),
        404,
        "not-found",
      );
    });

    test("CSV exports neutralise MX host names a spreadsheet would run as formulas", async () => {
      // Two domains whose primary MX host, as DNS named it, is a formula: case 1's facts with its names replaced.
      const scan = `CSV-${suffix}`;
      const f = u.facts[0].get(dom(1));
      assert.ok(f);
      const named = (domain: string, mx: string) =>
        JSON.parse(JSON.stringify(f).replaceAll("test1a.testing", mx).replaceAll(dom(1), domain)) as typeof f;
      const probes = buildSeedCases().cases[0]?.probes;
      assert.ok(probes);
      await storeScan(
        store,
        scan,
        "2024-08-01T00:00:00.000Z",
        [named("formula-a.example", "=1+1.escmx.evil"), named("formula-b.example", "@sum(1,1)")],
        probes,
        Date.parse("2024-08-01T00:00:01Z"),
      );
      const csv = await app.inject({ url: `/v1/scans/${scan}/results`, headers: { accept: "text/csv" } });
      assert.equal(csv.statusCode, 200);
      const line = (d: string) => csv.body.split("\r\n").find((l) => l.startsWith(`${d},`)) ?? "";
      // domain, tld, action, security, reason, dane_state, then mx_host
      const mxField = /^[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,("[^"]*"|[^,]*),/;
      assert.equal(mxField.exec(line("formula-a.example"))?.[1], "'=1+1.escmx.evil");
      assert.equal(mxField.exec(line("formula-b.example"))?.[1], '"\'@sum(1,1)"');
      // The same names in JSON are data, as they were written.
      const page = (await api.GET("/v1/scans/{id}/results", { params: { path: { id: scan } } })).data!;
      assert.deepEqual(
        page.items.map((i) => i.mxHost),
        ["=1+1.escmx.evil", "@sum(1,1)"],
      );
    });

    test("GET /v1/stats/adoption: counts per DANE state and verdict per scan, by TLD and provider", async () => {
      const adoption = async (query: Query<"getStatsAdoption">) =>
        (await api.GET("/v1/stats/adoption", { params: { query } })).data!;
      const a = await adoption({});
      assert.equal(a.by, null);
      const ours = a.series.filter((s) => s.scanId === u.scan1 || s.scanId === u.scan2);
      assert.deepEqual(
        ours.map((s) => s.scanId),
        [u.scan1, u.scan2],
        "oldest first",
      );
      for (const [i, s] of ours.entries()) {
        assert.equal(s.domains, 24);
        assert.deepEqual(
          s.action,
          tally(u.expected[i as 0 | 1].values(), (e) => e.action),
        );
        assert.deepEqual(
          s.security,
          tally(u.expected[i as 0 | 1].values(), (e) => e.security),
        );
        assert.deepEqual(
          s.dane,
          tally(u.records[i as 0 | 1].values(), (r) => r.dane),
        );
      }
      const later = await adoption({ from: "2024-05-15T00:00:00Z", to: "2024-06-30T00:00:00Z" });
      assert.deepEqual(
        later.series.map((s) => s.scanId),
        [u.scan2],
      );
      const tld = await adoption({ by: "tld", to: "2024-06-30T00:00:00Z" });
      assert.deepEqual(
        tld.series.map((s) => [s.scanId, s.group, s.domains]),
        [
          [u.scan1, "testing", 24],
          [u.scan2, "testing", 24],
        ],
      );
      const prov = await adoption({
        by: "provider",
        group: "test19a.moretesting",
        to: "2024-06-30T00:00:00Z",
      });
      assert.deepEqual(
        prov.series.map((s) => [s.group, s.domains, s.action]),
        [
          ["test19a.moretesting", 1, { deliver: 1 }],
          ["test19a.moretesting", 1, { deliver: 1 }],
        ],
      );
      assertClientProblem(
        await api.GET("/v1/stats/adoption", { params: { query: { group: "x.example" } } }),
        400,
        "invalid-parameter",
        "group",
      );
    });

    test("GET /v1/stats/providers: ranked by domains served, with DANE states", async () => {
      const providers = (query: { scan: string; limit?: number }) =>
        api.GET("/v1/stats/providers", { params: { query } });
      const p = (await providers({ scan: u.scan2 })).data!;
      assert.equal(p.scanId, u.scan2);
      // Every seed domain has its own primary MX host, so 24 providers of one domain each, ranked by name.
      const primaries = u.domains.map((d) => {
        const f = u.facts[1].get(d);
        const best = [...(f?.hosts ?? [])].sort((a, b) => a.preference - b.preference)[0];
        return best?.name.split(".").slice(-2).join(".") as string;
      });
      assert.deepEqual(
        p.providers.map((x) => x.provider),
        [...primaries].sort(),
      );
      for (const x of p.providers) {
        assert.equal(x.domains, 1);
        assert.equal(x.mxHosts, 1);
        const d = u.domains[primaries.indexOf(x.provider)] as string;
        assert.deepEqual(x.dane, { [u.records[1].get(d)?.dane as string]: 1 });
      }
      assert.equal((await providers({ scan: u.scan2, limit: 3 })).data?.providers.length, 3);
      assertClientProblem(await providers({ scan: "NOSUCHSCAN" }), 404, "not-found", "scan");
    });

    test("GET /v1/broken: the broken domains, their problems and failing hosts, first seen broken", async () => {
      for (const [scan, expected] of [
        [u.scan1, BROKEN_SCAN1],
        [u.scan2, BROKEN_SCAN2],
      ] as const) {
        const items: {
          domain: string;
          problems: string[];
          failingHosts: { host: string }[];
          firstBroken: { scanId: string };
        }[] = [];
        let cursor: string | null = null;
        do {
          const res: { response: Response; data?: Json<"getBroken">; error?: unknown } = await api.GET(
            "/v1/broken",
            { params: { query: { scan, limit: 4, ...(cursor ? { cursor } : {}) } } },
          );
          assert.equal(res.response.status, 200, JSON.stringify(res.error));
          items.push(...res.data!.items);
          cursor = res.data!.next;
        } while (cursor);
        const want = Object.keys(expected)
          .map((n) => dom(Number(n)))
          .sort();
        assert.deepEqual(
          items.map((i) => i.domain),
          want,
          `broken in ${scan}`,
        );
        for (const i of items) {
          const n = Number(/^test(\d+)\./.exec(i.domain)?.[1]);
          assert.deepEqual(i.problems, expected[n], i.domain);
          assert.ok(i.failingHosts.length > 0, i.domain);
          const firstScan = n in BROKEN_SCAN1 ? u.scan1 : u.scan2;
          assert.equal(i.firstBroken.scanId, firstScan, i.domain);
        }
        // Case 1 in scan 1: only the primary (test1a, cert A against cert B's digest) fails.
        const c1 = items.find((i) => i.domain === dom(1));
        if (scan === u.scan1)
          assert.deepEqual(
            c1?.failingHosts.map((h) => h.host),
            ["test1a.testing"],
          );
        else
          assert.deepEqual(
            c1?.failingHosts.map((h) => h.host),
            ["test1a.testing", "test1b.testing"],
          );
      }
      assert.equal(
        (await api.GET("/v1/broken", { params: { query: { scan: u.scan2, tld: "example" } } })).data?.items
          .length,
        0,
      );
    });

    test("POST /v1/scans: missing, wrong and revoked tokens get 401, a read token 403, and nothing changes", async () => {
      const body = { domains: ["new-a.example", "NEW-B.example."] };
      const before = [
        await count(store, "scans"),
        await count(store, "scan_inputs"),
        await count(store, "api_tokens"),
      ];
      const attempts: [Record<string, string>, number, string][] = [
        [{}, 401, "unauthorized"],
        [
          { authorization: "Bearer ds_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
          401,
          "unauthorized",
        ],
        [
          { authorization: `Bearer ${scanToken.slice(0, -1)}${scanToken.endsWith("A") ? "B" : "A"}` },
          401,
          "unauthorized",
        ],
        [{ authorization: "Bearer not-a-token" }, 401, "unauthorized"],
        [{ authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }, 401, "unauthorized"],
        [{ authorization: `Bearer ${revokedToken}` }, 401, "unauthorized"],
        [{ authorization: `Bearer ${readToken}` }, 403, "forbidden"],
      ];
      for (const [headers, status, code] of attempts) {
        const res = await api.POST("/v1/scans", { headers, body });
        assertClientProblem(res, status, code);
        if (status === 401) assert.match(String(res.response.headers.get("www-authenticate")), /^Bearer/);
      }
      assert.deepEqual(
        [await count(store, "scans"), await count(store, "scan_inputs"), await count(store, "api_tokens")],
        before,
      );
      const auth = { authorization: `Bearer ${scanToken}` };
      const ok = await api.POST("/v1/scans", {
        headers: auth,
        body: { ...body, parameters: { probeMode: "dane" } },
      });
      assert.equal(ok.response.status, 202, JSON.stringify(ok.error));
      const { scanId, domains } = ok.data!;
      assert.equal(domains, 2);
      assert.equal(ok.response.headers.get("location"), `/v1/scans/${scanId}`);
      const s = (await api.GET("/v1/scans/{id}", { params: { path: { id: scanId } }, headers: auth })).data!;
      assert.equal(s.state, "running");
      assert.deepEqual(s.parameters, { probeMode: "dane" });
      assert.equal(s.progress.domains, 2);
      const pending = await store.pendingDomains(scanId);
      assert.deepEqual(
        pending.map((p) => p.domain),
        ["new-a.example", "new-b.example"],
      );
      const text = await api.POST("/v1/scans", {
        headers: { ...auth, "content-type": "text/plain" },
        body: "# a list\nalpha.example\n\nbeta.example\nalpha.example\n",
        bodySerializer: (b: unknown) => String(b),
      });
      assert.equal(text.response.status, 202, JSON.stringify(text.error));
      assert.equal(text.data?.domains, 2);
      const mid = await count(store, "scans");
      assertProblem(
        await app.inject({
          method: "POST",
          url: "/v1/scans",
          headers: { authorization: `Bearer ${scanToken}` },
          payload: { domains: ["ok.example", "bad domain'--"] },
        }),
        400,
        "invalid-parameter",
        "domains[1]",
      );
      assertProblem(
        await app.inject({
          method: "POST",
          url: "/v1/scans",
          headers: { authorization: `Bearer ${scanToken}`, "content-type": "text/plain" },
          payload: "ok.example\n; drop table scans\n",
        }),
        400,
        "invalid-parameter",
        "body line 2",
      );
      assertProblem(
        await app.inject({
          method: "POST",
          url: "/v1/scans",
          headers: { authorization: `Bearer ${scanToken}` },
          payload: { domains: ["ok.example"], parameters: { probeMode: "everything" } },
        }),
        400,
        "invalid-parameter",
        "parameters.probeMode",
      );
      assertProblem(
        await app.inject({
          method: "POST",
          url: "/v1/scans",
          headers: { authorization: `Bearer ${scanToken}`, "content-type": "application/json" },
          payload: "{not json",
        }),
        400,
        "invalid-parameter",
      );
      assertProblem(
        await app.inject({
          method: "POST",
          url: "/v1/scans",
          headers: { authorization: `Bearer ${scanToken}`, "content-type": "application/xml" },
          payload: "<a/>",
        }),
        415,
        "unsupported-media-type",
      );
      assertProblem(
        await app.inject({
          method: "POST",
          url: "/v1/scans",
          headers: { authorization: `Bearer ${scanToken}` },
          payload: { domains: [] },
        }),
        400,
        "invalid-parameter",
        "domains",
      );
      assert.equal(await count(store, "scans"), mid, "refused bodies start nothing");

      const noStarter = buildApp({ store, auth: { readRequiresToken: false }, rateLimit: false });
      assertProblem(
        await noStarter.inject({
          method: "POST",
          url: "/v1/scans",
          headers: { authorization: `Bearer ${scanToken}` },
          payload: body,
        }),
        503,
        "scanning-not-configured",
      );
      await noStarter.close();
      assert.equal(await count(store, "scans"), mid);
    });

    test("scan parameters (they name files on the scanning host) are shown only to a scan-scoped token", async () => {
      // What `danesweep scan` stores: absolute paths of its input and opt-out files.
      const scan = `PARAMS-${suffix}`;
      await store.createScan({
        id: scan,
        parameters: {
          inputs: { args: [], files: ["/home/ops/lists/cctld.txt"] },
          optOutFile: "/etc/danesweep/opt-out",
        },
        startedAt: "2024-09-01T00:00:00.000Z",
      });
      const listed = async (a: FastifyInstance, headers: Record<string, string>) => {
        const l = (await a.inject({ url: "/v1/scans?limit=1000", headers })).json() as {
          items: { id: string; parameters?: unknown }[];
        };
        return l.items.find((i) => i.id === scan);
      };
      const closed = variant({ auth: { readRequiresToken: true } });
      for (const [a, headers] of [
        [app, {}],
        [app, { authorization: `Bearer ${readToken}` }],
        [app, { authorization: `Bearer ${revokedToken}` }],
        [closed, { authorization: `Bearer ${readToken}` }],
      ] as const) {
        const item = await listed(a, headers);
        assert.ok(item, "the scan is listed");
        assert.equal("parameters" in item, false, JSON.stringify(headers));
        const one = await a.inject({ url: `/v1/scans/${scan}`, headers });
        assert.equal(one.statusCode, 200);
        assert.equal("parameters" in one.json(), false);
        assert.ok(!one.body.includes("/etc/danesweep"), one.body);
      }
      for (const a of [app, closed]) {
        const headers = { authorization: `Bearer ${scanToken}` };
        assert.equal(
          ((await listed(a, headers))?.parameters as { optOutFile: string } | undefined)?.optOutFile,
          "/etc/danesweep/opt-out",
        );
        assert.equal(
          (await a.inject({ url: `/v1/scans/${scan}`, headers })).json().parameters.optOutFile,
          "/etc/danesweep/opt-out",
        );
      }
      await closed.close();
    });

    test("reads can require a token", async () => {
      const closed = buildApp({ store, auth: { readRequiresToken: true }, rateLimit: false });
      assertProblem(await closed.inject(`/v1/domains/${dom(1)}`), 401, "unauthorized");
      assertProblem(
        await closed.inject({
          url: `/v1/scans/${u.scan1}`,
          headers: { authorization: `Bearer ${revokedToken}` },
        }),
        401,
        "unauthorized",
      );
      const ok = await closed.inject({
        url: `/v1/domains/${dom(1)}`,
        headers: { authorization: `Bearer ${readToken}` },
      });
      assert.equal(ok.statusCode, 200);
      assert.equal((await closed.inject("/healthz")).statusCode, 200, "health stays public");
      await closed.close();
    });

    test("SQL injection, oversized and malformed values in every parameter: 400 naming it, nothing changes", async () => {
      const before = [
        await count(store, "scans"),
        await count(store, "results"),
        await count(store, "api_tokens"),
      ];
      const evil = [
        "x' OR '1'='1",
        "1; DROP TABLE scans; --",
        "%00",
        "a".repeat(5000),
        "é",
        "-1",
        "0",
        "1e9",
      ];
      const s = u.scan2;
      const cases: [string, (v: string) => string][] = [
        ["domain", (v) => `/v1/domains/${encodeURIComponent(v)}`],
        ["history", (v) => `/v1/domains/${dom(1)}?history=${encodeURIComponent(v)}`],
        ["limit", (v) => `/v1/scans?limit=${encodeURIComponent(v)}`],
        ["cursor", (v) => `/v1/scans?cursor=${encodeURIComponent(v)}`],
        ["id", (v) => `/v1/scans/${encodeURIComponent(v)}`],
        ["action", (v) => `/v1/scans/${s}/results?action=${encodeURIComponent(v)}`],
        ["security", (v) => `/v1/scans/${s}/results?security=${encodeURIComponent(v)}`],
        ["reason", (v) => `/v1/scans/${s}/results?reason=${encodeURIComponent(v)}`],
        ["dane", (v) => `/v1/scans/${s}/results?dane=${encodeURIComponent(v)}`],
        ["tld", (v) => `/v1/scans/${s}/results?tld=${encodeURIComponent(v)}`],
        ["mx", (v) => `/v1/scans/${s}/results?mx=${encodeURIComponent(v)}`],
        ["provider", (v) => `/v1/scans/${s}/results?provider=${encodeURIComponent(v)}`],
        ["limit", (v) => `/v1/scans/${s}/results?limit=${encodeURIComponent(v)}`],
        ["cursor", (v) => `/v1/scans/${s}/results?cursor=${encodeURIComponent(v)}`],
        ["from", (v) => `/v1/stats/adoption?from=${encodeURIComponent(v)}`],
        ["to", (v) => `/v1/stats/adoption?to=${encodeURIComponent(v)}`],
        ["by", (v) => `/v1/stats/adoption?by=${encodeURIComponent(v)}`],
        ["group", (v) => `/v1/stats/adoption?by=tld&group=${encodeURIComponent(v)}`],
        ["top", (v) => `/v1/stats/adoption?top=${encodeURIComponent(v)}`],
        ["scan", (v) => `/v1/stats/providers?scan=${encodeURIComponent(v)}`],
        ["limit", (v) => `/v1/stats/providers?limit=${encodeURIComponent(v)}`],
        ["scan", (v) => `/v1/broken?scan=${encodeURIComponent(v)}`],
        ["tld", (v) => `/v1/broken?tld=${encodeURIComponent(v)}`],
        ["limit", (v) => `/v1/broken?limit=${encodeURIComponent(v)}`],
        ["cursor", (v) => `/v1/broken?cursor=${encodeURIComponent(v)}`],
      ];
      for (const [param, make] of cases) {
        for (const v of evil) {
          const res = await app.inject(make(v));
          // Some values are valid for some parameters (limit=1e9 is not, limit=0 is not; "-1" is a valid label).
          if (res.statusCode === 200 || res.statusCode === 404) {
            const okValue =
              (["domain", "id", "scan", "tld", "mx", "provider", "group"].includes(param) &&
                /^-?[0-9a-z]+$/.test(v)) ||
              (param === "cursor" && /^[A-Za-z0-9_-]+$/.test(v) && false);
            assert.ok(okValue, `${param}=${JSON.stringify(v.slice(0, 30))} answered ${res.statusCode}`);
            continue;
          }
          assertProblem(res, 400, "invalid-parameter", param);
        }
      }
      assertProblem(await app.inject(`/v1/scans/${s}/results?limit=1001`), 400, "invalid-parameter", "limit");
      assertProblem(await app.inject(`/v1/scans/${s}/results?bogus=1`), 400, "invalid-parameter", "bogus");
      assertProblem(await app.inject("/v1/nothing-here"), 404, "not-found");
      assert.deepEqual(
        [await count(store, "scans"), await count(store, "results"), await count(store, "api_tokens")],
        before,
      );
    });

    test("impossible times and forged cursors are 400 naming the parameter, never 500", async () => {
      const frac = "1".repeat(300);
      for (const [param, value] of [
        ["from", "2024-02-30T00:00:00Z"], // February 2024 has 29 days
        ["from", "2023-02-29T00:00:00Z"], // 2023 is not a leap year
        ["to", "0000-01-01T00:00:00Z"], // there is no year 0
        ["to", "0001-01-01T00:00:00+01:00"], // year 0 in UTC
        ["from", `2024-01-01T00:00:00.${frac}Z`],
        ["from", "2024-04-31T12:00:00Z"],
        ["to", "2024-01-01T23:60:00Z"],
        ["to", "2024-12-31T23:59:60Z"], // a leap second
        ["from", "2024-01-01T25:00:00Z"],
        ["from", "2024-13-01T00:00:00Z"],
      ])
        assertProblem(
          await app.inject(`/v1/stats/adoption?${param}=${encodeURIComponent(value as string)}`),
          400,
          "invalid-parameter",
          param,
        );
      // Valid edges still answer.
      for (const ok of [
        "2024-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00.123456789+02:00",
      ])
        assert.equal(
          (await app.inject(`/v1/stats/adoption?from=${encodeURIComponent(ok)}`)).statusCode,
          200,
          ok,
        );
      // A cursor is opaque, but one forged with an impossible time must not reach SQL.
      for (const key of [
        "2024-13-45T99:99:99Z X",
        "0000-01-01T00:00:00Z X",
        `2024-01-01T00:00:00.${frac}Z X`,
      ])
        assertProblem(
          await app.inject(`/v1/scans?cursor=${encodeCursor(key)}`),
          400,
          "invalid-parameter",
          "cursor",
        );
    });

    test("errors before any route are problem+json too: 414, 431, 400 for a bad URL or what is not HTTP", async () => {
      assertProblem(await app.inject(`/v1/domains/${"a".repeat(9000)}`), 414, "uri-too-long");
      assertProblem(await app.inject("/v1/scans/%E0%A4%A"), 400, "bad-request");
      const server = variant({});
      const address = await listen(server, { host: "127.0.0.1", port: 0 });
      try {
        const big = await rawExchange(
          address,
          `GET /v1/scans HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`,
        );
        assert.deepEqual(rawProblem(big), {
          status: 431,
          type: "application/problem+json",
          code: "headers-too-large",
        });
        const longUrl = await rawExchange(
          address,
          `GET /v1/scans?x=${"u".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        );
        assert.equal(rawProblem(longUrl).status, 431);
        const garbage = await rawExchange(address, "HELLO THERE\r\n\r\n");
        assert.deepEqual(rawProblem(garbage), {
          status: 400,
          type: "application/problem+json",
          code: "bad-request",
        });
      } finally {
        await server.close();
      }
    });

    test("rate limits per client address and per token: 429 problem with Retry-After", async () => {
      const limited = buildApp({
        store,
        auth: { readRequiresToken: false },
        rateLimit: { perAddress: 3, perToken: 2, windowMs: 60_000 },
      });
      const codes: number[] = [];
      for (let i = 0; i < 5; i++)
        codes.push((await limited.inject({ url: "/v1/scans", remoteAddress: "192.0.2.7" })).statusCode);
      assert.deepEqual(codes, [200, 200, 200, 429, 429]);
      const res = await limited.inject({ url: "/v1/scans", remoteAddress: "192.0.2.7" });
      assertProblem(res, 429, "rate-limited");
      assert.ok(Number(res.headers["retry-after"]) > 0);
      assert.equal(
        (await limited.inject({ url: "/v1/scans", remoteAddress: "192.0.2.8" })).statusCode,
        200,
        "another address",
      );
      assert.equal(
        (await limited.inject({ url: "/healthz", remoteAddress: "192.0.2.7" })).statusCode,
        200,
        "health exempt",
      );
      const tok = { authorization: `Bearer ${readToken}` };
      const t: number[] = [];
      for (const addr of ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
        t.push((await limited.inject({ url: "/v1/scans", remoteAddress: addr, headers: tok })).statusCode);
      assert.deepEqual(t, [200, 200, 429], "the token's limit holds across addresses");
      await limited.close();
    });

    test("behind proxies, the rate limit keys on the address the proxies wrote, never one the client wrote", async () => {
      const limits = { perAddress: 2, perToken: 1000, windowMs: 60_000 };
      const codes = async (a: FastifyInstance, remoteAddress: string, xff: (i: number) => string) => {
        const out: number[] = [];
        for (let i = 0; i < 3; i++)
          out.push(
            (await a.inject({ url: "/v1/scans", remoteAddress, headers: { "x-forwarded-for": xff(i) } }))
              .statusCode,
          );
        return out;
      };
      const byList = variant({ rateLimit: limits, trustProxy: { proxies: ["192.0.2.1", "2001:db8::/32"] } });
      // The proxy appends the peer it got the request from (198.51.100.7); the left is the client's to write.
      assert.deepEqual(await codes(byList, "192.0.2.1", (i) => `10.9.9.${i}, 198.51.100.7`), [200, 200, 429]);
      assert.deepEqual(
        await codes(byList, "192.0.2.1", () => "198.51.100.8"),
        [200, 200, 429],
        "another client",
      );
      // Two trusted proxies in a row (2001:db8::5 got it from 192.0.2.1): the client is left of both.
      assert.deepEqual(
        await codes(byList, "2001:db8::5", (i) => `10.8.8.${i}, 198.51.100.9, 192.0.2.1`),
        [200, 200, 429],
      );
      // A peer that is not a proxy is the client, whatever the header says.
      assert.deepEqual(await codes(byList, "203.0.113.5", (i) => `198.51.100.${i}`), [200, 200, 429]);
      // The proxy seen as an IPv4-mapped IPv6 peer (a server listening on ::) is the same proxy.
      assert.deepEqual(
        await codes(byList, "::ffff:192.0.2.1", (i) => `10.7.7.${i}, 198.51.100.10`),
        [200, 200, 429],
      );
      // One client address, spelled three ways by the proxies (RFC 4291 allows each): one bucket.
      const spelled = ["2001:db8:0:0::7", "2001:DB8::7", "2001:0db8:0000::0007"];
      assert.deepEqual(await codes(byList, "192.0.2.1", (i) => spelled[i] as string), [200, 200, 429]);
      await byList.close();
      // One proxy in front on every path: the right-most entry is the client.
      const byHops = variant({ rateLimit: limits, trustProxy: { hops: 1 } });
      assert.deepEqual(
        await codes(byHops, "192.0.2.50", (i) => `10.6.6.${i}, 198.51.100.20`),
        [200, 200, 429],
      );
      await byHops.close();
    });

    test("pagination stays consistent while new verdicts are written", async () => {
      const scanId = `S3-${suffix}`;
      const facts = [...u.facts[0].values()];
      const probes = (await import("../../../libs/dane/test/fixtures/seed-cases.ts")).buildSeedCases()
        .cases[0]?.probes;
      assert.ok(probes);
      // A scan still running: the first 12 domains judged, the rest arrive while a client pages.
      const sorted = [...facts].sort((a, b) => (a.domain < b.domain ? -1 : 1));
      const first = sorted.filter((_, i) => i % 2 === 0);
      const later = sorted.filter((_, i) => i % 2 === 1);
      await storeScan(
        store,
        scanId,
        "2024-07-01T00:00:00.000Z",
        first,
        probes,
        Date.parse("2024-07-01T00:00:01Z"),
        false,
      );
      const seen: string[] = [];
      let cursor: string | null = null;
      let written = false;
      do {
        const p = (
          await app.inject(`/v1/scans/${scanId}/results?limit=3${cursor ? `&cursor=${cursor}` : ""}`)
        ).json() as { items: { domain: string }[]; next: string | null };
        seen.push(...p.items.map((i) => i.domain));
        cursor = p.next;
        if (!written) {
          // Judge the rest now: some sort before the cursor, some after.
          await judgeAndStore(store, scanId, later, probes, Date.parse("2024-07-01T00:00:02Z"));
          written = true;
        }
      } while (cursor);
      assert.equal(new Set(seen).size, seen.length, "no domain twice");
      for (const f of first)
        assert.ok(seen.includes(f.domain), `${f.domain} judged before paging is not skipped`);
      assert.deepEqual(seen, [...seen].sort(), "still in domain order");
      const cut = seen[2] as string;
      for (const f of later)
        assert.equal(seen.includes(f.domain), f.domain > cut, `${f.domain} appears iff after the cursor`);
    });

    test("exports: HEAD answers with the headers alone and runs no export", {
      timeout: 120_000,
    }, async () => {
      const rows = await metric(app, "danesweep_api_export_rows_total");
      for (const [accept, type] of [
        ["application/x-ndjson", /^application\/x-ndjson/],
        ["text/csv", /^text\/csv/],
        ["application/json", /^application\/json/],
      ] as const) {
        const res = await app.inject({ method: "HEAD", url: bulkResults, headers: { accept } });
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers["content-type"]), type);
        assert.equal(res.body, "");
      }
      const missing = await app.inject({ method: "HEAD", url: "/v1/scans/NOSUCHSCAN/results" });
      assert.equal(missing.statusCode, 404);
      assert.match(String(missing.headers["content-type"]), /^application\/problem\+json/);
      // Whatever an export was started, it ends before the gauge falls back to 0.
      await until(async () => (await metric(app, "danesweep_api_exports_active")) === 0);
      assert.equal(await metric(app, "danesweep_api_export_rows_total"), rows, "no row was read");
    });

    test("exports beyond the cap get 429 with Retry-After; a slot frees when its client goes away", {
      timeout: 120_000,
    }, async () => {
      const capped = variant({ exports: { maxConcurrent: 1 } });
      const address = await listen(capped, { host: "127.0.0.1", port: 0 });
      try {
        const first = await openExport(address, bulkResults, "application/x-ndjson");
        assert.equal(first.res.statusCode, 200);
        assert.equal(await metric(capped, "danesweep_api_exports_active"), 1);
        for (const accept of ["application/x-ndjson", "text/csv"]) {
          const refused = await capped.inject({ url: bulkResults, headers: { accept } });
          assertProblem(refused, 429, "rate-limited");
          assert.equal(refused.headers["retry-after"], "5");
        }
        // JSON pages are not exports: they are answered whatever the exports.
        assert.equal((await capped.inject(`${bulkResults}?limit=3`)).statusCode, 200);
        assert.equal(await metric(capped, 'danesweep_api_rate_limited_total{limit="export"}'), 2);
        first.req.destroy();
        await until(async () => (await metric(capped, "danesweep_api_exports_active")) === 0);
        // No verdict of the bulk scan bounces: the whole export is the CSV header.
        const next = await capped.inject({
          url: `${bulkResults}?action=bounce`,
          headers: { accept: "text/csv" },
        });
        assert.equal(next.statusCode, 200, next.body);
        assert.equal(next.body.split("\r\n")[1], "");
      } finally {
        await capped.close();
      }
    });

    test("an export stops when its client goes away: no further batch, the slot freed", {
      timeout: 120_000,
    }, async () => {
      const small = variant({ exports: { batchRows: 100 } });
      const address = await listen(small, { host: "127.0.0.1", port: 0 });
      try {
        const { req, res } = await openExport(address, bulkResults, "application/x-ndjson");
        res.resume();
        await new Promise((r) => res.once("data", r));
        req.destroy();
        await until(async () => (await metric(small, "danesweep_api_exports_active")) === 0);
        assert.equal(await metric(small, 'danesweep_api_exports_total{outcome="client-gone"}'), 1);
        assert.equal(await metric(small, 'danesweep_api_exports_total{outcome="completed"}'), 0);
        const rows = await metric(small, "danesweep_api_export_rows_total");
        assert.ok(rows > 0 && rows < BULK_ROWS / 2, `${rows} rows read of ${BULK_ROWS}`);
      } finally {
        await small.close();
      }
    });

    test("an export whose client stops reading is stopped after stallMs", { timeout: 120_000 }, async () => {
      const impatient = variant({ exports: { stallMs: 200 } });
      const address = await listen(impatient, { host: "127.0.0.1", port: 0 });
      try {
        const { res } = await openExport(address, bulkResults, "application/x-ndjson");
        const closed = new Promise((r) => res.once("close", r));
        // The client reads nothing more; the server's buffers fill, then nothing moves for 200 ms.
        await until(
          async () => (await metric(impatient, 'danesweep_api_exports_total{outcome="stalled"}')) === 1,
        );
        assert.equal(await metric(impatient, "danesweep_api_exports_active"), 0);
        assert.ok((await metric(impatient, "danesweep_api_export_rows_total")) < BULK_ROWS);
        // Reading again, the client finds the connection cut short by the server.
        res.on("error", () => {});
        res.resume();
        await closed;
        assert.equal(res.complete, false);
      } finally {
        await impatient.close();
      }
    });
  });
}
