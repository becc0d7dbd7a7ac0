/**
 * Pruning a scan from the store (after exporting it: export.ts), and the
 * garbage collection of what no remaining scan refers to.
 *
 * `pruneScan(handle, scanId)`, in one transaction:
 * 1. locks the scan's row and refuses a running scan (or an unknown one);
 *    prunes are serialised by an advisory lock;
 * 2. takes SHARE locks on results, scan_probes and rejudgements: writers of
 *    other scans (storeJudged, upsertProbes, a re-judging run) wait until the
 *    prune commits, they do not fail. This is what makes the sweep safe: a writer reuses an existing
 *    blob without inserting it again (ON CONFLICT DO NOTHING), so a blob
 *    deleted while a writer's new reference to it is not yet visible would be
 *    lost. Under the lock no reference can appear while the sweep runs;
 * 3. deletes every fact, verdict and probe blob that no row of another scan
 *    refers to (a verdict blob may be referred to by a re-judgement) (a full sweep: blobs orphaned earlier, e.g. by a probe stored
 *    again with other content, go too). When any probe blob went, it decodes
 *    every remaining probe blob (codec.ts) to collect the certificates their
 *    chains cite and deletes the certificates none cites;
 * 4. drops the scan's partitions (results, scan_probes, scan_inputs,
 *    rejudgements), deletes its counters and its scans row (probe_claims and
 *    rejudge_runs go with it, ON DELETE CASCADE), and checks that none of its
 *    rows is left.
 * Then, outside the transaction, VACUUM ANALYZE of the swept tables, so the
 * space of the deleted rows is reused, and the database size is measured.
 *
 * Cost: the sweep reads every remaining row of results and scan_probes and
 * every blob once (hash anti-joins, no index needed) and, when probe blobs
 * went, decodes every probe blob; it grows with what the store holds, not
 * with the pruned scan. An index on results (facts) and results (verdict)
 * would make the sweep proportional to the scan instead, but would add about
 * 60 bytes to every row of every scan (~50% of a result row) and slow every
 * write: not worth it for a command run once per scan kept. Writers wait for
 * as long as the sweep runs. On the embedded store, sessions take turns
 * anyway (embedded.ts): everything else waits for the prune's transaction.
 *
 * Outcome: `{ ok: true, report }` (what was removed, the database size
 * before and after) or `{ ok: false, refused }` with a closed code:
 * unknown-scan, scan-running. Database failures raise StoreError; the
 * transaction is then rolled back and nothing is removed.
 */
import type pg from "pg";
import { openProbe, probeCertificateHashes } from "./codec.ts";
import type { DbHandle } from "./db.ts";
import { StoreError, toStoreError } from "./errors.ts";
import { type Scan, Store } from "./store.ts";

/** Arbitrary constant identifying the prune's advisory lock (prunes run one at a time). */
const PRUNE_LOCK = 7_262_901_512;
/** Probe blobs decoded per query when collecting the certificates still cited. */
const CERT_SWEEP_BATCH = 2000;

export interface PruneReport {
  scan: Scan;
  /** Rows removed with the scan's partitions and row. */
  rows: {
    results: number;
    probes: number;
    inputs: number;
    counters: number;
    claims: number;
    /** Re-judgements of the scan (rejudge.ts); its re-judging runs go with its row. */
    rejudgements: number;
  };
  /** What the dropped partitions took on disk (pg_total_relation_size: tables, indexes, TOAST). */
  partitionBytes: number;
  /** Stored objects no remaining scan referred to, removed, with the bytes of their bodies. */
  blobs: {
    facts: { rows: number; bytes: number };
    verdicts: { rows: number; bytes: number };
    probes: { rows: number; bytes: number };
    certificates: { rows: number; bytes: number };
  };
  /**
   * pg_database_size before the prune and after it (after VACUUM). The
   * difference is what the file system got back: the dropped partitions'
   * files, less what VACUUM adds (free-space and visibility maps); the space
   * of deleted blob rows is reused by later scans, not given back.
   */
  sizeBefore: number;
  sizeAfter: number;
}

