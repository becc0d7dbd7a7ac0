/**
 * SMTP test servers for probe tests, the benchmark and the testbed (node:net +
 * node:tls, server side only). Each server behaves in one of SMTP_MODES:
 *   plain                 no STARTTLS keyword (the EHLO greeting and another
 *                         keyword contain "STARTTLS" as decoys)
 *   starttls              STARTTLS with the given chain (or a self-signed one);
 *                         with several keys and chains (an RSA and an ECDSA
 *                         certificate), OpenSSL picks by the client's
 *                         signature algorithms
 *   refuse-starttls       offers STARTTLS, answers it with 454
 *   garbage-tls           answers STARTTLS with 220, then sends garbage instead
 *                         of a ServerHello
 *   slow-banner           waits bannerDelayMs (default 60 s) before the banner,
 *                         then behaves as starttls
 *   endless-ehlo          answers EHLO with "250-" lines forever
 *   huge-line             the banner is one line of hugeLineBytes (default 64 MiB)
 *   reset-after-starttls  answers STARTTLS with 220, then resets the connection
 *   banner-5xx            554 banner; 503 to everything but QUIT
 *   tls12-only            starttls with TLS 1.2 at most
 *   long-chain            starttls with a chain of chainLength (default 50)
 *                         certificates when no cert is given
 *   helo-only             answers EHLO with 502 and HELO with 250 (no STARTTLS)
 *   implicit-tls          TLS from the first byte (as on port 465), then the
 *                         SMTP dialogue over TLS (benchmark baseline)
 * A banner text with "\n" in it is sent as a multi-line 220 reply.
 * With holdBanner, every mode but implicit-tls keeps each connection's banner
 * back until the test calls releaseBanners() (held() counts the connections
 * waiting): concurrency tests look at a still picture instead of sampling.
 * After TLS the server answers EHLO (no STARTTLS), NOOP, RSET and QUIT. MAIL,
 * RCPT and DATA get 503 and are logged as forbidden (a probe must never send them).
 *
 * startSmtpServer(opts) resolves once listening, with { host, port, close(),
 * connections(), open(), held(), releaseBanners(), sessions() }; it rejects when the address cannot be bound or
 * certificate generation fails. With recordFile, each accepted connection
 * appends one JSON line {at, local, remote, mode} to that file, so a test can
 * prove an address was never contacted.
 */
import { appendFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { makeCertChain } from "./certs.ts";

export const SMTP_MODES = [
  "plain",
  "starttls",
  "refuse-starttls",
  "garbage-tls",
  "slow-banner",
  "endless-ehlo",
  "huge-line",
  "reset-after-starttls",
  "banner-5xx",
  "tls12-only",
  "long-chain",
  "helo-only",
  "implicit-tls",
] as const;
export type Mode = (typeof SMTP_MODES)[number];

export interface SmtpServerOptions {
  host: string;
  port: number;
  mode: Mode;
  /** Leaf private key, PEM; several (one per certificate) for a server with an RSA and an ECDSA certificate. */
  key?: string | Buffer | (string | Buffer)[];
  /** PEM chain, leaf first; several chains (in the order of `key`) for a server with two certificates. */
  cert?: string | Buffer | (string | Buffer)[];
  /** Text after "220 " in the banner (default "<hostname> ESMTP danesweep test server"). */
  banner?: string;
  /** Name the server gives itself (default "mx.test"). */
  hostname?: string;
  bannerDelayMs?: number;
  /** Keep each banner back until releaseBanners() (not with implicit-tls). */
  holdBanner?: boolean;
  hugeLineBytes?: number;
  chainLength?: number;
  recordFile?: string;
}

export interface SessionLog {
  remote: string;
  /** Date.now() when the connection was accepted. */
  acceptedAt: number;
  /** Command verbs received, in order (uppercased). */
  commands: string[];
  /** MAIL, RCPT or DATA received. */
  forbidden: boolean;
  tls: boolean;
  /** SNI the client sent, when TLS was started. */
  servername?: string;
}

export interface SmtpServerHandle {
  host: string;
  port: number;
  close(): Promise<void>;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections open now. */
  open(): number;
  /** Connections whose banner is held back (holdBanner). */
  held(): number;
  /** Sends the banner of every connection held back now; returns how many. */
  releaseBanners(): number;
  /** The last 1000 sessions, oldest first. */
  sessions(): SessionLog[];
}

const TLS_MODES = new Set<Mode>([
  "starttls",
  "refuse-starttls",
  "garbage-tls",
  "slow-banner",
  "reset-after-starttls",
  "tls12-only",
  "long-chain",
  "implicit-tls",
]);

const MAX_COMMAND = 4096;

export async function startSmtpServer(opts: SmtpServerOptions): Promise<SmtpServerHandle> {
  if (!SMTP_MODES.includes(opts.mode)) throw new TypeError(`unknown mode ${String(opts.mode)}`);
  const hostname = opts.hostname ?? "mx.test";
  let secureContext: tls.SecureContext | undefined;
  if (TLS_MODES.has(opts.mode)) {
    let key = opts.key;
    let cert = opts.cert;
    if (!key || !cert) {
      const made = makeCertChain({
        length: opts.mode === "long-chain" ? (opts.chainLength ?? 50) : 1,
        names: [hostname],
      });
      key = made.key;
      cert = made.cert;
    }
    secureContext = tls.createSecureContext({
      key,
      cert,
      ...(opts.mode === "tls12-only" ? { maxVersion: "TLSv1.2" as const } : {}),
    });
  }
  let count = 0;
  const logs: SessionLog[] = [];
  const open = new Set<net.Socket>();
  const held = new Map<net.Socket, () => void>();

  const server = net.createServer((sock) => {
    count++;
    open.add(sock);
    sock.on("close", () => open.delete(sock));
    sock.on("error", () => {});
    const log: SessionLog = {
      remote: `${sock.remoteAddress}:${sock.remotePort}`,
      acceptedAt: Date.now(),
      commands: [],
      forbidden: false,
      tls: false,
    };
    logs.push(log);
    if (logs.length > 1000) logs.shift();
    if (opts.recordFile) {
      appendFileSync(
        opts.recordFile,
        `${JSON.stringify({
          at: new Date().toISOString(),
          local: `${sock.localAddress}:${sock.localPort}`,
          remote: log.remote,
          mode: opts.mode,
        })}\n`,
      );
    }
    serve(sock, log);
  });

  function serve(sock: net.Socket, log: SessionLog): void {
    let io: net.Socket | tls.TLSSocket = sock;
    let buf = "";
    let timer: NodeJS.Timeout | undefined;
    sock.on("close", () => clearTimeout(timer));
    const say = (lines: string[]) => {
      if (io.writable) io.write(lines.map((l) => `${l}\r\n`).join(""));
    };
    const reply = (code: number, texts: string[]) =>
      say(texts.map((t, i) => `${code}${i === texts.length - 1 ? " " : "-"}${t}`));

    const pump = (chunks: () => string | undefined) => {
      const go = () => {
        for (;;) {
          if (io.destroyed) return;
          const c = chunks();
          if (c === undefined) return;
          if (!io.write(c)) {
            io.once("drain", go);
            return;
          }
        }
      };
      go();
    };

    const onCommand = (line: string) => {
      const verb = line.split(" ")[0]!.toUpperCase();
      log.commands.push(verb);
      if (opts.mode === "banner-5xx" && verb !== "QUIT") return reply(503, ["5.5.1 no SMTP service here"]);
      switch (verb) {
        case "EHLO": {
          if (opts.mode === "helo-only") return reply(502, ["5.5.2 EHLO not implemented"]);
          if (opts.mode === "endless-ehlo") {
            let n = 0;
            say([`250-${hostname} hello`]);
            return pump(() => `250-X-FILLER-${n++} ${"y".repeat(40)}\r\n`);
          }
          const kws = ["PIPELINING", "SIZE 10240000"];
          if (!log.tls && TLS_MODES.has(opts.mode)) kws.push("STARTTLS");
          if (opts.mode === "plain") kws.push("X-STARTTLS-DECOY");
          kws.push("8BITMIME");
          const greet = opts.mode === "plain" ? `${hostname} hello (no STARTTLS here)` : `${hostname} hello`;
          return reply(250, [greet, ...kws]);
        }
        case "HELO":
          return reply(250, [hostname]);
        case "STARTTLS": {
          if (log.tls || !TLS_MODES.has(opts.mode)) return reply(502, ["5.5.1 STARTTLS not available"]);
          if (opts.mode === "refuse-starttls")
            return reply(454, ["4.7.0 TLS not available due to local problem"]);
          say(["220 2.0.0 Ready to start TLS"]);
          if (opts.mode === "garbage-tls") {
            io.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            return;
          }
          if (opts.mode === "reset-after-starttls") {
            io.write("", () => sock.resetAndDestroy());
            return;
          }
          return upgrade();
        }
        case "MAIL":
        case "RCPT":
        case "DATA":
          log.forbidden = true;
          return reply(503, ["5.5.1 this test server takes no mail"]);
        case "NOOP":
        case "RSET":
          return reply(250, ["2.0.0 OK"]);
        case "QUIT":
          reply(221, ["2.0.0 Bye"]);
          io.end();
          return;
        default:
          return reply(502, ["5.5.2 command not recognised"]);
      }
    };

    const onData = (chunk: Buffer) => {
      const src = io;
      buf += chunk.toString("latin1");
      for (;;) {
        const lf = buf.indexOf("\n");
        if (lf < 0) break;
        const line = buf.slice(0, lf).replace(/\r$/, "");
        buf = buf.slice(lf + 1);
        onCommand(line);
        if (io !== src) return; // upgraded: what follows belongs to TLS
      }
      if (buf.length > MAX_COMMAND) {
        reply(500, ["5.5.2 line too long"]);
        io.destroy();
      }
    };

    const upgrade = () => {
      sock.removeListener("data", onData);
      buf = ""; // never act on commands pipelined before the handshake
      log.tls = true;
      const t = new tls.TLSSocket(sock, { isServer: true, secureContext });
      t.on("error", () => {});
      t.on("secure", () => {
        const sn = (t as tls.TLSSocket & { servername?: string | false }).servername;
        if (typeof sn === "string") log.servername = sn;
      });
      io = t;
      t.on("data", onData);
    };

    const banner = () => {
      if (opts.mode === "banner-5xx") return reply(554, [`5.3.2 ${hostname} no SMTP service here`]);
      if (opts.mode === "huge-line") {
        let left = opts.hugeLineBytes ?? 64 * 1024 * 1024;
        const block = "x".repeat(65536);
        io.write("220 ");
        return pump(() => {
          if (left <= 0) return undefined;
          const c = left >= block.length ? block : block.slice(0, left);
          left -= c.length;
          return left <= 0 ? `${c}\r\n` : c;
        });
      }
      reply(220, (opts.banner ?? `${hostname} ESMTP danesweep test server`).split("\n"));
    };

    if (opts.mode === "implicit-tls") {
      upgrade();
      banner();
      return;
    }
    sock.on("data", onData);
    if (opts.holdBanner) {
      held.set(sock, banner);
      sock.on("close", () => held.delete(sock));
    } else if (opts.mode === "slow-banner") timer = setTimeout(banner, opts.bannerDelayMs ?? 60_000);
    else banner();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return {
    host: opts.host,
    port: addr.port,
    connections: () => count,
    open: () => open.size,
    held: () => held.size,
    releaseBanners: () => {
      const now = [...held.values()];
      held.clear();
      for (const send of now) send();
      return now.length;
    },
    sessions: () => logs.slice(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export { type CertChain, type ChainOptions, makeCertChain } from "./certs.ts";
