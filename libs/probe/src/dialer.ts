/**
 * The dialer: the only place in danesweep that opens a socket to a target
 * (net.connect) or starts TLS on one (tls.connect).
 *
 * - new Dialer(opts) holds a Guard (guard.ts): the policy (non-public
 *   addresses refused unless allowPrivate; the opt-out list) and the limiter
 *   (per-IP rate and concurrency, global concurrency), keyed by the host
 *   reached: an IPv6 address carrying an IPv4 address shares that IPv4
 *   address's bucket.
 * - policy(target) -> refusal | undefined: pure check, no socket. A refusal is
 *   { status: "policy-private-address" | "policy-opt-out", detail }.
 * - open(target, connectTimeoutMs) re-checks the policy (a refused target is
 *   never dialled, whoever calls), waits for admission, then connects. It
 *   resolves { ok: true, socket, release, startedAt, connectMs } or
 *   { ok: false, status, detail, startedAt?, connectMs? } with status one of
 *   the policy statuses, "connect-refused" | "connect-timeout" |
 *   "connect-reset" | "connect-unreachable", or "internal-error" (a closed
 *   dialer, fd exhaustion, an unexpected errno). release() must be called once
 *   the connection is over; on failure the dialer has released already.
 *   Never rejects.
 * - startTls(socket, sni, timeoutMs, offer?) runs the TLS client handshake over an
 *   open socket (STARTTLS) with SNI set to `sni` (omitted when `sni` is an IP
 *   literal or empty) and without certificate verification (DANE
 *   authentication happens later, from the recorded chain). Every handshake
 *   uses one of three TLS contexts, made once by the constructor from the
 *   `tls` options and the key-exchange `groups` (making one per connection
 *   cost as much CPU as the handshake itself): the default one offers every
 *   signature algorithm (ECDSA first, as OpenSSL orders them); with `offer`
 *   "ecdsa" or "rsa" only that family's signature algorithms (SIGALGS) and,
 *   for TLS 1.2, only cipher suites authenticated by that key type, so a
 *   server holding both kinds of certificate must present the other one. The
 *   constructor throws DialerConfigError (field "groups" or "tls") when
 *   OpenSSL refuses them. Resolves
 *   { ok: true, tls, tlsMs } or { ok: false, status: "tls-handshake-failed" |
 *   "tls-timeout", detail }. Never rejects; on failure the TLS socket is destroyed.
 * - classifyConnectError(code) maps an errno code to a connect status (pure).
 */
import net from "node:net";
import tls from "node:tls";
import { parseIp, type SigalgFamily } from "@danesweep/dane";
import { Guard, type PolicyStatus } from "./guard.ts";
import type { Limiter } from "./limiter.ts";
import type { OptOutList } from "./optout.ts";

export type ConnectStatus = "connect-refused" | "connect-timeout" | "connect-reset" | "connect-unreachable";
export type { PolicyStatus };

export interface DialTarget {
  ip: string;
  port: number;
  sni?: string;
  mxHost?: string;
  domain?: string;
}

export interface DialerOptions {
  allowPrivate: boolean;
  /**
   * Key-exchange groups offered in the ClientHello, in order (OpenSSL list,
   * ":"-separated); the client sends a key share for the first. Default
   * DEFAULT_GROUPS.
   */
  groups?: string;
  /** Extra node:tls client options (e.g. minVersion, ciphers); socket, servername, rejectUnauthorized and secureContext are the dialer's. */
  tls?: tls.ConnectionOptions;
  optOut: OptOutList | undefined;
  perIpRate: number;
  perIpBurst: number;
  perIpConcurrency: number;
  globalConcurrency: number;
  now: () => number;
}

export type OpenResult =
  | { ok: true; socket: net.Socket; release: () => void; startedAt: number; connectMs: number }
  | {
      ok: false;
      status: ConnectStatus | PolicyStatus | "internal-error";
      detail: string;
      startedAt?: number;
      connectMs?: number;
    };

export type TlsResult =
  | { ok: true; tls: tls.TLSSocket; tlsMs: number }
  | { ok: false; status: "tls-handshake-failed" | "tls-timeout"; detail: string; tlsMs: number };

