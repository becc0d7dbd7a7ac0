/**
 * One benchmark pass, run in its own process so its peak RSS is its own:
 * collects DomainFacts for the first N domains of a list through one resolver
 * and prints one JSON line of measurements on stdout.
 *
 *   node bench/dns/collect.ts --domains FILE --n N [--resolver 127.53.53.53:53]
 *        [--window 1000] [--concurrency 256] [--transport udp|tcp|auto]
 *        [--jit-warmup 1000] [--queries-out FILE] [--mail-policies] [--ns-check]
 *
 * --mail-policies also collects MTA-STS and TLS-RPT (libs/dns mailPolicies,
 * the resolver stage's default; off here, the baseline of bench/dns).
 * --ns-check also asks the authoritative servers of each domain's TLSA RRsets
 * what they serve (libs/dns ConsistencyChecker, with its per-server pacing,
 * private addresses allowed: the testbed's), as the resolver stage does by
 * default. With both, this is the DNS stage as `danesweep scan` runs it
 * (bench/e2e's baseline).
 * Facts are reduced to a small tally as they arrive and never retained, so the
 * process's memory reflects the resolver (cache capped) and the window.
 * --queries-out writes every distinct question asked ("name TYPE" lines, the
 * dnsperf input format), which is the query list the resolver ceiling is
 * measured with. The list is read in chunks, never whole. Run with --expose-gc
 * to also report the heap in use after a full collection at the end, the
 * resolver's cache still full (`heapAfterGcMb`), beside the peak RSS.
 */
import { closeSync, createWriteStream, openSync, readSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Lookup, RRType } from "@danesweep/dane";
import {
  collectDomainFacts,
  type DnsQuerier,
  newConsistencyChecker,
  type QueryOptions,
  type RecordTypes,
  StubResolver,
  type TransportMode,
} from "@danesweep/dns";

const { values } = parseArgs({
  options: {
    domains: { type: "string" },
    n: { type: "string" },
    resolver: { type: "string", default: "127.53.53.53:53" },
    window: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "256" },
    transport: { type: "string", default: "udp" },
    "jit-warmup": { type: "string", default: "1000" },
    "queries-out": { type: "string" },
    "mail-policies": { type: "boolean", default: false },
    "ns-check": { type: "boolean", default: false },
  },
});
if (!values.domains || !values.n) {
  console.error("usage: collect.ts --domains FILE --n N [--resolver ADDR] [--window W] [--queries-out FILE]");
  process.exit(2);
}
const n = Number(values.n);
const windowSize = Number(values.window);

/**
 * The list's domains in order (first field of each line, "#" comments and
 * blank lines skipped), read 64 KiB at a time so the driver's memory does not
 * grow with N; undefined at the end of the file.
 */
function domainReader(path: string): () => string | undefined {
  const fd = openSync(path, "r");
  const buf = Buffer.allocUnsafe(1 << 16);
  let carry = "";
  let lines: string[] = [];
  let i = 0;
  let eof = false;
  return () => {
    for (;;) {
      while (i < lines.length) {
        const d = lines[i++]!.trim().split(/\s+/)[0] ?? "";
        if (d && !d.startsWith("#")) return d;
      }
      if (eof) return undefined;
      const got = readSync(fd, buf, 0, buf.length, null);
      if (got === 0) {
        eof = true;
        closeSync(fd);
        lines = [carry];
        carry = "";
      } else {
        lines = (carry + buf.toString("latin1", 0, got)).split("\n");
        carry = lines.pop()!;
      }
      i = 0;
    }
  };
}

const resolverOptions = {
  upstreams: [values.resolver],
  timeoutMs: 3000,
  retries: 2,
  perUpstreamConcurrency: Number(values.concurrency),
  transport: values.transport as TransportMode,
};

