/**
 * Prober: STARTTLS probes of MX host addresses, and MTA-STS policy fetches
 * from policy hosts, recorded as ProbeFacts.
 *
 * - new Prober(opts) validates its options and throws a ProberConfigError
 *   (code "invalid-option", with the offending field) when one is out of range
 *   or OpenSSL refuses the key-exchange `groups` or the `tls` options;
 *   that is the only throw, at construction. `isValidEhloName` is its test of
 *   the EHLO name, for callers that validate options earlier (the CLI).
 * - probe(req) always resolves with ProbeFacts, never rejects (with kind
 *   "mta-sts-policy" it fetches the MTA-STS policy over HTTPS instead of the
 *   SMTP dialogue: https.ts; same admission, policy checks and deadline):
 *   a request whose ip is not a public address (unless allowPrivate) resolves
 *   "policy-private-address", one on the opt-out list "policy-opt-out", both
 *   without any socket; an invalid port resolves "internal-error". Otherwise
 *   the probe waits for admission (per-IP rate and concurrency, global
 *   concurrency), then runs the dialogue (session.ts) within the deadline.
 *   The facts' ip is the request's in the one canonical text (libs/dane
 *   canonicalIp), the form the DNS decoder writes A and AAAA records in, so
 *   the facts of a probe requested from DNS facts carry the requested key
 *   exactly ("::ffff:7f00:1" is never stored for "::ffff:127.0.0.1").
 *   Concurrent requests with the same (ip, port, SNI) share one probe and get
 *   the same facts object (treat it as read-only); the policy check is made per
 *   request first, so an opted-out domain never rides along.
 * - With `alternates: true` (a DANE host: the resolver knows), a probe whose
 *   first handshake completed and suggests a second key makes one more
 *   STARTTLS session offering only the other family of signature algorithms
 *   (dialer.ts SIGALGS), recorded in `facts.alternates`: after an ECDSA (or
 *   EdDSA) leaf, RSA only; after an RSA leaf under TLS 1.2 or older (the
 *   server may have chosen it for the cipher suite), ECDSA only; after an
 *   RSA leaf under TLS 1.3 nothing (ECDSA was offered first, and a server
 *   with an ECDSA certificate would have used it). The second session goes
 *   through the same dialer: the per-IP bucket and caps, EHLO, QUIT.
 * - stats() gives counters for monitoring.
 * - close() refuses new probes and probes still waiting for admission
 *   ("internal-error", detail "prober closed"), lets probes already connected
 *   finish (each is bounded by its deadline), and resolves when all settled.
 */
import type { ConnectionOptions } from "node:tls";
import {
  type AlternateHandshake,
  canonicalIp,
  FACTS_SCHEMA_VERSION,
  PROBE_STATUSES,
  type ProbeFacts,
  type ProbeKind,
  type ProbeStatus,
  parseIp,
  probeKeyString,
  type SigalgFamily,
} from "@danesweep/dane";
import { DEFAULT_GROUPS, Dialer, DialerConfigError } from "./dialer.ts";
import { runPolicyFetch } from "./https.ts";
import { normalizeName, type OptOutList } from "./optout.ts";
import { type LeafKey, runDialogue } from "./session.ts";

export interface ProberOptions {
  /** Contact non-public addresses (testbeds only; CLI --allow-private). */
  allowPrivate?: boolean;
  optOut?: OptOutList;
  /** Name sent in EHLO/HELO: a host name or an address literal "[192.0.2.1]". */
  ehloName: string;
  /** New connections per second per destination IP (default 1). */
  perIpRate?: number;
  /** Token bucket size per destination IP (default 2). */
  perIpBurst?: number;
  /** Connections at once per destination IP (default 2). */
  perIpConcurrency?: number;
  /** Connections at once overall (default 500). */
  globalConcurrency?: number;
  /** Default 10000. */
  connectTimeoutMs?: number;
  /** Time allowed for each reply and for the TLS handshake (default 30000). */
  commandTimeoutMs?: number;
  /** Whole probe, from the start of the connection (default 60000). */
  deadlineMs?: number;
  /** Longest reply line accepted, without CRLF (default 2048). */
  maxLineBytes?: number;
  /** Most lines in one reply (default 100). */
  maxLinesPerReply?: number;
  /** Most SMTP reply bytes read in one probe, before and after TLS (default 262144). */
  maxBytesRead?: number;
  /** Most certificates recorded from the chain (default 20); more sets chainTruncated. */
  maxChainCerts?: number;
  /** MTA-STS policy fetches: most body bytes read (default 65536); more sets http.truncated. */
  maxPolicyBytes?: number;
  /** Clock in milliseconds since the epoch (default: performance.timeOrigin + performance.now()). */
  now?: () => number;
  /**
   * Key-exchange groups offered, in order (OpenSSL list, ":"-separated; a key
   * share is sent for the first). Default DEFAULT_GROUPS: classical only,
   * X25519 first (dialer.ts says why the hybrid post-quantum group is left out).
   */
  groups?: string;
  /** Extra node:tls client options (e.g. minVersion, ciphers); socket, servername, rejectUnauthorized and the TLS context are the dialer's. */
  tls?: ConnectionOptions;
}

