/**
 * Change events between scans (changes.ts), run on both drivers (changes.test.ts
 * on PGlite, changes.int.test.ts on PostgreSQL). Scans are written through the
 * Store as the pipeline writes them; the verdicts are built with the state each
 * row of the table below needs, and the events expected are read off the
 * definitions of the kinds (libs/store/src/changes.ts, README), not the code.
 *
 *   domain    scan 1 (finished)       scan 2 (finished)       scan 3 (finished)      expected events
 *   broken    valid                   invalid, broken         valid                  2: newly-broken; 3: fixed
 *   adopted   none                    valid                   -                      2: dane-adopted
 *   dropped   valid                   insecure                -                      2: dane-dropped
 *   moved     mx mx1.moved.example    mx mx2.moved.example    -                      2: mx-moved
 *   gap       valid                   (not judged)            invalid, broken        3: newly-broken, against scan 1
 *   fresh     -                       valid                   -                      none (nothing before)
 *   same      valid                   valid (same verdict)    valid                  none
 *   unknown   none                    dns-error               -                      none (dns-error says nothing)
 * A running scan between 2 and 3 judges "broken" fixed: it is not a previous scan.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DaneState, DomainFacts, Problem, VerdictRecord } from "@danesweep/dane";
import { domainFacts, verdictRecord } from "../../bus/test/fixtures.ts";
import { changesPage, domainChanges, recordChanges, streamChanges } from "../src/changes.ts";
import type { DbHandle } from "../src/db.ts";
import { newScanId } from "../src/ids.ts";
import { Store } from "../src/store.ts";

const T0 = Date.UTC(2026, 10, 1);
const HOUR = 3_600_000;

function record(
  domain: string,
  dane: DaneState,
  opts: { problems?: Problem[]; mx?: string; at: number },
): VerdictRecord {
  const r = verdictRecord(domain);
  const mx = opts.mx ?? `mx.${domain}`;
  const host = { ...r.hosts[0]!, host: mx };
  const broken = (opts.problems ?? []).length > 0;
  return {
    ...r,
    dane,
    problems: opts.problems ?? [],
    verdict: broken ? { action: "defer", reason: "dane-check-failed" } : { ...r.verdict, host: mx },
    hosts: [host],
    judgedAt: new Date(opts.at).toISOString(),
  };
}

export interface Row {
  domain: string;
  dane: DaneState;
  problems?: Problem[];
  mx?: string;
}

/** Stores a scan (number `n`: it starts n days after T0) judging `rows` as the pipeline stores verdicts; finished unless told not to. */
export async function storeChangeScan(
  store: Store,
  n: number,
  rows: Row[],
  finish = true,
): Promise<{ id: string; at: (d: string) => string }> {
  const start = T0 + n * 24 * HOUR;
  const id = newScanId(new Date(start));
  await store.createScan({ id, parameters: {}, startedAt: new Date(start).toISOString() });
  await store.seedDomains(
    id,
    rows.map((r, i) => ({ domain: r.domain, line: i + 1 })),
  );
  const when = new Map(rows.map((r, i) => [r.domain, start + (i + 1) * 1000]));
  await store.storeJudged(
    id,
    rows.map((r) => {
      const facts: DomainFacts = domainFacts(r.domain);
      const o: { problems?: Problem[]; mx?: string; at: number } = { at: when.get(r.domain)! };
      if (r.problems) o.problems = r.problems;
      if (r.mx) o.mx = r.mx;
      return { facts, record: record(r.domain, r.dane, o) };
    }),
  );
  if (finish) await store.finishScan(id, new Date(start + HOUR).toISOString());
  return { id, at: (d) => new Date(when.get(d)!).toISOString() };
}

