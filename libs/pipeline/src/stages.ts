/**
 * The pipeline's stages as thin shells: each consumes one topic, calls the
 * pure step of a library, writes to the store in batches, publishes. The
 * same shells run in one process on the in-memory bus (`danesweep scan`) and
 * as separate services on Kafka; stage-table.ts wires them for both.
 *
 *   resolve:   [domains] -> collectDomainFacts (libs/dns, MTA-STS and TLS-RPT
 *              included), and for a domain whose DANE rests on a TLSA RRset
 *              what each authoritative server serves (libs/dns
 *              ConsistencyChecker, when given) -> [probe-requests] keyed by
 *              IP (one per probe the domain needs, naming the domain, saying
 *              whether the host is a DANE host; its MTA-STS policy fetch is
 *              one of kind "mta-sts-policy"; with askOnce, only the probes
 *              not asked for yet in the scan) and the facts on
 *              [domain-facts] keyed by domain. No store I/O.
 *   probe:     [probe-requests] -> the probe's facts, made once per (scan,
 *              ip, port, SNI) (libs/probe; claimed in the store so that two
 *              prober instances never dial the same) -> the result on
 *              [domain-facts], addressed to the domain that asked.
 *   aggregate: [domain-facts] -> the join: a domain is judged (libs/dane) as
 *              soon as its facts and every probe result it needs are in
 *              hand (a result serves every domain waiting for its probe),
 *              and its facts and verdict are stored in one batch.
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
 *
 * Tracing (`tracing` in a stage's deps; absent, nothing below happens and
 * nothing is allocated for it): each message handled gets a CONSUMER span,
 * the child of the span that sent it (its `traceparent` header), active
 * while it is handled (sampled ones); the messages it sends carry its
 * context. resolve: a "dns lookups" span summarising the domain's lookups.
 * probe: the request that starts a probe gets "smtp probe" and its phases
 * under its span; requests answered with a probe made for another domain
 * link to that probe's span. aggregate: a "join" span per domain from its
 * first message until its verdict is stored, linked to the other messages,
 * with "judge" under it. Store batches: a root span per batch linked to its
 * items' spans (tracedBatch), pg's spans under it. libs/telemetry's README
 * draws the whole trace.
 */

import { randomUUID } from "node:crypto";
import {
  type Bus,
  type EnvelopeOf,
  envelopeHandler,
  envelopeMessage,
  envelopesHandler,
  type HandlerOutcome,
  makeEnvelope,
  type OutgoingMessage,
  type ProbeRefBody,
  type ProbeResultBody,
  TOPICS,
  type TraceHeaders,
} from "@danesweep/bus";
import {
  type ClientPolicy,
  type DomainFacts,
  type DomainRoute,
  judge,
  judgedFacts,
  type ProbeFacts,
  type ProbeKey,
  type ProbeKind,
  policyFetchTarget,
  probeKeyString,
  probeTargets,
  type RiskThresholds,
  routeOf,
  type TlsaConsistencyFacts,
  type TrustStore,
  type VerdictRecord,
} from "@danesweep/dane";
import { collectDomainFacts, type DnsQuerier, EvictionCursor, SizedLru, Slots } from "@danesweep/dns";
import type { Prober } from "@danesweep/probe";
import type { PreparedJudged, Store } from "@danesweep/store";
import {
  ATTR,
  type Headers,
  type Link,
  recordDnsLookups,
  recordProbePhases,
  type Span,
  SpanKind,
  type TracedMessage,
  type Tracing,
} from "@danesweep/telemetry";
import { AskedKeys } from "./asked-keys.ts";
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
  const message = typeof err?.message === "string" ? err.message : String(e);
  if (err?.canRetry === true) return { kind: "retry", reason: code, detail: message.slice(0, 500) };
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

/**
 * One probe a domain needs: its key, the host it names, what kind of probe it
 * is, and whether the host is a DANE host (a secure TLSA RRset with a usable
 * record: the prober then looks for a second certificate, ProbeFacts.alternates).
 */
export interface ProbeNeed extends ProbeKey {
  mxHost: string;
  kind?: ProbeKind;
  dane?: true;
}

/**
 * The distinct probes a domain's facts call for, in route order (libs/dane
 * probeTargets), then its MTA-STS policy fetch (libs/dane policyFetchTarget)
 * when it has one: what the resolver asks for and the judge needs. A key
 * several targets share names the first target's host and is a DANE probe
 * when any of them is.
 */
export function probeNeeds(
  facts: DomainFacts,
  probeMode: ProbeMode,
  policy?: ClientPolicy,
  route?: DomainRoute,
): ProbeNeed[] {
  const seen = new Map<string, ProbeNeed>();
  const opts = { probeMode, ...(policy ? { policy } : {}), ...(route ? { route } : {}) };
  for (const t of probeTargets(facts, opts)) {
    const k = { ip: t.ip, port: t.port, sni: t.sni };
    const key = probeKeyString(k);
    const had = seen.get(key);
    if (!had) seen.set(key, { ...k, mxHost: t.mxHost, ...(t.dane ? { dane: true as const } : {}) });
    else if (t.dane) had.dane = true;
  }
  const f = policyFetchTarget(facts);
  if (f) seen.set(probeKeyString(f), { ip: f.ip, port: f.port, sni: f.sni, mxHost: f.host, kind: f.kind });
  return [...seen.values()];
}

/**
 * The distinct probe keys of a domain's facts (probeNeeds without the rest).
 * `route`: the facts' route under `policy` (libs/dane routeOf), when the caller has it.
 */
