/**
 * A scan exported as Parquet files, for researchers who keep raw data outside
 * the database (DuckDB, pandas/pyarrow and Spark read them directly); once
 * exported, a scan can be pruned from the store (prune.ts).
 *
 * `exportScan(handle, scanId, { dir })` writes into dir:
 * - verdicts.parquet: one row per judged domain, in domain order: scan_id,
 *   domain, tld, provider, mx_host, delivered_host, delivered_address,
 *   action, security, reason, dane_state, broken, problems (list<string>),
 *   risks (list<string>, libs/dane rules 37-40; empty before engine 2.1),
 *   engine, profile, judged_at, collected_at (timestamps, UTC, ms), the
 *   MTA-STS / TLS-RPT columns (format 2: mta_sts_policy, mta_sts_mode,
 *   mta_sts_outcome, mta_sts_reason, mta_sts_contradictions (list<string>),
 *   tls_rpt; null without such lookups), and the full records as JSON text:
 *   verdict (the VerdictRecord, explanation
 *   rendered as the store renders it when read) and facts (the DomainFacts
 *   as stored, collectedAt restored);
 * - probes.parquet: one row per probe, in (ip, port, sni) order: scan_id, ip,
 *   port, sni, status, started_at, tls_version, tls_cipher, tls_group, chain
 *   (list of the certificates' SHA-256, lowercase hex, leaf first; null
 *   without a TLS handshake) and facts (the ProbeFacts as JSON text, chain
 *   restored as base64 DER, as the store's getProbes gives it);
 * - certificates.parquet: sha256 and der (binary) of every certificate the
 *   scan's probes cite, each once;
 * - scan.json: the scan row (Scan), the files' row counts and the format
 *   version. It is written last: a directory with scan.json holds a complete
 *   export.
 * Every Parquet file carries the key-value metadata `danesweep.export`
 * (format version and scan id). Strings are UTF8, JSON columns plain UTF8
 * text (not the JSON logical type, which some Spark versions refuse);
 * columns are ZSTD-compressed (Node's own zlib).
 *
 * Memory stays bounded whatever the scan's size: rows are read in keyset
 * batches over the scan's partition (by domain, by probe key; `batchRows`,
 * default 1000, each batch by an ordered scan of the partition's primary key:
 * batchQuery), and written as row groups of at most `rowGroupRows` rows or
 * `rowGroupBytes` of text (default 50000 / 16 MiB), whichever comes first;
 * each row group goes to the file before the next is read. What grows with
 * the scan is the writer's footer metadata, kept until the end: about 16 KB
 * per row group (measured), i.e. ~60 MB for 23M domains of ~2.7 KB of JSON
 * each; and, in the database, a temporary table of the certificate hashes
 * already written (so each certificate is written once).
 *
 * Files are written as NAME.tmp-PID and renamed (after fsync) only when all
 * three are complete; on any failure the temporary files are removed.
 *
 * Outcomes (a tagged union, not exceptions): `{ ok: true, summary }`, or
 * `{ ok: false, refused }` with a closed code:
 * - unknown-scan: no scan with this id;
 * - scan-running: the scan is still running (its export would be partial);
 * - out-not-directory: dir exists and is not a directory;
 * - out-not-empty: dir holds files and `force` was not given (with force,
 *   the four files are replaced and anything else in dir is left alone);
 * - scan-changed: the scan's state or row counts changed while it was being
 *   exported (it was resumed): nothing is left in dir.
 * Database failures raise StoreError (errors.ts); file system failures raise
 * Node's errors (they name the path).
 *
 * Why hyparquet-writer: it is maintained (frequent releases), pure
 * JavaScript with a single dependency (its reader, hyparquet) and ~0.5 MB
 * installed; its ParquetWriter writes one row group per call and hands each
 * to our file sink before the next, so memory is one row group; it writes
 * LIST columns (Dremel levels), timestamps, binary, per-column statistics and
 * encodings, and takes any compressor, so ZSTD comes from node:zlib. The
 * other candidates: parquet-wasm + apache-arrow (~14 MB, builds Arrow tables
 * in JS then copies them into WebAssembly memory, which never shrinks: bad
 * beside PGlite in a 512 MB process); @dsnp/parquetjs (row-oriented, a dozen
 * dependencies including the AWS S3 SDK, no ZSTD writer).
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { zstdCompressSync } from "node:zlib";
import {
  type DomainFacts,
  type MailPolicyColumns,
  mailPolicyColumns,
  type ProbeFacts,
  type VerdictRecord,
} from "@danesweep/dane";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type pg from "pg";
import { factsFrom, sha256Hex, verdictFrom } from "./codec.ts";
import type { DbHandle } from "./db.ts";
import { StoreError, toStoreError } from "./errors.ts";
import { recordFrom, type Scan, Store } from "./store.ts";
import { iso } from "./time.ts";

/** Version of the export's layout (columns and scan.json); a change of either is a new version. */
export const EXPORT_FORMAT_VERSION = 2;

