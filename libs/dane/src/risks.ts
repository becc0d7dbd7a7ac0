/**
 * Risks of a DANE domain that do not break it now (docs/rules.md rules 38-40):
 * every certificate a sender might see, rollover risk per DANE host, and the
 * record-level list of risks (with the consistency of rule 37). Pure: facts
 * and time in, values out. None of these changes the verdict, the DANE state
 * or the problems: a sending MTA's behaviour is judged by judge.ts alone.
 *
 * Contract of `assessRisks({ hosts, consistency, now, thresholds })`:
 * - `hosts`: the DANE hosts (a secure TLSA RRset with a usable record, as
 *   DANE sees them), each with its TLSA lookup, the DANE-TA reference names,
 *   the verify depth and the probe facts of each address.
 * - Alternates (rule 38): for each address whose probe made alternate
 *   handshakes (ProbeFacts.alternates), each certificate is authenticated
 *   like the first one. When at one address some certificate authenticates
 *   and another does not, the one that does not is a latent failure (a
 *   sender whose signature algorithms select it defers); `offered` "default"
 *   names the probe's first handshake.
 * - Rollover (rule 39), for a host with at least one authenticated
 *   certificate: M = the comparable records (digest agility applied) that a
 *   chain which authenticated uses: the record authenticate() matched, and
 *   any other whose data equals the leaf (DANE-EE) or a certificate above it
 *   (DANE-TA), without a second path validation; U = the other comparable
 *   records.
 *   no-next-key: U is empty and M does not hold both a DANE-EE and a
 *   DANE-TA record; ee-full-certificate: every record of M is 3 0 x;
 *   ta-intermediate: a DANE-TA record of M matches a certificate that is not
 *   self-issued (sent at depth >= 1, or the 2 0 0 certificate itself);
 *   when M holds only DANE-EE records: leaf-expiring when the earliest leaf
 *   expiry of the authenticated certificates is within
 *   `thresholds.leafExpiryDays` of `now` (or past), ttl-exceeds-validity
 *   when the RRset's published TTL is longer than the time left on it.
 * - `risks` (rule 40): the consistency reasons mapped to their risks, then
 *   latent-mismatch, then each rollover reason of any host as
 *   "rollover-<reason>", in RISKS order.
 * Never throws on facts of the right shape.
 */
import { authenticate, certificateInfo, matchesCertificate } from "./auth.ts";
import { hexToBytes } from "./der.ts";
import type { Lookup, ProbeFacts, SigalgFamily, TlsaRecord } from "./facts.ts";
import { comparableRecords } from "./tlsa.ts";
import {
  type AlternateOutcome,
  type ConsistencyOutcome,
  type ConsistencyReason,
  type LatentFailure,
  type MatchedRecord,
  RISKS,
  type Risk,
  ROLLOVER_REASONS,
  type RolloverReason,
  type RolloverRisk,
} from "./verdict-types.ts";

/** Thresholds of the risk rules. */
export interface RiskThresholds {
  /** A signature expiring within this many days is `rrsig-expiring` (rule 37). */
  rrsigMarginDays: number;
  /** A leaf expiring within this many days is `leaf-expiring` (rule 39). */
  leafExpiryDays: number;
}

/** Defaults: signers refresh signatures a week or more before they expire; certificates are renewed weeks ahead. */
export const DEFAULT_RISK_THRESHOLDS: Readonly<RiskThresholds> = { rrsigMarginDays: 3, leafExpiryDays: 14 };

export const DAY_MS = 86_400_000;

export interface RiskHost {
  name: string;
  tlsa: Lookup<TlsaRecord>;
  names: string[];
  maxDepth: number;
  addresses: {
    address: string;
    probe: ProbeFacts | undefined;
    /** How the probe's own chain authenticated, when the ladder already knows (saves a second path validation). */
    first?: { ok: true; matched: MatchedRecord } | { ok: false; failure: string };
  }[];
}

export interface RiskInput {
  hosts: RiskHost[];
  consistency: ConsistencyOutcome | undefined;
  now: number;
  thresholds: RiskThresholds;
}

export interface RiskOutput {
  /** By host name. */
  rollover: Map<string, RolloverRisk>;
  /** By `${host}|${address}`. */
  alternates: Map<string, AlternateOutcome[]>;
  latent: LatentFailure[];
  risks: Risk[];
}

const CONSISTENCY_RISK: Record<ConsistencyReason, Risk> = {
  "rrset-differs": "tlsa-inconsistent",
  "rrsig-expired": "rrsig-expired",
  "rrsig-expiring": "rrsig-expiring",
  "rrsig-missing": "rrsig-missing",
  "server-unresponsive": "nameserver-unresponsive",
  "server-lame": "nameserver-lame",
};

/** One certificate chain a sender might see at an address, and how it authenticated. */
interface Seen {
  offered: SigalgFamily | "default";
  chain: string[];
  ok: boolean;
  failure?: string;
  /** The record authenticate() matched, and where. */
  matched?: MatchedRecord;
}

/** The certificate a DANE-TA record matched: the one sent at that depth, or a 2 0 0 record's own. */
function anchorCertificate(chain: string[], record: TlsaRecord, depth: number): string | undefined {
  if (depth >= 1) return chain[depth];
  if (depth < 0 && record.selector === 0 && record.matchingType === 0) {
    const der = hexToBytes(record.data);
    return der ? Buffer.from(der).toString("base64") : undefined;
  }
  return undefined;
}

