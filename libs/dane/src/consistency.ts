/**
 * TLSA consistency across a zone's authoritative servers (docs/rules.md rule
 * 37). Pure: facts and time in, outcome out.
 *
 * A sending MTA's resolver sees one answer, so the verdict never depends on
 * this; but during a rollover a server that serves another RRset, or
 * signatures about to expire, makes the domain's DANE depend on which server
 * a resolver happens to ask.
 *
 * Contract of `judgeConsistency(facts, used, { now, rrsigMarginMs })`:
 * - `used`: the TLSA RRsets DANE uses (owner and the validated records), one
 *   per owner; `facts`: the domain's consistency facts (facts.ts). An RRset
 *   without facts, or whose zone's NS lookup failed, is "unknown".
 * - Per server (CONSISTENCY_REASONS): an authoritative answer whose records
 *   are not the validated set, or a NODATA / NXDOMAIN where records were
 *   validated, is `rrset-differs`; an answer without an RRSIG over the RRset
 *   is `rrsig-missing`; otherwise the latest expiration decides:
 *   at or before `now` `rrsig-expired`, within `rrsigMarginMs` after it
 *   `rrsig-expiring`. A reply without AA is `server-lame`; no usable reply
 *   (timeout, network, error rcode, malformed) is `server-unresponsive`.
 *   Servers not asked (no address, policy, limit) have no reasons.
 * - The state: "inconsistent" when any server has a reason; else "unknown"
 *   when some used RRset has no facts or no NS RRset; else "incomplete" when
 *   some server was not asked; else "consistent". `reasons` is the union in
 *   CONSISTENCY_REASONS order; `servers` lists every server of every RRset.
 * - Returns undefined when no used RRset has consistency facts (nothing was
 *   checked: older facts, the check turned off). Never throws on facts of
 *   the right shape.
 */
import type { AuthoritativeAnswer, AuthStatus, TlsaConsistencyFacts, TlsaRecord } from "./facts.ts";
import {
  CONSISTENCY_REASONS,
  type ConsistencyOutcome,
  type ConsistencyReason,
  type ConsistencyState,
  type ServerConsistency,
} from "./verdict-types.ts";

export interface UsedRrset {
  owner: string;
  records: TlsaRecord[];
}

const UNRESPONSIVE: ReadonlySet<AuthStatus> = new Set<AuthStatus>([
  "timeout",
  "network",
  "refused",
  "servfail",
  "formerr",
  "notimp",
  "malformed",
  "other",
]);
const NOT_ASKED: ReadonlySet<AuthStatus> = new Set<AuthStatus>([
  "no-address",
  "address-lookup-failed",
  "policy-private-address",
  "policy-opt-out",
  "beyond-limit",
]);

function recordKey(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${String(r.data).toLowerCase()}`;
}

function sameSet(a: TlsaRecord[], b: TlsaRecord[]): boolean {
  const x = new Set(a.map(recordKey));
  const y = new Set(b.map(recordKey));
  if (x.size !== y.size) return false;
  for (const k of x) if (!y.has(k)) return false;
  return true;
}

function serverReasons(
  s: AuthoritativeAnswer,
  used: UsedRrset,
  now: number,
  marginMs: number,
): { reasons: ConsistencyReason[]; expiresAt?: number } {
  if (UNRESPONSIVE.has(s.status)) return { reasons: ["server-unresponsive"] };
  if (s.status === "not-authoritative") return { reasons: ["server-lame"] };
  if (s.status === "nodata" || s.status === "nxdomain") {
    return { reasons: used.records.length > 0 ? ["rrset-differs"] : [] };
  }
  if (s.status !== "answer") return { reasons: [] };
  const reasons: ConsistencyReason[] = [];
  if (!sameSet(s.records ?? [], used.records)) reasons.push("rrset-differs");
  let latest: number | undefined;
  for (const sig of s.rrsigs ?? []) {
    const t = Date.parse(sig.expiration);
    if (Number.isFinite(t) && (latest === undefined || t > latest)) latest = t;
  }
  if (latest === undefined) reasons.push("rrsig-missing");
  else if (latest <= now) reasons.push("rrsig-expired");
  else if (latest - now <= marginMs) reasons.push("rrsig-expiring");
  return latest === undefined ? { reasons } : { reasons, expiresAt: latest };
}

export function judgeConsistency(
  facts: readonly TlsaConsistencyFacts[] | undefined,
  used: readonly UsedRrset[],
  opts: { now: number; rrsigMarginMs: number },
): ConsistencyOutcome | undefined {
  if (!Array.isArray(facts) || facts.length === 0 || used.length === 0) return undefined;
  const byOwner = new Map(facts.map((f) => [f.qname, f]));
  if (!used.some((u) => byOwner.has(u.owner))) return undefined;
  const servers: ServerConsistency[] = [];
  const found = new Set<ConsistencyReason>();
  let unknown = false;
  let notAsked = false;
  for (const u of used) {
    const f = byOwner.get(u.owner);
    if (!f || f.zone === undefined || f.ns.outcome !== "answer" || f.servers.length === 0) {
      unknown = true;
      continue;
    }
    for (const s of f.servers) {
      const r = serverReasons(s, u, opts.now, opts.rrsigMarginMs);
      if (NOT_ASKED.has(s.status)) notAsked = true;
      for (const x of r.reasons) found.add(x);
      const out: ServerConsistency = {
        qname: u.owner,
        zone: f.zone,
        server: s.server,
        status: s.status,
        reasons: r.reasons,
      };
      if (s.address !== undefined) out.address = s.address;
      if (r.expiresAt !== undefined) out.expiresAt = new Date(r.expiresAt).toISOString();
      servers.push(out);
    }
  }
  const state: ConsistencyState =
    found.size > 0 ? "inconsistent" : unknown ? "unknown" : notAsked ? "incomplete" : "consistent";
  return { state, reasons: CONSISTENCY_REASONS.filter((r) => found.has(r)), servers };
}