export function neededProbes(
  facts: DomainFacts,
  probeMode: ProbeMode,
  policy?: ClientPolicy,
  route?: DomainRoute,
): ProbeKey[] {
  return probeNeeds(facts, probeMode, policy, route).map((n) => ({ ip: n.ip, port: n.port, sni: n.sni }));
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
  /** Spans and trace context (absent: none made, none carried). */
  tracing?: Tracing;
  /**
   * Ask for each probe once per scan (the services and the embedded scan
   * set it): a domain whose probe this resolver already asked for (another
   * domain's request is on the bus) sends no request of its own; the
   * aggregator's join hands that probe's result to every domain waiting for
   * it, keeps it for the domains whose facts come later, or finds it in the
   * store (AggregateStageDeps.lookInStoreAfterMs). Default false: a request
   * per domain and probe, each answered by the prober (from its cache for
   * the repeats).
   */
  askOnce?: boolean;
  /** The authoritative servers' view of the TLSA RRsets (libs/dns ConsistencyChecker); none: not collected. */
  consistency?: {
    /** Whether `check` has anything to ask for these facts (a secure TLSA RRset DANE rests on). */
    applies(facts: DomainFacts): boolean;
    check(facts: DomainFacts): Promise<TlsaConsistencyFacts[] | undefined>;
  };
  /**
   * Domains whose lookups run at once (their DNS questions and the
   * consistency check); the others wait their turn, first come first served.
   * A domain whose lookups are done and whose messages are being published
   * no longer counts: on Kafka a publish waits for the broker's
   * acknowledgement, and while it waited it used to hold one of the
   * subscription's slots and so keep a lookup from starting. The
   * subscription holds more messages than this (stage-table.ts). Default:
   * no limit of the handler's own.
   */
  resolving?: number;
}

/** resolve: [domains] -> [probe-requests] (keyed by IP), facts on [domain-facts] (keyed by domain). */
export function resolveHandler(d: ResolveStageDeps) {
  const t = d.tracing;
  /**
   * With askOnce: the probes asked for (scan|key), the most recent ASKED_MEMORY,
   * each added once its request is on the bus. One forgotten is asked for
   * again: the prober answers a repeat from its cache or the store.
   */
  const asked = d.askOnce ? new SizedLru<string, true>(ASKED_MEMORY, () => 1) : undefined;
  const markAsked = (scan: string, needs: ProbeNeed[]) => {
    if (asked) for (const n of needs) asked.set(`${scan}|${probeKeyString(n)}`, true);
  };
  const slots = d.resolving !== undefined ? new Slots(d.resolving) : undefined;
  const resolve = async (scan: string, domain: string, span: Span | undefined): Promise<HandlerOutcome> => {
    // Gives the domain's turn back (ResolveStageDeps.resolving) once its lookups are done, at most once.
    let giveBack: (() => void) | undefined;
    try {
      let facts: DomainFacts;
      let trace: Headers | undefined;
      const collect = {
        port: d.port,
        now: d.now,
        resolverValidates: d.resolverValidates,
        mailPolicies: d.mailPolicies ?? true,
      };
      if (slots) {
        if (!slots.tryTake()) await slots.wait();
        giveBack = () => {
          giveBack = undefined;
          slots.release();
        };
      }
      if (t && span?.isRecording()) {
        const dns = t.child(span, "dns lookups", { [ATTR.domain]: domain });
        facts = await collectDomainFacts(d.resolver, domain, collect);
        recordDnsLookups(dns, facts);
        dns.end();
      } else facts = await collectDomainFacts(d.resolver, domain, collect);
      // A trace not sampled travels on too: the stages after follow the seed's decision.
      if (t && span) trace = t.headers(span);
      const needs = probeNeeds(facts, d.probeMode, d.policy);
      const ask = asked
        ? needs.filter((n) => asked.get(`${scan}|${probeKeyString(n)}`) === undefined)
        : needs;
      const probeRequests = ask.map((n) =>
        envelopeMessage(
          TOPICS.probeRequests,
          n.ip,
          makeEnvelope("probe-request", scan, { ...n, domain: facts.domain }),
          trace,
        ),
      );
      // Asking the authoritative servers waits on their rate: the probes are
      // requested first, so that probing and the check overlap (the join
      // holds a probe result until its domain's facts come).
      const checking = d.consistency?.applies(facts) === true;
      if (checking && probeRequests.length > 0) {
        await d.bus.publish(probeRequests);
        markAsked(scan, ask);
      }
      if (checking) {
        const c = await d.consistency?.check(facts);
        if (c) facts.consistency = c;
      }
      giveBack?.();
      // The facts go on in their judged form (libs/dane judgedFacts): without the provenance of
      // lookups that succeeded, which neither the verdict nor the store keeps, a domain's facts
      // message on Kafka is a third smaller (1.9 KB against 2.8 for an unsigned synthetic domain)
      // to serialize, carry through the broker and parse.
      await d.bus.publish([
        envelopeMessage(
          TOPICS.domainFacts,
          facts.domain,
          makeEnvelope("dns-facts", scan, { facts: judgedFacts(facts) }),
          trace,
        ),
        ...(checking ? [] : probeRequests),
      ]);
      if (!checking) markAsked(scan, ask);
      if (d.counters) d.counters.resolved++;
      if (span) {
        span.setAttribute("danesweep.probes.requested", ask.length);
        if (ask.length < needs.length)
          span.setAttribute("danesweep.probes.asked_before", needs.length - ask.length);
        t?.end(span);
      }
      return { kind: "ack" };
    } catch (e) {
      const out = outcomeOf(e);
      if (span) t?.endOutcome(span, out);
      return out;
    } finally {
      giveBack?.();
    }
  };
  return envelopeHandler("domain", async (env, msg) => {
    if (!t) return resolve(env.scan, env.body.domain, undefined);
    const span = t.process(msg, {
      [ATTR.scan]: env.scan,
      [ATTR.domain]: env.body.domain,
      [ATTR.stage]: "resolve",
    });
    // A sampled span is active while the message is handled: log lines and instrumented calls inside belong to it.
    if (!span.isRecording()) return resolve(env.scan, env.body.domain, span);
    return t.active(span, () => resolve(env.scan, env.body.domain, span));
  });
}

/** How many probe keys a resolver with askOnce remembers asking for (~25 MB at most). */
const ASKED_MEMORY = 200_000;

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
  /** Bytes of probe facts (their JSON) kept in memory for requests that share a probe (default 16 MiB). */
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
  /**
   * A scan this handler is the only prober of since it began (the embedded
   * scan, not resumed): no probe of it can be in the store that this handler
   * did not make. A key of this scan that the handler has not asked for
   * before is then dialed without looking in the store first; a key asked for
   * before (its result may have left the cache) is looked for as usual.
   */
  newScan?: string;
  /**
   * Send a probe's facts once (deployments, whose bus serializes every
   * message): to the domain whose request made the probe or fetched it from
   * the store; every other domain that asked gets a probe-ref naming the key
   * (the probe is in the store by then), which the aggregator resolves from
   * the results it kept or from the store. Default false: an in-process bus
   * hands the one facts object to every domain at no cost.
   */
  byReference?: boolean;
  /** Spans and trace context (absent: none made, none carried). */
  tracing?: Tracing;
}

