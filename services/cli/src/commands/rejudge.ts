/**
 * `danesweep rejudge SCAN [--policy PROFILE] [--again] [--json]`: judges the
 * stored facts of a scan again with this engine (libs/store rejudge.ts),
 * stores the new verdicts beside the original ones and prints what changed:
 * domains per action, delivery security and DANE state before and after, and
 * every (old -> new) change with its count.
 *
 * - The profile is --policy, else the one the scan was judged under.
 * - MTA-STS certificates are judged against --mta-sts-ca, else the roots the
 *   scan itself was started with (its --mta-sts-ca), else Node's default CA
 *   certificates, as `danesweep scan` judged them.
 * - Idempotent: a scan already re-judged by this engine under this profile
 *   is not judged again; its run's counts are printed (--again makes a new
 *   run). An interrupted run (Ctrl-C, a crash) is resumed by the same
 *   command and stores nothing twice.
 * - Progress (domains re-judged, rate, ETA) on stderr when it is a terminal.
 * - `renderRejudge(scan, outcome)` is the text (exported for tests).
 *
 * Exit codes: 0 re-judged (or already was); 1 run-time failure, or another
 * process is re-judging the scan under this profile right now; 2 bad usage,
 * an unknown or running scan, an unknown profile; 130 interrupted (run the
 * same command to finish).
 */
import { resolve } from "node:path";
import { POLICY_PROFILE_NAMES, type TrustStore } from "@danesweep/dane";
import {
  continueRejudge,
  type RejudgeRefusal,
  type RejudgeRun,
  type RejudgeState,
  rejudgeOwner,
  runSummary,
  type Scan,
  startRejudge,
  type Transition,
} from "@danesweep/store";
import { enumOption, parse, parseOrUsage, UsageError } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { interruptOnSignals } from "../interrupt.ts";
import type { Io } from "../main.ts";
import { formatDuration, ProgressLine } from "../progress.ts";
import { describeStore, openConfiguredStore, STORE_OPTIONS, storeConfig } from "../store-options.ts";
import { mtaStsTrust } from "./scan.ts";

const HELP = `usage: danesweep rejudge SCAN [--policy PROFILE] [--again] [--json] [--quiet]
                         [--mta-sts-ca FILE] [--data DIR | --database URL]

Judges the stored facts of a scan again with this version of the verdict
engine, without rescanning, and stores the new verdicts beside the original
ones (which stay as they were). Prints the domains per action, delivery
security and DANE state before and after, and every change (old -> new).
Certificate validity is judged at the time of the original verdict.

options:
  --policy PROFILE  the sending MTA's settings to judge under: ${POLICY_PROFILE_NAMES.join(" | ")}
                    (default: the profile the scan was judged under)
  --again           judge again even if this engine already re-judged the scan
                    under this profile (otherwise its counts are printed)
  --mta-sts-ca FILE PEM roots MTA-STS certificates are judged against (default:
                    the scan's own --mta-sts-ca, else Node's default CA certificates)
  --json            print the run (engine, profile, counts) as one JSON object
  -q, --quiet       no progress line on stderr
  --data DIR        the embedded store (default $DANESWEEP_DATA, else ~/.local/share/danesweep)
  --database URL    a PostgreSQL store instead (postgres://...)

Interrupted (Ctrl-C), it keeps what it stored; the same command goes on
from there. danesweep show DOMAIN lists a domain's re-judgements.

exit codes: 0 re-judged (or already was); 1 run-time failure, or another
process is re-judging this scan under this profile; 2 bad usage, an unknown
or running scan, an unknown profile; 130 interrupted.
`;