const UNREACHABLE = new Set([
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "EADDRNOTAVAIL",
  "EAFNOSUPPORT",
]);

export function classifyConnectError(code: string | undefined): ConnectStatus | "internal-error" {
  if (code === "ECONNREFUSED") return "connect-refused";
  if (code === "ETIMEDOUT") return "connect-timeout";
  if (code === "ECONNRESET" || code === "ECONNABORTED" || code === "EPIPE") return "connect-reset";
  if (code !== undefined && UNREACHABLE.has(code)) return "connect-unreachable";
  return "internal-error";
}

/**
 * Classical groups only, the cheapest first: X25519, then the NIST curves
 * (P-256, P-384, P-521) and X448, as a Postfix client offers them. The hybrid
 * post-quantum X25519MLKEM768 is not offered by default: it makes the
 * handshake costlier for the servers we scan (a 1.2 KB key share each way and
 * ML-KEM on their CPU), and an OpenSSL 3.5 server that sees it anywhere in the
 * list asks for its key share again (HelloRetryRequest), so it cannot be
 * offered "last, just in case". Pass `groups` (e.g. "X25519MLKEM768:X25519:P-256")
 * to measure post-quantum support.
 */
export const DEFAULT_GROUPS = "X25519:P-256:X448:P-384:P-521";

/**
 * Signature algorithms (TLS 1.2 and 1.3 names, OpenSSL's list syntax) and
 * TLS 1.2 cipher suites of a handshake restricted to one key type.
 */
export const SIGALGS: Record<SigalgFamily, { sigalgs: string; ciphers: string }> = {
  ecdsa: {
    sigalgs: "ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512",
    ciphers: "aECDSA",
  },
  rsa: {
    sigalgs:
      "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:rsa_pss_pss_sha256:rsa_pss_pss_sha384:" +
      "rsa_pss_pss_sha512:rsa_pkcs1_sha256:rsa_pkcs1_sha384:rsa_pkcs1_sha512",
    ciphers: "aRSA",
  },
};

export class DialerConfigError extends Error {
  readonly code = "invalid-option" as const;
  readonly field: "groups" | "tls";
  constructor(field: "groups" | "tls", detail: string) {
    super(`invalid-option: ${field}: ${detail}`);
    this.field = field;
  }
}

export class Dialer {
  private readonly o: DialerOptions;
  private readonly guard: Guard;
  private readonly secureContext: tls.SecureContext;
  /** Contexts offering one family of signature algorithms only (made on first use). */
  private readonly restricted = new Map<SigalgFamily, tls.SecureContext>();
  private readonly groups: string;
  private readonly connectOptions: tls.ConnectionOptions;

  constructor(o: DialerOptions) {
    this.o = o;
    this.guard = new Guard(o);
    const groups = o.groups ?? DEFAULT_GROUPS;
    try {
      tls.createSecureContext({ ecdhCurve: groups });
    } catch (e) {
      throw new DialerConfigError("groups", String((e as Error)?.message ?? e));
    }
    this.groups = groups;
    try {
      this.secureContext = tls.createSecureContext({ ...o.tls, ecdhCurve: groups });
      for (const family of Object.keys(SIGALGS) as SigalgFamily[]) this.contextFor(family);
    } catch (e) {
      throw new DialerConfigError("tls", String((e as Error)?.message ?? e));
    }
    this.connectOptions = { ...o.tls };
  }

  private contextFor(family: SigalgFamily): tls.SecureContext {
    let c = this.restricted.get(family);
    if (!c) {
      const { sigalgs, ciphers } = SIGALGS[family];
      c = tls.createSecureContext({
        ...this.o.tls,
        ecdhCurve: this.groups,
        sigalgs,
        ciphers,
      });
      this.restricted.set(family, c);
    }
    return c;
  }

  policy(t: DialTarget): { status: PolicyStatus; detail: string } | undefined {
    return this.guard.refusal(t);
  }

  stats(): ReturnType<Limiter["stats"]> {
    return this.guard.stats();
  }

  /** Refuses further admissions; sockets already open are the caller's to close. */
  close(): void {
    this.guard.close();
  }

