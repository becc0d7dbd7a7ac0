/**
 * The resolver service: the "resolve" stage of the stage table
 * (libs/pipeline stage-table.ts): consumes [domains], collects each domain's
 * DNS facts through a validating resolver (libs/dns), publishes the probes it
 * needs on [probe-requests] keyed by IP (its MTA-STS policy fetch among them;
 * DANESWEEP_MAIL_POLICIES=false skips MTA-STS and TLS-RPT) and its facts on
 * [domain-facts]. It uses no database. Run: node services/resolver/src/main.ts
 * (settings: --help; environment DANESWEEP_*).
 *
 * For a domain whose DANE rests on a TLSA RRset it also asks every
 * authoritative server of the RRset's zone (libs/dns ConsistencyChecker;
 * DANESWEEP_NS_CHECK=false skips it), under the prober's policy settings
 * (DANESWEEP_ALLOW_PRIVATE, DANESWEEP_OPT_OUT) and a per-server rate.
 *
 * At start it checks, exactly as `danesweep scan` does, that the resolvers
 * validate DNSSEC (libs/dns checkValidating/requireValidating): an
 * unreachable resolver (a sidecar still starting) is retried until the start
 * timeout; a resolver that answers without validating refuses the start with
 * exit code 3, unless DANESWEEP_ACCEPT_NONVALIDATING is set (every verdict is
 * then indeterminate).
 */

import { defaultPolicy, POLICY_PROFILES, policyProfile } from "@danesweep/dane";
import { checkValidating, newConsistencyChecker, requireValidating, StubResolver } from "@danesweep/dns";
import { newCounters, pipelineTopics, STAGES, type StageCounters, startStage } from "@danesweep/pipeline";
import { readOptOutFile } from "@danesweep/probe";
import {
  counterOf,
  gaugeOf,
  readSettingFile,
  type Sample,
  type ServiceSpec,
  StartRefused,
} from "@danesweep/runtime";
import { Type } from "@sinclair/typebox";

const RESOLVER_ADDRESS = "^(\\d{1,3}(\\.\\d{1,3}){3}(:\\d{1,5})?|\\[[0-9A-Fa-f:.]+\\](:\\d{1,5})?)$";

export const fields = {
  resolvers: {
    env: "DANESWEEP_RESOLVERS",
    schema: Type.Array(Type.String({ pattern: RESOLVER_ADDRESS }), { minItems: 1 }),
    default: ["127.0.0.1:53"],
    doc: "validating resolvers, ADDR[:PORT] or [V6]:PORT, comma-separated",
  },
  acceptNonValidating: {
    env: "DANESWEEP_ACCEPT_NONVALIDATING",
    schema: Type.Boolean(),
    default: false,
    doc: "run even if the resolver does not validate (every verdict indeterminate)",
  },
  dnsTimeoutMs: {
    env: "DANESWEEP_DNS_TIMEOUT_MS",
    schema: Type.Integer({ minimum: 50, maximum: 60_000 }),
    default: 2000,
    doc: "per-query timeout in ms",
  },
  probeMode: {
    env: "DANESWEEP_PROBE_MODE",
    schema: Type.Union([Type.Literal("all"), Type.Literal("dane")]),
    default: "all" as const,
    doc: "all (every MX host) | dane (only hosts where DANE applies); same as the aggregator's",
  },
  policy: {
    env: "DANESWEEP_POLICY",
    schema: Type.Union(Object.keys(POLICY_PROFILES).map((n) => Type.Literal(n))),
    default: "postfix",
    doc: "client policy profile: postfix | rfc7672 (libs/dane README); must match the aggregator's",
  },
  smtpPort: {
    env: "DANESWEEP_SMTP_PORT",
    schema: Type.Integer({ minimum: 1, maximum: 65_535 }),
    default: 25,
    doc: "SMTP port probed",
  },
  mailPolicies: {
    env: "DANESWEEP_MAIL_POLICIES",
    schema: Type.Boolean(),
    default: true,
    doc: "also look up MTA-STS and TLS-RPT and request the MTA-STS policy fetch",
  },
  nsCheck: {
    env: "DANESWEEP_NS_CHECK",
    schema: Type.Boolean(),
    default: true,
    doc: "ask every authoritative server of the TLSA RRsets DANE uses (issue 14); false: skip",
  },
  allowPrivate: {
    env: "DANESWEEP_ALLOW_PRIVATE",
    schema: Type.Boolean(),
    default: false,
    doc: "authoritative servers at non-public addresses may be asked (testbeds only; as the prober's)",
  },
  optOutFile: {
    env: "DANESWEEP_OPT_OUT",
    schema: Type.String(),
    default: "",
    doc: "opt-out list file, as the prober's: its servers are never asked; empty: none",
  },
  concurrency: {
    env: "DANESWEEP_CONCURRENCY",
    schema: Type.Integer({ minimum: 1, maximum: 10_000 }),
    default: STAGES.resolve.concurrency,
    doc: "domains resolving at once",
  },
};