export const EXPORT_FILES = {
  verdicts: "verdicts.parquet",
  probes: "probes.parquet",
  certificates: "certificates.parquet",
  scan: "scan.json",
} as const;

export interface ExportOptions {
  dir: string;
  /** Write into a non-empty dir (replacing the export's four files). */
  force?: boolean;
  /** Rows read per query (default 1000). */
  batchRows?: number;
  /** Most rows in a row group (default 50000). */
  rowGroupRows?: number;
  /** Most bytes of text in a row group (default 16 MiB). */
  rowGroupBytes?: number;
  /** Called after each batch written; the export waits for a promise it returns. */
  onProgress?: (p: ExportProgress) => void | Promise<void>;
  /** The export's time, recorded in scan.json (default: now). */
  now?: Date;
}

export interface ExportProgress {
  file: "verdicts" | "probes";
  done: number;
  total: number;
}

export interface ExportedFile {
  name: string;
  rows: number;
  bytes: number;
}

export interface ExportSummary {
  scan: Scan;
  dir: string;
  files: { verdicts: ExportedFile; probes: ExportedFile; certificates: ExportedFile };
}

export type ExportRefusal =
  | { code: "unknown-scan"; scanId: string }
  | { code: "scan-running"; scan: Scan }
  | { code: "out-not-directory"; dir: string }
  | { code: "out-not-empty"; dir: string; entries: string[] }
  | { code: "scan-changed"; scan: Scan; detail: string };

export type ExportOutcome = { ok: true; summary: ExportSummary } | { ok: false; refused: ExportRefusal };

/**
 * Opens a store's database with its migrations applied, for the functions
 * that need a connection of their own (exportScan, pruneScan). `new
 * Store(handle)` gives the Store over the same connections.
 */
// ------------------------------------------------------------ Parquet tables

type Cell = string | number | boolean | Date | Uint8Array | string[] | null;

/** A column of an exported table: its Parquet shape and how a row gives its value. */
interface ColumnSpec<R> {
  name: string;
  kind: "string" | "int32" | "boolean" | "timestamp" | "binary" | "string-list";
  /** The value may be null (else a null is an error). */
  nullable?: boolean;
  /** Large text (JSON): plain encoding, no statistics. */
  bulk?: boolean;
  get: (row: R) => Cell;
}

type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]["schema"][number];