  async open(t: DialTarget, connectTimeoutMs: number): Promise<OpenResult> {
    const refusal = this.policy(t);
    if (refusal) return { ok: false, ...refusal };
    const addr = parseIp(t.ip)!;
    // one bucket per host: an IPv6 address carrying an IPv4 address (v4-mapped,
    // NAT64, v4-compatible) shares that IPv4 address's state
    const admission = await this.guard.admit(t.ip);
    if (!admission.ok) return { ok: false, status: "internal-error", detail: "dialer closed" };
    const startedAt = this.o.now();
    return new Promise<OpenResult>((resolve) => {
      let socket: net.Socket;
      try {
        socket = net.connect({ host: t.ip, port: t.port, family: addr.length === 4 ? 4 : 6, noDelay: true });
      } catch (e) {
        admission.release();
        resolve({
          ok: false,
          status: "internal-error",
          detail: String((e as Error)?.message ?? e),
          startedAt,
        });
        return;
      }
      let done = false;
      const finish = (r: OpenResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.removeListener("connect", onConnect);
        socket.removeListener("error", onError);
        if (!r.ok) {
          socket.on("error", () => {});
          socket.destroy();
          admission.release();
        }
        resolve(r);
      };
      const onConnect = () =>
        finish({
          ok: true,
          socket,
          release: admission.release,
          startedAt,
          connectMs: this.o.now() - startedAt,
        });
      const onError = (e: NodeJS.ErrnoException) =>
        finish({
          ok: false,
          status: classifyConnectError(e.code),
          detail: e.code ?? String(e.message),
          startedAt,
          connectMs: this.o.now() - startedAt,
        });
      const timer = setTimeout(
        () =>
          finish({
            ok: false,
            status: "connect-timeout",
            detail: `no connection within ${connectTimeoutMs} ms`,
            startedAt,
            connectMs: this.o.now() - startedAt,
          }),
        connectTimeoutMs,
      );
      socket.once("connect", onConnect);
      socket.once("error", onError);
    });
  }

  startTls(socket: net.Socket, sni: string, timeoutMs: number, offer?: SigalgFamily): Promise<TlsResult> {
    const t0 = this.o.now();
    const secureContext = offer ? this.contextFor(offer) : this.secureContext;
    return new Promise<TlsResult>((resolve) => {
      let t: tls.TLSSocket;
      const servername = sni && !parseIp(sni) ? sni : undefined;
      try {
        t = tls.connect({
          ...this.connectOptions,
          socket,
          servername,
          rejectUnauthorized: false,
          secureContext,
        });
      } catch (e) {
        resolve({
          ok: false,
          status: "tls-handshake-failed",
          detail: String((e as Error)?.message ?? e),
          tlsMs: this.o.now() - t0,
        });
        return;
      }
      let done = false;
      const finish = (r: TlsResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        t.removeListener("secureConnect", onSecure);
        t.removeListener("error", onError);
        t.removeListener("close", onClose);
        if (!r.ok) {
          t.on("error", () => {});
          t.destroy();
          socket.destroy();
        }
        resolve(r);
      };
      const onSecure = () => finish({ ok: true, tls: t, tlsMs: this.o.now() - t0 });
      const onError = (e: NodeJS.ErrnoException & { reason?: string }) => {
        const why = e.reason ?? String(e.message ?? "").split("\n")[0] ?? "";
        finish({
          ok: false,
          status: "tls-handshake-failed",
          detail: e.code ? `${e.code}: ${why}` : why,
          tlsMs: this.o.now() - t0,
        });
      };
      const onClose = () =>
        finish({
          ok: false,
          status: "tls-handshake-failed",
          detail: "connection closed during the handshake",
          tlsMs: this.o.now() - t0,
        });
      const timer = setTimeout(
        () =>
          finish({
            ok: false,
            status: "tls-timeout",
            detail: `no handshake within ${timeoutMs} ms`,
            tlsMs: this.o.now() - t0,
          }),
        timeoutMs,
      );
      t.once("secureConnect", onSecure);
      t.once("error", onError);
      t.once("close", onClose);
    });
  }
}
