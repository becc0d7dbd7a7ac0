/**
 * Change events between two verdicts of one domain (docs/rules.md section K,
 * rules 49-51; issue 14, item 5): what a CERT polling the feed of changes
 * (the API's GET /v1/changes) is told happened to a domain between two scans.
 * Pure: verdict records (or their summaries) in, values out.
 *
 * Contract:
 * - `primaryMxHost(record)`: the primary MX host of a record, the first host
 *   of the lowest preference in the order the ladder tries them (rule 10:
 *   preference, then name), or null when the record has no host. The store
 *   keeps it as verdict_blobs.mx_host.
 * - `fullyObserved(record)` (rule 51): false when the scanner's own side left
 *   unseen something the DANE state or the problems depend on: the DANE state
 *   is `indeterminate`; the verdict stopped at an MX lookup, or at every
 *   host's address lookups, that failed without a bogus answer (no problems);
 *   or, when the DANE state reads the hosts' probes (valid, partial, invalid,
 *   unusable-records, dns-error), an address of a host with TLSA (requirement
 *   dane, tls or unusable, or a TLSA RRset on the record) was not contacted by
 *   our policy (`policy-refused`: opt-out list, non-public address) or has no
 *   probe facts (`not-probed`: probe mode, a prober failure, incomplete
 *   facts), whether the ladder reached it or only assessed it (after the
 *   decision, past the address limit). Addresses of hosts without TLSA do
 *   not count: neither the DANE state nor the problems read their probes.
 * - `changeSide(record)`: the summary a comparison needs (ChangeSide): the
 *   client-policy profile, the DANE state, the problems, the primary MX host,
 *   whether the record is fully observed.
 * - `comparable(before, after)` (rule 50): both fully observed and judged
 *   under the same profile.
 * - `changeKinds(before, after)` (rule 49): the kinds of CHANGE_KINDS, in
 *   that order, that hold between two comparable sides; none when they are
 *   not comparable:
 *   - newly-broken / fixed: the problems (rule 36) went from none to some /
 *     from some to none;
 *   - dane-adopted / dane-dropped: the DANE state went from one in
 *     DANE_ABSENT to one in DANE_PRESENT / the other way (dns-error and
 *     indeterminate are in neither);
 *   - mx-moved: the primary MX host changed, both sides having one.
 * Nothing here throws on a record judge() made (or an older stored one:
 * missing problems or hosts read as none).
 */
import type { DaneState, VerdictRecord } from "./verdict-types.ts";

export const CHANGE_KINDS = ["newly-broken", "fixed", "dane-adopted", "dane-dropped", "mx-moved"] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** DANE states in which the domain publishes DANE that applies (README, "DANE states"). */
export const DANE_PRESENT: readonly DaneState[] = ["valid", "partial", "invalid", "unusable-records"];
/** DANE states in which it publishes none, or receives no mail. */
export const DANE_ABSENT: readonly DaneState[] = ["none", "insecure", "no-mail"];

/** The states computed from the hosts' probes (the others come from DNS alone, or say nothing). */
const READS_PROBES: ReadonlySet<DaneState> = new Set<DaneState>([
  "valid",
  "partial",
  "invalid",
  "unusable-records",
  "dns-error",
]);

/** What one side of a comparison needs of a verdict. */
export interface ChangeSide {
  /** The client-policy profile judged under (`engine.profile`). */
  profile: string;
  dane: DaneState;
  /** The verdict's problems (rule 36): broken exactly when not empty. */
  problems: readonly string[];
  /** The primary MX host (`primaryMxHost`). */
  mx: string | null;
  /** `fullyObserved` (rule 51). */
  observed: boolean;
}

/** The parts of a record the summary reads; stored records of older engines may lack some. */
export type ChangeInput = Pick<VerdictRecord, "dane" | "verdict"> &
  Partial<Pick<VerdictRecord, "engine" | "hosts" | "mx">> & { problems?: readonly string[] };

export function primaryMxHost(record: Partial<Pick<VerdictRecord, "hosts">>): string | null {
  let best: { host: string; preference: number } | undefined;
  for (const h of record.hosts ?? []) if (!best || h.preference < best.preference) best = h;
  return best?.host ?? null;
}

export function fullyObserved(record: ChangeInput): boolean {
  if (record.dane === "indeterminate") return false;
  const problems = record.problems ?? [];
  const reason = record.verdict.reason;
  // A failed MX lookup, or failed address lookups of every host, hide the hosts;
  // a bogus answer is a finding (a problem), not a gap.
  if ((reason === "mx-lookup-failed" || reason === "address-lookup-failed") && problems.length === 0) {
    return false;
  }
  if (!READS_PROBES.has(record.dane)) return true;
  for (const h of record.hosts ?? []) {
    if (h.requirement === "opportunistic" && h.tlsa === undefined) continue;
    for (const a of h.addresses ?? []) {
      const seen = a.result === "not-tried" || a.result === "beyond-limit" ? a.assessed?.result : a.result;
      if (seen === "policy-refused" || seen === "not-probed") return false;
    }
  }
  return true;
}

/** Records without an engine (stored before profiles existed) were judged as the default profile judges. */
const DEFAULT_PROFILE = "postfix";

export function changeSide(record: ChangeInput): ChangeSide {
  return {
    profile: record.engine?.profile ?? DEFAULT_PROFILE,
    dane: record.dane,
    problems: record.problems ?? [],
    mx: primaryMxHost(record),
    observed: fullyObserved(record),
  };
}

export function comparable(before: ChangeSide, after: ChangeSide): boolean {
  return before.observed && after.observed && before.profile === after.profile;
}

export function changeKinds(before: ChangeSide, after: ChangeSide): ChangeKind[] {
  if (!comparable(before, after)) return [];
  const out: ChangeKind[] = [];
  const wasBroken = before.problems.length > 0;
  const isBroken = after.problems.length > 0;
  if (!wasBroken && isBroken) out.push("newly-broken");
  if (wasBroken && !isBroken) out.push("fixed");
  if (DANE_ABSENT.includes(before.dane) && DANE_PRESENT.includes(after.dane)) out.push("dane-adopted");
  if (DANE_PRESENT.includes(before.dane) && DANE_ABSENT.includes(after.dane)) out.push("dane-dropped");
  if (before.mx !== null && after.mx !== null && before.mx !== after.mx) out.push("mx-moved");
  return out;
}
