/**
 * StubResolver: a DNSSEC-aware stub talking to validating recursive resolvers.
 *
 * `query(qname, qtype)` resolves to a Lookup and never rejects:
 * - EDNS0 (payload 1232, DO=1), random IDs, strict reply matching, over the
 *   `transport` chosen: "auto" (default): persistent pipelined TCP
 *   connections (RFC 7766); a query whose connection cannot be opened or is
 *   closed under it is asked again over UDP at once (the same attempt), and
 *   an upstream whose TCP connection cannot be opened, or never answers on an
 *   open one (a resolver over its TCP connection limit), is asked over UDP
 *   (TCP on TC=1) for the next 30 s; "tcp": TCP only; "udp": UDP, and TCP when a
 *   reply has TC=1. TCP is the default
 *   because it is the cheaper one, and at least as fast: bench/dns on the
 *   synthetic universe (10,000 domains, Unbound on loopback, three runs) gave
 *   9-19% less CPU per query than UDP with a cold resolver cache at the same
 *   rate, and 1.2-2x the rate for 25-35% less CPU with a warm one (figures in
 *   libs/dns/README.md);
 * - a timeout, network failure or malformed reply is retried on the next
 *   upstream, at most `retries` more times; when all fail: outcome "error"
 *   ("timeout" / "network" / "malformed"), security "indeterminate";
 * - NOERROR / NXDOMAIN: CNAMEs followed in the answer (answer.ts), security
 *   "secure" with AD=1, else "insecure";
 * - SERVFAIL: asked again with CD=1 on the same upstream; if that succeeds the
 *   answer is bogus (error "servfail", security "bogus"), else error "servfail",
 *   security "indeterminate";
 * - REFUSED / FORMERR / NOTIMP / other rcodes: error of that kind, indeterminate.
 * An error is never reported as not-found or insecure. Identical questions in
 * flight share one query; answers (including negative ones, RFC 2308) are cached
 * for their TTL (cache.ts), unless the question is not `shared` (QueryOptions),
 * within `cacheMaxBytes` of estimated heap (default 32 MiB) and
 * `cacheMaxEntries` entries, least recently used evicted first: a
 * hostile server's maximum-size RRsets (about 130 KB an entry) cannot grow the
 * heap past the budget. Lookups are shared between callers (in-flight and
 * cached ones): treat them as read-only. At most `perUpstreamConcurrency`
 * queries are in flight to one upstream (default 256; `Slots`), the others
 * wait for a slot in the order they came. `close()` ends every pending query
 * with a "network" error, those waiting for a slot included.
 * A stalled event loop (GC, a busy caller) is never a timeout: the transports
 * read a reply that arrived during the stall before they declare one
 * (transport.ts).
 *
 * The constructor throws DnsConfigError (code "no-upstreams" | "bad-upstream" | "bad-transport")
 * for a configuration that cannot work; validate with `parseUpstream` first to
 * avoid it.
 */
import { randomFillSync } from "node:crypto";
import type { Lookup, LookupErrorKind, Provenance, RRType, Security } from "@danesweep/dane";
import { Fifo } from "@danesweep/probe";
import { interpretAnswer, type RecordTypes } from "./answer.ts";
import { LookupCache } from "./cache.ts";
import { atOrAbove, canonicalQname } from "./normalize.ts";
import {
  type ExchangeResult,
  newCounters,
  parseUpstream,
  TcpChannel,
  type TransportCounters,
  UdpChannel,
  type Upstream,
} from "./transport.ts";
import { decodeMessage, encodeQuery, type Message, questionEnd, rcodeName, TYPE_CODES } from "./wire.ts";

export interface ResolverOptions {
  /** "127.0.0.1:53", "[::1]:53"; default ["127.0.0.1:53"]. */
  upstreams: string[];
  /** Per attempt; default 2000. */
  timeoutMs?: number;
  /** Further attempts after the first, rotating across upstreams; default 2. */
  retries?: number;
  /** Queries in flight per upstream; the rest wait in order. Default 256. */
  perUpstreamConcurrency?: number;
  /** "auto" (TCP, UDP while TCP cannot connect), "tcp" (persistent, pipelined) or "udp" (TCP on TC=1); default "auto". */
  transport?: TransportMode;
  /** Persistent TCP connections per upstream; default 4. */
  tcpConnections?: number;
  /** TTL-honouring cache; default true. */
  cache?: boolean;
  /** Cache entry cap (least recently used evicted first); default 20_000. */
  cacheMaxEntries?: number;
  /** Cache budget in estimated heap bytes (cache.ts lookupBytes); default 32 MiB. */
  cacheMaxBytes?: number;
  /** Clock for the cache (ms since the epoch); default Date.now. */
  now?: () => number;
  /** Uniform in [0, 1) for query IDs; default a crypto-random source. */
  random?: () => number;
  /**
   * False when the user accepted a resolver that does not validate: every
   * lookup's security is then "indeterminate". Default true.
   */
  trustAd?: boolean;
}

