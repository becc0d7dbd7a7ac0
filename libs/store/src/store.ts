/**
 * The store: scans, domain facts and verdicts, probes and certificates, on
 * PGlite or PostgreSQL (same SQL).
 *
 * `openStore(config)` opens the database, applies pending migrations and
 * returns a Store. Contract of the repositories:
 * - Every write is an idempotent upsert: the same write twice leaves the same
 *   rows (redelivery changes nothing). Batch writes use multi-row statements
 *   (chunked under the bind-parameter limit) inside one transaction, so a batch
 *   is stored entirely or not at all.
 * - Facts, probes and verdicts are validated against the bus schemas before
 *   writing: a value that fails raises StoreError "invalid-input" and nothing
 *   of the batch is written.
 * - A domain's progress only moves forward (seeded -> resolved -> judged),
 *   whatever order the writes arrive in.
 * - Probes are stored once per (scan, ip, port, sni); their certificates once
 *   per SHA-256 across all scans; getProbe restores the chain as sent.
 * - upsertVerdicts links each domain to the probes its verdict cites; those
 *   probes must be stored first (else StoreError "missing-reference",
 *   retryable), and so must the scan for every write.
 * - Lookups return undefined when nothing is stored; database failures raise
 *   StoreError (errors.ts) with a closed code.
 * Times are taken as arguments (ISO 8601) and returned as ISO 8601 UTC.
 */
import { createHash } from "node:crypto";
import {
  domainFactsValidator,
  firstError,
  probeFactsValidator,
  verdictRecordValidator,
} from "@danesweep/bus";
import {
  ACTIONS,
  DANE_STATES,
  DELIVERY_SECURITIES,
  type DomainFacts,
  type ProbeFacts,
  type ProbeKey,
  probeKeyString,
  REASONS,
  type VerdictRecord,
} from "@danesweep/dane";
import { and, asc, desc, eq, inArray, isNotNull, ne, type SQL, sql } from "drizzle-orm";
import { type Db, type DbHandle, openDatabase, type StoreConfig } from "./db.ts";
import { StoreError, toStoreError } from "./errors.ts";
import {
  certificates,
  DOMAIN_STATES,
  type DomainState,
  domainProbes,
  domainResults,
  probes,
  probeWaits,
  type ScanState,
  scanDomains,
  scans,
} from "./schema.ts";

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
  /** Domains seeded or written for the scan. */
  domains: number;
  byState: Record<DomainState, number>;
  byAction: Record<string, number>;
  bySecurity: Record<string, number>;
  byReason: Record<string, number>;
  byDane: Record<string, number>;
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
  state: Exclude<DomainState, "judged">;
}

export interface SeedItem {
  domain: string;
  /** Line in the input list (0 when unknown). */
  line?: number;
}

/** Chunk size keeping each statement under PostgreSQL's 65535 bind parameters. */
const MAX_PARAMS = 30_000;

const validators = {
  facts: domainFactsValidator,
  probe: probeFactsValidator,
  verdict: verdictRecordValidator,
};

function validate(validator: Parameters<typeof firstError>[0], what: string, items: unknown[]): void {
  for (const [i, item] of items.entries()) {
    const err = firstError(validator, item);
    if (err !== undefined) throw new StoreError("invalid-input", `${what}[${i}]: ${err}`);
  }
}

function chunks<T>(items: T[], columns: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_PARAMS / columns));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The last label of a normalised domain name. */
export function tldOf(domain: string): string {
  const i = domain.lastIndexOf(".");
  return i < 0 ? domain : domain.slice(i + 1);
}

function iso(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  return new Date(String(v)).toISOString();
}

