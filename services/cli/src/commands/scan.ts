/**
 * `danesweep scan [DOMAIN... | -f FILE | -]`: every stage in one process on
 * the embedded default (in-memory bus; PGlite in --data DIR, or PostgreSQL with
 * --database URL). Verdicts stream to stdout or --output as they are stored;
 * progress goes to stderr when it is a terminal; a summary closes the run.
 * Ctrl-C stops cleanly and prints how to resume. See the README for options
 * and exit codes.
 */
import { accessSync, constants, statSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import {
  type ClientPolicy,
  DEFAULT_RISK_THRESHOLDS,
  POLICY_PROFILES,
  policyProfile,
  type TrustStore,
  type VerdictRecord,
} from "@danesweep/dane";
import { checkValidating, newConsistencyChecker, requireValidating, StubResolver } from "@danesweep/dns";
import {
  EmbeddedPipeline,
  loadTrustStore,
  type ProbeMode,
  type SeedLine,
  type SeedSkip,
  STAGES,
  TrustStoreError,
} from "@danesweep/pipeline";
import { OptOutFileError, type OptOutList, Prober, readOptOutFile } from "@danesweep/probe";
import { newScanId, type Store } from "@danesweep/store";
import {
  ehloOption,
  enumOption,
  intOption,
  kafkaOption,
  numberOption,
  parse,
  resolverAddress,
  UsageError,
} from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { readInputs } from "../input.ts";
import { interruptOnSignals } from "../interrupt.ts";
import type { Io } from "../main.ts";
import { FORMATS, type Format, VerdictSink } from "../output.ts";
import { ProgressLine } from "../progress.ts";
import { endScan } from "../scan-end.ts";
import { describeStore, openConfiguredStore, STORE_OPTIONS, storeConfig } from "../store-options.ts";

export const SCAN_HELP = `usage: danesweep scan [OPTIONS] [DOMAIN... | -f FILE | -]

Scans mail domains for DANE (RFC 7672): for each, what a sending MTA would do
(deliver dane-verified / encrypted / plaintext, defer, bounce), through which
MX host, why, and the domain's DANE state. Names come from the arguments, from
files (-f, repeatable) or from standard input ("-"), one per line; blank lines
and # comments are skipped.

input and output
  -f, --file FILE          read names from FILE (repeatable; "-" for stdin)
  --format FMT             jsonl | table | csv (default: table on a terminal, else jsonl)
  -o, --output FILE        write verdicts to FILE instead of standard output
  -q, --quiet              no progress line and no summary on stderr

DNS
  --resolver ADDR[:PORT]   validating resolver (repeatable; default 127.0.0.1:53)
  --accept-nonvalidating   scan even if the resolver does not validate DNSSEC:
                           every verdict is then "indeterminate"
  --dns-timeout MS         per-query timeout (default 2000)

verdicts
  --policy PROFILE         the sending MTA's settings: postfix (Postfix 3.7 defaults,
                           default) | rfc7672 (a strict reading of RFC 7672); see
                           libs/dane/README.md. Recorded on every verdict.
  --rrsig-margin DAYS      risk: signatures over a TLSA RRset expiring within DAYS (default 3)
  --leaf-expiry DAYS       risk: a DANE-EE leaf expiring within DAYS (default 14)
  --skip-ns-check          do not ask the authoritative servers of the TLSA RRsets
                           (the verdicts then carry no consistency)

MTA-STS and TLS-RPT (beside DANE)
  --mta-sts-ca FILE        PEM roots an MTA-STS sender trusts: the policy host's and the
                           MX hosts' certificates are judged against them (default:
                           Node's default CA certificates; testbeds: their own CA)
  --no-mta-sts             do not look up MTA-STS and TLS-RPT, nor fetch policies

probing (a scanner is a guest on other people's servers)
  --probe MODE             all (every MX host, default) | dane (only hosts where DANE applies)
  --ehlo NAME              name sent in EHLO (default: this host's name if it is
                           fully qualified, else danesweep.invalid)
  --per-ip-rate N          new connections per second per destination IP (default 1)
  --per-ip-burst N         token bucket size per IP (default 2)
  --per-ip-concurrency N   connections at once per IP (default 2)
  --probe-concurrency N    connections at once overall (default 500)
  --opt-out FILE           never contact these addresses, CIDRs, host:NAME, domain:NAME
  --allow-private          allow non-public addresses (testbeds only)

pipeline and storage
  --concurrency N          domains resolving at once (default ${STAGES.resolve.concurrency})
  --data DIR               embedded store (PGlite) directory
                           (default $DANESWEEP_DATA or ~/.local/share/danesweep)
  --database URL           PostgreSQL instead of the embedded store
  --resume SCAN_ID         finish an interrupted scan (same inputs and settings)

against a deployment (services on Kafka, see the README)
  --kafka BROKERS          seed the scan into a running deployment (host:port,...)
                           and follow it to completion; needs --database URL
  --kafka-client NAME      platformatic (default) | kafkajs
`;

const OPTIONS = {
  file: { type: "string", short: "f", multiple: true },
  format: { type: "string" },
  output: { type: "string", short: "o" },
  quiet: { type: "boolean", short: "q" },
  resolver: { type: "string", multiple: true },
  "accept-nonvalidating": { type: "boolean" },
  "dns-timeout": { type: "string" },
  probe: { type: "string" },
  policy: { type: "string" },
  "rrsig-margin": { type: "string" },
  "leaf-expiry": { type: "string" },
  "skip-ns-check": { type: "boolean" },
  ehlo: { type: "string" },
  "per-ip-rate": { type: "string" },
  "per-ip-burst": { type: "string" },
  "per-ip-concurrency": { type: "string" },
  "probe-concurrency": { type: "string" },
  "opt-out": { type: "string" },
  "allow-private": { type: "boolean" },
  "mta-sts-ca": { type: "string" },
  "no-mta-sts": { type: "boolean" },
  concurrency: { type: "string" },
  resume: { type: "string" },
  kafka: { type: "string" },
  "kafka-client": { type: "string" },
  help: { type: "boolean", short: "h" },
  ...STORE_OPTIONS,
} as const;

/**
 * The scan a run works on: the unfinished scan --resume names, with the
 * parameters it was started with, or a new one. An unknown or finished scan,
 * or no domains, is refused with the message on `err` and the usage exit code.
 */
export async function chooseScan(
  store: Store,
  parsed: { resume?: string | undefined; params: ScanParameters },
  storeLabel: string,
  err: (s: string) => void,
  now: Date,
): Promise<
  | { scanId: string; params: ScanParameters; resumed: boolean }
  | { refused: { code: number; scanId?: string } }
> {
  if (parsed.resume === undefined) {
    const { inputs } = parsed.params;
    if (inputs.args.length === 0 && inputs.files.length === 0) {
      throw new UsageError("no domains given: name them, or use -f FILE, or - for standard input");
    }
    return { scanId: newScanId(now), params: parsed.params, resumed: false };
  }
  const scan = await store.getScanRow(parsed.resume);
  if (!scan) {
    err(`danesweep: no scan "${parsed.resume}" in ${storeLabel} (see: danesweep scans)\n`);
    return { refused: { code: EXIT.usage } };
  }
  if (scan.state === "finished") {
    err(`danesweep: scan ${scan.id} already finished; nothing to resume\n`);
    return { refused: { code: EXIT.usage, scanId: scan.id } };
  }
  return { scanId: scan.id, params: scan.parameters as ScanParameters, resumed: true };
}

/** What a scan was started with; stored with the scan so --resume uses the same. */
export interface ScanParameters {
  inputs: { args: string[]; files: string[] };
  resolvers: string[];
  acceptNonValidating: boolean;
  dnsTimeoutMs: number;
  probeMode: ProbeMode;
  /** The client policy profile (libs/dane POLICY_PROFILES); absent in scans from before profiles: postfix. */
  policy?: string;
  /** Thresholds of the risk rules (libs/dane RiskThresholds); absent in older scans: the defaults. */
  risk?: { rrsigMarginDays: number; leafExpiryDays: number };
  /** Ask the authoritative servers of the TLSA RRsets (issue 14); absent in older scans: yes. */
  nsCheck?: boolean;
  port: number;
  ehlo: string;
  perIpRate: number;
  perIpBurst: number;
  perIpConcurrency: number;
  probeConcurrency: number;
  optOutFile?: string;
  allowPrivate: boolean;
  concurrency: number;
  /** PEM roots MTA-STS is judged with (absent: Node's default CA certificates). */
  mtaStsCa?: string;
  /** false: no MTA-STS / TLS-RPT lookups nor policy fetches (absent: true). */
  mailPolicies?: boolean;
}

export interface ScanOutput {
  format: Format;
  output?: string;
  quiet: boolean;
}

function defaultEhlo(): string {
  const h = hostname();
  return h.includes(".") && /^[a-z0-9.-]+$/i.test(h) ? h.toLowerCase() : "danesweep.invalid";
}

export function parseScanArgs(argv: string[], isTty: boolean) {
  const { values: v, positionals } = parse(argv, OPTIONS);
  const params: ScanParameters = {
    inputs: {
      args: positionals,
      files: (v.file ?? []).map((f) => (f === "-" ? f : resolve(f))),
    },
    resolvers: (v.resolver ?? ["127.0.0.1:53"]).map(resolverAddress),
    acceptNonValidating: v["accept-nonvalidating"] ?? false,
    dnsTimeoutMs: intOption("dns-timeout", v["dns-timeout"], 2000, 50, 60_000),
    probeMode: enumOption("probe", v.probe, ["all", "dane"] as const, "all"),
    policy: enumOption("policy", v.policy, POLICY_NAMES, "postfix"),
    risk: {
      rrsigMarginDays: intOption(
        "rrsig-margin",
        v["rrsig-margin"],
        DEFAULT_RISK_THRESHOLDS.rrsigMarginDays,
        0,
        365,
      ),
      leafExpiryDays: intOption(
        "leaf-expiry",
        v["leaf-expiry"],
        DEFAULT_RISK_THRESHOLDS.leafExpiryDays,
        0,
        3650,
      ),
    },
    nsCheck: !(v["skip-ns-check"] ?? false),
    port: 25,
    ehlo: ehloOption(v.ehlo) ?? defaultEhlo(),
    perIpRate: numberOption("per-ip-rate", v["per-ip-rate"], 1, 0.001, 10_000),
    perIpBurst: intOption("per-ip-burst", v["per-ip-burst"], 2, 1, 10_000),
    perIpConcurrency: intOption("per-ip-concurrency", v["per-ip-concurrency"], 2, 1, 1000),
    probeConcurrency: intOption("probe-concurrency", v["probe-concurrency"], 500, 1, 20_000),
    allowPrivate: v["allow-private"] ?? false,
    concurrency: intOption("concurrency", v.concurrency, STAGES.resolve.concurrency, 1, 10_000),
  };
  if (v["opt-out"] !== undefined) params.optOutFile = resolve(v["opt-out"]);
  if (v["mta-sts-ca"] !== undefined) params.mtaStsCa = resolve(v["mta-sts-ca"]);
  if (v["no-mta-sts"]) params.mailPolicies = false;
  for (const f of params.inputs.files) if (f !== "-") checkReadable(f);
  const out: ScanOutput = {
    format: enumOption("format", v.format, FORMATS, isTty ? "table" : "jsonl"),
    quiet: v.quiet ?? false,
  };
  if (v.output !== undefined) out.output = v.output;
  const store = storeConfig(v);
  const kafka = kafkaOption(v.kafka, v["kafka-client"], "url" in store);
  return { help: v.help ?? false, params, out, store, resume: v.resume, kafka };
}

const POLICY_NAMES = Object.keys(POLICY_PROFILES) as (keyof typeof POLICY_PROFILES)[];

/** The WebPKI roots the scan judges MTA-STS with (a bad --mta-sts-ca file is a usage error). */
export function trustOf(params: ScanParameters): TrustStore {
  return mtaStsTrust(params.mtaStsCa);
}

/**
 * The WebPKI roots of an --mta-sts-ca FILE (scan, rejudge, serve), or Node's
 * default CA certificates without one; a file that cannot be read or holds
 * anything but certificates is a UsageError naming it.
 */
export function mtaStsTrust(file: string | undefined): TrustStore {
  try {
    return loadTrustStore(file);
  } catch (e) {
    if (e instanceof TrustStoreError) throw new UsageError(`--mta-sts-ca: ${e.message}`);
    throw e;
  }
}

/** The scan's client policy (its parameters name a profile). */
export function policyOf(params: ScanParameters): ClientPolicy {
  const p = policyProfile(params.policy ?? "postfix");
  if (!p) throw new UsageError(`scan policy "${params.policy}" is not one of ${POLICY_NAMES.join(", ")}`);
  return p;
}

function checkReadable(file: string): void {
  try {
    if (!statSync(file).isFile()) throw new UsageError(`-f ${file}: not a regular file`);
    accessSync(file, constants.R_OK);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`-f ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}

export function loadOptOut(file: string | undefined): OptOutList | undefined {
  if (file === undefined) return undefined;
  try {
    return readOptOutFile(file);
  } catch (e) {
    if (e instanceof OptOutFileError) throw new UsageError(`--opt-out: ${e.message}`);
    throw e;
  }
}

export function skipMessage(l: SeedLine, why: SeedSkip): string | undefined {
  const where =
    l.source === "argv"
      ? `argument ${l.line}`
      : l.line === 0
        ? l.source
        : `${l.source === "-" ? "stdin" : l.source}:${l.line}`;
  const shown = l.text.length > 80 ? `${l.text.slice(0, 77)}...` : l.text;
  switch (why.kind) {
    case "invalid":
      return `danesweep: ${where}: invalid domain "${shown}": ${why.error} (${why.detail})\n`;
    case "opted-out":
      return `danesweep: ${where}: ${shown} is on the opt-out list (${why.entry}); not scanned\n`;
    case "duplicate":
      return undefined;
  }
}

export interface ScanHooks {
  /** Called for every verdict (after it is written to the output). */
  onVerdict?: (r: VerdictRecord) => void;
  /** Write verdicts to the output stream (default true). */
  print?: boolean;
  /** Called with the store once the scan ends, before it is closed (benchmarks read its stats). */
  onStoreClosing?: (store: Store) => void | Promise<void>;
}

/**
 * Runs a scan and returns its exit code. Used by `scan` and `demo`.
 */
export async function executeScan(
  parsed: ReturnType<typeof parseScanArgs>,
  io: Io & { stdin?: NodeJS.ReadableStream },
  hooks: ScanHooks = {},
): Promise<{ code: number; scanId?: string }> {
  const err = (s: string) => io.stderr.write(s);
  const storeCfg = parsed.store;
  let store: Store;
  try {
    store = await openConfiguredStore(storeCfg);
  } catch (e) {
    err(`danesweep: cannot open the store (${describeStore(storeCfg)}): ${(e as Error).message}\n`);
    return { code: EXIT.failure };
  }
  try {
    const now = () => Date.now();
    const chosen = await chooseScan(store, parsed, describeStore(storeCfg), err, new Date(now()));
    if ("refused" in chosen) return chosen.refused;
    const { params, scanId } = chosen;
    if (chosen.resumed) await store.resumeScan(scanId);
    const optOut = loadOptOut(params.optOutFile);
    const trust = trustOf(params);
    const prober = new Prober({
      allowPrivate: params.allowPrivate,
      ...(optOut ? { optOut } : {}),
      ehloName: params.ehlo,
      perIpRate: params.perIpRate,
      perIpBurst: params.perIpBurst,
      perIpConcurrency: params.perIpConcurrency,
      globalConcurrency: params.probeConcurrency,
    });
    const resolver = new StubResolver({
      upstreams: params.resolvers,
      timeoutMs: params.dnsTimeoutMs,
    });
    try {
      const gate = requireValidating(await checkValidating(resolver), {
        acceptIndeterminate: params.acceptNonValidating,
      });
      if (!gate.ok) {
        err(
          `danesweep: ${gate.message}\n  (--accept-nonvalidating scans anyway, with every verdict indeterminate)\n`,
        );
        return { code: EXIT.resolverNotValidating };
      }
      if (!gate.resolverValidates)
        err(
          "danesweep: warning: the resolver does not validate DNSSEC; every verdict will be indeterminate\n",
        );
      if (parsed.resume === undefined) {
        await store.createScan({ id: scanId, parameters: params, startedAt: new Date(now()).toISOString() });
      }
      return await runWithOutput(store, scanId, params, parsed, io, hooks, {
        resolver,
        prober,
        optOut,
        trust,
        resolverValidates: gate.resolverValidates,
        now,
      });
    } finally {
      await prober.close();
      await resolver.close();
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`danesweep scan: ${e.message}\n`);
      return { code: EXIT.usage };
    }
    throw e;
  } finally {
    await hooks.onStoreClosing?.(store);
    await store.close();
  }
}

async function runWithOutput(
  store: Store,
  scanId: string,
  params: ScanParameters,
  parsed: ReturnType<typeof parseScanArgs>,
  io: Io & { stdin?: NodeJS.ReadableStream },
  hooks: ScanHooks,
  deps: {
    resolver: StubResolver;
    prober: Prober;
    optOut: OptOutList | undefined;
    trust: TrustStore;
    resolverValidates: boolean;
    now: () => number;
  },
): Promise<{ code: number; scanId: string }> {
  const err = (s: string) => io.stderr.write(s);
  const out = parsed.out;
  const print = hooks.print ?? true;
  const sink = new VerdictSink({
    format: out.format,
    ...(out.output !== undefined ? { output: out.output } : {}),
    stdout: io.stdout,
    print,
  });
  await sink.header();
  const interrupt = interruptOnSignals(
    io.stderr,
    "\ndanesweep: interrupted; finishing what is in flight and saving progress...\n",
  );

  const pipeline = new EmbeddedPipeline({
    store,
    resolver: deps.resolver,
    resolverValidates: deps.resolverValidates,
    // What each authoritative server serves for the TLSA RRsets DANE uses (issue 14), as politely as the probes.
    ...(params.nsCheck === false
      ? {}
      : {
          consistency: newConsistencyChecker({
            resolver: deps.resolver,
            allowPrivate: params.allowPrivate,
            optOut: deps.optOut,
            now: deps.now,
          }),
        }),
    prober: deps.prober,
    ...(deps.optOut ? { optOut: deps.optOut } : {}),
    now: deps.now,
    ...(io.telemetry?.tracer ? { tracing: io.telemetry.tracing("in-memory") } : {}),
  });
  const started = deps.now();
  const progress = new ProgressLine(
    io.stderr as NodeJS.WriteStream,
    () => {
      const p = pipeline.progress();
      return {
        seeded: p.seed.seeded,
        resolved: p.counters.resolved,
        probesDone: p.counters.probed,
        judged: p.delivered,
        inputDone: p.inputDone,
      };
    },
    deps.now,
  );
  if (!out.quiet) {
    err(
      `danesweep: scan ${scanId} (${describeStore(parsed.store)}; resolver ${params.resolvers.join(", ")})\n`,
    );
    progress.start();
  }
  const input =
    parsed.resume !== undefined
      ? readInputs({
          args: params.inputs.args.filter((a) => a !== "-"),
          files: params.inputs.files.filter((f) => f !== "-"),
          stdin: process.stdin,
        })
      : readInputs({ ...params.inputs, stdin: (io.stdin ?? process.stdin) as NodeJS.ReadStream });
  let result: Awaited<ReturnType<EmbeddedPipeline["run"]>>;
  try {
    result = await pipeline.run({
      scan: scanId,
      resume: parsed.resume !== undefined,
      input,
      settings: {
        probeMode: params.probeMode,
        policy: policyOf(params),
        trust: deps.trust,
        ...(params.mailPolicies === false ? { mailPolicies: false } : {}),
        ...(params.risk ? { risk: params.risk } : {}),
        port: params.port,
        resolveConcurrency: params.concurrency,
        probeConcurrency: params.probeConcurrency,
      },
      signal: interrupt.signal,
      onVerdict: async (r) => {
        await sink.row(r, scanId);
        hooks.onVerdict?.(r);
      },
      onSkip: (l, why) => {
        const m = skipMessage(l, why);
        if (m) err(m);
      },
      onDeadLetter: (n) =>
        err(`danesweep: message dead-lettered on ${n.topic} (key ${n.key}): ${n.reason}: ${n.detail}\n`),
    });
  } catch (e) {
    throw new Error(`pipeline: ${(e as Error)?.message}`, { cause: e });
  } finally {
    progress.stop();
    interrupt.dispose();
    await sink.end();
  }
  const where = "url" in parsed.store ? `--database ${parsed.store.url}` : `--data ${parsed.store.dataDir}`;
  const code = await endScan({
    store,
    scanId,
    outcome: result.state,
    ...(result.error !== undefined ? { error: result.error } : {}),
    stuck: result.stuck,
    deadLetters: result.deadLetters,
    summary: sink.summary,
    seed: result.seed,
    progress: {
      seeded: result.seed.seeded + result.republished,
      resolved: result.counters.resolved,
      probesDone: result.counters.probed,
      judged: result.delivered,
    },
    elapsedMs: deps.now() - started,
    quiet: out.quiet,
    resumeHint: `danesweep scan --resume ${scanId} ${where}`,
    now: deps.now,
    err,
  });
  return { code, scanId };
}

export async function run(argv: string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof parseScanArgs>;
  try {
    parsed = parseScanArgs(argv, Boolean((io.stdout as NodeJS.WriteStream).isTTY));
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`danesweep scan: ${e.message}\n(danesweep scan --help lists the options)\n`);
      return EXIT.usage;
    }
    throw e;
  }
  if (parsed.help) {
    io.stdout.write(SCAN_HELP);
    return EXIT.ok;
  }
  if (parsed.kafka) {
    const { executeKafkaScan } = await import("./scan-kafka.ts");
    return (await executeKafkaScan(parsed, io)).code;
  }
  return (await executeScan(parsed, io)).code;
}
