/**
 * Read queries of the query API (services/api) and the API token repository,
 * over the same Store (PGlite or PostgreSQL). Every value reaches SQL as a
 * bound parameter; the only identifiers written into SQL are constants of this
 * file or a role name checked against ROLE_NAME.
 *
 * Contract:
 * - `new ApiQueries(store)`; every method returns plain values, undefined (or
 *   an empty list) when nothing matches, and raises StoreError (errors.ts)
 *   with a closed code when the database fails.
 * - Result pages are ordered by domain (the primary key order within a scan)
 *   and continue strictly after `after`: rows written while a client pages
 *   never make a row already seen appear again or an existing row be skipped.
 * - `streamResults` yields the whole filtered set in that order, `batch` rows
 *   at a time (bounded memory whatever the set's size); it stops before the
 *   next batch once its AbortSignal aborts.
 * - Verdicts come from the view verdict_rows and their stored blobs (codec.ts);
 *   explanations are rendered when read. Stats read the views of
 *   migrations/0006_survey_store.sql (the same views a Grafana PostgreSQL data
 *   source reads).
 * - Tokens: only the SHA-256 (hex) of a token is stored; `findToken` returns
 *   the row by id whether revoked or not (the caller decides).
 * - `setupReaderRole(role)` (PostgreSQL only): creates the NOLOGIN role when
 *   missing and grants it SELECT on every present and future table and view
 *   of schema public; idempotent. Raises StoreError "invalid-input" for a role
 *   name outside ROLE_NAME, "query-failed" when the connection lacks the rights.
 */
import {
  type DaneState,
  type DomainFacts,
  type MailPolicyColumns,
  mailPolicyColumns,
  type ProbeFacts,
  type Problem,
  type VerdictRecord,
} from "@danesweep/dane";
import { factsFrom, verdictFrom } from "./codec.ts";
import { StoreError, toStoreError } from "./errors.ts";
import type { TokenScope } from "./schema.ts";
import { type SQL, sql } from "./sql.ts";
import { recordFrom, type Store } from "./store.ts";
import { iso } from "./time.ts";

export interface ResultFilters {
  action?: string;
  security?: string;
  reason?: string;
  dane?: string;
  tld?: string;
  /** The primary MX host, exactly. */
  mx?: string;
  /** The registrable domain of the primary MX host (danesweep_provider). */
  provider?: string;
}

/** A row of a scan's results: the verdict's columns, then the MTA-STS / TLS-RPT ones (libs/dane mailPolicyColumns). */
export interface ResultRow extends MailPolicyColumns {
  domain: string;
  tld: string;
  action: string;
  security: string | null;
  reason: string;
  dane: string;
  mxHost: string | null;
  deliveredHost: string | null;
  judgedAt: string;
  explanation: string;
  /** The verdict's risks (libs/dane rules 37-40); empty for engines before 2.1. */
  risks: string[];
}

export interface LatestVerdict {
  scanId: string;
  scanStartedAt: string;
  record: VerdictRecord;
  facts: DomainFacts | null;
  probes: ProbeFacts[];
}

export interface VerdictHistoryRow {
  scanId: string;
  scanStartedAt: string;
  judgedAt: string;
  action: string;
  security: string | null;
  reason: string;
  dane: string;
  /** The engine version and policy profile that judged it. */
  engine: { version: string; profile: string };
}

export const ADOPTION_GROUPINGS = ["tld", "provider"] as const;
export type AdoptionGrouping = (typeof ADOPTION_GROUPINGS)[number];

export interface AdoptionRow {
  scanId: string;
  scanStartedAt: string;
  scanState: string;
  /** The TLD or provider; null without grouping. */
  group: string | null;
  dane: string;
  action: string;
  security: string | null;
  domains: number;
}

