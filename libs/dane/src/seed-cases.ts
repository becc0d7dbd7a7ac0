/**
 * The 24 reference cases of the 2018 sendmail DANE test cases write-up as one
 * table of data (libs/dane/seed/seed-cases.json): per case the zone records
 * (absolute names, with placeholders for the testbed's addresses and for TLSA
 * data computed from its certificates) and the expected outcome, transcribed
 * by hand from the write-up and docs/rules.md, never computed. The testbed
 * builds its zones from it, the unit-test fixtures build facts from it, the
 * demo and scripts/verdict-table.ts compare verdicts with it. Pure data.
 *
 * - `SEED_CASES`: the cases, numbered 1..24 in order.
 * - `SEED_PLACEHOLDERS`: what each placeholder stands for.
 * - `SEED_ZONES`: the zones the records live in, and how each is served.
 * - `fillPlaceholders(text, values)`: `text` with every "{NAME}" replaced by
 *   `values["{NAME}"]`; a placeholder without a value is an error naming it.
 */
import table from "../seed/seed-cases.json" with { type: "json" };
import type { Action, DaneState, DeliverySecurity, Reason } from "./verdict-types.ts";

export interface SeedCaseExpectation {
  action: Action;
  security?: DeliverySecurity;
  /** MX host delivered to. */
  host?: string;
  /** Address delivered to, as a placeholder. */
  address?: string;
  reason: Reason;
  dane: DaneState;
}

export interface SeedCaseEntry {
  /** 1..24, the write-up's numbering. */
  case: number;
  domain: string;
  description: string;
  /** The write-up's outcome, in a few words. */
  writeUp: string;
  /** Zone records: [absolute owner, type, data]. */
  records: [string, string, string][];
  expected: SeedCaseExpectation;
}

export const SEED_CASES: readonly SeedCaseEntry[] = table.cases as SeedCaseEntry[];
export const SEED_PLACEHOLDERS: Readonly<Record<string, string>> = table.placeholders;
export const SEED_ZONES: Readonly<Record<string, string>> = table.zones;

export function fillPlaceholders(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\{[A-Z0-9]+\}/g, (p) => {
    const v = values[p];
    if (v === undefined) throw new Error(`seed case placeholder ${p} has no value`);
    return v;
  });
}