function options(argv: string[]) {
  const { values: v, positionals } = parse(argv, {
    ...STORE_OPTIONS,
    policy: { type: "string" },
    again: { type: "boolean" },
    "mta-sts-ca": { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) return { help: true as const };
  if (positionals.length !== 1) throw new UsageError("give exactly one SCAN id (see: danesweep scans)");
  const policy =
    v.policy === undefined ? undefined : enumOption("policy", v.policy, POLICY_PROFILE_NAMES, "postfix");
  return {
    help: false as const,
    scanId: positionals[0] as string,
    policy,
    again: v.again === true,
    mtaStsCa: v["mta-sts-ca"] === undefined ? undefined : resolve(v["mta-sts-ca"]),
    json: v.json === true,
    quiet: v.quiet === true,
    cfg: storeConfig(v),
  };
}

function refusal(r: RejudgeRefusal, where: string): { text: string; code: number } {
  switch (r.code) {
    case "unknown-scan":
      return { text: `no scan "${r.scanId}" in ${where} (see: danesweep scans)`, code: EXIT.usage };
    case "scan-running":
      return {
        text:
          `scan ${r.scanId} is still running: its facts are not all in. Re-judge it once it has ` +
          `finished (if the process running it died: danesweep scan --resume ${r.scanId})`,
        code: EXIT.usage,
      };
    case "unknown-profile":
      return { text: `--policy: ${r.detail}`, code: EXIT.usage };
    case "busy":
      return {
        text:
          `scan ${r.run.scanId} is being re-judged under ${r.run.profile} right now (run ${r.run.run}, ` +
          `${r.run.judged} of ${r.run.total} domains, last progress ${r.run.heartbeatAt}); try again ` +
          "when it is done, or in two minutes if that process died",
        code: EXIT.failure,
      };
  }
}

const pad = (s: string, n: number) => s.padEnd(n);
const num = (n: number, w: number) => String(n).padStart(w);

/** A table of domains per value before and after. */
function beforeAfter(title: string, before: Record<string, number>, after: Record<string, number>): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  if (keys.length === 0) return [];
  const w = Math.max(title.length, ...keys.map((k) => k.length));
  return [
    `${pad(title, w)}  BEFORE   AFTER`,
    ...keys.map((k) => `${pad(k, w)}  ${num(before[k] ?? 0, 6)}  ${num(after[k] ?? 0, 6)}`),
    "",
  ];
}

/** The text `danesweep rejudge` prints for a run (pure). */
export function renderRejudge(
  scan: Pick<Scan, "id" | "state" | "startedAt">,
  run: RejudgeRun,
  status: "new" | "resumed" | "done",
): string {
  const out: string[] = [];
  const c = run.counts;
  out.push(
    `${status === "done" ? "already re-judged" : "re-judged"} scan ${scan.id} (${scan.state}, started ${scan.startedAt}): ` +
      `run ${run.run}, engine ${run.engine}, profile ${run.profile}` +
      `${status === "done" ? ` (finished ${run.finishedAt}; --again judges once more)` : ""}`,
  );
  if (!c) return `${out.join("\n")}\n  not finished (${run.state}): ${run.judged} of ${run.total} domains\n`;
  const originals = c.originals
    .map((o) => `engine ${o.engine} profile ${o.profile} (${o.domains})`)
    .join(", ");
  out.push(
    `  ${c.domains} domains; the originals were judged by ${originals || "nothing"}`,
    `  ${c.changed} verdict${c.changed === 1 ? "" : "s"} changed class, ${c.identical} say exactly what they said`,
    `  ${run.newBlobs} new verdict${run.newBlobs === 1 ? "" : "s"} stored, ` +
      `${run.missingProbes} domain${run.missingProbes === 1 ? "" : "s"} needed a probe the scan did not make`,
    "",
  );
  out.push(...beforeAfter("ACTION", c.before.action, c.after.action));
  out.push(...beforeAfter("SECURITY", c.before.security, c.after.security));
  out.push(...beforeAfter("DANE STATE", c.before.dane, c.after.dane));
  const changes: [string, Transition][] = [
    ...c.action.map((t) => ["action", t] as [string, Transition]),
    ...c.security.map((t) => ["security", t] as [string, Transition]),
    ...c.dane.map((t) => ["dane", t] as [string, Transition]),
  ].filter(([, t]) => t.from !== t.to);
  if (changes.length === 0) out.push("CHANGES: none");
  else {
    const label = (t: Transition) => `${t.from ?? "(none)"} -> ${t.to ?? "(none)"}`;
    const w = Math.max(...changes.map(([, t]) => label(t).length), "CHANGE (old -> new)".length);
    out.push(`${pad("", 8)}  ${pad("CHANGE (old -> new)", w)}  DOMAINS`);
    for (const [what, t] of changes) out.push(`${pad(what, 8)}  ${pad(label(t), w)}  ${num(t.domains, 7)}`);
  }
  return `${out.join("\n")}\n`;
}

function renderLine(p: { judged: number; total: number; from: number }, elapsedMs: number): string {
  const secs = Math.max(elapsedMs / 1000, 0.001);
  const rate = (p.judged - p.from) / secs;
  const left = Math.max(0, p.total - p.judged);
  return `re-judged ${p.judged} of ${p.total}  ${rate.toFixed(0)}/s  ETA ${rate > 0 ? formatDuration((left / rate) * 1000) : "?"}`;
}

export async function run(argv: string[], io: Io): Promise<number> {
  const p = parseOrUsage("rejudge", HELP, io.stderr, () => options(argv));
  if (!p.ok) return p.code;
  const o = p.value;
  if (o.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const where = describeStore(o.cfg);
  const err = (s: string) => io.stderr.write(`danesweep rejudge: ${s}\n`);
  const store = await openConfiguredStore(o.cfg);
  try {
    // The roots the scan judged MTA-STS with: --mta-sts-ca, else the scan's own, else Node's default.
    const row = await store.getScanRow(o.scanId);
    const recorded = (row?.parameters as { mtaStsCa?: unknown } | null | undefined)?.mtaStsCa;
    let trust: TrustStore;
    try {
      trust = mtaStsTrust(o.mtaStsCa ?? (typeof recorded === "string" ? recorded : undefined));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      err(
        o.mtaStsCa === undefined
          ? `the scan was started with ${e.message}; give --mta-sts-ca FILE`
          : e.message,
      );
      return EXIT.usage;
    }
    const owner = rejudgeOwner();
    const started = await startRejudge(store, o.scanId, {
      owner,
      now: Date.now(),
      again: o.again,
      ...(o.policy !== undefined ? { profile: o.policy } : {}),
    });
    if (!started.ok) {
      const r = refusal(started.refused, where);
      err(r.text);
      return r.code;
    }
    const scan = (await store.getScanRow(o.scanId)) as Scan;
    const print = (run: RejudgeRun, status: "new" | "resumed" | "done") =>
      io.stdout.write(
        o.json ? `${JSON.stringify({ ...runSummary(run), status })}\n` : renderRejudge(scan, run, status),
      );
    if (started.status === "done") {
      print(started.run, "done");
      return EXIT.ok;
    }
    if (started.status === "resumed" && !o.quiet)
      err(
        `going on with run ${started.run.run} (${started.run.judged} of ${started.run.total} domains stored)`,
      );
    const again = `danesweep rejudge ${o.scanId}${o.policy !== undefined ? ` --policy ${o.policy}` : ""}`;
    const interrupt = interruptOnSignals(
      io.stderr,
      `\ndanesweep rejudge: stopping after the batch in flight; ${again} goes on from there\n`,
      undefined,
      `\ndanesweep rejudge: interrupted again; stopping now (what is stored is kept; ${again} goes on from there)\n`,
    );
    const progress = { judged: started.run.judged, total: started.run.total, from: started.run.judged };
    const line = new ProgressLine(io.stderr as NodeJS.WriteStream, () => progress, Date.now, renderLine);
    if (!o.quiet) line.start();
    let outcome: Awaited<ReturnType<typeof continueRejudge>>;
    try {
      outcome = await continueRejudge(store, started.run, {
        owner,
        now: Date.now,
        trust,
        signal: interrupt.signal,
        onProgress: (x) => {
          progress.judged = x.judged;
        },
      });
    } finally {
      line.stop();
      interrupt.dispose();
    }
    const state: RejudgeState = outcome.run.state;
    if (outcome.outcome === "interrupted") {
      err(
        `interrupted: run ${outcome.run.run} stored ${outcome.run.judged} of ${outcome.run.total} domains; ${again} goes on from there`,
      );
      return EXIT.interrupted;
    }
    if (outcome.outcome === "taken-over") {
      err(
        `run ${outcome.run.run} was taken over by another process (${state}); nothing more was stored here`,
      );
      return EXIT.failure;
    }
    print(outcome.run, started.status);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