/** "127.0.0.1" -> "127.0.0.1:53"; "[::1]" -> "[::1]:53". */
export function withPort(a: string): string {
  if (a.startsWith("[")) return /\]:\d+$/.test(a) ? a : `${a}:53`;
  return a.includes(":") ? a : `${a}:53`;
}

/** The resolver's metrics, read at scrape time from the stage counters and the stub resolver's stats. */
function registerResolverMetrics(
  reg: Parameters<typeof counterOf>[0],
  counters: StageCounters,
  resolver: StubResolver,
): void {
  counterOf(
    reg,
    "danesweep_domains_resolved_total",
    "Domains resolved by this instance",
    () => counters.resolved,
  );
  counterOf(
    reg,
    "danesweep_dns_lookups_total",
    "DNS questions answered by the upstreams (not the cache), by outcome; errors by kind",
    () =>
      Object.entries(resolver.stats().outcomes).map(([tag, value]): Sample => {
        const [outcome = tag, error] = tag.split(":");
        return { labels: error ? { outcome, error } : { outcome }, value };
      }),
    ["outcome", "error"],
  );
  counterOf(
    reg,
    "danesweep_dns_questions_total",
    "DNS questions asked (cache hits included)",
    () => resolver.stats().questions,
  );
  counterOf(
    reg,
    "danesweep_dns_cache_hits_total",
    "DNS questions answered from the cache",
    () => resolver.stats().cacheHits,
  );
  counterOf(
    reg,
    "danesweep_dns_deduplicated_total",
    "DNS questions that joined the same question in flight",
    () => resolver.stats().deduplicated,
  );
  counterOf(
    reg,
    "danesweep_dns_queries_sent_total",
    "DNS queries sent to the upstreams, by transport (retries and CD re-queries included)",
    () => {
      const s = resolver.stats();
      return [
        { labels: { transport: "udp" }, value: s.udpSent },
        { labels: { transport: "tcp" }, value: s.tcpSent },
      ];
    },
    ["transport"],
  );
  counterOf(
    reg,
    "danesweep_dns_timeouts_total",
    "DNS queries that timed out",
    () => resolver.stats().timeouts,
  );
  gaugeOf(
    reg,
    "danesweep_dns_in_flight",
    "DNS queries waiting for an answer",
    () => resolver.stats().inFlight,
  );
  gaugeOf(
    reg,
    "danesweep_dns_cache_entries",
    "Entries in the DNS cache",
    () => resolver.stats().cacheEntries,
  );
}

export const resolverService: ServiceSpec<typeof fields> = {
  name: "resolver",
  summary: STAGES.resolve.summary,
  fields,
  store: false,
  async start(ctx) {
    const c = ctx.config;
    const resolver = new StubResolver({ upstreams: c.resolvers.map(withPort), timeoutMs: c.dnsTimeoutMs });
    try {
      const gate = await ctx.retryStart("check the resolver validates", async () => {
        const checks = await checkValidating(resolver);
        if (checks.every((k) => !k.ok && k.error === "unreachable")) {
          throw Object.assign(new Error(checks.map((k) => (k.ok ? "" : k.detail)).join("; ")), {
            code: "resolver-unreachable",
          });
        }
        return requireValidating(checks, { acceptIndeterminate: c.acceptNonValidating });
      });
      if (!gate.ok) throw new StartRefused(gate.message, 3);
      if (!gate.resolverValidates)
        ctx.log.warn("the resolver does not validate DNSSEC; every verdict will be indeterminate");
      await ctx.retryStart("create topics", () =>
        ctx.bus.ensureTopics(pipelineTopics(c.partitions, c.replication)),
      );
      const counters = newCounters();
      const optOut =
        c.optOutFile === ""
          ? undefined
          : readSettingFile("DANESWEEP_OPT_OUT", () => readOptOutFile(c.optOutFile));
      const consistency = c.nsCheck
        ? newConsistencyChecker({ resolver, allowPrivate: c.allowPrivate, optOut, now: () => Date.now() })
        : undefined;
      await startStage(
        "resolve",
        {
          bus: ctx.bus,
          resolver,
          resolverValidates: gate.resolverValidates,
          ...(consistency ? { consistency } : {}),
          probeMode: c.probeMode,
          policy: policyProfile(c.policy) ?? defaultPolicy(),
          mailPolicies: c.mailPolicies,
          // Each probe is asked for once per scan: the aggregator hands its result to every domain that needs it.
          askOnce: true,
          port: c.smtpPort,
          now: () => Date.now(),
          counters,
          ...(ctx.tracing ? { tracing: ctx.tracing } : {}),
        },
        { consume: ctx.consume, concurrency: c.concurrency, groupPrefix: c.groupPrefix },
      );
      registerResolverMetrics(ctx.metrics, counters, resolver);
      return { stop: () => resolver.close() };
    } catch (e) {
      await resolver.close();
      throw e;
    }
  },
};
