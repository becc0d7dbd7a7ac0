/**
 * Change events between scans (issue 14, item 5; migrations/0010_change_events.sql).
 * The rules are libs/dane's (changes.ts; docs/rules.md rules 49-51): this
 * file finds the pairs of verdicts to compare, lets libs/dane classify them,
 * and stores the events.
 *
 * When a scan finishes, each domain it judged is compared with its most
 * recent verdict in an earlier finished scan ("earlier": created before it,
 * scans.seq) that is comparable with it (rule 50: both fully observed, rule
 * 51, and judged under the same client-policy profile); a verdict not fully
 * observed is not compared at all. Each change of a kind in CHANGE_KINDS
 * (rule 49: newly-broken, fixed, dane-adopted, dane-dropped, mx-moved) is
 * stored as an event with the first-seen time of the new state (`since`:
 * when this scan judged the domain) and the last-seen time of the old one
 * (`previousAt`: when the verdict compared with was judged).
 *
 * Contract:
 * - `recordChanges(store, at, opts?)`: records the events of every finished
 *   scan whose changes are not recorded yet (change_scans), oldest first, one
 *   transaction per scan:
 *   - SQL selects, set-wise, the domains whose verdict blob differs from
 *     their latest earlier verdict's (a merge of the scan's partition with
 *     its predecessor's, then, for the domains that one did not judge, one
 *     lateral lookup over the older scans); identical blobs cannot give an
 *     event and never leave the database. A cursor hands these pairs over in
 *     pages of `opts.pageSize` (default 1000), in domain order;
 *   - per page, libs/dane summarises each side (`fullyObserved` on the
 *     decoded verdict; the DANE state from verdict_classes; the problems,
 *     primary MX host and profile from verdict_blobs' columns, which hold
 *     what libs/dane derives from the record) and classifies the pair
 *     (`changeKinds`). A pair whose earlier side is not comparable looks
 *     further back, one query per round for the page's such domains, until
 *     a comparable verdict is found or none is left;
 *   - the page's events are inserted in one statement, in (domain, kind)
 *     order.
 *   No round trip per domain. Idempotent: a scan's changes are recorded once
 *   (its change_scans row is written in the same transaction; events are
 *   unique per scan, domain and kind). Event ids grow in commit order (the
 *   table is locked for the scan's inserts), so a reader paging by id never
 *   misses an event committed later with a smaller id. Returns per scan the
 *   domains with an earlier verdict (`compared`, less those set aside), the
 *   domains set aside because this scan's verdict, or every earlier one, was
 *   not comparable (`notCompared`), and the events. Database failures raise
 *   StoreError; the scan stays unrecorded and the next call records it. A
 *   stored verdict that does not decode raises StoreError "integrity".
 * - `changesPage(store, filters, { after, limit })`: events in id order,
 *   strictly after the id `after`; filters: detected at or after `since`,
 *   `kinds`, `domain`, `scanId`. `streamChanges` yields the whole filtered set
 *   in pages. `domainChanges(store, domain, limit)`: a domain's events, newest first.
 * Times are ISO 8601 UTC.
 */
import {
  CHANGE_KINDS,
  type ChangeKind,
  type ChangeSide,
  changeKinds,
  comparable,
  type DaneState,
  fullyObserved,
} from "@danesweep/dane";
import type pg from "pg";
import { verdictFrom } from "./codec.ts";
import { StoreError, toStoreError } from "./errors.ts";
import { type SQL, sql } from "./sql.ts";
import type { Store } from "./store.ts";
import { iso } from "./time.ts";

export { CHANGE_KINDS, type ChangeKind };

export interface ChangeEvent {
  id: number;
  detectedAt: string;
  domain: string;
  kind: ChangeKind;
  /** First seen in the new state: when `scanId` judged the domain. */
  since: string;
  /** Last seen in the old state: when `previousScanId` judged it. */
  previousAt: string;
  scanId: string;
  previousScanId: string;
  dane: { before: string; after: string };
  mx: { before: string | null; after: string | null };
  problems: { before: string[]; after: string[] };
}

