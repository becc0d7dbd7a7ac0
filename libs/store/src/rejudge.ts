/**
 * Re-judging a scan's stored facts with the current verdict engine, without
 * rescanning (migrations/0008_rejudgements.sql; the pure part is
 * rejudge-core.ts). The original verdicts stay in `results`; each re-judging
 * is a run (rejudge_runs) whose verdicts go to `rejudgements`, beside them.
 *
 * `startRejudge(store, scanId, { profile?, owner, now, again? })`, in one
 * transaction (the scan's row locked, so two starters take turns):
 * - refuses an unknown scan (`unknown-scan`), a running scan (`scan-running`:
 *   its facts are still coming) and a profile the engine does not know
 *   (`unknown-profile`);
 * - the profile is the one given, else the scan's (chooseProfile);
 * - a finished run of this scan with the same engine version and profile is
 *   the answer (`done`): re-running changes nothing, unless `again` asks for
 *   a new run;
 * - an unfinished run with the same engine and profile (interrupted, failed,
 *   or running under an owner that stored nothing for `staleAfterMs`, default
 *   2 minutes, or whose process on this host is gone) is taken over
 *   (`resumed`); one whose owner is alive is refused (`busy`);
 * - otherwise a new run (numbered from 1 per scan) is made, with the scan's
 *   rejudgements partition.
 *
 * `continueRejudge(store, run, { owner, now, batch?, signal?, onProgress?, trust? })`
 * runs a started run to its end:
 * - reads the scan's stored rows in domain order after the run's cursor,
 *   `batch` at a time (keyset over the scan's partition; the next batch is
 *   read while one is judged), with the facts and the probes they may read
 *   (store.getProbes: chains restored; the MTA-STS policy fetch among them);
 *   judges each with judgeStored (the original judged_at as `now`, the probe
 *   mode the record names, `trust` for MTA-STS);
 * - stores each batch in one statement: the new verdict blobs (one per
 *   content; a verdict equal to the stored one is not sent again), one row
 *   per domain (ON CONFLICT DO NOTHING: a batch stored twice adds nothing),
 *   and the run's cursor, counters and heartbeat, only while this owner
 *   holds the run;
 * - memory holds two batches at most, whatever the scan's size;
 * - when `signal` aborts, stops after the batch in flight and marks the run
 *   interrupted (resumed by the next start); when another owner took the run
 *   over, stops (`taken-over`); a store failure marks it failed (best
 *   effort) and is raised;
 * - at the end, rebuilds the partition's index (packed), counts the changes
 *   from the stored rows (class of the original -> class of the
 *   re-judgement, tallyChanges) and marks the run finished with them.
 *
 * Reading: `listRejudgeRuns`, `getRejudgeRun` (undefined when the scan or run
 * is unknown), `rejudgementsOf(store, domain)` (every re-judgement of a
 * domain with its record, for `show` and the API). Every database failure
 * raises StoreError with a closed code; times are ISO 8601 UTC.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  type DomainFacts,
  ENGINE_VERSION,
  type EngineInfo,
  type ProbeFacts,
  type ProbeKey,
  policyProfile,
  probeKeyString,
  type TrustStore,
  type VerdictRecord,
} from "@danesweep/dane";
import { type Blob, factsFrom, verdictBlob, verdictBlobColumns, verdictFrom } from "./codec.ts";
import { StoreError, toStoreError } from "./errors.ts";
import {
  type ChangeCounts,
  type ClassPair,
  chooseProfile,
  classOf,
  judgeStored,
  probesToRead,
  sameVerdict,
  tallyChanges,
  type VerdictClass,
} from "./rejudge-core.ts";
import { type SQL, sql } from "./sql.ts";
import { recordFrom, type Store } from "./store.ts";
import { iso } from "./time.ts";

export const REJUDGE_STATES = ["running", "finished", "interrupted", "failed"] as const;
export type RejudgeState = (typeof REJUDGE_STATES)[number];

/** Domains per batch (one read, one probe read, one write). */
export const REJUDGE_BATCH = 500;
/** A running run whose owner stored nothing for this long may be taken over. */
export const REJUDGE_STALE_AFTER_MS = 120_000;

/** Domains whose original verdict came from an engine version and profile. */
export interface OriginalEngine {
  engine: string;
  profile: string;
  domains: number;
}

/** The change counts of a finished run, and the engines of the originals. */
export interface RejudgeCounts extends ChangeCounts {
  originals: OriginalEngine[];
}

