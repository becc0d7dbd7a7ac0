/**
 * What the consistency check (issue 14, item 1) costs the resolve stage per
 * domain: the synthetic universe's domains (test/testbed bin/synth; most
 * DANE domains share a few MX hosts, as a provider's customers do) resolved
 * with collectDomainFacts alone, then with collectDomainFacts and the
 * ConsistencyChecker, on one warm resolver. Prints CPU ms per domain and
 * wall time for both, the queries the check sent to authoritative servers,
 * and the share of domains it applied to. Read-only on the testbed: it does
 * not restart Unbound.
 *   node bench/risk/run.ts [--domains N]   (default: all of synth/domains.txt)
 */
import { readFileSync } from "node:fs";
import { collectDomainFacts, newConsistencyChecker, StubResolver } from "@danesweep/dns";
import { testbedState } from "../../test/testbed/src/index.ts";

const arg = process.argv.indexOf("--domains");
const all = readFileSync(testbedState().synth.domainsFile, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => l.split(" ")[0]!);
const domains = arg > 0 ? all.slice(0, Number(process.argv[arg + 1])) : all;
const resolver = new StubResolver({ upstreams: ["127.53.53.53:53"] });

async function pass(check: boolean) {
  const checker = check ? newConsistencyChecker({ resolver, allowPrivate: true, now: Date.now }) : undefined;
  let applied = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const queue = [...domains];
  await Promise.all(
    Array.from({ length: 200 }, async () => {
      for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
        const f = await collectDomainFacts(resolver, d, { now: Date.now, resolverValidates: true });
        if (checker && (await checker.check(f))) applied++;
      }
    }),
  );
  const cpu = process.cpuUsage(c0);
  return {
    ms: performance.now() - t0,
    cpuPerDomain: (cpu.user + cpu.system) / 1000 / domains.length,
    applied,
    rrsets: checker?.stats().checked ?? 0,
  };
}

await pass(false); // warm the resolver's caches (and Unbound's)
for (let i = 0; i < 3; i++) {
  const base = await pass(false);
  const withCheck = await pass(true);
  console.log(
    `run ${i + 1}: ${domains.length} domains; facts only ${base.cpuPerDomain.toFixed(3)} CPU ms/domain, ${base.ms.toFixed(0)} ms; ` +
      `with the check ${withCheck.cpuPerDomain.toFixed(3)} CPU ms/domain, ${withCheck.ms.toFixed(0)} ms; ` +
      `checked ${withCheck.applied} domains (${((100 * withCheck.applied) / domains.length).toFixed(1)} %), ${withCheck.rrsets} RRsets asked of their servers`,
  );
}
await resolver.close();
