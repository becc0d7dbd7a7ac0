/**
 * The consistency facts of a domain (issue 14, item 1): for each TLSA RRset
 * DANE depends on, what every authoritative server of its zone serves.
 *
 * `new ConsistencyChecker({ resolver, guard, now, ... })`;
 * `checker.check(facts)` resolves, never rejects, with the
 * TlsaConsistencyFacts of the domain (libs/dane facts.ts), or undefined when
 * no host has a secure TLSA RRset (DANE does not depend on any) or the
 * resolver does not validate:
 * - the RRsets: per host, the TLSA lookup libs/dane `planTlsaBase` decided
 *   on (a secure answer), by its owner (after CNAMEs);
 * - the zone: the closest name at or above the owner with an NS RRset of
 *   its own, asked through the validating resolver (a CNAME is not one).
 *   The TLSA lookup's `zone` (its RRSIG's signer, which names that zone) is
 *   asked first, one question the resolver's cache answers for the zone's
 *   other RRsets; without it, or when it has no NS RRset of its own, the
 *   names from the owner up are asked one at a time;
 * - the servers: the NS names in order, each one's A then AAAA addresses
 *   through the validating resolver, at most `maxAddresses` in all (the rest
 *   "beyond-limit", and a limit "ns-addresses>N");
 * - each address is asked directly with `askTlsa` (authoritative.ts): the
 *   guard's policy (private addresses, the opt-out list, the server's name
 *   as host), the guard's per-server rate, RD=0, DO=1.
 * Results are cached per RRset owner for `cacheMs` (a provider's zone is
 * asked once, not once per domain; `checkedAt` says when), and questions in
 * flight are shared. The cache keeps each result as its JSON text, at most
 * `cacheBytes` of it, oldest dropped first: a bound on memory whatever the
 * number of servers a zone has, and room for every TLSA RRset of a large
 * survey (a million-domain synthetic universe has ~60,000, ~34 MB of text).
 * When the cache held 20,000 results as objects, that universe's RRsets were
 * dropped before their next use, and the check's pacing (100 questions a
 * second to its one server) held the scan at ~217 domains/s.
 *
 * `newConsistencyChecker({ resolver, allowPrivate, optOut, now })` makes one
 * with its own Guard at NS_POLITENESS (a name server takes more queries than
 * an MX host takes connections, but each is still rate-limited per address).
 */
import {
  type AuthoritativeAnswer,
  type DomainFacts,
  type Lookup,
  planTlsaBase,
  type TlsaConsistencyFacts,
} from "@danesweep/dane";
import { Guard, type OptOutList } from "@danesweep/probe";
import { type AskOptions, askTlsa } from "./authoritative.ts";
import { SizedLru } from "./evict.ts";
import { atOrAbove } from "./normalize.ts";
import type { DnsQuerier } from "./resolver.ts";

export interface ConsistencyOptions {
  /** The validating resolver: NS and addresses of the servers. */
  resolver: DnsQuerier;
  /** The politeness of every contact with a server (libs/probe Guard). */
  guard: Guard;
  now: () => number;
  /** Server addresses asked per RRset; default 8. */
  maxAddresses?: number;
  /** How long an RRset's result is reused; default 10 minutes. */
  cacheMs?: number;
  /** Bytes of results (their JSON text) kept; default 64 MiB. */
  cacheBytes?: number;
  /** Per question to a server. */
  ask?: AskOptions;
}

/**
 * Per name-server address: 100 queries a second, burst 200, 8 at once; 200
 * at once overall. One question per TLSA RRset and server address, each
 * RRset asked once per cache period however many domains use it: about what
 * a validating resolver sends those servers for the same scan. The rate is
 * what the check costs where many DANE zones share servers (the synthetic
 * universe has every zone on one server: bench/risk/run.ts); the resolve
 * stage requests a domain's probes before the check, so the two overlap.
 */
export const NS_POLITENESS = {
  perIpRate: 100,
  perIpBurst: 200,
  perIpConcurrency: 8,
  globalConcurrency: 200,
} as const;

export function newConsistencyChecker(o: {
  resolver: DnsQuerier;
  allowPrivate: boolean;
  optOut?: OptOutList | undefined;
  now: () => number;
}): ConsistencyChecker {
  const guard = new Guard({ ...NS_POLITENESS, allowPrivate: o.allowPrivate, optOut: o.optOut, now: o.now });
  return new ConsistencyChecker({ resolver: o.resolver, guard, now: o.now });
}

/** Names above a TLSA owner tried for the zone cut (enough for _25._tcp.<host> in deep zones). */
const MAX_ZONE_STEPS = 12;

function parent(name: string): string {
  const i = name.indexOf(".");
  return i < 0 ? "." : name.slice(i + 1);
}

/** An NS answer at `name` itself (no CNAME): `name` is a zone's apex. */
function ownNs(l: Lookup<string>, name: string): boolean {
  return l.outcome === "answer" && l.chain.length === 0 && l.owner === name;
}

/**
 * The owners of the TLSA RRsets DANE rests on (none when the resolver does
 * not validate), each with the zone its RRSIG names (Lookup.zone) when that
 * is at or above the owner: where to ask for the NS RRset first.
 */
function ownersOf(facts: DomainFacts): Map<string, string | undefined> {
  const owners = new Map<string, string | undefined>();
  if (!facts.resolverValidates) return owners;
  for (const h of facts.hosts) {
    const plan = planTlsaBase(h, facts.port);
    if (plan.kind === "decided" && plan.decision.kind === "dane") {
      const { owner, zone } = plan.decision.tlsa;
      if (!owners.has(owner))
        owners.set(owner, zone !== undefined && atOrAbove(zone, owner) ? zone : undefined);
    }
  }
  return owners;
}

