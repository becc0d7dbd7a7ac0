/**
 * danesweep's exit codes (documented in the README). Closed set.
 */
export const EXIT = {
  /** The command finished (a scan finished, whatever its verdicts). */
  ok: 0,
  /** Something failed at run time (store unreachable, internal error). */
  failure: 1,
  /** Bad usage: unknown command or option, invalid option value, unreadable input file. */
  usage: 2,
  /** The resolver does not validate DNSSEC (rule 2) and --accept-nonvalidating was not given. */
  resolverNotValidating: 3,
  /** The demo's verdicts differ from the write-up's expected outcomes. */
  demoMismatch: 4,
  /** Interrupted (SIGINT/SIGTERM): progress is saved; resume with --resume SCAN_ID. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