/** Per scan: DANE domains (state valid or partial) and how many are at risk (libs/dane rules 37-40). */
export interface RiskRow {
  scanId: string;
  scanStartedAt: string;
  scanState: string;
  daneDomains: number;
  atRisk: number;
  rolloverAtRisk: number;
  /** Domains per risk code. */
  byRisk: Record<string, number>;
}

export interface ProviderRow {
  provider: string;
  domains: number;
  mxHosts: number;
  dane: Record<string, number>;
}

export interface BrokenRow {
  domain: string;
  tld: string;
  mxHost: string | null;
  provider: string | null;
  action: string;
  reason: string;
  dane: DaneState;
  /** libs/dane PROBLEMS, as stored with the verdict. */
  problems: Problem[];
  record: VerdictRecord;
  firstBroken: { scanId: string; scanStartedAt: string };
}

export interface ScanListRow {
  id: string;
  state: string;
  parameters: unknown;
  startedAt: string;
  finishedAt: string | null;
}

export interface TokenRow {
  id: string;
  name: string;
  sha256: string;
  scopes: TokenScope[];
  createdAt: string;
  revokedAt: string | null;
}

/** Role names setupReaderRole accepts (an SQL identifier that needs no quoting). */
export const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
export const READER_ROLE = "danesweep_reader";

function isoOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : iso(v);
}

/**
 * A scan's partition key as a subquery: a filter on `scan_seq = (select ...)`
 * is pruned to the scan's own partition when the statement runs, where one on
 * `scan_id` (a column of the joined scans table) reads every scan's partition.
 */
function seqOf(scanId: string): SQL {
  return sql`(select seq from scans where id = ${scanId})`;
}

function filterSql(f: ResultFilters): SQL[] {
  const out: SQL[] = [];
  if (f.action !== undefined) out.push(sql`r.action = ${f.action}`);
  if (f.security !== undefined) out.push(sql`r.security = ${f.security}`);
  if (f.reason !== undefined) out.push(sql`r.reason = ${f.reason}`);
  if (f.dane !== undefined) out.push(sql`r.dane_state = ${f.dane}`);
  if (f.tld !== undefined) out.push(sql`r.tld = ${f.tld}`);
  if (f.mx !== undefined) out.push(sql`r.mx_host = ${f.mx}`);
  if (f.provider !== undefined) out.push(sql`r.provider = ${f.provider}`);
  return out;
}

/** The record of a row that carries domain, vbody and judged_at. */
function rowRecord(x: Raw): VerdictRecord {
  return recordFrom(verdictFrom(x.vbody as Buffer, x.domain as string), iso(x.judged_at));
}

type Raw = Record<string, unknown>;