/**
 * A probe's facts (one object, sent to every domain that asked), the bytes it
 * is counted for in the cache (two a character of its JSON text), and the
 * span of the probe when it was made here with tracing on (the requests it
 * answers later link to it). The JSON text itself is not kept: the
 * in-process bus hands the object over, a serializing bus writes the text
 * per message.
 */
interface MadeProbe {
  facts: ProbeFacts;
  span?: Link;
}

function made(facts: ProbeFacts, span?: Link): MadeProbe {
  return span ? { facts, span } : { facts };
}

/**
 * A store batch's run function, inside a span of its own when tracing is on
 * (store.ts's statements, and pg's spans, under it), linked to the spans of
 * the items that have one.
 */
function tracedBatch<I extends { link?: Link | undefined }, O>(
  t: Tracing | undefined,
  name: string,
  run: (items: I[]) => Promise<O[]>,
): (items: I[]) => Promise<O[]> {
  if (!t) return run;
  return (items) => {
    const links: Link[] = [];
    for (const i of items) if (i.link) links.push(i.link);
    return t.batch(
      name,
      links,
      { [ATTR.dbSystem]: "postgresql", [ATTR.dbOperation]: name, [ATTR.dbBatchSize]: items.length },
      () => run(items),
    );
  };
}

/** A span's context as a link (tracing on), else undefined. */
function linkTo(span: Span | undefined): Link | undefined {
  return span ? { context: span.spanContext() } : undefined;
}

/** A made probe as the cache keeps it: its facts as UTF-8 JSON, in memory of its own. */
interface CachedProbe {
  json: Buffer;
  span?: Link;
}

/**
 * A probe's facts as UTF-8 JSON in memory of its own, outside the JS heap:
 * a probe's facts are a few hundred small objects (certificates, EHLO
 * lines), and V8 lets its heap grow to a multiple of what is live in it, so
 * 16 MiB of such objects cost far more memory than 16 MiB of bytes. The
 * buffer is not a slice of Node's shared pool (which one kept probe would
 * keep whole). Read back with probeFromText (~10 us for a typical probe).
 */
function probeText(facts: ProbeFacts): Buffer {
  const text = JSON.stringify(facts);
  const json = Buffer.allocUnsafeSlow(Buffer.byteLength(text, "utf8"));
  json.write(text, "utf8");
  return json;
}

function probeFromText(json: Buffer): ProbeFacts {
  return JSON.parse(json.toString("utf8")) as ProbeFacts;
}

/** A bounded LRU of made probes (scan|key -> facts), kept as their text (probeText), sized by its bytes. */
export class ProbeCache {
  readonly #lru: SizedLru<string, CachedProbe>;
  constructor(maxBytes: number) {
    this.#lru = new SizedLru(maxBytes, (v) => v.json.length);
  }
  /** Whether the probe is kept (now the most recently used), without parsing it. */
  has(k: string): boolean {
    return this.#lru.get(k) !== undefined;
  }
  get(k: string): MadeProbe | undefined {
    const v = this.#lru.get(k);
    return v === undefined ? undefined : made(probeFromText(v.json), v.span);
  }
  set(k: string, v: MadeProbe): void {
    const json = probeText(v.facts);
    this.#lru.set(k, v.span ? { json, span: v.span } : { json });
  }
  get bytes(): number {
    return this.#lru.size;
  }
}