function rolloverOf(h: RiskHost, seen: Seen[], now: number, t: RiskThresholds): RolloverRisk | undefined {
  const good = seen.filter((s) => s.ok);
  if (good.length === 0) return undefined;
  const comparable = comparableRecords(h.tlsa.records);
  // Which records a chain that authenticated uses: the one authenticate() matched, and any
  // other whose data equals a certificate of the chain where its usage may match (DANE-EE:
  // the leaf; DANE-TA: above it). No second path validation: the chain has passed one.
  const matching: TlsaRecord[] = [];
  let taIntermediate = false;
  const isIntermediate = (b64: string | undefined) => {
    const info = b64 !== undefined ? certificateInfo(b64) : undefined;
    return info !== undefined && !info.selfIssued;
  };
  for (const r of comparable) {
    let matched = false;
    for (const s of good) {
      if (s.matched && s.matched.record === r) {
        matched = true;
        if (r.usage === 2 && isIntermediate(anchorCertificate(s.chain, r, s.matched.depth)))
          taIntermediate = true;
        continue;
      }
      if (r.usage === 3 && matchesCertificate(r, s.chain[0] ?? "")) matched = true;
      if (r.usage === 2) {
        for (let d = 1; d < s.chain.length; d++) {
          if (!matchesCertificate(r, s.chain[d]!)) continue;
          matched = true;
          if (isIntermediate(s.chain[d])) taIntermediate = true;
        }
      }
    }
    if (matched) matching.push(r);
  }
  const reasons = new Set<RolloverReason>();
  const standby = comparable.length > matching.length;
  const hasEe = matching.some((r) => r.usage === 3);
  const hasTa = matching.some((r) => r.usage === 2);
  if (matching.length > 0 && !standby && !(hasEe && hasTa)) reasons.add("no-next-key");
  if (matching.length > 0 && matching.every((r) => r.usage === 3 && r.selector === 0)) {
    reasons.add("ee-full-certificate");
  }
  if (taIntermediate) reasons.add("ta-intermediate");
  let notAfter: number | undefined;
  for (const s of good) {
    const info = certificateInfo(s.chain[0] ?? "");
    if (info && (notAfter === undefined || info.notAfter < notAfter)) notAfter = info.notAfter;
  }
  const ttl = h.tlsa.ttl;
  if (hasEe && !hasTa && notAfter !== undefined) {
    const left = notAfter - now;
    if (left <= t.leafExpiryDays * DAY_MS) reasons.add("leaf-expiring");
    if (ttl !== undefined && ttl * 1000 > left) reasons.add("ttl-exceeds-validity");
  }
  const out: RolloverRisk = { reasons: ROLLOVER_REASONS.filter((r) => reasons.has(r)) };
  if (notAfter !== undefined) out.leafNotAfter = new Date(notAfter).toISOString();
  if (ttl !== undefined) out.tlsaTtl = ttl;
  return out;
}

export function assessRisks(input: RiskInput): RiskOutput {
  const { now, thresholds } = input;
  const rollover = new Map<string, RolloverRisk>();
  const alternates = new Map<string, AlternateOutcome[]>();
  const latent: LatentFailure[] = [];
  const risks = new Set<Risk>();
  for (const r of input.consistency?.reasons ?? []) risks.add(CONSISTENCY_RISK[r]);
  for (const h of input.hosts) {
    const seen: Seen[] = [];
    const auth = (chain: string[]) =>
      authenticate({ records: h.tlsa.records, chain, names: h.names, now, maxDepth: h.maxDepth });
    for (const { address, probe, first: known } of h.addresses) {
      if (probe?.status !== "tls-ok" || !probe.tls) continue;
      const first = known ?? auth(probe.tls.chain);
      const here: Seen[] = [{ offered: "default", chain: probe.tls.chain, ok: first.ok }];
      if (first.ok) here[0]!.matched = first.matched;
      else here[0]!.failure = first.failure;
      const outs: AlternateOutcome[] = [];
      for (const alt of probe.alternates ?? []) {
        const o: AlternateOutcome = { offered: alt.offered, status: alt.status, result: "no-certificate" };
        const chain = alt.status === "tls-ok" ? alt.tls?.chain : undefined;
        if (chain && chain.length > 0) {
          const keyType = certificateInfo(chain[0]!)?.keyType;
          if (keyType !== undefined) o.keyType = keyType;
          const a = auth(chain);
          o.result = a.ok ? "dane-verified" : "failed";
          if (!a.ok) o.failure = a.failure;
          const s: Seen = { offered: alt.offered, chain, ok: a.ok };
          if (a.ok) s.matched = a.matched;
          else s.failure = a.failure;
          here.push(s);
        }
        outs.push(o);
      }
      if (outs.length > 0) alternates.set(`${h.name}|${address}`, outs);
      // A latent failure: some certificate of this address authenticates and another does not.
      if (here.some((s) => s.ok)) {
        const leaves = new Set<string>();
        for (const s of here) {
          const leaf = s.chain[0] ?? "";
          if (s.ok || leaves.has(leaf)) continue;
          leaves.add(leaf);
          const l: LatentFailure = {
            host: h.name,
            address,
            offered: s.offered,
            failure: s.failure ?? "no-match",
          };
          const keyType = certificateInfo(leaf)?.keyType;
          if (keyType !== undefined) l.keyType = keyType;
          latent.push(l);
        }
      }
      seen.push(...here);
    }
    const r = rolloverOf(h, seen, now, thresholds);
    if (r) {
      rollover.set(h.name, r);
      for (const reason of r.reasons) risks.add(`rollover-${reason}` as Risk);
    }
  }
  if (latent.length > 0) risks.add("latent-mismatch");
  return { rollover, alternates, latent, risks: RISKS.filter((r) => risks.has(r)) };
}
