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

import { randomUUID } from "node:crypto";
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
import { type BatchOptions, MicroBatcher } from "./batch.ts";

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
  batch?: BatchOptions;
}

/** Store batching defaults: up to 200 rows per statement, at most 10 ms of added latency. */
export const DEFAULT_BATCH: BatchOptions = { maxItems: 200, maxDelayMs: 10 };

const retry = (e: unknown): HandlerOutcome => ({
  kind: "retry",
  reason: (e as { code?: string })?.code ?? (e as Error)?.name ?? "error",
});

type ScanItem<T> = { scan: string } & T;

/** Groups batch items by scan (a batch may mix scans on a shared deployment). */
async function perScan<T, O>(
  items: ScanItem<T>[],
  fn: (scan: string, items: ScanItem<T>[]) => Promise<Map<ScanItem<T>, O>>,
): Promise<O[]> {
  const byScan = new Map<string, ScanItem<T>[]>();
  for (const it of items) {
    const l = byScan.get(it.scan);
    if (l) l.push(it);
    else byScan.set(it.scan, [it]);
  }
  const out = new Map<ScanItem<T>, O>();
  for (const [scan, list] of byScan) for (const [k, v] of await fn(scan, list)) out.set(k, v);
  return items.map((it) => out.get(it) as O);
}