export class ApiQueries {
  readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  async #rows<T = Raw>(what: string, query: SQL): Promise<T[]> {
    try {
      const r = (await this.store.db.execute(query)) as unknown as { rows: T[] };
      return r.rows;
    } catch (e) {
      throw toStoreError(e, what);
    }
  }

  /** Resolves when the database answers a trivial query. */
  async ping(): Promise<void> {
    await this.#rows("ping", sql`select 1 as one`);
  }

  /** The most recently started finished scan, else the most recently started scan. */
  async defaultScanId(): Promise<string | undefined> {
    const r = await this.#rows<{ id: string }>(
      "defaultScanId",
      sql`select id from scans order by (state = 'finished') desc, started_at desc, id desc limit 1`,
    );
    return r[0]?.id;
  }

  async scanExists(id: string): Promise<boolean> {
    const r = await this.#rows("scanExists", sql`select 1 as one from scans where id = ${id}`);
    return r.length > 0;
  }

  /** Scans, most recently started first, strictly after the cursor (started_at, id). */
  async listScans(opts: {
    limit: number;
    after?: { startedAt: string; id: string };
  }): Promise<ScanListRow[]> {
    const a = opts.after;
    const r = await this.#rows<Raw>(
      "listScans",
      sql`select id, state, parameters, started_at, finished_at from scans
          ${a ? sql`where (started_at, id) < (${a.startedAt}::timestamptz, ${a.id})` : sql``}
          order by started_at desc, id desc limit ${opts.limit}`,
    );
    return r.map((x) => ({
      id: x.id as string,
      state: x.state as string,
      parameters: x.parameters,
      startedAt: iso(x.started_at),
      finishedAt: isoOrNull(x.finished_at),
    }));
  }

  /**
   * The verdict of the most recently started scan that judged the domain, with
   * its facts and the probe facts it cites (chains restored from certificates,
   * base64, ordered by ip, port, sni). Raises StoreError "integrity" when a
   * cited certificate is missing.
   */
  async latestVerdict(domain: string): Promise<LatestVerdict | undefined> {
    const r = await this.#rows<Raw>(
      "latestVerdict",
      sql`select r.domain, r.scan_id, r.scan_started_at, r.judged_at, r.collected_at, f.body as fbody, v.body as vbody
          from verdict_rows r
          join fact_blobs f on f.hash = r.facts_hash join verdict_blobs v on v.hash = r.verdict_hash
          where r.domain = ${domain}
          order by r.scan_started_at desc, r.scan_seq desc limit 1`,
    );
    const x = r[0];
    if (!x) return undefined;
    const record = rowRecord(x);
    const facts = factsFrom(x.fbody as Buffer, iso(x.collected_at));
    // The probes the verdict cites, and its MTA-STS policy fetch (the policy as served).
    const fetch = record.mtaSts?.fetch;
    const fetched = fetch
      ? await this.store.getProbes(x.scan_id as string, [{ ip: fetch.ip, port: fetch.port, sni: fetch.sni }])
      : [];
    const probes = [...(await this.store.probesOf(x.scan_id as string, record)), ...fetched].sort((a, b) =>
      a.ip !== b.ip
        ? a.ip < b.ip
          ? -1
          : 1
        : a.port !== b.port
          ? a.port - b.port
          : a.sni < b.sni
            ? -1
            : a.sni > b.sni
              ? 1
              : 0,
    );
    return { scanId: x.scan_id as string, scanStartedAt: iso(x.scan_started_at), record, facts, probes };
  }

  /**
   * The same as the JSON text GET /v1/domains/{d} answers:
   * `{ domain, scanId, scanStartedAt, verdict, facts, probes }`.
   */
  async latestVerdictJson(domain: string): Promise<{ scanId: string; json: string } | undefined> {
    const l = await this.latestVerdict(domain);
    if (!l) return undefined;
    return {
      scanId: l.scanId,
      json: JSON.stringify({
        domain,
        scanId: l.scanId,
        scanStartedAt: l.scanStartedAt,
        verdict: l.record,
        facts: l.facts,
        probes: l.probes,
      }),
    };
  }

  /** Every verdict of the domain, oldest scan first (at most `limit`, the most recent ones). */
  async verdictHistory(domain: string, limit = 1000): Promise<VerdictHistoryRow[]> {
    const r = await this.#rows<Raw>(
      "verdictHistory",
      sql`select * from (
            select r.scan_id, r.scan_started_at as started_at, r.judged_at, r.action, r.security, r.reason,
                   r.dane_state, r.engine, r.profile, r.scan_seq
            from verdict_rows r
            where r.domain = ${domain}
            order by r.scan_started_at desc, r.scan_seq desc limit ${limit}) h
          order by started_at asc, scan_seq asc`,
    );
    return r.map((x) => ({
      scanId: x.scan_id as string,
      scanStartedAt: iso(x.started_at),
      judgedAt: iso(x.judged_at),
      action: x.action as string,
      security: (x.security ?? null) as string | null,
      reason: x.reason as string,
      dane: x.dane_state as string,
      engine: { version: x.engine as string, profile: x.profile as string },
    }));
  }

  /** One page of a scan's judged domains, by domain, strictly after `after`. */
  async resultsPage(
    scanId: string,
    filters: ResultFilters,
    opts: { after?: string; limit: number },
  ): Promise<ResultRow[]> {
    const where = [sql`r.scan_seq = ${seqOf(scanId)}`, ...filterSql(filters)];
    if (opts.after !== undefined) where.push(sql`r.domain > ${opts.after}`);
    const r = await this.#rows<Raw>(
      "resultsPage",
      sql`select r.domain, r.tld, r.action, r.security, r.reason, r.dane_state, r.mx_host,
                 r.delivered_host, r.judged_at, v.body as vbody
          from verdict_rows r join verdict_blobs v on v.hash = r.verdict_hash
          where ${sql.join(where, sql` and `)}
          order by r.domain limit ${opts.limit}`,
    );
    return r.map((x) => {
      const record = rowRecord(x);
      return {
        domain: x.domain as string,
        tld: x.tld as string,
        action: x.action as string,
        security: (x.security ?? null) as string | null,
        reason: x.reason as string,
        dane: x.dane_state as string,
        mxHost: (x.mx_host ?? null) as string | null,
        deliveredHost: (x.delivered_host ?? null) as string | null,
        judgedAt: iso(x.judged_at),
        explanation: record.explanation,
        risks: record.risks ?? [],
        ...mailPolicyColumns(record),
      };
    });
  }

  /**
   * The whole filtered set, in pages of `batch` rows (keyset), in domain order.
   * Once `signal` aborts, no further page is asked for and no further row is
   * yielded (a page already asked for is still read).
   */
  async *streamResults(
    scanId: string,
    filters: ResultFilters,
    batch = 2000,
    after?: string,
    signal?: AbortSignal,
  ): AsyncGenerator<ResultRow> {
    let cursor = after;
    for (;;) {
      if (signal?.aborted) return;
      const page = await this.resultsPage(
        scanId,
        filters,
        cursor === undefined ? { limit: batch } : { after: cursor, limit: batch },
      );
      for (const row of page) {
        if (signal?.aborted) return;
        yield row;
      }
      if (page.length < batch) return;
      cursor = page[page.length - 1]?.domain;
    }
  }

  /**
   * Counts per scan (started in [from, to]), per group when grouped, per DANE
   * state x action x security. With a grouping, only the `top` groups with
   * the most domains over the range (or the one group named) are returned.
   */
  async adoption(opts: {
    from?: string;
    to?: string;
    by?: AdoptionGrouping;
    group?: string;
    top: number;
  }): Promise<AdoptionRow[]> {
    const range: SQL[] = [];
    if (opts.from !== undefined) range.push(sql`scan_started_at >= ${opts.from}::timestamptz`);
    if (opts.to !== undefined) range.push(sql`scan_started_at <= ${opts.to}::timestamptz`);
    const where = (extra: SQL[]) => {
      const all = [...range, ...extra];
      return all.length ? sql`where ${sql.join(all, sql` and `)}` : sql``;
    };
    let query: SQL;
    if (opts.by === undefined) {
      query = sql`select scan_id, scan_started_at, scan_state, null as grp, dane_state, action, security, domains
                  from adoption_by_scan ${where([])}
                  order by scan_started_at asc, scan_id asc, dane_state, action, security`;
    } else {
      // One pass over the rows: the grouped counts are materialised (so that no filter on the
      // computed provider is pushed down to every row), then the top groups picked from them.
      const view = opts.by === "tld" ? sql`adoption_by_tld` : sql`adoption_by_provider`;
      const col = opts.by === "tld" ? sql`tld` : sql`provider`;
      const inner = opts.by === "tld" && opts.group !== undefined ? [sql`tld = ${opts.group}`] : [];
      const pick =
        opts.group !== undefined
          ? sql`select ${opts.group}::text as grp`
          : sql`select grp from g where grp is not null group by grp order by sum(domains) desc, grp asc limit ${opts.top}`;
      query = sql`with g as materialized (
                    select scan_id, scan_started_at, scan_state, ${col} as grp, dane_state, action, security, domains
                    from ${view} ${where(inner)}),
                  top as (${pick})
                  select g.* from g join top on top.grp = g.grp
                  order by scan_started_at asc, scan_id asc, grp asc, dane_state, action, security`;
    }
    const r = await this.#rows<Raw>("adoption", query);
    return r.map((x) => ({
      scanId: x.scan_id as string,
      scanStartedAt: iso(x.scan_started_at),
      scanState: x.scan_state as string,
      group: (x.grp ?? null) as string | null,
      dane: x.dane_state as string,
      action: x.action as string,
      security: (x.security ?? null) as string | null,
      domains: Number(x.domains),
    }));
  }

  /**
   * The share of DANE domains at risk, per scan started in [from, to], oldest
   * first (views risk_by_scan and risk_counts_by_scan of migration 0009).
   */
  async risk(opts: { from?: string; to?: string }): Promise<RiskRow[]> {
    const range: SQL[] = [];
    if (opts.from !== undefined) range.push(sql`scan_started_at >= ${opts.from}::timestamptz`);
    if (opts.to !== undefined) range.push(sql`scan_started_at <= ${opts.to}::timestamptz`);
    const where = range.length ? sql`where ${sql.join(range, sql` and `)}` : sql``;
    const [totals, counts] = await Promise.all([
      this.#rows<Raw>(
        "risk",
        sql`select scan_id, scan_started_at, scan_state, dane_domains, at_risk, rollover_at_risk
            from risk_by_scan ${where} order by scan_started_at asc, scan_id asc`,
      ),
      this.#rows<Raw>("risk", sql`select scan_id, risk, domains from risk_counts_by_scan ${where}`),
    ]);
    const byScan = new Map<string, Record<string, number>>();
    for (const c of counts) {
      const m = byScan.get(c.scan_id as string) ?? {};
      m[c.risk as string] = Number(c.domains);
      byScan.set(c.scan_id as string, m);
    }
    return totals.map((t) => ({
      scanId: t.scan_id as string,
      scanStartedAt: iso(t.scan_started_at),
      scanState: t.scan_state as string,
      daneDomains: Number(t.dane_domains),
      atRisk: Number(t.at_risk),
      rolloverAtRisk: Number(t.rollover_at_risk),
      byRisk: byScan.get(t.scan_id as string) ?? {},
    }));
  }

  /** MX providers of a scan ranked by the domains they serve (then by name), with DANE states. */
  async providers(scanId: string, limit: number): Promise<ProviderRow[]> {
    const r = await this.#rows<Raw>(
      "providers",
      sql`with c as (select provider, mx_host, dane_state, count(*)::bigint as domains from verdict_rows
                     where scan_seq = ${seqOf(scanId)} and mx_host is not null
                     group by provider, mx_host, dane_state),
               t as (select provider, sum(domains)::bigint as total, count(distinct mx_host) as hosts
                     from c group by provider order by total desc, provider asc limit ${limit})
          select t.provider, t.total, t.hosts, c.dane_state, sum(c.domains)::bigint as n
          from t join c on c.provider = t.provider
          group by t.provider, t.total, t.hosts, c.dane_state
          order by t.total desc, t.provider asc, c.dane_state asc`,
    );
    const out: ProviderRow[] = [];
    for (const x of r) {
      let last = out[out.length - 1];
      if (!last || last.provider !== x.provider) {
        last = {
          provider: x.provider as string,
          domains: Number(x.total),
          mxHosts: Number(x.hosts),
          dane: {},
        };
        out.push(last);
      }
      last.dane[x.dane_state as string] = Number(x.n);
    }
    return out;
  }

  /** Broken domains of a scan by domain, strictly after `after`, with the first scan each was seen broken in. */
  async broken(scanId: string, opts: { tld?: string; after?: string; limit: number }): Promise<BrokenRow[]> {
    const where = [sql`b.scan_seq = ${seqOf(scanId)}`];
    if (opts.tld !== undefined) where.push(sql`b.tld = ${opts.tld}`);
    if (opts.after !== undefined) where.push(sql`b.domain > ${opts.after}`);
    const r = await this.#rows<Raw>(
      "broken",
      sql`select b.domain, b.tld, b.mx_host, b.provider, b.action, b.reason, b.dane_state, b.problems,
                 b.judged_at, vb.body as vbody,
                 first.scan_id as first_scan, first.scan_started_at as first_started
          from broken_domains b
          join results r on r.scan = b.scan_seq and r.domain = b.domain
          join verdict_blobs vb on vb.hash = r.verdict
          cross join lateral (
            select b2.scan_id, b2.scan_started_at from broken_domains b2 where b2.domain = b.domain
            order by b2.scan_started_at asc, b2.scan_id asc limit 1) first
          where ${sql.join(where, sql` and `)}
          order by b.domain limit ${opts.limit}`,
    );
    return r.map((x) => ({
      domain: x.domain as string,
      tld: x.tld as string,
      mxHost: (x.mx_host ?? null) as string | null,
      provider: (x.provider ?? null) as string | null,
      action: x.action as string,
      reason: x.reason as string,
      dane: x.dane_state as DaneState,
      problems: x.problems as Problem[],
      record: rowRecord(x),
      firstBroken: { scanId: x.first_scan as string, scanStartedAt: iso(x.first_started) },
    }));
  }

  // ---------------------------------------------------------------- tokens

  async insertToken(t: {
    id: string;
    name: string;
    sha256: string;
    scopes: TokenScope[];
    createdAt: string;
  }): Promise<void> {
    await this.#rows(
      "insertToken",
      sql`insert into api_tokens (id, name, sha256, scopes, created_at)
          values (${t.id}, ${t.name}, ${t.sha256}, ${sql.param(t.scopes)}::text[], ${t.createdAt}::timestamptz)`,
    );
  }

  async findToken(id: string): Promise<TokenRow | undefined> {
    const r = await this.#rows<Raw>("findToken", sql`select * from api_tokens where id = ${id}`);
    return r[0] ? toToken(r[0]) : undefined;
  }

  async listTokens(): Promise<TokenRow[]> {
    const r = await this.#rows<Raw>("listTokens", sql`select * from api_tokens order by created_at, id`);
    return r.map(toToken);
  }

  /** Revokes the token with this id, or every unrevoked token with this name; returns the ids revoked now. */
  async revokeToken(idOrName: string, at: string): Promise<string[]> {
    const r = await this.#rows<{ id: string }>(
      "revokeToken",
      sql`update api_tokens set revoked_at = ${at}::timestamptz
          where (id = ${idOrName} or name = ${idOrName}) and revoked_at is null returning id`,
    );
    return r.map((x) => x.id);
  }

  // ---------------------------------------------------------------- roles

  async setupReaderRole(role: string = READER_ROLE): Promise<void> {
    if (!ROLE_NAME.test(role)) throw new StoreError("invalid-input", `role name ${JSON.stringify(role)}`);
    if (this.store.driver !== "postgres") return;
    const id = sql.identifier(role);
    await this.#rows(
      "setupReaderRole create",
      sql`do $$ begin create role ${id} nologin; exception when duplicate_object or unique_violation then null; end $$`,
    );
    await this.#rows("setupReaderRole usage", sql`grant usage on schema public to ${id}`);
    await this.#rows("setupReaderRole select", sql`grant select on all tables in schema public to ${id}`);
    await this.#rows(
      "setupReaderRole default",
      sql`alter default privileges in schema public grant select on tables to ${id}`,
    );
  }
}

function toToken(x: Raw): TokenRow {
  return {
    id: x.id as string,
    name: x.name as string,
    sha256: x.sha256 as string,
    scopes: x.scopes as TokenScope[],
    createdAt: iso(x.created_at),
    revokedAt: isoOrNull(x.revoked_at),
  };
}
