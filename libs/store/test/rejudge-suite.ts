/**
 * The re-judging suite (rejudge.ts), run on PGlite (rejudge.test.ts) and on
 * PostgreSQL (rejudge.int.test.ts): `rejudgeSuite(name, open, bulkRows)`
 * registers node:test tests; `open()` returns a handle on a new, empty
 * database.
 *
 * The scan is rejudge-data.ts's: the 24 seed cases and five profile cases,
 * judged under `postfix`. Every expected count below is worked out from the
 * seed table's outcomes (libs/dane/seed/seed-cases.json) and the profile
 * cases' expectations (written from the rules in rejudge-data.ts), never
 * read from the code under test:
 * - the seed's 24 MX RRsets are all in the signed zone, none is numeric, no
 *   host has more than one address and no TLSA record is DANE-TA: rfc7672
 *   changes none of their verdicts; only the profile cases change;
 * - re-judged under the profile it was judged with, by the same engine, every
 *   verdict is the stored one exactly (the same blob).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  ENGINE_VERSION,
  judge,
  primaryMxHost,
  probeKeyString,
  probeTargets,
  type VerdictRecord,
} from "@danesweep/dane";
import { digestHex, makeSelfSigned } from "../../dane/test/certs.ts";
import { mxDomain, probeTls, simpleHost, tlsaRec } from "../../dane/test/fixtures/build.ts";
import { SEED_EXPECTED } from "../../dane/test/fixtures/seed-cases.ts";
import { verdictBlob, verdictFrom } from "../src/codec.ts";
import type { DbHandle } from "../src/db.ts";
import type { StoreError } from "../src/errors.ts";
import { pruneScan } from "../src/prune.ts";
import { continueRejudge, listRejudgeRuns, rejudgementsOf, startRejudge } from "../src/rejudge.ts";
import type { Transition } from "../src/rejudge-core.ts";
import { type SQL, sql } from "../src/sql.ts";
import { Store } from "../src/store.ts";
import { insertBulkScan } from "./bulk.ts";
import { type ProfileCase, rejudgeScanData } from "./rejudge-data.ts";
import { storeScan, syntheticScanData } from "./scan-data.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const NOW = Date.UTC(2026, 0, 1);
const t = (from: string | null, to: string | null, domains: number): Transition => ({ from, to, domains });

/** The seed's outcomes, counted from the seed table. */
function seedTally() {
  const action: Record<string, number> = {};
  const security: Record<string, number> = {};
  const dane: Record<string, number> = {};
  for (const e of Object.values(SEED_EXPECTED)) {
    action[e.action] = (action[e.action] ?? 0) + 1;
    const s = e.security ?? "(none)";
    security[s] = (security[s] ?? 0) + 1;
    dane[e.dane] = (dane[e.dane] ?? 0) + 1;
  }
  return { action, security, dane };
}

/** Transitions old -> new for the seed (unchanged) plus the profile cases from `from` to `to`. */
export function expectedTransitions(cases: ProfileCase[], to: "postfix" | "rfc7672") {
  const seed = seedTally();
  const pairs = () => {
    const m = new Map<string, Transition>();
    const add = (a: string | null, b: string | null, n: number) => {
      const k = JSON.stringify([a, b]);
      const x = m.get(k);
      if (x) x.domains += n;
      else m.set(k, t(a, b, n));
    };
    return { m, add };
  };
  const action = pairs();
  const security = pairs();
  const dane = pairs();
  for (const [k, n] of Object.entries(seed.action)) action.add(k, k, n);
  for (const [k, n] of Object.entries(seed.security)) {
    const v = k === "(none)" ? null : k;
    security.add(v, v, n);
  }
  for (const [k, n] of Object.entries(seed.dane)) dane.add(k, k, n);
  for (const c of cases) {
    action.add(c.postfix.action, c[to].action, 1);
    security.add(c.postfix.security, c[to].security, 1);
    dane.add(c.postfix.dane, c[to].dane, 1);
  }
  const order = (a: string | null, b: string | null) =>
    a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;
  const sorted = (m: Map<string, Transition>) =>
    [...m.values()].sort((a, b) => order(a.from, b.from) || order(a.to, b.to));
  return { action: sorted(action.m), security: sorted(security.m), dane: sorted(dane.m) };
}