/** probe: [probe-requests] -> one probe per (scan, ip, port, SNI) -> its result on [domain-facts], for the domain that asked. */
export function probeHandler(d: ProbeStageDeps) {
  const opts = d.batch ?? DEFAULT_BATCH;
  const t = d.tracing;
  type Item = { scan: string; key: ProbeKey; link?: Link | undefined };
  const reader = new MicroBatcher<Item, ProbeFacts | undefined>(
    tracedBatch(t, "store getProbes", (items) =>
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
    ),
    opts,
  );
  const now = d.now ?? Date.now;
  const owner = d.owner ?? `prober-${randomUUID()}`;
  const ttl = d.claimTtlMs ?? 75_000;
  const poll = d.claimPollMs ?? 250;
  const claimer = new MicroBatcher<Item, boolean>(
    tracedBatch(t, "store claimProbes", (items) =>
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
    ),
    opts,
  );
  const writer = new MicroBatcher<{ scan: string; facts: ProbeFacts; link?: Link | undefined }, void>(
    tracedBatch(t, "store upsertProbes", (items) =>
      perScan(items, async (scan, list) => {
        await d.store.upsertProbes(
          scan,
          list.map((i) => i.facts),
        );
        return new Map(list.map((i) => [i, undefined]));
      }),
    ),
    opts,
  );
  const cache = new ProbeCache(d.cacheBytes ?? 16 * 1024 * 1024);
  /** Keys of `newScan` asked for so far (a Bloom filter: "asked" may be wrong, "not asked" never is). */
  const asked = d.newScan !== undefined ? new AskedKeys() : undefined;
  const firstAsk = (k: string): boolean => {
    if (!asked || asked.has(k)) return false;
    asked.add(k);
    return true;
  };
  const byRef = d.byReference === true;
  /** Probes being made or looked up now, shared by the requests that arrive meanwhile. */
  const inflight = new Map<string, Promise<MadeProbe>>();

  // One probe per (scan, ip, port, SNI) across every prober instance: look in
  // the store first, dial only under the claim, otherwise wait for the
  // claimant's stored result (or take the claim over once it is stale).
  // With tracing, `span` is the span of the request that asked first: the probe's spans go under it.
  // `ck`: the request's cache key (scan|ip|port|SNI), as handle() made it.
  const obtain = async (
    scan: string,
    key: ProbeKey,
    ck: string,
    mxHost: string,
    kind: ProbeKind | undefined,
    dane: boolean,
    span?: Span,
  ): Promise<MadeProbe> => {
    const link = linkTo(span);
    // New in a scan only this handler probes: nothing to find in the store.
    const unseen = scan === d.newScan && firstAsk(ck);
    const stored = unseen ? undefined : await reader.submit({ scan, key, link });
    if (stored) {
      if (d.counters) d.counters.probesReused++;
      return made(stored);
    }
    for (;;) {
      if (d.claims === false || (await claimer.submit({ scan, key, link }))) {
        // A DANE host is probed again with the other key type: what other senders see (issue 14).
        const request = { ...key, mxHost, ...(kind ? { kind } : {}), ...(dane ? { alternates: true } : {}) };
        let facts: ProbeFacts;
        let probeSpan: Span | undefined;
        if (t && span?.isRecording()) {
          probeSpan = t.child(
            span,
            kind === "mta-sts-policy" ? "mta-sts policy fetch" : "smtp probe",
            { [ATTR.serverAddress]: mxHost, [ATTR.probeSni]: key.sni },
            { kind: SpanKind.CLIENT },
          );
          const requestedAt = Date.now();
          facts = await d.prober.probe(request);
          recordProbePhases(t, probeSpan, facts, requestedAt);
          probeSpan.end();
        } else facts = await d.prober.probe(request);
        await writer.submit({ scan, facts, link: linkTo(probeSpan) });
        if (d.counters) d.counters.probed++;
        return made(facts, linkTo(probeSpan));
      }
      const deadline = now() + ttl;
      while (now() < deadline) {
        await new Promise((r) => setTimeout(r, poll));
        const theirs = await reader.submit({ scan, key, link });
        if (theirs) {
          if (d.counters) d.counters.probesReused++;
          return made(theirs);
        }
      }
    }
  };

  const handle = async (
    env: EnvelopeOf<"probe-request">,
    span: Span | undefined,
  ): Promise<HandlerOutcome> => {
    const scan = env.scan;
    const key = { ip: env.body.ip, port: env.body.port, sni: env.body.sni };
    const ck = `${scan}|${probeKeyString(key)}`;
    try {
      let probe: MadeProbe | undefined;
      let mine = false;
      // By reference, a kept probe is answered with its key: no need to parse it (unless a sampled span wants its status).
      const keptRef = byRef && !span?.isRecording() && cache.has(ck);
      if (!keptRef) probe = cache.get(ck);
      if (keptRef || probe !== undefined) {
        if (d.counters) d.counters.probesReused++;
      } else {
        let p = inflight.get(ck);
        if (p) {
          if (d.counters) d.counters.probesReused++;
        } else {
          p = obtain(scan, key, ck, env.body.mxHost, env.body.kind, env.body.dane === true, span).finally(
            () => inflight.delete(ck),
          );
          inflight.set(ck, p);
          mine = true;
        }
        probe = await p;
        // Kept by the request that made it (the others shared its promise).
        if (mine) cache.set(ck, probe);
      }
      let trace: TraceHeaders | undefined;
      if (t && span) {
        // A probe made for another request: this request's span links to the probe's.
        const reused = !mine || probe?.span === undefined;
        span.setAttribute(ATTR.probeReused, reused);
        if (probe) span.setAttribute(ATTR.probeStatus, probe.facts.status);
        if (reused && probe?.span) span.addLink(probe.span);
        trace = t.headers(span);
      }
      const domain = env.body.domain;
      await d.bus.publish([
        probe && (mine || !byRef)
          ? probeResultMessage(scan, domain, probe.facts, trace)
          : envelopeMessage(
              TOPICS.domainFacts,
              domain,
              makeEnvelope("probe-ref", scan, { domain, ...key }),
              trace,
            ),
      ]);
      if (span) t?.end(span);
      return { kind: "ack" };
    } catch (e) {
      if (isFatal(e)) d.onFatal?.(e);
      const out = outcomeOf(e);
      if (span) t?.endOutcome(span, out);
      return out;
    }
  };

  return envelopeHandler("probe-request", async (env, msg) => {
    if (!t) return handle(env, undefined);
    const span = t.process(msg, {
      [ATTR.scan]: env.scan,
      [ATTR.domain]: env.body.domain,
      [ATTR.stage]: "probe",
      [ATTR.networkPeerAddress]: env.body.ip,
      [ATTR.networkPeerPort]: env.body.port,
      [ATTR.probeSni]: env.body.sni,
      [ATTR.serverAddress]: env.body.mxHost,
    });
    // A sampled span is active while the message is handled: log lines and instrumented calls inside belong to it.
    if (!span.isRecording()) return handle(env, span);
    return t.active(span, () => handle(env, span));
  });
}

/**
 * The [domain-facts] message carrying a probe's facts to one domain that asked
 * for it: the envelope object shares the facts object (an in-process bus
 * hands it over as it is; a serializing bus makes the JSON text when it reads
 * the value).
 */
function probeResultMessage(
  scan: string,
  domain: string,
  facts: ProbeFacts,
  trace?: TraceHeaders,
): OutgoingMessage {
  return envelopeMessage(
    TOPICS.domainFacts,
    domain,
    makeEnvelope("probe-result", scan, { domain, facts }),
    trace,
  );
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
  /** Thresholds of the risk rules (libs/dane DEFAULT_RISK_THRESHOLDS when absent). */
  risk?: Partial<RiskThresholds>;
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
  /**
   * How long a domain waits for a probe result before it looks for the probe
   * in the store (then again after twice as long each time it is not there,
   * up to LOOK_IN_STORE_GROWTH times this, and never longer than the join
   * timeout). Default: the join timeout. Where the resolver
   * asks for each probe once (ResolveStageDeps.askOnce) it is set short
   * (LOOK_IN_STORE_AFTER_MS): the one result of a probe goes to the instance
   * of the domain that asked, and the domains waiting for it elsewhere, or
   * whose facts came after it left the kept results, find it in the store.
   */
  lookInStoreAfterMs?: number;
  /**
   * Bytes of probe results kept for the domains whose facts come later and
   * the probe-refs that name them (default 16 MiB): the length of their
   * message, or of their JSON text (KeptProbe).
   */
  probeCacheBytes?: number;
  /**
   * The most messages the join is given at once (the subscription's
   * concurrency; the stage table passes it). A join that holds nearly that
   * many gets no more from the bus, so a probe result behind them in its
   * partition cannot come: the domains waiting for one then look for their
   * probes in the store after SATURATED_WAIT_MS at most. Absent: no such
   * limit is known.
   */
  capacity?: number;
  /** Called with an error after which the stage cannot go on (isFatal). */
  onFatal?: (e: unknown) => void;
  /** Spans and trace context (absent: none made, none carried). */
  tracing?: Tracing;
}

