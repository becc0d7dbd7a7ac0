/**
 * The query API (Fastify 5). `buildApp(options)` builds the app without
 * listening (tests use inject()); `listen(app, { host, port })` listens and
 * returns the address. Routes are thin: validate (schemas.ts), call one
 * repository method (@danesweep/store ApiQueries / Store), shape the answer.
 *
 * - Reads under /v1 are public, or need a token with scope "read" when
 *   `auth.readRequiresToken`; POST /v1/scans and POST
 *   /v1/scans/{id}/rejudge need scope "scan". A scan's
 *   `parameters` (which name files on the scanning host) are shown only to a
 *   token with scope "scan".
 *   Missing, malformed, unknown or revoked tokens: 401 (WWW-Authenticate:
 *   Bearer); a valid token without the scope: 403. Nothing is written then.
 * - POST /v1/scans calls `startScan(domains, parameters)`; without one the
 *   answer is 503 "scanning-not-configured".
 * - POST /v1/scans/{id}/rejudge (scope "scan") judges a scan's stored facts
 *   again in the background on `writer` (default `store`), GET
 *   /v1/scans/{id}/rejudgements lists the runs (rejudge-routes.ts); runs in
 *   progress stop, resumable, when the app closes. GET /v1/domains/{d}
 *   names the engine of every verdict, and with history=true each scan's
 *   re-judgements.
 * - GET /v1/changes: the change events between scans (changes.ts), as JSON
 *   pages or a whole-set export like the results.
 * - Rate limits (fixed window, in memory, per app): per client address on
 *   every request, and per token for authenticated requests; 429 with
 *   Retry-After. /healthz, /readyz and /metrics are exempt. The client
 *   address is the TCP peer's, or, with `trustProxy`, the one the trusted
 *   proxies put in X-Forwarded-For (proxy.ts), never an entry the client wrote;
 *   the limit keys on its canonical text (libs/dane canonicalIp), so every
 *   spelling of one address shares its limit.
 * - Results as NDJSON or CSV are whole-set exports (exports.ts): at most
 *   `exports.maxConcurrent` at once (429 with Retry-After beyond), stopped
 *   when the client goes away or stops reading, one query at a time so that
 *   other requests are answered meanwhile. HEAD of the results is answered
 *   from the headers alone (the scan must exist) and runs no export.
 * - Every error is application/problem+json (problem.ts), those raised before
 *   a route is found (414, a path that is not percent-encoded UTF-8) and by
 *   Node's HTTP parser (431, 408, 400) included; a parameter that fails
 *   validation, or a time that names no real instant (time.ts), is 400 naming
 *   it; unknown query parameters are refused.
 * - /openapi.json is the OpenAPI 3.1 document built from the route schemas,
 *   completed by openapi.ts (an operationId for every operation, servers);
 *   /docs a browsable page. Every route states its summary, security (an
 *   empty list for a public one) and error responses (problem+json); `redocly
 *   lint` passes on the document (test/openapi.test.ts).
 * Store failures become 503 (unavailable) or 500 (anything else).
 */
import { DomainName } from "@danesweep/bus";
import { canonicalIp } from "@danesweep/dane";
import {
  ApiQueries,
  isStoreError,
  type ResultFilters,
  type ResultRow,
  rejudgementsOf,
  type Store,
  type TokenScope,
} from "@danesweep/store";
import rateLimitPlugin from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Static } from "@sinclair/typebox";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginCallback,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { registerChangeRoutes } from "./changes.ts";
import {
  type ExportContext,
  ExportLane,
  type ExportSlot,
  ExportSlots,
  sendExport,
  takeExportSlot,
} from "./exports.ts";
import { decodeCursor, encodeCursor, FORMAT_CONTENT_TYPES, negotiate } from "./formats.ts";
import { Metrics } from "./metrics.ts";
import { completeOpenApi } from "./openapi.ts";
import {
  badParameter,
  type ErrorResponses,
  PROBLEM_CONTENT_TYPE,
  ProblemError,
  rawProblemResponse,
  sendNotAcceptable,
  sendProblem,
} from "./problem.ts";
import { fastifyTrustProxy, type TrustProxy } from "./proxy.ts";
import { RejudgeJobs, type RejudgeOptions, registerRejudgeRoutes } from "./rejudge-routes.ts";
import {
  AdoptionQuery,
  AdoptionResponse,
  BrokenQuery,
  BrokenResponse,
  DomainParam,
  DomainQuery,
  DomainResponse,
  HealthResponse,
  MAX_SCAN_DOMAINS,
  MetricsText,
  ProblemSchema,
  ProvidersQuery,
  ProvidersResponse,
  ResultsPage,
  ResultsQuery,
  RiskQuery,
  RiskResponse,
  ScanListResponse,
  type ScanParametersSchema,
  ScanParams,
  ScanResponse,
  ScansQuery,
  StartScanJson,
  StartScanResponse,
  StartScanText,
} from "./schemas.ts";
import { parseTime } from "./time.ts";
import { verifyToken } from "./tokens.ts";

