/**
 * bench/mta-sts: what MTA-STS and TLS-RPT cost per domain, beside the same
 * scan without them (`--no-mta-sts`), measured in the same run.
 *
 *   node bench/mta-sts/run.ts [--n 5000] [--rounds 2] [--judge 20000]
 *
 * 1. The whole embedded scan (bench/e2e/one.ts: the real CLI path, a new
 *    PGlite directory each time) of the first N domains of the synthetic
 *    universe (test/testbed/bin/synth must have made it; nothing here
 *    regenerates it or touches Unbound), alternately with and without
 *    MTA-STS, `rounds` times each, after one warm-up run of each (the
 *    resolver's cache then holds the MX, address and TLSA answers for both;
 *    the two TXT names per domain are what MTA-STS adds). Synthetic domains
 *    publish neither record: this is the cost every domain pays (two TXT
 *    queries, the judgement's lookups, the larger facts). Printed: domains/s,
 *    CPU ms and store bytes (a new store) per domain of each, and the
 *    difference.
 * 2. The verdict engine alone (judge()) on a domain with an enforce policy,
 *    two MX hosts with WebPKI chains: the facts with and without their
 *    MTA-STS parts, `judge` iterations each; printed as µs per judgement.
 *    This is what a domain that publishes MTA-STS adds in the aggregator.
 * Measures, does not judge: exit 0 whatever the figures, 1 when a scan fails.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type DomainFacts, judge, type ProbeFacts, probeKeyString, trustStore } from "@danesweep/dane";
import { PGLITE_NODE_ENV, PGLITE_NODE_FLAGS } from "@danesweep/store";
import { makeChain, makeLeaf } from "../../libs/dane/test/certs.ts";
import { mxDomain, probeTls, simpleHost } from "../../libs/dane/test/fixtures/build.ts";
import { policyFetch, withMailPolicies } from "../../libs/dane/test/fixtures/mta-sts.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { values } = parseArgs({
  options: {
    n: { type: "string", default: "5000" },
    rounds: { type: "string", default: "2" },
    judge: { type: "string", default: "20000" },
  },
});
const n = Number(values.n);
const rounds = Number(values.rounds);
const iterations = Number(values.judge);
const stateDir = process.env.DANESWEEP_TESTBED_DIR ?? "/var/tmp/danesweep-testbed";

function scan(list: string, dir: string, withMta: boolean): Record<string, number> {
  const r = spawnSync(process.execPath, [...PGLITE_NODE_FLAGS, join(root, "bench/e2e/one.ts"), list, dir], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...PGLITE_NODE_ENV, ...process.env, BENCH_SCAN_ARGS: withMta ? "" : "--no-mta-sts" },
    maxBuffer: 1 << 24,
  });
  const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, number>;
  if (out.code !== 0 || out.verdicts !== out.domains) {
    console.error(`bench/mta-sts: a scan failed: ${JSON.stringify(out)}`);
    process.exit(1);
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "danesweep-bench-mtasts-"));
try {
  const all = readFileSync(join(stateDir, "synth/domains.txt"), "utf8").split("\n").filter(Boolean);
  const list = join(dir, "domains.txt");
  writeFileSync(list, `${all.slice(0, n).join("\n")}\n`);
  const got = { with: [] as Record<string, number>[], without: [] as Record<string, number>[] };
  let k = 0;
  for (let round = 0; round <= rounds; round++) {
    for (const m of [true, false]) {
      const s = scan(list, join(dir, `data-${k++}`), m);
      if (round > 0) (m ? got.with : got.without).push(s);
      console.error(
        `bench/mta-sts: ${round === 0 ? "warm-up" : `round ${round}`} ${m ? "with" : "without"} MTA-STS: ${((s.wallMs ?? 0) / 1000).toFixed(1)} s`,
      );
    }
  }
  const sum = (l: Record<string, number>[], k: string) => l.reduce((a, x) => a + (x[k] ?? 0), 0);
  const row = (name: string, l: Record<string, number>[]) => {
    const d = sum(l, "domains");
    return {
      name,
      rate: d / (sum(l, "wallMs") / 1000),
      cpu: sum(l, "cpuMs") / d,
      bytes: sum(l, "bytes") / d,
    };
  };
  const a = row("with MTA-STS (default)", got.with);
  const b = row("--no-mta-sts (baseline)", got.without);
  console.log(`bench/mta-sts: ${n} synthetic domains x ${rounds} rounds each, warm resolver, embedded store`);
  for (const r of [a, b])
    console.log(
      `  ${r.name.padEnd(26)} ${r.rate.toFixed(0).padStart(6)} domains/s  ${r.cpu.toFixed(3)} CPU ms/domain  ${r.bytes.toFixed(0)} store bytes/domain`,
    );
  console.log(
    `  MTA-STS adds ${(a.cpu - b.cpu).toFixed(3)} CPU ms/domain (${(((a.cpu - b.cpu) / b.cpu) * 100).toFixed(1)}%), rate ${(((a.rate - b.rate) / b.rate) * 100).toFixed(1)}%`,
  );

  // The engine alone, on a domain that publishes an enforce policy.
  const ca = makeChain({ intermediates: 1, leafNames: ["mta-sts.example.com"] });
  const mid = ca.intermediates[0]!;
  const trust = trustStore("bench", [ca.root.pem]);
  if (!trust.ok) throw new Error(trust.detail);
  const hosts = ["mx1.example.com", "mx2.example.com"];
  const plain: DomainFacts = mxDomain(
    "example.com",
    hosts.map((h, i) => simpleHost(h, 10 * (i + 1), { v4: [`192.0.2.${i + 1}`] })),
  );
  const probes: ProbeFacts[] = hosts.map((h, i) =>
    probeTls(`192.0.2.${i + 1}`, h, [makeLeaf(mid, [h]).b64, mid.b64]),
  );
  const sts = withMailPolicies(plain, {
    sts: ["v=STSv1; id=1"],
    hostV4: ["192.0.2.80"],
    tlsRpt: ["v=TLSRPTv1; rua=mailto:r@example.com"],
  });
  probes.push(policyFetch("192.0.2.80", "mta-sts.example.com", ca.chain));
  const byKey = new Map(probes.map((p) => [probeKeyString(p), p]));
  const lookup = (k: { ip: string; port: number; sni: string }) => byKey.get(probeKeyString(k));
  const time = (facts: DomainFacts) => {
    for (let i = 0; i < 200; i++) judge(facts, lookup, { now: Date.now(), trust: trust.store });
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) judge(facts, lookup, { now: Date.now(), trust: trust.store });
    return ((performance.now() - t0) * 1000) / iterations;
  };
  const check = judge(sts, lookup, { now: Date.now(), trust: trust.store });
  if (check.mtaSts?.outcome?.reason !== "webpki-verified")
    throw new Error(`bench facts misjudged: ${JSON.stringify(check.mtaSts)}`);
  const jPlain = time(plain);
  const jSts = time(sts);
  console.log(`bench/mta-sts: judge(), 2 MX hosts, ${iterations} iterations each`);
  console.log(`  without MTA-STS facts              ${jPlain.toFixed(1)} µs/judgement`);
  console.log(
    `  enforce policy, WebPKI chains      ${jSts.toFixed(1)} µs/judgement (+${(jSts - jPlain).toFixed(1)} µs)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