// JIT warm-up, untimed: the first domains through a throwaway resolver (its own
// cache), so a short pass measures steady-state code, not compilation. A
// scanner runs for hours; dnsperf has no warm-up to pay.
const warmupN = Math.min(Number(values["jit-warmup"]), n);
if (warmupN > 0) {
  const w = new StubResolver(resolverOptions);
  const nextWarm = domainReader(values.domains);
  let i = 0;
  const opts = { now: Date.now, resolverValidates: true, mailPolicies: values["mail-policies"] };
  const run = async () => {
    for (let d = nextWarm(); d !== undefined && i++ < warmupN; d = nextWarm()) {
      await collectDomainFacts(w, d, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(windowSize, warmupN) }, run));
  await w.close();
}

const resolver = new StubResolver(resolverOptions);

/** Records each distinct question for the dnsperf query list. */
const seen = new Set<string>();
const recording: DnsQuerier | undefined = values["queries-out"]
  ? {
      query<K extends RRType>(qname: string, qtype: K, opts?: QueryOptions): Promise<Lookup<RecordTypes[K]>> {
        seen.add(`${qname} ${qtype}`);
        return resolver.query(qname, qtype, opts);
      },
    }
  : undefined;
const querier: DnsQuerier = recording ?? resolver;

const checker = values["ns-check"]
  ? newConsistencyChecker({ resolver: querier, allowPrivate: true, now: Date.now })
  : undefined;

const tally = { mx: {} as Record<string, number>, hosts: 0, tlsa: 0, errors: 0, nsChecked: 0 };
const bump = (k: string) => {
  tally.mx[k] = (tally.mx[k] ?? 0) + 1;
};

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const nextDomain = domainReader(values.domains);
let taken = 0;
async function worker(): Promise<void> {
  for (;;) {
    if (taken >= n) return;
    const d = nextDomain();
    if (d === undefined) return;
    taken++;
    const f = await collectDomainFacts(querier, d, {
      now: Date.now,
      resolverValidates: true,
      mailPolicies: values["mail-policies"],
    });
    bump(f.mx.outcome === "error" ? `error:${f.mx.error}` : `${f.mx.outcome}:${f.mx.security}`);
    tally.hosts += f.hosts.length;
    for (const h of f.hosts) {
      tally.tlsa += h.tlsa.length;
      if (
        h.a.outcome === "error" ||
        h.aaaa.outcome === "error" ||
        h.tlsa.some((l) => l.outcome === "error")
      ) {
        tally.errors++;
      }
    }
    if (checker?.applies(f)) {
      await checker.check(f);
      tally.nsChecked++;
    }
  }
}
await Promise.all(Array.from({ length: Math.min(windowSize, n) }, () => worker()));
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const st = resolver.stats();
// Live heap with the resolver's cache still full, after a full collection.
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heapAfterGcMb = gc ? Math.round(process.memoryUsage().heapUsed / 1048576) : undefined;
await resolver.close();
if (taken < n) {
  console.error(`collect: the list has ${taken} domains, ${n} asked`);
  process.exit(2);
}

if (values["queries-out"]) {
  const out = createWriteStream(values["queries-out"]);
  for (const q of seen) out.write(q === ". SOA" ? ". SOA\n" : `${q}\n`);
  await new Promise<void>((r) => out.end(() => r()));
}

const queries = st.udpSent + st.tcpSent;
console.log(
  JSON.stringify({
    n,
    wallMs: Math.round(wallMs),
    domainsPerSec: Math.round((n / wallMs) * 1000),
    queries,
    queriesPerSec: Math.round((queries / wallMs) * 1000),
    questions: st.questions,
    cacheHits: st.cacheHits,
    deduplicated: st.deduplicated,
    tcp: st.tcpSent,
    timeouts: st.timeouts,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    cpuMsPerDomain: Math.round(((cpu.user + cpu.system) / 1000 / n) * 1000) / 1000,
    cpuUtil: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 100) / 100,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    heapAfterGcMb,
    transport: values.transport,
    ...(checker ? { nsCheck: checker.stats() } : {}),
    jitWarmupDomains: warmupN,
    distinctQuestions: seen.size || undefined,
    tally,
  }),
);
