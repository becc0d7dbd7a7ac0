/**
 * The seed stage: read candidate names, normalise them (libs/dns), drop the
 * opted-out ones, record the new ones in the store and publish them to
 * [domains]. Streams: at most one batch is held at a time, whatever the input
 * size. De-duplication is the store's: seedDomains returns only the domains it
 * added, so a name repeated anywhere in the input is scanned once.
 *
 * A batch is seeded when full, when the input ends, or when input has been
 * slow to come for `maxWaitMs`.
 *
 * Invalid names and opted-out domains are reported through `onSkip` with their
 * source and line, and the rest go on. Stops early, between batches, when
 * `signal` aborts.
 */
import { type Bus, envelopeMessage, makeEnvelope, TOPICS } from "@danesweep/bus";
import { normalizeDomain } from "@danesweep/dns";
import { matchOptOut, type OptOutList } from "@danesweep/probe";
import type { Store } from "@danesweep/store";
import { ATTR, type Span, type Tracing } from "@danesweep/telemetry";

export interface SeedLine {
  source: string;
  line: number;
  text: string;
}

export type SeedSkip =
  | { kind: "invalid"; error: string; detail: string }
  | { kind: "opted-out"; entry: string }
  | { kind: "duplicate" };

export interface SeedStats {
  read: number;
  seeded: number;
  invalid: number;
  optedOut: number;
  duplicates: number;
}

export interface SeedOptions {
  store: Store;
  bus: Bus;
  scan: string;
  optOut?: OptOutList;
  signal?: AbortSignal;
  batch?: number;
  /**
   * A batch is seeded when it is full or when it has waited this long for
   * more input (default 200 ms): names that trickle in on a pipe are scanned
   * as they come, not when the pipe closes.
   */
  maxWaitMs?: number;
  onSkip?: (line: SeedLine, why: SeedSkip) => void;
  /** Called after each batch is seeded (progress). */
  onBatch?: (stats: SeedStats) => void;
  /**
   * With tracing: each domain published starts its trace here (a root span,
   * `send danesweep.domains`, ended once the bus accepted the batch); its
   * message carries the trace context.
   */
  tracing?: Tracing;
}

export async function seedDomains(input: AsyncIterable<SeedLine>, o: SeedOptions): Promise<SeedStats> {
  const stats: SeedStats = { read: 0, seeded: 0, invalid: 0, optedOut: 0, duplicates: 0 };
  const size = o.batch ?? 500;
  let batch: { domain: string; line: number; src: SeedLine }[] = [];

  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    const added = new Set(await o.store.seedDomains(o.scan, items));
    const published = new Set<string>();
    const messages = [];
    const t = o.tracing;
    const spans: Span[] | undefined = t ? [] : undefined;
    for (const it of items) {
      if (added.has(it.domain) && !published.has(it.domain)) {
        published.add(it.domain);
        const span = t?.send(TOPICS.domains, it.domain, { [ATTR.scan]: o.scan, [ATTR.domain]: it.domain });
        if (span) spans?.push(span);
        messages.push(
          envelopeMessage(
            TOPICS.domains,
            it.domain,
            makeEnvelope("domain", o.scan, { domain: it.domain, line: it.line, input: it.src.text }),
            span ? t?.headers(span) : undefined,
          ),
        );
      } else {
        stats.duplicates++;
        o.onSkip?.(it.src, { kind: "duplicate" });
      }
    }
    stats.seeded += messages.length;
    if (spans) await endAfter(o.tracing as Tracing, spans, o.bus.publish(messages));
    else await o.bus.publish(messages);
    o.onBatch?.(stats);
  };

  const maxWaitMs = o.maxWaitMs ?? 200;
  // Each wait for the next line can also be ended by the batch's timer (armed
  // by its first name: when it fires while the input is quiet, the batch is
  // seeded without waiting for it to fill) or by an interruption (a pipe left
  // open). Both go through `wake`, the resolver of the current wait only: a
  // promise that lives as long as the input and is raced once per line would
  // keep every line's race alive until the scan ends (100,000 lines: tens of
  // MB, and a major GC's marking walks them all).
  type Woken = IteratorResult<SeedLine> | "stopped" | "due";
  let wake: ((r: Woken) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let due = false;
  const disarm = () => {
    clearTimeout(timer);
    timer = undefined;
    due = false;
  };
  const onAbort = () => wake?.("stopped");
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const it = input[Symbol.asyncIterator]();
  let next = it.next();
  let ended = false;
  try {
    for (;;) {
      if (o.signal?.aborted) break;
      const r: Woken = due
        ? "due"
        : await new Promise<Woken>((res, rej) => {
            wake = res;
            next.then(res, rej);
          });
      wake = undefined;
      if (r === "stopped") break;
      if (r === "due") {
        disarm();
        await flush();
        continue;
      }
      if (r.done) {
        ended = true;
        break;
      }
      next = it.next();
      const l = r.value;
      stats.read++;
      const n = normalizeDomain(l.text);
      if (!n.ok) {
        stats.invalid++;
        o.onSkip?.(l, { kind: "invalid", error: n.error, detail: n.detail });
        continue;
      }
      const hit = o.optOut ? matchOptOut(o.optOut, { ip: "", domain: n.name }) : undefined;
      if (hit) {
        stats.optedOut++;
        o.onSkip?.(l, { kind: "opted-out", entry: hit.entry });
        continue;
      }
      batch.push({ domain: n.name, line: l.line, src: l });
      if (batch.length >= size) {
        disarm();
        await flush();
      } else if (timer === undefined) {
        timer = setTimeout(() => {
          due = true;
          wake?.("due");
        }, maxWaitMs);
      }
    }
  } finally {
    disarm();
    o.signal?.removeEventListener("abort", onAbort);
    // Stopped early (interrupted, or the store failed): let the input close its file or stream.
    if (!ended) void Promise.resolve(it.return?.()).catch(() => {});
  }
  if (!o.signal?.aborted) await flush();
  return stats;
}