export interface ChangeFilters {
  /** Detected at or after (ISO 8601). */
  since?: string;
  kinds?: ChangeKind[];
  domain?: string;
  scanId?: string;
}

export interface RecordedChanges {
  scanId: string;
  /** Domains of the scan compared with an earlier verdict (an unchanged verdict counts: it cannot give an event). */
  compared: number;
  /**
   * Domains with an earlier verdict that were not compared (rules 50, 51): the
   * verdict changed, and this scan's, or every earlier one, was not fully
   * observed or judged under another profile.
   */
  notCompared: number;
  events: number;
}

export interface RecordOptions {
  /** Pairs of changed verdicts classified per page (one insert per page). */
  pageSize?: number;
}

/** Serialises recorders across processes (a deployment's finish sites may race). */
const CHANGES_LOCK = 7_262_901_514;
const DEFAULT_PAGE = 1000;

/** A verdict as a comparison reads it: where and when it was judged, its summary. */
interface Side {
  scan: number;
  at: string;
  verdict: string;
  side: ChangeSide;
}

interface NewEvent {
  since: string;
  previous_at: string;
  domain: string;
  kind: ChangeKind;
  previous_scan_id: string;
  dane_before: string;
  dane_after: string;
  mx_before: string | null;
  mx_after: string | null;
  problems_before: string[];
  problems_after: string[];
}

type Raw = Record<string, unknown>;

/**
 * The columns of one side of a pair, named with prefix `p`: the results row's
 * scan, judged_at, verdict (`r`: its alias, or a prefix of the pair's
 * columns), its class `k` and its blob `v`.
 */
function sideColumns(
  r: { scan: string; at: string; verdict: string },
  k: string,
  v: string,
  p: string,
): string {
  return `${r.scan} as ${p}scan, ${r.at} as ${p}at, ${r.verdict} as ${p}verdict, ${k}.dane_state as ${p}dane,
          ${v}.mx_host as ${p}mx, ${v}.problems as ${p}problems, ${v}.profile as ${p}profile, ${v}.body as ${p}body`;
}

/**
 * One side of a row read with sideColumns(…, p): the summary libs/dane
 * compares. The DANE state, problems, primary MX host and profile are the
 * class and columns the store derived from the record when it stored it
 * (records migrated from the first layout may lack problems in the body: the
 * column has them); whether it is fully observed is read from the record.
 */
function sideOf(x: Raw, p: string): Side {
  const record = verdictFrom(x[`${p}body`] as Buffer, String(x.domain));
  const dane = x[`${p}dane`] as DaneState;
  const problems = (x[`${p}problems`] ?? []) as string[];
  return {
    scan: Number(x[`${p}scan`]),
    at: iso(x[`${p}at`]),
    verdict: String(x[`${p}verdict`]),
    side: {
      profile: String(x[`${p}profile`]),
      dane,
      problems,
      mx: (x[`${p}mx`] ?? null) as string | null,
      observed: fullyObserved({ ...record, dane, problems }),
    },
  };
}

function int(n: number): number {
  if (!Number.isSafeInteger(n)) throw new Error(`changes: ${n} is not a scan number`);
  return n;
}

/**
 * The changed pairs of scan `seq`: each domain whose verdict differs from its
 * latest verdict in the finished scans `prev` (the one just before) and
 * `older` (the rest), with both sides' columns, in domain order. The pairs
 * are selected first (materialized), so that only they are joined with their
 * classes and blobs.
 */
