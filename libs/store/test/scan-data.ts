/**
 * Scans for the export and prune tests, written through the Store as the
 * pipeline writes them (upsertProbes, storeJudged, finishScan):
 * - `seedScanData()`: the 24 reference cases of libs/dane's fixtures with
 *   real certificates, judged by judge(), and the probes their verdicts cite;
 * - `syntheticScanData(n, ...)`: n small domains and probes citing a pool of
 *   certificates (for batches and sharing).
 */
import { createHash, randomBytes } from "node:crypto";
import {
  type DomainFacts,
  judge,
  type ProbeFacts,
  probeKeyString,
  type VerdictRecord,
} from "@danesweep/dane";
import { domainFacts, probeFacts, verdictRecord } from "../../bus/test/fixtures.ts";
import { buildSeedCases } from "../../dane/test/fixtures/seed-cases.ts";
import { newScanId } from "../src/ids.ts";
import type { JudgedEntry, Store } from "../src/store.ts";

export interface ScanData {
  entries: JudgedEntry[];
  probes: ProbeFacts[];
}

export const JUDGED_AT = Date.UTC(2024, 4, 1, 12);

/**
 * The facts the store gives back, written from the contract in codec.ts: a
 * lookup keeps its provenance only when it failed, without elapsedMs and
 * cached, and its TTL only when the answer is secure.
 */
export function asStored(f: DomainFacts): DomainFacts {
  const lookup = <T extends { outcome: string; security: string; ttl?: number; provenance?: unknown }>(
    l: T,
  ): T => {
    const { provenance, ttl, ...rest } = l as T & { provenance?: Record<string, unknown> };
    const kept = ttl !== undefined && l.security === "secure" ? { ...rest, ttl } : rest;
    if (!provenance || l.outcome !== "error") return kept as T;
    const { elapsedMs: _e, cached: _c, ...p } = provenance;
    return { ...kept, provenance: p } as T;
  };
  const out: DomainFacts = {
    ...f,
    mx: lookup(f.mx),
    hosts: f.hosts.map((h) => {
      const x = { ...h, a: lookup(h.a), aaaa: lookup(h.aaaa), tlsa: h.tlsa.map(lookup) };
      if (h.firstLink) x.firstLink = lookup(h.firstLink);
      return x;
    }),
  };
  if (f.mxFirstLink) out.mxFirstLink = lookup(f.mxFirstLink);
  return out;
}

export function seedScanData(): ScanData {
  const world = buildSeedCases();
  const probes = new Map<string, ProbeFacts>();
  const entries: JudgedEntry[] = [];
  for (const c of world.cases) {
    const record = judge(c.facts, c.probes, { now: JUDGED_AT });
    entries.push({ facts: c.facts, record });
    for (const h of record.hosts)
      for (const a of h.addresses) {
        const p = a.probe ? c.probes(a.probe) : undefined;
        if (p) probes.set(probeKeyString(p), p);
      }
  }
  return { entries, probes: [...probes.values()] };
}

/** A certificate: random DER bytes (the store keeps them as given) and its SHA-256. */
export function fakeCert(): { b64: string; sha256: string } {
  const der = randomBytes(80 + Math.floor(Math.random() * 80));
  return { b64: der.toString("base64"), sha256: createHash("sha256").update(der).digest("hex") };
}

/**
 * `n` domains named `${label}-${i}.example` with their facts and verdicts, and
 * `probeCount` probes whose chains take two certificates each from `certs`.
 */
export function syntheticScanData(
  label: string,
  n: number,
  probeCount: number,
  certs: { b64: string }[],
): ScanData {
  const entries: JudgedEntry[] = [];
  for (let i = 0; i < n; i++) {
    const d = `${label}-${i}.example`;
    const facts: DomainFacts = domainFacts(d);
    const record: VerdictRecord = { ...verdictRecord(d), judgedAt: new Date(JUDGED_AT + i).toISOString() };
    entries.push({ facts, record });
  }
  const probes: ProbeFacts[] = [];
  for (let i = 0; i < probeCount; i++) {
    const p = probeFacts(`127.${label.length}.${i >> 8}.${i & 255}`, `mx${i}.${label}.example`);
    const chain = [certs[i % certs.length], certs[(i * 7 + 1) % certs.length]].map((c) => c!.b64);
    probes.push({ ...p, tls: { version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", chain } });
  }
  return { entries, probes };
}

/** Creates a scan, stores its probes and judged domains in batches, and finishes it unless told not to. */
export async function storeScan(
  store: Store,
  data: ScanData,
  opts: { startedAt?: string; finish?: boolean; parameters?: unknown } = {},
): Promise<string> {
  const startedAt = opts.startedAt ?? new Date(JUDGED_AT - 3600_000).toISOString();
  const id = newScanId(new Date(startedAt));
  await store.createScan({ id, parameters: opts.parameters ?? { probeMode: "all" }, startedAt });
  await store.seedDomains(
    id,
    data.entries.map((e, i) => ({ domain: e.record.domain, line: i + 1 })),
  );
  for (let i = 0; i < data.probes.length; i += 2000)
    await store.upsertProbes(id, data.probes.slice(i, i + 2000));
  for (let i = 0; i < data.entries.length; i += 2000)
    await store.storeJudged(id, data.entries.slice(i, i + 2000));
  if (opts.finish !== false) await store.finishScan(id, new Date(JUDGED_AT + 3600_000).toISOString());
  return id;
}