function sha256Hex(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

/** Keeps the last item per key (a multi-row upsert may not touch a row twice). */
function lastByKey<T>(items: T[], key: (t: T) => string): T[] {
  const m = new Map<string, T>();
  for (const it of items) m.set(key(it), it);
  return [...m.values()];
}

/** SQL for "the later of the stored and the incoming domain state". */
const laterState = sql.raw(
  `case when array_position(array[${DOMAIN_STATES.map((s) => `'${s}'`).join(",")}]::text[], scan_domains.state) >= array_position(array[${DOMAIN_STATES.map((s) => `'${s}'`).join(",")}]::text[], excluded.state) then scan_domains.state else excluded.state end`,
);

function emptyCounts(): ScanCounts {
  return {
    domains: 0,
    byState: { seeded: 0, resolved: 0, judged: 0 },
    byAction: {},
    bySecurity: {},
    byReason: {},
    byDane: {},
    probes: 0,
    probesByStatus: {},
  };
}

async function rows<T>(db: Db, query: SQL): Promise<T[]> {
  const r = (await db.execute(query)) as unknown as { rows: T[] };
  return r.rows;
}

export class Store {
  readonly driver: "pglite" | "postgres";
  readonly db: Db;
  readonly #handle: DbHandle;

  constructor(handle: DbHandle) {
    this.#handle = handle;
    this.driver = handle.driver;
    this.db = handle.db;
  }

  /** Applies pending migrations (openStore already did; idempotent). */
  migrate(): Promise<void> {
    return this.#handle.migrate();
  }

  close(): Promise<void> {
    return this.#handle.close();
  }

  async #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toStoreError(e, what);
    }
  }

  // ---------------------------------------------------------------- scans

  /** Creates the scan in state "running"; a second call with the same id changes nothing. */
  async createScan(input: { id: string; parameters: unknown; startedAt: string }): Promise<Scan> {
    await this.#run("createScan", () =>
      this.db
        .insert(scans)
        .values({
          id: input.id,
          parameters: input.parameters ?? {},
          state: "running",
          startedAt: input.startedAt,
        })
        .onConflictDoNothing(),
    );
    const s = await this.getScanRow(input.id);
    if (!s) throw new StoreError("integrity", `scan ${input.id} not readable after insert`);
    return s;
  }

  /** Sets the final state and stores the counts snapshot. Undefined when the scan is unknown. */
  async finishScan(
    id: string,
    at: string,
    state: Extract<ScanState, "finished" | "failed"> = "finished",
  ): Promise<Scan | undefined> {
    const counts = await this.scanCounts(id);
    await this.#run("finishScan", () =>
      this.db.update(scans).set({ state, finishedAt: at, counts }).where(eq(scans.id, id)),
    );
    return this.getScanRow(id);
  }

  /** Marks a running scan interrupted (process stopped before the end). */
  async markInterrupted(id: string, at: string): Promise<Scan | undefined> {
    const counts = await this.scanCounts(id);
    await this.#run("markInterrupted", () =>
      this.db
        .update(scans)
        .set({ state: "interrupted", finishedAt: at, counts })
        .where(and(eq(scans.id, id), eq(scans.state, "running"))),
    );
    return this.getScanRow(id);
  }

  /** Puts an interrupted or failed scan back to running (resume). */
  async resumeScan(id: string): Promise<Scan | undefined> {
    await this.#run("resumeScan", () =>
      this.db
        .update(scans)
        .set({ state: "running", finishedAt: null })
        .where(and(eq(scans.id, id), inArray(scans.state, ["interrupted", "failed"]))),
    );
    return this.getScanRow(id);
  }

  /** Scans, most recently started first. */
  async listScans(opts: { limit?: number; offset?: number } = {}): Promise<Scan[]> {
    const r = await this.#run("listScans", () =>
      this.db
        .select()
        .from(scans)
        .orderBy(desc(scans.startedAt), desc(scans.id))
        .limit(opts.limit ?? 50)
        .offset(opts.offset ?? 0),
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
    const r = await this.#run("getScan", () => this.db.select().from(scans).where(eq(scans.id, id)));
    return r[0] ? toScan(r[0]) : undefined;
  }

  /** Counts by domain state, verdict action / security / reason / DANE state, and probe status. */
  async scanCounts(id: string): Promise<ScanCounts> {
    return this.#run("scanCounts", async () => {
      const c = emptyCounts();
      const states = await rows<{ state: DomainState; n: string | number }>(
        this.db,
        sql`select state, count(*) as n from scan_domains where scan_id = ${id} group by state`,
      );
      for (const s of states) {
        c.byState[s.state] = Number(s.n);
        c.domains += Number(s.n);
      }
      const verdicts = await rows<{
        action: string | null;
        security: string | null;
        reason: string | null;
        dane_state: string | null;
        g: number;
        n: string | number;
      }>(
        this.db,
        sql`select action, security, reason, dane_state,
                   grouping(action, security, reason, dane_state) as g, count(*) as n
            from domain_results
            where scan_id = ${id} and verdict is not null
            group by grouping sets ((action), (security), (reason), (dane_state))`,
      );
      // grouping() bits, most significant first: action, security, reason, dane_state (1 = not grouped by it).
      for (const v of verdicts) {
        const n = Number(v.n);
        const g = Number(v.g);
        if (g === 0b0111 && v.action !== null) c.byAction[v.action] = n;
        else if (g === 0b1011 && v.security !== null) c.bySecurity[v.security] = n;
        else if (g === 0b1101 && v.reason !== null) c.byReason[v.reason] = n;
        else if (g === 0b1110 && v.dane_state !== null) c.byDane[v.dane_state] = n;
      }
      const ps = await rows<{ status: string; n: string | number }>(
        this.db,
        sql`select status, count(*) as n from probes where scan_id = ${id} group by status`,
      );
      for (const p of ps) {
        c.probesByStatus[p.status] = Number(p.n);
        c.probes += Number(p.n);
      }
      return c;
    });
  }

  // ---------------------------------------------------------------- domains

  /**
   * Records the scan's input (batch). Domains already seeded keep their row.
   * Returns the domains this call added (the others were already seeded):
   * the seeder publishes only those, so duplicates are scanned once.
   */
  async seedDomains(scanId: string, items: SeedItem[]): Promise<string[]> {
    if (items.length === 0) return [];
    const values = lastByKey(items, (i) => i.domain).map((i) => ({
      scanId,
      domain: i.domain,
      line: i.line ?? 0,
      state: "seeded" as const,
    }));
    return this.#run("seedDomains", () =>
      this.#handle.transaction(async (tx) => {
        const added: string[] = [];
        for (const chunk of chunks(values, 4)) {
          const r = await tx
            .insert(scanDomains)
            .values(chunk)
            .onConflictDoNothing()
            .returning({ domain: scanDomains.domain });
          for (const x of r) added.push(x.domain);
        }
        return added;
      }),
    );
  }

  /** Stores DNS facts per domain (batch) and marks the domains resolved. */
  async upsertFacts(scanId: string, facts: DomainFacts[]): Promise<void> {
    if (facts.length === 0) return;
    validate(validators.facts, "facts", facts);
    const unique = lastByKey(facts, (f) => f.domain);
    await this.#run("upsertFacts", () =>
      this.#handle.transaction(async (tx) => {
        for (const chunk of chunks(unique, 5)) {
          await tx
            .insert(domainResults)
            .values(
              chunk.map((f) => ({
                scanId,
                domain: f.domain,
                tld: tldOf(f.domain),
                facts: f,
                collectedAt: f.collectedAt,
              })),
            )
            .onConflictDoUpdate({
              target: [domainResults.scanId, domainResults.domain],
              set: { facts: sql`excluded.facts`, collectedAt: sql`excluded.collected_at` },
            });
        }
        await upsertDomainStates(
          tx as unknown as Db,
          scanId,
          unique.map((f) => f.domain),
          "resolved",
        );
      }),
    );
  }

  /** The stored DNS facts of a domain in a scan. */
  async getFacts(scanId: string, domain: string): Promise<DomainFacts | undefined> {
    const r = await this.#run("getFacts", () =>
      this.db
        .select({ facts: domainResults.facts })
        .from(domainResults)
        .where(and(eq(domainResults.scanId, scanId), eq(domainResults.domain, domain))),
    );
    return (r[0]?.facts ?? undefined) as DomainFacts | undefined;
  }

  /** Stores verdict records (batch), links the probes they cite and marks the domains judged. */
  async upsertVerdicts(scanId: string, records: VerdictRecord[]): Promise<void> {
    if (records.length === 0) return;
    validate(validators.verdict, "verdict", records);
    const unique = lastByKey(records, (r) => r.domain);
    const links = lastByKey(
      unique.flatMap((r) =>
        r.hosts.flatMap((h) =>
          h.addresses.flatMap((a) =>
            a.probe
              ? [{ scanId, domain: r.domain, ip: a.probe.ip, port: a.probe.port, sni: a.probe.sni }]
              : [],
          ),
        ),
      ),
      (l) => `${l.domain}|${probeKeyString(l)}`,
    );
    await this.#run("upsertVerdicts", () =>
      this.#handle.transaction(async (tx) => {
        for (const chunk of chunks(unique, 12)) {
          await tx
            .insert(domainResults)
            .values(chunk.map((r) => verdictRow(scanId, r)))
            .onConflictDoUpdate({
              target: [domainResults.scanId, domainResults.domain],
              set: {
                verdict: sql`excluded.verdict`,
                action: sql`excluded.action`,
                security: sql`excluded.security`,
                reason: sql`excluded.reason`,
                daneState: sql`excluded.dane_state`,
                mxHost: sql`excluded.mx_host`,
                deliveredHost: sql`excluded.delivered_host`,
                judgedAt: sql`excluded.judged_at`,
              },
            });
        }
        // First-time verdicts get the next positions, in one statement, without gaps.
        await tx.execute(
          sql`update domain_results set judged_seq = nextval('judged_seq')
              where scan_id = ${scanId} and judged_seq is null and verdict is not null
              and domain = any(${sql.param(unique.map((r) => r.domain))}::text[])`,
        );
        for (const chunk of chunks(links, 5))
          await tx.insert(domainProbes).values(chunk).onConflictDoNothing();
        await upsertDomainStates(
          tx as unknown as Db,
          scanId,
          unique.map((r) => r.domain),
          "judged",
        );
        // A judged domain waits for nothing: the join state holds only domains
        // in flight, so readyToJudge stays cheap however large the scan.
        for (const chunk of chunks(unique, 1))
          await tx.delete(probeWaits).where(
            and(
              eq(probeWaits.scanId, scanId),
              inArray(
                probeWaits.domain,
                chunk.map((r) => r.domain),
              ),
            ),
          );
      }),
    );
  }

  /**
   * Housekeeping for the embedded database, which runs no autovacuum (PGlite
   * is PostgreSQL in one process): VACUUM ANALYZE of the tables a scan churns
   * (join state inserted then deleted, domain states and results updated), so
   * that dead rows do not pile up under the indexes the pipeline walks, and
   * the planner has statistics. A no-op on PostgreSQL, where autovacuum does
   * it. Call it every so often during a long scan (the embedded runner does).
   */
  async maintain(): Promise<void> {
    if (this.driver !== "pglite") return;
    await this.#run("maintain", async () => {
      // VACUUM's working memory comes out of WebAssembly memory, which never shrinks: keep it small.
      await this.db.execute(sql`set maintenance_work_mem = '8MB'`);
      await this.db.execute(sql`vacuum (analyze) probe_waits, probe_claims, scan_domains, domain_results`);
    });
  }

  /** Per-state domain counts of a scan (cheap: one grouped index scan), for progress. */
  async domainStateCounts(scanId: string): Promise<Record<DomainState, number> & { total: number }> {
    const r = await this.#run("domainStateCounts", () =>
      rows<{ state: DomainState; n: string | number }>(
        this.db,
        sql`select state, count(*) as n from scan_domains where scan_id = ${scanId} group by state`,
      ),
    );
    const out = { seeded: 0, resolved: 0, judged: 0, total: 0 };
    for (const x of r) {
      out[x.state] = Number(x.n);
      out.total += Number(x.n);
    }
    return out;
  }

  // ---------------------------------------------------------------- the aggregator's join state

  /**
   * Records which probes each resolved domain waits for (batch, idempotent);
   * upsertVerdicts removes a domain's waits once it is judged.
   * Written before the probe requests are published, so that whichever of
   * "facts stored" and "probe stored" happens last finds the other.
   */
  async addProbeWaits(scanId: string, waits: { domain: string; keys: ProbeKey[] }[]): Promise<void> {
    const values = lastByKey(
      waits.flatMap((w) =>
        w.keys.map((k) => ({ scanId, domain: w.domain, ip: k.ip, port: k.port, sni: k.sni })),
      ),
      (v) => `${v.domain}|${probeKeyString(v)}`,
    );
    if (values.length === 0) return;
    await this.#run("addProbeWaits", () =>
      this.#handle.transaction(async (tx) => {
        for (const chunk of chunks(values, 5))
          await tx.insert(probeWaits).values(chunk).onConflictDoNothing();
      }),
    );
  }

  /**
   * Claims the probe of `key` for `owner` before dialing it. True when this
   * owner now holds the claim: new, already its own, or taken over from a
   * claim made before `staleBefore` (its owner died mid-probe). False when
   * another live owner holds it: wait for that owner's stored probe.
   */
  async claimProbe(
    scanId: string,
    key: ProbeKey,
    owner: string,
    at: string,
    staleBefore: string,
  ): Promise<boolean> {
    const r = await this.#run("claimProbe", () =>
      rows<{ owner: string }>(
        this.db,
        sql`insert into probe_claims (scan_id, ip, port, sni, owner, claimed_at)
            values (${scanId}, ${key.ip}, ${key.port}, ${key.sni}, ${owner}, ${at})
            on conflict (scan_id, ip, port, sni) do update set owner = excluded.owner, claimed_at = excluded.claimed_at
            where probe_claims.owner = excluded.owner or probe_claims.claimed_at < ${staleBefore}
            returning owner`,
      ),
    );
    return r.length === 1;
  }

  /** The probe keys a domain waits for. */
  async probeWaitsOf(scanId: string, domain: string): Promise<ProbeKey[]> {
    return this.#run("probeWaitsOf", () =>
      this.db
        .select({ ip: probeWaits.ip, port: probeWaits.port, sni: probeWaits.sni })
        .from(probeWaits)
        .where(and(eq(probeWaits.scanId, scanId), eq(probeWaits.domain, domain))),
    );
  }

  /**
   * Domains of the scan, among `domains` or among those waiting for `probe`,
   * that have facts stored, are not judged yet, and whose every awaited probe
   * is stored: the ones the aggregator can judge now.
   */
  async readyToJudge(
    scanId: string,
    among: { domains: string[] } | { probe: ProbeKey } | { probes: ProbeKey[] },
  ): Promise<string[]> {
    const keys = "probe" in among ? [among.probe] : "probes" in among ? among.probes : [];
    if ("domains" in among ? among.domains.length === 0 : keys.length === 0) return [];
    const candidates =
      "domains" in among
        ? sql`select unnest(${sql.param(among.domains)}::text[]) as domain`
        : sql`select distinct w.domain from probe_waits w
              join unnest(${sql.param(keys.map((k) => k.ip))}::text[], ${sql.param(keys.map((k) => k.port))}::integer[],
                          ${sql.param(keys.map((k) => k.sni))}::text[]) as k(ip, port, sni)
                on w.ip = k.ip and w.port = k.port and w.sni = k.sni
              where w.scan_id = ${scanId}`;
    const r = await this.#run("readyToJudge", () =>
      rows<{ domain: string }>(
        this.db,
        sql`select c.domain from (${candidates}) c
            join scan_domains sd on sd.scan_id = ${scanId} and sd.domain = c.domain and sd.state = 'resolved'
            where not exists (
              select 1 from probe_waits w2 where w2.scan_id = ${scanId} and w2.domain = c.domain
              and not exists (select 1 from probes p where p.scan_id = w2.scan_id and p.ip = w2.ip
                              and p.port = w2.port and p.sni = w2.sni))`,
      ),
    );
    return r.map((x) => x.domain);
  }

  /** The stored DNS facts of several domains of a scan (those without facts are absent). */
  async getFactsMany(scanId: string, domains: string[]): Promise<Map<string, DomainFacts>> {
    if (domains.length === 0) return new Map();
    const r = await this.#run("getFactsMany", () =>
      this.db
        .select({ domain: domainResults.domain, facts: domainResults.facts })
        .from(domainResults)
        .where(
          and(
            eq(domainResults.scanId, scanId),
            inArray(domainResults.domain, domains),
            isNotNull(domainResults.facts),
          ),
        ),
    );
    return new Map(r.map((x) => [x.domain, x.facts as DomainFacts]));
  }

  /** The probe keys each of several domains waits for. */
  async probeWaitsOfMany(scanId: string, domains: string[]): Promise<Map<string, ProbeKey[]>> {
    const out = new Map<string, ProbeKey[]>();
    if (domains.length === 0) return out;
    const r = await this.#run("probeWaitsOfMany", () =>
      this.db
        .select({ domain: probeWaits.domain, ip: probeWaits.ip, port: probeWaits.port, sni: probeWaits.sni })
        .from(probeWaits)
        .where(and(eq(probeWaits.scanId, scanId), inArray(probeWaits.domain, domains))),
    );
    for (const x of r) {
      const key = { ip: x.ip, port: x.port, sni: x.sni };
      const l = out.get(x.domain);
      if (l) l.push(key);
      else out.set(x.domain, [key]);
    }
    return out;
  }

  /** Distinct probes the scan's resolved domains wait for, and how many of them are stored. */
  async probeProgress(scanId: string): Promise<{ wanted: number; done: number }> {
    const r = await this.#run("probeProgress", () =>
      rows<{ wanted: string | number; done: string | number }>(
        this.db,
        sql`select (select count(*) from (select distinct ip, port, sni from probe_waits where scan_id = ${scanId}) k) as wanted,
                   (select count(*) from probes where scan_id = ${scanId}) as done`,
      ),
    );
    return { wanted: Number(r[0]?.wanted ?? 0), done: Number(r[0]?.done ?? 0) };
  }

  /**
   * Verdicts of a scan in the order they were first stored, after position
   * `after` (0 for the start): how a follower (the CLI) streams a scan's
   * results, identically on the embedded default and on a deployment.
   */
  async verdictsSince(
    scanId: string,
    after: number,
    limit = 1000,
  ): Promise<{ seq: number; record: VerdictRecord }[]> {
    const r = await this.#run("verdictsSince", () =>
      this.db
        .select({ seq: domainResults.judgedSeq, record: domainResults.verdict })
        .from(domainResults)
        .where(
          and(
            eq(domainResults.scanId, scanId),
            isNotNull(domainResults.judgedSeq),
            sql`${domainResults.judgedSeq} > ${after}`,
          ),
        )
        .orderBy(asc(domainResults.judgedSeq))
        .limit(limit),
    );
    return r.map((x) => ({ seq: Number(x.seq), record: x.record as VerdictRecord }));
  }

  /** The verdicts of a scan at the given positions (those not visible are absent). */
  async verdictsAt(scanId: string, seqs: number[]): Promise<{ seq: number; record: VerdictRecord }[]> {
    if (seqs.length === 0) return [];
    const r = await this.#run("verdictsAt", () =>
      this.db
        .select({ seq: domainResults.judgedSeq, record: domainResults.verdict })
        .from(domainResults)
        .where(and(eq(domainResults.scanId, scanId), inArray(domainResults.judgedSeq, seqs)))
        .orderBy(asc(domainResults.judgedSeq)),
    );
    return r.map((x) => ({ seq: Number(x.seq), record: x.record as VerdictRecord }));
  }

  /** Domains of the scan not judged yet, in input order (keyset pagination with `after`). */
  async pendingDomains(
    scanId: string,
    opts: { limit?: number; after?: { line: number; domain: string } } = {},
  ): Promise<PendingDomain[]> {
    const after = opts.after;
    const r = await this.#run("pendingDomains", () =>
      this.db
        .select({ domain: scanDomains.domain, line: scanDomains.line, state: scanDomains.state })
        .from(scanDomains)
        .where(
          and(
            eq(scanDomains.scanId, scanId),
            ne(scanDomains.state, "judged"),
            after
              ? sql`(${scanDomains.line}, ${scanDomains.domain}) > (${after.line}, ${after.domain})`
              : undefined,
          ),
        )
        .orderBy(asc(scanDomains.line), asc(scanDomains.domain))
        .limit(opts.limit ?? 10_000),
    );
    return r as PendingDomain[];
  }

  /** Every verdict stored for a domain, most recently started scan first. */
  async domainHistory(domain: string, opts: { limit?: number } = {}): Promise<DomainHistoryEntry[]> {
    const r = await this.#run("domainHistory", () =>
      this.db
        .select({
          scanId: domainResults.scanId,
          scanStartedAt: scans.startedAt,
          judgedAt: domainResults.judgedAt,
          action: domainResults.action,
          security: domainResults.security,
          reason: domainResults.reason,
          dane: domainResults.daneState,
          record: domainResults.verdict,
        })
        .from(domainResults)
        .innerJoin(scans, eq(scans.id, domainResults.scanId))
        .where(and(eq(domainResults.domain, domain), isNotNull(domainResults.verdict)))
        .orderBy(desc(scans.startedAt), desc(scans.id))
        .limit(opts.limit ?? 100),
    );
    return r.map((x) => {
      const e: DomainHistoryEntry = {
        scanId: x.scanId,
        scanStartedAt: iso(x.scanStartedAt),
        judgedAt: iso(x.judgedAt),
        action: x.action as string,
        reason: x.reason as string,
        dane: x.dane as string,
        record: x.record as VerdictRecord,
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

  // ---------------------------------------------------------------- probes

  async upsertProbe(scanId: string, facts: ProbeFacts): Promise<void> {
    return this.upsertProbes(scanId, [facts]);
  }

  /** Stores probe facts (batch), each certificate once by SHA-256. */
  async upsertProbes(scanId: string, list: ProbeFacts[]): Promise<void> {
    if (list.length === 0) return;
    validate(validators.probe, "probe", list);
    const unique = lastByKey(list, (p) => probeKeyString(p));
    const certs = new Map<string, Buffer>();
    const rowsToWrite = unique.map((p) => {
      let stored: ProbeFacts = p;
      if (p.tls) {
        const hashes = p.tls.chain.map((b64) => {
          const der = Buffer.from(b64, "base64");
          const h = sha256Hex(der);
          certs.set(h, der);
          return h;
        });
        stored = { ...p, tls: { ...p.tls, chain: hashes } };
      }
      return {
        scanId,
        ip: p.ip,
        port: p.port,
        sni: p.sni,
        status: p.status,
        facts: stored,
        probedAt: p.startedAt,
      };
    });
    const certRows = [...certs].map(([sha256, der]) => ({ sha256, der }));
    await this.#run("upsertProbes", () =>
      this.#handle.transaction(async (tx) => {
        for (const chunk of chunks(certRows, 2))
          await tx.insert(certificates).values(chunk).onConflictDoNothing();
        for (const chunk of chunks(rowsToWrite, 7)) {
          await tx
            .insert(probes)
            .values(chunk)
            .onConflictDoUpdate({
              target: [probes.scanId, probes.ip, probes.port, probes.sni],
              set: {
                status: sql`excluded.status`,
                facts: sql`excluded.facts`,
                probedAt: sql`excluded.probed_at`,
              },
            });
        }
      }),
    );
  }

  async getProbe(scanId: string, key: ProbeKey): Promise<ProbeFacts | undefined> {
    const [p] = await this.getProbes(scanId, [key]);
    return p;
  }

  /**
   * Of the given probes, the stored ones no probe-result has announced yet
   * (probeKeyString). A prober reusing a stored probe announces it again only
   * then: the announcement may have been lost with the prober that stored it.
   */
  async unannouncedProbes(scanId: string, keys: ProbeKey[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const r = await this.#run("unannouncedProbes", () =>
      this.db
        .select({ ip: probes.ip, port: probes.port, sni: probes.sni })
        .from(probes)
        .where(
          and(
            eq(probes.scanId, scanId),
            eq(probes.announced, false),
            probeKeyIn(lastByKey(keys, probeKeyString)),
          ),
        ),
    );
    return new Set(r.map((k) => probeKeyString(k)));
  }

  /** Records that probe-results announcing these stored probes were published. */
  async markProbesAnnounced(scanId: string, keys: ProbeKey[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#run("markProbesAnnounced", () =>
      this.db
        .update(probes)
        .set({ announced: true })
        .where(
          and(
            eq(probes.scanId, scanId),
            eq(probes.announced, false),
            probeKeyIn(lastByKey(keys, probeKeyString)),
          ),
        ),
    );
  }

  /** Probe facts with their chains restored, in the order of `keys` (missing ones skipped). */
  async getProbes(scanId: string, keys: ProbeKey[]): Promise<ProbeFacts[]> {
    if (keys.length === 0) return [];
    const wanted = lastByKey(keys, probeKeyString);
    const found = await this.#run("getProbes", () =>
      this.db
        .select({ facts: probes.facts })
        .from(probes)
        .where(and(eq(probes.scanId, scanId), probeKeyIn(wanted))),
    );
    const byKey = new Map(found.map((r) => [probeKeyString(r.facts as ProbeFacts), r.facts as ProbeFacts]));
    const hashes = new Set<string>();
    for (const p of byKey.values()) for (const h of p.tls?.chain ?? []) hashes.add(h);
    const ders = new Map<string, string>();
    if (hashes.size > 0) {
      const certRows = await this.#run("getProbes certificates", () =>
        this.db
          .select()
          .from(certificates)
          .where(inArray(certificates.sha256, [...hashes])),
      );
      for (const c of certRows) ders.set(c.sha256, Buffer.from(c.der).toString("base64"));
    }
    const out: ProbeFacts[] = [];
    for (const k of keys) {
      const p = byKey.get(probeKeyString(k));
      if (!p) continue;
      if (!p.tls) {
        out.push(p);
        continue;
      }
      const chain = p.tls.chain.map((h) => {
        const der = ders.get(h);
        if (der === undefined)
          throw new StoreError("integrity", `certificate ${h} of probe ${probeKeyString(k)} missing`);
        return der;
      });
      out.push({ ...p, tls: { ...p.tls, chain } });
    }
    return out;
  }
}

