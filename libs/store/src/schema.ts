/**
 * The danesweep database schema. The SQL migrations in ../drizzle are the
 * source of truth (written by hand since 0006: partitioned tables are beyond
 * drizzle-kit); drizzle's migrator applies them. The same SQL runs on the
 * embedded PGlite and on PostgreSQL 15+. This file keeps the closed sets the
 * tables' check constraints and the code share, and a drizzle description of
 * the tables for typed queries.
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
 * - api_tokens: the query API's bearer tokens.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, check, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const SCAN_STATES = ["running", "finished", "interrupted", "failed"] as const;
export type ScanState = (typeof SCAN_STATES)[number];

function inList(values: readonly string[]) {
  return sql.raw(values.map((v) => `'${v}'`).join(", "));
}

export const scans = pgTable(
  "scans",
  {
    id: text("id").primaryKey(),
    seq: integer("seq").notNull().unique(),
    parameters: jsonb("parameters").notNull().default({}),
    state: text("state").$type<ScanState>().notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "string" }).notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "string" }),
    counts: jsonb("counts"),
  },
  (t) => [check("scans_state_check", sql`${t.state} in (${inList(SCAN_STATES)})`)],
);

export const results = pgTable(
  "results",
  {
    scan: integer("scan").notNull(),
    domain: text("domain").notNull(),
    class: smallint("class").notNull(),
    facts: uuid("facts").notNull(),
    verdict: uuid("verdict").notNull(),
    judgedSeq: bigint("judged_seq", { mode: "number" }).notNull(),
    judgedAt: timestamp("judged_at", { withTimezone: true, mode: "string" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.domain, t.scan] })],
);

export const verdictClasses = pgTable("verdict_classes", {
  id: smallint("id").primaryKey(),
  action: text("action").notNull(),
  security: text("security"),
  reason: text("reason").notNull(),
  daneState: text("dane_state").notNull(),
  broken: boolean("broken").notNull(),
});

/** Scopes an API token may carry: `read` for read endpoints when they require a token, `scan` to start scans. */
export const TOKEN_SCOPES = ["read", "scan"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/**
 * Bearer tokens of the query API (`ds_<id>_<secret>`): only the SHA-256 of
 * the whole token is stored; revoked tokens keep their row (revoked_at set).
 */
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    sha256: text("sha256").notNull(),
    scopes: text("scopes").array().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "string" }),
  },
  (t) => [check("api_tokens_scopes_check", sql`${t.scopes} <@ array[${inList(TOKEN_SCOPES)}]::text[]`)],
);
