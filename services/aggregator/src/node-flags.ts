/**
 * The Node flags the aggregator runs with, wherever it is started: the
 * Kubernetes and Compose manifests (k8s/base/aggregator.yaml,
 * deploy/compose.yaml), the test and benchmark harness (test/faults
 * harness.ts). A test (services/aggregator/test/node-flags.test.ts) keeps the
 * manifests' commands in step with this list.
 *
 * --max-semi-space-size=64: V8's young generation gets 64 MB semi-spaces (the
 * default is 16). The aggregator parses every message of [domain-facts] (a
 * domain's facts, a probe's certificates) and holds those of the domains its
 * join waits for; with 16 MB semi-spaces much of that is promoted before the
 * domain is judged and then collected by the costlier old-generation GC. On
 * bench/pipeline at 100k (Kafka, one of each service, 2026-12-03), the
 * aggregator's CPU for the run, relative to Unbound's as a gauge of the
 * machine's speed that hour, was 0.78, 0.81 and 0.81 with the flag, and 1.12
 * in a run where [domain-facts] built a backlog of 76,000 messages; without
 * it 0.82-1.02 (four runs, two with backlogs of 45,000-50,000). A modest
 * gain within a wide spread. The resolver and the prober showed none, so
 * they keep the default. It costs up to ~100 MB more memory.
 */
export const AGGREGATOR_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=64"];
