/**
 * RFC 9457 problem details: every error the API answers is an
 * application/problem+json body `{ type, title, status, detail, parameter? }`
 * whose `type` ends with a code from PROBLEM_CODES (closed set); clients
 * branch on the code, never on the detail text. `parameter` names the query,
 * path or body parameter at fault (400). Pure.
 *
 * Most problems are sent through Fastify (`sendProblem`). Requests Node's
 * HTTP parser refuses before Fastify sees them (headers over the size limit,
 * a request that is not HTTP, a request timeout) are answered on the socket
 * with `rawProblemResponse`, a whole HTTP/1.1 response that closes the
 * connection.
 */
import { STATUS_CODES } from "node:http";
import type { FastifyReply } from "fastify";

export const PROBLEM_CODES = [
  "invalid-parameter",
  "unauthorized",
  "forbidden",
  "not-found",
  "not-acceptable",
  "unsupported-media-type",
  "payload-too-large",
  "uri-too-long",
  "headers-too-large",
  "bad-request",
  "request-timeout",
  "rate-limited",
  "scanning-not-configured",
  "conflict",
  "unavailable",
  "internal",
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

export const PROBLEM_TYPE_BASE = "https://danesweep.dev/problems/";
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** The OpenAPI responses every route declares for its errors: problem details. */
export interface ErrorResponses {
  "4xx": ProblemResponse;
  "5xx": ProblemResponse;
}
interface ProblemResponse {
  readonly description: string;
  readonly content: { readonly [PROBLEM_CONTENT_TYPE]: { readonly schema: { readonly $ref: string } } };
}

const TITLES: Record<ProblemCode, string> = {
  "invalid-parameter": "Invalid parameter",
  unauthorized: "Authentication required",
  forbidden: "Not allowed",
  "not-found": "Not found",
  "not-acceptable": "Not acceptable",
  "unsupported-media-type": "Unsupported media type",
  "payload-too-large": "Payload too large",
  "uri-too-long": "URI too long",
  "headers-too-large": "Request header fields too large",
  "bad-request": "Bad request",
  "request-timeout": "Request timeout",
  "rate-limited": "Too many requests",
  "scanning-not-configured": "Scanning not configured",
  conflict: "Conflict",
  unavailable: "Service unavailable",
  internal: "Internal error",
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  parameter?: string;
}

export function problem(code: ProblemCode, status: number, detail: string, parameter?: string): Problem {
  const p: Problem = { type: `${PROBLEM_TYPE_BASE}${code}`, title: TITLES[code], status, detail };
  if (parameter !== undefined) p.parameter = parameter;
  return p;
}

/** Sends the problem (serialised here: no response schema applies). */
export function sendProblem(
  reply: FastifyReply,
  code: ProblemCode,
  status: number,
  detail: string,
  parameter?: string,
): FastifyReply {
  return reply
    .code(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem(code, status, detail, parameter)));
}

/** 406 for a listing whose Accept header names none of its formats. */
export function sendNotAcceptable(reply: FastifyReply): FastifyReply {
  return sendProblem(
    reply,
    "not-acceptable",
    406,
    "acceptable: application/json, application/x-ndjson, text/csv",
    "Accept",
  );
}

/** A whole HTTP/1.1 response carrying the problem, for a socket Fastify does not own; it closes the connection. */
export function rawProblemResponse(code: ProblemCode, status: number, detail: string): string {
  const body = JSON.stringify(problem(code, status, detail));
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Connection: close\r\n\r\n" +
    body
  );
}

/** The problem an error raised inside a handler or hook carries to the error handler. */
export class ProblemError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly parameter: string | undefined;
  constructor(code: ProblemCode, status: number, detail: string, parameter?: string) {
    super(detail);
    this.name = "ProblemError";
    this.code = code;
    this.status = status;
    this.parameter = parameter;
  }
}

export function badParameter(parameter: string, detail: string): ProblemError {
  return new ProblemError("invalid-parameter", 400, `${parameter}: ${detail}`, parameter);
}
