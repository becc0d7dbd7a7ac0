/**
 * The re-judging routes (rejudge-routes.ts) through inject(), run over PGlite
 * (rejudge.test.ts) and PostgreSQL (rejudge.int.test.ts): the scan of
 * libs/store/test/rejudge-data.ts (the 24 seed cases and five profile
 * cases, judged under postfix); the expected counts are the ones the store
 * suite works out from the rules (expectedTransitions), never the code's.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ENGINE_VERSION } from "@danesweep/dane";
import { ApiQueries, type Store, sql } from "@danesweep/store";
import type { FastifyInstance } from "fastify";
import { insertBulkScan } from "../../../libs/store/test/bulk.ts";
import { rejudgeScanData } from "../../../libs/store/test/rejudge-data.ts";
import { expectedTransitions } from "../../../libs/store/test/rejudge-suite.ts";
import { storeScan } from "../../../libs/store/test/scan-data.ts";
import { buildApp } from "../src/app.ts";
import { PROBLEM_TYPE_BASE } from "../src/problem.ts";
import { createToken } from "../src/tokens.ts";

/** Resolves once `check` holds, asking again every 20 ms (the test's timeout bounds the wait). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

function problemCode(res: { statusCode: number; body: string }): string {
  return String((JSON.parse(res.body) as { type: string }).type).slice(PROBLEM_TYPE_BASE.length);
}

export function rejudgeApiSuite(name: string, open: () => Promise<Store>): void {
  describe(`api rejudge: ${name}`, () => {
    let store: Store;
    let app: FastifyInstance;
    let scanToken: string;
    let readToken: string;
    let scan: string;
    const data = rejudgeScanData();
    const make = () => buildApp({ store, auth: { readRequiresToken: false }, rateLimit: false });
    const post = (a: FastifyInstance, url: string, token?: string) =>
      a.inject({ method: "POST", url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const runOf = async (a: FastifyInstance, location: string) => {
      await until(async () => (await a.inject(location)).json().state !== "running");
      return (await a.inject(location)).json();
    };

    before(async () => {
      store = await open();
      scan = await storeScan(store, data);
      const q = new ApiQueries(store);
      scanToken = (await createToken(q, { name: "rj-scan", scopes: ["scan", "read"], now: new Date() }))
        .token;
      readToken = (await createToken(q, { name: "rj-read", scopes: ["read"], now: new Date() })).token;
      app = make();
      await app.ready();
    });
    after(async () => {
      await app?.close();
      await store?.close();
    });

    test("POST /v1/scans/{id}/rejudge needs a token with scope scan; refusals are problems naming what is wrong", async () => {
      const url = `/v1/scans/${scan}/rejudge`;
      assert.equal((await post(app, url)).statusCode, 401);
      const read = await post(app, url, readToken);
      assert.equal(read.statusCode, 403);
      assert.equal(problemCode(read), "forbidden");
      const unknown = await post(app, "/v1/scans/01NOSUCHSCAN0000000000000/rejudge", scanToken);
      assert.equal(unknown.statusCode, 404);
      assert.equal(problemCode(unknown), "not-found");
      const policy = await post(app, `${url}?policy=sendmail`, scanToken);
      assert.equal(policy.statusCode, 400);
      assert.equal(JSON.parse(policy.body).parameter, "policy");
      const extra = await post(app, `${url}?profile=rfc7672`, scanToken);
      assert.equal(extra.statusCode, 400);
      const running = await storeScan(store, data, { finish: false });
      const busy = await post(app, `/v1/scans/${running}/rejudge`, scanToken);
      assert.equal(busy.statusCode, 409);
      assert.equal(problemCode(busy), "conflict");
      assert.match(JSON.parse(busy.body).detail, /still running/);
      const runs = await store.db.execute<{ n: string }>(sql`select count(*) as n from rejudge_runs`);
      assert.equal(Number(runs.rows[0]?.n), 0, "nothing started");
    });

    test("202 and a Location; the run finishes in the background with the change counts; POSTed again, 200 and the same run", async () => {
      const res = await post(app, `/v1/scans/${scan}/rejudge?policy=rfc7672`, scanToken);
      assert.equal(res.statusCode, 202, res.body);
      const loc = String(res.headers.location);
      assert.equal(loc, `/v1/scans/${scan}/rejudgements/1`);
      const started = res.json();
      assert.equal(started.status, "new");
      assert.equal(started.engine, ENGINE_VERSION);
      assert.equal(started.profile, "rfc7672");
      const run = await runOf(app, loc);
      assert.equal(run.state, "finished", JSON.stringify(run));
      assert.equal(run.judged, 29);
      assert.equal(run.counts.changed, 4);
      assert.equal(run.counts.identical, 25);
      const want = expectedTransitions(data.profileCases, "rfc7672");
      assert.deepEqual(run.counts.action, want.action);
      assert.deepEqual(run.counts.security, want.security);
      assert.deepEqual(run.counts.dane, want.dane);
      assert.deepEqual(run.counts.originals, [{ engine: ENGINE_VERSION, profile: "postfix", domains: 29 }]);
      assert.equal(run.owner, undefined, "the owner is not shown");

      const again = await post(app, `/v1/scans/${scan}/rejudge?policy=rfc7672`, scanToken);
      assert.equal(again.statusCode, 200);
      assert.equal(again.headers.location, loc);
      assert.equal(again.json().status, "done");
      assert.deepEqual(again.json().counts, run.counts);

      const list = (await app.inject(`/v1/scans/${scan}/rejudgements`)).json();
      assert.equal(list.scanId, scan);
      assert.deepEqual(
        list.items.map((r: { run: number; profile: string; state: string }) => [r.run, r.profile, r.state]),
        [[1, "rfc7672", "finished"]],
      );
      assert.equal((await app.inject(`/v1/scans/${scan}/rejudgements/2`)).statusCode, 404);
      assert.equal((await app.inject("/v1/scans/01NOSUCHSCAN0000000000000/rejudgements")).statusCode, 404);
    });

    test("GET /v1/domains/{d} names the engine of every verdict; history lists each scan's re-judgements", async () => {
      const c = data.profileCases.find((x) => x.domain === "profile-numeric-mx.example");
      assert.ok(c);
      const b = (await app.inject(`/v1/domains/${c.domain}?history=true`)).json();
      assert.deepEqual(b.verdict.engine, { version: ENGINE_VERSION, profile: "postfix" });
      const h = b.history.find((e: { scanId: string }) => e.scanId === scan);
      assert.deepEqual(h.engine, { version: ENGINE_VERSION, profile: "postfix" });
      assert.equal(h.action, c.postfix.action);
      assert.equal(h.rejudgements.length, 1);
      const j = h.rejudgements[0];
      assert.deepEqual(j.engine, { version: ENGINE_VERSION, profile: "rfc7672" });
      assert.deepEqual({ action: j.action, security: j.security, reason: j.reason, dane: j.dane }, c.rfc7672);
      assert.equal(j.run, 1);
      assert.equal(j.runState, "finished");
    });

    test("closing the app stops a run after its batch in flight; POSTed again, it goes on where it stopped", async () => {
      const bulk = `RJ-BULK-${name}`;
      await insertBulkScan(store, bulk, 5000);
      const first = buildApp({
        store,
        auth: { readRequiresToken: false },
        rateLimit: false,
        rejudge: { batch: 100 },
      });
      const res = await post(first, `/v1/scans/${bulk}/rejudge`, scanToken);
      assert.equal(res.statusCode, 202, res.body);
      await first.close();
      const stopped = (await app.inject(String(res.headers.location))).json();
      assert.equal(stopped.state, "interrupted");
      assert.equal(stopped.judged, 100, "one batch stored");
      const second = buildApp({
        store,
        auth: { readRequiresToken: false },
        rateLimit: false,
        rejudge: { batch: 1000 },
      });
      try {
        const again = await post(second, `/v1/scans/${bulk}/rejudge`, scanToken);
        assert.equal(again.statusCode, 202);
        assert.equal(again.json().status, "resumed");
        assert.equal(again.headers.location, res.headers.location);
        const run = await runOf(second, String(again.headers.location));
        assert.equal(run.state, "finished");
        assert.equal(run.judged, 5000);
        assert.equal(run.counts.domains, 5000);
        const rows = await store.db.execute<{ n: string }>(
          sql`select count(*) as n from rejudgements j join scans s on s.seq = j.scan where s.id = ${bulk}`,
        );
        assert.equal(Number(rows.rows[0]?.n), 5000);
      } finally {
        await second.close();
      }
    });

    test("the OpenAPI document has the re-judging routes", async () => {
      const doc = (await app.inject("/openapi.json")).json() as { paths: Record<string, unknown> };
      for (const p of [
        "/v1/scans/{id}/rejudge",
        "/v1/scans/{id}/rejudgements",
        "/v1/scans/{id}/rejudgements/{run}",
      ])
        assert.ok(doc.paths[p], p);
    });
  });
}