/** What one message of [domain-facts] brings to its domain's join. */
export type JoinInput =
  | { facts: DomainFacts }
  /**
   * A probe's result. `bytes`: its message's length, when it came serialized:
   * the object is kept, at that size. Absent (an in-process bus handed the
   * object over): its JSON text is kept (KeptProbe).
   */
  | { probe: ProbeFacts; bytes?: number }
  /** A probe's result by reference (probe-ref): found among the kept results, else in the store. */
  | { ref: ProbeKey };

interface Waiter {
  resolve: (o: HandlerOutcome) => void;
}

/**
 * A probe result the join keeps (AggregateJoin #kept), sized by `bytes`:
 * the object a serialized message brought (or a store read), shared by the
 * domains that take it; or, for an object an in-process bus handed over,
 * its text (probeText: outside the JS heap, as the prober's cache keeps
 * its own), parsed for each domain that takes it. Measured on bench/e2e's
 * 100k scan, keeping those objects instead cost 27-43 MB more peak RSS for
 * no CPU saved that two paired runs could tell from noise.
 */
type KeptProbe = { facts: ProbeFacts; bytes: number } | { json: Buffer; bytes: number };

function textKept(facts: ProbeFacts): KeptProbe {
  const json = probeText(facts);
  return { json, bytes: json.length };
}

/** The domains waiting for one probe's result, and when the join looks for it in the store. */
interface KeyWait {
  scan: string;
  key: ProbeKey;
  /** scan|key */
  sk: string;
  domains: Set<Pending>;
  /** When the wait began, or the store last did not have the probe. */
  since: number;
  /** How long after `since` the store is asked (doubles after each miss, up to LOOK_IN_STORE_GROWTH x lookInStoreAfterMs). */
  delay: number;
}

/** A domain being joined: its facts once they came, the probe results it has, and the messages waiting on it. */
interface Pending {
  scan: string;
  domain: string;
  /** The probes (scan|key) it waits for in #waits. */
  waitsFor: Set<string>;
  facts?: DomainFacts;
  /** The facts' route (derived once: for `needs`, then for the judge); undefined for malformed facts. */
  route?: DomainRoute;
  needs?: ProbeKey[];
  probes: Map<string, ProbeFacts>;
  waiters: Waiter[];
  since: number;
  /** Set once the domain went to the writer. */
  judging: boolean;
  /**
   * With tracing: the join's span, from the domain's first message (child
   * of the span that sent it) until its verdict is stored; it links to the
   * span of every later message of the domain.
   */
  span?: Span;
}

/**
 * The aggregator's join: every message of [domain-facts] belongs to one
 * domain (its key); the domain is judged as soon as its facts and a result
 * for each probe it needs are in hand, and every message of the domain is
 * acknowledged once its verdict is stored (a crash before that redelivers
 * them all). Only domains in flight are held.
 *
 * A probe's result serves every domain that needs it: when it comes (for
 * the domain that asked), each domain the join holds waiting for that probe
 * gets it too, and it is kept (an LRU bounded by the bytes of the results'
 * text) for the domains whose facts come later and for the probe-refs that
 * name it. A result is one object shared by the domains it is handed to
 * (the judge does not change its input); one kept as text (KeptProbe) is
 * parsed for each domain that takes it later. So a resolver may ask for a probe
 * once per scan (ResolveStageDeps.askOnce): the domains that did not ask
 * wait for the result of the one that did.
 *
 * A result that does not come here (it went to another instance, whose
 * domain asked; or its message was acknowledged before a restart with
 * another domain's): the domains waiting for a probe look for it in the store
 * (batched, one read per probe at a time) `lookInStoreAfterMs` after they
 * began to wait, then after twice as long each time it is not there, up to
 * LOOK_IN_STORE_GROWTH times as long (and the join timeout). The prober stores a probe before it sends the result or
 * a ref. A probe-ref whose result is not kept is looked for in the store at
 * once; a read that fails leaves the probe missing until the next look.
 *
 * A probe result whose domain's facts never come (a duplicate request) is
 * acknowledged after `joinTimeoutMs`; one whose domain this join judged
 * already is acknowledged at once (after it served the domains waiting for
 * it).
 *
 * A join that holds nearly its `capacity` of messages is saturated: the bus
 * gives it no more, so the probe results its domains wait for may be stuck
 * behind the messages it holds. Its domains then look in the store after
 * SATURATED_WAIT_MS at most, so a full join drains at the store's pace
 * instead of stalling for the join timeout.
 *
 * A probe dead-lettered (the prober could not make it): `abandon` gives up on
 * the domain that asked and on every domain that needs the probe, held now or
 * coming within ABANDONED_TTL_MS.
 */