async function upsertDomainStates(
  db: Db,
  scanId: string,
  domains: string[],
  state: DomainState,
): Promise<void> {
  for (const chunk of chunks(domains, 3)) {
    await db
      .insert(scanDomains)
      .values(chunk.map((domain) => ({ scanId, domain, state })))
      .onConflictDoUpdate({
        target: [scanDomains.scanId, scanDomains.domain],
        set: { state: sql`${laterState}` },
      });
  }
}

/** (ip, port, sni) of the probes table in the given keys. */
function probeKeyIn(keys: ProbeKey[]) {
  return sql`(${probes.ip}, ${probes.port}, ${probes.sni}) in (${sql.join(
    keys.map((k) => sql`(${k.ip}, ${k.port}::integer, ${k.sni})`),
    sql`, `,
  )})`;
}

function verdictRow(scanId: string, r: VerdictRecord) {
  let mx: { host: string; preference: number } | undefined;
  for (const h of r.hosts) if (!mx || h.preference < mx.preference) mx = h;
  return {
    scanId,
    domain: r.domain,
    tld: tldOf(r.domain),
    verdict: r,
    action: r.verdict.action,
    security: r.verdict.security ?? null,
    reason: r.verdict.reason,
    daneState: r.dane,
    mxHost: mx?.host ?? null,
    deliveredHost: r.verdict.host ?? null,
    judgedAt: r.judgedAt,
    // Numbered after the upsert (upsertVerdicts): a nextval() here would be
    // consumed by every row that conflicts (facts are stored first), leaving a
    // gap per verdict that followers would wait on.
    judgedSeq: null,
  };
}

function toScan(r: typeof scans.$inferSelect): Scan {
  const s: Scan = { id: r.id, parameters: r.parameters, state: r.state, startedAt: iso(r.startedAt) };
  if (r.finishedAt !== null) s.finishedAt = iso(r.finishedAt);
  if (r.counts !== null && r.counts !== undefined) s.counts = r.counts as ScanCounts;
  return s;
}

/** Opens the database, applies pending migrations, returns the Store. */
export async function openStore(config: StoreConfig): Promise<Store> {
  const handle = await openDatabase(config);
  try {
    await handle.migrate();
  } catch (e) {
    await handle.close().catch(() => {});
    throw e;
  }
  return new Store(handle);
}

/** The closed sets the verdict columns hold (for query validation in the API). */
export const VERDICT_COLUMN_VALUES = {
  action: ACTIONS,
  security: DELIVERY_SECURITIES,
  reason: REASONS,
  dane: DANE_STATES,
} as const;
