/**
 * Change events between scans (issue 14, item 5; migrations/0010_change_events.sql).
 *
 * When a scan finishes, each domain it judged is compared with its verdict in
 * the most recent earlier finished scan that judged it ("earlier": created
 * before it, scans.seq), and each change of a kind in CHANGE_KINDS is stored
 * as an event with the first-seen time of the new state (`since`: when this
 * scan judged the domain) and the last-seen time of the old one
 * (`previousAt`):
 * - newly-broken / fixed: the verdict's problems (libs/dane: broken) went
 *   from none to some / from some to none;
 * - dane-adopted / dane-dropped: the DANE state went from one that publishes
 *   no DANE (none, insecure, no-mail) to one that does (valid, partial,
 *   invalid, unusable-records) / the other way; dns-error and indeterminate
 *   say nothing either way;
 * - mx-moved: the primary MX host (lowest preference, then name) changed,
 *   both verdicts having one.
 *
 * Contract:
 * - `recordChanges(store, at)`: records the events of every finished scan
 *   whose changes are not recorded yet (change_scans), oldest first: one
 *   transaction per scan, set-wise (a join of the scan's partition with its
 *   predecessor's, then, for the domains that one did not judge, one lookup
 *   over the earlier scans), never a round trip per domain. Idempotent: a
 *   scan's changes are recorded once (its change_scans row is written in the
 *   same transaction). Event ids grow in commit order (the table is locked
 *   for the insert), so a reader paging by id never misses an event committed
 *   later with a smaller id. Returns what it recorded per scan. Database
 *   failures raise StoreError; the scan stays unrecorded and the next call
 *   records it.
 * - `changesPage(store, filters, { after, limit })`: events in id order,
 *   strictly after the id `after`; filters: detected at or after `since`,
 *   `kinds`, `domain`, `scanId`. `streamChanges` yields the whole filtered set
 *   in pages. `domainChanges(store, domain, limit)`: a domain's events, newest first.
 * Times are ISO 8601 UTC.
 */
import type pg from "pg";
import { toStoreError } from "./errors.ts";
import { type SQL, sql } from "./sql.ts";
import type { Store } from "./store.ts";
import { iso } from "./time.ts";

export const CHANGE_KINDS = ["newly-broken", "fixed", "dane-adopted", "dane-dropped", "mx-moved"] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** DANE states in which the domain publishes DANE that applies (libs/dane README, "DANE states"). */
export const DANE_PRESENT = ["valid", "partial", "invalid", "unusable-records"] as const;
/** DANE states in which it publishes none. */
export const DANE_ABSENT = ["none", "insecure", "no-mail"] as const;

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
  /** Domains of the scan compared with an earlier verdict. */
  compared: number;
  events: number;
}

/** Serialises recorders across processes (a deployment's finish sites may race). */
const CHANGES_LOCK = 7_262_901_514;

const DANE_PRESENT_SQL = `('${DANE_PRESENT.join("','")}')`;
const DANE_ABSENT_SQL = `('${DANE_ABSENT.join("','")}')`;

/**
 * The events of `pairs` (a CTE giving domain, cclass, cverdict, cat, pscan,
 * pclass, pverdict, pat, for verdicts that differ): classes and blobs joined,
 * one row per change kind, inserted. $1 scan id, $2 detected at. The query
 * returns `compared` (the SQL given) and `events` (rows inserted).
 */
