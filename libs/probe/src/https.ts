/**
 * The MTA-STS policy fetch of one probe (RFC 8461 §3.3), over a socket the
 * dialer opened to the policy host's port 443: the TLS handshake through the
 * dialer (SNI the policy host, no certificate verification: libs/dane judges
 * the recorded chain under WebPKI, as it judges the MX hosts'), then one
 * HTTP/1.1 `GET /.well-known/mta-sts.txt` with `Host` the policy host and
 * `Connection: close`. Redirects are never followed (RFC 8461 §3.3): a 3xx
 * is recorded with its Location.
 *
 * runPolicyFetch(ctx) fills ctx.facts (status, detail, tls, http, timings)
 * and always resolves; it never rejects. Statuses:
 *   handshake error / not done in time          -> "tls-handshake-failed" / "tls-timeout"
 *   no complete response within timeoutMs       -> "io-timeout"
 *   the connection closed or reset mid-response -> "io-reset"
 *   malformed HTTP, headers over maxHeaderBytes -> "protocol-error"
 *   the whole-fetch deadline (ctx.deadlineAt)   -> "deadline-exceeded"
 *   a whole response read                       -> "http-response"
 * A body longer than maxBodyBytes is not read further: the response counts
 * as read, with `http.truncated` and `http.bodyBytes` = maxBodyBytes + 1. The
 * body is kept (UTF-8 text) for status 200 only. The sockets are destroyed
 * before runPolicyFetch resolves.
 */
import http from "node:http";
import type net from "node:net";
import type tls from "node:tls";
import { type ProbeFacts, type ProbeStatus, STS_POLICY_PATH } from "@danesweep/dane";
import type { Dialer } from "./dialer.ts";
import { tlsFacts } from "./session.ts";

export interface FetchOptions {
  /** Time allowed for the handshake, and for the whole response after it. */
  timeoutMs: number;
  /** Most body bytes read (default in the prober: 65536). */
  maxBodyBytes: number;
  /** Most bytes of status line and headers. */
  maxHeaderBytes: number;
  maxChainCerts: number;
  userAgent: string;
}

export interface FetchContext {
  dialer: Dialer;
  socket: net.Socket;
  /** The policy host: SNI and Host header. */
  host: string;
  /** Clock time (ctx.now) at which the whole fetch must be over. */
  deadlineAt: number;
  now: () => number;
  opts: FetchOptions;
  facts: ProbeFacts;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** HTTP parser errors of node:http (llhttp) are "HPE_*"; a header section too large is one of them. */
function isParseError(e: NodeJS.ErrnoException): boolean {
  return typeof e.code === "string" && e.code.startsWith("HPE_");
}

export async function runPolicyFetch(ctx: FetchContext): Promise<void> {
  const { facts, opts, now } = ctx;
  const left = () => Math.max(1, Math.min(opts.timeoutMs, ctx.deadlineAt - now()));
  let current: net.Socket | tls.TLSSocket = ctx.socket;
  try {
    const hs = await ctx.dialer.startTls(ctx.socket, ctx.host, left());
    facts.timings.tlsMs = round(hs.tlsMs);
    if (!hs.ok) {
      facts.status = now() >= ctx.deadlineAt - 1 ? "deadline-exceeded" : hs.status;
      facts.detail = hs.detail;
      return;
    }
    current = hs.tls;
    facts.tls = tlsFacts(hs.tls, opts.maxChainCerts);
    const r = await exchange(hs.tls, ctx, left());
    facts.status = r.status;
    if (r.detail !== undefined) facts.detail = r.detail;
    if (r.http) facts.http = r.http;
  } catch (e) {
    facts.status = "internal-error";
    facts.detail = String((e as Error)?.stack ?? e);
  } finally {
    facts.io = { bytesRead: ctx.socket.bytesRead, bytesWritten: ctx.socket.bytesWritten };
    current.destroy();
    ctx.socket.destroy();
  }
}

interface Exchange {
  status: ProbeStatus;
  detail?: string;
  http?: NonNullable<ProbeFacts["http"]>;
}

/** One GET over the TLS socket; resolves once the response is read, cut short, or failed. */
function exchange(t: tls.TLSSocket, ctx: FetchContext, timeoutMs: number): Promise<Exchange> {
  const { opts } = ctx;
  return new Promise<Exchange>((resolve) => {
    let done = false;
    let res: http.IncomingMessage | undefined;
    const chunks: Buffer[] = [];
    const finish = (x: Exchange) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(x);
    };
    const req = http.request({
      method: "GET",
      path: STS_POLICY_PATH,
      headers: {
        Host: ctx.host,
        "User-Agent": opts.userAgent,
        Accept: "text/plain",
        Connection: "close",
      },
      maxHeaderSize: opts.maxHeaderBytes,
      // The dialer's socket, already connected and secured: no agent, no DNS, no new connection.
      createConnection: () => t,
    });
    const timer = setTimeout(() => {
      const deadline = ctx.now() >= ctx.deadlineAt - 1;
      finish({
        status: deadline ? "deadline-exceeded" : "io-timeout",
        detail: res
          ? `the response body did not end within ${timeoutMs} ms`
          : `no response within ${timeoutMs} ms`,
      });
    }, timeoutMs);
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (isParseError(e)) finish({ status: "protocol-error", detail: `${e.code}: ${e.message}` });
      else finish({ status: "io-reset", detail: e.code ? `${e.code}: ${e.message}` : e.message });
    });
    req.on("response", (r) => {
      res = r;
      const h: NonNullable<ProbeFacts["http"]> = { status: r.statusCode ?? 0, bodyBytes: 0 };
      const ct = r.headers["content-type"];
      if (typeof ct === "string") h.contentType = ct;
      const loc = r.headers.location;
      if (typeof loc === "string" && h.status >= 300 && h.status < 400) h.location = loc.slice(0, 2048);
      r.on("data", (b: Buffer) => {
        if (done) return;
        if (h.bodyBytes + b.length > opts.maxBodyBytes) {
          h.bodyBytes = opts.maxBodyBytes + 1;
          h.truncated = true;
          finish({ status: "http-response", http: h });
          return;
        }
        h.bodyBytes += b.length;
        if (h.status === 200) chunks.push(b);
      });
      r.on("end", () => {
        if (done) return;
        if (h.status === 200) h.body = Buffer.concat(chunks).toString("utf8");
        finish({ status: "http-response", http: h });
      });
      r.on("error", (e: NodeJS.ErrnoException) =>
        finish(
          isParseError(e)
            ? { status: "protocol-error", detail: `${e.code}: ${e.message}` }
            : { status: "io-reset", detail: `the response was cut: ${e.message}` },
        ),
      );
      r.on("close", () => {
        if (!r.complete)
          finish({ status: "io-reset", detail: "the connection closed before the response ended" });
      });
    });
    req.end();
  });
}
