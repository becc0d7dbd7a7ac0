/**
 * Data the API benchmarks load: a real verdict record and real DNS facts
 * (judge() on seed case 1), to be copied per domain in SQL, and a finished
 * scan row (one hour long) to hang verdicts on.
 */
import { type DomainFacts, judge, type VerdictRecord } from "@danesweep/dane";
import type { Store } from "@danesweep/store";
import { sql } from "drizzle-orm";
import { buildSeedCases } from "../../libs/dane/test/fixtures/seed-cases.ts";

export function seedCaseOne(): { facts: DomainFacts; verdict: VerdictRecord } {
  const c1 = buildSeedCases().cases[0];
  if (!c1) throw new Error("no seed case");
  return {
    facts: c1.facts,
    verdict: judge(c1.facts, c1.probes, { now: Date.parse("2024-01-01T00:00:00Z") }),
  };
}

export async function insertFinishedScan(store: Store, id: string, startedAt: string): Promise<void> {
  await store.db.execute(
    sql`insert into scans (id, parameters, state, started_at, finished_at)
        values (${id}, '{}', 'finished', ${startedAt}::timestamptz, ${startedAt}::timestamptz + interval '1 hour')`,
  );
}