function eventsFrom(pairs: string, compared: string): string {
  return `with pairs as materialized (${pairs}),
  x as (
    select p.domain, p.cat, p.pat, ps.id as pscan_id,
           cc.broken as cb, cc.dane_state as cd, pc.broken as pb, pc.dane_state as pd,
           cv.mx_host as cmx, pv.mx_host as pmx, cv.problems as cprob, pv.problems as pprob
    from pairs p
    join scans ps on ps.seq = p.pscan
    join verdict_classes cc on cc.id = p.cclass
    join verdict_classes pc on pc.id = p.pclass
    join verdict_blobs cv on cv.hash = p.cverdict
    join verdict_blobs pv on pv.hash = p.pverdict
    where p.cverdict <> p.pverdict),
  k as (
    select x.*, v.kind from x cross join lateral (values
      (case when not x.pb and x.cb then 'newly-broken' end),
      (case when x.pb and not x.cb then 'fixed' end),
      (case when x.pd in ${DANE_ABSENT_SQL} and x.cd in ${DANE_PRESENT_SQL} then 'dane-adopted' end),
      (case when x.pd in ${DANE_PRESENT_SQL} and x.cd in ${DANE_ABSENT_SQL} then 'dane-dropped' end),
      (case when x.pmx is not null and x.cmx is not null and x.pmx <> x.cmx then 'mx-moved' end)
    ) as v(kind) where v.kind is not null),
  ins as (
    insert into change_events (detected_at, since, previous_at, domain, kind, scan_id, previous_scan_id,
                               dane_before, dane_after, mx_before, mx_after, problems_before, problems_after)
    select $2, k.cat, k.pat, k.domain, k.kind, $1, k.pscan_id, k.pd, k.cd, k.pmx, k.cmx, k.pprob, k.cprob
    from k order by k.domain, k.kind
    on conflict do nothing
    returning 1)
  select (${compared}) as compared, (select count(*) from ins) as events`;
}

const PAIR_COLUMNS = `c.domain, c.class as cclass, c.verdict as cverdict, c.judged_at as cat,
  p.scan as pscan, p.class as pclass, p.verdict as pverdict, p.judged_at as pat`;

/** $3 the scan's seq, $4 the previous finished scan's: domains both judged (a merge of two partitions). */
const WITH_PREVIOUS = eventsFrom(
  `select ${PAIR_COLUMNS} from results c join results p on p.domain = c.domain and p.scan = $4
   where c.scan = $3 and c.verdict <> p.verdict`,
  "select count(*) from results c join results p on p.domain = c.domain and p.scan = $4 where c.scan = $3",
);

/** $5 the older finished scans' seqs: for each domain the previous scan did not judge, the latest older verdict. */
const WITH_OLDER = eventsFrom(
  `select ${PAIR_COLUMNS} from results c
   cross join lateral (
     select r.scan, r.class, r.verdict, r.judged_at from results r
     where r.domain = c.domain and r.scan = any($5::integer[])
     order by r.scan desc limit 1) p
   where c.scan = $3 and not exists (select 1 from results q where q.scan = $4 and q.domain = c.domain)`,
  "select count(*) from pairs",
);

async function recordOne(
  client: pg.PoolClient,
  scan: { id: string; seq: number },
  at: string,
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
    const earlier = await client.query<{ seq: number }>(
      "select seq from scans where state = 'finished' and seq < $1 order by seq desc",
      [scan.seq],
    );
    let compared = 0;
    let events = 0;
    const prev = earlier.rows[0]?.seq;
    if (prev !== undefined) {
      // Most domains: judged by the scan just before (a merge of two partitions in domain order).
      const a = await client.query<{ compared: string; events: string }>(WITH_PREVIOUS, [
        scan.id,
        at,
        scan.seq,
        prev,
      ]);
      compared += Number(a.rows[0]?.compared ?? 0);
      events += Number(a.rows[0]?.events ?? 0);
      const older = earlier.rows.slice(1).map((r) => r.seq);
      if (older.length > 0) {
        // The rest: the latest older scan that judged each domain the previous scan did not.
        const b = await client.query<{ compared: string; events: string }>(WITH_OLDER, [
          scan.id,
          at,
          scan.seq,
          prev,
          older,
        ]);
        compared += Number(b.rows[0]?.compared ?? 0);
        events += Number(b.rows[0]?.events ?? 0);
      }
    }
    await client.query(
      "insert into change_scans (scan_id, recorded_at, compared, events) values ($1, $2, $3, $4)",
      [scan.id, at, compared, events],
    );
    await client.query("commit");
    return { scanId: scan.id, compared, events };
  } catch (e) {
    await client.query("rollback").catch(() => {});
    throw e;
  }
}

export async function recordChanges(store: Store, at: string): Promise<RecordedChanges[]> {
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
      const r = await recordOne(client, s, at);
      if (r) out.push(r);
    }
    return out;
  } catch (e) {
    throw toStoreError(e, "recordChanges");
  } finally {
    client.release();
  }
}

type Raw = Record<string, unknown>;

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
