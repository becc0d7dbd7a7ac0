/**
 * The API's Prometheus metrics, kept per app instance (no module state):
 * requests by route, method and status; request durations as a histogram;
 * refusals by limit (per address, per token, the export cap); exports
 * running, ended by outcome and the rows they formatted; process memory.
 * `render()` returns the text exposition format 0.0.4.
 * `observe` never throws.
 */
import { EXPORT_OUTCOMES, type ExportOutcome } from "./exports.ts";

export const RATE_LIMITS = ["address", "token", "export"] as const;
export type RateLimitKind = (typeof RATE_LIMITS)[number];
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #durations = new Map<string, { buckets: number[]; sum: number; count: number }>();
  readonly #rateLimited = new Map<string, number>();
  readonly #exportsEnded = new Map<ExportOutcome, number>();
  #exportsActive = 0;
  #exportRows = 0;

  observe(route: string, method: string, status: number, seconds: number): void {
    const key = `route="${label(route)}",method="${label(method)}",status="${status}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    const dkey = `route="${label(route)}",method="${label(method)}"`;
    let d = this.#durations.get(dkey);
    if (!d) {
      d = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#durations.set(dkey, d);
    }
    for (let i = 0; i < BUCKETS.length; i++)
      if (seconds <= (BUCKETS[i] as number)) d.buckets[i] = (d.buckets[i] as number) + 1;
    d.sum += Number.isFinite(seconds) ? seconds : 0;
    d.count++;
  }

  rateLimited(kind: RateLimitKind): void {
    this.#rateLimited.set(kind, (this.#rateLimited.get(kind) ?? 0) + 1);
  }

  exportStarted(): void {
    this.#exportsActive++;
  }

  exportEnded(outcome: ExportOutcome, rows: number): void {
    this.#exportsActive--;
    this.#exportsEnded.set(outcome, (this.#exportsEnded.get(outcome) ?? 0) + 1);
    this.#exportRows += rows;
  }

  render(): string {
    const out: string[] = [];
    out.push("# HELP danesweep_api_requests_total HTTP requests answered, by route, method and status.");
    out.push("# TYPE danesweep_api_requests_total counter");
    for (const [k, v] of this.#requests) out.push(`danesweep_api_requests_total{${k}} ${v}`);
    out.push("# HELP danesweep_api_request_duration_seconds Time to answer HTTP requests.");
    out.push("# TYPE danesweep_api_request_duration_seconds histogram");
    for (const [k, d] of this.#durations) {
      for (let i = 0; i < BUCKETS.length; i++)
        out.push(`danesweep_api_request_duration_seconds_bucket{${k},le="${BUCKETS[i]}"} ${d.buckets[i]}`);
      out.push(`danesweep_api_request_duration_seconds_bucket{${k},le="+Inf"} ${d.count}`);
      out.push(`danesweep_api_request_duration_seconds_sum{${k}} ${d.sum}`);
      out.push(`danesweep_api_request_duration_seconds_count{${k}} ${d.count}`);
    }
    out.push("# HELP danesweep_api_rate_limited_total Requests refused by the rate limiter, by limit.");
    out.push("# TYPE danesweep_api_rate_limited_total counter");
    for (const k of RATE_LIMITS)
      out.push(`danesweep_api_rate_limited_total{limit="${k}"} ${this.#rateLimited.get(k) ?? 0}`);
    out.push("# HELP danesweep_api_exports_active Result exports (NDJSON, CSV) running now.");
    out.push("# TYPE danesweep_api_exports_active gauge");
    out.push(`danesweep_api_exports_active ${this.#exportsActive}`);
    out.push("# HELP danesweep_api_exports_total Result exports ended, by outcome.");
    out.push("# TYPE danesweep_api_exports_total counter");
    for (const k of EXPORT_OUTCOMES)
      out.push(`danesweep_api_exports_total{outcome="${k}"} ${this.#exportsEnded.get(k) ?? 0}`);
    out.push("# HELP danesweep_api_export_rows_total Rows formatted by result exports.");
    out.push("# TYPE danesweep_api_export_rows_total counter");
    out.push(`danesweep_api_export_rows_total ${this.#exportRows}`);
    const mem = process.memoryUsage();
    out.push("# HELP process_resident_memory_bytes Resident memory size in bytes.");
    out.push("# TYPE process_resident_memory_bytes gauge");
    out.push(`process_resident_memory_bytes ${mem.rss}`);
    out.push("# HELP nodejs_heap_used_bytes V8 heap used in bytes.");
    out.push("# TYPE nodejs_heap_used_bytes gauge");
    out.push(`nodejs_heap_used_bytes ${mem.heapUsed}`);
    return `${out.join("\n")}\n`;
  }
}
