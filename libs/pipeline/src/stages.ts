/**
 * The pipeline's stages as thin shells: each consumes one envelope type, calls
 * the pure step of a library, writes to the store, publishes. The same shells
 * run in one process on the in-memory bus (`danesweep scan`) and as separate
 * services on Kafka.
 *
 *   seed:      input names -> store.seedDomains -> [domains]
 *   resolve:   [domains] -> collectDomainFacts (libs/dns) -> store facts and
 *              the probes the domain waits for -> [probe-requests] keyed by IP,
 *              [dns-facts] keyed by domain
 *   probe:     [probe-requests] -> Prober.probe (libs/probe), once per
 *              (scan, ip, port, SNI) -> store -> [probe-results]
 *   aggregate: [dns-facts] and [probe-results] -> the domains whose facts and
 *              every awaited probe are stored -> judge (libs/dane) -> store
 *              verdicts -> [verdicts]
 *
 * At-least-once: every handler is idempotent. A redelivered domain reuses the
 * facts already stored; a probe already stored is not made again; judging
 * twice writes the same row. The join state lives in the store (probe_waits),
 * written before probe requests are published, so whichever of "facts stored"
 * and "probe stored" comes last finds the other, across restarts.
 *
 * Failures: a store error is retried (the bus redelivers); a message that
 * cannot be decoded is dead-lettered by envelopeHandler with the reason.
 */
import {
  type Bus,
  encodeEnvelope,
  envelopeHandler,
  envelopeMessage,
  type HandlerOutcome,
  makeEnvelope,
  TOPICS,
} from "@danesweep/bus";
import {
  type DomainFacts,
  judge,
  type ProbeFacts,
  type ProbeKey,
  probeKeyString,
  probeTargets,
  type VerdictRecord,
} from "@danesweep/dane";
import { collectDomainFacts, type DnsQuerier } from "@danesweep/dns";
import type { Prober } from "@danesweep/probe";
import type { Store } from "@danesweep/store";

export type ProbeMode = "all" | "dane";

/** Counters a stage shell keeps for progress and metrics (per process). */
export interface StageCounters {
  resolved: number;
  probed: number;
  probesReused: number;
  judged: number;
}

export function newCounters(): StageCounters {
  return { resolved: 0, probed: 0, probesReused: 0, judged: 0 };
}

export interface ResolveStageDeps {
  bus: Bus;
  store: Store;
  resolver: DnsQuerier;
  resolverValidates: boolean;
  probeMode: ProbeMode;
  port: number;
  now: () => number;
  counters?: StageCounters;
}

const retry = (e: unknown): HandlerOutcome => ({
  kind: "retry",
  reason: (e as { code?: string })?.code ?? (e as Error)?.name ?? "error",
});

/** resolve: [domains] -> facts, waits -> [probe-requests], [dns-facts]. */
export function resolveHandler(d: ResolveStageDeps) {
  return envelopeHandler("domain", async (env) => {
    const scan = env.scan;
    const domain = env.body.domain;
    try {
      let facts = await d.store.getFacts(scan, domain);
      if (!facts) {
        facts = await collectDomainFacts(d.resolver, domain, {
          port: d.port,
          now: d.now,
          resolverValidates: d.resolverValidates,
        });
      }
      const targets = probeTargets(facts, { probeMode: d.probeMode });
      const keys = uniqueKeys(targets);
      await d.store.upsertFacts(scan, [facts]);
      await d.store.addProbeWaits(scan, [{ domain: facts.domain, keys }]);
      const mxHostOf = new Map(targets.map((t) => [probeKeyString(t), t.mxHost]));
      await d.bus.publish([
        ...keys.map((k) =>
          envelopeMessage(
            TOPICS.probeRequests,
            k.ip,
            makeEnvelope("probe-request", scan, {
              ip: k.ip,
              port: k.port,
              sni: k.sni,
              mxHost: mxHostOf.get(probeKeyString(k)) ?? k.sni,
              domain: facts.domain,
            }),
          ),
        ),
        envelopeMessage(TOPICS.dnsFacts, facts.domain, makeEnvelope("dns-facts", scan, { facts })),
      ]);
      if (d.counters) d.counters.resolved++;
      return { kind: "ack" };
    } catch (e) {
      return retry(e);
    }
  });
}