/** Ends the seed spans once the publish settled (failed if it failed). */
async function endAfter(t: Tracing, spans: Span[], publishing: Promise<void>): Promise<void> {
  try {
    await publishing;
  } catch (e) {
    for (const s of spans) t.end(s, e);
    throw e;
  }
  for (const s of spans) s.end();
}

/**
 * Publishes the scan's domains not judged yet (resume after an interruption
 * or a crash). With an opt-out list, the domains it now names (domain
 * entries, added since they were seeded) are taken out of the scan instead,
 * and reported through `onOptedOut`. With tracing, each domain starts a new
 * trace (as seeding does).
 */
export async function republishPending(
  store: Store,
  bus: Bus,
  scan: string,
  o: { optOut?: OptOutList; onOptedOut?: (domain: string, entry: string) => void; tracing?: Tracing } = {},
): Promise<number> {
  let n = 0;
  let after: { line: number; domain: string } | undefined;
  for (;;) {
    const all = await store.pendingDomains(scan, after ? { limit: 1000, after } : { limit: 1000 });
    if (all.length === 0) return n;
    const last = all[all.length - 1] as { line: number; domain: string };
    const optOut = o.optOut;
    const out = optOut
      ? all.flatMap((p) => {
          const hit = matchOptOut(optOut, { ip: "", domain: p.domain });
          return hit ? [{ domain: p.domain, entry: hit.entry }] : [];
        })
      : [];
    if (out.length > 0) {
      const removed = new Set(
        await store.unseedDomains(
          scan,
          out.map((x) => x.domain),
        ),
      );
      for (const x of out) if (removed.has(x.domain)) o.onOptedOut?.(x.domain, x.entry);
    }
    const gone = new Set(out.map((x) => x.domain));
    const page = all.filter((p) => !gone.has(p.domain));
    const t = o.tracing;
    const spans: Span[] = [];
    const publishing = bus.publish(
      page.map((p) => {
        const span = t?.send(TOPICS.domains, p.domain, { [ATTR.scan]: scan, [ATTR.domain]: p.domain });
        if (span) spans.push(span);
        return envelopeMessage(
          TOPICS.domains,
          p.domain,
          makeEnvelope(
            "domain",
            scan,
            p.line > 0 ? { domain: p.domain, line: p.line } : { domain: p.domain },
          ),
          span ? t?.headers(span) : undefined,
        );
      }),
    );
    if (t) await endAfter(t, spans, publishing);
    else await publishing;
    n += page.length;
    after = { line: last.line, domain: last.domain };
  }
}
