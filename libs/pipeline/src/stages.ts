/**
 * The pipeline's stages as thin shells: each consumes one topic, calls the
 * pure step of a library, writes to the store in batches, publishes. The
 * same shells run in one process on the in-memory bus (`danesweep scan`) and
 * as separate services on Kafka; stage-table.ts wires them for both.
 *
 *   resolve:   [domains] -> collectDomainFacts (libs/dns, MTA-STS and TLS-RPT
 *              included) -> [probe-requests] keyed by IP (one per probe the
 *              domain needs, naming the domain; its MTA-STS policy fetch is
 *              one of kind "mta-sts-policy") and the facts on [domain-facts]
 *              keyed by domain. No store I/O.
 *   probe:     [probe-requests] -> the probe's facts, made once per (scan,
 *              ip, port, SNI) (libs/probe; claimed in the store so that two
 *              prober instances never dial the same) -> the result on
 *              [domain-facts], addressed to the domain that asked.
 *   aggregate: [domain-facts] -> the join: a domain is judged (libs/dane) as
 *              soon as its facts and every probe result it needs are in
 *              hand, and its facts and verdict are stored in one batch.
 *
 * Data travels once: facts are validated where they enter (the bus
 * boundary, envelope.ts) and then trusted; the aggregator judges from the
 * messages it is handed and never reads back what another stage wrote, except
 * for a probe whose result it did not receive (after a restart or a duplicate:
 * see AggregateJoin).
 *
 * At-least-once: a message is acknowledged only after its effects are durable
 * (the aggregator's only once its domain's verdict is stored), so a crash
 * redelivers, and every write is idempotent (the first verdict of a domain in
 * a scan stays).
 *
 * Failures: an error whose code says it can be retried (StoreError
 * "unavailable", a Kafka publish failure) is retried by the bus; any other is
 * a dead letter at once, with its code (outcomeOf).
 */