function pairsQuery(seq: number, prev: number, older: number[]): string {
  const pairs = [
    `select c.domain, c.scan, c.judged_at, c.verdict, c.class,
            p.scan as pscan, p.judged_at as pjudged_at, p.verdict as pverdict, p.class as pclass
     from results c join results p on p.domain = c.domain and p.scan = ${int(prev)}
     where c.scan = ${int(seq)} and c.verdict <> p.verdict`,
  ];
  if (older.length > 0) {
    pairs.push(
      `select c.domain, c.scan, c.judged_at, c.verdict, c.class, p.scan, p.judged_at, p.verdict, p.class
       from results c
       cross join lateral (
         select r.scan, r.judged_at, r.verdict, r.class from results r
         where r.domain = c.domain and r.scan = any(array[${older.map(int).join(",")}]::integer[])
         order by r.scan desc limit 1) p
       where c.scan = ${int(seq)} and c.verdict <> p.verdict
         and not exists (select 1 from results q where q.scan = ${int(prev)} and q.domain = c.domain)`,
    );
  }
  return `with pairs as materialized (${pairs.join("\n union all\n")})
    select x.domain,
           ${sideColumns({ scan: "x.scan", at: "x.judged_at", verdict: "x.verdict" }, "cc", "cv", "c")},
           ${sideColumns({ scan: "x.pscan", at: "x.pjudged_at", verdict: "x.pverdict" }, "pc", "pv", "p")}
    from pairs x
    join verdict_classes cc on cc.id = x.class
    join verdict_blobs cv on cv.hash = x.verdict
    join verdict_classes pc on pc.id = x.pclass
    join verdict_blobs pv on pv.hash = x.pverdict
    order by x.domain`;
}

/** How many domains of scan `seq` have a verdict in an earlier finished scan. */
function withEarlierQuery(seq: number, prev: number, older: number[]): string {
  const a = `select count(*) from results c join results p on p.domain = c.domain and p.scan = ${int(prev)}
             where c.scan = ${int(seq)}`;
  if (older.length === 0) return `select (${a}) as n`;
  const b = `select count(*) from results c
             where c.scan = ${int(seq)}
               and not exists (select 1 from results q where q.scan = ${int(prev)} and q.domain = c.domain)
               and exists (select 1 from results r where r.domain = c.domain
                           and r.scan = any(array[${older.map(int).join(",")}]::integer[]))`;
  return `select (${a}) + (${b}) as n`;
}

/**
 * For each (domain, bound, skip): its latest verdict in the finished scans $4
 * before scan `bound`, other than the verdict `skip` (one already found not
 * comparable: the same blob is not comparable either).
 */
const LOOK_BACK = `select q.domain, ${sideColumns({ scan: "r.scan", at: "r.judged_at", verdict: "r.verdict" }, "k", "v", "b")}
  from unnest($1::text[], $2::integer[], $3::uuid[]) as q(domain, bound, skip)
  cross join lateral (
    select r.scan, r.judged_at, r.verdict, r.class from results r
    where r.domain = q.domain and r.scan = any($4::integer[]) and r.scan < q.bound and r.verdict <> q.skip
    order by r.scan desc limit 1) r
  join verdict_classes k on k.id = r.class
  join verdict_blobs v on v.hash = r.verdict`;

const INSERT_EVENTS = `insert into change_events (detected_at, since, previous_at, domain, kind, scan_id, previous_scan_id,
                             dane_before, dane_after, mx_before, mx_after, problems_before, problems_after)
  select $1, x.since, x.previous_at, x.domain, x.kind, $2, x.previous_scan_id,
         x.dane_before, x.dane_after, x.mx_before, x.mx_after, x.problems_before, x.problems_after
  from jsonb_to_recordset($3::jsonb) as x(since timestamptz, previous_at timestamptz, domain text, kind text,
       previous_scan_id text, dane_before text, dane_after text, mx_before text, mx_after text,
       problems_before text[], problems_after text[])
  order by x.domain, x.kind
  on conflict do nothing
  returning 1`;

function eventsOf(domain: string, before: Side, after: Side, scanIds: Map<number, string>): NewEvent[] {
  return changeKinds(before.side, after.side).map((kind) => ({
    since: after.at,
    previous_at: before.at,
    domain,
    kind,
    previous_scan_id: scanIds.get(before.scan) ?? String(before.scan),
    dane_before: before.side.dane,
    dane_after: after.side.dane,
    mx_before: before.side.mx,
    mx_after: after.side.mx,
    problems_before: [...before.side.problems],
    problems_after: [...after.side.problems],
  }));
}

