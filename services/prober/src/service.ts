/**
 * The prober service: the "probe" stage of the stage table (libs/pipeline
 * stage-table.ts): consumes [probe-requests] (keyed by destination IP, so one
 * instance owns each IP and the per-IP limits hold across the whole
 * deployment), makes each (scan, ip, port, SNI) probe once through the guarded
 * dialer of libs/probe, stores it and sends its result to every domain that
 * asked, on [domain-facts]. Run: node services/prober/src/main.ts (settings:
 * --help).
 *
 * DANESWEEP_LOG_PROBES=true logs one "probe dialed" line per probe actually
 * made (ip, port, sni, status, and kind for an MTA-STS policy fetch): what
 * the rebalance test counts.
 * The opt-out file is read and checked at start: an unreadable or invalid
 * file refuses the start (exit 2).
 */
import { hostname } from "node:os";
import type { ProbeFacts } from "@danesweep/dane";
import { newCounters, pipelineTopics, STAGES, startStage } from "@danesweep/pipeline";
import { type ProbeRequest, Prober, type ProberOptions, readOptOutFile } from "@danesweep/probe";
import {
  counterOf,
  gaugeOf,
  type Logger,
  readSettingFile,
  type ServiceSpec,
  StartRefused,
} from "@danesweep/runtime";
import { Type } from "@sinclair/typebox";

function defaultEhlo(): string {
  const h = hostname();
  return h.includes(".") && /^[a-z0-9.-]+$/i.test(h) ? h.toLowerCase() : "danesweep.invalid";
}

const int = (min: number, max: number) => Type.Integer({ minimum: min, maximum: max });

export const fields = {
  allowPrivate: {
    env: "DANESWEEP_ALLOW_PRIVATE",
    schema: Type.Boolean(),
    default: false,
    doc: "allow non-public addresses (testbeds only)",
  },
  ehlo: {
    env: "DANESWEEP_EHLO",
    schema: Type.String({ minLength: 1, maxLength: 255 }),
    default: defaultEhlo(),
    doc: "name sent in EHLO",
  },
  perIpRate: {
    env: "DANESWEEP_PER_IP_RATE",
    schema: Type.Number({ minimum: 0.001, maximum: 10_000 }),
    default: 1,
    doc: "new connections per second per destination IP",
  },
  perIpBurst: {
    env: "DANESWEEP_PER_IP_BURST",
    schema: int(1, 10_000),
    default: 2,
    doc: "token bucket size per IP",
  },
  perIpConcurrency: {
    env: "DANESWEEP_PER_IP_CONCURRENCY",
    schema: int(1, 1000),
    default: 2,
    doc: "connections at once per destination IP",
  },
  probeConcurrency: {
    env: "DANESWEEP_PROBE_CONCURRENCY",
    schema: int(1, 20_000),
    default: 500,
    doc: "connections at once overall",
  },
  concurrency: {
    env: "DANESWEEP_CONCURRENCY",
    schema: int(1, 100_000),
    default: STAGES.probe.concurrency,
    doc: "probe requests held at once (most wait for a probe another request started)",
  },
  optOutFile: {
    env: "DANESWEEP_OPT_OUT",
    schema: Type.String(),
    default: "",
    doc: "opt-out list file (addresses, CIDRs, host:NAME, domain:NAME); empty: none",
  },
  connectTimeoutMs: {
    env: "DANESWEEP_CONNECT_TIMEOUT_MS",
    schema: int(100, 120_000),
    default: 10_000,
    doc: "TCP connect timeout",
  },
  commandTimeoutMs: {
    env: "DANESWEEP_COMMAND_TIMEOUT_MS",
    schema: int(100, 300_000),
    default: 30_000,
    doc: "time allowed for each SMTP reply and the TLS handshake",
  },
  deadlineMs: {
    env: "DANESWEEP_PROBE_DEADLINE_MS",
    schema: int(500, 600_000),
    default: 60_000,
    doc: "whole-probe deadline",
  },
  logProbes: {
    env: "DANESWEEP_LOG_PROBES",
    schema: Type.Boolean(),
    default: false,
    doc: "log one line per probe dialed",
  },
};

/** A Prober that logs each probe it actually makes. */
class LoggingProber extends Prober {
  readonly #log: Logger;
  constructor(o: ProberOptions, log: Logger) {
    super(o);
    this.#log = log;
  }
  override async probe(req: ProbeRequest): Promise<ProbeFacts> {
    const f = await super.probe(req);
    this.#log.info("probe dialed", {
      ip: f.ip,
      port: f.port,
      sni: f.sni,
      status: f.status,
      ...(f.kind ? { kind: f.kind } : {}),
    });
    return f;
  }
}

export const proberService: ServiceSpec<typeof fields> = {
  name: "prober",
  summary: STAGES.probe.summary,
  fields,
  async start(ctx) {
    const c = ctx.config;
    const optOut =
      c.optOutFile === ""
        ? undefined
        : readSettingFile("DANESWEEP_OPT_OUT", () => readOptOutFile(c.optOutFile));
    const options: ProberOptions = {
      allowPrivate: c.allowPrivate,
      ...(optOut ? { optOut } : {}),
      ehloName: c.ehlo,
      perIpRate: c.perIpRate,
      perIpBurst: c.perIpBurst,
      perIpConcurrency: c.perIpConcurrency,
      globalConcurrency: c.probeConcurrency,
      connectTimeoutMs: c.connectTimeoutMs,
      commandTimeoutMs: c.commandTimeoutMs,
      deadlineMs: c.deadlineMs,
    };
    let prober: Prober;
    try {
      prober = c.logProbes ? new LoggingProber(options, ctx.log) : new Prober(options);
    } catch (e) {
      throw new StartRefused(
        `invalid prober setting: ${(e as { field?: string }).field ?? (e as Error).message}`,
        2,
      );
    }
    try {
      await ctx.retryStart("create topics", () =>
        ctx.bus.ensureTopics(pipelineTopics(c.partitions, c.replication)),
      );
      const counters = newCounters();
      await startStage(
        "probe",
        {
          bus: ctx.bus,
          store: ctx.store,
          prober,
          probeMode: "all",
          port: 25,
          now: () => Date.now(),
          counters,
          // A claim outlives the probe deadline by 15 s: after that its owner is taken as dead.
          claimTtlMs: c.deadlineMs + 15_000,
          // Each probe's facts cross the bus once; the other domains that asked get its key.
          probeByReference: true,
          ...(ctx.tracing ? { tracing: ctx.tracing } : {}),
        },
        { consume: ctx.consume, concurrency: c.concurrency, groupPrefix: c.groupPrefix },
      );
      const reg = ctx.metrics;
      counterOf(reg, "danesweep_probes_made_total", "Probes made by this instance", () => counters.probed);
      counterOf(
        reg,
        "danesweep_probes_reused_total",
        "Probe requests answered with a probe made for another request",
        () => counters.probesReused,
      );
      gaugeOf(reg, "danesweep_probes_active", "Probes connecting or talking", () => prober.stats().active);
      gaugeOf(
        reg,
        "danesweep_probes_waiting",
        "Probes waiting for a per-IP or global slot",
        () => prober.stats().waiting,
      );
      counterOf(
        reg,
        "danesweep_probes_finished_total",
        "Probes finished by status",
        () =>
          Object.entries(prober.stats().byStatus).map(([status, n]) => ({ labels: { status }, value: n })),
        ["status"],
      );
      return { stop: () => prober.close() };
    } catch (e) {
      await prober.close();
      throw e;
    }
  },
};