export function changesSuite(name: string, open: () => Promise<DbHandle>): void {
  describe(`change events: ${name}`, () => {
    let handle: DbHandle;
    let store: Store;
    let s1: Awaited<ReturnType<typeof storeChangeScan>>;
    let s2: Awaited<ReturnType<typeof storeChangeScan>>;
    let s3: Awaited<ReturnType<typeof storeChangeScan>>;
    let first: Awaited<ReturnType<typeof recordChanges>>;
    let second: Awaited<ReturnType<typeof recordChanges>>;
    const AT2 = "2026-11-03T02:00:00.000Z";
    const AT3 = "2026-11-04T02:00:00.000Z";

    before(async () => {
      handle = await open();
      store = new Store(handle);
      s1 = await storeChangeScan(store, 1, [
        { domain: "broken.example", dane: "valid" },
        { domain: "adopted.example", dane: "none" },
        { domain: "dropped.example", dane: "valid" },
        { domain: "moved.example", dane: "valid", mx: "mx1.moved.example" },
        { domain: "gap.example", dane: "valid" },
        { domain: "same.example", dane: "valid" },
        { domain: "unknown.example", dane: "none" },
      ]);
      // Scans finished before change events existed were marked by the migration; this one is new.
      assert.deepEqual(
        (await recordChanges(store, "2026-11-02T02:00:00.000Z")).map((r) => [r.scanId, r.compared, r.events]),
        [[s1.id, 0, 0]],
        "the first scan has nothing to be compared with",
      );
      s2 = await storeChangeScan(store, 2, [
        { domain: "broken.example", dane: "invalid", problems: ["tlsa-mismatch"] },
        { domain: "adopted.example", dane: "valid" },
        { domain: "dropped.example", dane: "insecure" },
        { domain: "moved.example", dane: "valid", mx: "mx2.moved.example" },
        { domain: "fresh.example", dane: "valid" },
        { domain: "same.example", dane: "valid" },
        { domain: "unknown.example", dane: "dns-error" },
      ]);
      first = await recordChanges(store, AT2);
      await storeChangeScan(store, 9, [{ domain: "broken.example", dane: "valid" }], false);
      s3 = await storeChangeScan(store, 3, [
        { domain: "broken.example", dane: "valid" },
        { domain: "gap.example", dane: "invalid", problems: ["starttls-missing"] },
        { domain: "same.example", dane: "valid" },
      ]);
      second = await recordChanges(store, AT3);
    });
    after(async () => {
      await handle.close();
    });

    test("each finished scan is recorded once, with the domains compared and the events", () => {
      // scan 2: every domain but fresh had a verdict in scan 1.
      assert.deepEqual(first, [{ scanId: s2.id, compared: 6, events: 4 }]);
      // scan 3: broken and same against scan 2, gap against scan 1; the running scan is not used.
      assert.deepEqual(second, [{ scanId: s3.id, compared: 3, events: 2 }]);
    });

    test("the events of scan 2", async () => {
      const ev = await changesPage(store, { scanId: s2.id }, { limit: 100 });
      assert.deepEqual(
        ev.map((e) => [e.domain, e.kind, e.previousScanId]),
        [
          ["adopted.example", "dane-adopted", s1.id],
          ["broken.example", "newly-broken", s1.id],
          ["dropped.example", "dane-dropped", s1.id],
          ["moved.example", "mx-moved", s1.id],
        ],
      );
      const moved = ev.find((e) => e.kind === "mx-moved")!;
      assert.deepEqual(moved.mx, { before: "mx1.moved.example", after: "mx2.moved.example" });
      const broken = ev.find((e) => e.kind === "newly-broken")!;
      assert.equal(broken.since, s2.at("broken.example"), "first seen broken: when scan 2 judged it");
      assert.equal(broken.previousAt, s1.at("broken.example"), "last seen before: when scan 1 judged it");
      assert.equal(broken.detectedAt, AT2);
      assert.deepEqual(broken.dane, { before: "valid", after: "invalid" });
      assert.deepEqual(broken.problems, { before: [], after: ["tlsa-mismatch"] });
    });

    test("the events of scan 3: fixed against scan 2, a gap compared with scan 1", async () => {
      const ev = await changesPage(store, { scanId: s3.id }, { limit: 100 });
      assert.deepEqual(
        ev.map((e) => [e.domain, e.kind, e.previousScanId]),
        [
          ["broken.example", "fixed", s2.id],
          ["gap.example", "newly-broken", s1.id],
        ],
      );
    });

    test("recording again changes nothing", async () => {
      const before = await changesPage(store, {}, { limit: 1000 });
      assert.deepEqual(await recordChanges(store, "2026-11-05T00:00:00.000Z"), []);
      assert.deepEqual(await changesPage(store, {}, { limit: 1000 }), before);
    });

    test("filters and pages: since, kind, domain; ids ascending, strictly after the cursor", async () => {
      const all = await changesPage(store, {}, { limit: 1000 });
      assert.ok(all.every((e, i) => i === 0 || e.id > all[i - 1]!.id));
      assert.deepEqual(
        (await changesPage(store, { since: AT3 }, { limit: 100 })).map((e) => e.scanId),
        [s3.id, s3.id],
      );
      assert.deepEqual(
        (await changesPage(store, { kinds: ["newly-broken"] }, { limit: 100 })).map((e) => e.domain),
        ["broken.example", "gap.example"],
      );
      const page1 = await changesPage(store, {}, { limit: 2 });
      const page2 = await changesPage(store, {}, { after: page1[1]!.id, limit: 100 });
      assert.deepEqual([...page1, ...page2], all);
      const streamed = [];
      for await (const e of streamChanges(store, {}, 2)) streamed.push(e);
      assert.deepEqual(streamed, all);
    });

    test("a domain's history, newest first", async () => {
      assert.deepEqual(
        (await domainChanges(store, "broken.example")).map((e) => e.kind),
        ["fixed", "newly-broken"],
      );
      assert.deepEqual(await domainChanges(store, "same.example"), []);
    });
  });
}
