/**
 * GET /v1/changes (changes.ts) over PGlite: two finished scans whose change
 * events are recorded as a scan's end records them (libs/store recordChanges),
 * then the feed through inject(): JSON pages with next and poll cursors,
 * filters, the whole set as NDJSON and CSV, and 400 / 406 naming what is
 * wrong. The events expected follow from the kinds' definitions (docs/rules.md
 * rule 49) applied to the verdicts stored.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { openStore, recordChanges, type Store } from "@danesweep/store";
import type { FastifyInstance } from "fastify";
import { storeChangeScan } from "../../../libs/store/test/changes-suite.ts";
import { buildApp } from "../src/app.ts";
import { CHANGE_COLUMNS } from "../src/changes.ts";
import { encodeCursor } from "../src/formats.ts";

describe("GET /v1/changes", () => {
  let store: Store;
  let app: FastifyInstance;
  let s1: string;
  let s2: string;
  const AT = "2026-11-03T02:00:00.000Z";

  before(async () => {
    store = await openStore({ memory: true });
    s1 = (
      await storeChangeScan(store, 1, [
        { domain: "a.example", dane: "valid" },
        { domain: "b.example", dane: "none" },
        { domain: "c.example", dane: "valid", mx: "mx1.c.example" },
        { domain: "=d.example", dane: "valid" },
      ])
    ).id;
    await recordChanges(store, "2026-11-02T02:00:00.000Z");
    s2 = (
      await storeChangeScan(store, 2, [
        { domain: "a.example", dane: "invalid", problems: ["tlsa-mismatch"] },
        { domain: "b.example", dane: "valid" },
        { domain: "c.example", dane: "valid", mx: "mx2.c.example" },
        { domain: "=d.example", dane: "insecure" },
      ])
    ).id;
    await recordChanges(store, AT);
    app = buildApp({ store, auth: { readRequiresToken: false }, rateLimit: false });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  const get = (q: string, accept?: string) =>
    app.inject({ url: `/v1/changes${q}`, headers: accept ? { accept } : {} });

  test("a JSON page: every event in id order, the new state's first-seen time", async () => {
    const r = await get("");
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json() as { items: Record<string, unknown>[]; next: string | null; poll: string };
    assert.deepEqual(
      body.items.map((e) => [e.domain, e.kind]),
      [
        ["=d.example", "dane-dropped"],
        ["a.example", "newly-broken"],
        ["b.example", "dane-adopted"],
        ["c.example", "mx-moved"],
      ],
    );
    const a = body.items[1]!;
    assert.equal(a.scanId, s2);
    assert.equal(a.previousScanId, s1);
    assert.equal(a.detectedAt, AT);
    assert.deepEqual(a.dane, { before: "valid", after: "invalid" });
    assert.deepEqual(a.problems, { before: [], after: ["tlsa-mismatch"] });
    assert.equal(typeof a.since, "string");
    assert.equal(body.next, null);
  });

  test("pages: next continues, poll gives only what came after", async () => {
    const p1 = (await get("?limit=3")).json() as { items: { id: number }[]; next: string; poll: string };
    assert.equal(p1.items.length, 3);
    const p2 = (await get(`?limit=3&cursor=${p1.next}`)).json() as {
      items: { id: number }[];
      next: null;
      poll: string;
    };
    assert.equal(p2.items.length, 1);
    assert.equal(p2.next, null);
    assert.ok(p2.items[0]!.id > p1.items[2]!.id);
    const later = (await get(`?cursor=${p2.poll}`)).json() as { items: unknown[]; poll: string };
    assert.deepEqual(later.items, []);
    assert.equal(later.poll, p2.poll, "nothing new: poll stays");
  });

  test("filters: kind (comma-separated), domain, since, scan", async () => {
    const kinds = (await get("?kind=mx-moved,dane-adopted")).json() as { items: { kind: string }[] };
    assert.deepEqual(kinds.items.map((e) => e.kind).sort(), ["dane-adopted", "mx-moved"]);
    const dom = (await get("?domain=A.Example.")).json() as { items: { domain: string }[] };
    assert.deepEqual(
      dom.items.map((e) => e.domain),
      ["a.example"],
    );
    assert.equal(((await get(`?since=${AT}`)).json() as { items: unknown[] }).items.length, 4);
    assert.equal(
      ((await get("?since=2026-11-03T02:00:00.001Z")).json() as { items: unknown[] }).items.length,
      0,
    );
    assert.equal(((await get(`?scan=${s1}`)).json() as { items: unknown[] }).items.length, 0);
  });

  test("the whole set as NDJSON and as spreadsheet-safe CSV", async () => {
    const nd = await get("", "application/x-ndjson");
    assert.equal(nd.statusCode, 200);
    assert.match(String(nd.headers["content-type"]), /^application\/x-ndjson/);
    const lines = nd.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 4);
    const csv = await get("?kind=dane-dropped", "text/csv");
    assert.equal(csv.statusCode, 200);
    const rows = csv.body.split("\r\n").filter((l) => l !== "");
    assert.equal(rows[0], CHANGE_COLUMNS.join(","));
    assert.equal(rows.length, 2);
    assert.match(rows[1]!, /^\d+,[^,]+,'=d\.example,dane-dropped,/);
  });

  test("bad parameters are 400 naming them; an unacceptable Accept is 406", async () => {
    const cases: [string, string][] = [
      ["?kind=broken", "kind"],
      ["?since=2026-02-30T00:00:00Z", "since"],
      [`?cursor=${encodeCursor("x1")}`, "cursor"],
      ["?limit=0", "limit"],
      ["?colour=red", "colour"],
    ];
    for (const [q, param] of cases) {
      const r = await get(q);
      assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
      assert.equal((r.json() as { parameter?: string }).parameter, param, q);
    }
    assert.equal((await get("", "image/png")).statusCode, 406);
  });
});
