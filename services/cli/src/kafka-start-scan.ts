/**
 * POST /v1/scans on a deployment: `danesweep serve --kafka BROKERS` starts a
 * scan the way `danesweep scan --kafka` does — the scan record in the
 * deployment's PostgreSQL, the domains normalised, de-duplicated and published
 * to [domains] by libs/pipeline's seed stage — and returns its id at once; the
 * resolver, prober and aggregator services do the rest.
 *
 * The server watches each scan it started (domain counts, every few seconds)
 * and marks it finished once every seeded domain is judged, then records its
 * change events (libs/store changes.ts). A scan whose
 * server stopped before that stays "running" with its live counts; `danesweep
 * scan --resume ID --kafka ... --database ...` follows it to the end.
 */
import { createKafkaBus } from "@danesweep/bus/kafka";
import { pipelineTopics, type SeedLine, seedDomains } from "@danesweep/pipeline";
import { newScanId, recordChanges, type Store } from "@danesweep/store";
import { DEFAULT_PARTITIONS } from "./commands/scan-kafka.ts";

export interface KafkaStartOptions {
  brokers: string[];
  client: "platformatic" | "kafkajs";
  /** Poll interval of the completion watcher (default 5000 ms). */
  watchMs?: number;
}

async function* lines(domains: string[]): AsyncGenerator<SeedLine> {
  let n = 0;
  for (const d of domains) yield { source: "api", line: ++n, text: d };
}

export function kafkaStartScan(o: KafkaStartOptions) {
  return (writer: Store) =>
    async (domains: string[], parameters: Record<string, unknown>): Promise<{ scanId: string }> => {
      const scanId = newScanId(new Date());
      await writer.createScan({
        id: scanId,
        parameters: { ...parameters, via: "api", count: domains.length },
        startedAt: new Date().toISOString(),
      });
      const bus = createKafkaBus({
        brokers: o.brokers,
        client: o.client,
        clientId: "danesweep-api",
      } as Parameters<typeof createKafkaBus>[0]);
      try {
        await bus.ensureTopics(pipelineTopics(DEFAULT_PARTITIONS));
        await seedDomains(lines(domains), { store: writer, bus, scan: scanId });
      } finally {
        await bus.close();
      }
      watch(writer, scanId, o.watchMs ?? 5000);
      return { scanId };
    };
}

function watch(store: Store, scanId: string, every: number): void {
  const t = setInterval(async () => {
    try {
      const c = await store.domainStateCounts(scanId);
      if (c.total > 0 && c.judged === c.total) {
        clearInterval(t);
        const at = new Date().toISOString();
        await store.finishScan(scanId, at, "finished");
        // Change events since the previous scans; on failure the next finished scan records them.
        await recordChanges(store, at).catch(() => {});
      }
    } catch {
      // The store is unreachable for now: try again at the next tick.
    }
  }, every);
  t.unref();
}