import { randomUUID } from "node:crypto";
import {
  type Bus,
  encodeWithRawBody,
  envelopeHandler,
  envelopeMessage,
  envelopesHandler,
  type HandlerOutcome,
  HEADER,
  makeEnvelope,
  type OutgoingMessage,
  schemaHeader,
  TOPICS,
} from "@danesweep/bus";
import {
  type ClientPolicy,
  type DomainFacts,
  judge,
  type ProbeFacts,
  type ProbeKey,
  type ProbeKind,
  policyFetchTarget,
  probeKeyString,
  probeTargets,
  type TrustStore,
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

/** Store batching defaults: up to 500 rows per statement, at most 50 ms of added latency. */
export const DEFAULT_BATCH: BatchOptions = { maxItems: 500, maxDelayMs: 50 };

/**
 * Errors after which a stage cannot go on at all (the store is full): the
 * runner stops the scan (resumable) instead of dead-lettering every message.
 */
export function isFatal(e: unknown): boolean {
  return (e as { code?: unknown } | undefined)?.code === "storage-full";
}

/**
 * What a failed handler asks of the bus: retry when the error's code says the
 * same call may succeed later (`canRetry`), else a dead letter at once.
 */
export function outcomeOf(e: unknown): HandlerOutcome {
  const err = e as { code?: unknown; canRetry?: unknown; message?: unknown; name?: unknown } | undefined;
  const code = typeof err?.code === "string" ? err.code : typeof err?.name === "string" ? err.name : "error";
  if (err?.canRetry === true) return { kind: "retry", reason: code };
  const message = typeof err?.message === "string" ? err.message : String(e);
  return {
    kind: "dead-letter",
    reason: "handler-rejected",
    detail: (message.startsWith(`${code}: `) ? message : `${code}: ${message}`).slice(0, 500),
  };
}

/** Groups batch items by scan (a batch may mix scans on a shared deployment). */
async function perScan<T extends { scan: string }, O>(
  items: T[],
  fn: (scan: string, items: T[]) => Promise<Map<T, O>>,
): Promise<O[]> {
  const byScan = new Map<string, T[]>();
  for (const it of items) {
    const l = byScan.get(it.scan);
    if (l) l.push(it);
    else byScan.set(it.scan, [it]);
  }
  const out = new Map<T, O>();
  for (const [scan, list] of byScan) for (const [k, v] of await fn(scan, list)) out.set(k, v);
  return items.map((it) => out.get(it) as O);
}

/** One probe a domain needs: its key, the host it names, and what kind of probe it is. */
export interface ProbeNeed extends ProbeKey {
  mxHost: string;
  kind?: ProbeKind;
}

/**
 * The distinct probes a domain's facts call for, in route order (libs/dane
 * probeTargets), then its MTA-STS policy fetch (libs/dane policyFetchTarget)
 * when it has one: what the resolver asks for and the judge needs.
 */
export function probeNeeds(facts: DomainFacts, probeMode: ProbeMode, policy?: ClientPolicy): ProbeNeed[] {
  const seen = new Map<string, ProbeNeed>();
  for (const t of probeTargets(facts, policy ? { probeMode, policy } : { probeMode })) {
    const k = { ip: t.ip, port: t.port, sni: t.sni };
    const key = probeKeyString(k);
    if (!seen.has(key)) seen.set(key, { ...k, mxHost: t.mxHost });
  }
  const f = policyFetchTarget(facts);
  if (f) seen.set(probeKeyString(f), { ip: f.ip, port: f.port, sni: f.sni, mxHost: f.host, kind: f.kind });
  return [...seen.values()];
}

/** The distinct probe keys of a domain's facts (probeNeeds without the rest). */
export function neededProbes(facts: DomainFacts, probeMode: ProbeMode, policy?: ClientPolicy): ProbeKey[] {
  return probeNeeds(facts, probeMode, policy).map((n) => ({ ip: n.ip, port: n.port, sni: n.sni }));
}

// ------------------------------------------------------------------ resolve

export interface ResolveStageDeps {
  bus: Bus;
  resolver: DnsQuerier;
  resolverValidates: boolean;
  probeMode: ProbeMode;
  /** The client policy profile (libs/dane policy.ts); default Postfix's. Must be the aggregator's. */
  policy?: ClientPolicy;
  port: number;
  now: () => number;
  counters?: StageCounters;
  /** Also collect MTA-STS and TLS-RPT (libs/dns mailPolicies) and request the policy fetch; default true. */
  mailPolicies?: boolean;
}

/** resolve: [domains] -> [probe-requests] (keyed by IP), facts on [domain-facts] (keyed by domain). */
export function resolveHandler(d: ResolveStageDeps) {
  return envelopeHandler("domain", async (env) => {
    const scan = env.scan;
    try {
      const facts = await collectDomainFacts(d.resolver, env.body.domain, {
        port: d.port,
        now: d.now,
        resolverValidates: d.resolverValidates,
        mailPolicies: d.mailPolicies ?? true,
      });
      const needs = probeNeeds(facts, d.probeMode, d.policy);
      await d.bus.publish([
        envelopeMessage(TOPICS.domainFacts, facts.domain, makeEnvelope("dns-facts", scan, { facts })),
        ...needs.map((n) =>
          envelopeMessage(
            TOPICS.probeRequests,
            n.ip,
            makeEnvelope("probe-request", scan, { ...n, domain: facts.domain }),
          ),
        ),
      ]);
      if (d.counters) d.counters.resolved++;
      return { kind: "ack" };
    } catch (e) {
      return outcomeOf(e);
    }
  });
}

// -------------------------------------------------------------------- probe

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
  /** Bytes of serialised probe facts kept in memory for requests that share a probe (default 32 MiB). */
  cacheBytes?: number;
  /** Called with an error after which the stage cannot go on (isFatal). */
  onFatal?: (e: unknown) => void;
  /**
   * Claim each probe in the store before dialing it (default true): needed
   * when several prober instances share a deployment (a rebalance can hand
   * an IP's requests to a new owner mid-probe). A single prober (the embedded
   * scan) needs none: its in-memory coalescing and the stored probes suffice.
   */
  claims?: boolean;
}