export const TRANSPORT_MODES = ["udp", "tcp", "auto"] as const;
export type TransportMode = (typeof TRANSPORT_MODES)[number];
/** The transport when none is chosen: pipelined TCP, UDP as the fallback (see the header). */
export const DEFAULT_TRANSPORT: TransportMode = "auto";

/** Default cache budget: about 250 hostile maximum-size entries, or some 30,000 ordinary ones. */
export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

/** How long an upstream that refused a TCP connection is asked over UDP in "auto" mode. */
const TCP_RETRY_AFTER_MS = 30_000;

/** How a question is asked (DnsQuerier.query). */
export interface QueryOptions {
  /**
   * Whether other questions of the run are likely to ask it again (default
   * true). A domain's own MX, CNAME and policy TXT questions are asked once
   * per domain in a scan: their answers are not kept in the cache, where they
   * would only push out the answers that MX hosts shared by many domains get
   * hits on, and stay on the heap until evicted (a cached answer still
   * serves them, and questions in flight are still shared).
   */
  shared?: boolean;
}

export interface DnsQuerier {
  query<K extends RRType>(qname: string, qtype: K, opts?: QueryOptions): Promise<Lookup<RecordTypes[K]>>;
}

export const DNS_CONFIG_ERRORS = ["no-upstreams", "bad-upstream", "bad-transport"] as const;
export type DnsConfigErrorCode = (typeof DNS_CONFIG_ERRORS)[number];

export class DnsConfigError extends Error {
  readonly code: DnsConfigErrorCode;
  constructor(code: DnsConfigErrorCode, detail: string) {
    super(detail);
    this.code = code;
    this.name = "DnsConfigError";
  }
}

export interface ResolverStats extends TransportCounters {
  questions: number;
  cacheHits: number;
  deduplicated: number;
  cacheEntries: number;
  /** Estimated heap bytes the cache holds. */
  cacheBytes: number;
  inFlight: number;
  queued: number;
  cdRequeries: number;
  outcomes: Record<string, number>;
}

interface UpstreamState {
  upstream: Upstream;
  udp: UdpChannel;
  tcp: TcpChannel;
  /** "auto": TCP is not tried before this time (ms, `now()` clock). */
  tcpDownUntil: number;
  /** Queries in flight to this upstream, at most `perUpstreamConcurrency`. */
  slots: Slots;
}

/**
 * A counting semaphore: at most `limit` holders, the others wait first come,
 * first served. Taking a free slot allocates nothing and costs no turn of the
 * event loop (a query asks for one per attempt, hundreds of thousands of times
 * in a survey); `release` hands the slot straight to the next waiter.
 */
export class Slots {
  #active = 0;
  #limit: number;
  readonly #waiting = new Fifo<() => void>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Takes a slot if one is free now: true when taken, false when the caller must `wait()`. */
  tryTake(): boolean {
    if (this.#active >= this.#limit) return false;
    this.#active++;
    return true;
  }

  /** Resolves once a slot is the caller's (after a `tryTake` that returned false). */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
    });
  }

  /** Gives a slot back: to the longest waiter if there is one. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#active--;
  }

  /** No limit from now on: every waiter gets its slot (close()). */
  openAll(): void {
    this.#limit = Number.POSITIVE_INFINITY;
    const waiting = this.#waiting.drain();
    this.#active += waiting.length;
    for (const w of waiting) w();
  }
}

interface Exchanged {
  msg?: Message;
  failure?: LookupErrorKind;
  upstream: string;
  transport: "udp" | "tcp";
  attempts: number;
}

const NO_FLAGS = { aa: false, tc: false, rd: false, ra: false, ad: false, cd: false };

/** A lookup that ended in an error: no records. */
function failed<T>(
  qname: string,
  qtype: RRType,
  error: LookupErrorKind,
  security: Security,
  provenance: Provenance,
): Lookup<T> {
  return {
    qname,
    qtype,
    chain: [],
    owner: qname,
    records: [],
    outcome: "error",
    error,
    security,
    provenance,
  };
}