export interface RejudgeRun {
  scanId: string;
  run: number;
  engine: string;
  profile: string;
  state: RejudgeState;
  startedAt: string;
  finishedAt: string | null;
  /** When the run last stored a batch. */
  heartbeatAt: string;
  owner: string;
  /** Domains stored by the run so far. */
  judged: number;
  /** Domains judged in the scan when the run started. */
  total: number;
  /** Verdict blobs this run stored for the first time. */
  newBlobs: number;
  /** Domains whose re-judging needed a probe the scan never made (judged without it). */
  missingProbes: number;
  /** Null until the run finished. */
  counts: RejudgeCounts | null;
  error: string | null;
  /** The last domain stored (internal: where a resumed run goes on). */
  cursor: string | null;
}

export type RejudgeRefusal =
  | { code: "unknown-scan"; scanId: string }
  | { code: "scan-running"; scanId: string }
  | { code: "unknown-profile"; profile: string; detail: string }
  | { code: "busy"; run: RejudgeRun };

export type StartOutcome =
  | { ok: true; status: "new" | "resumed" | "done"; run: RejudgeRun }
  | { ok: false; refused: RejudgeRefusal };

export interface StartOptions {
  /** A profile of libs/dane POLICY_PROFILES; default the scan's. */
  profile?: string;
  /** Who runs it (rejudgeOwner()). */
  owner: string;
  /** Epoch ms. */
  now: number;
  /** Make a new run even when one with the same engine and profile finished. */
  again?: boolean;
  staleAfterMs?: number;
  /**
   * Whether the owner of a running run is alive; a dead owner's run is taken
   * over at once. Default `localOwnerAlive`: false only for an owner on this
   * host whose process is gone (others are judged by their heartbeat).
   */
  ownerAlive?: (owner: string) => boolean;
}

export interface ContinueOptions {
  owner: string;
  /** The clock (epoch ms), for heartbeats and the finish time. */
  now: () => number;
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (p: { judged: number; total: number }) => void;
  /**
   * The WebPKI roots MTA-STS is judged with (libs/dane trustStore): those the
   * scan was judged with, for its MTA-STS judgements to come out the same.
   * Without, MTA-STS certificates are not judged ("no-trust-store").
   */
  trust?: TrustStore;
}

export type ContinueOutcome = { outcome: "finished" | "interrupted" | "taken-over"; run: RejudgeRun };

/** A re-judgement of a domain, with the record it stored. */
export interface Rejudgement {
  scanId: string;
  run: number;
  runState: RejudgeState;
  /** When its run started. */
  rejudgedAt: string;
  engine: EngineInfo;
  action: string;
  security: string | null;
  reason: string;
  dane: string;
  record: VerdictRecord;
}

/** An owner name for this process: host, pid and a random part. */
export function rejudgeOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