export class ConsistencyChecker {
  readonly #o: ConsistencyOptions;
  /** Settled results by owner, as JSON text, within `cacheBytes`. */
  readonly #cache: SizedLru<string, { at: number; json: string }>;
  /** Checks in flight by owner: later domains with the same RRset share them. */
  readonly #inFlight = new Map<string, Promise<TlsaConsistencyFacts>>();
  #asked = 0;
  #reused = 0;

  constructor(o: ConsistencyOptions) {
    this.#o = o;
    this.#cache = new SizedLru(o.cacheBytes ?? 64 * 1024 * 1024, (v) => v.json.length);
  }

  /** RRsets checked, and answered from the cache (or a check in flight); results cached, and their bytes. */
  stats(): { checked: number; reused: number; cached: number; cachedBytes: number } {
    return {
      checked: this.#asked,
      reused: this.#reused,
      cached: this.#cache.count,
      cachedBytes: this.#cache.size,
    };
  }

  /** Whether `check` asks anything for these facts: a secure TLSA RRset DANE rests on. */
  applies(facts: DomainFacts): boolean {
    return ownersOf(facts).size > 0;
  }

  async check(facts: DomainFacts): Promise<TlsaConsistencyFacts[] | undefined> {
    const owners = ownersOf(facts);
    if (owners.size === 0) return undefined;
    return Promise.all([...owners.keys()].sort().map((o) => this.#rrset(o, owners.get(o))));
  }

  #rrset(owner: string, zoneHint: string | undefined): Promise<TlsaConsistencyFacts> {
    const pending = this.#inFlight.get(owner);
    if (pending) {
      this.#reused++;
      return pending;
    }
    const t = this.#o.now();
    const hit = this.#cache.get(owner);
    if (hit) {
      if (t - hit.at < (this.#o.cacheMs ?? 600_000)) {
        this.#reused++;
        return Promise.resolve(JSON.parse(hit.json) as TlsaConsistencyFacts);
      }
      this.#cache.delete(owner);
    }
    this.#asked++;
    const value = this.#checkRrset(owner, zoneHint);
    this.#inFlight.set(owner, value);
    value.then(
      (v) => {
        this.#inFlight.delete(owner);
        this.#remember(owner, t, v);
      },
      () => this.#inFlight.delete(owner),
    );
    return value;
  }

  /** A settled check into the cache. The owner has no entry there: #rrset dropped it before asking. */
  #remember(owner: string, at: number, v: TlsaConsistencyFacts): void {
    this.#cache.set(owner, { at, json: JSON.stringify(v) });
  }

  /** The zone's NS lookup at `zone` when it has an NS RRset of its own there, else undefined. */
  async #nsAt(zone: string): Promise<Lookup<string> | undefined> {
    const l = await this.#o.resolver.query(zone, "NS");
    return ownNs(l, zone) ? l : undefined;
  }

  async #checkRrset(owner: string, zoneHint: string | undefined): Promise<TlsaConsistencyFacts> {
    const r = this.#o.resolver;
    const checkedAt = new Date(this.#o.now()).toISOString();
    let name = owner;
    // The RRSIG's signer names the zone: one NS question (the resolver's cache answers it again
    // for the zone's other RRsets), not one per name from the owner up to the zone's cut. When
    // it has no NS RRset of its own, the walk below decides.
    let ns: Lookup<string> | undefined = zoneHint !== undefined ? await this.#nsAt(zoneHint) : undefined;
    if (ns) name = zoneHint as string;
    for (let i = 0; !ns && i < MAX_ZONE_STEPS && name !== "."; i++, name = parent(name)) {
      const l = await r.query(name, "NS");
      if (l.outcome === "error") {
        ns = l;
        break;
      }
      if (ownNs(l, name)) {
        ns = l;
        break;
      }
    }
    if (ns?.outcome !== "answer") {
      const out: TlsaConsistencyFacts = {
        qname: owner,
        ns: {
          outcome: ns?.outcome ?? "nodata",
          security: ns?.security ?? "indeterminate",
          names: [],
        },
        servers: [],
        checkedAt,
      };
      if (ns?.error !== undefined) out.ns.error = ns.error;
      return out;
    }
    const zone = name;
    const names = [...new Set(ns.records)].sort();
    const lookups = await Promise.all(
      names.map(async (n) => {
        const [a, aaaa] = await Promise.all([r.query(n, "A"), r.query(n, "AAAA")]);
        return { n, a, aaaa };
      }),
    );
    const max = this.#o.maxAddresses ?? 8;
    const servers: (AuthoritativeAnswer | Promise<AuthoritativeAnswer>)[] = [];
    let asked = 0;
    let capped = false;
    for (const { n, a, aaaa } of lookups) {
      const addresses = [
        ...(a.outcome === "answer" ? a.records : []),
        ...(aaaa.outcome === "answer" ? aaaa.records : []),
      ];
      if (addresses.length === 0) {
        const failed = a.outcome === "error" && aaaa.outcome === "error";
        servers.push({ server: n, status: failed ? "address-lookup-failed" : "no-address" });
        continue;
      }
      for (const address of addresses) {
        if (asked >= max) {
          capped = true;
          servers.push({ server: n, address, status: "beyond-limit" });
          continue;
        }
        asked++;
        servers.push(askTlsa(this.#o.guard, { name: n, address }, owner, this.#o.ask));
      }
    }
    const out: TlsaConsistencyFacts = {
      qname: owner,
      zone,
      ns: { outcome: ns.outcome, security: ns.security, names },
      servers: await Promise.all(servers),
      checkedAt,
    };
    if (capped) out.limits = [`ns-addresses>${max}`];
    return out;
  }
}