/** Where a lookup's answer came from; `t0` when it was asked (performance.now()). */
function provenanceOf(ex: Exchanged, t0: number, cdRcode?: string): Provenance {
  const h = ex.msg?.header;
  const p: Provenance = {
    upstream: ex.upstream,
    transport: ex.transport,
    rcode: ex.msg ? rcodeName(ex.msg.rcode) : "NONE",
    flags: h ? { aa: h.aa, tc: h.tc, rd: h.rd, ra: h.ra, ad: h.ad, cd: h.cd } : { ...NO_FLAGS },
    attempts: ex.attempts,
    elapsedMs: Math.round((performance.now() - t0) * 1000) / 1000,
    cached: false,
  };
  if (cdRcode !== undefined) p.cdRcode = cdRcode;
  return p;
}

function cryptoRandom(): () => number {
  const pool = new Uint32Array(1024);
  let i = pool.length;
  return () => {
    if (i >= pool.length) {
      randomFillSync(pool);
      i = 0;
    }
    return pool[i++]! / 0x1_0000_0000;
  };
}

/** A presentation name dns-packet encodes faithfully: no escapes, labels 1..63 octets, <= 253 characters. */
function encodable(name: string): boolean {
  if (name === ".") return true;
  if (name.length > 253) return false;
  // Labels of 1-63 printable ASCII characters other than "\\", separated by
  // single dots (no empty label, so no trailing dot). Asked per query: no allocation.
  let label = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0) return false;
      label = 0;
    } else if (c < 0x21 || c > 0x7e || c === 0x5c || ++label > 63) {
      return false;
    }
  }
  return label > 0;
}

/** The error kind of an rcode other than NOERROR and NXDOMAIN (the authoritative client's statuses too). */
export function rcodeError(rcode: number): LookupErrorKind {
  switch (rcode) {
    case 1:
      return "formerr";
    case 2:
      return "servfail";
    case 4:
      return "notimp";
    case 5:
      return "refused";
    default:
      return "other";
  }
}

export class StubResolver implements DnsQuerier {
  private readonly ups: UpstreamState[];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly cacheOn: boolean;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly trustAd: boolean;
  private readonly cache: LookupCache;
  private readonly inflight = new Map<string, Promise<Lookup<unknown>>>();
  private readonly mode: TransportMode;
  private readonly counters: TransportCounters = newCounters();
  private readonly extra = { questions: 0, cacheHits: 0, deduplicated: 0, cdRequeries: 0 };
  private readonly outcomes: Record<string, number> = {};
  private rr = 0;
  private closed = false;

  constructor(o: ResolverOptions) {
    const list = o.upstreams?.length ? o.upstreams : ["127.0.0.1:53"];
    if (!Array.isArray(list)) throw new DnsConfigError("no-upstreams", "upstreams must be a list");
    const mode = o.transport ?? DEFAULT_TRANSPORT;
    if (!TRANSPORT_MODES.includes(mode))
      throw new DnsConfigError("bad-transport", `unknown transport ${mode}`);
    this.mode = mode;
    const concurrency = Math.max(1, o.perUpstreamConcurrency ?? 256);
    this.ups = list.map((text) => {
      const p = parseUpstream(text);
      if (!p.ok) throw new DnsConfigError("bad-upstream", p.detail);
      return {
        upstream: p.upstream,
        udp: new UdpChannel(p.upstream, this.counters),
        tcp: new TcpChannel(p.upstream, this.counters, { connections: o.tcpConnections ?? 4 }),
        tcpDownUntil: 0,
        slots: new Slots(concurrency),
      };
    });
    this.timeoutMs = o.timeoutMs ?? 2000;
    this.retries = Math.max(0, o.retries ?? 2);
    this.now = o.now ?? Date.now;
    this.cache = new LookupCache({
      maxEntries: o.cacheMaxEntries ?? 20_000,
      maxBytes: o.cacheMaxBytes ?? DEFAULT_CACHE_BYTES,
      now: this.now,
    });
    this.cacheOn = (o.cache ?? true) && this.cache.enabled;
    this.random = o.random ?? cryptoRandom();
    this.trustAd = o.trustAd ?? true;
  }

  /** The configured upstreams, as reported in provenance. */
  get upstreams(): string[] {
    return this.ups.map((u) => u.upstream.key);
  }

  query<K extends RRType>(qname: string, qtype: K, opts?: QueryOptions): Promise<Lookup<RecordTypes[K]>> {
    const name = canonicalQname(qname);
    this.extra.questions++;
    const key = qtype + " " + name;
    if (this.cacheOn) {
      const hit = this.cache.get(key);
      if (hit) {
        this.extra.cacheHits++;
        return Promise.resolve(hit as Lookup<RecordTypes[K]>);
      }
    }
    const running = this.inflight.get(key);
    if (running) {
      this.extra.deduplicated++;
      return running as Promise<Lookup<RecordTypes[K]>>;
    }
    // resolve() removes the entry when it settles (in `settle`, before its promise resolves).
    const p = this.resolve(name, qtype, undefined, false, key, opts?.shared ?? true);
    this.inflight.set(key, p as Promise<Lookup<unknown>>);
    return p;
  }

