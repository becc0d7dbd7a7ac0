/**
 * Every SQL panel and variable of the committed dashboards
 * (deploy/grafana/dashboards, what Grafana loads) run against a real
 * PostgreSQL holding two scans, through a read-only login in the role
 * danesweep_reader, as Grafana's data source reads.
 *
 * The two scans are the API's fixture (services/api/test/fixtures.ts): the 24
 * seed domains of the 2018 write-up, judged by libs/dane and stored through
 * the Store API; in scan 2 four cases change (1 fails like 2, 2 and 4 are
 * repaired, 13 breaks). Queries are expanded as Grafana expands them
 * (macros.ts: $__timeFilter, ${scan:sqlstring}, $tld with All...), variables
 * resolved in order from their own queries and defaults.
 *
 * Checked for each query: it runs; its columns are the panel's contract
 * (sqlContract: the field config's columns, or time/metric/value), in order;
 * every value is plausible for its kind (counts are integers >= 0, shares in
 * [0, 1], times inside the time range, text not empty unless the column may
 * be NULL); it returns rows. Time series have points for both scans. Then
 * the figures of the panels a CERT or a researcher reads are compared with
 * tallies of the records the fixture stored (and, for what changed between
 * the scans, with the fixture's documented changes).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { VerdictRecord } from "@danesweep/dane";
import { ApiQueries, openStore, READER_ROLE, type Store } from "@danesweep/store";
import pg from "pg";
import { adminQuery, testPostgresUrl } from "../../../libs/store/test/postgres-url.ts";
import {
  loadUniverse,
  SCAN1_START,
  SCAN2_START,
  type Universe,
} from "../../../services/api/test/fixtures.ts";
import { DASHBOARDS, PG, sqlContract } from "../src/index.ts";
import { expandMacros, type MacroContext, type VariableValue, variableValue } from "../src/macros.ts";
import type { Column, SqlContract } from "../src/sql.ts";

const base = await testPostgresUrl();
const dbName = `grafana_test_${randomBytes(4).toString("hex")}`;
const reader = `grafana_${randomBytes(4).toString("hex")}`;
const readerPassword = randomBytes(12).toString("hex");
const withDb = (db: string, user?: { name: string; password: string }) => {
  const u = new URL(base);
  u.pathname = `/${db}`;
  if (user) {
    u.username = user.name;
    u.password = user.password;
  }
  return u.toString();
};

const admin = (query: string) => adminQuery(base, query);

interface PanelJson {
  id?: number;
  title?: string;
  type?: string;
  targets?: { datasource?: { uid?: string } }[];
}
interface DashboardJson {
  uid: string;
  panels: PanelJson[];
  templating?: {
    list?: {
      name: string;
      type: string;
      query?: string;
      datasource?: { uid?: string };
      multi?: boolean;
      includeAll?: boolean;
      current?: { value?: string | string[] };
    }[];
  };
}

const dashboards: DashboardJson[] = DASHBOARDS.map(
  (d) =>
    JSON.parse(readFileSync(new URL(`../dashboards/${d.file}`, import.meta.url), "utf8")) as DashboardJson,
);
const sqlDashboards = dashboards.filter((d) =>
  d.panels.some((p) => p.targets?.some((t) => t.datasource?.uid === PG.uid)),
);

const RANGE = { from: new Date("2024-01-01T00:00:00Z"), to: new Date("2025-01-01T00:00:00Z") };
const SCAN_TIMES = [SCAN1_START, SCAN2_START].map((t) => Date.parse(t));

let store: Store;
let client: pg.Client;
let u: Universe;

before(async () => {
  // Identifiers below are made here from hex digits only.
  await admin(`create database ${dbName}`);
  store = await openStore({ url: withDb(dbName), poolSize: 2 });
  u = await loadUniverse(store, randomBytes(3).toString("hex"));
  await new ApiQueries(store).setupReaderRole();
  await admin(`create role ${reader} login password '${readerPassword}' in role ${READER_ROLE}`);
  client = new pg.Client({ connectionString: withDb(dbName, { name: reader, password: readerPassword }) });
  await client.connect();
  await client.query("set default_transaction_read_only = on");
});

after(async () => {
  await client?.end();
  await store?.close();
  await admin(`drop database if exists ${dbName} with (force)`);
  await admin(`drop role if exists ${reader}`);
});

type Row = Record<string, unknown>;

async function run(query: string): Promise<{ columns: string[]; rows: Row[] }> {
  const r = await client.query(query);
  return { columns: r.fields.map((f) => f.name), rows: r.rows as Row[] };
}

/** The dashboard's variables, in order, each from its own query (expanded with those before it). */
async function resolveVariables(
  d: DashboardJson,
  range: { from: Date; to: Date },
  overrides: Record<string, string> = {},
): Promise<Record<string, VariableValue>> {
  const vars: Record<string, VariableValue> = {};
  for (const v of d.templating?.list ?? []) {
    assert.equal(v.type, "query", `${d.uid}: variable ${v.name}`);
    assert.equal(v.datasource?.uid, PG.uid, `${d.uid}: variable ${v.name}`);
    const { columns, rows } = await run(expandMacros(v.query ?? "", ctx(range, vars)));
    const col = columns.includes("__value") ? "__value" : columns[0];
    assert.ok(col, `${d.uid}: variable ${v.name} query returns a column`);
    const options = rows.map((r) => String(r[col]));
    assert.ok(options.length > 0, `${d.uid}: variable ${v.name} has options`);
    const o = overrides[v.name];
    if (o !== undefined) assert.ok(options.includes(o), `${v.name}=${o} among ${options}`);
    vars[v.name] = variableValue(o === undefined ? v : { ...v, current: { value: o } }, options);
  }
  return vars;
}