/** A probe's facts and their JSON text (made once, sent to every domain that asked). */
interface MadeProbe {
  facts: ProbeFacts;
  json: string;
}

function made(facts: ProbeFacts): MadeProbe {
  return { facts, json: JSON.stringify(facts) };
}

/** A bounded LRU of made probes (scan|key -> facts and JSON text), sized by the text's bytes. */
export class ProbeCache {
  readonly #max: number;
  readonly #map = new Map<string, MadeProbe>();
  #bytes = 0;
  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }
  get(k: string): MadeProbe | undefined {
    const v = this.#map.get(k);
    if (v !== undefined) {
      this.#map.delete(k);
      this.#map.set(k, v);
    }
    return v;
  }
  set(k: string, v: MadeProbe): void {
    const old = this.#map.get(k);
    if (old !== undefined) {
      this.#bytes -= 2 * old.json.length;
      this.#map.delete(k);
    }
    this.#map.set(k, v);
    this.#bytes += 2 * v.json.length;
    for (const [key, val] of this.#map) {
      if (this.#bytes <= this.#max) break;
      this.#map.delete(key);
      this.#bytes -= 2 * val.json.length;
    }
  }
  get bytes(): number {
    return this.#bytes;
  }
}

/** probe: [probe-requests] -> one probe per (scan, ip, port, SNI) -> its result on [domain-facts], for the domain that asked. */
export function probeHandler(d: ProbeStageDeps) {
  const opts = d.batch ?? DEFAULT_BATCH;
  type Item = { scan: string; key: ProbeKey };
  const reader = new MicroBatcher<Item, ProbeFacts | undefined>(
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
  const now = d.now ?? Date.now;
  const owner = d.owner ?? `prober-${randomUUID()}`;
  const ttl = d.claimTtlMs ?? 75_000;
  const poll = d.claimPollMs ?? 250;
  const claimer = new MicroBatcher<Item, boolean>(
    (items) =>
      perScan(items, async (scan, list) => {
        const t = now();
        const mine = await d.store.claimProbes(
          scan,
          list.map((i) => i.key),
          owner,
          new Date(t).toISOString(),
          new Date(t - ttl).toISOString(),
        );
        return new Map(list.map((i) => [i, mine.has(probeKeyString(i.key))]));
      }),
    opts,
  );
  const writer = new MicroBatcher<{ scan: string; facts: ProbeFacts }, void>(
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
  const cache = new ProbeCache(d.cacheBytes ?? 32 * 1024 * 1024);
  /** Probes being made or looked up now, shared by the requests that arrive meanwhile. */
  const inflight = new Map<string, Promise<MadeProbe>>();

  // One probe per (scan, ip, port, SNI) across every prober instance: look in
  // the store first, dial only under the claim, otherwise wait for the
  // claimant's stored result (or take the claim over once it is stale).
  const obtain = async (
    scan: string,
    key: ProbeKey,
    mxHost: string,
    kind: ProbeKind | undefined,
  ): Promise<MadeProbe> => {
    const stored = await reader.submit({ scan, key });
    if (stored) {
      if (d.counters) d.counters.probesReused++;
      return made(stored);
    }
    for (;;) {
      if (d.claims === false || (await claimer.submit({ scan, key }))) {
        const facts = await d.prober.probe({ ...key, mxHost, ...(kind ? { kind } : {}) });
        await writer.submit({ scan, facts });
        if (d.counters) d.counters.probed++;
        return made(facts);
      }
      const deadline = now() + ttl;
      while (now() < deadline) {
        await new Promise((r) => setTimeout(r, poll));
        const theirs = await reader.submit({ scan, key });
        if (theirs) {
          if (d.counters) d.counters.probesReused++;
          return made(theirs);
        }
      }
    }
  };

  return envelopeHandler("probe-request", async (env) => {
    const scan = env.scan;
    const key = { ip: env.body.ip, port: env.body.port, sni: env.body.sni };
    const ck = `${scan}|${probeKeyString(key)}`;
    try {
      let probe = cache.get(ck);
      if (probe === undefined) {
        let p = inflight.get(ck);
        if (p) {
          if (d.counters) d.counters.probesReused++;
        } else {
          p = obtain(scan, key, env.body.mxHost, env.body.kind).finally(() => inflight.delete(ck));
          inflight.set(ck, p);
        }
        probe = await p;
        cache.set(ck, probe);
      } else if (d.counters) d.counters.probesReused++;
      await d.bus.publish([probeResultMessage(scan, env.body.domain, probe.facts, probe.json)]);
      return { kind: "ack" };
    } catch (e) {
      if (isFatal(e)) d.onFatal?.(e);
      return outcomeOf(e);
    }
  });
}

/**
 * The [domain-facts] message carrying a probe's facts to one domain that asked
 * for it: the JSON text is assembled from the facts' own (made once per
 * probe), and the envelope object shares the facts object (an in-process bus
 * hands it over as it is).
 */
export function probeResultMessage(
  scan: string,
  domain: string,
  facts: ProbeFacts,
  factsJson: string,
): OutgoingMessage {
  return {
    topic: TOPICS.domainFacts,
    key: domain,
    value: encodeWithRawBody(
      "probe-result",
      scan,
      `{"domain":${JSON.stringify(domain)},"facts":${factsJson}}`,
    ),
    headers: { [HEADER.schema]: schemaHeader("probe-result") },
    decoded: makeEnvelope("probe-result", scan, { domain, facts }),
  };
}

// ---------------------------------------------------------------- aggregate

export interface AggregateStageDeps {
  bus: Bus;
  store: Store;
  probeMode: ProbeMode;
  /** The client policy profile (libs/dane policy.ts); default Postfix's. Must be the resolver's. */
  policy?: ClientPolicy;
  /** The WebPKI roots MTA-STS is judged with (libs/dane trustStore); without, no certificate is judged for it. */
  trust?: TrustStore;
  now: () => number;
  counters?: StageCounters;
  batch?: BatchOptions;
  /** Publish each verdict to [verdicts] for downstream consumers (off on the embedded default, where nothing reads it). */
  publishVerdicts?: boolean;
  /** Called with the records stored for the first time, once they are durable (the embedded scan prints them). */
  onJudged?: (scan: string, records: VerdictRecord[]) => void | Promise<void>;
  /**
   * How long a domain waits for a probe result before the aggregator looks for
   * the probe in the store, and how long a probe result waits for its
   * domain's facts before it is let go (default 60 s).
   */
  joinTimeoutMs?: number;
  /** Called with an error after which the stage cannot go on (isFatal). */
  onFatal?: (e: unknown) => void;
}

interface Waiter {
  resolve: (o: HandlerOutcome) => void;
}

/** A domain being joined: its facts once they came, the probe results it has, and the messages waiting on it. */
interface Pending {
  scan: string;
  domain: string;
  facts?: DomainFacts;
  needs?: ProbeKey[];
  probes: Map<string, ProbeFacts>;
  waiters: Waiter[];
  since: number;
  /** Set once the domain went to the writer. */
  judging: boolean;
}

/**
 * The aggregator's join: every message of [domain-facts] belongs to one
 * domain (its key); the domain is judged as soon as its facts and a result
 * for each probe it needs are in hand, and every message of the domain is
 * acknowledged once its verdict is stored (a crash before that redelivers
 * them all). Only domains in flight are held.
 *
 * Probe results that do not arrive (their message was acknowledged before a
 * restart with another domain's, or a probe result went to an earlier copy
 * of the domain): after `joinTimeoutMs` the missing probes are looked for in
 * the store (batched), and again every `joinTimeoutMs` until found. A probe
 * result whose domain's facts never come (a duplicate request) is
 * acknowledged after `joinTimeoutMs`.
 */
export class AggregateJoin {
  readonly #d: AggregateStageDeps;
  readonly #pending = new Map<string, Pending>();
  readonly #writer: MicroBatcher<
    { scan: string; facts: DomainFacts; record: VerdictRecord },
    VerdictRecord | null
  >;
  readonly #reader: MicroBatcher<{ scan: string; key: ProbeKey }, ProbeFacts | undefined>;
  readonly #timeout: number;
  readonly #timer: NodeJS.Timeout;
  /** Domains given up on (a probe they need was dead-lettered), with when: later messages of theirs are refused too. */
  readonly #abandoned = new Map<string, { at: number; detail: string }>();
  #sweeping = false;

  constructor(d: AggregateStageDeps) {
    this.#d = d;
    this.#timeout = d.joinTimeoutMs ?? 60_000;
    const opts = d.batch ?? DEFAULT_BATCH;
    this.#writer = new MicroBatcher(
      (items) =>
        perScan(items, async (scan, list) => {
          const fresh = await d.store.storeJudged(
            scan,
            list.map((i) => ({ facts: i.facts, record: i.record })),
          );
          const stored = new Set(fresh.map((r) => r.domain));
          if (d.counters) d.counters.judged += fresh.length;
          if (fresh.length > 0) {
            await d.onJudged?.(scan, fresh);
            if (d.publishVerdicts) {
              await d.bus.publish(
                fresh.map((record) =>
                  envelopeMessage(TOPICS.verdicts, record.domain, makeEnvelope("verdict", scan, { record })),
                ),
              );
            }
          }
          return new Map(list.map((i) => [i, stored.has(i.record.domain) ? i.record : null]));
        }),
      // Two batches at once: the next is encoded while the store writes the last.
      { ...opts, inFlight: 2, isolate: (e) => (e as { canRetry?: unknown })?.canRetry !== true },
    );
    this.#reader = new MicroBatcher(
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
    this.#timer = setInterval(() => void this.#sweep(), Math.max(50, Math.min(5000, this.#timeout / 4)));
    this.#timer.unref();
  }

  /** Domains being joined now. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Stops the join: the messages it holds for domains not on their way to the
   * store are let go without an acknowledgement (outcome "retry": the bus,
   * closing, abandons them, so a deployment's next owner of the partition gets
   * them again and the embedded scan's resume judges those domains). Call it
   * before closing the subscription, which waits for the handlers it holds.
   */
  close(): void {
    clearInterval(this.#timer);
    for (const p of [...this.#pending.values()]) {
      if (p.judging) continue;
      this.#finish(p, { kind: "retry", reason: "shutdown" });
    }
  }

  #entry(scan: string, domain: string): Pending {
    const k = `${scan}|${domain}`;
    let p = this.#pending.get(k);
    if (!p) {
      p = { scan, domain, probes: new Map(), waiters: [], since: this.#d.now(), judging: false };
      this.#pending.set(k, p);
    }
    return p;
  }

  /**
   * Gives up on a domain because a probe it needs was dead-lettered (the
   * prober could not make it): its messages are dead-lettered, now and for a
   * while after, so the domain shows as not judged (resumable) instead of
   * waiting for ever.
   */
  abandon(scan: string, domain: string, detail: string): void {
    const k = `${scan}|${domain}`;
    this.#abandoned.set(k, { at: this.#d.now(), detail });
    const p = this.#pending.get(k);
    if (p && !p.judging) this.#finish(p, abandonedOutcome(detail));
  }

  /** Handles one message of a domain; resolves with its outcome once the domain is stored (or given up on). */
  offer(
    scan: string,
    domain: string,
    what: { facts: DomainFacts } | { probe: ProbeFacts },
  ): Promise<HandlerOutcome> {
    const gone = this.#abandoned.get(`${scan}|${domain}`);
    if (gone) return Promise.resolve(abandonedOutcome(gone.detail));
    const p = this.#entry(scan, domain);
    const done = new Promise<HandlerOutcome>((resolve) => p.waiters.push({ resolve }));
    if (p.judging) {
      // A redelivered or late message of a domain already on its way to the store: it waits for the same write.
      return done;
    }
    if ("facts" in what) {
      p.facts = what.facts;
      p.needs = neededProbes(what.facts, this.#d.probeMode, this.#d.policy);
      p.since = this.#d.now();
    } else {
      p.probes.set(probeKeyString(what.probe), what.probe);
    }
    this.#tryJudge(p);
    return done;
  }

  #tryJudge(p: Pending): void {
    if (p.judging || !p.facts || !p.needs) return;
    for (const k of p.needs) if (!p.probes.has(probeKeyString(k))) return;
    p.judging = true;
    let record: VerdictRecord;
    try {
      record = judge(p.facts, (k) => p.probes.get(probeKeyString(k)), {
        now: this.#d.now(),
        probeMode: this.#d.probeMode,
        ...(this.#d.policy ? { policy: this.#d.policy } : {}),
        ...(this.#d.trust ? { trust: this.#d.trust } : {}),
      });
    } catch (e) {
      this.#finish(p, outcomeOf(e));
      return;
    }
    this.#writer.submit({ scan: p.scan, facts: p.facts, record }).then(
      () => this.#finish(p, { kind: "ack" }),
      (e) => {
        if (isFatal(e)) this.#d.onFatal?.(e);
        this.#finish(p, outcomeOf(e));
      },
    );
  }

  #finish(p: Pending, outcome: HandlerOutcome): void {
    this.#pending.delete(`${p.scan}|${p.domain}`);
    for (const w of p.waiters) w.resolve(outcome);
  }

  /** Looks in the store for probes overdue, and lets go of probe results whose facts never came. */
  async #sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const t = this.#d.now();
      for (const [k, a] of this.#abandoned) if (t - a.at > ABANDONED_TTL_MS) this.#abandoned.delete(k);
      const overdue: Pending[] = [];
      for (const p of this.#pending.values()) {
        if (p.judging || t - p.since < this.#timeout) continue;
        if (!p.facts) {
          // Probe results of a domain whose facts never came: acknowledge them.
          this.#finish(p, { kind: "ack" });
          continue;
        }
        overdue.push(p);
      }
      for (const p of overdue) {
        p.since = t;
        const missing = (p.needs ?? []).filter((k) => !p.probes.has(probeKeyString(k)));
        const found = await Promise.all(missing.map((key) => this.#reader.submit({ scan: p.scan, key })));
        if (p.judging) continue;
        for (const f of found) if (f) p.probes.set(probeKeyString(f), f);
        this.#tryJudge(p);
      }
    } catch {
      // The store is unreachable: the next sweep tries again.
    } finally {
      this.#sweeping = false;
    }
  }
}

/** How long a domain given up on stays refused. */
const ABANDONED_TTL_MS = 3_600_000;

function abandonedOutcome(detail: string): HandlerOutcome {
  return {
    kind: "dead-letter",
    reason: "handler-rejected",
    detail: `probe-dead-lettered: a probe this domain needs was dead-lettered: ${detail}`.slice(0, 500),
  };
}

/** aggregate: [domain-facts] -> the join (AggregateJoin) -> verdicts in the store. */
export function aggregateHandler(d: AggregateStageDeps): {
  handler: ReturnType<typeof envelopesHandler>;
  join: AggregateJoin;
} {
  const join = new AggregateJoin(d);
  const handler = envelopesHandler(["dns-facts", "probe-result"] as const, async (env) => {
    if (env.type === "dns-facts") {
      const facts = env.body.facts as DomainFacts;
      return join.offer(env.scan, facts.domain, { facts });
    }
    const body = env.body as { domain: string; facts: ProbeFacts };
    return join.offer(env.scan, body.domain, { probe: body.facts });
  });
  return { handler, join };
}
