/**
 * The store: scans, their input, verdicts with the facts they were judged
 * from, probes and certificates, on PostgreSQL or the embedded PGlite (same
 * SQL, same `pg` driver: db.ts).
 *
 * `openStore(config)` opens the database, applies pending migrations and
 * returns a Store. The layout (migrations/0006_survey_store.sql) is made for
 * daily surveys of millions of domains:
 * - Writes are bulk: each call takes a batch and writes it in one statement
 *   per table (rows passed as arrays and unnested), so a stage pays a round
 *   trip per batch, never per domain.
 * - Facts, verdicts and probes are content-addressed blobs (codec.ts), shared
 *   by every scan that saw them; a scan adds one narrow row per domain.
 * - Trust: the values given were validated where they entered the pipeline
 *   (the bus boundary); the store does not validate them again.
 *
 * Contract of the repositories:
 * - Every write is idempotent: the same write twice leaves the same rows
 *   (redelivery changes nothing). A domain's verdict is stored once per scan:
 *   the first stored stays (storeJudged returns which were new).
 * - The scan must be created first (createScan makes its partitions); writing
 *   to an unknown scan raises StoreError "missing-reference" (retryable).
 * - Probes are stored once per (scan, ip, port, sni); their certificates once
 *   per SHA-256 across all scans; getProbes restores the chain as sent.
 * - Lookups return undefined when nothing is stored; database failures raise
 *   StoreError (errors.ts) with a closed code.
 * Times are taken as arguments (ISO 8601) and returned as ISO 8601 UTC.
 */
import {
  ACTIONS,
  DANE_STATES,
  DELIVERY_SECURITIES,
  type DomainFacts,
  explain,
  type JudgedRecord,
  type ProbeFacts,
  type ProbeKey,
  probeKeyString,
  REASONS,
  upgradeRecord,
  type VerdictRecord,
} from "@danesweep/dane";
import type pg from "pg";
import {
  type Blob,
  type BlobText,
  blobText,
  compressBlob,
  factsFrom,
  openProbe,
  type ProbeVolatile,
  packBytes,
  probeBlob,
  probeCertificateHashes,
  probeFrom,
  type ReadVerdict,
  storedFacts,
  storedVerdict,
  verdictBlobColumns,
  verdictFrom,
} from "./codec.ts";
import { type Db, type DbHandle, openMigratedDatabase, type StoreConfig } from "./db.ts";
import { StoreError, toStoreError } from "./errors.ts";
import { classOf } from "./rejudge-core.ts";
import type { ScanState } from "./schema.ts";
import { arrayLiteral } from "./sql.ts";
import { iso, threadCpuMs } from "./time.ts";

export interface Scan {
  id: string;
  parameters: unknown;
  state: ScanState;
  startedAt: string;
  finishedAt?: string;
  /** Snapshot stored when the scan finished (getScan also computes live counts). */
  counts?: ScanCounts;
}

export interface ScanCounts {
  /** Domains seeded for the scan. */
  domains: number;
  /** Domains with a verdict. */
  judged: number;
  byAction: Record<string, number>;
  bySecurity: Record<string, number>;
  byReason: Record<string, number>;
  byDane: Record<string, number>;
  /** Domains whose verdict lists problems (libs/dane: "broken"). */
  broken: number;
  probes: number;
  probesByStatus: Record<string, number>;
}

export interface DomainHistoryEntry {
  scanId: string;
  scanStartedAt: string;
  judgedAt: string;
  action: string;
  security?: string;
  reason: string;
  dane: string;
  record: VerdictRecord;
}

export interface PendingDomain {
  domain: string;
  line: number;
}

export interface SeedItem {
  domain: string;
  /** Line in the input list (0 when unknown). */
  line?: number;
}

/** A domain judged: the facts it was judged from and its verdict. */
export interface JudgedEntry {
  facts: DomainFacts;
  record: VerdictRecord;
}

/**
 * A judged domain whose facts are encoded (Store.prepareJudged): the key and
 * JSON text of their stored form, and their collection time (a column of the
 * domain's row).
 */
export interface PreparedJudged {
  record: VerdictRecord;
  factsText: BlobText;
  collectedAt: string;
}

/** A judged domain's facts encoded: their stored form's key and text, and their collection time. */
function prepared(e: JudgedEntry): PreparedJudged {
  return { record: e.record, factsText: blobText(storedFacts(e.facts)), collectedAt: e.facts.collectedAt };
}

/** Progress of a scan: domains seeded and domains judged. */
export interface StateCounts {
  total: number;
  judged: number;
}

/** Striped counters: each writer adds to a slot of its own (scan_counters). */
const COUNTER_SLOTS = 16;
/** Bound of a store's set of verdict blobs known stored (storeJudged): about 5 MB of heap. */
const KNOWN_VERDICTS = 50_000;

/** Keeps the last item per key (a multi-row insert should not carry one key twice). */
function lastByKey<T>(items: T[], key: (t: T) => string): T[] {
  const m = new Map<string, T>();
  for (const it of items) m.set(key(it), it);
  return [...m.values()];
}

