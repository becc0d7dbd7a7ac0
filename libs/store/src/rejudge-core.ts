/**
 * The pure part of re-judging stored facts (rejudge.ts does the I/O): which
 * probes a stored domain's judgement may read, the judgement itself, and the
 * change counts of a run. No I/O, no clock reads.
 *
 * Contract:
 * - `probesToRead(facts, probeMode, policy)`: the probe keys (by
 *   probeKeyString) the verdict engine may be given for these facts, the ones the resolver
 *   stage asks for under that probe mode and policy (libs/dane probeTargets),
 *   and the MTA-STS policy fetch when the facts call for one (libs/dane
 *   policyFetchTarget, as the resolver's probeNeeds).
 *   A probe outside this set is never given to the engine, even when the scan
 *   stored it for another domain: the pipeline's aggregator gives a domain
 *   only the probes it asked for, and a re-judgement under the scan's own
 *   profile must reproduce the original verdict.
 * - `judgeStored(stored, probes, policy, { readable?, trust? })`: judge() of
 *   libs/dane on the stored facts with `now` = the original judged_at
 *   (certificate validity under DANE-TA and WebPKI is judged at the time of
 *   the scan, and the record's judgedAt is the original's), the probe mode
 *   the facts were collected with and `trust`, the WebPKI roots MTA-STS is
 *   judged with (without: MTA-STS certificates are not judged). Says
 *   whether a probe the policy needs was not stored (`missingProbe`): the scan
 *   never made it (another profile probes other addresses), so the engine
 *   judged without it (an address "not-probed").
 * - `sameVerdict(record, stored)`: whether a new record says what a stored
 *   verdict says, apart from the engine and profile that said it (then the
 *   re-judgement reuses the stored blob).
 * - `classOf(record)`: the verdict class the store counts by (action,
 *   security, reason, DANE state, broken = problems not empty).
 * - `tallyChanges(pairs)`: from counts per (original class -> new class), the
 *   (old -> new) transitions by action, delivery security and DANE state
 *   (unchanged pairs included), the totals before and after, and how many
 *   domains changed class. Transitions are sorted by old value, then new
 *   (null last), so the same pairs always give the same counts.
 * - `chooseProfile(given, scanParameters, storedProfile)`: the profile a run
 *   judges under: the one given, else the one the scan was started with
 *   (parameters.policy), else the one its stored verdicts name, else the
 *   default; `{ error }` when the profile given is not one the engine knows.
 */
import {
  type ClientPolicy,
  DEFAULT_POLICY_PROFILE,
  type DomainFacts,
  judge,
  POLICY_PROFILE_NAMES,
  type ProbeFacts,
  type ProbeKey,
  policyFetchTarget,
  policyProfile,
  probeKeyString,
  probeTargets,
  type TrustStore,
  type VerdictRecord,
} from "@danesweep/dane";
import { type StoredVerdict, storedVerdict } from "./codec.ts";

/** How the facts were collected (the record's probeMode). */
type ProbeMode = VerdictRecord["probeMode"];

/** A judged domain as stored: its facts, when it was judged, the probe mode of its scan. */
export interface StoredJudgement {
  facts: DomainFacts;
  /** The original verdict's judgedAt (ISO 8601). */
  judgedAt: string;
  probeMode: ProbeMode;
}

/** The class of a verdict (a row of verdict_classes). */
export interface VerdictClass {
  action: string;
  security: string | null;
  reason: string;
  dane: string;
  broken: boolean;
}

export function probesToRead(
  facts: DomainFacts,
  probeMode: ProbeMode,
  policy: ClientPolicy,
): Map<string, ProbeKey> {
  const out = new Map<string, ProbeKey>();
  for (const t of probeTargets(facts, { probeMode, policy }))
    out.set(probeKeyString(t), { ip: t.ip, port: t.port, sni: t.sni });
  const f = policyFetchTarget(facts);
  if (f) out.set(probeKeyString(f), { ip: f.ip, port: f.port, sni: f.sni });
  return out;
}

/** `readable`: probesToRead of the same facts, mode and policy, when the caller has it already. */
export function judgeStored(
  stored: StoredJudgement,
  probes: ReadonlyMap<string, ProbeFacts>,
  policy: ClientPolicy,
  o: { readable?: ReadonlyMap<string, ProbeKey>; trust?: TrustStore } = {},
): { record: VerdictRecord; missingProbe: boolean } {
  const readable = o.readable ?? probesToRead(stored.facts, stored.probeMode, policy);
  let missingProbe = false;
  for (const k of readable.keys()) if (!probes.has(k)) missingProbe = true;
  const record = judge(
    stored.facts,
    (k) => {
      const key = probeKeyString(k);
      return readable.has(key) ? probes.get(key) : undefined;
    },
    {
      now: Date.parse(stored.judgedAt),
      probeMode: stored.probeMode,
      policy,
      ...(o.trust ? { trust: o.trust } : {}),
    },
  );
  return { record, missingProbe };
}

