/**
 * `danesweep export SCAN --format parquet --out DIR`: a scan's facts and
 * verdicts as Parquet files (verdicts.parquet, probes.parquet,
 * certificates.parquet) and scan.json, which DuckDB, pandas (pyarrow) and
 * Spark read directly; the layout is libs/store/src/export.ts's, and --help
 * lists the columns. Researchers keep the files; `danesweep prune SCAN` then
 * removes the scan from the store.
 *
 * The Parquet writer is hyparquet-writer, chosen over parquet-wasm +
 * apache-arrow and @dsnp/parquetjs because it is maintained, pure
 * JavaScript (~0.5 MB, one dependency) and writes one row group at a time
 * to our file sink, so the export's memory is one row group (bounded by rows
 * and bytes) whatever the scan's size, beside PGlite in the same process; it
 * writes LIST columns, UTC timestamps and binary, and takes any compressor:
 * ZSTD comes from node:zlib. parquet-wasm would copy every batch into
 * WebAssembly memory that never shrinks (~14 MB installed with Arrow);
 * parquetjs is row-oriented, heavy (the AWS S3 SDK among a dozen
 * dependencies) and has no ZSTD writer.
 *
 * Progress (rows exported, rate) on stderr when it is a terminal; the
 * summary on stdout. Exit codes: 0 exported; 1 a run-time failure (store,
 * disk: nothing is left in DIR but what was there); 2 bad usage, an unknown
 * or running scan, a DIR that is a file or not empty (without --force), a
 * scan that changed while it was exported.
 */
import { type ExportProgress, type ExportRefusal, exportScan, openMigratedDatabase } from "@danesweep/store";
import { enumOption, parse, parseOrUsage, UsageError } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import type { Io } from "../main.ts";
import { formatDuration } from "../progress.ts";
import { describeStore, openConfig, STORE_OPTIONS, storeConfig } from "../store-options.ts";

const HELP = `usage: danesweep export SCAN --format parquet --out DIR [--force] [--data DIR | --database URL]

Writes the scan's facts and verdicts into DIR as Parquet files, which DuckDB,
pandas (pyarrow) and Spark read directly:
  verdicts.parquet      one row per judged domain: scan_id, domain, tld, provider,
                        mx_host, delivered_host, delivered_address, action, security,
                        reason, dane_state, broken, problems (list), engine, profile,
                        judged_at, collected_at (UTC), mta_sts_policy, mta_sts_mode,
                        mta_sts_outcome, mta_sts_reason, mta_sts_contradictions (list),
                        tls_rpt (null without MTA-STS lookups), and verdict and facts:
                        the full records as JSON text (explanation included)
  probes.parquet        one row per probe: scan_id, ip, port, sni, status, started_at,
                        tls_version, tls_cipher, tls_group, chain (the certificates'
                        SHA-256 in hex, leaf first; null without TLS), and facts as
                        JSON text (the chain as base64 DER)
  certificates.parquet  sha256 and der of every certificate the probes cite, once
  scan.json             the scan (id, parameters, state, times, counts) and the files'
                        row counts; written last: with it, the export is complete
Columns are ZSTD-compressed. A running scan is refused (its export would be
partial). Once exported, \`danesweep prune SCAN\` removes the scan from the store.

options:
  --format parquet   the output format: parquet (the default and only one)
  --out DIR          where to write; created when missing, and must be empty
  --force            write into a non-empty DIR: these four files are replaced,
                     any other file is left alone
  --data DIR         the embedded store (default $DANESWEEP_DATA, else ~/.local/share/danesweep)
  --database URL     a PostgreSQL store instead (postgres://...)

example:
  danesweep export 01JD4Q2V8N6K3M5P7R9T1W3Y5Z --out exports/01JD4Q2V8N6K3M5P7R9T1W3Y5Z
  duckdb -c "select dane_state, count(*) from 'exports/01JD4Q2V8N6K3M5P7R9T1W3Y5Z/verdicts.parquet' group by all"

exit codes: 0 exported; 1 run-time failure (store, disk); 2 bad usage, an unknown
or running scan, a DIR that is not empty, a scan that changed while exported.
`;