function emptyCounts(): ScanCounts {
  return {
    domains: 0,
    judged: 0,
    byAction: {},
    bySecurity: {},
    byReason: {},
    byDane: {},
    broken: 0,
    probes: 0,
    probesByStatus: {},
  };
}

function classKey(c: {
  action: string;
  security: string | null;
  reason: string;
  dane: string;
  broken: boolean;
}) {
  return `${c.action}|${c.security ?? ""}|${c.reason}|${c.dane}|${c.broken ? 1 : 0}`;
}

/**
 * The verdict record as judged, from its stored form and time: the
 * explanation is rendered here (`explain`, from the record alone). Records
 * stored before that was possible kept their explanation text. A record of an
 * earlier engine is completed as libs/dane `upgradeRecord` says (the failing
 * hosts of engines before 2.3), so readers see one shape.
 */
export function recordFrom(stored: ReadVerdict, judgedAt: string): VerdictRecord {
  const { explanation: keptText, judgedAt: keptAt, ...rest } = upgradeRecord(stored);
  const judged = { ...rest, judgedAt: keptAt ?? judgedAt } as JudgedRecord;
  return { ...judged, explanation: keptText ?? explain(judged) };
}

export class Store {
  readonly driver: DbHandle["driver"];
  readonly #handle: DbHandle;
  /** scans.id -> scans.seq (never changes once a scan exists). */
  readonly #seqs = new Map<string, number>();
  /** classKey -> verdict_classes.id. */
  readonly #classes = new Map<string, number>();
  readonly #slot = Math.floor(Math.random() * COUNTER_SLOTS);
  /** Statements this store sent, and the ms it spent encoding blobs (benchmarks). */
  readonly #stats = { statements: 0, codecMs: 0 };
  #known: { seq: number; hashes: Set<string> } | undefined;

  constructor(handle: DbHandle) {
    this.#handle = handle;
    this.driver = handle.driver;
  }

  /** Built queries (sql.ts) on the store's pool (the read queries of the API). */
  get db(): Db {
    return this.#handle.db;
  }

  /** The database handle (export and prune run on a connection of their own). */
  get handle(): DbHandle {
    return this.#handle;
  }

  /** The embedded directory this store is on, when embedded (ownership, for messages and tests). */
  get embedded() {
    return this.#handle.embedded;
  }

  /** Applies pending migrations (openStore already did; idempotent). */
  migrate(): Promise<void> {
    return this.#handle.migrate();
  }

  close(): Promise<void> {
    return this.#handle.close();
  }

  /**
   * What this store cost: statements sent (round trips), CPU ms spent
   * encoding blobs, and, when this process owns the embedded directory, the
   * protocol units its PostgreSQL ran for every session and the CPU ms of its
   * thread they took (thread CPU time, time.ts threadCpuMs: a clock would also
   * count the time the thread waited for a core).
   */
  async stats(): Promise<{
    statements: number;
    codecMs: number;
    backendUnits?: number;
    backendMs?: number;
    wasmMb?: number;
    storeThreadHeapMb?: number;
  }> {
    const server = this.#handle.embedded?.server;
    if (!server) return { ...this.#stats };
    const b = await server.refreshStats();
    return {
      ...this.#stats,
      backendUnits: b.units,
      backendMs: b.backendMs,
      wasmMb: b.wasmBytes / 2 ** 20,
      storeThreadHeapMb: b.threadHeapBytes / 2 ** 20,
    };
  }

  async #q<T = Record<string, unknown>>(what: string, text: string, values: unknown[] = []): Promise<T[]> {
    this.#stats.statements++;
    try {
      // Array parameters go as literals built here (sql.ts arrayLiteral): the same text, fewer objects.
      const sent = values.map((v) => (Array.isArray(v) ? (arrayLiteral(v) ?? v) : v));
      const r = await this.#handle.pool.query({ text, values: sent });
      return r.rows as T[];
    } catch (e) {
      throw toStoreError(e, what);
    }
  }