function schemaOf(columns: ColumnSpec<never>[]): SchemaElement[] {
  const out: SchemaElement[] = [{ name: "root", num_children: columns.length }];
  for (const c of columns) {
    const repetition_type = c.nullable ? "OPTIONAL" : "REQUIRED";
    const utf8 = { type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" } } as const;
    if (c.kind === "string") out.push({ name: c.name, repetition_type, ...utf8 });
    else if (c.kind === "int32") out.push({ name: c.name, repetition_type, type: "INT32" });
    else if (c.kind === "boolean") out.push({ name: c.name, repetition_type, type: "BOOLEAN" });
    else if (c.kind === "binary") out.push({ name: c.name, repetition_type, type: "BYTE_ARRAY" });
    else if (c.kind === "timestamp")
      out.push({
        name: c.name,
        repetition_type,
        type: "INT64",
        converted_type: "TIMESTAMP_MILLIS",
        logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
      });
    else
      out.push(
        {
          name: c.name,
          repetition_type,
          converted_type: "LIST",
          logical_type: { type: "LIST" },
          num_children: 1,
        },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        { name: "element", repetition_type: "REQUIRED", ...utf8 },
      );
  }
  return out;
}

/** The writer's byte sink on a file: each row group is written out (flush) before the next is encoded. */
class FileSink extends ByteWriter {
  readonly #fd: number;
  #open = true;
  constructor(path: string) {
    super(1 << 20);
    this.#fd = openSync(path, "w");
  }
  flush(): void {
    let at = 0;
    while (at < this.index) at += writeSync(this.#fd, new Uint8Array(this.buffer, at, this.index - at));
    this.index = 0;
  }
  override finish(): void {
    this.flush();
    fsyncSync(this.#fd);
    this.#open = false;
    closeSync(this.#fd);
  }
  /** Closes the file without completing it (the caller removes it); a no-op once finished. */
  abandon(): void {
    if (!this.#open) return;
    this.#open = false;
    closeSync(this.#fd);
  }
}

function zstd(input: Uint8Array): Uint8Array {
  return zstdCompressSync(input);
}

/** One Parquet file written row group by row group. */
class ParquetTable<R> {
  readonly #columns: ColumnSpec<R>[];
  readonly #sink: FileSink;
  readonly #writer: ParquetWriter;
  readonly #maxRows: number;
  readonly #maxBytes: number;
  #values: Cell[][];
  #rows = 0;
  #bytes = 0;
  #written = 0;

  constructor(
    path: string,
    columns: ColumnSpec<R>[],
    opts: { metadata: Record<string, string>; rowGroupRows: number; rowGroupBytes: number },
  ) {
    this.#columns = columns;
    this.#maxRows = opts.rowGroupRows;
    this.#maxBytes = opts.rowGroupBytes;
    this.#values = columns.map(() => []);
    this.#sink = new FileSink(path);
    this.#writer = new ParquetWriter({
      writer: this.#sink,
      schema: schemaOf(columns as ColumnSpec<never>[]),
      codec: "ZSTD",
      compressors: { ZSTD: zstd },
      kvMetadata: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
      createdBy: `danesweep export ${EXPORT_FORMAT_VERSION} (hyparquet-writer)`,
    });
  }

  get rows(): number {
    return this.#written + this.#rows;
  }

  add(row: R): void {
    for (let i = 0; i < this.#columns.length; i++) {
      const c = this.#columns[i] as ColumnSpec<R>;
      const v = c.get(row);
      if (v === null && !c.nullable) throw new StoreError("integrity", `export: column ${c.name} is null`);
      (this.#values[i] as Cell[]).push(v);
      if (typeof v === "string") this.#bytes += v.length;
      else if (v instanceof Uint8Array) this.#bytes += v.length;
      else if (Array.isArray(v)) for (const s of v) this.#bytes += s.length;
    }
    this.#rows++;
    if (this.#rows >= this.#maxRows || this.#bytes >= this.#maxBytes) this.#flush();
  }

  #flush(): void {
    if (this.#rows === 0) return;
    void this.#writer.write({
      rowGroupSize: this.#rows,
      columnData: this.#columns.map((c, i) => ({
        name: c.name,
        data: this.#values[i] as Cell[],
        ...(c.bulk ? { encoding: "PLAIN" as const, statistics: false } : {}),
      })),
    });
    this.#written += this.#rows;
    this.#values = this.#columns.map(() => []);
    this.#rows = 0;
    this.#bytes = 0;
  }

  /** Writes the last row group and the footer, and syncs the file to disk. Returns the rows written. */
  finish(): number {
    this.#flush();
    void this.#writer.finish();
    return this.#written;
  }

  abandon(): void {
    this.#sink.abandon();
  }
}

// ------------------------------------------------------------------ columns

interface VerdictRow {
  scanId: string;
  domain: string;
  tld: string;
  provider: string | null;
  mxHost: string | null;
  deliveredHost: string | null;
  deliveredAddress: string | null;
  action: string;
  security: string | null;
  reason: string;
  dane: string;
  broken: boolean;
  problems: string[];
  engine: string;
  profile: string;
  judgedAt: Date;
  collectedAt: Date;
  record: VerdictRecord;
  facts: DomainFacts;
  mail: MailPolicyColumns;
}

const VERDICT_COLUMNS: ColumnSpec<VerdictRow>[] = [
  { name: "scan_id", kind: "string", get: (r) => r.scanId },
  { name: "domain", kind: "string", get: (r) => r.domain },
  { name: "tld", kind: "string", get: (r) => r.tld },
  { name: "provider", kind: "string", nullable: true, get: (r) => r.provider },
  { name: "mx_host", kind: "string", nullable: true, get: (r) => r.mxHost },
  { name: "delivered_host", kind: "string", nullable: true, get: (r) => r.deliveredHost },
  { name: "delivered_address", kind: "string", nullable: true, get: (r) => r.deliveredAddress },
  { name: "action", kind: "string", get: (r) => r.action },
  { name: "security", kind: "string", nullable: true, get: (r) => r.security },
  { name: "reason", kind: "string", get: (r) => r.reason },
  { name: "dane_state", kind: "string", get: (r) => r.dane },
  { name: "broken", kind: "boolean", get: (r) => r.broken },
  { name: "problems", kind: "string-list", get: (r) => r.problems },
  { name: "risks", kind: "string-list", get: (r) => r.record.risks ?? [] },
  { name: "engine", kind: "string", get: (r) => r.engine },
  { name: "profile", kind: "string", get: (r) => r.profile },
  { name: "judged_at", kind: "timestamp", get: (r) => r.judgedAt },
  { name: "collected_at", kind: "timestamp", get: (r) => r.collectedAt },
  // MTA-STS and TLS-RPT (libs/dane MAIL_POLICY_COLUMNS): null where the facts had no such lookup.
  { name: "mta_sts_policy", kind: "string", nullable: true, get: (r) => r.mail.mtaStsPolicy },
  { name: "mta_sts_mode", kind: "string", nullable: true, get: (r) => r.mail.mtaStsMode },
  { name: "mta_sts_outcome", kind: "string", nullable: true, get: (r) => r.mail.mtaStsOutcome },
  { name: "mta_sts_reason", kind: "string", nullable: true, get: (r) => r.mail.mtaStsReason },
  { name: "mta_sts_contradictions", kind: "string-list", get: (r) => r.mail.mtaStsContradictions },
  { name: "tls_rpt", kind: "string", nullable: true, get: (r) => r.mail.tlsRpt },
  { name: "verdict", kind: "string", bulk: true, get: (r) => JSON.stringify(r.record) },
  { name: "facts", kind: "string", bulk: true, get: (r) => JSON.stringify(r.facts) },
];

interface ProbeRow {
  scanId: string;
  probe: ProbeFacts;
  chain: string[] | null;
}

const PROBE_COLUMNS: ColumnSpec<ProbeRow>[] = [
  { name: "scan_id", kind: "string", get: (r) => r.scanId },
  { name: "ip", kind: "string", get: (r) => r.probe.ip },
  { name: "port", kind: "int32", get: (r) => r.probe.port },
  { name: "sni", kind: "string", get: (r) => r.probe.sni },
  { name: "status", kind: "string", get: (r) => r.probe.status },
  { name: "started_at", kind: "timestamp", get: (r) => new Date(r.probe.startedAt) },
  { name: "tls_version", kind: "string", nullable: true, get: (r) => r.probe.tls?.version ?? null },
  { name: "tls_cipher", kind: "string", nullable: true, get: (r) => r.probe.tls?.cipher ?? null },
  { name: "tls_group", kind: "string", nullable: true, get: (r) => r.probe.tls?.group ?? null },
  { name: "chain", kind: "string-list", nullable: true, get: (r) => r.chain },
  { name: "facts", kind: "string", bulk: true, get: (r) => JSON.stringify(r.probe) },
];

interface CertificateRow {
  sha256: string;
  der: Uint8Array;
}

const CERTIFICATE_COLUMNS: ColumnSpec<CertificateRow>[] = [
  { name: "sha256", kind: "string", get: (r) => r.sha256 },
  { name: "der", kind: "binary", get: (r) => r.der },
];

// ------------------------------------------------------------------- export

async function query<T>(client: pg.PoolClient, what: string, text: string, values: unknown[]): Promise<T[]> {
  try {
    return (await client.query({ text, values })).rows as T[];
  } catch (e) {
    throw toStoreError(e, what);
  }
}

/**
 * One keyset batch: `text` must read the batch's keys with an ordered scan of
 * the partition's primary key (ORDER BY the key, LIMIT). Sorting is disabled
 * for it (SET LOCAL, in a transaction of its own) so that the planner never
 * trades that index scan for a scan of every row after the cursor plus a
 * sort, which it does when the partition has no statistics (a bulk-loaded
 * store not analyzed yet): a full scan per batch, quadratic over the scan.
 * Exported for the test that checks the plans.
 */
export async function batchQuery<T>(
  client: pg.PoolClient,
  what: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  await query(client, what, "begin", []);
  try {
    await query(client, what, "set local enable_sort = off", []);
    const rows = await query<T>(client, what, text, values);
    await query(client, what, "commit", []);
    return rows;
  } catch (e) {
    await client.query("rollback").catch(() => {});
    throw e;
  }
}

/** Checks the output directory (creating it when missing); a refusal when it cannot be used. */
function prepareDir(dir: string, force: boolean): ExportRefusal | undefined {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    mkdirSync(dir, { recursive: true });
    return undefined;
  }
  if (!isDir) return { code: "out-not-directory", dir };
  const entries = readdirSync(dir);
  if (entries.length > 0 && !force) return { code: "out-not-empty", dir, entries: entries.sort() };
  return undefined;
}

