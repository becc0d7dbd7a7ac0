/**
 * How a scan run ends, the same for the embedded run and a deployment: the
 * closing summary on stderr (unless quiet), the scan's final state in the
 * store, what to do next, and the exit code (exit-codes.ts).
 *   finished    -> "finished", then the change events since the previous
 *                  scans are recorded (libs/store changes.ts; the summary
 *                  says how many domains were compared, how many were not
 *                  because a verdict was not fully observed or of another
 *                  profile: docs/rules.md 50-51), 0 (1 when they could not
 *                  be: the next finished scan records them)
 *   interrupted -> "interrupted", the resume command, 130
 *   stuck       -> "failed", the domains that could not be judged, 1
 *   store-failed -> the store could not take writes (full disk...): what it
 *                  holds is kept; the scan is marked interrupted when the store
 *                  still allows it; the error, the resume command, 1
 */
import type { SeedStats } from "@danesweep/pipeline";
import { recordChanges, type Store } from "@danesweep/store";
import { EXIT } from "./exit-codes.ts";
import type { Summary } from "./output.ts";
import { type ProgressCounts, renderProgress } from "./progress.ts";

export interface ScanEnd {
  store: Store;
  scanId: string;
  outcome: "finished" | "interrupted" | "stuck" | "store-failed";
  /** Why, for "store-failed". */
  error?: unknown;
  stuck: { domain: string }[];
  deadLetters: number;
  summary: Summary;
  seed: SeedStats;
  progress: Omit<ProgressCounts, "inputDone">;
  elapsedMs: number;
  quiet: boolean;
  resumeHint: string;
  now: () => number;
  err: (s: string) => void;
}

export function summaryText(e: Pick<ScanEnd, "summary" | "seed" | "progress" | "elapsedMs">): string {
  return (
    e.summary.render() +
    `  ${renderProgress({ ...e.progress, inputDone: true }, e.elapsedMs)}\n` +
    (e.seed.invalid ? `  invalid names skipped: ${e.seed.invalid}\n` : "") +
    (e.seed.duplicates ? `  duplicate names skipped: ${e.seed.duplicates}\n` : "") +
    (e.seed.optedOut ? `  opted-out domains skipped: ${e.seed.optedOut}\n` : "")
  );
}

export async function endScan(e: ScanEnd): Promise<number> {
  const at = new Date(e.now()).toISOString();
  const tail = () => {
    if (!e.quiet) e.err(summaryText(e));
  };
  if (e.outcome === "interrupted") {
    await e.store.markInterrupted(e.scanId, at).catch(() => {});
    tail();
    e.err(`danesweep: scan ${e.scanId} interrupted; resume with:\n  ${e.resumeHint}\n`);
    return EXIT.interrupted;
  }
  if (e.outcome === "store-failed") {
    await e.store.markInterrupted(e.scanId, at).catch(() => {});
    tail();
    const why = e.error instanceof Error ? e.error.message : String(e.error);
    e.err(
      `danesweep: scan ${e.scanId} stopped: the store cannot take writes (${why})\n` +
        "  every verdict stored so far is kept; make room (or fix the store), then resume with:\n" +
        `  ${e.resumeHint}\n`,
    );
    return EXIT.failure;
  }
  if (e.outcome === "stuck") {
    await e.store.finishScan(e.scanId, at, "failed");
    tail();
    const n = e.stuck.length;
    e.err(
      `danesweep: scan ${e.scanId} failed: ${n}${n === 100 ? "+" : ""} domains could not be judged ` +
        `(${e.deadLetters} messages dead-lettered), e.g. ${e.stuck
          .slice(0, 5)
          .map((s) => s.domain)
          .join(", ")}\n`,
    );
    return EXIT.failure;
  }
  await e.store.finishScan(e.scanId, at, "finished");
  tail();
  if (!e.quiet) e.err(`danesweep: scan ${e.scanId} finished in ${(e.elapsedMs / 1000).toFixed(1)}s\n`);
  return recordChangeEvents(e, at);
}

/**
 * The change events of the finished scan (and of any finished scan whose
 * events are not recorded yet): libs/store changes.ts. A failure leaves the
 * scan finished and its events to be recorded when the next scan finishes.
 */
async function recordChangeEvents(e: ScanEnd, at: string): Promise<number> {
  try {
    const recorded = await recordChanges(e.store, at);
    if (!e.quiet) {
      for (const r of recorded)
        e.err(
          `danesweep: changes since the previous scans: ${r.events} event${r.events === 1 ? "" : "s"} ` +
            `(${r.compared} domain${r.compared === 1 ? "" : "s"} compared` +
            (r.notCompared > 0
              ? `, ${r.notCompared} not compared: not fully observed, or another profile`
              : "") +
            `${r.scanId === e.scanId ? "" : `, scan ${r.scanId}`}); ` +
            "danesweep show DOMAIN lists a domain's\n",
        );
    }
    return EXIT.ok;
  } catch (err) {
    e.err(
      `danesweep: scan ${e.scanId} finished, but its change events could not be recorded ` +
        `(${err instanceof Error ? err.message : String(err)}); they will be recorded when the next scan finishes\n`,
    );
    return EXIT.failure;
  }
}
