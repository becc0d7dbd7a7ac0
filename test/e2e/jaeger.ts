/**
 * The tests' view of Jaeger (scripts/services/jaeger.sh): start it (shared,
 * idempotent), and read traces back through its query API (/api/traces).
 *
 * - `ensureJaeger()` -> { query, otlp }: the query API's base URL and the
 *   OTLP/HTTP endpoint for OTEL_EXPORTER_OTLP_ENDPOINT.
 * - `findTraces(query, { service, tags })`: traces holding a span of
 *   `service` with every tag in `tags` (Jaeger's own search).
 * - `getTrace(query, id)`: one trace, every span with its service name, tags
 *   as an object, parent (CHILD_OF) and links (FOLLOWS_FROM).
 * - `waitForTrace(...)`: polls until `ready(trace)` holds (spans arrive in
 *   batches from several processes), bounded.
 * - `outline(trace)`: the trace as indented "service: span" lines in start
 *   order (what the test prints, for people).
 */
import { execFileSync } from "node:child_process";
import { ROOT } from "./cli.ts";

const JAEGER_SH = `${ROOT}scripts/services/jaeger.sh`;

export function ensureJaeger(): { query: string; otlp: string } {
  execFileSync(JAEGER_SH, ["up"], { stdio: ["ignore", "ignore", "inherit"] });
  return {
    query: execFileSync(JAEGER_SH, ["url"], { encoding: "utf8" }).trim(),
    otlp: execFileSync(JAEGER_SH, ["otlp"], { encoding: "utf8" }).trim(),
  };
}

export interface JSpan {
  traceID: string;
  spanID: string;
  name: string;
  service: string;
  /** Microseconds since the epoch. */
  start: number;
  duration: number;
  parent?: string;
  links: { traceID: string; spanID: string }[];
  tags: Record<string, unknown>;
}

export interface JTrace {
  traceID: string;
  spans: JSpan[];
}

interface RawTrace {
  traceID: string;
  spans: {
    traceID: string;
    spanID: string;
    operationName: string;
    references: { refType: string; traceID: string; spanID: string }[];
    startTime: number;
    duration: number;
    tags: { key: string; value: unknown }[];
    processID: string;
  }[];
  processes: Record<string, { serviceName: string }>;
}

function parse(t: RawTrace): JTrace {
  return {
    traceID: t.traceID,
    spans: t.spans.map((s) => {
      const parent = s.references.find((r) => r.refType === "CHILD_OF" && r.traceID === s.traceID);
      return {
        traceID: s.traceID,
        spanID: s.spanID,
        name: s.operationName,
        service: t.processes[s.processID]?.serviceName ?? "?",
        start: s.startTime,
        duration: s.duration,
        ...(parent ? { parent: parent.spanID } : {}),
        links: s.references
          .filter((r) => r.refType === "FOLLOWS_FROM")
          .map((r) => ({ traceID: r.traceID, spanID: r.spanID })),
        tags: Object.fromEntries(s.tags.map((x) => [x.key, x.value])),
      };
    }),
  };
}

async function get<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
  return ((await r.json()) as { data: T }).data;
}

export async function findTraces(
  query: string,
  o: { service: string; tags?: Record<string, string>; operation?: string; limit?: number },
): Promise<JTrace[]> {
  const p = new URLSearchParams({ service: o.service, lookback: "2h", limit: String(o.limit ?? 100) });
  if (o.tags) p.set("tags", JSON.stringify(o.tags));
  if (o.operation) p.set("operation", o.operation);
  return ((await get<RawTrace[] | null>(`${query}/api/traces?${p}`)) ?? []).map(parse);
}

export async function getTrace(query: string, id: string): Promise<JTrace | undefined> {
  const r = await fetch(`${query}/api/traces/${id}`);
  if (r.status === 404) return undefined;
  if (!r.ok) throw new Error(`trace ${id}: HTTP ${r.status}`);
  const data = ((await r.json()) as { data: RawTrace[] }).data;
  return data[0] ? parse(data[0]) : undefined;
}

/** Polls `find` until it gives a value for which `ready` holds; the last value seen is in the error. */
export async function waitFor<T>(
  what: string,
  find: () => Promise<T | undefined>,
  ready: (v: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = (await find().catch(() => undefined)) ?? last;
    if (last !== undefined && ready(last)) return last;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 2000)}`,
      );
    await new Promise((r) => setTimeout(r, 300));
  }
}

export function outline(t: JTrace): string {
  const byId = new Map(t.spans.map((s) => [s.spanID, s]));
  const depth = (s: JSpan): number => {
    let n = 0;
    for (let p = s.parent ? byId.get(s.parent) : undefined; p; p = p.parent ? byId.get(p.parent) : undefined)
      n++;
    return n;
  };
  const kids = new Map<string, JSpan[]>();
  const roots: JSpan[] = [];
  for (const s of t.spans) {
    if (s.parent && byId.has(s.parent)) {
      const l = kids.get(s.parent) ?? [];
      l.push(s);
      kids.set(s.parent, l);
    } else roots.push(s);
  }
  const out: string[] = [];
  const walk = (s: JSpan) => {
    const links = s.links.length > 0 ? `  (links: ${s.links.length})` : "";
    out.push(`${"  ".repeat(depth(s))}${s.service}: ${s.name}  ${(s.duration / 1000).toFixed(1)} ms${links}`);
    for (const k of (kids.get(s.spanID) ?? []).sort((a, b) => a.start - b.start)) walk(k);
  };
  for (const r of roots.sort((a, b) => a.start - b.start)) walk(r);
  return out.join("\n");
}