export interface ProbeRequest {
  ip: string;
  port: number;
  /** The TLSA base domain, sent as SNI. */
  sni: string;
  mxHost: string;
  /** A mail domain the probe is made for (checked against the opt-out list). */
  domain?: string;
  /** "mta-sts-policy": fetch the domain's MTA-STS policy (mxHost and sni are the policy host); default the SMTP probe. */
  kind?: ProbeKind;
  /** Look for a second certificate (a DANE host; SMTP probes only): see the file comment. */
  alternates?: boolean;
}

export interface ProberStats {
  /** Probes admitted and running (connecting, talking). */
  active: number;
  /** Probes waiting for admission (per-IP slot, global slot, or a token). */
  waiting: number;
  /** Distinct (ip, port, SNI) probes under way. */
  inFlight: number;
  /** Requests answered by joining a probe already under way. */
  shared: number;
  /** Probes finished, by status (policy refusals included). */
  byStatus: Record<ProbeStatus, number>;
  /** Destination IPs the limiter holds state for. */
  trackedIps: number;
}

export class ProberConfigError extends Error {
  readonly code = "invalid-option" as const;
  readonly field: string;
  constructor(field: string) {
    super(`invalid-option: ${field}`);
    this.field = field;
  }
}

const EHLO_NAME =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/**
 * An RFC 5321 section 4.1.3 address literal: "[192.0.2.1]" or
 * "[IPv6:2001:db8::1]" (the tag is required for IPv6), the address read by
 * libs/dane parseIp, the project's one reader of IP text (no zone).
 */
function isAddressLiteral(name: string): boolean {
  const m = /^\[(IPv6:)?([^\]%]+)\]$/i.exec(name);
  if (!m) return false;
  const b = parseIp(m[2] as string);
  return b !== undefined && b.length === (m[1] ? 16 : 4);
}

/** Whether `name` may be sent in EHLO/HELO: a host name, or an address literal "[192.0.2.1]", at most 255 characters. */
export function isValidEhloName(name: unknown): name is string {
  return typeof name === "string" && name.length <= 255 && (EHLO_NAME.test(name) || isAddressLiteral(name));
}

interface Resolved {
  allowPrivate: boolean;
  optOut: OptOutList | undefined;
  ehloName: string;
  perIpRate: number;
  perIpBurst: number;
  perIpConcurrency: number;
  globalConcurrency: number;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  deadlineMs: number;
  maxLineBytes: number;
  maxLinesPerReply: number;
  maxBytesRead: number;
  maxChainCerts: number;
  maxPolicyBytes: number;
  now: () => number;
  groups: string;
  tls: ConnectionOptions;
}

