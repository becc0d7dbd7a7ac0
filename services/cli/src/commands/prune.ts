/**
 * `danesweep prune SCAN [--yes]`: deletes a scan from the store (its
 * partitions and row), then every stored fact, verdict, probe and
 * certificate no remaining scan refers to (libs/store/src/prune.ts), and
 * says what it removed and the database's size before and after.
 *
 * It cannot be undone, so it asks first: with --yes it goes ahead; without,
 * it asks on standard input when that is a terminal (y or yes goes ahead)
 * and refuses otherwise. A running scan is refused. Scans running meanwhile
 * wait while the prune sweeps (their writes are delayed, not lost).
 *
 * Exit codes: 0 pruned; 1 a run-time failure or the question answered no
 * (the removal is one transaction: it happened whole or not at all); 2 bad
 * usage, an unknown or running scan, no --yes without a terminal.
 */
import { createInterface } from "node:readline/promises";
import { openMigratedDatabase, type PruneRefusal, pruneScan, Store } from "@danesweep/store";
import { parse, parseOrUsage, UsageError } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import type { Io } from "../main.ts";
import { describeStore, openConfig, STORE_OPTIONS, storeConfig } from "../store-options.ts";
import { formatBytes } from "./export.ts";

const HELP = `usage: danesweep prune SCAN [--yes] [--data DIR | --database URL]

Deletes the scan from the store: its verdicts, facts and probes, its input and
its row; then every stored fact, verdict, probe and certificate that no
remaining scan refers to. It cannot be undone: export the scan first
(danesweep export SCAN --format parquet --out DIR). Says what it removed and
the database's size before and after.

A running scan is refused. Scans running meanwhile wait while the prune
sweeps the shared blobs: their writes are delayed, not lost.

options:
  --yes            do not ask; without it, prune asks on a terminal and refuses otherwise
  --data DIR       the embedded store (default $DANESWEEP_DATA, else ~/.local/share/danesweep)
  --database URL   a PostgreSQL store instead (postgres://...)

example:
  danesweep export 01JD4Q2V8N6K3M5P7R9T1W3Y5Z --out exports/01JD4Q2V8N6K3M5P7R9T1W3Y5Z \\
    && danesweep prune 01JD4Q2V8N6K3M5P7R9T1W3Y5Z --yes

exit codes: 0 pruned; 1 run-time failure or answered no (the removal is one
transaction: whole or not at all); 2 bad usage, an unknown or running scan,
no --yes and no terminal to ask.
`;

/** Standard input, which a test can replace; a terminal is asked, anything else is not. */
export type PruneIo = Io & { stdin?: NodeJS.ReadableStream & { isTTY?: boolean } };

function options(argv: string[]) {
  const { values: v, positionals } = parse(argv, {
    ...STORE_OPTIONS,
    yes: { type: "boolean", short: "y" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) return { help: true as const };
  if (positionals.length !== 1) throw new UsageError("give exactly one SCAN id (see: danesweep scans)");
  return { help: false as const, scanId: positionals[0] as string, yes: v.yes === true, cfg: storeConfig(v) };
}

function refusalMessage(r: PruneRefusal, store: string): string {
  if (r.code === "unknown-scan") return `no scan "${r.scanId}" in ${store} (see: danesweep scans)`;
  return (
    `scan ${r.scan.id} is running and cannot be pruned. If the process running it died, ` +
    `finish or stop it first: danesweep scan --resume ${r.scan.id}`
  );
}

async function confirm(stdin: NodeJS.ReadableStream, stderr: NodeJS.WritableStream, question: string) {
  const rl = createInterface({ input: stdin, output: stderr, terminal: false });
  try {
    const answer = await rl.question(question);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}

export async function run(argv: string[], io: PruneIo): Promise<number> {
  const p = parseOrUsage("prune", HELP, io.stderr, () => options(argv));
  if (!p.ok) return p.code;
  const o = p.value;
  if (o.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const where = describeStore(o.cfg);
  const stdin = io.stdin ?? process.stdin;
  const handle = await openMigratedDatabase(openConfig(o.cfg));
  try {
    const scan = await new Store(handle).getScan(o.scanId);
    if (!scan) {
      io.stderr.write(
        `danesweep prune: ${refusalMessage({ code: "unknown-scan", scanId: o.scanId }, where)}\n`,
      );
      return EXIT.usage;
    }
    if (scan.state === "running") {
      io.stderr.write(`danesweep prune: ${refusalMessage({ code: "scan-running", scan }, where)}\n`);
      return EXIT.usage;
    }
    if (!o.yes) {
      if (stdin.isTTY !== true) {
        io.stderr.write(
          `danesweep prune: pruning deletes scan ${scan.id} for good; add --yes to confirm (standard input is not a terminal to ask)\n`,
        );
        return EXIT.usage;
      }
      const c = scan.liveCounts;
      const ok = await confirm(
        stdin,
        io.stderr,
        `Prune scan ${scan.id} (${scan.state}, started ${scan.startedAt}: ${c.judged} verdicts, ${c.probes} probes) ` +
          `from ${where}? It cannot be undone. [y/N] `,
      );
      if (!ok) {
        io.stderr.write("danesweep prune: not pruned\n");
        return EXIT.failure;
      }
    }
    const r = await pruneScan(handle, scan.id);
    if (!r.ok) {
      io.stderr.write(`danesweep prune: ${refusalMessage(r.refused, where)}\n`);
      return EXIT.usage;
    }
    const { rows, blobs, partitionBytes, sizeBefore, sizeAfter } = r.report;
    const blobBytes =
      blobs.facts.bytes + blobs.verdicts.bytes + blobs.probes.bytes + blobs.certificates.bytes;
    const diff = sizeBefore - sizeAfter;
    io.stdout.write(
      `pruned scan ${scan.id} (${scan.state}, started ${scan.startedAt}) from ${where}:\n` +
        `  removed with the scan: ${rows.results} verdicts, ${rows.probes} probes, ${rows.inputs} input rows` +
        `${rows.rejudgements > 0 ? `, ${rows.rejudgements} re-judgements` : ""} ` +
        `(${formatBytes(partitionBytes)} on disk)\n` +
        `  no longer referred to, removed: ${blobs.facts.rows} facts, ${blobs.verdicts.rows} verdicts, ` +
        `${blobs.probes.rows} probes, ${blobs.certificates.rows} certificates (${formatBytes(blobBytes)} stored)\n` +
        `  database size: ${formatBytes(sizeBefore)} before, ${formatBytes(sizeAfter)} after ` +
        `(${diff >= 0 ? `${formatBytes(diff)} freed` : `${formatBytes(-diff)} more: VACUUM's maps outweigh what was freed`})\n`,
    );
    return EXIT.ok;
  } finally {
    await handle.close();
  }
}
