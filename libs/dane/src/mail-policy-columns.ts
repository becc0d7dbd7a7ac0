/**
 * The main fields of a record's MTA-STS and TLS-RPT judgements as flat
 * columns, for the exports (the API's CSV and NDJSON, the Parquet export):
 * one definition, so every export names and fills them alike. Pure.
 *
 * `mailPolicyColumns(record)`: null (or an empty list) where the record has
 * no such judgement (facts collected without the lookups, or a record made
 * before engine 2.2).
 */
import type { VerdictRecord } from "./verdict-types.ts";

export interface MailPolicyColumns {
  /** How a sender finds the MTA-STS policy (MTA_STS_POLICY_RESULTS). */
  mtaStsPolicy: string | null;
  /** enforce, testing, none: with a valid policy. */
  mtaStsMode: string | null;
  /** What an MTA-STS sender (without DANE) does: deliver, defer, bounce, indeterminate (testing, enforce). */
  mtaStsOutcome: string | null;
  /** Why (MTA_STS_REASONS). */
  mtaStsReason: string | null;
  /** MTA_STS_CONTRADICTIONS found. */
  mtaStsContradictions: string[];
  /** The TLS-RPT record: valid, none, invalid, lookup-failed. */
  tlsRpt: string | null;
}

/** Column names as the exports write them, in order, with the field each holds. */
export const MAIL_POLICY_COLUMNS = [
  ["mta_sts_policy", "mtaStsPolicy"],
  ["mta_sts_mode", "mtaStsMode"],
  ["mta_sts_outcome", "mtaStsOutcome"],
  ["mta_sts_reason", "mtaStsReason"],
  ["mta_sts_contradictions", "mtaStsContradictions"],
  ["tls_rpt", "tlsRpt"],
] as const satisfies readonly (readonly [string, keyof MailPolicyColumns])[];

export function mailPolicyColumns(r: Pick<VerdictRecord, "mtaSts" | "tlsRpt">): MailPolicyColumns {
  const m = r.mtaSts;
  return {
    mtaStsPolicy: m?.policy ?? null,
    mtaStsMode: m?.mode ?? null,
    mtaStsOutcome: m?.outcome?.action ?? null,
    mtaStsReason: m?.outcome?.reason ?? null,
    mtaStsContradictions: m?.contradictions ? [...m.contradictions] : [],
    tlsRpt: r.tlsRpt?.state ?? null,
  };
}