function resolveOptions(o: ProberOptions): Resolved {
  const num = (
    field: keyof ProberOptions,
    v: number | undefined,
    dflt: number,
    min: number,
    int: boolean,
  ) => {
    const x = v ?? dflt;
    if (typeof x !== "number" || !Number.isFinite(x) || x < min || (int && !Number.isInteger(x))) {
      throw new ProberConfigError(field);
    }
    return x;
  };
  if (!isValidEhloName(o?.ehloName)) throw new ProberConfigError("ehloName");
  if (o.groups !== undefined && (typeof o.groups !== "string" || !/^[A-Za-z0-9_:-]+$/.test(o.groups))) {
    throw new ProberConfigError("groups");
  }
  return {
    allowPrivate: o.allowPrivate === true,
    optOut: o.optOut,
    ehloName: o.ehloName,
    perIpRate: num("perIpRate", o.perIpRate, 1, Number.MIN_VALUE, false),
    perIpBurst: num("perIpBurst", o.perIpBurst, 2, 1, false),
    perIpConcurrency: num("perIpConcurrency", o.perIpConcurrency, 2, 1, true),
    globalConcurrency: num("globalConcurrency", o.globalConcurrency, 500, 1, true),
    connectTimeoutMs: num("connectTimeoutMs", o.connectTimeoutMs, 10_000, 1, false),
    commandTimeoutMs: num("commandTimeoutMs", o.commandTimeoutMs, 30_000, 1, false),
    deadlineMs: num("deadlineMs", o.deadlineMs, 60_000, 1, false),
    maxLineBytes: num("maxLineBytes", o.maxLineBytes, 2048, 16, true),
    maxLinesPerReply: num("maxLinesPerReply", o.maxLinesPerReply, 100, 1, true),
    maxBytesRead: num("maxBytesRead", o.maxBytesRead, 262_144, 64, true),
    maxChainCerts: num("maxChainCerts", o.maxChainCerts, 20, 1, true),
    maxPolicyBytes: num("maxPolicyBytes", o.maxPolicyBytes, 65_536, 1, true),
    now: o.now ?? (() => performance.timeOrigin + performance.now()),
    groups: o.groups ?? o.tls?.ecdhCurve ?? DEFAULT_GROUPS,
    tls: o.tls ?? {},
  };
}

function emptyByStatus(): Record<ProbeStatus, number> {
  return Object.fromEntries(PROBE_STATUSES.map((s) => [s, 0])) as Record<ProbeStatus, number>;
}

export class Prober {
  private readonly o: Resolved;
  private readonly dialer: Dialer;
  private readonly inflight = new Map<string, Promise<ProbeFacts>>();
  private readonly byStatus = emptyByStatus();
  private shared = 0;
  private active = 0;
  private closed = false;

  constructor(opts: ProberOptions) {
    this.o = resolveOptions(opts);
    try {
      this.dialer = new Dialer(this.o);
    } catch (e) {
      if (e instanceof DialerConfigError) throw new ProberConfigError(e.field);
      throw e;
    }
  }

