/**
 * `danesweep rejudge` and `danesweep show` as a user runs them (bin/danesweep,
 * a child process), on the embedded store and on PostgreSQL: a finished scan
 * of the 24 reference cases and five profile cases judged under postfix
 * (libs/store/test/rejudge-data.ts), a running scan, and a bulk scan to
 * interrupt; all written through the store (no testbed needed). Expected
 * counts come from the rules (libs/store/test/rejudge-suite.ts
 * expectedTransitions), never from the code under test.
 * Last, live: a scan of the testbed's client-policy domains (one per Postfix
 * default: test/testbed/src/profiles.ts) under postfix, re-judged under
 * rfc7672, with the counts their rule-given outcomes make.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ENGINE_VERSION } from "@danesweep/dane";
import { openStore, type StoreConfig, sql } from "@danesweep/store";
import { insertBulkScan } from "../../libs/store/test/bulk.ts";
import { rejudgeScanData } from "../../libs/store/test/rejudge-data.ts";
import { expectedTransitions } from "../../libs/store/test/rejudge-suite.ts";
import { storeScan } from "../../libs/store/test/scan-data.ts";
import { PROFILE_CASES } from "../testbed/src/profiles.ts";
import { ensureTestbed, freshDatabase, parseJsonl, runCli, startCli, TESTBED_SCAN } from "./cli.ts";

const data = rejudgeScanData();
const BULK = 30_000;

function flow(name: string, setup: () => Promise<{ where: string[]; cleanup: () => Promise<void> }>) {
  describe(`rejudge through bin/danesweep: ${name}`, () => {
    let where: string[];
    let cfg: StoreConfig;
    let cleanup: () => Promise<void>;
    let scans: { done: string; running: string; bulk: string };
    before(async () => {
      ({ where, cleanup } = await setup());
      cfg = where[0] === "--data" ? { dataDir: where[1]! } : { url: where[1]! };
      const store = await openStore(cfg);
      try {
        scans = {
          done: await storeScan(store, data, { parameters: { probeMode: "all", policy: "postfix" } }),
          running: await storeScan(store, data, { finish: false }),
          bulk: `E2E-BULK-${name}`,
        };
        await insertBulkScan(store, scans.bulk, BULK);
      } finally {
        await store.close();
      }
    });
    after(async () => {
      await cleanup?.();
    });

    test("the scan's profile, then rfc7672: the counts of what changed; again: the same run, nothing stored", {
      timeout: 120_000,
    }, async () => {
      const same = await runCli(["rejudge", scans.done, ...where]);
      assert.equal(same.code, 0, same.stderr);
      assert.match(
        same.stdout,
        new RegExp(
          `^re-judged scan ${scans.done} \\(finished, .*\\): run 1, engine ${ENGINE_VERSION.replaceAll(".", "\\.")}, profile postfix`,
        ),
      );
      assert.match(same.stdout, /0 verdicts changed class, 29 say exactly what they said/);
      assert.match(same.stdout, /0 new verdicts stored/);
      assert.match(same.stdout, /CHANGES: none/);

      const rfc = await runCli(["rejudge", scans.done, "--policy", "rfc7672", "--json", ...where]);
      assert.equal(rfc.code, 0, rfc.stderr);
      const run = JSON.parse(rfc.stdout);
      assert.equal(run.status, "new");
      assert.equal(run.run, 2);
      assert.equal(run.profile, "rfc7672");
      assert.equal(run.counts.changed, 4);
      assert.equal(run.newBlobs, 4);
      const want = expectedTransitions(data.profileCases, "rfc7672");
      assert.deepEqual(run.counts.action, want.action);
      assert.deepEqual(run.counts.security, want.security);
      assert.deepEqual(run.counts.dane, want.dane);

      const text = await runCli(["rejudge", scans.done, "--policy", "rfc7672", ...where]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^already re-judged scan .*: run 2, .* profile rfc7672 \(finished .*--again/);
      // The before/after table and the changes, as the rules give them.
      assert.match(text.stdout, /\nACTION +BEFORE +AFTER\nbounce +0 +1\ndefer +14 +12\ndeliver +15 +16\n/);
      assert.match(text.stdout, /\naction +defer -> deliver +2\naction +deliver -> bounce +1\n/);
      assert.match(text.stdout, /\ndane +valid -> insecure +1\n/);

      const runs = await openStore(cfg);
      try {
        const n = await runs.db.execute<{ n: string }>(
          sql`select count(*) as n from rejudgements j join scans s on s.seq = j.scan where s.id = ${scans.done}`,
        );
        assert.equal(Number(n.rows[0]?.n), 58, "two runs of 29, nothing twice");
      } finally {
        await runs.close();
      }
    });

    test("show: the original verdict and each re-judgement with engine and profile", {
      timeout: 60_000,
    }, async () => {
      const show = await runCli(["show", "profile-mx-match.example", ...where]);
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, new RegExp(`judged by: engine ${ENGINE_VERSION}/postfix`));
      assert.match(
        show.stdout,
        new RegExp(
          `${scans.done} +deliver dane-verified +dane-authenticated +valid +engine ${ENGINE_VERSION}/postfix\\n`,
        ),
      );
      assert.match(
        show.stdout,
        /re-judged .* \(run 1\) +deliver dane-verified +dane-authenticated +valid +engine .*\/postfix/,
      );
      assert.match(
        show.stdout,
        /re-judged .* \(run 2\) +deliver encrypted +opportunistic-tls +insecure +engine .*\/rfc7672/,
      );
      const json = await runCli(["show", "profile-mx-match.example", "--json", ...where]);
      const lines = parseJsonl(json.stdout) as (ReturnType<typeof parseJsonl>[number] & {
        rejudged?: { run: number };
      })[];
      const mine = lines.filter((l) => l.scan === scans.done);
      assert.deepEqual(
        mine.map((l) => [l.rejudged?.run ?? 0, l.engine.profile, l.verdict.security]),
        [
          [0, "postfix", "dane-verified"],
          [1, "postfix", "dane-verified"],
          [2, "rfc7672", "encrypted"],
        ],
      );
    });

    test("refusals: an unknown scan, a running scan, a bad profile, no scan", {
      timeout: 60_000,
    }, async () => {
      const cases: [string[], RegExp][] = [
        [["rejudge", "01NOSUCHSCAN0000000000000", ...where], /no scan "01NOSUCHSCAN0000000000000"/],
        [["rejudge", scans.running, ...where], new RegExp(`scan ${scans.running} is still running`)],
        [
          ["rejudge", scans.done, "--policy", "sendmail", ...where],
          /--policy must be one of postfix, rfc7672/,
        ],
        [["rejudge", ...where], /give exactly one SCAN id/],
      ];
      for (const [args, message] of cases) {
        const r = await runCli(args);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
      const help = await runCli(["rejudge", "--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^usage: danesweep rejudge SCAN/);
    });

    test("Ctrl-C stops after the batch in flight (exit 130); the same command goes on and stores nothing twice", {
      timeout: 300_000,
    }, async () => {
      const { child, done } = startCli(["rejudge", scans.bulk, ...where]);
      const store = await openStore(cfg);
      try {
        const judged = async () =>
          Number(
            (
              await store.db.execute<{ n: string }>(
                sql`select coalesce(max(x.judged), 0) as n from rejudge_runs x join scans s on s.seq = x.scan
                    where s.id = ${scans.bulk}`,
              )
            ).rows[0]?.n,
          );
        while ((await judged()) === 0) await new Promise((r) => setTimeout(r, 20));
        child.kill("SIGINT");
        const r = await done;
        assert.equal(r.code, 130, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `interrupted: run 1 stored \\d+ of ${BULK} domains; danesweep rejudge ${scans.bulk} goes on`,
          ),
        );
        const stoppedAt = await judged();
        assert.ok(stoppedAt > 0 && stoppedAt < BULK, `stopped at ${stoppedAt}`);

        const resumed = await runCli(["rejudge", scans.bulk, "--json", ...where]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.match(
          resumed.stderr,
          new RegExp(`going on with run 1 \\(${stoppedAt} of ${BULK} domains stored\\)`),
        );
        const run = JSON.parse(resumed.stdout);
        assert.equal(run.status, "resumed");
        assert.equal(run.judged, BULK);
        assert.equal(run.counts.domains, BULK);
        const rows = await store.db.execute<{ n: string }>(
          sql`select count(*) as n from rejudgements j join scans s on s.seq = j.scan where s.id = ${scans.bulk}`,
        );
        assert.equal(Number(rows.rows[0]?.n), BULK);
      } finally {
        await store.close();
      }
    });
  });
}

flow("embedded", async () => {
  const dir = mkdtempSync(join(tmpdir(), "danesweep-e2e-rejudge-"));
  return { where: ["--data", dir], cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

flow("postgresql", async () => {
  const db = await freshDatabase();
  return { where: ["--database", db.url], cleanup: db.drop };
});

describe("rejudge through bin/danesweep: a live scan of the testbed's client-policy domains", () => {
  let dir: string;
  before(() => {
    ensureTestbed();
    dir = mkdtempSync(join(tmpdir(), "danesweep-e2e-rejudge-live-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("scanned under postfix, re-judged under rfc7672: every one changes, as rules 32-34 say", {
    timeout: 180_000,
  }, async () => {
    const where = ["--data", join(dir, "store")];
    const domains = PROFILE_CASES.map((c) => c.domain);
    const scan = await runCli(["scan", ...TESTBED_SCAN, ...where, "--format", "jsonl", ...domains]);
    assert.equal(scan.code, 0, scan.stderr);
    const verdicts = parseJsonl(scan.stdout);
    assert.deepEqual(verdicts.map((v) => v.domain).sort(), [...domains].sort());
    for (const c of PROFILE_CASES) {
      const v = verdicts.find((x) => x.domain === c.domain)!;
      assert.equal(v.engine.profile, "postfix", c.domain);
      assert.deepEqual(
        [v.verdict.action, v.verdict.security ?? null, v.verdict.reason, v.dane],
        [c.postfix.action, c.postfix.security, c.postfix.reason, c.postfix.dane],
        c.domain,
      );
      if (c.postfix.host) assert.equal(v.verdict.host, c.postfix.host, c.domain);
      if (c.postfix.beyondLimit)
        assert.deepEqual(
          [v.verdict.beyondAddressLimit?.host, v.verdict.beyondAddressLimit?.address],
          [c.postfix.beyondLimit.host, c.postfix.beyondLimit.address],
          c.domain,
        );
    }
    const scanId = verdicts[0]!.scan;
    const r = await runCli(["rejudge", scanId, "--policy", "rfc7672", "--json", ...where]);
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(r.stdout);
    assert.equal(run.profile, "rfc7672");
    assert.equal(run.counts.domains, PROFILE_CASES.length);
    assert.equal(run.counts.changed, PROFILE_CASES.length);
    // (old -> new) per field, tallied from the cases' outcomes under each profile.
    const tally = (field: "action" | "security" | "dane") => {
      const m = new Map<string, { from: string | null; to: string | null; domains: number }>();
      for (const c of PROFILE_CASES) {
        const k = JSON.stringify([c.postfix[field], c.rfc7672[field]]);
        const x = m.get(k) ?? { from: c.postfix[field], to: c.rfc7672[field], domains: 0 };
        x.domains++;
        m.set(k, x);
      }
      return [...m.values()];
    };
    const sorted = (l: { from: string | null; to: string | null; domains: number }[]) =>
      [...l].sort((a, b) => `${a.from}>${a.to}`.localeCompare(`${b.from}>${b.to}`));
    for (const field of ["action", "security", "dane"] as const)
      assert.deepEqual(sorted(run.counts[field]), sorted(tally(field)), field);
    // What the rules give, written out: two deferred domains deliver, the numeric MX bounces.
    assert.deepEqual(sorted(run.counts.action), [
      { from: "defer", to: "deliver", domains: 2 },
      { from: "deliver", to: "bounce", domains: 1 },
    ]);
  });
});