function ctx(range: { from: Date; to: Date }, variables: Record<string, VariableValue>): MacroContext {
  // Grafana's interval: the range over the panel's width in points (about 1000 here).
  return { ...range, intervalMs: Math.ceil((range.to.getTime() - range.from.getTime()) / 1000), variables };
}

function checkValue(where: string, c: Column, v: unknown, range: { from: Date; to: Date }): void {
  if (v === null || v === undefined) {
    assert.ok(c.nullable, `${where}: ${c.name} is NULL`);
    return;
  }
  switch (c.kind) {
    case "count": {
      const n = Number(v);
      assert.ok(Number.isInteger(n) && n >= 0, `${where}: ${c.name} = ${String(v)} is not a count`);
      break;
    }
    case "share": {
      const n = Number(v);
      assert.ok(Number.isFinite(n) && n >= 0 && n <= 1, `${where}: ${c.name} = ${String(v)} is not a share`);
      break;
    }
    case "text":
      assert.ok(typeof v === "string" && v.length > 0, `${where}: ${c.name} = ${JSON.stringify(v)}`);
      break;
    case "time": {
      assert.ok(v instanceof Date, `${where}: ${c.name} = ${String(v)} is not a timestamp`);
      const t = v.getTime();
      assert.ok(
        t >= range.from.getTime() && t <= range.to.getTime(),
        `${where}: ${c.name} outside the range`,
      );
      break;
    }
  }
}

/** Runs a panel's query and checks it against the contract; returns its rows. */
async function runPanel(
  c: SqlContract,
  vars: Record<string, VariableValue>,
  range: { from: Date; to: Date },
): Promise<Row[]> {
  const where = `panel "${c.panel}"`;
  const { columns, rows } = await run(expandMacros(c.rawSql, ctx(range, vars)));
  assert.deepEqual(
    columns,
    c.columns.map((x) => x.name),
    `${where}: columns`,
  );
  assert.ok(rows.length > 0, `${where}: no rows`);
  for (const r of rows) for (const col of c.columns) checkValue(where, col, r[col.name], range);
  return rows;
}

function contracts(d: DashboardJson): SqlContract[] {
  return d.panels.flatMap((p) => sqlContract(p as Parameters<typeof sqlContract>[0]));
}

function panel(title: string): SqlContract {
  const found = sqlDashboards.flatMap(contracts).filter((c) => c.panel === title);
  assert.equal(found.length, 1, `one SQL panel titled "${title}"`);
  return found[0] as SqlContract;
}

function dashboardOf(title: string): DashboardJson {
  const d = sqlDashboards.find((x) => contracts(x).some((c) => c.panel === title));
  assert.ok(d, title);
  return d;
}

/** Rows of one panel with the dashboard's variables (defaults, or overridden). */
async function rowsOf(title: string, overrides: Record<string, string> = {}, range = RANGE): Promise<Row[]> {
  const vars = await resolveVariables(dashboardOf(title), range, overrides);
  return runPanel(panel(title), vars, range);
}

const byTime = (rows: Row[]) => {
  const out = new Map<number, Row[]>();
  for (const r of rows) {
    const t = (r.time as Date).getTime();
    out.set(t, [...(out.get(t) ?? []), r]);
  }
  return out;
};