export class AggregateJoin {
  readonly #d: AggregateStageDeps;
  readonly #pending = new Map<string, Pending>();
  readonly #writer: MicroBatcher<
    { scan: string; entry: PreparedJudged; link?: Link | undefined },
    VerdictRecord | null
  >;
  readonly #reader: MicroBatcher<
    { scan: string; key: ProbeKey; link?: Link | undefined },
    ProbeFacts | undefined
  >;
  readonly #timeout: number;
  readonly #lookAfter: number;
  /** The longest a domain waits between two looks in the store for a probe. */
  readonly #lookEvery: number;
  readonly #timer: NodeJS.Timeout;
  /** Domains given up on (a probe they need was dead-lettered), with when: later messages of theirs are refused too. */
  readonly #abandoned = new Map<string, { at: number; detail: string }>();
  /** Probes dead-lettered (scan|key), with when: a domain that needs one is given up on when its facts come. */
  readonly #abandonedKeys = new Map<string, { at: number; detail: string }>();
  /** Verdicts stored but not yet on [verdicts] (their publication failed), by scan|domain. */
  readonly #unpublished = new Map<string, VerdictRecord>();
  /** Probe results kept for later domains and refs, by scan|probe key, sized by their bytes. */
  readonly #kept: SizedLru<string, KeptProbe>;
  /** The domains waiting for each probe, by scan|probe key. */
  readonly #waits = new Map<string, KeyWait>();
  /** The probes (scan|key) being read from the store now. */
  readonly #reading = new Set<string>();
  /** Messages held now (their handlers wait on a domain's outcome). */
  #held = 0;
  /**
   * Domains judged and let go here, the last JUDGED_MEMORY of them (scan|domain): a probe
   * result that comes after its domain was judged (from the store, by a saturated join or
   * after the join timeout) is acknowledged at once instead of held for the join timeout.
   */
  readonly #judged = new Map<string, true>();
  /**
   * The oldest of #judged, at a constant cost (libs/dns EvictionCursor): a
   * new `keys()` iterator each time stepped over the slots of every domain
   * let go since the Map last rehashed, up to tens of thousands of them, once
   * #judged was full (the second half of a 100k scan).
   */
  readonly #judgedOldest = new EvictionCursor(this.#judged);