async function rowCounts(client: pg.PoolClient, seq: number): Promise<{ verdicts: number; probes: number }> {
  const [r] = await query<{ v: string; p: string }>(
    client,
    "export counts",
    `select (select count(*) from results where scan = $1) as v, (select count(*) from scan_probes where scan = $1) as p`,
    [seq],
  );
  return { verdicts: Number(r?.v ?? 0), probes: Number(r?.p ?? 0) };
}

/**
 * The keyset batches: the next `$3` (`$5`) keys of the scan's partition after
 * the cursor, by an ordered scan of its primary key, then their rows.
 * Exported for the test that checks their plans.
 */
export const VERDICT_BATCH_SQL = `with r as materialized (
         select domain, judged_at, collected_at, class, facts, verdict from results
         where scan = $1 and domain > $2 order by domain limit $3)
       select r.domain, r.judged_at, r.collected_at, c.action, c.security, c.reason, c.dane_state, c.broken,
              v.tld, v.provider, v.mx_host, v.delivered_host, v.delivered_address, v.engine, v.profile, v.problems,
              v.body as vbody, f.body as fbody
       from r
       left join verdict_classes c on c.id = r.class
       left join verdict_blobs v on v.hash = r.verdict
       left join fact_blobs f on f.hash = r.facts
       order by r.domain`;