interface Pending {
  domain: string;
  after: Side;
  /** Look before this scan... */
  bound: number;
  /** ...for a verdict other than this one. */
  skip: string;
}

async function recordOne(
  client: pg.PoolClient,
  scan: { id: string; seq: number },
  at: string,
  pageSize: number,
): Promise<RecordedChanges | undefined> {
  await client.query("begin");
  try {
    await client.query("select pg_advisory_xact_lock($1)", [CHANGES_LOCK]);
    const done = await client.query("select 1 from change_scans where scan_id = $1", [scan.id]);
    if (done.rowCount) {
      await client.query("rollback");
      return undefined;
    }
    // Ids are taken in commit order: no reader paging by id can miss an event committed later.
    await client.query("lock table change_events in share row exclusive mode");
    const earlier = await client.query<{ id: string; seq: number }>(
      "select id, seq from scans where state = 'finished' and seq < $1 order by seq desc",
      [scan.seq],
    );
    const scanIds = new Map(earlier.rows.map((r) => [Number(r.seq), r.id]));
    const seqs = earlier.rows.map((r) => Number(r.seq));
    let withEarlier = 0;
    let notCompared = 0;
    let events = 0;
    const prev = seqs[0];
    if (prev !== undefined) {
      const older = seqs.slice(1);
      const n = await client.query<{ n: string }>(withEarlierQuery(scan.seq, prev, older));
      withEarlier = Number(n.rows[0]?.n ?? 0);
      // The whole changed set in one plan, handed over in pages.
      await client.query("set local cursor_tuple_fraction = 1");
      await client.query(`declare change_pairs no scroll cursor for ${pairsQuery(scan.seq, prev, older)}`);
      for (;;) {
        const page = await client.query<Raw>(`fetch forward ${int(pageSize)} from change_pairs`);
        if (page.rows.length === 0) break;
        const found: NewEvent[] = [];
        let pending: Pending[] = [];
        for (const x of page.rows) {
          const domain = x.domain as string;
          const after = sideOf(x, "c");
          if (!after.side.observed) {
            notCompared++;
            continue;
          }
          const before = sideOf(x, "p");
          if (comparable(before.side, after.side)) found.push(...eventsOf(domain, before, after, scanIds));
          else pending.push({ domain, after, bound: before.scan, skip: before.verdict });
        }
        // Earlier sides not comparable: the latest comparable verdict before them, a round per scan stepped over.
        while (pending.length > 0) {
          const r = await client.query<Raw>(LOOK_BACK, [
            pending.map((p) => p.domain),
            pending.map((p) => p.bound),
            pending.map((p) => p.skip),
            seqs,
          ]);
          const rows = new Map(r.rows.map((x) => [x.domain as string, x]));
          const next: Pending[] = [];
          for (const p of pending) {
            const x = rows.get(p.domain);
            if (!x) {
              notCompared++;
              continue;
            }
            // The very verdict this scan gave: nothing changed since then.
            if (String(x.bverdict) === p.after.verdict) continue;
            const before = sideOf(x, "b");
            if (comparable(before.side, p.after.side))
              found.push(...eventsOf(p.domain, before, p.after, scanIds));
            else next.push({ ...p, bound: before.scan, skip: before.verdict });
          }
          pending = next;
        }
        if (found.length > 0) {
          const ins = await client.query(INSERT_EVENTS, [at, scan.id, JSON.stringify(found)]);
          events += ins.rowCount ?? 0;
        }
      }
      await client.query("close change_pairs");
    }
    const compared = withEarlier - notCompared;
    await client.query(
      "insert into change_scans (scan_id, recorded_at, compared, events) values ($1, $2, $3, $4)",
      [scan.id, at, compared, events],
    );
    await client.query("commit");
    return { scanId: scan.id, compared, notCompared, events };
  } catch (e) {
    await client.query("rollback").catch(() => {});
    throw e;
  }
}

