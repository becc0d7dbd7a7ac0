/**
 * The danesweep database schema. The SQL migrations in ../migrations are the
 * source of truth (written by hand since 0006: partitioned tables are beyond
 * drizzle-kit); db.ts applies them. The same SQL runs on the embedded PGlite
 * and on PostgreSQL 15+. This file keeps the closed sets the tables' check
 * constraints and the code share.
 *
 * - scans: one row per scan (`seq` is its small integer, the partition key of
 *   the per-scan tables); `counts` is the snapshot taken when it finished.
 * - scan_inputs (per scan): the seeded input, for resume; dropped when the
 *   scan finishes.
 * - results (per scan): one narrow row per judged domain, pointing at its
 *   facts and verdict blobs, with its verdict class.
 * - fact_blobs, verdict_blobs, probe_blobs: content-addressed stored forms
 *   (codec.ts), shared by every scan that saw them.
 * - verdict_classes: the (action, security, reason, DANE state, broken)
 *   combinations, numbered.
 * - scan_probes (per scan): one row per (ip, port, sni) probed.
 * - certificates: DER once per SHA-256.
 * - scan_counters: seeded / judged per scan, striped over slots.
 * - probe_claims: who is probing an (ip, port, sni) of a scan right now.
 * - rejudge_runs, rejudgements (per scan; migrations/0007): a scan's stored
 *   facts judged again (rejudge.ts): one row per run (engine, profile,
 *   progress, change counts) and one narrow row per (domain, run) pointing at
 *   the new verdict's blob and class. The originals stay in results.
 * - api_tokens: the query API's bearer tokens (`ds_<id>_<secret>`): only the
 *   SHA-256 of the whole token is stored; revoked tokens keep their row.
 */
export const SCAN_STATES = ["running", "finished", "interrupted", "failed"] as const;
export type ScanState = (typeof SCAN_STATES)[number];

/** Scopes an API token may carry: `read` for read endpoints when they require a token, `scan` to start scans. */
export const TOKEN_SCOPES = ["read", "scan"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];