export const PROBE_BATCH_SQL = `select ip, port, sni from scan_probes
       where scan = $1 and (ip, port, sni) > ($2, $3, $4)
       order by ip, port, sni limit $5`;

/** The scan's judged domains, in domain order, `batch` at a time. */
async function* verdictBatches(client: pg.PoolClient, scan: Scan, seq: number, batch: number) {
  let after = "";
  for (;;) {
    const rows = await batchQuery<{
      domain: string;
      judged_at: Date;
      collected_at: Date;
      action: string | null;
      security: string | null;
      reason: string | null;
      dane_state: string | null;
      broken: boolean | null;
      tld: string | null;
      provider: string | null;
      mx_host: string | null;
      delivered_host: string | null;
      delivered_address: string | null;
      engine: string | null;
      profile: string | null;
      problems: string[] | null;
      vbody: Buffer | null;
      fbody: Buffer | null;
    }>(client, "export verdicts", VERDICT_BATCH_SQL, [seq, after, batch]);
    if (rows.length === 0) return;
    yield rows.map((x): VerdictRow => {
      if (x.vbody === null || x.fbody === null || x.action === null)
        throw new StoreError(
          "integrity",
          `export: ${x.domain} of scan ${scan.id}: its ${x.fbody === null ? "facts" : x.vbody === null ? "verdict" : "verdict class"} is missing`,
        );
      const facts = factsFrom(x.fbody, iso(x.collected_at));
      const record = recordFrom(verdictFrom(x.vbody, x.domain), iso(x.judged_at));
      return {
        scanId: scan.id,
        domain: x.domain,
        tld: x.tld as string,
        provider: x.provider,
        mxHost: x.mx_host,
        deliveredHost: x.delivered_host,
        deliveredAddress: x.delivered_address,
        action: x.action,
        security: x.security,
        reason: x.reason as string,
        dane: x.dane_state as string,
        broken: x.broken as boolean,
        problems: x.problems ?? [],
        engine: x.engine as string,
        profile: x.profile as string,
        judgedAt: x.judged_at,
        collectedAt: x.collected_at,
        record,
        facts,
        mail: mailPolicyColumns(record),
      };
    });
    after = (rows[rows.length - 1] as { domain: string }).domain;
  }
}