  constructor(d: AggregateStageDeps) {
    this.#d = d;
    this.#timeout = d.joinTimeoutMs ?? 60_000;
    this.#lookAfter = Math.min(d.lookInStoreAfterMs ?? this.#timeout, this.#timeout);
    this.#lookEvery = Math.min(this.#lookAfter * LOOK_IN_STORE_GROWTH, this.#timeout);
    this.#kept = new SizedLru(d.probeCacheBytes ?? 16 * 1024 * 1024, (v) => v.bytes);
    const opts = d.batch ?? DEFAULT_BATCH;
    this.#writer = new MicroBatcher(
      tracedBatch(d.tracing, "store storeJudged", (items) =>
        perScan(items, async (scan, list) => {
          const fresh = await d.store.storeJudged(
            scan,
            list.map((i) => i.entry),
          );
          const stored = new Set(fresh.map((r) => r.domain));
          if (d.counters) d.counters.judged += fresh.length;
          if (fresh.length > 0) await d.onJudged?.(scan, fresh);
          return new Map(list.map((i) => [i, stored.has(i.entry.record.domain) ? i.entry.record : null]));
        }),
      ),
      // Two batches at once: the next is encoded while the store writes the last.
      { ...opts, inFlight: 2, isolate: (e) => (e as { canRetry?: unknown })?.canRetry !== true },
    );
    this.#reader = new MicroBatcher(
      tracedBatch(d.tracing, "store getProbes", (items) =>
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
      ),
      opts,
    );
    const tick = Math.min(500, this.#lookAfter / 4, this.#timeout / 4);
    this.#timer = setInterval(() => this.#sweep(), Math.max(50, tick));
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
      p = {
        scan,
        domain,
        waitsFor: new Set(),
        probes: new Map(),
        waiters: [],
        since: this.#d.now(),
        judging: false,
      };
      this.#pending.set(k, p);
    }
    return p;
  }

  /**
   * Gives up on a domain because a probe it needs (`key`, when known) was
   * dead-lettered (the prober could not make it), and on every domain that
   * needs that probe: their messages are dead-lettered, now and for a while
   * after, so the domains show as not judged (resumable) instead of waiting
   * for ever.
   */
  abandon(scan: string, domain: string, detail: string, key?: ProbeKey): void {
    const at = this.#d.now();
    this.#abandoned.set(`${scan}|${domain}`, { at, detail });
    const p = this.#pending.get(`${scan}|${domain}`);
    if (p && !p.judging) this.#finish(p, abandonedOutcome(detail));
    if (!key) return;
    const sk = `${scan}|${probeKeyString(key)}`;
    this.#abandonedKeys.set(sk, { at, detail });
    const w = this.#waits.get(sk);
    if (!w) return;
    for (const q of [...w.domains]) {
      if (q.judging) continue;
      this.#abandoned.set(`${q.scan}|${q.domain}`, { at, detail });
      this.#finish(q, abandonedOutcome(detail));
    }
  }

  /** `abandon` for a dead-lettered probe request: its domain, and every domain that needs its probe. */
  abandonRequest(env: EnvelopeOf<"probe-request">, detail: string): void {
    const { domain, ip, port, sni } = env.body;
    this.abandon(env.scan, domain, detail, { ip, port, sni });
  }

  /**
   * Handles one message of a domain; resolves with its outcome once the
   * domain is stored (or given up on). `msg`: the message, for its trace
   * context (with tracing on).
   */
  offer(scan: string, domain: string, what: JoinInput, msg?: TracedMessage): Promise<HandlerOutcome> {
    const k = `${scan}|${domain}`;
    const gone = this.#abandoned.get(k);
    if (gone) return Promise.resolve(abandonedOutcome(gone.detail));
    // A result serves every domain waiting for its probe, whichever domain it came for
    // (with tracing, their joins link to the message that brought it).
    if ("probe" in what) {
      const link = msg && this.#d.tracing?.link(msg.headers, { "danesweep.message.type": "probe-result" });
      const via = link ? { link, domain } : undefined;
      const { probe, bytes } = what;
      this.#deliver(
        scan,
        probeKeyString(probe),
        probe,
        bytes ? { facts: probe, bytes } : textKept(probe),
        via,
      );
    }
    // A probe's result for a domain judged here already (from the store, or a duplicate): not needed.
    if (!("facts" in what) && this.#judged.has(k) && !this.#pending.has(k))
      return Promise.resolve({ kind: "ack" });
    const p = this.#entry(scan, domain);
    const done = new Promise<HandlerOutcome>((resolve) => p.waiters.push({ resolve }));
    this.#held++;
    const t = this.#d.tracing;
    if (t && msg) {
      const kind = "facts" in what ? "dns-facts" : "probe" in what ? "probe-result" : "probe-ref";
      if (!p.span) {
        p.span = t.process(msg, { [ATTR.scan]: scan, [ATTR.domain]: domain, [ATTR.stage]: "aggregate" });
        p.span.updateName("join");
        p.span.setAttribute("danesweep.join.first", kind);
      } else {
        const link = t.link(msg.headers, { "danesweep.message.type": kind });
        if (link) p.span.addLink(link);
      }
    }
    if (p.judging) {
      // A redelivered or late message of a domain already on its way to the store: it waits for the same write.
      return done;
    }
    if ("facts" in what) {
      p.facts = what.facts;
      p.route = routeOf(what.facts, this.#d.policy);
      p.needs = neededProbes(what.facts, this.#d.probeMode, this.#d.policy, p.route);
      p.since = this.#d.now();
      for (const key of p.needs) {
        const pk = probeKeyString(key);
        if (p.probes.has(pk)) continue;
        const sk = `${scan}|${pk}`;
        const kept = this.#keptProbe(sk);
        if (kept) {
          p.probes.set(pk, kept);
          continue;
        }
        const dead = this.#abandonedKeys.get(sk);
        if (dead) {
          this.#abandoned.set(k, { at: this.#d.now(), detail: dead.detail });
          this.#finish(p, abandonedOutcome(dead.detail));
          return done;
        }
        this.#await(p, key, sk, false);
      }
    } else if ("probe" in what) {
      p.probes.set(probeKeyString(what.probe), what.probe);
    } else {
      const pk = probeKeyString(what.ref);
      const sk = `${scan}|${pk}`;
      const kept = this.#keptProbe(sk);
      if (kept) p.probes.set(pk, kept);
      else {
        // The prober stored the probe before it sent the ref: look for it now.
        this.#await(p, what.ref, sk, true);
        return done;
      }
    }
    this.#tryJudge(p);
    return done;
  }

  /** Makes the domain wait for a probe (scan|key `sk`); `now`: look for it in the store at once. */
  #await(p: Pending, key: ProbeKey, sk: string, now: boolean): void {
    let w = this.#waits.get(sk);
    if (!w) {
      w = { scan: p.scan, key, sk, domains: new Set(), since: this.#d.now(), delay: this.#lookAfter };
      this.#waits.set(sk, w);
    }
    w.domains.add(p);
    p.waitsFor.add(sk);
    if (now) this.#lookUp(w);
  }

  /**
   * A probe's result is in hand: kept (as `keep`), and handed to every
   * domain waiting for it (the one object). `via`: a link to the message
   * that brought it and that message's domain, for the joins of the other
   * domains it serves (with tracing).
   */
  #deliver(
    scan: string,
    pk: string,
    facts: ProbeFacts,
    keep: KeptProbe,
    via?: { link: Link; domain: string },
  ): void {
    const sk = `${scan}|${pk}`;
    this.#kept.set(sk, keep);
    const w = this.#waits.get(sk);
    if (!w) return;
    this.#waits.delete(sk);
    for (const q of w.domains) {
      q.waitsFor.delete(sk);
      if (q.judging || this.#pending.get(`${q.scan}|${q.domain}`) !== q) continue;
      q.probes.set(pk, facts);
      if (via && q.domain !== via.domain) q.span?.addLink(via.link);
      this.#tryJudge(q);
    }
  }

  /**
   * Looks for a waited-for probe in the store (one read per probe at a time,
   * batched by the reader); found, it is delivered to the domains waiting for
   * it; not found (or the store unreachable), they look again after twice the
   * last delay, up to LOOK_IN_STORE_GROWTH times the first (and the join timeout).
   */
  #lookUp(w: KeyWait): void {
    if (this.#reading.has(w.sk)) return;
    this.#reading.add(w.sk);
    const first: Pending | undefined = w.domains.values().next().value;
    const read = this.#reader.submit({ scan: w.scan, key: w.key, link: linkTo(first?.span) });
    const missed = () => {
      this.#reading.delete(w.sk);
      if (this.#waits.get(w.sk) !== w) return;
      w.since = this.#d.now();
      w.delay = Math.min(w.delay * 2, this.#lookEvery);
    };
    read.then((f) => {
      if (!f) return missed();
      this.#reading.delete(w.sk);
      // Kept at the size of its text (read from the store, it came with no message).
      this.#deliver(w.scan, probeKeyString(w.key), f, { facts: f, bytes: JSON.stringify(f).length });
    }, missed);
  }

  /** A kept probe result (parsed from its text when an in-process bus brought it), or undefined. */
  #keptProbe(sk: string): ProbeFacts | undefined {
    const v = this.#kept.get(sk);
    if (v === undefined) return undefined;
    return "facts" in v ? v.facts : probeFromText(v.json);
  }

  #tryJudge(p: Pending): void {
    if (p.judging || !p.facts || !p.needs) return;
    for (const k of p.needs) if (!p.probes.has(probeKeyString(k))) return;
    p.judging = true;
    let record: VerdictRecord;
    const t = this.#d.tracing;
    const judging = p.span?.isRecording() && t ? t.child(p.span, "judge") : undefined;
    try {
      record = judge(p.facts, (k) => p.probes.get(probeKeyString(k)), {
        now: this.#d.now(),
        probeMode: this.#d.probeMode,
        ...(this.#d.policy ? { policy: this.#d.policy } : {}),
        ...(this.#d.trust ? { trust: this.#d.trust } : {}),
        ...(this.#d.risk ? { risk: this.#d.risk } : {}),
        ...(p.route ? { route: p.route } : {}),
      });
    } catch (e) {
      if (judging) t?.end(judging, e);
      this.#finish(p, outcomeOf(e));
      return;
    }
    if (judging) {
      judging.setAttributes({
        [ATTR.verdictAction]: record.verdict.action,
        [ATTR.verdictReason]: record.verdict.reason,
        [ATTR.daneState]: record.dane,
        [ATTR.joinProbes]: p.probes.size,
      });
      judging.end();
    }
    // Judged: the probe results, the route and the facts' objects are no longer needed while
    // the verdict waits for the store's batch (the facts go as the text the store keeps,
    // Store.prepareJudged). Let go now, they die young instead of being promoted (a kept
    // result is parsed for this domain alone).
    let entry: PreparedJudged;
    try {
      entry = this.#d.store.prepareJudged(p.facts, record);
    } catch (e) {
      this.#finish(p, outcomeOf(e));
      return;
    }
    p.probes.clear();
    delete p.route;
    delete p.facts;
    this.#writer.submit({ scan: p.scan, entry, link: linkTo(p.span) }).then(
      (stored) => (this.#d.publishVerdicts ? this.#publish(p, stored) : this.#finish(p, { kind: "ack" })),
      (e) => {
        if (isFatal(e)) this.#d.onFatal?.(e);
        this.#finish(p, outcomeOf(e));
      },
    );
  }

  /**
   * Publishes the domain's verdict on [verdicts] (deployments), then lets its
   * messages go. The verdict is the one stored now, or, when the row was
   * stored before (a redelivery), one whose publication failed earlier in this
   * process. The store write and the publication are apart, so a failed
   * publication never makes the writer store its batch again row by row (which
   * lost the verdicts of the batch): the messages are retried, or
   * dead-lettered, as the bus's error says, and the redelivery publishes the
   * verdict kept here. The kept verdicts live in this process only: if it
   * dies between the store write and the publication, the verdict is in the
   * store but not on [verdicts]. Publish calls of many domains at once share
   * produce requests (the Kafka bus batches them).
   */
  #publish(p: Pending, stored: VerdictRecord | null): void {
    const k = `${p.scan}|${p.domain}`;
    const record = stored ?? this.#unpublished.get(k);
    if (!record) {
      this.#finish(p, { kind: "ack" });
      return;
    }
    this.#d.bus
      .publish([envelopeMessage(TOPICS.verdicts, record.domain, makeEnvelope("verdict", p.scan, { record }))])
      .then(
        () => {
          this.#unpublished.delete(k);
          this.#finish(p, { kind: "ack" });
        },
        (e) => {
          this.#unpublished.set(k, record);
          this.#finish(p, outcomeOf(e));
        },
      );
  }

  #finish(p: Pending, outcome: HandlerOutcome): void {
    const k = `${p.scan}|${p.domain}`;
    this.#pending.delete(k);
    for (const sk of p.waitsFor) {
      const w = this.#waits.get(sk);
      if (!w) continue;
      w.domains.delete(p);
      if (w.domains.size === 0) this.#waits.delete(sk);
    }
    p.waitsFor.clear();
    if (p.judging && outcome.kind === "ack") {
      this.#judged.set(k, true);
      if (this.#judged.size > JUDGED_MEMORY) this.#judgedOldest.shift();
    }
    this.#held -= p.waiters.length;
    if (p.span) this.#d.tracing?.endOutcome(p.span, outcome);
    for (const w of p.waiters) w.resolve(outcome);
  }

  /** Whether the join holds so many messages that the bus gives it no more (see `capacity`). */
  get saturated(): boolean {
    const c = this.#d.capacity;
    return c !== undefined && this.#held >= c * SATURATED_SHARE;
  }

  /**
   * Looks in the store for the probes whose wait is due (see #lookUp; at most
   * SATURATED_WAIT_MS while the join is saturated), and lets go of probe
   * results whose domain's facts never came.
   */
  #sweep(): void {
    const t = this.#d.now();
    for (const m of [this.#abandoned, this.#abandonedKeys])
      for (const [k, a] of m) if (t - a.at > ABANDONED_TTL_MS) m.delete(k);
    const saturated = this.saturated;
    for (const w of this.#waits.values()) {
      const wait = saturated ? Math.min(w.delay, SATURATED_WAIT_MS) : w.delay;
      if (t - w.since >= wait) this.#lookUp(w);
    }
    for (const p of this.#pending.values()) {
      // Probe results of a domain whose facts never came: acknowledge them.
      if (!p.judging && !p.facts && t - p.since >= this.#timeout) this.#finish(p, { kind: "ack" });
    }
  }
}

/** How many judged domains a join remembers (AggregateJoin #judged): ~6 MB. */
const JUDGED_MEMORY = 50_000;
/** Share of its capacity at which a join is saturated. */
const SATURATED_SHARE = 0.9;
/** How long a domain of a saturated join waits before it looks for its probes in the store. */
export const SATURATED_WAIT_MS = 2000;

/**
 * AggregateStageDeps.lookInStoreAfterMs where the resolver asks for each
 * probe once: the embedded scan's, and the aggregator service's default.
 */
export const LOOK_IN_STORE_AFTER_MS = 1000;

/**
 * A domain waiting for a probe looks in the store after lookInStoreAfterMs,
 * then after twice as long each time the probe is not there, up to this many
 * times lookInStoreAfterMs (4 s by default), never longer than the join
 * timeout. With several aggregators, a domain waiting on a probe another
 * instance's domain asked for learns of it only from the store; a wait that
 * doubled up to the join timeout (60 s) let it wait about as long again as
 * the probe took (bench/pipeline with two instances, where a busy prober's
 * probes took tens of seconds), holding back its partition's commits all
 * the while. Now it waits at most 4 s more. The reads are batched, one per
 * probe at a time.
 */
export const LOOK_IN_STORE_GROWTH = 4;

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
  const traced = d.tracing !== undefined;
  const handler = envelopesHandler(["dns-facts", "probe-result", "probe-ref"] as const, async (env, msg) => {
    const m = traced ? msg : undefined;
    if (env.type === "dns-facts") {
      const facts = env.body.facts as DomainFacts;
      return join.offer(env.scan, facts.domain, { facts }, m);
    }
    if (env.type === "probe-ref") {
      const { domain, ip, port, sni } = env.body as ProbeRefBody;
      return join.offer(env.scan, domain, { ref: { ip, port, sni } }, m);
    }
    const body = env.body as ProbeResultBody;
    // Kept for the domains whose facts come later and for refs: as the object a serialized
    // message brought, at its length; an in-process one as its text (JoinInput).
    const probe = body.facts as ProbeFacts;
    return join.offer(
      env.scan,
      body.domain,
      msg.decoded === undefined ? { probe, bytes: msg.value.length } : { probe },
      m,
    );
  });
  return { handler, join };
}
