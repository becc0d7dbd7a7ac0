/**
 * The test universe for the API: the 24 seed domains of the 2018 write-up in
 * two scans. Scan 1 holds the seed facts as they are; in scan 2 four cases
 * change, each into the shape of another seed case whose outcome the write-up
 * gives, so every expected value comes from the write-up, not from the code:
 * - case 1: test1b's TLSA gets the wrong digest (00c9...): both hosts now fail
 *   like case 2's -> defer ("DANE check failed");
 * - case 2: test2a moves to cert B's address, where its right digest matches,
 *   like case 1's secondary -> deliver dane-verified via test2a;
 * - case 4: test4a moves from the no-STARTTLS address to cert B's -> deliver
 *   dane-verified via test4a (same reasoning);
 * - case 13: its TLSA gets the wrong digest, as in case 14 -> defer.
 * Verdicts are made by judge() (the aggregator's step) and stored the way the
 * aggregator stores them (seed, facts, probes, verdicts, finish).
 * `storeBulkScan` writes a large synthetic scan for the export tests.
 */
import {
  type Action,
  type DeliverySecurity,
  type DomainFacts,
  judge,
  type ProbeFacts,
  probeKeyString,
  type VerdictRecord,
} from "@danesweep/dane";
import type { Store } from "@danesweep/store";
import { buildSeedCases, IP_B } from "../../../libs/dane/test/fixtures/seed-cases.ts";
import { insertBulkScan } from "../../../libs/store/test/bulk.ts";

export const SCAN1_START = "2024-05-01T12:00:00.000Z";
export const SCAN2_START = "2024-06-01T12:00:00.000Z";

export interface Expected {
  action: Action;
  security?: DeliverySecurity;
}

export interface Universe {
  scan1: string;
  scan2: string;
  domains: string[];
  /** Per scan, per domain: the write-up's outcome (scan 2 with the four changes). */
  expected: [Map<string, Expected>, Map<string, Expected>];
  /** Per scan, per domain: the records judge() made (for tallies the API must match). */
  records: [Map<string, VerdictRecord>, Map<string, VerdictRecord>];
  facts: [Map<string, DomainFacts>, Map<string, DomainFacts>];
  /** Domains whose verdict differs between the scans. */
  changed: string[];
}

export const CHANGED_CASES = [1, 2, 4, 13] as const;

/** Scan 2's expectations for the changed cases (see the file comment). */
const SCAN2_EXPECTED: Record<number, Expected> = {
  1: { action: "defer" },
  2: { action: "deliver", security: "dane-verified" },
  4: { action: "deliver", security: "dane-verified" },
  13: { action: "defer" },
};

function alter(n: number, f: DomainFacts, wrong: string): DomainFacts {
  const g = structuredClone(f);
  const setTlsa = (hostIndex: number) => {
    const h = g.hosts[hostIndex];
    if (!h) throw new Error(`fixture: case ${n} has no host ${hostIndex}`);
    for (const l of h.tlsa) for (const r of l.records) r.data = wrong;
  };
  const moveToB = (hostIndex: number) => {
    const h = g.hosts[hostIndex];
    if (!h) throw new Error(`fixture: case ${n} has no host ${hostIndex}`);
    h.a.records = [IP_B];
  };
  if (n === 1) setTlsa(1);
  if (n === 2 || n === 4) moveToB(0);
  if (n === 13) setTlsa(0);
  return g;
}

export async function storeScan(
  store: Store,
  id: string,
  startedAt: string,
  facts: DomainFacts[],
  probes: (k: { ip: string; port: number; sni: string }) => ProbeFacts | undefined,
  judgeAt: number,
  finish = true,
): Promise<VerdictRecord[]> {
  await store.createScan({ id, parameters: { source: "api-test" }, startedAt });
  await store.seedDomains(
    id,
    facts.map((f, i) => ({ domain: f.domain, line: i + 1 })),
  );
  const verdicts = await judgeAndStore(store, id, facts, probes, judgeAt);
  if (finish) await store.finishScan(id, new Date(Date.parse(startedAt) + 60_000).toISOString());
  return verdicts;
}

/** Judges facts (judge() of libs/dane), stores the probes cited, then the facts with their verdicts. */
export async function judgeAndStore(
  store: Store,
  id: string,
  facts: DomainFacts[],
  probes: (k: { ip: string; port: number; sni: string }) => ProbeFacts | undefined,
  judgeAt: number,
): Promise<VerdictRecord[]> {
  const verdicts: VerdictRecord[] = [];
  const used = new Map<string, ProbeFacts>();
  for (const f of facts) {
    const v = judge(f, probes, { now: judgeAt });
    verdicts.push(v);
    for (const h of v.hosts)
      for (const a of h.addresses) {
        const p = a.probe ? probes(a.probe) : undefined;
        if (p) used.set(probeKeyString(p), p);
      }
  }
  await store.upsertProbes(id, [...used.values()]);
  await store.storeJudged(
    id,
    facts.map((f, i) => ({ facts: f, record: verdicts[i] as VerdictRecord })),
  );
  return verdicts;
}

/** Stores the two scans under fresh ids (suffix keeps them unique per run). */
export async function loadUniverse(store: Store, suffix: string): Promise<Universe> {
  const world = buildSeedCases();
  const scan1 = `S1-${suffix}`;
  const scan2 = `S2-${suffix}`;
  const f1 = world.cases.map((c) => c.facts);
  const f2 = world.cases.map((c) =>
    (CHANGED_CASES as readonly number[]).includes(c.n) ? alter(c.n, c.facts, world.wrong) : c.facts,
  );
  const probes = world.cases[0]?.probes;
  if (!probes) throw new Error("fixture: no seed cases");
  const v1 = await storeScan(store, scan1, SCAN1_START, f1, probes, Date.parse(SCAN1_START) + 1000);
  const v2 = await storeScan(store, scan2, SCAN2_START, f2, probes, Date.parse(SCAN2_START) + 1000);
  const e1 = new Map<string, Expected>();
  const e2 = new Map<string, Expected>();
  for (const c of world.cases) {
    const base: Expected = { action: c.expected.action };
    if (c.expected.security) base.security = c.expected.security;
    e1.set(c.domain, base);
    e2.set(c.domain, SCAN2_EXPECTED[c.n] ?? base);
  }
  return {
    scan1,
    scan2,
    domains: world.cases.map((c) => c.domain),
    expected: [e1, e2],
    records: [new Map(v1.map((v) => [v.domain, v])), new Map(v2.map((v) => [v.domain, v]))],
    facts: [new Map(f1.map((f) => [f.domain, f])), new Map(f2.map((f) => [f.domain, f]))],
    changed: CHANGED_CASES.map((n) => `test${n}.testing`),
  };
}

/**
 * A finished scan of `rows` synthetic verdict rows (d0000001.example, ...),
 * each with an explanation of about 30 x `explanationRepeat` characters, for
 * the tests of whole-set exports (libs/store/test/bulk.ts).
 */
export async function storeBulkScan(
  store: Store,
  scan: string,
  rows: number,
  explanationRepeat = 20,
): Promise<void> {
  await insertBulkScan(store, scan, rows, { explanationRepeat });
}

/** Counts of a key over a map's values. */
export function tally<T>(values: Iterable<T>, key: (t: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const k = key(v);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