  /** scans.seq of a scan id; StoreError "missing-reference" when the scan is not stored. */
  async #seq(scanId: string): Promise<number> {
    const known = this.#seqs.get(scanId);
    if (known !== undefined) return known;
    const r = await this.#q<{ seq: number }>("scan", "select seq from scans where id = $1", [scanId]);
    const seq = r[0]?.seq;
    if (seq === undefined) throw new StoreError("missing-reference", `scan ${scanId} is not stored`);
    this.#seqs.set(scanId, seq);
    return seq;
  }

  // ---------------------------------------------------------------- scans

  /** Creates the scan in state "running", with its partitions; a second call with the same id changes nothing. */
  async createScan(input: { id: string; parameters: unknown; startedAt: string }): Promise<Scan> {
    await this.#q(
      "createScan",
      `insert into scans (id, parameters, state, started_at) values ($1, $2, 'running', $3) on conflict (id) do nothing`,
      [input.id, JSON.stringify(input.parameters ?? {}), input.startedAt],
    );
    const seq = await this.#seq(input.id);
    await this.#q("createScan partitions", "select danesweep_add_scan_partitions($1)", [seq]);
    const s = await this.getScanRow(input.id);
    if (!s) throw new StoreError("integrity", `scan ${input.id} not readable after insert`);
    return s;
  }

  /**
   * Sets the final state and stores the counts snapshot. A finished scan's
   * input (kept for resume) and probe claims are dropped. Undefined when the
   * scan is unknown.
   */
  async finishScan(
    id: string,
    at: string,
    state: Extract<ScanState, "finished" | "failed"> = "finished",
  ): Promise<Scan | undefined> {
    const row = await this.getScanRow(id);
    if (!row) return undefined;
    const seq = await this.#seq(id);
    const counts = await this.scanCounts(id);
    await this.#q("finishScan", "update scans set state = $2, finished_at = $3, counts = $4 where id = $1", [
      id,
      state,
      at,
      JSON.stringify(counts),
    ]);
    if (state === "finished") {
      await this.#q("finishScan inputs", `drop table if exists scan_inputs_${seq}`);
      await this.#q("finishScan claims", "delete from probe_claims where scan_id = $1", [id]);
      // The scan's rows came in random domain order, which leaves its primary-key index a third
      // empty; rebuilt once, it is packed (about 40 of the 60 bytes a row took).
      await this.#q(
        "finishScan reindex",
        this.driver === "postgres"
          ? `reindex table concurrently results_${seq}`
          : `reindex table results_${seq}`,
      );
    }
    return this.getScanRow(id);
  }

  /** Marks a running scan interrupted (process stopped before the end). */
  async markInterrupted(id: string, at: string): Promise<Scan | undefined> {
    if (!(await this.getScanRow(id))) return undefined;
    const counts = await this.scanCounts(id);
    await this.#q(
      "markInterrupted",
      "update scans set state = 'interrupted', finished_at = $2, counts = $3 where id = $1 and state = 'running'",
      [id, at, JSON.stringify(counts)],
    );
    return this.getScanRow(id);
  }

  /** Puts an interrupted or failed scan back to running (resume). */
  async resumeScan(id: string): Promise<Scan | undefined> {
    await this.#q(
      "resumeScan",
      "update scans set state = 'running', finished_at = null where id = $1 and state in ('interrupted', 'failed')",
      [id],
    );
    return this.getScanRow(id);
  }

  /** Scans, most recently started first. */
  async listScans(opts: { limit?: number; offset?: number } = {}): Promise<Scan[]> {
    const r = await this.#q(
      "listScans",
      "select * from scans order by started_at desc, seq desc limit $1 offset $2",
      [opts.limit ?? 50, opts.offset ?? 0],
    );
    return r.map(toScan);
  }

  /** The scan with counts computed now by SQL. */
  async getScan(id: string): Promise<(Scan & { liveCounts: ScanCounts }) | undefined> {
    const s = await this.getScanRow(id);
    if (!s) return undefined;
    return { ...s, liveCounts: await this.scanCounts(id) };
  }

  async getScanRow(id: string): Promise<Scan | undefined> {
    const r = await this.#q("getScan", "select * from scans where id = $1", [id]);
    return r[0] ? toScan(r[0]) : undefined;
  }

  /** Counts by verdict action / security / reason / DANE state, broken, and probe status. */
  async scanCounts(id: string): Promise<ScanCounts> {
    const c = emptyCounts();
    const seq = await this.#seq(id);
    const progress = await this.domainStateCounts(id);
    c.domains = progress.total;
    const classes = await this.#q<{
      action: string;
      security: string | null;
      reason: string;
      dane_state: string;
      broken: boolean;
      n: string;
    }>(
      "scanCounts",
      `select c.action, c.security, c.reason, c.dane_state, c.broken, k.n
       from (select class, count(*) as n from results where scan = $1 group by class) k
       join verdict_classes c on c.id = k.class`,
      [seq],
    );
    const add = (m: Record<string, number>, k: string | null, n: number) => {
      if (k !== null) m[k] = (m[k] ?? 0) + n;
    };
    for (const x of classes) {
      const n = Number(x.n);
      c.judged += n;
      add(c.byAction, x.action, n);
      add(c.bySecurity, x.security, n);
      add(c.byReason, x.reason, n);
      add(c.byDane, x.dane_state, n);
      if (x.broken) c.broken += n;
    }
    const ps = await this.#q<{ status: string; n: string }>(
      "scanCounts probes",
      "select status, count(*) as n from scan_probes where scan = $1 group by status",
      [seq],
    );
    for (const p of ps) {
      c.probesByStatus[p.status] = Number(p.n);
      c.probes += Number(p.n);
    }
    return c;
  }

  /** Domains seeded and judged so far (cheap: striped counters, not a count of rows). */
  async domainStateCounts(scanId: string): Promise<StateCounts> {
    const seq = await this.#seq(scanId);
    const r = await this.#q<{ seeded: string | null; judged: string | null }>(
      "domainStateCounts",
      "select sum(seeded) as seeded, sum(judged) as judged from scan_counters where scan = $1",
      [seq],
    );
    return { total: Number(r[0]?.seeded ?? 0), judged: Number(r[0]?.judged ?? 0) };
  }

  // ---------------------------------------------------------------- input

  /**
   * Records the scan's input (batch). Domains already seeded keep their row.
   * Returns the domains this call added (the others were already seeded):
   * the seeder publishes only those, so duplicates are scanned once.
   */
  async seedDomains(scanId: string, items: SeedItem[]): Promise<string[]> {
    if (items.length === 0) return [];
    const seq = await this.#seq(scanId);
    const unique = lastByKey(items, (i) => i.domain);
    const r = await this.#q<{ domain: string }>(
      "seedDomains",
      `with ins as (
         insert into scan_inputs (scan, domain, line)
         select $1, d, l from unnest($2::text[], $3::integer[]) as x(d, l)
         on conflict do nothing returning domain),
       cnt as (
         insert into scan_counters (scan, slot, seeded) select $1, $4, count(*) from ins
         on conflict (scan, slot) do update set seeded = scan_counters.seeded + excluded.seeded)
       select domain from ins`,
      [seq, unique.map((i) => i.domain), unique.map((i) => i.line ?? 0), this.#slot],
    );
    return r.map((x) => x.domain);
  }

  /**
   * Takes domains out of a running scan's input (they are not to be scanned
   * after all: opted out since they were seeded); returns those it removed.
   * A domain already judged keeps its verdict and stays.
   */
  async unseedDomains(scanId: string, domains: string[]): Promise<string[]> {
    if (domains.length === 0) return [];
    const seq = await this.#seq(scanId);
    const r = await this.#q<{ domain: string }>(
      "unseedDomains",
      `with del as (
         delete from scan_inputs i where i.scan = $1 and i.domain = any($2::text[])
           and not exists (select 1 from results r where r.scan = $1 and r.domain = i.domain)
         returning domain),
       cnt as (
         insert into scan_counters (scan, slot, seeded) select $1, $3, -count(*) from del
         on conflict (scan, slot) do update set seeded = scan_counters.seeded + excluded.seeded)
       select domain from del`,
      [seq, domains, this.#slot],
    );
    return r.map((x) => x.domain);
  }

  /** Domains of the scan not judged yet, in input order (keyset pagination with `after`). */
  async pendingDomains(
    scanId: string,
    opts: { limit?: number; after?: { line: number; domain: string } } = {},
  ): Promise<PendingDomain[]> {
    const seq = await this.#seq(scanId);
    const after = opts.after;
    return this.#q<PendingDomain>(
      "pendingDomains",
      `select i.domain, i.line from scan_inputs i
       where i.scan = $1 and (i.line, i.domain) > ($2, $3)
         and not exists (select 1 from results r where r.scan = $1 and r.domain = i.domain)
       order by i.line, i.domain limit $4`,
      [seq, after?.line ?? -1, after?.domain ?? "", opts.limit ?? 10_000],
    );
  }

  // ---------------------------------------------------------------- verdicts

  /**
   * verdict_classes ids of `list`, inserting the classes not stored yet (one
   * statement), cached for this store's lifetime. The scan's writes and
   * re-judging (rejudge.ts) both take their ids here.
   */
  async classIds(
    list: { action: string; security: string | null; reason: string; dane: string; broken: boolean }[],
  ): Promise<number[]> {
    const missing = lastByKey(
      list.filter((c) => !this.#classes.has(classKey(c))),
      classKey,
    );
    if (missing.length > 0) {
      const r = await this.#q<{
        id: number;
        action: string;
        security: string | null;
        reason: string;
        dane_state: string;
        broken: boolean;
      }>(
        "verdict classes",
        `insert into verdict_classes (action, security, reason, dane_state, broken)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[])
         on conflict on constraint verdict_classes_unique do update set action = excluded.action
         returning id, action, security, reason, dane_state, broken`,
        [
          missing.map((c) => c.action),
          missing.map((c) => c.security),
          missing.map((c) => c.reason),
          missing.map((c) => c.dane),
          missing.map((c) => c.broken),
        ],
      );
      for (const x of r) this.#classes.set(classKey({ ...x, dane: x.dane_state }), x.id);
    }
    return list.map((c) => this.#classes.get(classKey(c)) as number);
  }

  /**
   * A judged domain ready for storeJudged, its facts encoded now (counted in
   * the store's codec time). The aggregator's join prepares each domain as
   * it is judged and lets go of its facts: a domain waits tens of ms for its
   * batch to be written, long enough for its facts' objects (a few hundred)
   * to be promoted to V8's old generation; their text is one buffer (paired
   * 100k scans: 0.95-0.99 of the main thread's CPU).
   */
  prepareJudged(facts: DomainFacts, record: VerdictRecord): PreparedJudged {
    const c0 = threadCpuMs();
    const p = prepared({ facts, record });
    this.#stats.codecMs += threadCpuMs() - c0;
    return p;
  }

  /**
   * Stores judged domains (batch): their facts and verdicts as blobs (once per
   * content) and one row per domain, in one statement. A domain already judged
   * in this scan keeps its first verdict. Returns the records stored now (the
   * domains judged for the first time), in the order given. An entry
   * is a domain's facts and verdict, or the same prepared (prepareJudged).
   */
  async storeJudged(scanId: string, entries: (JudgedEntry | PreparedJudged)[]): Promise<VerdictRecord[]> {
    if (entries.length === 0) return [];
    const seq = await this.#seq(scanId);
    const unique = lastByKey(entries, (e) => e.record.domain);
    const c0 = threadCpuMs();
    // Each distinct blob is compressed once per batch; a verdict blob that a
    // row of this scan already refers to (many domains share one) is not
    // compressed or sent again.
    const known = this.#knownVerdicts(seq);
    const facts = new Map<string, Blob>();
    const verdicts = new Map<string, { blob: Blob; r: VerdictRecord }>();
    const rows = unique.map((entry) => {
      const e = "factsText" in entry ? entry : prepared(entry);
      const ft = e.factsText;
      const vt = blobText(storedVerdict(e.record));
      if (!facts.has(ft.hash)) facts.set(ft.hash, compressBlob(ft));
      if (!known.has(vt.hash) && !verdicts.has(vt.hash))
        verdicts.set(vt.hash, { blob: compressBlob(vt), r: e.record });
      return { e, fact: ft.hash, verdict: vt.hash, cls: classOf(e.record) };
    });
    this.#stats.codecMs += threadCpuMs() - c0;
    const classes = await this.classIds(rows.map((r) => r.cls));
    const vlist = [...verdicts.values()];
    const flist = [...facts.values()];
    const fbodies = packBytes(flist.map((b) => b.body));
    const vcols = verdictBlobColumns(vlist);
    const stored = await this.#q<{ domain: string }>(
      "storeJudged",
      `with fb as (
         insert into fact_blobs (hash, body)
         select h, substring($2::bytea from s for l) from unnest($1::uuid[], $22::integer[], $23::integer[]) as x(h, s, l)
         on conflict do nothing),
       vb as (
         insert into verdict_blobs (hash, tld, provider, mx_host, delivered_host, delivered_address, engine, profile, problems, risks, body)
         select h, t, p, m, dh, da, en, pr, string_to_array(pb, ','), string_to_array(rk, ','), substring($12::bytea from s for l)
         from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $21::text[], $24::integer[], $25::integer[]) as x(h, t, p, m, dh, da, en, pr, pb, rk, s, l)
         on conflict do nothing),
       rs as (
         insert into results (scan, domain, class, facts, verdict, judged_seq, judged_at, collected_at)
         select $13, d, c, f, v, nextval('judged_seq'), t, ct
         from unnest($14::text[], $15::smallint[], $16::uuid[], $17::uuid[], $18::timestamptz[], $20::timestamptz[])
           as x(d, c, f, v, t, ct)
         on conflict (domain, scan) do nothing
         returning domain),
       cnt as (
         insert into scan_counters (scan, slot, judged) select $13, $19, count(*) from rs
         on conflict (scan, slot) do update set judged = scan_counters.judged + excluded.judged)
       select domain from rs`,
      [
        flist.map((b) => b.hash),
        fbodies.bytes,
        vcols.hashes,
        vcols.tlds,
        vcols.providers,
        vcols.mxHosts,
        vcols.hosts,
        vcols.addresses,
        vcols.engines,
        vcols.profiles,
        vcols.problems,
        vcols.bodies.bytes,
        seq,
        rows.map((r) => r.e.record.domain),
        classes,
        rows.map((r) => r.fact),
        rows.map((r) => r.verdict),
        rows.map((r) => r.e.record.judgedAt),
        this.#slot,
        rows.map((r) => r.e.collectedAt),
        vcols.risks,
        fbodies.starts,
        fbodies.lengths,
        vcols.bodies.starts,
        vcols.bodies.lengths,
      ],
    );
    const fresh = new Set(stored.map((x) => x.domain));
    // Only the verdicts of rows stored now are known: a row of this (running)
    // scan refers to each, so no prune can sweep it (prune.ts refuses a running
    // scan and keeps every blob another scan's row refers to).
    for (const r of rows) if (fresh.has(r.e.record.domain)) known.add(r.verdict);
    return unique.filter((e) => fresh.has(e.record.domain)).map((e) => e.record);
  }

  /**
   * The verdict blobs that rows of scan `seq` stored by this store refer to
   * (storeJudged). One scan at a time, at most KNOWN_VERDICTS hashes (then it
   * starts again, empty).
   */
  #knownVerdicts(seq: number): Set<string> {
    if (this.#known?.seq !== seq || this.#known.hashes.size >= KNOWN_VERDICTS)
      this.#known = { seq, hashes: new Set() };
    return this.#known.hashes;
  }

  /** The stored DNS facts of a domain in a scan. */
  async getFacts(scanId: string, domain: string): Promise<DomainFacts | undefined> {
    return (await this.getFactsMany(scanId, [domain])).get(domain);
  }

  /** The stored DNS facts of several domains of a scan (those not judged are absent). */
  async getFactsMany(scanId: string, domains: string[]): Promise<Map<string, DomainFacts>> {
    if (domains.length === 0) return new Map();
    const seq = await this.#seq(scanId);
    const r = await this.#q<{ domain: string; body: Buffer; judged_at: Date; collected_at: number }>(
      "getFacts",
      `select r.domain, f.body, r.judged_at, r.collected_at from results r join fact_blobs f on f.hash = r.facts
       where r.scan = $1 and r.domain = any($2::text[])`,
      [seq, domains],
    );
    return new Map(r.map((x) => [x.domain, factsFrom(x.body, iso(x.collected_at))]));
  }

  /** Records of rows (domain, judged_at, facts body, verdict body), explanations rendered. */
  #records(rows: { domain: string; judged_at: unknown; vbody: Buffer }[]): VerdictRecord[] {
    return rows.map((x) => recordFrom(verdictFrom(x.vbody, x.domain), iso(x.judged_at)));
  }

  /**
   * Verdicts of a scan in the order they were first stored, after position
   * `after` (0 for the start): how a follower (the CLI) streams a scan's
   * results from the store.
   */
  async verdictsSince(
    scanId: string,
    after: number,
    limit = 1000,
  ): Promise<{ seq: number; record: VerdictRecord }[]> {
    const seq = await this.#seq(scanId);
    const r = await this.#q<{ judged_seq: string; domain: string; judged_at: Date; vbody: Buffer }>(
      "verdictsSince",
      `select r.judged_seq, r.domain, r.judged_at, v.body as vbody
       from results r join verdict_blobs v on v.hash = r.verdict
       where r.scan = $1 and r.judged_seq > $2 order by r.judged_seq limit $3`,
      [seq, after, limit],
    );
    const records = this.#records(r);
    return r.map((x, i) => ({ seq: Number(x.judged_seq), record: records[i] as VerdictRecord }));
  }

  /** The verdicts of a scan at the given positions (those not visible are absent). */
  async verdictsAt(scanId: string, seqs: number[]): Promise<{ seq: number; record: VerdictRecord }[]> {
    if (seqs.length === 0) return [];
    const seq = await this.#seq(scanId);
    const r = await this.#q<{ judged_seq: string; domain: string; judged_at: Date; vbody: Buffer }>(
      "verdictsAt",
      `select r.judged_seq, r.domain, r.judged_at, v.body as vbody
       from results r join verdict_blobs v on v.hash = r.verdict
       where r.scan = $1 and r.judged_seq = any($2::bigint[]) order by r.judged_seq`,
      [seq, seqs],
    );
    const records = this.#records(r);
    return r.map((x, i) => ({ seq: Number(x.judged_seq), record: records[i] as VerdictRecord }));
  }

  /** Every verdict stored for a domain, most recently started scan first (of two started at once, the later created). */
  async domainHistory(domain: string, opts: { limit?: number } = {}): Promise<DomainHistoryEntry[]> {
    const r = await this.#q<{
      id: string;
      started_at: Date;
      judged_at: Date;
      action: string;
      security: string | null;
      reason: string;
      dane_state: string;
      vbody: Buffer;
    }>(
      "domainHistory",
      `select s.id, s.started_at, r.judged_at, c.action, c.security, c.reason, c.dane_state, v.body as vbody
       from results r join scans s on s.seq = r.scan join verdict_classes c on c.id = r.class
       join verdict_blobs v on v.hash = r.verdict
       where r.domain = $1
       order by s.started_at desc, s.seq desc limit $2`,
      [domain, opts.limit ?? 100],
    );
    return r.map((x) => {
      const at = iso(x.judged_at);
      const e: DomainHistoryEntry = {
        scanId: x.id,
        scanStartedAt: iso(x.started_at),
        judgedAt: at,
        action: x.action,
        reason: x.reason,
        dane: x.dane_state,
        record: recordFrom(verdictFrom(x.vbody, domain), at),
      };
      if (x.security !== null) e.security = x.security;
      return e;
    });
  }

  /** The verdict of the most recently started scan that judged the domain. */
  async latestVerdict(domain: string): Promise<{ scanId: string; record: VerdictRecord } | undefined> {
    const [h] = await this.domainHistory(domain, { limit: 1 });
    return h ? { scanId: h.scanId, record: h.record } : undefined;
  }

  /**
   * Housekeeping for the embedded database, which runs no autovacuum (PGlite
   * is PostgreSQL in one process): VACUUM ANALYZE of the small tables that
   * are updated in place (counters, claims), and ANALYZE of the rest, so that
   * dead rows do not pile up and the planner has statistics. A no-op on
   * PostgreSQL, where autovacuum does it.
   */
  async maintain(): Promise<void> {
    if (this.driver !== "embedded") return;
    const client = await this.#handle.pool.connect().catch((e: unknown) => {
      throw toStoreError(e, "maintain");
    });
    try {
      // VACUUM's working memory comes out of WebAssembly memory, which never shrinks: keep it small.
      await client.query("set maintenance_work_mem = '8MB'");
      await client.query("vacuum (analyze) scan_counters, probe_claims, verdict_classes");
      await client.query("analyze results, scan_inputs, scan_probes, fact_blobs, verdict_blobs");
    } catch (e) {
      throw toStoreError(e, "maintain");
    } finally {
      client.release();
    }
  }

  // ---------------------------------------------------------------- probes

  /**
   * Claims the probes of `keys` for `owner` before dialing them (batch).
   * Returns the keys (probeKeyString) this owner now holds: new claims, its
   * own, or claims made before `staleBefore` (their owner died mid-probe) that
   * it took over. The others are held by another live owner: wait for that
   * owner's stored probe.
   */
  async claimProbes(
    scanId: string,
    keys: ProbeKey[],
    owner: string,
    at: string,
    staleBefore: string,
  ): Promise<Set<string>> {
    const unique = lastByKey(keys, probeKeyString);
    if (unique.length === 0) return new Set();
    const r = await this.#q<{ ip: string; port: number; sni: string }>(
      "claimProbes",
      `insert into probe_claims (scan_id, ip, port, sni, owner, claimed_at)
       select $1, ip, port, sni, $2, $3 from unnest($4::text[], $5::integer[], $6::text[]) as k(ip, port, sni)
       on conflict (scan_id, ip, port, sni) do update set owner = excluded.owner, claimed_at = excluded.claimed_at
       where probe_claims.owner = excluded.owner or probe_claims.claimed_at < $7
       returning ip, port, sni`,
      [
        scanId,
        owner,
        at,
        unique.map((k) => k.ip),
        unique.map((k) => k.port),
        unique.map((k) => k.sni),
        staleBefore,
      ],
    );
    return new Set(r.map((k) => probeKeyString(k)));
  }

  /** Stores probe facts (batch): each probe's blob once per content, certificates once per SHA-256. */
  async upsertProbes(scanId: string, list: ProbeFacts[]): Promise<void> {
    if (list.length === 0) return;
    const seq = await this.#seq(scanId);
    const unique = lastByKey(list, (p) => probeKeyString(p));
    const c0 = threadCpuMs();
    const certs = new Map<string, Buffer>();
    const blobs = new Map<string, Blob>();
    const rows = unique.map((p) => {
      const { blob, certs: c, volatile } = probeBlob(p);
      for (const [h, der] of c) certs.set(h, der);
      blobs.set(blob.hash, blob);
      return { p, hash: blob.hash, volatile };
    });
    const ders = packBytes([...certs.values()]);
    const bodies = packBytes([...blobs.values()].map((b) => b.body));
    this.#stats.codecMs += threadCpuMs() - c0;
    await this.#q(
      "upsertProbes",
      `with c as (
         insert into certificates (sha256, der)
         select h, substring($2::bytea from s for l) from unnest($1::text[], $14::integer[], $15::integer[]) as x(h, s, l)
         on conflict do nothing),
       b as (
         insert into probe_blobs (hash, body)
         select h, substring($4::bytea from s for l) from unnest($3::uuid[], $16::integer[], $17::integer[]) as x(h, s, l)
         on conflict do nothing)
       insert into scan_probes (scan, ip, port, sni, status, probe, started_at, timings, io)
       select $5, ip, port, sni, st, h, t, string_to_array(tm, ',', 'NULL')::integer[], string_to_array(nullif(io, ''), ',')::bigint[]
       from unnest($6::text[], $7::integer[], $8::text[], $9::text[], $10::uuid[], $11::timestamptz[], $12::text[], $13::text[])
         as u(ip, port, sni, st, h, t, tm, io)
       on conflict (ip, port, sni, scan) do update
         set status = excluded.status, probe = excluded.probe, started_at = excluded.started_at,
             timings = excluded.timings, io = excluded.io`,
      [
        [...certs.keys()],
        ders.bytes,
        [...blobs.keys()],
        bodies.bytes,
        seq,
        rows.map((r) => r.p.ip),
        rows.map((r) => r.p.port),
        rows.map((r) => r.p.sni),
        rows.map((r) => r.p.status),
        rows.map((r) => r.hash),
        rows.map((r) => r.p.startedAt),
        rows.map((r) => timingsText(r.volatile)),
        rows.map((r) => (r.volatile.io ? `${r.volatile.io.bytesRead},${r.volatile.io.bytesWritten}` : "")),
        ders.starts,
        ders.lengths,
        bodies.starts,
        bodies.lengths,
      ],
    );
  }

  async upsertProbe(scanId: string, facts: ProbeFacts): Promise<void> {
    return this.upsertProbes(scanId, [facts]);
  }

  async getProbe(scanId: string, key: ProbeKey): Promise<ProbeFacts | undefined> {
    const [p] = await this.getProbes(scanId, [key]);
    return p;
  }

  /** Probe facts with their chains restored, in the order of `keys` (missing ones skipped). */
  async getProbes(scanId: string, keys: ProbeKey[]): Promise<ProbeFacts[]> {
    const wanted = lastByKey(keys, probeKeyString);
    if (wanted.length === 0) return [];
    const seq = await this.#seq(scanId);
    const found = await this.#q<{
      ip: string;
      port: number;
      sni: string;
      started_at: Date;
      timings: (number | null)[];
      io: string[] | null;
      body: Buffer;
    }>(
      "getProbes",
      `select p.ip, p.port, p.sni, p.started_at, p.timings, p.io, b.body
       from unnest($2::text[], $3::integer[], $4::text[]) as k(ip, port, sni)
       join scan_probes p on p.scan = $1 and p.ip = k.ip and p.port = k.port and p.sni = k.sni
       join probe_blobs b on b.hash = p.probe`,
      [seq, wanted.map((k) => k.ip), wanted.map((k) => k.port), wanted.map((k) => k.sni)],
    );
    return this.#restoreProbes(found, keys);
  }

  async #restoreProbes(
    found: {
      ip: string;
      port: number;
      sni: string;
      started_at: unknown;
      timings: (number | null)[];
      io: string[] | null;
      body: Buffer;
    }[],
    keys: ProbeKey[],
  ): Promise<ProbeFacts[]> {
    const opened = found.map((f) => ({ f, stored: openProbe(f.body) }));
    const hashes = new Set<string>();
    for (const o of opened) for (const h of probeCertificateHashes(o.stored)) hashes.add(h);
    const ders = new Map<string, string>();
    if (hashes.size > 0) {
      const certRows = await this.#q<{ sha256: string; der: Buffer }>(
        "getProbes certificates",
        "select sha256, der from certificates where sha256 = any($1::text[])",
        [[...hashes]],
      );
      for (const c of certRows) ders.set(c.sha256, c.der.toString("base64"));
    }
    const byKey = new Map<string, ProbeFacts>();
    for (const { f, stored } of opened) {
      const volatile: ProbeVolatile = { startedAt: iso(f.started_at), ...timingsFrom(f.timings) };
      if (f.io) volatile.io = { bytesRead: Number(f.io[0]), bytesWritten: Number(f.io[1]) };
      byKey.set(probeKeyString(f), probeFrom(stored, volatile, ders));
    }
    const out: ProbeFacts[] = [];
    for (const k of keys) {
      const p = byKey.get(probeKeyString(k));
      if (p) out.push(p);
    }
    return out;
  }

  /** The probes a verdict cites (from its hosts' addresses), chains restored. */
  async probesOf(scanId: string, record: VerdictRecord): Promise<ProbeFacts[]> {
    const keys = record.hosts.flatMap((h) =>
      h.addresses.flatMap((a) => (a.probe ? [{ ip: a.probe.ip, port: a.probe.port, sni: a.probe.sni }] : [])),
    );
    return this.getProbes(scanId, keys);
  }
}

