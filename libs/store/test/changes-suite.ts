/**
 * Change events between scans (changes.ts), run on both drivers (changes.test.ts
 * on PGlite, changes.int.test.ts on PostgreSQL). Scans are written through the
 * Store as the pipeline writes them; the verdicts are built with the state each
 * row of the table below needs, and the events expected are read off the
 * rules (docs/rules.md 49-51), not the code. The recorder runs with pages of
 * two pairs, so pages and look-backs cross page ends.
 *
 *   domain   scan 1 (finished)     scan 2 (finished)     scan 3 (finished)    scan 4    expected events
 *   broken   valid                 invalid, broken       valid                -         2: newly-broken; 3: fixed
 *   adopted  none                  valid                 -                    -         2: dane-adopted
 *   dropped  valid                 insecure              -                    -         2: dane-dropped
 *   moved    mx mx1.moved.example  mx mx2.moved.example  -                    -         2: mx-moved
 *   gap      valid                 (not judged)          invalid, broken      -         3: newly-broken, against scan 1
 *   fresh    -                     valid                 -                    -         none (nothing before)
 *   same     valid                 valid (same verdict)  valid                -         none
 *   unknown  none                  dns-error             -                    -         none (dns-error says nothing)
 *   optout   partial, broken       valid, a DANE host    partial, broken      -         none: scan 2 is not fully observed,
 *                                  refused by policy                                    scan 3 is compared with scan 1
 *   optfix   invalid, broken       valid, refused        valid                -         3: fixed, against scan 1
 *   indet    valid                 indeterminate         -                    -         none (not fully observed)
 *   profile  valid (postfix)       insecure (rfc7672)    -                    -         none (another profile)
 *   long     invalid, broken       valid, refused        valid, refused,      valid     4: fixed, against scan 1
 *                                                        another MX                     (two verdicts stepped over)
 * A running scan between 2 and 3 judges "broken" fixed: it is not a previous scan.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DaneState, DomainFacts, HostOutcome, Problem, VerdictRecord } from "@danesweep/dane";
import { domainFacts, verdictRecord } from "../../bus/test/fixtures.ts";
import { changesPage, domainChanges, recordChanges, streamChanges } from "../src/changes.ts";
import type { DbHandle } from "../src/db.ts";
import { newScanId } from "../src/ids.ts";
import { Store } from "../src/store.ts";

const T0 = Date.UTC(2026, 10, 1);
const HOUR = 3_600_000;

/** A second DANE host, preference 20, whose one address our policy did not contact (after the decision). */
function refusedHost(domain: string, first: HostOutcome): HostOutcome {
  const name = `mx2.${domain}`;
  return {
    ...first,
    host: name,
    preference: 20,
    tlsaBase: name,
    addresses: [
      {
        address: "127.0.0.20",
        family: 4,
        security: "secure",
        probe: { ip: "127.0.0.20", port: 25, sni: name, status: "policy-opt-out" },
        result: "not-tried",
        assessed: { result: "policy-refused", reason: "policy-refused" },
      },
    ],
  };
}

function record(domain: string, row: Row, at: number): VerdictRecord {
  const r = verdictRecord(domain);
  const mx = row.mx ?? `mx.${domain}`;
  const host = { ...r.hosts[0]!, host: mx };
  const problems = row.problems ?? [];
  const verdict: VerdictRecord["verdict"] =
    row.dane === "indeterminate"
      ? { action: "indeterminate", reason: "not-probed" }
      : problems.length > 0
        ? { action: "defer", reason: "dane-check-failed" }
        : { ...r.verdict, host: mx };
  return {
    ...r,
    engine: { ...r.engine, profile: row.profile ?? r.engine.profile },
    dane: row.dane,
    problems,
    verdict,
    hosts: row.refused ? [host, refusedHost(domain, host)] : [host],
    judgedAt: new Date(at).toISOString(),
  };
}