/**
 * True when `record` says what the stored verdict says, apart from which
 * engine and profile said it: then a re-judgement points at the stored blob
 * and costs no new one. judgedAt and an explanation kept in an old blob are
 * not compared (neither is part of a stored verdict), nor is the domain
 * (read back from the row; a verdict's stored form is shared by domains).
 */
export function sameVerdict(
  record: VerdictRecord,
  stored: StoredVerdict & { explanation?: string },
): boolean {
  const old = storedVerdict(stored as VerdictRecord);
  return JSON.stringify(storedVerdict({ ...record, engine: old.engine })) === JSON.stringify(old);
}

export function classOf(r: VerdictRecord): VerdictClass {
  return {
    action: r.verdict.action,
    security: r.verdict.security ?? null,
    reason: r.verdict.reason,
    dane: r.dane,
    broken: (r.problems ?? []).length > 0,
  };
}

// ---------------------------------------------------------------- change counts

/** Domains whose verdict went from one class to another (the same class included). */
export interface ClassPair {
  from: VerdictClass;
  to: VerdictClass;
  domains: number;
  /** Of these, domains whose new verdict is the stored one exactly (the same blob). */
  identical: number;
}

/** Domains whose value went from `from` to `to` (null: no value, e.g. no delivery security). */
export interface Transition {
  from: string | null;
  to: string | null;
  domains: number;
}

export interface ChangeCounts {
  /** Domains re-judged. */
  domains: number;
  /** Domains whose new verdict record is exactly the stored one (same blob: nothing changed). */
  identical: number;
  /** Domains whose verdict class changed (action, security, reason, DANE state or broken). */
  changed: number;
  action: Transition[];
  security: Transition[];
  dane: Transition[];
  /** Domains per value before (the originals) and after (this run). */
  before: { action: Record<string, number>; security: Record<string, number>; dane: Record<string, number> };
  after: { action: Record<string, number>; security: Record<string, number>; dane: Record<string, number> };
}

function sameClass(a: VerdictClass, b: VerdictClass): boolean {
  return (
    a.action === b.action &&
    a.security === b.security &&
    a.reason === b.reason &&
    a.dane === b.dane &&
    a.broken === b.broken
  );
}

function byValue(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

function transitions(pairs: ClassPair[], pick: (c: VerdictClass) => string | null): Transition[] {
  const m = new Map<string, Transition>();
  for (const p of pairs) {
    const from = pick(p.from);
    const to = pick(p.to);
    const key = JSON.stringify([from, to]);
    const t = m.get(key);
    if (t) t.domains += p.domains;
    else m.set(key, { from, to, domains: p.domains });
  }
  return [...m.values()].sort((a, b) => byValue(a.from, b.from) || byValue(a.to, b.to));
}

function totals(list: Transition[], side: "from" | "to"): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of list) {
    const k = t[side];
    if (k !== null) out[k] = (out[k] ?? 0) + t.domains;
  }
  return out;
}

export function tallyChanges(pairs: ClassPair[]): ChangeCounts {
  const action = transitions(pairs, (c) => c.action);
  const security = transitions(pairs, (c) => c.security);
  const dane = transitions(pairs, (c) => c.dane);
  let domains = 0;
  let identical = 0;
  let changed = 0;
  for (const p of pairs) {
    domains += p.domains;
    identical += p.identical;
    if (!sameClass(p.from, p.to)) changed += p.domains;
  }
  return {
    domains,
    identical,
    changed,
    action,
    security,
    dane,
    before: {
      action: totals(action, "from"),
      security: totals(security, "from"),
      dane: totals(dane, "from"),
    },
    after: { action: totals(action, "to"), security: totals(security, "to"), dane: totals(dane, "to") },
  };
}

// ---------------------------------------------------------------- profile

export function chooseProfile(
  given: string | undefined,
  scanParameters: unknown,
  storedProfile: string | undefined,
): { policy: ClientPolicy } | { error: string } {
  if (given !== undefined) {
    const p = policyProfile(given);
    return p
      ? { policy: p }
      : { error: `policy profile "${given}" is not one of ${POLICY_PROFILE_NAMES.join(", ")}` };
  }
  const fromScan = (scanParameters as { policy?: unknown } | null)?.policy;
  for (const name of [fromScan, storedProfile, DEFAULT_POLICY_PROFILE]) {
    const p = typeof name === "string" ? policyProfile(name) : undefined;
    if (p) return { policy: p };
  }
  return { policy: policyProfile(DEFAULT_POLICY_PROFILE) as ClientPolicy };
}