export async function recordChanges(
  store: Store,
  at: string,
  opts: RecordOptions = {},
): Promise<RecordedChanges[]> {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    throw new StoreError("invalid-input", `recordChanges: pageSize ${pageSize} is not a positive integer`);
  }
  let client: pg.PoolClient;
  try {
    client = await store.handle.pool.connect();
  } catch (e) {
    throw toStoreError(e, "recordChanges: connect");
  }
  try {
    const todo = await client.query<{ id: string; seq: number }>(
      `select s.id, s.seq from scans s
       where s.state = 'finished' and not exists (select 1 from change_scans c where c.scan_id = s.id)
       order by s.seq`,
    );
    const out: RecordedChanges[] = [];
    for (const s of todo.rows) {
      const r = await recordOne(client, { id: s.id, seq: Number(s.seq) }, at, pageSize);
      if (r) out.push(r);
    }
    return out;
  } catch (e) {
    throw toStoreError(e, "recordChanges");
  } finally {
    client.release();
  }
}

function toEvent(x: Raw): ChangeEvent {
  return {
    id: Number(x.id),
    detectedAt: iso(x.detected_at),
    domain: x.domain as string,
    kind: x.kind as ChangeKind,
    since: iso(x.since),
    previousAt: iso(x.previous_at),
    scanId: x.scan_id as string,
    previousScanId: x.previous_scan_id as string,
    dane: { before: x.dane_before as string, after: x.dane_after as string },
    mx: { before: (x.mx_before ?? null) as string | null, after: (x.mx_after ?? null) as string | null },
    problems: { before: (x.problems_before ?? []) as string[], after: (x.problems_after ?? []) as string[] },
  };
}

function filterSql(f: ChangeFilters): SQL[] {
  const out: SQL[] = [];
  if (f.since !== undefined) out.push(sql`detected_at >= ${f.since}`);
  if (f.kinds !== undefined && f.kinds.length > 0) out.push(sql`kind = any(${sql.param(f.kinds)}::text[])`);
  if (f.domain !== undefined) out.push(sql`domain = ${f.domain}`);
  if (f.scanId !== undefined) out.push(sql`scan_id = ${f.scanId}`);
  return out;
}

async function rows(store: Store, what: string, q: SQL): Promise<Raw[]> {
  try {
    return (await store.db.execute(q)).rows as Raw[];
  } catch (e) {
    throw toStoreError(e, what);
  }
}

export async function changesPage(
  store: Store,
  filters: ChangeFilters,
  opts: { after?: number; limit: number },
): Promise<ChangeEvent[]> {
  const where = [...filterSql(filters)];
  if (opts.after !== undefined) where.push(sql`id > ${opts.after}`);
  const cond = where.length > 0 ? sql`where ${sql.join(where, sql` and `)}` : sql``;
  const r = await rows(
    store,
    "changesPage",
    sql`select * from change_events ${cond} order by id limit ${opts.limit}`,
  );
  return r.map(toEvent);
}

export async function* streamChanges(
  store: Store,
  filters: ChangeFilters,
  batch = 2000,
  after?: number,
  signal?: AbortSignal,
): AsyncGenerator<ChangeEvent> {
  let cursor = after;
  for (;;) {
    if (signal?.aborted) return;
    const page = await changesPage(
      store,
      filters,
      cursor === undefined ? { limit: batch } : { after: cursor, limit: batch },
    );
    for (const e of page) {
      if (signal?.aborted) return;
      yield e;
    }
    if (page.length < batch) return;
    cursor = page[page.length - 1]?.id;
  }
}

export async function domainChanges(store: Store, domain: string, limit = 100): Promise<ChangeEvent[]> {
  const r = await rows(
    store,
    "domainChanges",
    sql`select * from change_events where domain = ${domain} order by id desc limit ${limit}`,
  );
  return r.map(toEvent);
}