export type PruneRefusal = { code: "unknown-scan"; scanId: string } | { code: "scan-running"; scan: Scan };

export type PruneOutcome = { ok: true; report: PruneReport } | { ok: false; refused: PruneRefusal };

async function q<T = Record<string, unknown>>(
  client: pg.PoolClient,
  what: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  try {
    return (await client.query({ text, values })).rows as T[];
  } catch (e) {
    throw toStoreError(e, `prune: ${what}`);
  }
}

/** The database's size on disk (pg_database_size), in bytes. */
export async function databaseSize(handle: DbHandle): Promise<number> {
  try {
    const r = await handle.pool.query<{ n: string }>("select pg_database_size(current_database()) as n");
    return Number(r.rows[0]?.n ?? 0);
  } catch (e) {
    throw toStoreError(e, "database size");
  }
}

/** Deletes the blobs of `table` whose hash no remaining row of `refs` refers to; rows and body bytes removed. */
async function sweep(
  client: pg.PoolClient,
  table: "fact_blobs" | "verdict_blobs" | "probe_blobs",
  refs: { table: "results" | "scan_probes" | "rejudgements"; column: "facts" | "verdict" | "probe" }[],
  seq: number,
): Promise<{ rows: number; bytes: number }> {
  const kept = refs
    .map((f) => `not exists (select 1 from ${f.table} r where r.${f.column} = b.hash and r.scan <> $1)`)
    .join(" and ");
  const [r] = await q<{ n: string; bytes: string }>(
    client,
    `sweep ${table}`,
    `with d as (
       delete from ${table} b where ${kept}
       returning octet_length(b.body) as len)
     select count(*) as n, coalesce(sum(len), 0) as bytes from d`,
    [seq],
  );
  return { rows: Number(r?.n ?? 0), bytes: Number(r?.bytes ?? 0) };
}

/** Deletes the certificates no remaining probe blob cites (their chains are inside the compressed blobs). */
async function sweepCertificates(client: pg.PoolClient): Promise<{ rows: number; bytes: number }> {
  await q(
    client,
    "certificates",
    "create temp table prune_cited_certs (sha256 text primary key) on commit drop",
  );
  let after: string | null = null;
  for (;;) {
    const blobs: { hash: string; body: Buffer }[] = await q<{ hash: string; body: Buffer }>(
      client,
      "read probe blobs",
      "select hash, body from probe_blobs where $1::uuid is null or hash > $1::uuid order by hash limit $2",
      [after, CERT_SWEEP_BATCH],
    );
    if (blobs.length === 0) break;
    const cited = new Set<string>();
    for (const b of blobs) for (const h of probeCertificateHashes(openProbe(b.body))) cited.add(h);
    if (cited.size > 0)
      await q(
        client,
        "cited certificates",
        "insert into prune_cited_certs select unnest($1::text[]) on conflict do nothing",
        [[...cited]],
      );
    after = (blobs[blobs.length - 1] as { hash: string }).hash;
  }
  const [r] = await q<{ n: string; bytes: string }>(
    client,
    "sweep certificates",
    `with d as (
       delete from certificates c where not exists (select 1 from prune_cited_certs k where k.sha256 = c.sha256)
       returning octet_length(c.der) as len)
     select count(*) as n, coalesce(sum(len), 0) as bytes from d`,
  );
  return { rows: Number(r?.n ?? 0), bytes: Number(r?.bytes ?? 0) };
}