function uniqueKeys(targets: ProbeKey[]): ProbeKey[] {
  const seen = new Map<string, ProbeKey>();
  for (const t of targets) seen.set(probeKeyString(t), { ip: t.ip, port: t.port, sni: t.sni });
  return [...seen.values()];
}

export interface ProbeStageDeps {
  bus: Bus;
  store: Store;
  prober: Prober;
  counters?: StageCounters;
}

/** probe: [probe-requests] -> one probe per (scan, ip, port, SNI) -> [probe-results]. */
export function probeHandler(d: ProbeStageDeps) {
  return envelopeHandler("probe-request", async (env) => {
    const scan = env.scan;
    const key = { ip: env.body.ip, port: env.body.port, sni: env.body.sni };
    try {
      let facts = await d.store.getProbe(scan, key);
      if (facts) {
        if (d.counters) d.counters.probesReused++;
      } else {
        facts = await d.prober.probe({ ...key, mxHost: env.body.mxHost });
        await d.store.upsertProbe(scan, facts);
        if (d.counters) d.counters.probed++;
      }
      await d.bus.publish([
        envelopeMessage(TOPICS.probeResults, facts.ip, makeEnvelope("probe-result", scan, { facts })),
      ]);
      return { kind: "ack" };
    } catch (e) {
      return retry(e);
    }
  });
}

export interface AggregateStageDeps {
  bus: Bus;
  store: Store;
  probeMode: ProbeMode;
  now: () => number;
  counters?: StageCounters;
  /** Domains judged per store batch (default 200). */
  batch?: number;
  /** Publish each verdict to [verdicts] for downstream consumers (off on the embedded default, where nothing reads it). */
  publishVerdicts?: boolean;
}

/** Judges the given ready domains and stores their verdicts (batched). */
export async function judgeAndStore(d: AggregateStageDeps, scan: string, domains: string[]): Promise<void> {
  const size = d.batch ?? 200;
  for (let i = 0; i < domains.length; i += size) {
    const records: VerdictRecord[] = [];
    for (const domain of domains.slice(i, i + size)) {
      const facts: DomainFacts | undefined = await d.store.getFacts(scan, domain);
      if (!facts) continue;
      const keys = await d.store.probeWaitsOf(scan, domain);
      const probes = new Map<string, ProbeFacts>(
        (await d.store.getProbes(scan, keys)).map((p) => [probeKeyString(p), p]),
      );
      records.push(
        judge(facts, (k) => probes.get(probeKeyString(k)), { now: d.now(), probeMode: d.probeMode }),
      );
    }
    if (records.length === 0) continue;
    await d.store.upsertVerdicts(scan, records);
    if (d.counters) d.counters.judged += records.length;
    if (!d.publishVerdicts) continue;
    await d.bus.publish(
      records.map((record) => ({
        topic: TOPICS.verdicts,
        key: record.domain,
        value: encodeEnvelope("verdict", scan, { record }),
      })),
    );
  }
}

/** aggregate, on [dns-facts]: judge the domain if every probe it waits for is stored. */
export function aggregateFactsHandler(d: AggregateStageDeps) {
  return envelopeHandler("dns-facts", async (env) => {
    try {
      const ready = await d.store.readyToJudge(env.scan, { domains: [env.body.facts.domain] });
      await judgeAndStore(d, env.scan, ready);
      return { kind: "ack" };
    } catch (e) {
      return retry(e);
    }
  });
}

/** aggregate, on [probe-results]: judge every domain this probe completed. */
export function aggregateProbeHandler(d: AggregateStageDeps) {
  return envelopeHandler("probe-result", async (env) => {
    const f = env.body.facts;
    try {
      const ready = await d.store.readyToJudge(env.scan, { probe: { ip: f.ip, port: f.port, sni: f.sni } });
      await judgeAndStore(d, env.scan, ready);
      return { kind: "ack" };
    } catch (e) {
      return retry(e);
    }
  });
}

/** The topics of the pipeline with their partition counts. */
export function pipelineTopics(partitions: number, replication = 1) {
  return Object.values(TOPICS).map((name) => ({ name, partitions, replication }));
}
