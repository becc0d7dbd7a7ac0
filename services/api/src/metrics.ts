/**
 * The API's Prometheus metrics, kept per app instance (no module state):
 * requests by route, method and status; request durations as a histogram;
 * process memory. `render()` returns the text exposition format 0.0.4.
 * `observe` never throws.
 */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #durations = new Map<string, { buckets: number[]; sum: number; count: number }>();
  readonly #rateLimited = new Map<string, number>();

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

  rateLimited(kind: "address" | "token"): void {
    this.#rateLimited.set(kind, (this.#rateLimited.get(kind) ?? 0) + 1);
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
    for (const k of ["address", "token"])
      out.push(`danesweep_api_rate_limited_total{limit="${k}"} ${this.#rateLimited.get(k) ?? 0}`);
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