/** False when `owner` (rejudgeOwner's form) names a process of this host that no longer exists. */
export function localOwnerAlive(owner: string): boolean {
  const m = /^(.*):(\d+):[0-9a-f]+$/.exec(owner);
  if (!m || m[1] !== hostname()) return true;
  try {
    process.kill(Number(m[2]), 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What a run shows its readers (the CLI's --json, the API): the run without its owner and cursor. */
export type RejudgeRunSummary = Omit<RejudgeRun, "owner" | "cursor">;

export function runSummary(r: RejudgeRun): RejudgeRunSummary {
  const { owner: _o, cursor: _c, ...rest } = r;
  return rest;
}

type Raw = Record<string, unknown>;

async function rows<T = Raw>(db: { execute: Store["db"]["execute"] }, what: string, q: SQL): Promise<T[]> {
  try {
    return (await db.execute<T>(q)).rows;
  } catch (e) {
    throw toStoreError(e, `rejudge: ${what}`);
  }
}

function toRun(x: Raw, scanId: string): RejudgeRun {
  return {
    scanId,
    run: Number(x.run),
    engine: x.engine as string,
    profile: x.profile as string,
    state: x.state as RejudgeState,
    startedAt: iso(x.started_at),
    finishedAt: x.finished_at === null || x.finished_at === undefined ? null : iso(x.finished_at),
    heartbeatAt: iso(x.heartbeat_at),
    owner: x.owner as string,
    judged: Number(x.judged),
    total: Number(x.total),
    newBlobs: Number(x.new_blobs),
    missingProbes: Number(x.missing_probes),
    counts: (x.counts ?? null) as RejudgeCounts | null,
    error: (x.error ?? null) as string | null,
    cursor: (x.cursor ?? null) as string | null,
  };
}

// ---------------------------------------------------------------- start

export async function startRejudge(store: Store, scanId: string, opts: StartOptions): Promise<StartOutcome> {
  const staleBefore = new Date(opts.now - (opts.staleAfterMs ?? REJUDGE_STALE_AFTER_MS)).toISOString();
  const at = new Date(opts.now).toISOString();
  try {
    return await store.handle.transaction(async (tx): Promise<StartOutcome> => {
      const [scan] = await rows<{ seq: number; state: string; parameters: unknown }>(
        tx,
        "scan",
        sql`select seq, state, parameters from scans where id = ${scanId} for update`,
      );
      if (!scan) return { ok: false, refused: { code: "unknown-scan", scanId } };
      if (scan.state === "running") return { ok: false, refused: { code: "scan-running", scanId } };
      let stored: string | undefined;
      if (opts.profile === undefined && typeof (scan.parameters as Raw | null)?.policy !== "string") {
        const [v] = await rows<{ profile: string }>(
          tx,
          "stored profile",
          sql`select v.profile from results r join verdict_blobs v on v.hash = r.verdict
              where r.scan = ${scan.seq} limit 1`,
        );
        stored = v?.profile;
      }
      const chosen = chooseProfile(opts.profile, scan.parameters, stored);
      if ("error" in chosen)
        return {
          ok: false,
          refused: { code: "unknown-profile", profile: opts.profile ?? "", detail: chosen.error },
        };
      const profile = chosen.policy.name;
      const [last] = await rows(
        tx,
        "runs",
        sql`select * from rejudge_runs where scan = ${scan.seq} and engine = ${ENGINE_VERSION}
              and profile = ${profile} order by run desc limit 1`,
      );
      if (last) {
        const run = toRun(last, scanId);
        if (run.state === "finished" && !opts.again) return { ok: true, status: "done", run };
        if (run.state !== "finished") {
          const alive = opts.ownerAlive ?? localOwnerAlive;
          if (
            run.state === "running" &&
            run.owner !== opts.owner &&
            run.heartbeatAt >= staleBefore &&
            alive(run.owner)
          )
            return { ok: false, refused: { code: "busy", run } };
          const [taken] = await rows(
            tx,
            "take over",
            sql`update rejudge_runs set owner = ${opts.owner}, state = 'running', heartbeat_at = ${at}::timestamptz,
                  error = null
                where scan = ${scan.seq} and run = ${run.run} returning *`,
          );
          return { ok: true, status: "resumed", run: toRun(taken as Raw, scanId) };
        }
      }
      await rows(tx, "partition", sql`select danesweep_add_rejudge_partition(${scan.seq})`);
      const [made] = await rows(
        tx,
        "new run",
        sql`insert into rejudge_runs (scan, run, engine, profile, state, started_at, owner, heartbeat_at, total)
            select ${scan.seq}, coalesce(max(run), 0) + 1, ${ENGINE_VERSION}, ${profile}, 'running',
                   ${at}::timestamptz, ${opts.owner}, ${at}::timestamptz,
                   (select coalesce(sum(judged), 0) from scan_counters where scan = ${scan.seq})
            from rejudge_runs where scan = ${scan.seq}
            returning *`,
      );
      return { ok: true, status: "new", run: toRun(made as Raw, scanId) };
    });
  } catch (e) {
    throw toStoreError(e, "rejudge: start");
  }
}

// ---------------------------------------------------------------- continue

interface StoredRow {
  domain: string;
  judged_at: unknown;
  collected_at: unknown;
  verdict: string;
  engine: string;
  profile: string;
  fbody: Buffer;
  vbody: Buffer;
}

export async function continueRejudge(
  store: Store,
  start: RejudgeRun,
  opts: ContinueOptions,
): Promise<ContinueOutcome> {
  const policy = policyProfile(start.profile);
  if (!policy)
    throw new StoreError("invalid-input", `rejudge: run ${start.run} names profile ${start.profile}`);
  const [scan] = await rows<{ seq: number }>(
    store.db,
    "scan",
    sql`select seq from scans where id = ${start.scanId}`,
  );
  if (!scan) throw new StoreError("missing-reference", `rejudge: scan ${start.scanId} is not stored`);
  const seq = scan.seq;
  const batch = opts.batch ?? REJUDGE_BATCH;
  const originals = new Map<string, OriginalEngine>();
  for (const o of (
    await rows<{ originals: OriginalEngine[] }>(
      store.db,
      "originals",
      sql`select originals from rejudge_runs where scan = ${seq} and run = ${start.run}`,
    )
  )[0]?.originals ?? [])
    originals.set(`${o.engine}\n${o.profile}`, { ...o });
  let judged = start.judged;
  const total = start.total;
  // The scan's rows are read in domain order, a batch at a time: with statistics the planner walks
  // the primary key; without (a scan just written, before autovacuum came by) it may sort the whole
  // partition for every batch. ANALYZE samples the partition once (the scan no longer changes).
  await rows(store.db, "analyze", sql`analyze ${sql.identifier(`results_${seq}`)}`);

  const read = (after: string | null): Promise<StoredRow[]> => {
    const p = rows<StoredRow>(
      store.db,
      "read",
      sql`with r as materialized (
            select domain, judged_at, collected_at, facts, verdict from results
            where scan = ${seq} ${after === null ? sql`` : sql`and domain > ${after}`}
            order by domain limit ${batch})
          select r.domain, r.judged_at, r.collected_at, r.verdict, v.engine, v.profile,
                 f.body as fbody, v.body as vbody
          from r join fact_blobs f on f.hash = r.facts join verdict_blobs v on v.hash = r.verdict
          order by r.domain`,
    );
    p.catch(() => {});
    return p;
  };

  const mark = async (state: "interrupted" | "failed", error?: string) =>
    rows(
      store.db,
      `mark ${state}`,
      sql`update rejudge_runs set state = ${state}, error = ${error ?? null},
            heartbeat_at = ${new Date(opts.now()).toISOString()}::timestamptz
          where scan = ${seq} and run = ${start.run} and owner = ${opts.owner}`,
    );

  try {
    let next = read(start.cursor);
    for (;;) {
      const stored = await next;
      if (stored.length === 0) break;
      const last = (stored[stored.length - 1] as StoredRow).domain;
      next = stored.length < batch ? Promise.resolve([]) : read(last);

      // The facts, the probe mode of each, and the probes they may read.
      const items = stored.map((x) => {
        let facts: DomainFacts;
        let old: ReturnType<typeof verdictFrom>;
        try {
          facts = factsFrom(x.fbody, iso(x.collected_at));
          old = verdictFrom(x.vbody, x.domain);
        } catch (e) {
          throw new StoreError("integrity", `${x.domain} in scan ${start.scanId}: ${(e as Error).message}`, {
            cause: e,
          });
        }
        const probeMode = old.probeMode ?? "all";
        return { x, facts, old, probeMode, readable: probesToRead(facts, probeMode, policy) };
      });
      const keys = new Map<string, ProbeKey>();
      for (const it of items) for (const [s, k] of it.readable) keys.set(s, k);
      const probes = new Map<string, ProbeFacts>();
      for (const p of await store.getProbes(start.scanId, [...keys.values()]))
        probes.set(probeKeyString(p), p);

      const blobs = new Map<string, { blob: Blob; r: VerdictRecord }>();
      const out: { domain: string; cls: VerdictClass; hash: string }[] = [];
      let missing = 0;
      const seen = new Map<string, OriginalEngine>();
      for (const it of items) {
        const { record, missingProbe } = judgeStored(
          { facts: it.facts, judgedAt: iso(it.x.judged_at), probeMode: it.probeMode },
          probes,
          policy,
          { readable: it.readable, ...(opts.trust ? { trust: opts.trust } : {}) },
        );
        if (missingProbe) missing++;
        // A verdict that says what the original says (whichever engine said it) points at its blob.
        let hash = it.x.verdict;
        if (!sameVerdict(record, it.old)) {
          const b = verdictBlob(record);
          blobs.set(b.hash, { blob: b, r: record });
          hash = b.hash;
        }
        out.push({ domain: it.x.domain, cls: classOf(record), hash });
        const ok = `${it.x.engine}\n${it.x.profile}`;
        const o = seen.get(ok) ?? { engine: it.x.engine, profile: it.x.profile, domains: 0 };
        o.domains++;
        seen.set(ok, o);
      }
      const ids = await store.classIds(out.map((o) => o.cls));
      for (const [k, o] of seen) {
        const sum = originals.get(k) ?? { engine: o.engine, profile: o.profile, domains: 0 };
        sum.domains += o.domains;
        originals.set(k, sum);
      }
      const v = verdictBlobColumns([...blobs.values()]);
      const [w] = await rows<{ inserted: string; judged: string | null }>(
        store.db,
        "store batch",
        sql`with vb as (
              insert into verdict_blobs (hash, tld, provider, mx_host, delivered_host, delivered_address, engine, profile, problems, risks, body)
              select h, t, p, m, dh, da, en, pr, string_to_array(pb, ','), string_to_array(rk, ','),
                     substring(${v.bodies.bytes}::bytea from s for l)
              from unnest(${v.hashes}::uuid[], ${v.tlds}::text[], ${v.providers}::text[], ${v.mxHosts}::text[],
                          ${v.hosts}::text[], ${v.addresses}::text[], ${v.engines}::text[], ${v.profiles}::text[],
                          ${v.problems}::text[], ${v.risks}::text[], ${v.bodies.starts}::integer[],
                          ${v.bodies.lengths}::integer[]) as x(h, t, p, m, dh, da, en, pr, pb, rk, s, l)
              on conflict do nothing returning 1),
            ins as (
              insert into rejudgements (scan, run, domain, class, verdict)
              select ${seq}, ${start.run}, d, c, v
              from unnest(${out.map((o) => o.domain)}::text[], ${ids}::smallint[], ${out.map((o) => o.hash)}::uuid[])
                as x(d, c, v)
              on conflict do nothing returning 1),
            up as (
              update rejudge_runs set cursor = ${last}, heartbeat_at = ${new Date(opts.now()).toISOString()}::timestamptz,
                judged = judged + (select count(*) from ins), new_blobs = new_blobs + (select count(*) from vb),
                missing_probes = missing_probes + ${missing}, originals = ${JSON.stringify([...originals.values()])}::jsonb
              where scan = ${seq} and run = ${start.run} and owner = ${opts.owner} and state = 'running'
              returning judged)
            select (select count(*) from ins) as inserted, (select judged from up) as judged`,
      );
      if (w?.judged === null || w?.judged === undefined) {
        await next.catch(() => {});
        return {
          outcome: "taken-over",
          run: (await getRun(store, start.scanId, seq, start.run)) as RejudgeRun,
        };
      }
      judged = Number(w.judged);
      opts.onProgress?.({ judged, total });
      if (opts.signal?.aborted) {
        await next.catch(() => {});
        await mark("interrupted");
        return {
          outcome: "interrupted",
          run: (await getRun(store, start.scanId, seq, start.run)) as RejudgeRun,
        };
      }
      // Let other work of this process (an API's requests) run between batches.
      await new Promise((r) => setImmediate(r));
    }
    // A run's rows go into the key order of the runs before it (domain, scan, run), splitting their
    // index pages in half; rebuilt once, the index is packed (about 40 of the 78 bytes a row took).
    const partition = sql.identifier(`rejudgements_${seq}`);
    await rows(
      store.db,
      "reindex",
      store.driver === "postgres"
        ? sql`reindex table concurrently ${partition}`
        : sql`reindex table ${partition}`,
    );
    await rows(store.db, "analyze", sql`analyze ${partition}`);
    const counts = await countChanges(store, seq, start.run, [...originals.values()]);
    const [done] = await rows(
      store.db,
      "finish",
      sql`update rejudge_runs set state = 'finished', finished_at = ${new Date(opts.now()).toISOString()}::timestamptz,
            heartbeat_at = ${new Date(opts.now()).toISOString()}::timestamptz, counts = ${JSON.stringify(counts)}::jsonb
          where scan = ${seq} and run = ${start.run} and owner = ${opts.owner} and state = 'running'
          returning *`,
    );
    if (!done)
      return {
        outcome: "taken-over",
        run: (await getRun(store, start.scanId, seq, start.run)) as RejudgeRun,
      };
    return { outcome: "finished", run: toRun(done, start.scanId) };
  } catch (e) {
    const se = toStoreError(e, "rejudge");
    await mark("failed", se.message).catch(() => {});
    throw se;
  }
}

/** The change counts of a run, from its stored rows and the originals beside them. */
async function countChanges(
  store: Store,
  seq: number,
  run: number,
  originals: OriginalEngine[],
): Promise<RejudgeCounts> {
  const pairs = await rows<{ from_class: number; to_class: number; n: string; identical: string }>(
    store.db,
    "count changes",
    sql`select r.class as from_class, j.class as to_class, count(*) as n,
               count(*) filter (where j.verdict = r.verdict) as identical
        from rejudgements j join results r on r.scan = j.scan and r.domain = j.domain
        where j.scan = ${seq} and j.run = ${run}
        group by r.class, j.class`,
  );
  const ids = [...new Set(pairs.flatMap((p) => [p.from_class, p.to_class]))];
  const classes = new Map<number, VerdictClass>();
  for (const c of await rows<Raw>(
    store.db,
    "classes",
    sql`select id, action, security, reason, dane_state, broken from verdict_classes where id = any(${ids}::smallint[])`,
  ))
    classes.set(Number(c.id), {
      action: c.action as string,
      security: (c.security ?? null) as string | null,
      reason: c.reason as string,
      dane: c.dane_state as string,
      broken: c.broken as boolean,
    });
  const list: ClassPair[] = pairs.map((p) => ({
    from: classes.get(Number(p.from_class)) as VerdictClass,
    to: classes.get(Number(p.to_class)) as VerdictClass,
    domains: Number(p.n),
    identical: Number(p.identical),
  }));
  const sorted = [...originals].sort(
    (a, b) => b.domains - a.domains || a.engine.localeCompare(b.engine) || a.profile.localeCompare(b.profile),
  );
  return { ...tallyChanges(list), originals: sorted };
}

// ---------------------------------------------------------------- reading

async function getRun(
  store: Store,
  scanId: string,
  seq: number,
  run: number,
): Promise<RejudgeRun | undefined> {
  const [x] = await rows(
    store.db,
    "run",
    sql`select * from rejudge_runs where scan = ${seq} and run = ${run}`,
  );
  return x ? toRun(x, scanId) : undefined;
}

/** The runs of a scan, oldest first; undefined when the scan is unknown. */
export async function listRejudgeRuns(store: Store, scanId: string): Promise<RejudgeRun[] | undefined> {
  const [scan] = await rows<{ seq: number }>(
    store.db,
    "scan",
    sql`select seq from scans where id = ${scanId}`,
  );
  if (!scan) return undefined;
  const list = await rows(
    store.db,
    "runs",
    sql`select * from rejudge_runs where scan = ${scan.seq} order by run`,
  );
  return list.map((x) => toRun(x, scanId));
}

/** One run of a scan; undefined when the scan or the run is unknown. */
export async function getRejudgeRun(
  store: Store,
  scanId: string,
  run: number,
): Promise<RejudgeRun | undefined> {
  if (!Number.isSafeInteger(run) || run < 1 || run > 32767) return undefined;
  const [scan] = await rows<{ seq: number }>(
    store.db,
    "scan",
    sql`select seq from scans where id = ${scanId}`,
  );
  return scan ? getRun(store, scanId, scan.seq, run) : undefined;
}

/**
 * Every re-judgement of a domain (of the scans named, or all), by scan
 * (most recently started first), then run.
 */
export async function rejudgementsOf(
  store: Store,
  domain: string,
  opts: { scanIds?: string[] } = {},
): Promise<Rejudgement[]> {
  const only = opts.scanIds ? sql`and s.id = any(${opts.scanIds}::text[])` : sql``;
  const list = await rows(
    store.db,
    "rejudgements of a domain",
    sql`select s.id as scan_id, j.run, x.state, x.started_at, x.engine, x.profile, c.action, c.security, c.reason,
               c.dane_state, r.judged_at, v.body as vbody
        from rejudgements j
        join scans s on s.seq = j.scan
        join rejudge_runs x on x.scan = j.scan and x.run = j.run
        join results r on r.scan = j.scan and r.domain = j.domain
        join verdict_classes c on c.id = j.class
        join verdict_blobs v on v.hash = j.verdict
        where j.domain = ${domain} ${only}
        order by s.started_at desc, s.id desc, j.run`,
  );
  return list.map((x) => {
    // The run's engine judged it (the blob may be the original's, when the verdict did not change).
    const engine = { version: x.engine as string, profile: x.profile as string };
    const record = recordFrom({ ...verdictFrom(x.vbody as Buffer, domain), engine }, iso(x.judged_at));
    return {
      scanId: x.scan_id as string,
      run: Number(x.run),
      runState: x.state as RejudgeState,
      rejudgedAt: iso(x.started_at),
      engine,
      action: x.action as string,
      security: (x.security ?? null) as string | null,
      reason: x.reason as string,
      dane: x.dane_state as string,
      record,
    };
  });
}