function tally<T>(values: Iterable<T>, key: (t: T) => string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of values) {
    const k = key(v);
    if (k !== undefined) out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

const broken = (r: VerdictRecord) => r.problems.length > 0;

describe("grafana: every SQL panel on PostgreSQL with two scans", () => {
  test("the dashboards hold SQL panels, each with a contract", () => {
    assert.ok(sqlDashboards.length >= 3, "adoption, breakage, providers");
    for (const d of sqlDashboards) assert.ok(contracts(d).length > 0, d.uid);
  });

  test("every variable and panel query runs and returns the columns and values its panel expects", async () => {
    let panels = 0;
    for (const d of sqlDashboards) {
      const vars = await resolveVariables(d, RANGE);
      // The default scan is the latest finished one: scan 2.
      if (vars.scan) assert.equal(vars.scan.value, u.scan2, `${d.uid}: default scan`);
      for (const c of contracts(d)) {
        const rows = await runPanel(c, vars, RANGE);
        panels++;
        if (c.format === "time_series") {
          const times = [...byTime(rows).keys()].sort();
          assert.deepEqual(times, SCAN_TIMES, `panel "${c.panel}": a point for each scan`);
          const series = new Map<string, number>();
          for (const r of rows) if (r.value !== null) series.set(String(r.metric), 1);
          assert.ok(series.size > 0, `panel "${c.panel}": a series with values`);
        }
      }
    }
    console.log(`${panels} SQL panel queries checked`);
  });

  test("time series show only the scans started in the time range", async () => {
    const range = { from: new Date("2024-05-15T00:00:00Z"), to: new Date("2024-12-31T00:00:00Z") };
    for (const d of sqlDashboards) {
      const vars = await resolveVariables(d, range);
      for (const c of contracts(d).filter((x) => x.format === "time_series")) {
        const rows = await runPanel(c, vars, range);
        assert.deepEqual([...byTime(rows).keys()], [Date.parse(SCAN2_START)], c.panel);
      }
    }
  });

  test("adoption: domains by DANE state and by verdict add up to each scan's 24 domains", async () => {
    for (const title of ["Domains by DANE state, per scan", "Verdicts per scan (action, security)"]) {
      const rows = await rowsOf(title);
      for (const [i, t] of SCAN_TIMES.entries()) {
        const got = new Map((byTime(rows).get(t) ?? []).map((r) => [String(r.metric), Number(r.value)]));
        const records = [...(u.records[i]?.values() ?? [])];
        const want = title.startsWith("Domains")
          ? tally(records, (r) => r.dane)
          : tally(records, (r) => `${r.verdict.action}${r.verdict.security ? ` ${r.verdict.security}` : ""}`);
        assert.deepEqual(got, want, `${title}, scan ${i + 1}`);
      }
    }
  });

  test("adoption: the share valid among signed MX is valid / (MX RRset secure, DANE state known), per scan and per TLD", async () => {
    // A secure MX whose DANE state is dns-error, indeterminate or no-mail is not counted (variables.ts).
    const known = (r: VerdictRecord) =>
      r.mxSecure && !["dns-error", "indeterminate", "no-mail"].includes(r.dane);
    const share = (rs: VerdictRecord[], pick: (r: VerdictRecord) => boolean) =>
      rs.filter((r) => known(r) && pick(r)).length / rs.filter(known).length;
    const overall = await rowsOf("DANE-valid among DNSSEC-signed MX, per scan");
    const perTld = await rowsOf("DANE-valid among DNSSEC-signed MX, by TLD");
    for (const [i, t] of SCAN_TIMES.entries()) {
      const rs = [...(u.records[i]?.values() ?? [])];
      const got = new Map((byTime(overall).get(t) ?? []).map((r) => [String(r.metric), Number(r.value)]));
      assert.deepEqual(
        got,
        new Map([
          ["valid", share(rs, (r) => r.dane === "valid")],
          ["valid or partial", share(rs, (r) => r.dane === "valid" || r.dane === "partial")],
        ]),
        `scan ${i + 1}`,
      );
      // Every seed domain is under .testing; its TLD's share is the overall one.
      const tlds = byTime(perTld).get(t) ?? [];
      assert.deepEqual(
        tlds.map((r) => [r.metric, Number(r.value)]),
        [["testing", share(rs, (r) => r.dane === "valid")]],
        `scan ${i + 1} by TLD`,
      );
    }
    // The TLD table of the selected scan (scan 2 by default, scan 1 when chosen).
    for (const [i, scan] of [u.scan1, u.scan2].entries()) {
      const rs = [...(u.records[i]?.values() ?? [])];
      const rows = await rowsOf("TLDs of the selected scan", { scan });
      assert.deepEqual(
        rows.map((r) => [r.tld, Number(r.domains), Number(r.signed), Number(r.valid)]),
        [["testing", 24, rs.filter(known).length, rs.filter((r) => r.dane === "valid").length]],
      );
    }
  });

  test("breakage: broken and newly broken domains of each scan, with what they were before", async () => {
    for (const [i, scan] of [u.scan1, u.scan2].entries()) {
      const rs = [...(u.records[i]?.values() ?? [])];
      const brokenNow = rs
        .filter(broken)
        .map((r) => r.domain)
        .sort();
      const list = await rowsOf("Broken in the selected scan", { scan });
      assert.deepEqual(
        list.map((r) => r.domain),
        brokenNow,
        `scan ${i + 1}`,
      );
      const table = await rowsOf("Newly broken in the selected scan", { scan });
      // The first scan has no earlier one: everything broken in it is new.
      const newly =
        i === 0 ? brokenNow : brokenNow.filter((d) => !broken(u.records[0]?.get(d) as VerdictRecord));
      if (i === 1) assert.deepEqual(newly, ["test13.testing"], "the fixture breaks case 13 in scan 2");
      assert.deepEqual(
        table.map((r) => r.domain),
        newly,
        `newly broken, scan ${i + 1}`,
      );
      for (const r of table) {
        const before = i === 0 ? undefined : u.records[0]?.get(String(r.domain));
        assert.equal(r.previous_dane_state, before?.dane ?? null, String(r.domain));
        assert.equal(r.previous_scan, i === 0 ? null : u.scan1, String(r.domain));
      }
      // By problem: each broken domain under each of its problems.
      const byProblem = await rowsOf("Broken in the selected scan, by problem", { scan });
      assert.deepEqual(
        new Map(byProblem.map((r) => [String(r.problem), Number(r.domains)])),
        tally(
          rs.flatMap((r) => r.problems),
          (p) => p,
        ),
        `problems, scan ${i + 1}`,
      );
    }
  });

  test("breakage: the stats count what the tables list", async () => {
    const dash = dashboardOf("Broken in the selected scan");
    for (const scan of [u.scan1, u.scan2]) {
      const vars = await resolveVariables(dash, RANGE, { scan });
      const b = await runPanel(panel("Broken"), vars, RANGE);
      const n = await runPanel(panel("Newly broken"), vars, RANGE);
      const list = (await runPanel(panel("Broken in the selected scan"), vars, RANGE)).length;
      const newly = (await runPanel(panel("Newly broken in the selected scan"), vars, RANGE)).length;
      assert.equal(b.length, 1);
      assert.equal(Number(b[0]?.broken), list, scan);
      assert.equal(Number(n[0]?.newly_broken), newly, scan);
    }
  });

  test("breakage per scan over the range: broken domains by problem and by reason", async () => {
    const problems = byTime(await rowsOf("Broken domains per scan, by problem"));
    const reasons = byTime(await rowsOf("Broken domains per scan, by reason"));
    for (const [i, t] of SCAN_TIMES.entries()) {
      const rs = [...(u.records[i]?.values() ?? [])];
      assert.deepEqual(
        new Map((problems.get(t) ?? []).map((r) => [String(r.metric), Number(r.value)])),
        tally(
          rs.flatMap((r) => r.problems),
          (p) => p,
        ),
      );
      assert.deepEqual(
        new Map((reasons.get(t) ?? []).map((r) => [String(r.metric), Number(r.value)])),
        tally(rs.filter(broken), (r) => r.verdict.reason),
      );
    }
  });

  test("providers: domains, MX hosts and DANE states per provider and MX host of the selected scan", async () => {
    for (const [i, scan] of [u.scan1, u.scan2].entries()) {
      const rs = [...(u.records[i]?.values() ?? [])].filter((r) => r.hosts.length > 0);
      const providers = await rowsOf("Providers in the selected scan", { scan });
      assert.deepEqual(
        new Map(providers.map((r) => [r.provider ?? "", Number(r.domains)])),
        tally(rs, (r) => r.provider ?? ""),
        `scan ${i + 1}`,
      );
      for (const r of providers) {
        const mine = rs.filter((x) => (x.provider ?? null) === r.provider);
        assert.equal(Number(r.valid), mine.filter((x) => x.dane === "valid").length);
        assert.equal(Number(r.valid_share), mine.filter((x) => x.dane === "valid").length / mine.length);
      }
      const hosts = await rowsOf("MX hosts in the selected scan", { scan });
      assert.equal(
        hosts.reduce((n, r) => n + Number(r.domains), 0),
        rs.length,
        `every domain with an MX host under one host, scan ${i + 1}`,
      );
    }
    const top = byTime(await rowsOf("DANE-valid domains of the largest providers, per scan"));
    for (const [i, t] of SCAN_TIMES.entries()) {
      const rs = [...(u.records[i]?.values() ?? [])];
      for (const r of top.get(t) ?? [])
        assert.equal(
          Number(r.value),
          rs.filter((x) => x.provider === r.metric && x.dane === "valid").length,
          `${String(r.metric)}, scan ${i + 1}`,
        );
    }
  });
});
