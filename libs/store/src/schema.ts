/**
 * The danesweep database schema (drizzle pg-core). drizzle-kit generates the
 * SQL migrations in ../drizzle from this file (`pnpm --filter @danesweep/store
 * generate`); the same SQL runs on PGlite and PostgreSQL 15+.
 *
 * - scans: one row per scan; `counts` is the snapshot taken when it finished.
 * - scan_domains: the seeded input and each domain's progress
 *   (seeded -> resolved -> judged, never backwards) for resume and progress.
 * - domain_results: per (scan, domain) the facts and the verdict record, with
 *   the verdict's columns broken out and indexed for querying.
 * - probes: one row per (scan, ip, port, sni); facts with tls.chain replaced by
 *   certificate SHA-256 hashes (lowercase hex).
 * - certificates: DER once per SHA-256.
 * - domain_probes: which probes a domain's verdict used.
 * Every table is written by idempotent upserts (repositories.ts).
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  customType,
  foreignKey,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

export const SCAN_STATES = ["running", "finished", "interrupted", "failed"] as const;
export type ScanState = (typeof SCAN_STATES)[number];

/** Per-domain progress, in order: a domain never moves back. */
export const DOMAIN_STATES = ["seeded", "resolved", "judged"] as const;
export type DomainState = (typeof DOMAIN_STATES)[number];

const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => "bytea",
});

function inList(values: readonly string[]) {
  return sql.raw(values.map((v) => `'${v}'`).join(", "));
}

export const scans = pgTable(
  "scans",
  {
    id: text("id").primaryKey(),
    parameters: jsonb("parameters").notNull().default({}),
    state: text("state").$type<ScanState>().notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "string" }).notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "string" }),
    counts: jsonb("counts"),
  },
  (t) => [
    check("scans_state_check", sql`${t.state} in (${inList(SCAN_STATES)})`),
    index("scans_started_idx").on(t.startedAt),
  ],
);

export const scanDomains = pgTable(
  "scan_domains",
  {
    scanId: text("scan_id")
      .notNull()
      .references(() => scans.id, { onDelete: "cascade" }),
    domain: text("domain").notNull(),
    line: integer("line").notNull().default(0),
    state: text("state").$type<DomainState>().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.scanId, t.domain] }),
    check("scan_domains_state_check", sql`${t.state} in (${inList(DOMAIN_STATES)})`),
    index("scan_domains_state_idx").on(t.scanId, t.state, t.line, t.domain),
  ],
);

export const domainResults = pgTable(
  "domain_results",
  {
    scanId: text("scan_id")
      .notNull()
      .references(() => scans.id, { onDelete: "cascade" }),
    domain: text("domain").notNull(),
    tld: text("tld").notNull(),
    facts: jsonb("facts"),
    collectedAt: timestamp("collected_at", { withTimezone: true, mode: "string" }),
    verdict: jsonb("verdict"),
    action: text("action"),
    security: text("security"),
    reason: text("reason"),
    daneState: text("dane_state"),
    mxHost: text("mx_host"),
    deliveredHost: text("delivered_host"),
    judgedAt: timestamp("judged_at", { withTimezone: true, mode: "string" }),
    /** Order in which verdicts were first stored (from judged_seq); followers page on it. */
    judgedSeq: bigint("judged_seq", { mode: "number" }),
  },
  (t) => [
    primaryKey({ columns: [t.scanId, t.domain] }),
    index("domain_results_action_idx").on(t.scanId, t.action),
    index("domain_results_dane_idx").on(t.scanId, t.daneState),
    index("domain_results_reason_idx").on(t.scanId, t.reason),
    index("domain_results_tld_idx").on(t.scanId, t.tld),
    index("domain_results_domain_idx").on(t.domain, t.scanId),
    index("domain_results_judged_seq_idx").on(t.scanId, t.judgedSeq),
  ],
);

/** Gives each verdict, when first stored, its place in the order followers read them in. */
export const judgedSeq = pgSequence("judged_seq");

/**
 * The aggregator's join state: which probes a resolved domain waits for
 * before it can be judged. Unlike domain_probes it has no foreign key to
 * probes: the wait is recorded before the probe exists.
 */
export const probeWaits = pgTable(
  "probe_waits",
  {
    scanId: text("scan_id")
      .notNull()
      .references(() => scans.id, { onDelete: "cascade" }),
    domain: text("domain").notNull(),
    ip: text("ip").notNull(),
    port: integer("port").notNull(),
    sni: text("sni").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.scanId, t.domain, t.ip, t.port, t.sni] }),
    index("probe_waits_probe_idx").on(t.scanId, t.ip, t.port, t.sni),
  ],
);

export const probes = pgTable(
  "probes",
  {
    scanId: text("scan_id")
      .notNull()
      .references(() => scans.id, { onDelete: "cascade" }),
    ip: text("ip").notNull(),
    port: integer("port").notNull(),
    sni: text("sni").notNull(),
    status: text("status").notNull(),
    facts: jsonb("facts").notNull(),
    probedAt: timestamp("probed_at", { withTimezone: true, mode: "string" }).notNull(),
    /** Set once a probe-result announcing this probe was published (a reused probe is then not announced again). */
    announced: boolean("announced").notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.scanId, t.ip, t.port, t.sni] }),
    index("probes_status_idx").on(t.scanId, t.status),
  ],
);

export const certificates = pgTable("certificates", {
  sha256: text("sha256").primaryKey(),
  der: bytea("der").notNull(),
});

export const domainProbes = pgTable(
  "domain_probes",
  {
    scanId: text("scan_id").notNull(),
    domain: text("domain").notNull(),
    ip: text("ip").notNull(),
    port: integer("port").notNull(),
    sni: text("sni").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.scanId, t.domain, t.ip, t.port, t.sni] }),
    foreignKey({
      name: "domain_probes_probe_fk",
      columns: [t.scanId, t.ip, t.port, t.sni],
      foreignColumns: [probes.scanId, probes.ip, probes.port, probes.sni],
    }).onDelete("cascade"),
    foreignKey({
      name: "domain_probes_domain_fk",
      columns: [t.scanId, t.domain],
      foreignColumns: [domainResults.scanId, domainResults.domain],
    }).onDelete("cascade"),
    index("domain_probes_probe_idx").on(t.scanId, t.ip, t.port, t.sni),
  ],
);

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

/**
 * Who is probing an (ip, port, SNI) of a scan right now. Probe requests are
 * keyed by IP, so one prober instance owns each IP; during a rebalance a
 * request can reach a new owner while the old one is still mid-probe. The
 * claim, taken before dialing, makes "one probe per (scan, ip, port, SNI)"
 * hold across instances: the loser waits for the winner's stored result. A
 * claim older than the probe deadline is stale and may be taken over (its
 * owner died).
 */
export const probeClaims = pgTable(
  "probe_claims",
  {
    scanId: text("scan_id")
      .notNull()
      .references(() => scans.id, { onDelete: "cascade" }),
    ip: text("ip").notNull(),
    port: integer("port").notNull(),
    sni: text("sni").notNull(),
    owner: text("owner").notNull(),
    claimedAt: timestamp("claimed_at", { withTimezone: true, mode: "string" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.scanId, t.ip, t.port, t.sni] })],
);