  /**
   * One question to one upstream, uncached and not de-duplicated (the
   * validation check and diagnostics use it). Same Lookup contract as query().
   */
  queryUpstream<K extends RRType>(
    upstream: number,
    qname: string,
    qtype: K,
    opts: { cd?: boolean } = {},
  ): Promise<Lookup<RecordTypes[K]>> {
    return this.resolve(canonicalQname(qname), qtype, upstream, opts.cd ?? false);
  }

  stats(): ResolverStats {
    let inFlight = 0;
    let queued = 0;
    for (const u of this.ups) {
      inFlight += u.slots.active;
      queued += u.slots.queued;
    }
    return {
      ...this.counters,
      ...this.extra,
      cacheEntries: this.cache.size,
      cacheBytes: this.cache.bytes,
      inFlight,
      queued,
      outcomes: { ...this.outcomes },
    };
  }

  clearCache(): void {
    this.cache.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cache.clear();
    // Queries waiting for a slot run now, so that they end (as "network" errors on the closed channels).
    for (const u of this.ups) u.slots.openAll();
    await Promise.all(this.ups.flatMap((u) => [u.udp.close(), u.tcp.close()]));
  }

  // ---------------------------------------------------------------- internals

  private pickId = (): number => Math.floor(this.random() * 0x10000) & 0xffff;

  /** Sends the question until a decodable reply arrives or attempts run out. */
  private async exchange(
    qname: string,
    qtype: RRType,
    cd: boolean,
    pin: number | undefined,
  ): Promise<Exchanged> {
    const code = TYPE_CODES[qtype];
    let query: Buffer;
    let qEnd: number;
    try {
      // Unsupported type, unknown upstream index, or a name dns-packet cannot encode: "other".
      if (code === undefined || (pin !== undefined && !this.ups[pin])) throw new RangeError("bad question");
      if (!encodable(qname)) throw new RangeError("name not encodable");
      query = encodeQuery(0, qname, qtype, { cd });
      qEnd = questionEnd(query);
    } catch {
      const key = this.ups[pin ?? 0]?.upstream.key ?? "none";
      return { failure: "other", upstream: key, transport: "udp", attempts: 0 };
    }
    const start = pin ?? this.rr++ % this.ups.length;
    const total = 1 + this.retries;
    let attempts = 0;
    let failure: LookupErrorKind = "timeout";
    let last = this.ups[start]!;
    let transport: "udp" | "tcp" = "udp";
    for (let i = 0; i < total; i++) {
      if (this.closed) return { failure: "network", upstream: last.upstream.key, transport, attempts };
      const u = pin === undefined ? this.ups[(start + i) % this.ups.length]! : this.ups[pin]!;
      last = u;
      // The attempt, in a slot of the upstream's concurrency limit: over TCP
      // first when the mode says so ("auto" falls back to UDP at once when the
      // connection cannot be used), else over UDP and again over TCP when the
      // reply is truncated. `attempts` counts the queries sent. (One async
      // level per question: each level is a promise and a suspended frame.)
      if (!u.slots.tryTake()) await u.slots.wait();
      let r: ExchangeResult;
      try {
        attempts++;
        let tcp: ExchangeResult | undefined;
        if (this.mode === "tcp" || (this.mode === "auto" && u.tcpDownUntil <= this.now())) {
          transport = "tcp";
          tcp = await u.tcp.exchange(query, qEnd, this.timeoutMs, this.pickId);
          if (tcp.kind === "network" && this.mode === "auto" && !this.closed) {
            // "auto": a connection that cannot be opened, or that the server closed
            // under the query (a restart, a reload), is no answer: ask over UDP now,
            // as the "udp" transport would have, instead of spending the attempt.
            if (tcp.connectFailed) u.tcpDownUntil = this.now() + TCP_RETRY_AFTER_MS;
            attempts++;
            tcp = undefined;
          } else if (tcp.kind === "timeout" && tcp.unanswered && this.mode === "auto") {
            // A connection that never answered (a resolver over its TCP connection
            // limit): the next attempts, and queries for a while, go over UDP.
            u.tcpDownUntil = this.now() + TCP_RETRY_AFTER_MS;
          }
        }
        if (tcp) {
          r = tcp;
        } else {
          transport = "udp";
          r = await u.udp.exchange(query, qEnd, this.timeoutMs, this.pickId);
          if (r.kind === "reply" && (r.buf[2]! & 0x02) !== 0 && !this.closed) {
            attempts++;
            transport = "tcp";
            r = await u.tcp.exchange(query, qEnd, this.timeoutMs, this.pickId);
          }
        }
      } finally {
        u.slots.release();
      }
      if (r.kind === "timeout") {
        failure = "timeout";
        continue;
      }
      if (r.kind === "network") {
        failure = "network";
        continue;
      }
      const d = decodeMessage(r.buf);
      if (!d.ok) {
        failure = "malformed";
        continue;
      }
      return { msg: d.value, upstream: u.upstream.key, transport, attempts };
    }
    return { failure, upstream: last.upstream.key, transport, attempts };
  }