/** Prunes a scan (see the file comment). */
export async function pruneScan(handle: DbHandle, scanId: string): Promise<PruneOutcome> {
  const store = new Store(handle);
  const scan = await store.getScanRow(scanId);
  if (!scan) return { ok: false, refused: { code: "unknown-scan", scanId } };
  const sizeBefore = await databaseSize(handle);

  const done = await handle.transaction(
    async (_tx, client): Promise<PruneOutcome | Omit<PruneReport, "sizeAfter">> => {
      await q(client, "lock", "select pg_advisory_xact_lock($1)", [PRUNE_LOCK]);
      const [row] = await q<{ seq: number; state: string }>(
        client,
        "scan",
        "select seq, state from scans where id = $1 for update",
        [scanId],
      );
      if (!row) return { ok: false, refused: { code: "unknown-scan", scanId } };
      if (row.state === "running") return { ok: false, refused: { code: "scan-running", scan } };
      const seq = row.seq;
      if (!Number.isSafeInteger(seq)) throw new StoreError("integrity", `scan ${scanId} has seq ${seq}`);
      await q(client, "lock tables", "lock table results, scan_probes, rejudgements in share mode");

      const [counts] = await q<
        Record<"results" | "probes" | "inputs" | "counters" | "claims" | "rejudgements", string>
      >(
        client,
        "count",
        `select (select count(*) from results where scan = $1) as results,
              (select count(*) from scan_probes where scan = $1) as probes,
              (select count(*) from rejudgements where scan = $1) as rejudgements,
              (select count(*) from scan_inputs where scan = $1) as inputs,
              (select count(*) from scan_counters where scan = $1) as counters,
              (select count(*) from probe_claims where scan_id = $2) as claims`,
        [seq, scanId],
      );
      const facts = await sweep(client, "fact_blobs", [{ table: "results", column: "facts" }], seq);
      const verdicts = await sweep(
        client,
        "verdict_blobs",
        [
          { table: "results", column: "verdict" },
          { table: "rejudgements", column: "verdict" },
        ],
        seq,
      );
      const probes = await sweep(client, "probe_blobs", [{ table: "scan_probes", column: "probe" }], seq);
      const certificates = probes.rows > 0 ? await sweepCertificates(client) : { rows: 0, bytes: 0 };

      const partitions = [
        `results_${seq}`,
        `scan_probes_${seq}`,
        `scan_inputs_${seq}`,
        `rejudgements_${seq}`,
      ];
      const [disk] = await q<{ n: string }>(
        client,
        "partition sizes",
        "select coalesce(sum(pg_total_relation_size(oid)), 0) as n from pg_class where relname = any($1::text[]) and relkind = 'r'",
        [partitions],
      );
      await q(client, "drop partitions", `drop table if exists ${partitions.join(", ")}`);
      await q(client, "counters", "delete from scan_counters where scan = $1", [seq]);
      await q(client, "scan row", "delete from scans where id = $1", [scanId]);
      const [left] = await q<{ n: string }>(
        client,
        "check",
        `select (select count(*) from results where scan = $1) + (select count(*) from scan_probes where scan = $1)
            + (select count(*) from scan_inputs where scan = $1) + (select count(*) from rejudgements where scan = $1)
            as n`,
        [seq],
      );
      if (Number(left?.n) !== 0)
        throw new StoreError(
          "integrity",
          `prune: ${left?.n} rows of scan ${scanId} remain after dropping its partitions`,
        );
      const n = (k: keyof NonNullable<typeof counts>) => Number(counts?.[k] ?? 0);
      return {
        scan,
        rows: {
          results: n("results"),
          probes: n("probes"),
          inputs: n("inputs"),
          counters: n("counters"),
          claims: n("claims"),
          rejudgements: n("rejudgements"),
        },
        partitionBytes: Number(disk?.n ?? 0),
        blobs: { facts, verdicts, probes, certificates },
        sizeBefore,
      };
    },
  );
  if ("ok" in done) return done;

  await vacuum(handle);
  return { ok: true, report: { ...done, sizeAfter: await databaseSize(handle) } };
}

/** VACUUM ANALYZE of the swept tables, so the space of their deleted rows is reused. */
async function vacuum(handle: DbHandle): Promise<void> {
  let client: pg.PoolClient;
  try {
    client = await handle.pool.connect();
  } catch (e) {
    throw toStoreError(e, "prune: vacuum");
  }
  try {
    // On PGlite, VACUUM's working memory comes out of WebAssembly memory, which never shrinks (store.maintain).
    if (handle.driver === "embedded") await client.query("set maintenance_work_mem = '8MB'");
    await client.query(
      "vacuum (analyze) fact_blobs, verdict_blobs, probe_blobs, certificates, scans, scan_counters",
    );
  } catch (e) {
    throw toStoreError(e, "prune: vacuum");
  } finally {
    client.release();
  }
}