export type ScanParameters = Static<typeof ScanParametersSchema>;
export type StartScan = (domains: string[], parameters: ScanParameters) => Promise<{ scanId: string }>;

export interface RateLimitOptions {
  /** Requests per window per client address (default 600). */
  perAddress?: number;
  /** Requests per window per token (default 3000). */
  perToken?: number;
  /** Window in milliseconds (default 60 000). */
  windowMs?: number;
}

export interface BuildAppOptions {
  store: Store;
  auth: { readRequiresToken: boolean };
  startScan?: StartScan;
  /** false disables rate limiting (benchmarks). */
  rateLimit?: RateLimitOptions | false;
  now?: () => number;
  /** Fastify logger option (default off). */
  logger?: boolean | Record<string, unknown>;
  /** A logger of the caller's (the process's pino: libs/runtime pinoOf); wins over `logger`. */
  loggerInstance?: FastifyBaseLogger;
  /** Request tracing (otel.ts otelPlugin(), given when tracing is on); registered before any route. */
  otel?: FastifyPluginCallback;
  /**
   * The reverse proxies in front, whose X-Forwarded-For entries give the
   * client address (proxy.ts): a hop count or their addresses. Default: none,
   * the TCP peer is the client.
   */
  trustProxy?: TrustProxy;
  /** Most domains one POST /v1/scans may carry (default 100 000). */
  maxScanDomains?: number;
  /** Whole-set exports of results (NDJSON, CSV): see exports.ts. */
  exports?: ExportOptions;
  /** The store re-judging writes to (POST /v1/scans/{id}/rejudge); default `store`. */
  writer?: Store;
  /** Re-judging in the background: rejudge-routes.ts. */
  rejudge?: RejudgeOptions;
}

export interface ExportOptions {
  /** Exports running at once; beyond, 429 with Retry-After (default 4). */
  maxConcurrent?: number;
  /** Rows per query (default 200 on PGlite, whose queries run on the event loop; 2000 on PostgreSQL). */
  batchRows?: number;
  /** An export whose client takes nothing for this long is stopped (default 60 000 ms). */
  stallMs?: number;
}

export const DEFAULT_MAX_EXPORTS = 4;

type Scope = TokenScope | "none";
interface RouteConfig {
  scope?: Scope;
  exempt?: boolean;
}

const DOMAIN_RE = new RegExp(DomainName.pattern as string);

/** Lowercase, one trailing dot removed; undefined unless a valid normalised domain results. */
export function normaliseDomain(input: string): string | undefined {
  let d = input.trim().toLowerCase();
  if (d.endsWith(".")) d = d.slice(0, -1);
  if (d.length === 0 || d.length > 253 || !DOMAIN_RE.test(d)) return undefined;
  if (d.split(".").some((l) => l.length > 63)) return undefined;
  return d;
}

function paramName(
  context: string | undefined,
  v: { instancePath?: string; params?: Record<string, unknown> },
) {
  const path = (v.instancePath ?? "")
    .split("/")
    .filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join("");
  const extra = v.params?.missingProperty ?? v.params?.additionalProperty;
  const name = typeof extra === "string" ? (path ? `${path}.${extra}` : extra) : path;
  return name || (context === "body" ? "body" : (context ?? "request"));
}