  probe(req: ProbeRequest): Promise<ProbeFacts> {
    const ip = canonicalIp(String(req?.ip ?? "")) ?? String(req?.ip ?? "");
    const port = req?.port;
    const rawSni = String(req?.sni ?? "");
    const sni = normalizeName(rawSni) ?? rawSni.toLowerCase();
    const target = { ip, port, sni, mxHost: req?.mxHost, domain: req?.domain };
    const policyFetch = req?.kind === "mta-sts-policy";
    const base = (): ProbeFacts => ({
      schema: FACTS_SCHEMA_VERSION,
      ...(policyFetch ? { kind: "mta-sts-policy" as const } : {}),
      ip,
      port: typeof port === "number" ? port : 0,
      sni,
      status: "internal-error",
      timings: { totalMs: 0 },
      startedAt: new Date(this.o.now()).toISOString(),
    });
    const done = (f: ProbeFacts) => {
      this.byStatus[f.status]++;
      return f;
    };
    if (this.closed) return Promise.resolve(done({ ...base(), detail: "prober closed" }));
    const refusal = this.dialer.policy(target);
    if (refusal) return Promise.resolve(done({ ...base(), ...refusal }));
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return Promise.resolve(done({ ...base(), detail: "invalid request: port" }));
    }
    const key = probeKeyString({ ip, port, sni });
    const running = this.inflight.get(key);
    if (running) {
      this.shared++;
      return running;
    }
    const alternates = req?.alternates === true && !policyFetch;
    const leaf: LeafKey | undefined = alternates ? {} : undefined;
    const p = this.run(target, base(), undefined, leaf)
      .then((f) => (leaf ? this.alternates(target, f, leaf) : f))
      .then(done);
    this.inflight.set(key, p);
    void p.finally(() => this.inflight.delete(key));
    return p;
  }

  private async run(
    t: { ip: string; port: number; sni: string },
    facts: ProbeFacts,
    offer?: SigalgFamily,
    leaf?: LeafKey,
  ): Promise<ProbeFacts> {
    const o = this.o;
    try {
      const conn = await this.dialer.open(t, Math.min(o.connectTimeoutMs, o.deadlineMs));
      const startedAt = conn.startedAt ?? o.now();
      facts.startedAt = new Date(startedAt).toISOString();
      if (conn.connectMs !== undefined) facts.timings.connectMs = Math.round(conn.connectMs * 100) / 100;
      if (!conn.ok) {
        facts.status = conn.status;
        facts.detail = this.closed && conn.status === "internal-error" ? "prober closed" : conn.detail;
        facts.timings.totalMs = Math.round((o.now() - startedAt) * 100) / 100;
        return facts;
      }
      this.active++;
      try {
        if (facts.kind === "mta-sts-policy") {
          await runPolicyFetch({
            dialer: this.dialer,
            socket: conn.socket,
            host: t.sni,
            deadlineAt: startedAt + o.deadlineMs,
            now: o.now,
            facts,
            opts: {
              timeoutMs: o.commandTimeoutMs,
              maxBodyBytes: o.maxPolicyBytes,
              maxHeaderBytes: 8192,
              maxChainCerts: o.maxChainCerts,
              userAgent: `danesweep (MTA-STS policy check; scanner ${o.ehloName})`,
            },
          });
        } else {
          await runDialogue({
            dialer: this.dialer,
            socket: conn.socket,
            sni: t.sni,
            ...(offer ? { offer } : {}),
            ...(leaf ? { leaf } : {}),
            deadlineAt: startedAt + o.deadlineMs,
            now: o.now,
            facts,
            opts: {
              ehloName: o.ehloName,
              commandTimeoutMs: o.commandTimeoutMs,
              limits: {
                maxLineBytes: o.maxLineBytes,
                maxLinesPerReply: o.maxLinesPerReply,
                maxBytes: o.maxBytesRead,
              },
              maxChainCerts: o.maxChainCerts,
            },
          });
        }
      } finally {
        this.active--;
        conn.release();
      }
      facts.timings.totalMs = Math.round((o.now() - startedAt) * 100) / 100;
      return facts;
    } catch (e) {
      facts.status = "internal-error";
      facts.detail = String((e as Error)?.stack ?? e);
      return facts;
    }
  }

  /**
   * The alternate handshake a first one suggests (see the file comment), from
   * its version and its leaf certificate's key type (runDialogue's `leaf`).
   */
  static alternateFor(version: string, type: string | undefined): SigalgFamily | undefined {
    if (type === "ec" || type === "ed25519" || type === "ed448") return "rsa";
    if ((type === "rsa" || type === "rsa-pss") && version !== "TLSv1.3") return "ecdsa";
    return undefined;
  }

  private async alternates(
    t: { ip: string; port: number; sni: string },
    facts: ProbeFacts,
    leaf: LeafKey,
  ): Promise<ProbeFacts> {
    if (facts.status !== "tls-ok" || !facts.tls || this.closed) return facts;
    const offer = Prober.alternateFor(facts.tls.version, leaf.keyType);
    if (!offer) return facts;
    const scratch: ProbeFacts = { ...facts, status: "internal-error", timings: { totalMs: 0 } };
    delete scratch.tls;
    delete scratch.detail;
    const r = await this.run(t, scratch, offer);
    const alt: AlternateHandshake = {
      offered: offer,
      status: r.status,
      timings: { totalMs: r.timings.totalMs },
    };
    if (r.timings.tlsMs !== undefined) alt.timings.tlsMs = r.timings.tlsMs;
    if (r.detail !== undefined) alt.detail = r.detail;
    if (r.tls) alt.tls = r.tls;
    facts.alternates = [alt];
    return facts;
  }

  stats(): ProberStats {
    const l = this.dialer.stats();
    return {
      active: this.active,
      waiting: l.waitingIp + l.waitingGlobal + l.waitingToken,
      inFlight: this.inflight.size,
      shared: this.shared,
      byStatus: { ...this.byStatus },
      trackedIps: l.trackedIps,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.dialer.close();
    await Promise.allSettled([...this.inflight.values()]);
  }
}