export interface Row {
  domain: string;
  dane: DaneState;
  problems?: Problem[];
  mx?: string;
  /** A second DANE host refused by our policy: not fully observed (rule 51). */
  refused?: boolean;
  /** The client-policy profile (default postfix). */
  profile?: string;
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
      return { facts, record: record(r.domain, r, when.get(r.domain)!) };
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
    let s4: Awaited<ReturnType<typeof storeChangeScan>>;
    let first: Awaited<ReturnType<typeof recordChanges>>;
    let second: Awaited<ReturnType<typeof recordChanges>>;
    let third: Awaited<ReturnType<typeof recordChanges>>;
    const AT2 = "2026-11-03T02:00:00.000Z";
    const AT3 = "2026-11-04T02:00:00.000Z";
    const AT4 = "2026-11-05T02:00:00.000Z";
    const PAGE = { pageSize: 2 };

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
        { domain: "optout.example", dane: "partial", problems: ["tlsa-mismatch"] },
        { domain: "optfix.example", dane: "invalid", problems: ["starttls-missing"] },
        { domain: "indet.example", dane: "valid" },
        { domain: "profile.example", dane: "valid" },
        { domain: "long.example", dane: "invalid", problems: ["tlsa-mismatch"] },
      ]);
      // Scans finished before change events existed were marked by the migration; this one is new.
      assert.deepEqual(
        (await recordChanges(store, "2026-11-02T02:00:00.000Z", PAGE)).map((r) => [
          r.scanId,
          r.compared,
          r.events,
        ]),
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
        { domain: "optout.example", dane: "valid", refused: true },
        { domain: "optfix.example", dane: "valid", refused: true },
        { domain: "indet.example", dane: "indeterminate" },
        { domain: "profile.example", dane: "insecure", profile: "rfc7672" },
        { domain: "long.example", dane: "valid", refused: true },
      ]);
      first = await recordChanges(store, AT2, PAGE);
      await storeChangeScan(store, 9, [{ domain: "broken.example", dane: "valid" }], false);
      s3 = await storeChangeScan(store, 3, [
        { domain: "broken.example", dane: "valid" },
        { domain: "gap.example", dane: "invalid", problems: ["starttls-missing"] },
        { domain: "same.example", dane: "valid" },
        { domain: "optout.example", dane: "partial", problems: ["tlsa-mismatch"] },
        { domain: "optfix.example", dane: "valid" },
        { domain: "long.example", dane: "valid", refused: true, mx: "mx3.long.example" },
      ]);
      second = await recordChanges(store, AT3, PAGE);
      s4 = await storeChangeScan(store, 4, [{ domain: "long.example", dane: "valid" }]);
      third = await recordChanges(store, AT4, PAGE);
    });
    after(async () => {
      await handle.close();
    });

    test("each finished scan is recorded once, with the domains compared, those set aside, and the events", () => {
      // scan 2: every domain but fresh had a verdict in scan 1; optout, optfix, indet and long are
      // not fully observed, profile has no earlier verdict of its profile.
      assert.deepEqual(first, [{ scanId: s2.id, compared: 6, notCompared: 5, events: 4 }]);
      // scan 3: broken, same, optout, optfix and long against scan 2 (optout and optfix further back),
      // gap against scan 1; long is not fully observed; the running scan is not used.
      assert.deepEqual(second, [{ scanId: s3.id, compared: 5, notCompared: 1, events: 3 }]);
      assert.deepEqual(third, [{ scanId: s4.id, compared: 1, notCompared: 0, events: 1 }]);
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

    test("the events of scan 3: fixed against scan 2, a gap compared with scan 1, none against a verdict not fully observed", async () => {
      const ev = await changesPage(store, { scanId: s3.id }, { limit: 100 });
      assert.deepEqual(
        ev.map((e) => [e.domain, e.kind, e.previousScanId]),
        [
          ["broken.example", "fixed", s2.id],
          ["gap.example", "newly-broken", s1.id],
          ["optfix.example", "fixed", s1.id],
        ],
      );
      const optfix = ev[2]!;
      assert.equal(
        optfix.previousAt,
        s1.at("optfix.example"),
        "last seen broken: scan 1, the last full look",
      );
      assert.equal(optfix.since, s3.at("optfix.example"));
      assert.deepEqual(optfix.problems, { before: ["starttls-missing"], after: [] });
    });

    test("the events of scan 4: two verdicts not fully observed stepped over", async () => {
      const ev = await changesPage(store, { scanId: s4.id }, { limit: 100 });
      assert.deepEqual(
        ev.map((e) => [e.domain, e.kind, e.previousScanId, e.mx.before, e.mx.after]),
        [["long.example", "fixed", s1.id, "mx.long.example", "mx.long.example"]],
      );
    });

    test("no event in either direction against a verdict not fully observed, or of another profile", async () => {
      for (const d of ["optout.example", "indet.example", "profile.example"])
        assert.deepEqual(await domainChanges(store, d), [], d);
    });

    test("a page size that is not a positive integer is refused, naming it", async () => {
      await assert.rejects(recordChanges(store, AT4, { pageSize: 0 }), (e: Error & { code?: string }) => {
        assert.equal(e.code, "invalid-input");
        assert.match(e.message, /pageSize 0 is not a positive integer/);
        return true;
      });
    });

    test("recording again changes nothing", async () => {
      const before = await changesPage(store, {}, { limit: 1000 });
      assert.deepEqual(await recordChanges(store, "2026-11-06T00:00:00.000Z"), []);
      assert.deepEqual(await changesPage(store, {}, { limit: 1000 }), before);
    });

    test("filters and pages: since, kind, domain; ids ascending, strictly after the cursor", async () => {
      const all = await changesPage(store, {}, { limit: 1000 });
      assert.ok(all.every((e, i) => i === 0 || e.id > all[i - 1]!.id));
      assert.deepEqual(
        (await changesPage(store, { since: AT3 }, { limit: 100 })).map((e) => e.scanId),
        [s3.id, s3.id, s3.id, s4.id],
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