export function buildApp(opts: BuildAppOptions): FastifyInstance {
  const store = opts.store;
  const queries = new ApiQueries(store);
  const now = opts.now ?? Date.now;
  const metrics = new Metrics();
  const maxScanDomains = opts.maxScanDomains ?? MAX_SCAN_DOMAINS;
  const exportSlots = new ExportSlots(opts.exports?.maxConcurrent ?? DEFAULT_MAX_EXPORTS);
  const exportLane = new ExportLane();
  const exportBatchRows = opts.exports?.batchRows ?? (store.driver === "embedded" ? 200 : 2000);
  const exportStallMs = opts.exports?.stallMs ?? 60_000;
  const exporting: ExportContext = {
    slots: exportSlots,
    lane: exportLane,
    batchRows: exportBatchRows,
    stallMs: exportStallMs,
    metrics,
  };
  const rejudgeJobs = new RejudgeJobs();
  const app = Fastify({
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance } : { logger: opts.logger ?? false }),
    trustProxy: opts.trustProxy === undefined ? false : fastifyTrustProxy(opts.trustProxy),
    // Long path parameters reach validation (400 naming them) instead of missing the route.
    routerOptions: { maxParamLength: 8192 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    // Errors raised before a route is found, and by Node's HTTP parser: problem+json too.
    frameworkErrors: (err, _req, reply) => {
      if (err.code === "FST_ERR_MAX_PARAM_LENGTH")
        return sendProblem(reply, "uri-too-long", 414, "a path parameter is longer than 8192 characters");
      if (err.code === "FST_ERR_BAD_URL")
        return sendProblem(reply, "bad-request", 400, "the path is not valid percent-encoded UTF-8");
      return sendProblem(reply, "internal", 500, "internal error");
    },
    clientErrorHandler: (err, socket) => {
      if ((err as NodeJS.ErrnoException).code === "ECONNRESET" || socket.destroyed) return;
      const code = (err as NodeJS.ErrnoException).code;
      const answer =
        code === "HPE_HEADER_OVERFLOW"
          ? rawProblemResponse("headers-too-large", 431, "the request line and headers are too large")
          : code === "ERR_HTTP_REQUEST_TIMEOUT"
            ? rawProblemResponse("request-timeout", 408, "the request did not arrive in time")
            : rawProblemResponse("bad-request", 400, "the request is not valid HTTP/1.1");
      if (socket.writable) socket.end(answer);
      else socket.destroy();
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler((err: unknown, req, reply) => {
    const e = err as {
      validation?: { instancePath?: string; params?: Record<string, unknown>; message?: string }[];
      validationContext?: string;
      statusCode?: number;
      code?: string;
      message?: string;
    };
    if (err instanceof ProblemError)
      return sendProblem(reply, err.code, err.status, err.message, err.parameter);
    if (e.validation && e.validation.length > 0) {
      const v = e.validation[0] ?? {};
      const name = paramName(e.validationContext, v);
      return sendProblem(reply, "invalid-parameter", 400, `${name}: ${v.message ?? "invalid"}`, name);
    }
    if (isStoreError(err)) {
      req.log.error({ err }, "store error");
      return err.code === "unavailable"
        ? sendProblem(reply, "unavailable", 503, "the database is unavailable")
        : sendProblem(reply, "internal", 500, "internal error");
    }
    if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE" || e.statusCode === 413)
      return sendProblem(reply, "payload-too-large", 413, "the request body is too large", "body");
    if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || e.statusCode === 415)
      return sendProblem(reply, "unsupported-media-type", 415, "send application/json or text/plain", "body");
    if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500)
      return sendProblem(reply, "invalid-parameter", 400, e.message ?? "bad request", "body");
    req.log.error({ err }, "unhandled error");
    return sendProblem(reply, "internal", 500, "internal error");
  });
  // Re-judging runs of this process stop (interrupted, resumable) when the app closes.
  app.addHook("onClose", async () => rejudgeJobs.close());
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, "not-found", 404, `no route ${req.method} ${req.url.split("?")[0]}`),
  );

  if (opts.otel) app.register(opts.otel);
  app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "danesweep query API",
        version: "1",
        description: "Verdicts, scans and DANE adoption statistics of danesweep (RFC 7672 DANE for SMTP).",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
    },
    // operationIds and servers for every route (openapi.ts).
    transformObject: (d) => completeOpenApi("openapiObject" in d ? d.openapiObject : d.swaggerObject),
  });
  app.register(swaggerUi, { routePrefix: "/docs" });
  app.addSchema(ProblemSchema);

  // A named plugin: its name is what traces (@fastify/otel) and Fastify's errors call it.
  app.register(async function v1Routes(scope) {
    await scope.register(rateLimitPlugin, { global: false });
    const api = scope.withTypeProvider<TypeBoxTypeProvider>();
    const limits = opts.rateLimit === false ? undefined : opts.rateLimit;
    const windowMs = limits?.windowMs ?? 60_000;
    const byAddress =
      opts.rateLimit === false
        ? undefined
        : api.createRateLimit({
            max: limits?.perAddress ?? 600,
            timeWindow: windowMs,
            // One key per address whatever its spelling (a proxy may write 2001:DB8:0::7).
            keyGenerator: (req) => `a:${canonicalIp(req.ip) ?? req.ip}`,
          });
    const byToken =
      opts.rateLimit === false
        ? undefined
        : api.createRateLimit({
            max: limits?.perToken ?? 3000,
            timeWindow: windowMs,
            keyGenerator: (req) => `t:${tokenOf.get(req)?.id ?? ""}`,
          });
    /** The verified token of a request, if it carried one. */
    const tokenOf = new WeakMap<FastifyRequest, { id: string; scopes: TokenScope[] }>();
    /** Scan parameters name files on the scanning host (inputs, opt-out list): only for scan-scoped tokens. */
    const mayReadParameters = (req: FastifyRequest) => tokenOf.get(req)?.scopes.includes("scan") === true;

    async function limited(
      reply: FastifyReply,
      limiter: NonNullable<typeof byAddress>,
      req: FastifyRequest,
      kind: "address" | "token",
    ): Promise<boolean> {
      const r = await limiter(req);
      if (r.isAllowed) return false;
      reply.header("ratelimit-limit", r.max).header("ratelimit-remaining", r.remaining);
      if (!r.isExceeded) return false;
      metrics.rateLimited(kind);
      reply.header("retry-after", r.ttlInSeconds);
      sendProblem(
        reply,
        "rate-limited",
        429,
        `rate limit per ${kind} exceeded; retry after ${r.ttlInSeconds} s`,
      );
      return true;
    }

    api.addHook("onRequest", async (req, reply) => {
      const cfg = (req.routeOptions.config ?? {}) as RouteConfig;
      if (cfg.exempt) return;
      if (byAddress && (await limited(reply, byAddress, req, "address"))) return reply;
      const needed: TokenScope | undefined =
        cfg.scope === "scan"
          ? "scan"
          : cfg.scope === "read" && opts.auth.readRequiresToken
            ? "read"
            : undefined;
      const header = req.headers.authorization;
      if (needed === undefined && header === undefined) return;
      const check = await verifyToken(queries, header);
      if (!check.ok) {
        if (needed === undefined) return; // a public route: the request is anonymous
        reply.header(
          "www-authenticate",
          check.why === "missing"
            ? 'Bearer realm="danesweep"'
            : 'Bearer realm="danesweep", error="invalid_token"',
        );
        return sendProblem(
          reply,
          "unauthorized",
          401,
          check.why === "missing" ? "a bearer token is required" : `the bearer token is ${check.why}`,
        );
      }
      tokenOf.set(req, { id: check.id, scopes: check.scopes });
      if (needed !== undefined && !check.scopes.includes(needed)) {
        reply.header(
          "www-authenticate",
          `Bearer realm="danesweep", error="insufficient_scope", scope="${needed}"`,
        );
        return sendProblem(reply, "forbidden", 403, `the token lacks the scope "${needed}"`);
      }
      if (byToken && (await limited(reply, byToken, req, "token"))) return reply;
    });
    api.addHook("onResponse", async (req, reply) => {
      metrics.observe(
        req.routeOptions.url ?? "unmatched",
        req.method,
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
    });

    const read: RouteConfig = { scope: "read" };
    const exempt: RouteConfig = { exempt: true };
    const problem = {
      description: "RFC 9457 problem details",
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "Problem#" } } },
    } as const;
    const errors: ErrorResponses = { "4xx": problem, "5xx": problem };
    const readSecurity = opts.auth.readRequiresToken ? [{ bearerAuth: [] }] : [];

    // ------------------------------------------------------------ health, metrics

    for (const prefix of ["", "/v1"]) {
      api.get(
        `${prefix}/healthz`,
        {
          config: exempt,
          schema: {
            hide: prefix === "",
            summary: "Liveness: 200 while the process runs",
            security: [],
            response: { 200: HealthResponse, ...errors },
          },
        },
        async () => ({ status: "ok" }),
      );
      api.get(
        `${prefix}/readyz`,
        {
          config: exempt,
          schema: {
            hide: prefix === "",
            summary: "Readiness: 200 when the database answers, 503 otherwise",
            security: [],
            response: { 200: HealthResponse, ...errors },
          },
        },
        async (_req, reply) => {
          try {
            await queries.ping();
            return { status: "ready" };
          } catch {
            return sendProblem(reply, "unavailable", 503, "the database does not answer");
          }
        },
      );
      api.get(
        `${prefix}/metrics`,
        {
          config: exempt,
          schema: {
            hide: prefix === "",
            summary: "Metrics in the Prometheus text format (requests, latency, rate limiting, exports)",
            security: [],
            response: {
              200: { description: "the metrics", content: { "text/plain": { schema: MetricsText } } },
              ...errors,
            },
          },
        },
        async (_req, reply) =>
          reply.type("text/plain; version=0.0.4; charset=utf-8").send(await metrics.render()),
      );
    }

    // ------------------------------------------------------------ domains

    api.get(
      "/v1/domains/:domain",
      {
        config: read,
        // The body is JSON text built by the database from records validated against these schemas
        // when they were stored; the schema documents it.
        schema: {
          summary: "The latest verdict of a domain, with its facts; ?history=true adds every earlier verdict",
          params: { type: "object", properties: { domain: DomainParam }, required: ["domain"] } as never,
          querystring: DomainQuery,
          security: readSecurity,
          response: { 200: DomainResponse, ...errors },
        },
      },
      async (req, reply) => {
        const raw = (req.params as { domain: string }).domain;
        const domain = normaliseDomain(raw);
        if (domain === undefined) throw badParameter("domain", "not a domain name");
        const latest = await queries.latestVerdictJson(domain);
        if (!latest) return sendProblem(reply, "not-found", 404, `no verdict stored for ${domain}`);
        reply.type("application/json; charset=utf-8");
        if (!req.query.history) return reply.send(latest.json);
        const rejudged = await rejudgementsOf(store, domain);
        const history = (await queries.verdictHistory(domain)).map((h) => ({
          ...h,
          rejudgements: rejudged
            .filter((j) => j.scanId === h.scanId)
            .map((j) => ({
              run: j.run,
              runState: j.runState,
              rejudgedAt: j.rejudgedAt,
              engine: j.engine,
              action: j.action,
              security: j.security,
              reason: j.reason,
              dane: j.dane,
            })),
        }));
        const changes: NonNullable<Static<typeof DomainResponse>["changes"]> = [];
        const sum = (h: (typeof history)[number]) => ({
          action: h.action,
          security: h.security,
          reason: h.reason,
          dane: h.dane,
        });
        for (let i = 1; i < history.length; i++) {
          const a = history[i - 1];
          const b = history[i];
          if (a && b && JSON.stringify(sum(a)) !== JSON.stringify(sum(b)))
            changes.push({
              scanId: b.scanId,
              scanStartedAt: b.scanStartedAt,
              from: sum(a),
              to: sum(b),
            } as never);
        }
        // The body the database built, with the history appended (it ends with "}").
        return reply.send(
          `${latest.json.slice(0, -1)},"history":${JSON.stringify(history)},"changes":${JSON.stringify(changes)}}`,
        );
      },
    );

    // ------------------------------------------------------------ scans

    api.get(
      "/v1/scans",
      {
        config: read,
        schema: {
          summary: "Scans, most recently started first",
          querystring: ScansQuery,
          security: readSecurity,
          response: { 200: ScanListResponse, ...errors },
        },
      },
      async (req) => {
        const limit = req.query.limit ?? 100;
        let after: { startedAt: string; id: string } | undefined;
        if (req.query.cursor !== undefined) {
          const k = decodeCursor(req.query.cursor);
          const m = k === undefined ? null : /^(\S+) (.+)$/.exec(k);
          const t = m ? parseTime(m[1] as string) : undefined;
          if (!m || !t?.ok) throw badParameter("cursor", "not a cursor this API made");
          after = { startedAt: t.iso, id: m[2] as string };
        }
        const rows = await queries.listScans(after ? { limit: limit + 1, after } : { limit: limit + 1 });
        const withParameters = mayReadParameters(req);
        const items = rows
          .slice(0, limit)
          .map(({ parameters, ...rest }) => (withParameters ? { ...rest, parameters } : rest));
        const last = items[items.length - 1];
        return {
          items: items as Static<typeof ScanListResponse>["items"],
          next: rows.length > limit && last ? encodeCursor(`${last.startedAt} ${last.id}`) : null,
        };
      },
    );

    api.get(
      "/v1/scans/:id",
      {
        config: read,
        schema: {
          summary: "A scan: state, parameters, progress per stage, timings and verdict counts",
          params: ScanParams,
          security: readSecurity,
          response: { 200: ScanResponse, ...errors },
        },
      },
      async (req, reply) => {
        const s = await store.getScan(req.params.id);
        if (!s) return sendProblem(reply, "not-found", 404, `no scan ${req.params.id}`);
        const c = s.liveCounts;
        const end = s.finishedAt !== undefined ? Date.parse(s.finishedAt) : now();
        return {
          id: s.id,
          state: s.state,
          ...(mayReadParameters(req) ? { parameters: s.parameters } : {}),
          timings: {
            startedAt: s.startedAt,
            finishedAt: s.finishedAt ?? null,
            elapsedMs: Math.max(0, end - Date.parse(s.startedAt)),
          },
          progress: {
            domains: c.domains,
            judged: c.judged,
            probes: { done: c.probes, byStatus: c.probesByStatus },
          },
          counts: { action: c.byAction, security: c.bySecurity, reason: c.byReason, dane: c.byDane },
        };
      },
    );

    api.post(
      "/v1/scans",
      {
        config: { scope: "scan" } satisfies RouteConfig,
        bodyLimit: 16 * 1024 * 1024,
        schema: {
          summary: "Start a scan of a list of domains (JSON, or text with one domain per line)",
          security: [{ bearerAuth: [] }],
          body: {
            content: {
              "application/json": { schema: StartScanJson },
              "text/plain": { schema: StartScanText },
            },
          } as never,
          response: { 202: StartScanResponse, ...errors },
        },
      },
      async (req, reply) => {
        const body = req.body as unknown;
        let inputs: { value: string; name: string }[];
        let parameters: ScanParameters = {};
        if (typeof body === "string") {
          inputs = [];
          for (const [i, line] of body.split(/\r?\n/).entries()) {
            const t = line.trim();
            if (t === "" || t.startsWith("#")) continue;
            inputs.push({ value: t, name: `body line ${i + 1}` });
          }
        } else {
          const b = body as Static<typeof StartScanJson>;
          inputs = b.domains.map((value, i) => ({ value, name: `domains[${i}]` }));
          parameters = b.parameters ?? {};
        }
        if (inputs.length === 0) throw badParameter("body", "no domains");
        if (inputs.length > maxScanDomains) throw badParameter("body", `more than ${maxScanDomains} domains`);
        const seen = new Set<string>();
        const domains: string[] = [];
        for (const x of inputs) {
          const d = normaliseDomain(x.value);
          if (d === undefined) throw badParameter(x.name, "not a domain name");
          if (!seen.has(d)) {
            seen.add(d);
            domains.push(d);
          }
        }
        if (!opts.startScan)
          return sendProblem(reply, "scanning-not-configured", 503, "this API instance cannot start scans");
        const { scanId } = await opts.startScan(domains, parameters);
        return reply
          .code(202)
          .header("location", `/v1/scans/${scanId}`)
          .send({ scanId, domains: domains.length });
      },
    );

    // ------------------------------------------------------------ results

    api.route({
      method: ["GET", "HEAD"],
      url: "/v1/scans/:id/results",
      // HEAD is answered here, from the headers alone: Fastify's own HEAD route would run the export.
      exposeHeadRoute: false,
      config: read,
      schema: {
        summary: "A scan's verdicts, filtered; JSON pages, or the whole set as NDJSON or CSV (Accept)",
        params: ScanParams,
        querystring: ResultsQuery,
        security: readSecurity,
        produces: ["application/json", "application/x-ndjson", "text/csv"],
        response: { 200: ResultsPage, ...errors },
      },
      handler: async (req, reply) => {
        const q = req.query;
        const format = negotiate(req.headers.accept);
        if (format === undefined) return sendNotAcceptable(reply);
        let after: string | undefined;
        if (q.cursor !== undefined) {
          after = decodeCursor(q.cursor);
          if (after === undefined) throw badParameter("cursor", "not a cursor this API made");
        }
        const scanId = req.params.id;
        const filters: ResultFilters = {};
        for (const k of ["action", "security", "reason", "dane", "tld", "mx", "provider"] as const)
          if (q[k] !== undefined) filters[k] = q[k];
        const isExport = format !== "json" && req.method === "GET";
        // An export takes one of a few slots before any query (exports.ts); the others, 429.
        const slot = isExport ? takeExportSlot(reply, exporting) : undefined;
        if (isExport && !slot) return reply;
        try {
          if (!(await queries.scanExists(scanId))) {
            slot?.release();
            return sendProblem(reply, "not-found", 404, `no scan ${scanId}`);
          }
        } catch (e) {
          slot?.release();
          throw e;
        }
        // HEAD: the headers GET would send, and no export.
        if (req.method === "HEAD") return reply.type(FORMAT_CONTENT_TYPES[format]).send();
        if (format === "json") {
          const limit = q.limit ?? 100;
          const rows = await queries.resultsPage(scanId, filters, { after, limit: limit + 1 } as {
            after?: string;
            limit: number;
          });
          const items = rows.slice(0, limit);
          const last = items[items.length - 1];
          return {
            scanId,
            items: items as Static<typeof ResultsPage>["items"],
            next: rows.length > limit && last ? encodeCursor(last.domain) : null,
          };
        }
        return sendExport(reply, exporting, slot as ExportSlot, format, (signal) =>
          queries.streamResults(scanId, filters, exportBatchRows, after, signal),
        );
      },
    });

    // ------------------------------------------------------------ re-judging

    registerRejudgeRoutes(api, {
      store,
      writer: opts.writer ?? store,
      jobs: rejudgeJobs,
      now,
      options: opts.rejudge ?? {},
      read,
      readSecurity,
      errors,
    });

    // ------------------------------------------------------------ stats

    /** `from` and `to` of a stats query, checked (400 naming the parameter). */
    function timeRange(q: { from?: string | undefined; to?: string | undefined }): {
      from?: string;
      to?: string;
    } {
      const out: { from?: string; to?: string } = {};
      for (const name of ["from", "to"] as const) {
        const v = q[name];
        if (v === undefined) continue;
        const t = parseTime(v);
        if (!t.ok) throw badParameter(name, t.error);
        out[name] = t.iso;
      }
      return out;
    }

    api.get(
      "/v1/stats/adoption",
      {
        config: read,
        schema: {
          summary:
            "Time series across scans of counts per DANE state and per verdict, optionally per TLD or provider",
          querystring: AdoptionQuery,
          security: readSecurity,
          response: { 200: AdoptionResponse, ...errors },
        },
      },
      async (req) => {
        const q = req.query;
        const range = timeRange(q);
        if (q.group !== undefined && q.by === undefined) throw badParameter("group", "needs by=tld|provider");
        const rows = await queries.adoption({
          ...range,
          ...(q.by !== undefined ? { by: q.by } : {}),
          ...(q.group !== undefined ? { group: q.group } : {}),
          top: q.top ?? 20,
        });
        const series: Static<typeof AdoptionResponse>["series"] = [];
        const index = new Map<string, (typeof series)[number]>();
        for (const r of rows) {
          const key = `${r.scanId}\u0000${r.group ?? ""}`;
          let s = index.get(key);
          if (!s) {
            s = {
              scanId: r.scanId,
              scanStartedAt: r.scanStartedAt,
              scanState: r.scanState as (typeof series)[number]["scanState"],
              group: r.group,
              domains: 0,
              dane: {},
              action: {},
              security: {},
            };
            index.set(key, s);
            series.push(s);
          }
          s.domains += r.domains;
          s.dane[r.dane] = (s.dane[r.dane] ?? 0) + r.domains;
          s.action[r.action] = (s.action[r.action] ?? 0) + r.domains;
          if (r.security !== null) s.security[r.security] = (s.security[r.security] ?? 0) + r.domains;
        }
        return { by: q.by ?? null, series };
      },
    );

    api.get(
      "/v1/stats/risk",
      {
        config: read,
        schema: {
          summary:
            "Per scan, the share of DANE domains (valid or partial) at risk: authoritative servers that disagree, certificates other senders see, rollover risk (issue 14)",
          querystring: RiskQuery,
          security: readSecurity,
          response: { 200: RiskResponse, ...errors },
        },
      },
      async (req) => {
        const rows = await queries.risk(timeRange(req.query));
        const share = (n: number, d: number) => (d > 0 ? n / d : 0);
        return {
          series: rows.map((r) => ({
            scanId: r.scanId,
            scanStartedAt: r.scanStartedAt,
            scanState: r.scanState as Static<typeof RiskResponse>["series"][number]["scanState"],
            daneDomains: r.daneDomains,
            atRisk: r.atRisk,
            share: share(r.atRisk, r.daneDomains),
            rolloverAtRisk: r.rolloverAtRisk,
            rolloverShare: share(r.rolloverAtRisk, r.daneDomains),
            byRisk: r.byRisk,
          })),
        };
      },
    );

    async function scanOrDefault(reply: FastifyReply, scan: string | undefined): Promise<string | undefined> {
      if (scan !== undefined) {
        if (await queries.scanExists(scan)) return scan;
        sendProblem(reply, "not-found", 404, `no scan ${scan}`, "scan");
        return undefined;
      }
      const id = await queries.defaultScanId();
      if (id === undefined) sendProblem(reply, "not-found", 404, "no scan stored yet");
      return id;
    }

    api.get(
      "/v1/stats/providers",
      {
        config: read,
        schema: {
          summary:
            "MX providers (registrable domain of the primary MX host) ranked by the domains they serve",
          querystring: ProvidersQuery,
          security: readSecurity,
          response: { 200: ProvidersResponse, ...errors },
        },
      },
      async (req, reply) => {
        const scanId = await scanOrDefault(reply, req.query.scan);
        if (scanId === undefined) return reply;
        return { scanId, providers: await queries.providers(scanId, req.query.limit ?? 100) };
      },
    );

    api.get(
      "/v1/broken",
      {
        config: read,
        schema: {
          summary: "Domains whose DANE is broken, with the failing hosts and the first scan seen broken",
          querystring: BrokenQuery,
          security: readSecurity,
          response: { 200: BrokenResponse, ...errors },
        },
      },
      async (req, reply) => {
        const q = req.query;
        let after: string | undefined;
        if (q.cursor !== undefined) {
          after = decodeCursor(q.cursor);
          if (after === undefined) throw badParameter("cursor", "not a cursor this API made");
        }
        const scanId = await scanOrDefault(reply, q.scan);
        if (scanId === undefined) return reply;
        const limit = q.limit ?? 100;
        const rows = await queries.broken(scanId, {
          ...(q.tld !== undefined ? { tld: q.tld } : {}),
          ...(after !== undefined ? { after } : {}),
          limit: limit + 1,
        });
        const items = rows.slice(0, limit).map((r) => ({
          domain: r.domain,
          tld: r.tld,
          mxHost: r.mxHost,
          provider: r.provider,
          action: r.action,
          reason: r.reason,
          dane: r.dane,
          problems: r.problems,
          failingHosts: r.record.failingHosts ?? [],
          explanation: r.record.explanation,
          firstBroken: r.firstBroken,
        }));
        const last = items[items.length - 1];
        return {
          scanId,
          items: items as Static<typeof BrokenResponse>["items"],
          next: rows.length > limit && last ? encodeCursor(last.domain) : null,
        };
      },
    );

    // ------------------------------------------------------------ change events (changes.ts)

    registerChangeRoutes(scope, {
      store,
      exporting,
      config: read,
      security: readSecurity,
      errors,
      normaliseDomain,
    });
  });

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/** Listens; resolves to the address (http://host:port). */
export async function listen(app: FastifyInstance, where: { host: string; port: number }): Promise<string> {
  return app.listen({ host: where.host, port: where.port });
}

export type { ResultRow };
export { PROBLEM_CONTENT_TYPE };