function options(argv: string[]) {
  const { values: v, positionals } = parse(argv, {
    ...STORE_OPTIONS,
    format: { type: "string" },
    out: { type: "string", short: "o" },
    force: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) return { help: true as const };
  if (positionals.length !== 1) throw new UsageError("give exactly one SCAN id (see: danesweep scans)");
  enumOption("format", v.format, ["parquet"], "parquet");
  if (v.out === undefined || v.out === "") throw new UsageError("--out DIR is required");
  return {
    help: false as const,
    scanId: positionals[0] as string,
    out: v.out,
    force: v.force === true,
    cfg: storeConfig(v),
  };
}

/** 1234567 -> "1.2 MB" (powers of 1000). */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${n < 0 ? "-" : ""}${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

function refusalMessage(r: ExportRefusal, store: string): string {
  switch (r.code) {
    case "unknown-scan":
      return `no scan "${r.scanId}" in ${store} (see: danesweep scans)`;
    case "scan-running":
      return `scan ${r.scan.id} is still running: its export would be partial; export it once it has finished`;
    case "out-not-directory":
      return `--out ${r.dir} exists and is not a directory`;
    case "out-not-empty":
      return (
        `--out ${r.dir} is not empty (${r.entries.slice(0, 5).join(", ")}${r.entries.length > 5 ? ", ..." : ""}): ` +
        "name a new or empty directory, or add --force to replace the export's files there"
      );
    case "scan-changed":
      return `scan ${r.scan.id} changed while it was being exported (${r.detail}); nothing was written: export it again`;
  }
}

/** The status line on a terminal: rows exported of the total, rate, ETA. */
function progressLine(stream: NodeJS.WritableStream, now: () => number) {
  const tty = (stream as NodeJS.WriteStream).isTTY === true;
  const start = now();
  let last: ExportProgress | undefined;
  const draw = () => {
    if (!last) return;
    const secs = Math.max((now() - start) / 1000, 0.001);
    const pct = last.total > 0 ? ` (${((100 * last.done) / last.total).toFixed(1)}%)` : "";
    const rate = last.done / secs;
    const eta =
      rate > 0 && last.total > last.done
        ? `  ETA ${formatDuration(((last.total - last.done) / rate) * 1000)}`
        : "";
    stream.write(
      `\r\x1b[2Kexport: ${last.file} ${last.done}/${last.total}${pct}  ${rate.toFixed(0)}/s${eta}`,
    );
  };
  let timer = tty ? setInterval(draw, 250) : undefined;
  timer?.unref();
  return {
    update(p: ExportProgress) {
      last = p;
    },
    stop() {
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      stream.write("\r\x1b[2K");
    },
  };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const p = parseOrUsage("export", HELP, io.stderr, () => options(argv));
  if (!p.ok) return p.code;
  const o = p.value;
  if (o.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const handle = await openMigratedDatabase(openConfig(o.cfg));
  const progress = progressLine(io.stderr, () => performance.now());
  try {
    const r = await exportScan(handle, o.scanId, {
      dir: o.out,
      force: o.force,
      onProgress: (x) => progress.update(x),
    });
    progress.stop();
    if (!r.ok) {
      io.stderr.write(`danesweep export: ${refusalMessage(r.refused, describeStore(o.cfg))}\n`);
      return EXIT.usage;
    }
    const s = r.summary;
    const files = [s.files.verdicts, s.files.probes, s.files.certificates];
    const w = Math.max(...files.map((f) => f.name.length));
    const rw = Math.max(...files.map((f) => String(f.rows).length));
    io.stdout.write(
      `exported scan ${s.scan.id} (${s.scan.state}, started ${s.scan.startedAt}) to ${s.dir}:\n` +
        files
          .map((f) => `  ${f.name.padEnd(w)}  ${String(f.rows).padStart(rw)} rows  ${formatBytes(f.bytes)}\n`)
          .join("") +
        "  scan.json\n",
    );
    return EXIT.ok;
  } finally {
    progress.stop();
    await handle.close();
  }
}