/** resolve: [domains] -> facts, waits -> [probe-requests], [dns-facts]. */
export function resolveHandler(d: ResolveStageDeps) {
  const opts = d.batch ?? DEFAULT_BATCH;
  const reader = new MicroBatcher<ScanItem<{ domain: string }>, DomainFacts | undefined>(
    (items) =>
      perScan(items, async (scan, list) => {
        const found = await d.store.getFactsMany(
          scan,
          list.map((i) => i.domain),
        );
        return new Map(list.map((i) => [i, found.get(i.domain)]));
      }),
    opts,
  );
  const writer = new MicroBatcher<ScanItem<{ facts: DomainFacts; keys: ProbeKey[] }>, void>(
    (items) =>
      perScan(items, async (scan, list) => {
        await d.store.upsertFacts(
          scan,
          list.map((i) => i.facts),
        );
        await d.store.addProbeWaits(
          scan,
          list.map((i) => ({ domain: i.facts.domain, keys: i.keys })),
        );
        return new Map(list.map((i) => [i, undefined]));
      }),
    opts,
  );
  return envelopeHandler("domain", async (env) => {
    const scan = env.scan;
    const domain = env.body.domain;
    try {
      let facts = await reader.submit({ scan, domain });
      if (!facts) {
        facts = await collectDomainFacts(d.resolver, domain, {
          port: d.port,
          now: d.now,
          resolverValidates: d.resolverValidates,
        });
      }
      const targets = probeTargets(facts, { probeMode: d.probeMode });
      const keys = uniqueKeys(targets);
      // Facts and waits are durable before any request is published (the join's invariant).
      await writer.submit({ scan, facts, keys });
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
  batch?: BatchOptions;
  /** Clock for probe claims (default Date.now). */
  now?: () => number;
  /** Identity of this prober instance in probe claims (default: random per handler). */
  owner?: string;
  /** A claim older than this is stale (its owner died): default 75 s, the prober's default deadline plus 15 s. */
  claimTtlMs?: number;
  /** How often a prober that lost the claim looks for the winner's result (default 250 ms). */
  claimPollMs?: number;
}

/** probe: [probe-requests] -> one probe per (scan, ip, port, SNI) -> [probe-results]. */
export function probeHandler(d: ProbeStageDeps) {
  const opts = d.batch ?? DEFAULT_BATCH;
  const reader = new MicroBatcher<ScanItem<{ key: ProbeKey }>, ProbeFacts | undefined>(
    (items) =>
      perScan(items, async (scan, list) => {
        const found = new Map(
          (
            await d.store.getProbes(
              scan,
              list.map((i) => i.key),
            )
          ).map((p) => [probeKeyString(p), p]),
        );
        return new Map(list.map((i) => [i, found.get(probeKeyString(i.key))]));
      }),
    opts,
  );
  const writer = new MicroBatcher<ScanItem<{ facts: ProbeFacts }>, void>(
    (items) =>
      perScan(items, async (scan, list) => {
        await d.store.upsertProbes(
          scan,
          list.map((i) => i.facts),
        );
        return new Map(list.map((i) => [i, undefined]));
      }),
    opts,
  );
  // A probe is announced on [probe-results] once (the flag is stored); a request
  // that reuses a stored probe announces it again only if that never happened
  // (its prober died between storing and announcing).
  const unannounced = new MicroBatcher<ScanItem<{ key: ProbeKey }>, boolean>(
    (items) =>
      perScan(items, async (scan, list) => {
        const open = await d.store.unannouncedProbes(
          scan,
          list.map((i) => i.key),
        );
        return new Map(list.map((i) => [i, open.has(probeKeyString(i.key))]));
      }),
    opts,
  );
  const announced = new MicroBatcher<ScanItem<{ key: ProbeKey }>, void>(
    (items) =>
      perScan(items, async (scan, list) => {
        await d.store.markProbesAnnounced(
          scan,
          list.map((i) => i.key),
        );
        return new Map(list.map((i) => [i, undefined]));
      }),
    opts,
  );
  const now = d.now ?? Date.now;
  const owner = d.owner ?? `prober-${randomUUID()}`;
  const ttl = d.claimTtlMs ?? 75_000;
  const poll = d.claimPollMs ?? 250;
  const claim = (scan: string, key: ProbeKey) => {
    const t = now();
    return d.store.claimProbe(scan, key, owner, new Date(t).toISOString(), new Date(t - ttl).toISOString());
  };
  // One probe per (scan, ip, port, SNI) across every prober instance: dial only
  // under the claim; otherwise wait for the claimant's stored result (or take
  // the claim over once it is stale).
  /** The probe's facts, and whether this call dialed it (else another request's result was reused). */
  const probeOnce = async (
    scan: string,
    key: ProbeKey,
    mxHost: string,
  ): Promise<{ facts: ProbeFacts; dialed: boolean }> => {
    for (;;) {
      if (await claim(scan, key)) {
        const facts = await d.prober.probe({ ...key, mxHost });
        await writer.submit({ scan, facts });
        if (d.counters) d.counters.probed++;
        return { facts, dialed: true };
      }
      const deadline = now() + ttl;
      while (now() < deadline) {
        await new Promise((r) => setTimeout(r, poll));
        const stored = await reader.submit({ scan, key });
        if (stored) return { facts: stored, dialed: false };
      }
    }
  };
  return envelopeHandler("probe-request", async (env) => {
    const scan = env.scan;
    const key = { ip: env.body.ip, port: env.body.port, sni: env.body.sni };
    try {
      const stored = await reader.submit({ scan, key });
      const { facts, dialed } = stored
        ? { facts: stored, dialed: false }
        : await probeOnce(scan, key, env.body.mxHost);
      if (!dialed) {
        if (d.counters) d.counters.probesReused++;
        if (!(await unannounced.submit({ scan, key }))) return { kind: "ack" };
      }
      await d.bus.publish([
        envelopeMessage(
          TOPICS.probeResults,
          probeKeyString(facts),
          makeEnvelope("probe-result", scan, { facts }),
        ),
      ]);
      await announced.submit({ scan, key });
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
  batch?: BatchOptions;
  /** Publish each verdict to [verdicts] for downstream consumers (off on the embedded default, where nothing reads it). */
  publishVerdicts?: boolean;
}

/** Judges the given ready domains of a scan and stores their verdicts (batched). */
export async function judgeAndStore(d: AggregateStageDeps, scan: string, domains: string[]): Promise<void> {
  const size = 500;
  for (let i = 0; i < domains.length; i += size) {
    const chunk = domains.slice(i, i + size);
    const facts = await d.store.getFactsMany(scan, chunk);
    // The probes a domain needs come from its facts (as the resolver computed its waits), not from
    // probe_waits: another judge of the same domain (a second aggregator instance, or the other
    // lane) may have judged it and removed its waits meanwhile.
    const needs = new Map<string, ProbeKey[]>();
    const keys = new Map<string, ProbeKey>();
    for (const [domain, f] of facts) {
      const ks = uniqueKeys(probeTargets(f, { probeMode: d.probeMode }));
      needs.set(domain, ks);
      for (const k of ks) keys.set(probeKeyString(k), k);
    }
    const probes = new Map<string, ProbeFacts>(
      (await d.store.getProbes(scan, [...keys.values()])).map((p) => [probeKeyString(p), p]),
    );
    const records: VerdictRecord[] = [];
    for (const domain of chunk) {
      const f = facts.get(domain);
      if (!f) continue;
      // Never judge a domain with a probe missing (it would read "not probed"); its probe's result judges it.
      if (!(needs.get(domain) ?? []).every((k) => probes.has(probeKeyString(k)))) continue;
      records.push(judge(f, (k) => probes.get(probeKeyString(k)), { now: d.now(), probeMode: d.probeMode }));
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

/**
 * The aggregator's two handlers, sharing one judging lane: on [dns-facts], the
 * domain is judged if every probe it waits for is stored; on [probe-results],
 * every domain that probe completed is judged. Both batch their checks.
 */
export function aggregateHandlers(d: AggregateStageDeps) {
  const opts = d.batch ?? DEFAULT_BATCH;
  const byDomain = new MicroBatcher<ScanItem<{ domain: string }>, void>(
    (items) =>
      perScan(items, async (scan, list) => {
        const ready = await d.store.readyToJudge(scan, { domains: [...new Set(list.map((i) => i.domain))] });
        await judgeAndStore(d, scan, ready);
        return new Map(list.map((i) => [i, undefined]));
      }),
    opts,
  );
  const byProbe = new MicroBatcher<ScanItem<{ key: ProbeKey }>, void>(
    (items) =>
      perScan(items, async (scan, list) => {
        const keys = new Map(list.map((i) => [probeKeyString(i.key), i.key]));
        const ready = await d.store.readyToJudge(scan, { probes: [...keys.values()] });
        await judgeAndStore(d, scan, ready);
        return new Map(list.map((i) => [i, undefined]));
      }),
    opts,
  );
  return {
    facts: envelopeHandler("dns-facts", async (env) => {
      try {
        await byDomain.submit({ scan: env.scan, domain: env.body.facts.domain });
        return { kind: "ack" };
      } catch (e) {
        return retry(e);
      }
    }),
    probe: envelopeHandler("probe-result", async (env) => {
      const f = env.body.facts;
      try {
        await byProbe.submit({ scan: env.scan, key: { ip: f.ip, port: f.port, sni: f.sni } });
        return { kind: "ack" };
      } catch (e) {
        return retry(e);
      }
    }),
  };
}

/** aggregate, on [dns-facts] (see aggregateHandlers). */
export function aggregateFactsHandler(d: AggregateStageDeps) {
  return aggregateHandlers(d).facts;
}

/** aggregate, on [probe-results] (see aggregateHandlers). */
export function aggregateProbeHandler(d: AggregateStageDeps) {
  return aggregateHandlers(d).probe;
}

/** The topics of the pipeline with their partition counts. */
export function pipelineTopics(partitions: number, replication = 1) {
  return Object.values(TOPICS).map((name) => ({ name, partitions, replication }));
}