/** The scan's probes, in (ip, port, sni) order, `batch` at a time, chains restored by the store. */
async function* probeBatches(
  client: pg.PoolClient,
  store: Store,
  scanId: string,
  seq: number,
  batch: number,
) {
  let after = { ip: "", port: -1, sni: "" };
  for (;;) {
    const keys = await batchQuery<{ ip: string; port: number; sni: string }>(
      client,
      "export probes",
      PROBE_BATCH_SQL,
      [seq, after.ip, after.port, after.sni, batch],
    );
    if (keys.length === 0) return;
    const probes = await store.getProbes(scanId, keys);
    if (probes.length !== keys.length) {
      const got = new Set(probes.map((p) => `${p.ip}|${p.port}|${p.sni}`));
      const lost = keys
        .filter((k) => !got.has(`${k.ip}|${k.port}|${k.sni}`))
        .map((k) => `${k.ip}|${k.port}|${k.sni}`);
      throw new StoreError(
        "integrity",
        `export: probe(s) ${lost.join(", ")} of scan ${scanId}: stored facts missing`,
      );
    }
    yield probes;
    after = keys[keys.length - 1] as typeof after;
  }
}

/**
 * Exports a scan (see the file comment). The handle's pool lends one
 * connection for the whole export (its temporary table lives there).
 */
