/**
 * What makes a domain's DANE broken, and which hosts fail (docs/rules.md rule
 * 36). Verdict rules, pure: judge() stores both on every record (`problems`,
 * `failingHosts`), and the views (the API, the SQL views) read the stored
 * fields.
 *
 * Contract:
 * - `findProblems(facts, dane, evals)` (judge.ts calls it): the problems of
 *   PROBLEMS found, in that order, each at most once. None unless the DANE
 *   state can hold a DANE failure (invalid, partial, dns-error,
 *   unusable-records). Host problems are read from the hosts as DANE sees
 *   them (the security level aside), including addresses after the decision
 *   and past the address limit:
 *   - tlsa-mismatch: an address of a host that requires DANE presented a chain
 *     no usable TLSA record authenticated;
 *   - starttls-missing / tls-handshake-failed: an address of a host that
 *     requires TLS through its TLSA (DANE or unusable-only records) did not
 *     offer STARTTLS (or refused it) / failed the handshake;
 *   - tlsa-lookup-failed: a host's TLSA or first-link CNAME lookup failed
 *     where its TLSA is consulted;
 *   - dnssec-bogus: the MX lookup, or a host's A, AAAA, first-link CNAME or
 *     TLSA lookup, validated as bogus (read from the facts).
 *   A domain is broken exactly when the list is not empty.
 * - `failingHosts(record)` (judge.ts calls it on the host outcomes): the hosts
 *   that failed or would fail (an address whose result, or assessment when it
 *   was not tried, is "failed"; or a TLSA / CNAME lookup error), in route
 *   order, each with its failing addresses and reason (the host's, else its
 *   first failing address's). judge() stores it as `failingHosts`, absent
 *   when empty.
 * - `upgradeRecord(record)`: a stored record of an earlier engine with what
 *   the current engine stores and derives from the record alone filled in:
 *   `failingHosts` for engines before 2.3 (FAILING_HOSTS_SINCE). A record of
 *   2.3 or later is returned as it is (its absent list means none). The
 *   store's reader calls it, so every view sees one shape.
 * None of them throws on a record made by judge().
 */
import type { DomainFacts } from "./facts.ts";
import type { HostEval } from "./judge.ts";
import { engineBefore } from "./policy.ts";
import type { DaneState, FailingHost, Problem, VerdictRecord } from "./verdict-types.ts";

/** DANE states that can hold a DANE failure: only these domains are examined. */
const EXAMINED: ReadonlySet<DaneState> = new Set<DaneState>([
  "invalid",
  "partial",
  "dns-error",
  "unusable-records",
]);

function anyBogus(facts: DomainFacts): boolean {
  if (facts.mx?.security === "bogus") return true;
  return (facts.hosts ?? []).some(
    (h) =>
      h.a?.security === "bogus" ||
      h.aaaa?.security === "bogus" ||
      h.firstLink?.security === "bogus" ||
      (h.tlsa ?? []).some((t) => t.security === "bogus"),
  );
}

export function findProblems(facts: DomainFacts, dane: DaneState, evals: HostEval[]): Problem[] {
  if (!EXAMINED.has(dane)) return [];
  const found = new Set<Problem>();
  for (const e of evals) {
    const reasons = new Set(e.assessments.map((a) => a.reason));
    if (e.requirement === "dane" && reasons.has("dane-check-failed")) found.add("tlsa-mismatch");
    if (e.requirement === "dane" || e.requirement === "tls") {
      if (reasons.has("starttls-not-offered")) found.add("starttls-missing");
      if (reasons.has("tls-handshake-failed")) found.add("tls-handshake-failed");
    }
    if (e.cls === "lookup-error") found.add("tlsa-lookup-failed");
  }
  if (anyBogus(facts)) found.add("dnssec-bogus");
  const order: Problem[] = [
    "tlsa-mismatch",
    "starttls-missing",
    "tls-handshake-failed",
    "tlsa-lookup-failed",
    "dnssec-bogus",
  ];
  return order.filter((p) => found.has(p));
}

export function failingHosts(record: Pick<VerdictRecord, "hosts">): FailingHost[] {
  const out: FailingHost[] = [];
  for (const h of record.hosts ?? []) {
    const addresses: FailingHost["addresses"] = [];
    for (const a of h.addresses ?? []) {
      const failed =
        a.result === "failed" ? a.reason : a.assessed?.result === "failed" ? a.assessed.reason : undefined;
      if (failed !== undefined) addresses.push({ address: a.address, result: a.result, reason: failed });
    }
    const lookupError = h.tlsaBaseWhy === "tlsa-lookup-error" || h.tlsaBaseWhy === "cname-lookup-error";
    if (!lookupError && addresses.length === 0) continue;
    const f: FailingHost = {
      host: h.host,
      preference: h.preference,
      requirement: h.requirement,
      tlsaBaseWhy: h.tlsaBaseWhy,
      addresses,
    };
    const reason = h.reason ?? addresses[0]?.reason;
    if (reason !== undefined) f.reason = reason;
    out.push(f);
  }
  return out;
}

/** The engine version from which judge() stores `failingHosts`. */
export const FAILING_HOSTS_SINCE = "2.3.0";

export function upgradeRecord<T extends Pick<VerdictRecord, "hosts" | "engine" | "failingHosts">>(
  record: T,
): T {
  if (record.failingHosts !== undefined || !engineBefore(record.engine?.version ?? "", FAILING_HOSTS_SINCE))
    return record;
  const failing = failingHosts(record);
  return failing.length > 0 ? { ...record, failingHosts: failing } : record;
}
