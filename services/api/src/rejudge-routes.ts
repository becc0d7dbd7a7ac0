/**
 * Re-judging a scan through the API (libs/store rejudge.ts does the work):
 *
 * - `POST /v1/scans/{id}/rejudge[?policy=postfix|rfc7672][&again=true]`
 *   (token with scope "scan"): starts judging the scan's stored facts again
 *   with this engine, in the background in this process, on the writer
 *   store. 202 with the run and `Location: /v1/scans/{id}/rejudgements/{run}`
 *   (`status` new, resumed, or running when this server is already running
 *   it); 200 with the finished run when this engine already re-judged the
 *   scan under that profile (unless `again`). 404 unknown scan; 409
 *   `conflict` for a running scan or a run another process is running.
 * - `GET /v1/scans/{id}/rejudgements`: the scan's runs with their counts,
 *   oldest first; `GET /v1/scans/{id}/rejudgements/{run}`: one run. 404 when
 *   the scan (or the run) is unknown.
 *
 * `RejudgeJobs` holds the runs this process is running: one job per run at
 * most; `close()` (the app's onClose) stops them after their batch in flight
 * and marks them interrupted, so a later POST resumes them. A job that fails
 * marks its run failed (with the error) and is logged; POST resumes it.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { TrustStore } from "@danesweep/dane";
import {
  continueRejudge,
  getRejudgeRun,
  listRejudgeRuns,
  type RejudgeRun,
  rejudgeOwner,
  runSummary,
  type Store,
  startRejudge,
} from "@danesweep/store";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from "fastify";
import { type ErrorResponses, sendProblem } from "./problem.ts";
import {
  RejudgeQuery,
  RejudgeRunList,
  RejudgeRunParams,
  RejudgeRunSchema,
  RejudgeStarted,
  ScanParams,
} from "./schemas.ts";

export interface RejudgeOptions {
  /** Domains per batch (default 100 on the embedded store, whose queries share this thread; 500 on PostgreSQL). */
  batch?: number;
  /**
   * The WebPKI roots MTA-STS certificates are judged against (libs/dane
   * trustStore): those the scans were judged with (`danesweep serve
   * --mta-sts-ca`). Without, MTA-STS certificates are not judged.
   */
  trust?: TrustStore;
}

/** The re-judging runs this process is running. */
export class RejudgeJobs {
  readonly owner = rejudgeOwner();
  readonly #running = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();

  has(run: RejudgeRun): boolean {
    return this.#running.has(`${run.scanId}/${run.run}`);
  }

  /** Runs `run` to its end in the background (once per run). */
  start(
    writer: Store,
    run: RejudgeRun,
    o: { now: () => number; batch: number; log: FastifyBaseLogger; trust?: TrustStore | undefined },
  ): void {
    const key = `${run.scanId}/${run.run}`;
    if (this.#running.has(key)) return;
    const job = continueRejudge(writer, run, {
      owner: this.owner,
      now: o.now,
      batch: o.batch,
      ...(o.trust ? { trust: o.trust } : {}),
      signal: this.#stop.signal,
    })
      .then((r) => o.log.info({ scanId: run.scanId, run: run.run, outcome: r.outcome }, "re-judging ended"))
      .catch((err: unknown) => o.log.error({ err, scanId: run.scanId, run: run.run }, "re-judging failed"))
      .finally(() => this.#running.delete(key));
    this.#running.set(key, job);
  }

  /** Stops every run after its batch in flight (marked interrupted) and waits for them. */
  async close(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#running.values());
  }
}

/** The app (or an encapsulated scope of it) with TypeBox types. */
export type TypeBoxApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export function registerRejudgeRoutes(
  api: TypeBoxApp,
  o: {
    /** Reads (the runs). */
    store: Store;
    /** Writes (the re-judging). */
    writer: Store;
    jobs: RejudgeJobs;
    now: () => number;
    options: RejudgeOptions;
    /** The route config and OpenAPI security of read routes, and the error responses (app.ts). */
    read: { scope?: string };
    readSecurity: { bearerAuth: never[] }[];
    errors: ErrorResponses;
  },
): void {
  const batch = o.options.batch ?? (o.writer.driver === "embedded" ? 100 : 500);
  const location = (r: RejudgeRun) => `/v1/scans/${encodeURIComponent(r.scanId)}/rejudgements/${r.run}`;

  api.post(
    "/v1/scans/:id/rejudge",
    {
      config: { scope: "scan" },
      schema: {
        summary:
          "Judge a scan's stored facts again with this engine (in the background); the change counts follow",
        params: ScanParams,
        querystring: RejudgeQuery,
        security: [{ bearerAuth: [] }],
        response: { 200: RejudgeStarted, 202: RejudgeStarted, ...o.errors },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const scanId = req.params.id;
      const s = await startRejudge(o.writer, scanId, {
        owner: o.jobs.owner,
        now: o.now(),
        again: q.again === true,
        ...(q.policy !== undefined ? { profile: q.policy } : {}),
      });
      if (!s.ok) {
        const r = s.refused;
        if (r.code === "unknown-scan") return sendProblem(reply, "not-found", 404, `no scan ${scanId}`);
        if (r.code === "scan-running")
          return sendProblem(
            reply,
            "conflict",
            409,
            `scan ${scanId} is still running; re-judge it once it finished`,
          );
        if (r.code === "busy")
          return sendProblem(
            reply,
            "conflict",
            409,
            `scan ${scanId} is being re-judged under ${r.run.profile} by another process (run ${r.run.run}, ` +
              `${r.run.judged} of ${r.run.total} domains, last progress ${r.run.heartbeatAt})`,
          );
        return sendProblem(reply, "invalid-parameter", 400, `policy: ${r.detail}`, "policy");
      }
      reply.header("location", location(s.run));
      if (s.status === "done") return reply.code(200).send({ ...runSummary(s.run), status: "done" });
      const status = o.jobs.has(s.run) ? "running" : s.status;
      o.jobs.start(o.writer, s.run, { now: o.now, batch, log: req.log, trust: o.options.trust });
      return reply.code(202).send({ ...runSummary(s.run), status });
    },
  );

  api.get(
    "/v1/scans/:id/rejudgements",
    {
      config: o.read,
      schema: {
        summary: "The re-judging runs of a scan, oldest first, with their change counts",
        params: ScanParams,
        security: o.readSecurity,
        response: { 200: RejudgeRunList, ...o.errors },
      },
    },
    async (req, reply) => {
      const scanId = req.params.id;
      const runs = await listRejudgeRuns(o.store, scanId);
      if (!runs) return sendProblem(reply, "not-found", 404, `no scan ${scanId}`);
      return { scanId, items: runs.map(runSummary) };
    },
  );

  api.get(
    "/v1/scans/:id/rejudgements/:run",
    {
      config: o.read,
      schema: {
        summary: "One re-judging run of a scan: its state, progress and change counts",
        params: RejudgeRunParams,
        security: o.readSecurity,
        response: { 200: RejudgeRunSchema, ...o.errors },
      },
    },
    async (req, reply) => {
      const p = req.params;
      const r = await getRejudgeRun(o.store, p.id, p.run);
      if (!r) return sendProblem(reply, "not-found", 404, `no run ${p.run} of scan ${p.id}`);
      return runSummary(r);
    },
  );
}