export async function exportScan(
  handle: DbHandle,
  scanId: string,
  opts: ExportOptions,
): Promise<ExportOutcome> {
  const store = new Store(handle);
  const batch = opts.batchRows ?? 1000;
  const groups = { rowGroupRows: opts.rowGroupRows ?? 50_000, rowGroupBytes: opts.rowGroupBytes ?? 16 << 20 };
  const scan = await store.getScanRow(scanId);
  if (!scan) return { ok: false, refused: { code: "unknown-scan", scanId } };
  if (scan.state === "running") return { ok: false, refused: { code: "scan-running", scan } };
  const dirRefusal = prepareDir(opts.dir, opts.force === true);
  if (dirRefusal) return { ok: false, refused: dirRefusal };

  let client: pg.PoolClient;
  try {
    client = await handle.pool.connect();
  } catch (e) {
    throw toStoreError(e, "export: connect");
  }
  const tmp = (name: string) => join(opts.dir, `${name}.tmp-${process.pid}`);
  const names = [EXPORT_FILES.verdicts, EXPORT_FILES.probes, EXPORT_FILES.certificates] as const;
  const tables: ParquetTable<never>[] = [];
  const certTable = `danesweep_export_certs_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  let done = false;
  try {
    const [seqRow] = await query<{ seq: number }>(
      client,
      "export scan",
      "select seq from scans where id = $1",
      [scanId],
    );
    if (!seqRow) return { ok: false, refused: { code: "unknown-scan", scanId } };
    const seq = seqRow.seq;
    const total = await rowCounts(client, seq);
    const metadata = {
      "danesweep.export": JSON.stringify({ format: EXPORT_FORMAT_VERSION, scan: scanId }),
    };

    const verdicts = new ParquetTable(tmp(names[0]), VERDICT_COLUMNS, { metadata, ...groups });
    tables.push(verdicts as ParquetTable<never>);
    for await (const rows of verdictBatches(client, scan, seq, batch)) {
      for (const r of rows) verdicts.add(r);
      await opts.onProgress?.({ file: "verdicts", done: verdicts.rows, total: total.verdicts });
    }
    const verdictRows = verdicts.finish();

    const probes = new ParquetTable(tmp(names[1]), PROBE_COLUMNS, { metadata, ...groups });
    tables.push(probes as ParquetTable<never>);
    const certs = new ParquetTable(tmp(names[2]), CERTIFICATE_COLUMNS, { metadata, ...groups });
    tables.push(certs as ParquetTable<never>);
    // The certificates written so far, so each is written once however many probes cite it.
    await query(
      client,
      "export certificates",
      `create temp table ${certTable} (sha256 text primary key)`,
      [],
    );
    for await (const list of probeBatches(client, store, scanId, seq, batch)) {
      const ders = new Map<string, Uint8Array>();
      for (const p of list) {
        const chain = p.tls
          ? p.tls.chain.map((b64) => {
              const der = Buffer.from(b64, "base64");
              const h = sha256Hex(der);
              ders.set(h, der);
              return h;
            })
          : null;
        probes.add({ scanId, probe: p, chain });
      }
      if (ders.size > 0) {
        const fresh = await query<{ sha256: string }>(
          client,
          "export certificates",
          `insert into ${certTable} select unnest($1::text[]) on conflict do nothing returning sha256`,
          [[...ders.keys()]],
        );
        for (const { sha256 } of fresh) certs.add({ sha256, der: ders.get(sha256) as Uint8Array });
      }
      await opts.onProgress?.({ file: "probes", done: probes.rows, total: total.probes });
    }
    const probeRows = probes.finish();
    const certRows = certs.finish();

    // Nothing may have changed under the export: same state, same rows.
    const after = await store.getScanRow(scanId);
    const end = after ? await rowCounts(client, seq) : { verdicts: -1, probes: -1 };
    const changed =
      !after ||
      after.state !== scan.state ||
      after.finishedAt !== scan.finishedAt ||
      end.verdicts !== total.verdicts ||
      end.probes !== total.probes ||
      verdictRows !== total.verdicts ||
      probeRows !== total.probes;
    if (changed) {
      const detail =
        `at the start: ${scan.state}, ${total.verdicts} verdicts, ${total.probes} probes; ` +
        `exported ${verdictRows} verdicts, ${probeRows} probes; ` +
        (after ? `now: ${after.state}, ${end.verdicts} verdicts, ${end.probes} probes` : "now: deleted");
      return { ok: false, refused: { code: "scan-changed", scan, detail } };
    }

    for (const n of names) renameSync(tmp(n), join(opts.dir, n));
    const files = {
      verdicts: { name: names[0], rows: verdictRows, bytes: statSync(join(opts.dir, names[0])).size },
      probes: { name: names[1], rows: probeRows, bytes: statSync(join(opts.dir, names[1])).size },
      certificates: { name: names[2], rows: certRows, bytes: statSync(join(opts.dir, names[2])).size },
    };
    const manifest = {
      format: "danesweep-export",
      version: EXPORT_FORMAT_VERSION,
      exportedAt: (opts.now ?? new Date()).toISOString(),
      scan,
      files: Object.fromEntries(Object.values(files).map((f) => [f.name, { rows: f.rows, bytes: f.bytes }])),
    };
    writeDurably(join(opts.dir, EXPORT_FILES.scan), `${JSON.stringify(manifest, null, 2)}\n`);
    syncDir(opts.dir);
    done = true;
    return { ok: true, summary: { scan, dir: opts.dir, files } };
  } finally {
    if (!done) {
      for (const t of tables) t.abandon();
      for (const n of names) rmSync(tmp(n), { force: true });
    }
    await client.query(`drop table if exists ${certTable}`).catch(() => {});
    client.release();
  }
}

function writeDurably(path: string, text: string): void {
  const t = `${path}.tmp-${process.pid}`;
  const fd = openSync(t, "w");
  try {
    const buf = Buffer.from(text, "utf8");
    let at = 0;
    while (at < buf.length) at += writeSync(fd, buf, at, buf.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(t, path);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