  /**
   * A lookup's end: counted; for a question of query() (`key`, its in-flight
   * and cache key), out of the in-flight map and cached for `cacheTtl` seconds
   * when given.
   */
  private settle<L extends Lookup<unknown>>(l: L, key: string | undefined, cacheTtl: number | undefined): L {
    const tag = l.outcome === "error" ? `error:${l.error}` : l.outcome;
    this.outcomes[tag] = (this.outcomes[tag] ?? 0) + 1;
    if (!this.trustAd) l.security = "indeterminate";
    if (key === undefined) return l;
    this.inflight.delete(key);
    if (this.cacheOn && cacheTtl !== undefined && cacheTtl > 0) {
      const view = l.provenance ? { ...l, provenance: { ...l.provenance, cached: true } } : l;
      this.cache.set(key, view, cacheTtl);
    }
    return l;
  }

  /**
   * Asks and interprets one question. `key`: its in-flight and cache key when
   * query() asks it (queryUpstream's questions have none: not shared, not
   * cached); `keep`: whether its answer may be cached (QueryOptions.shared).
   */
  private async resolve<K extends RRType>(
    qname: string,
    qtype: K,
    pin?: number,
    cd = false,
    key?: string,
    keep = true,
  ): Promise<Lookup<RecordTypes[K]>> {
    const t0 = performance.now();
    const ex = await this.exchange(qname, qtype, cd, pin);
    const msg = ex.msg;
    if (!msg) {
      const l = failed<RecordTypes[K]>(
        qname,
        qtype,
        ex.failure ?? "other",
        "indeterminate",
        provenanceOf(ex, t0),
      );
      return this.settle(l, key, undefined);
    }
    const rcode = msg.rcode;
    if (rcode === 0 || rcode === 3) {
      const a = interpretAnswer(msg, qname, qtype);
      const security: Security = msg.header.ad ? "secure" : "insecure";
      const l: Lookup<RecordTypes[K]> = {
        qname,
        qtype,
        outcome: a.outcome,
        security,
        chain: a.chain,
        owner: a.owner,
        records: a.records,
        provenance: provenanceOf(ex, t0),
      };
      if (a.error) l.error = a.error;
      if (a.limitHit) l.limitHit = a.limitHit;
      if (a.ttl !== undefined) l.ttl = a.ttl;
      // The signer names the zone only of an RRset the resolver validated, and only at or above it.
      if (a.zone !== undefined && security === "secure" && atOrAbove(a.zone, a.owner)) l.zone = a.zone;
      // Only the answers of shared questions are kept.
      return this.settle(l, key, keep && a.outcome !== "error" ? a.cacheTtl : undefined);
    }
    if (rcode === 2 && !cd) {
      // Bogus or a plain failure? Ask the same upstream again with CD=1 (rule 1).
      this.extra.cdRequeries++;
      const upIdx = this.ups.findIndex((u) => u.upstream.key === ex.upstream);
      const again = await this.exchange(qname, qtype, true, Math.max(upIdx, 0));
      const cdRcode = again.msg ? rcodeName(again.msg.rcode) : "NONE";
      const bogus = again.msg !== undefined && (again.msg.rcode === 0 || again.msg.rcode === 3);
      const provenance = provenanceOf(ex, t0, cdRcode);
      provenance.attempts += again.attempts;
      const l = failed<RecordTypes[K]>(
        qname,
        qtype,
        "servfail",
        bogus ? "bogus" : "indeterminate",
        provenance,
      );
      return this.settle(l, key, undefined);
    }
    const l = failed<RecordTypes[K]>(qname, qtype, rcodeError(rcode), "indeterminate", provenanceOf(ex, t0));
    return this.settle(l, key, undefined);
  }
}