/** The phases of a probe's timings, in the order of scan_probes.timings. */
const TIMING_PHASES = ["connectMs", "bannerMs", "ehloMs", "starttlsMs", "tlsMs", "totalMs"] as const;
/** Then each alternate handshake's. */
const ALTERNATE_PHASES = ["tlsMs", "totalMs"] as const;

const hundredths = (v: number | undefined) => (v === undefined ? "NULL" : String(Math.round(v * 100)));

/**
 * A probe's timings as scan_probes stores them: hundredths of ms,
 * comma-separated, NULL for a phase not reached; the probe's phases, then
 * two per alternate handshake.
 */
function timingsText(v: ProbeVolatile): string {
  const own = TIMING_PHASES.map((k) => hundredths(v.timings[k]));
  const alt = (v.alternateTimings ?? []).flatMap((t) => ALTERNATE_PHASES.map((k) => hundredths(t[k])));
  return [...own, ...alt].join(",");
}

function timingsFrom(a: (number | null)[]): Pick<ProbeVolatile, "timings" | "alternateTimings"> {
  const read = <K extends string>(keys: readonly K[], at: number) => {
    const t: Partial<Record<K, number>> = {};
    keys.forEach((k, i) => {
      const v = a[at + i];
      if (v !== null && v !== undefined) t[k] = v / 100;
    });
    return t;
  };
  const own = read(TIMING_PHASES, 0);
  const out: Pick<ProbeVolatile, "timings" | "alternateTimings"> = {
    timings: { ...own, totalMs: own.totalMs ?? 0 } as ProbeFacts["timings"],
  };
  const alternates: ProbeVolatile["alternateTimings"] = [];
  for (let at = TIMING_PHASES.length; at < a.length; at += ALTERNATE_PHASES.length) {
    const t = read(ALTERNATE_PHASES, at);
    alternates.push({ ...t, totalMs: t.totalMs ?? 0 });
  }
  if (alternates.length > 0) out.alternateTimings = alternates;
  return out;
}

function toScan(r: Record<string, unknown>): Scan {
  const s: Scan = {
    id: r.id as string,
    parameters: r.parameters,
    state: r.state as ScanState,
    startedAt: iso(r.started_at),
  };
  if (r.finished_at !== null && r.finished_at !== undefined) s.finishedAt = iso(r.finished_at);
  if (r.counts !== null && r.counts !== undefined) s.counts = r.counts as ScanCounts;
  return s;
}

/** Opens the database, applies pending migrations, returns the Store. */
export async function openStore(config: StoreConfig): Promise<Store> {
  return new Store(await openMigratedDatabase(config));
}

/** The closed sets the verdict columns hold (for query validation in the API). */
export const VERDICT_COLUMN_VALUES = {
  action: ACTIONS,
  security: DELIVERY_SECURITIES,
  reason: REASONS,
  dane: DANE_STATES,
} as const;

export type { pg };
