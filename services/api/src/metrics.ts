/**
 * The API's Prometheus metrics (prom-client), kept per app instance in a
 * registry of its own (no module state), with the label service="api" on
 * every series like every other danesweep service (libs/runtime metrics.ts):
 * requests by route, method and status; request durations as a histogram;
 * refusals by limit (per address, per token, the export cap); exports
 * running, ended by outcome and the rows they formatted; Node's process
 * metrics (process_*, nodejs_*). `render()` resolves with the text
 * exposition format 0.0.4. `observe` never throws.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { EXPORT_OUTCOMES, type ExportOutcome } from "./exports.ts";

export const RATE_LIMITS = ["address", "token", "export"] as const;
export type RateLimitKind = (typeof RATE_LIMITS)[number];
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<"route" | "method" | "status">;
  readonly #durations: Histogram<"route" | "method">;
  readonly #rateLimited: Counter<"limit">;
  readonly #exportsActive: Gauge;
  readonly #exportsEnded: Counter<"outcome">;
  readonly #exportRows: Counter;

  constructor() {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ service: "api" });
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: "danesweep_api_requests_total",
      help: "HTTP requests answered, by route, method and status.",
      labelNames: ["route", "method", "status"],
      registers,
    });
    this.#durations = new Histogram({
      name: "danesweep_api_request_duration_seconds",
      help: "Time to answer HTTP requests.",
      labelNames: ["route", "method"],
      buckets: BUCKETS,
      registers,
    });
    this.#rateLimited = new Counter({
      name: "danesweep_api_rate_limited_total",
      help: "Requests refused by the rate limiter, by limit.",
      labelNames: ["limit"],
      registers,
    });
    for (const limit of RATE_LIMITS) this.#rateLimited.inc({ limit }, 0);
    this.#exportsActive = new Gauge({
      name: "danesweep_api_exports_active",
      help: "Result exports (NDJSON, CSV) running now.",
      registers,
    });
    this.#exportsEnded = new Counter({
      name: "danesweep_api_exports_total",
      help: "Result exports ended, by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    for (const outcome of EXPORT_OUTCOMES) this.#exportsEnded.inc({ outcome }, 0);
    this.#exportRows = new Counter({
      name: "danesweep_api_export_rows_total",
      help: "Rows formatted by result exports.",
      registers,
    });
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    try {
      this.#requests.inc({ route, method, status: String(status) });
      this.#durations.observe({ route, method }, Number.isFinite(seconds) ? seconds : 0);
    } catch {
      // a metric never fails a request
    }
  }

  rateLimited(kind: RateLimitKind): void {
    this.#rateLimited.inc({ limit: kind });
  }

  exportStarted(): void {
    this.#exportsActive.inc();
  }

  exportEnded(outcome: ExportOutcome, rows: number): void {
    this.#exportsActive.dec();
    this.#exportsEnded.inc({ outcome });
    this.#exportRows.inc(rows);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