export function rejudgeSuite(name: string, open: () => Promise<DbHandle>, bulkRows: number): void {
  describe(`rejudge: ${name}`, () => {
    let handle: DbHandle;
    let store: Store;
    const data = rejudgeScanData();
    before(async () => {
      handle = await open();
      store = new Store(handle);
    });
    after(async () => {
      await handle?.close();
    });

    const count = async (q: SQL) => Number((await store.db.execute<{ n: string }>(q)).rows[0]?.n);
    const originals = async (scan: string) =>
      (
        await store.db.execute<{ domain: string; class: number; verdict: string; judged_at: Date }>(
          sql`select r.domain, r.class, r.verdict, r.judged_at from results r join scans s on s.seq = r.scan
            where s.id = ${scan} order by r.domain`,
        )
      ).rows;
    const rejudge = async (
      scan: string,
      opts: { profile?: string; again?: boolean; owner?: string } = {},
    ) => {
      const owner = opts.owner ?? "test-owner";
      const s = await startRejudge(store, scan, { ...opts, owner, now: NOW });
      assert.ok(s.ok, JSON.stringify(s));
      if (s.status === "done") return { status: s.status, run: s.run };
      const c = await continueRejudge(store, s.run, { owner, now: () => NOW, batch: 7 });
      assert.equal(c.outcome, "finished");
      return { status: s.status, run: c.run };
    };

    test("the stored originals are the outcomes the rules give under postfix", async () => {
      const scan = await storeScan(store, data);
      const history = new Map(
        (await store.verdictsSince(scan, 0, 1000)).map((v) => [v.record.domain, v.record]),
      );
      assert.equal(history.size, 29);
      for (const [n, e] of Object.entries(SEED_EXPECTED)) {
        const r = history.get(`test${n}.testing`);
        assert.equal(r?.verdict.action, e.action, `case ${n}`);
        assert.equal(r?.dane, e.dane, `case ${n}`);
      }
      for (const c of data.profileCases) {
        const r = history.get(c.domain);
        assert.deepEqual(
          {
            action: r?.verdict.action,
            security: r?.verdict.security ?? null,
            reason: r?.verdict.reason,
            dane: r?.dane,
          },
          c.postfix,
          c.domain,
        );
      }
    });

    test("same engine, same profile: every verdict is the stored one (no new blob); rfc7672 changes the profile cases only", async () => {
      const scan = await storeScan(store, data);
      const before = await originals(scan);
      const blobs = await count(sql`select count(*) as n from verdict_blobs`);

      const same = await rejudge(scan);
      assert.equal(same.status, "new");
      assert.equal(same.run.run, 1);
      assert.equal(same.run.profile, "postfix");
      assert.equal(same.run.engine, ENGINE_VERSION);
      assert.equal(same.run.state, "finished");
      assert.equal(same.run.judged, 29);
      assert.equal(same.run.missingProbes, 0);
      assert.equal(same.run.newBlobs, 0);
      const c1 = same.run.counts!;
      assert.equal(c1.domains, 29);
      assert.equal(c1.identical, 29);
      assert.equal(c1.changed, 0);
      assert.deepEqual(c1.originals, [{ engine: ENGINE_VERSION, profile: "postfix", domains: 29 }]);
      const unchanged = expectedTransitions(data.profileCases, "postfix");
      assert.deepEqual(c1.action, unchanged.action);
      assert.deepEqual(c1.dane, unchanged.dane);
      assert.equal(await count(sql`select count(*) as n from verdict_blobs`), blobs, "no new verdict blob");

      const rfc = await rejudge(scan, { profile: "rfc7672" });
      assert.equal(rfc.status, "new");
      assert.equal(rfc.run.run, 2);
      assert.equal(rfc.run.profile, "rfc7672");
      assert.equal(rfc.run.missingProbes, 0);
      const c2 = rfc.run.counts!;
      assert.equal(c2.domains, 29);
      assert.equal(c2.changed, 4);
      // 25 verdicts say what they said under postfix: they point at their original blobs.
      assert.equal(c2.identical, 25);
      assert.equal(rfc.run.newBlobs, 4);
      assert.equal(await count(sql`select count(*) as n from verdict_blobs`), blobs + 4);
      const expected = expectedTransitions(data.profileCases, "rfc7672");
      assert.deepEqual(c2.action, expected.action);
      assert.deepEqual(c2.security, expected.security);
      assert.deepEqual(c2.dane, expected.dane);
      // The same, as the figures a reader checks: 2 defers and 1 deliver change action.
      assert.deepEqual(
        c2.action.filter((x) => x.from !== x.to),
        [t("defer", "deliver", 2), t("deliver", "bounce", 1)],
      );
      assert.deepEqual(c2.before.action, { defer: 14, deliver: 15 });
      assert.deepEqual(c2.after.action, { bounce: 1, defer: 12, deliver: 16 });

      // The records stored for the profile cases say what the rules say, under rfc7672.
      for (const c of data.profileCases) {
        const [j] = await rejudgementsOf(store, c.domain, { scanIds: [scan] }).then((l) =>
          l.filter((x) => x.run === 2),
        );
        assert.ok(j, c.domain);
        assert.deepEqual(
          { action: j.action, security: j.security, reason: j.reason, dane: j.dane },
          c.rfc7672,
        );
        assert.deepEqual(j.record.engine, { version: ENGINE_VERSION, profile: "rfc7672" });
        assert.equal(
          j.record.judgedAt,
          new Date(Date.UTC(2024, 4, 1, 12)).toISOString(),
          "judged as of the scan",
        );
      }

      // The originals are untouched.
      assert.deepEqual(await originals(scan), before);
      assert.equal(await count(sql`select count(*) as n from rejudgements`), 58);
    });

    test("a domain is given only the probes it asked for, even when the scan stored others", async () => {
      // probe mode "dane": x's host needs DANE and is probed; y's host (the same address and name,
      // without TLSA in y's facts) is opportunistic, so it is not probed for y and y's verdict is
      // indeterminate, not-probed (libs/dane/README.md, "Probe modes"). Re-judged, y must stay so:
      // handed x's probe, it would deliver.
      const good = makeSelfSigned(["mx.shared.example"]);
      const ip = "192.0.2.31";
      const x = mxDomain("shared-x.example", [
        simpleHost("mx.shared.example", 10, {
          v4: [ip],
          tlsa: [tlsaRec(3, 0, 1, digestHex("sha256", good.der))],
        }),
      ]);
      const y = mxDomain("shared-y.example", [simpleHost("mx.shared.example", 10, { v4: [ip], tlsa: null })]);
      const probe = probeTls(ip, "mx.shared.example", [good.b64]);
      const asked = (f: typeof x) => (k: { ip: string; port: number; sni: string }) =>
        probeTargets(f, { probeMode: "dane" }).some((t) => probeKeyString(t) === probeKeyString(k))
          ? probe
          : undefined;
      const entries = [x, y].map((f) => ({
        facts: f,
        record: judge(f, asked(f), { now: NOW, probeMode: "dane" }),
      }));
      assert.equal(entries[0]?.record.verdict.security, "dane-verified");
      assert.deepEqual(entries[1]?.record.verdict, { action: "indeterminate", reason: "not-probed" });
      const scan = await storeScan(
        store,
        { entries, probes: [probe] },
        { parameters: { probeMode: "dane" } },
      );
      const r = await rejudge(scan);
      assert.equal(r.run.counts?.identical, 2);
      assert.equal(r.run.missingProbes, 0);
    });

    test("re-running is idempotent: a finished run is the answer; `again` makes a new run that stores no new blob", async () => {
      const scan = await storeScan(store, data);
      const first = await rejudge(scan, { profile: "rfc7672" });
      const rows = await count(
        sql`select count(*) as n from rejudgements j join scans s on s.seq = j.scan where s.id = ${scan}`,
      );
      assert.equal(rows, 29);
      const again = await rejudge(scan, { profile: "rfc7672" });
      assert.equal(again.status, "done");
      assert.equal(again.run.run, first.run.run);
      assert.deepEqual(again.run.counts, first.run.counts);
      assert.equal(
        await count(
          sql`select count(*) as n from rejudgements j join scans s on s.seq = j.scan where s.id = ${scan}`,
        ),
        29,
      );
      const blobs = await count(sql`select count(*) as n from verdict_blobs`);
      const forced = await rejudge(scan, { profile: "rfc7672", again: true });
      assert.equal(forced.status, "new");
      assert.equal(forced.run.run, first.run.run + 1);
      assert.equal(forced.run.newBlobs, 0, "the verdicts of the first run are stored already");
      assert.equal(await count(sql`select count(*) as n from verdict_blobs`), blobs);
      assert.deepEqual({ ...forced.run.counts }, { ...first.run.counts });
      const runs = await listRejudgeRuns(store, scan);
      assert.deepEqual(
        runs?.map((r) => [r.run, r.profile, r.state]),
        [
          [1, "rfc7672", "finished"],
          [2, "rfc7672", "finished"],
        ],
      );
    });

    test("interrupted after a batch, then resumed: no row twice, the same counts", async () => {
      const scan = await storeScan(store, data);
      const s = await startRejudge(store, scan, { profile: "rfc7672", owner: "a", now: NOW });
      assert.ok(s.ok && s.status === "new");
      const stop = new AbortController();
      const progress: number[] = [];
      const c = await continueRejudge(store, s.run, {
        owner: "a",
        now: () => NOW,
        batch: 10,
        signal: stop.signal,
        onProgress: (p) => {
          progress.push(p.judged);
          stop.abort();
        },
      });
      assert.equal(c.outcome, "interrupted");
      assert.equal(c.run.state, "interrupted");
      assert.equal(c.run.judged, 10);
      assert.deepEqual(progress, [10]);
      assert.equal(c.run.counts, null);

      const r = await startRejudge(store, scan, { profile: "rfc7672", owner: "b", now: NOW });
      assert.ok(r.ok);
      assert.equal(r.status, "resumed");
      assert.equal(r.run.run, s.run.run);
      const seen: number[] = [];
      const done = await continueRejudge(store, r.run, {
        owner: "b",
        now: () => NOW,
        batch: 10,
        onProgress: (p) => seen.push(p.judged),
      });
      assert.equal(done.outcome, "finished");
      assert.deepEqual(seen, [20, 29]);
      assert.equal(done.run.judged, 29);
      assert.equal(
        await count(
          sql`select count(*) as n from rejudgements j join scans s on s.seq = j.scan where s.id = ${scan}`,
        ),
        29,
      );
      const expected = expectedTransitions(data.profileCases, "rfc7672");
      assert.deepEqual(done.run.counts?.dane, expected.dane);
      assert.equal(done.run.counts?.changed, 4);
      assert.deepEqual(done.run.counts?.originals, [
        { engine: ENGINE_VERSION, profile: "postfix", domains: 29 },
      ]);
    });

    test("a run whose owner is alive is refused; once its owner stopped storing, it is taken over", async () => {
      const scan = await storeScan(store, data);
      const a = await startRejudge(store, scan, { profile: "rfc7672", owner: "a", now: NOW });
      assert.ok(a.ok && a.status === "new");
      const busy = await startRejudge(store, scan, { profile: "rfc7672", owner: "b", now: NOW + 60_000 });
      assert.ok(!busy.ok);
      assert.equal(busy.refused.code, "busy");
      // An owner known to be gone (a process of this host that exited) is not waited for.
      const gone = await startRejudge(store, scan, {
        profile: "rfc7672",
        owner: "c",
        now: NOW + 60_000,
        ownerAlive: (o) => o !== "a",
      });
      assert.ok(gone.ok && gone.status === "resumed" && gone.run.owner === "c");
      // Another profile is another run, free to go.
      const other = await startRejudge(store, scan, { profile: "postfix", owner: "b", now: NOW });
      assert.ok(other.ok && other.status === "new");
      // c stored nothing for longer than two minutes: b takes the run over.
      const stale = await startRejudge(store, scan, { profile: "rfc7672", owner: "b", now: NOW + 200_000 });
      assert.ok(stale.ok);
      assert.equal(stale.status, "resumed");
      assert.equal(stale.run.owner, "b");
      // The old owner finds the run taken and stops without storing.
      const old = await continueRejudge(store, a.run, { owner: "a", now: () => NOW, batch: 7 });
      assert.equal(old.outcome, "taken-over");
      const done = await continueRejudge(store, stale.run, {
        owner: "b",
        now: () => NOW + 180_000,
        batch: 7,
      });
      assert.equal(done.outcome, "finished");
      assert.equal(done.run.counts?.changed, 4);
    });

    test("refusals: an unknown scan, a running scan, an unknown profile", async () => {
      const unknown = await startRejudge(store, "01NOSUCHSCAN0000000000000", { owner: "x", now: NOW });
      assert.deepEqual(unknown, {
        ok: false,
        refused: { code: "unknown-scan", scanId: "01NOSUCHSCAN0000000000000" },
      });
      const running = await storeScan(store, data, { finish: false });
      const r = await startRejudge(store, running, { owner: "x", now: NOW });
      assert.deepEqual(r, { ok: false, refused: { code: "scan-running", scanId: running } });
      const finished = await storeScan(store, data);
      const p = await startRejudge(store, finished, { owner: "x", now: NOW, profile: "sendmail" });
      assert.ok(!p.ok && p.refused.code === "unknown-profile");
      assert.match((p.refused as { detail: string }).detail, /"sendmail" is not one of postfix, rfc7672/);
      assert.equal(await listRejudgeRuns(store, "01NOSUCHSCAN0000000000000"), undefined);
    });

    test("a stored body that does not decode fails the run, naming the domain; the originals stay", async () => {
      const own = syntheticScanData(`corrupt${name}`, 3, 0, []);
      const scan = await storeScan(store, own);
      const victim = own.entries[1]!.record.domain;
      await store.db.execute(
        sql`update fact_blobs set body = '\x07not a codec'::bytea
            where hash = (select r.facts from results r join scans s on s.seq = r.scan where s.id = ${scan} and r.domain = ${victim})`,
      );
      const s = await startRejudge(store, scan, { owner: "x", now: NOW });
      assert.ok(s.ok);
      await assert.rejects(
        continueRejudge(store, s.run, { owner: "x", now: () => NOW }),
        (e: StoreError) => e.code === "integrity" && e.message.includes(victim) && e.message.includes(scan),
      );
      const [run] = (await listRejudgeRuns(store, scan)) ?? [];
      assert.equal(run?.state, "failed");
      assert.match(run?.error ?? "", new RegExp(victim.replaceAll(".", "\\.")));
      assert.equal(
        await count(
          sql`select count(*) as n from results r join scans s on s.seq = r.scan where s.id = ${scan}`,
        ),
        3,
      );
    });

    test("views: every judgement of a domain, and the latest of a finished run", async () => {
      const scan = await storeScan(store, data);
      const d = "profile-numeric-mx.example";
      const latest = async () =>
        (
          await store.db.execute<{ run: number; action: string; profile: string }>(
            sql`select run, action, profile from latest_judgements where scan_id = ${scan} and domain = ${d}`,
          )
        ).rows;
      assert.deepEqual(await latest(), [{ run: 0, action: "deliver", profile: "postfix" }]);
      await rejudge(scan, { profile: "rfc7672" });
      assert.deepEqual(await latest(), [{ run: 1, action: "bounce", profile: "rfc7672" }]);
      // An interrupted run is not the latest.
      const s = await startRejudge(store, scan, { profile: "postfix", owner: "v", now: NOW });
      assert.ok(s.ok);
      const stop = new AbortController();
      stop.abort();
      const c = await continueRejudge(store, s.run, {
        owner: "v",
        now: () => NOW,
        batch: 29,
        signal: stop.signal,
      });
      assert.equal(c.outcome, "interrupted");
      assert.deepEqual(await latest(), [{ run: 1, action: "bounce", profile: "rfc7672" }]);
      const every = (
        await store.db.execute<{
          run: number;
          action: string;
          engine: string;
          profile: string;
          run_state: string | null;
        }>(
          sql`select run, action, engine, profile, run_state from judgements where scan_id = ${scan} and domain = ${d} order by run`,
        )
      ).rows;
      assert.deepEqual(every, [
        { run: 0, action: "deliver", engine: ENGINE_VERSION, profile: "postfix", run_state: null },
        { run: 1, action: "bounce", engine: ENGINE_VERSION, profile: "rfc7672", run_state: "finished" },
        { run: 2, action: "deliver", engine: ENGINE_VERSION, profile: "postfix", run_state: "interrupted" },
      ]);
      const of = await rejudgementsOf(store, d, { scanIds: [scan] });
      assert.deepEqual(
        of.map((x) => [x.run, x.runState, x.engine.profile, x.action]),
        [
          [1, "finished", "rfc7672", "bounce"],
          [2, "interrupted", "postfix", "deliver"],
        ],
      );
    });

    test("prune keeps the verdicts another scan's re-judgements refer to, and takes the pruned scan's own", async () => {
      const a = await storeScan(store, data);
      const b = await storeScan(store, data);
      await rejudge(a, { profile: "rfc7672" });
      await rejudge(b, { profile: "rfc7672" });
      // Both scans stored the same facts: the four verdicts rfc7672 changed are the same blobs in both,
      // and no result row cites them.
      const shared = await count(
        sql`select count(distinct j.verdict) as n from rejudgements j join scans s on s.seq = j.scan where s.id = ${b}
            and not exists (select 1 from results r where r.verdict = j.verdict)`,
      );
      assert.equal(shared, 4);
      const seqA = await count(sql`select seq as n from scans where id = ${a}`);
      const r = await pruneScan(handle, a);
      assert.ok(r.ok);
      assert.equal(r.report.rows.rejudgements, 29);
      assert.equal(
        r.report.blobs.verdicts.rows,
        0,
        "b's originals and re-judgements cite every verdict a had",
      );
      const read = await rejudgementsOf(store, "profile-mx-match.example");
      assert.ok(read.every((x) => x.scanId !== a));
      assert.equal(read.filter((x) => x.scanId === b).length, 1);
      assert.equal(read.find((x) => x.scanId === b)?.record.verdict.security, "encrypted");
      assert.equal(
        await count(
          sql`select count(*) as n from rejudge_runs x where not exists (select 1 from scans s where s.seq = x.scan)`,
        ),
        0,
      );
      assert.equal(
        await count(sql`select count(*) as n from pg_class where relname = ${`rejudgements_${seqA}`}`),
        0,
      );
    });

    test("an older engine's scan re-judged: the new verdict blobs' columns say what their bodies say, risks included", async () => {
      // A database of its own: the scan's blobs as the current engine stores them are replaced by an
      // older engine's (2.0.0, before risks), so that re-judging must store new blobs, which carry risks.
      const own = await open();
      try {
        const db = new Store(own);
        const scan = await storeScan(db, data);
        const stored = (
          await db.db.execute<{ hash: string; body: Buffer }>(
            sql`select distinct v.hash, v.body from results r join verdict_blobs v on v.hash = r.verdict`,
          )
        ).rows;
        for (const x of stored) {
          const { risks: _r, ...rest } = verdictFrom(x.body, "unused.example");
          const older = verdictBlob({
            ...rest,
            engine: { ...rest.engine, version: "2.0.0" },
          } as VerdictRecord);
          await db.db.execute(
            sql`insert into verdict_blobs (hash, tld, provider, mx_host, delivered_host, delivered_address, engine, profile, problems, body)
                select ${older.hash}::uuid, tld, provider, mx_host, delivered_host, delivered_address, '2.0.0', profile, problems,
                       ${older.body}::bytea
                from verdict_blobs where hash = ${x.hash}::uuid
                on conflict do nothing`,
          );
          await db.db.execute(
            sql`update results set verdict = ${older.hash}::uuid where verdict = ${x.hash}::uuid`,
          );
          await db.db.execute(sql`delete from verdict_blobs where hash = ${x.hash}::uuid`);
        }
        const s = await startRejudge(db, scan, { owner: "older", now: NOW });
        assert.ok(s.ok && s.status === "new");
        const c = await continueRejudge(db, s.run, { owner: "older", now: () => NOW, batch: 7 });
        assert.equal(c.outcome, "finished");
        assert.deepEqual(c.run.counts?.originals, [{ engine: "2.0.0", profile: "postfix", domains: 29 }]);
        const rows = (
          await db.db.execute<{
            hash: string;
            body: Buffer;
            engine: string;
            mx_host: string | null;
            problems: string[];
            risks: string[];
          }>(
            sql`select distinct v.hash, v.body, v.engine, v.mx_host, v.problems, v.risks
                from rejudgements j join verdict_blobs v on v.hash = j.verdict`,
          )
        ).rows;
        assert.ok(rows.length > 0);
        let risky = 0;
        for (const x of rows) {
          const body = verdictFrom(x.body, "unused.example");
          assert.equal(x.engine, ENGINE_VERSION);
          assert.deepEqual(x.risks, body.risks ?? [], x.hash);
          assert.deepEqual(x.problems, body.problems ?? [], x.hash);
          assert.equal(x.mx_host, primaryMxHost(body), x.hash);
          if ((body.risks ?? []).length > 0) risky++;
        }
        // The seed's DANE domains each publish one TLSA record: rule 39's no-next-key applies to them.
        assert.ok(risky > 0, "some re-judged verdict carries a risk");
      } finally {
        await own.close();
      }
    });

    test(`a bulk scan of ${bulkRows} rows re-judges with the heap bounded`, {
      timeout: 600_000,
    }, async () => {
      const scan = `bulk-${name}`;
      await insertBulkScan(store, scan, bulkRows, { explanationRepeat: 20 });
      const s = await startRejudge(store, scan, { owner: "bulk", now: NOW });
      assert.ok(s.ok && s.status === "new");
      assert.equal(s.run.total, bulkRows);
      const heap = () => {
        gc();
        gc();
        return process.memoryUsage().heapUsed / 2 ** 20;
      };
      const base = heap();
      let peak = 0;
      const c = await continueRejudge(store, s.run, {
        owner: "bulk",
        now: () => NOW,
        onProgress: (p) => {
          if (p.judged % 5000 === 0) peak = Math.max(peak, heap() - base);
        },
      });
      assert.equal(c.outcome, "finished");
      assert.equal(c.run.judged, bulkRows);
      // Bulk facts name an MX host in an unsigned MX RRset but carry none of its lookups: the facts lack
      // a lookup the ladder needs (indeterminate, incomplete-facts). Under postfix a host's secure TLSA
      // counts even under an unsigned MX, and whether this host has one is unknown: a host's facts are
      // incomplete, so the DANE state is indeterminate too (libs/dane/README.md, "DANE states").
      assert.deepEqual(c.run.counts?.action, [t("deliver", "indeterminate", bulkRows)]);
      assert.deepEqual(c.run.counts?.dane, [t("insecure", "indeterminate", bulkRows)]);
      assert.deepEqual(c.run.counts?.originals, [{ engine: "bulk", profile: "postfix", domains: bulkRows }]);
      // Two batches of 500 are a few MB; the whole scan's records would be tens of MB.
      assert.ok(peak < 24, `heap grew by ${peak.toFixed(1)} MB while re-judging ${bulkRows} rows`);
    });
  });
}
