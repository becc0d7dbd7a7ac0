/**
 * The SMTP dialogue of one probe, over a socket the dialer opened:
 * banner, EHLO (HELO only when EHLO gets 5xx), STARTTLS when offered as an
 * EHLO keyword, the TLS handshake (through the dialer), then QUIT. Never
 * MAIL, RCPT or DATA.
 *
 * runDialogue(ctx) fills ctx.facts (status, detail, banner, ehlo, starttls,
 * tls, quit, timings) and always resolves; it never rejects. Failures map to
 * statuses as follows:
 *   reply not complete within commandTimeoutMs      -> "io-timeout"
 *   peer closed or reset the connection             -> "io-reset"
 *   line/reply/byte caps, malformed reply           -> "protocol-error"
 *   banner not 220 (or not SMTP at all)             -> "banner-rejected"
 *   EHLO 4xx, or EHLO 5xx then HELO not 250         -> "ehlo-failed"
 *   no STARTTLS keyword                             -> "starttls-not-offered"
 *   STARTTLS answered with anything but 220         -> "starttls-refused"
 *   handshake error, reset, data before ClientHello -> "tls-handshake-failed"
 *   handshake not done within commandTimeoutMs      -> "tls-timeout"
 *   the whole-probe deadline (ctx.deadlineAt)       -> "deadline-exceeded"
 * Whatever was learned before the failure stays in the facts. The socket is
 * destroyed before runDialogue resolves.
 */
import type { X509Certificate } from "node:crypto";
import type net from "node:net";
import type tls from "node:tls";
import type { ProbeFacts, ProbeStatus, SigalgFamily, SmtpReply } from "@danesweep/dane";
import type { Dialer } from "./dialer.ts";
import { ehloKeywords, hasKeyword } from "./ehlo.ts";
import { type ReplyError, type ReplyLimits, ReplyParser } from "./reply.ts";

export interface DialogueOptions {
  ehloName: string;
  commandTimeoutMs: number;
  limits: ReplyLimits;
  maxChainCerts: number;
}

export interface DialogueContext {
  dialer: Dialer;
  socket: net.Socket;
  sni: string;
  /** Offer only this family of signature algorithms in the handshake (an alternate handshake). */
  offer?: SigalgFamily;
  /** Clock time (ctx.now) at which the whole probe must be over. */
  deadlineAt: number;
  now: () => number;
  opts: DialogueOptions;
  facts: ProbeFacts;
  /**
   * Given by a caller that wants the leaf certificate's key type (the prober,
   * to choose an alternate handshake): set when the handshake completed, from
   * the certificate object the chain was read from, so that it is not parsed
   * again from the facts' base64.
   */
  leaf?: LeafKey;
}

/** The key type of a handshake's leaf certificate (KeyObject.asymmetricKeyType: "ec", "rsa", ...). */
export interface LeafKey {
  keyType?: string;
}

type ReadFailure = "timeout" | "closed" | "deadline" | ReplyError;
type ReadResult =
  | { ok: true; reply: SmtpReply; ms: number }
  | { ok: false; kind: ReadFailure; detail: string };

/** Reads replies from one socket; parser errors and closes are remembered and reported in order. */
class Channel {
  sock: net.Socket | tls.TLSSocket;
  parser: ReplyParser;
  private readonly now: () => number;
  private queue: SmtpReply[] = [];
  private failed: { kind: ReadFailure; detail: string } | undefined;
  private waiter: ((r: ReadResult) => void) | undefined;
  private waitStart = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(sock: net.Socket | tls.TLSSocket, parser: ReplyParser, now: () => number) {
    this.sock = sock;
    this.parser = parser;
    this.now = now;
    this.attach(sock);
  }

  private readonly onData = (b: Buffer) => {
    const r = this.parser.feed(b);
    for (const rep of r.replies) this.queue.push(rep);
    if (r.error) this.fail(r.error, r.error);
    else this.wake();
  };
  private readonly onError = (e: NodeJS.ErrnoException) => this.fail("closed", e.code ?? String(e.message));
  private readonly onEnd = () => this.fail("closed", "connection closed by peer");
  private readonly onClose = () => this.fail("closed", "connection closed");

  attach(sock: net.Socket | tls.TLSSocket): void {
    this.sock = sock;
    sock.on("data", this.onData);
    sock.on("error", this.onError);
    sock.on("end", this.onEnd);
    sock.on("close", this.onClose);
  }

  /** Stops listening on the current socket; true when nothing unread was buffered. */
  detach(): boolean {
    const s = this.sock;
    s.removeListener("data", this.onData);
    s.removeListener("error", this.onError);
    s.removeListener("end", this.onEnd);
    s.removeListener("close", this.onClose);
    s.on("error", () => {});
    return this.queue.length === 0 && this.parser.idle() && !this.failed;
  }

  fail(kind: ReadFailure, detail: string): void {
    if (!this.failed) this.failed = { kind, detail };
    if (kind !== "closed") this.sock.destroy();
    this.wake();
  }

  /** Resolves the waiting read if there is something to give it; true when it did. */
  private wake(): boolean {
    const w = this.waiter;
    if (!w) return false;
    if (this.queue.length > 0) {
      this.settle();
      w({ ok: true, reply: this.queue.shift()!, ms: this.now() - this.waitStart });
      return true;
    }
    if (this.failed) {
      this.settle();
      w({ ok: false, ...this.failed });
      return true;
    }
    return false;
  }

  private settle(): void {
    this.waiter = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  write(line: string): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(`${line}\r\n`);
  }

  read(timeoutMs: number): Promise<ReadResult> {
    return new Promise<ReadResult>((resolve) => {
      this.waiter = resolve;
      this.waitStart = this.now();
      if (!this.wake()) {
        this.timer = setTimeout(
          () => {
            this.settle();
            resolve({ ok: false, kind: "timeout", detail: `no reply within ${timeoutMs} ms` });
          },
          Math.max(1, timeoutMs),
        );
      }
    });
  }
}

function statusOf(kind: ReadFailure): ProbeStatus {
  switch (kind) {
    case "timeout":
      return "io-timeout";
    case "closed":
      return "io-reset";
    case "deadline":
      return "deadline-exceeded";
    default:
      return "protocol-error";
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * What a finished handshake tells: version, cipher, key-exchange group and
 * the certificate chain exactly as the server sent it (leaf first, base64
 * DER), cut at `maxChainCerts` (then `chainTruncated`). Shared by the SMTP
 * probe and the MTA-STS policy fetch (https.ts). With `leaf`, also the leaf's
 * key type (left undefined when OpenSSL cannot make a key of it).
 */
export function tlsFacts(
  t: tls.TLSSocket,
  maxChainCerts: number,
  leaf?: LeafKey,
): NonNullable<ProbeFacts["tls"]> {
  const cipher = t.getCipher();
  const key = t.getEphemeralKeyInfo();
  const chain: string[] = [];
  let x = t.getPeerX509Certificate();
  if (leaf && x) leaf.keyType = keyTypeOf(x);
  while (x && chain.length < maxChainCerts) {
    chain.push(x.raw.toString("base64"));
    x = x.issuerCertificate;
  }
  const out: NonNullable<ProbeFacts["tls"]> = {
    version: t.getProtocol() ?? "unknown",
    cipher: cipher?.standardName ?? cipher?.name ?? "unknown",
    chain,
  };
  if (key && "name" in key && key.name) out.group = key.name;
  if (x) out.chainTruncated = true;
  return out;
}

function keyTypeOf(x: X509Certificate): string | undefined {
  try {
    return x.publicKey.asymmetricKeyType;
  } catch {
    return undefined;
  }
}

export async function runDialogue(ctx: DialogueContext): Promise<void> {
  const { facts, opts, now } = ctx;
  let current: net.Socket | tls.TLSSocket = ctx.socket;
  let deadlineHit = false;
  const ch = new Channel(ctx.socket, new ReplyParser(opts.limits), now);
  const deadlineTimer = setTimeout(
    () => {
      deadlineHit = true;
      ch.fail("deadline", "whole-probe deadline passed");
      current.destroy();
    },
    Math.max(1, ctx.deadlineAt - now()),
  );
  const left = () => Math.max(1, Math.min(opts.commandTimeoutMs, ctx.deadlineAt - now()));
  const fail = (status: ProbeStatus, detail: string) => {
    // A read timer cut short by the deadline (left() below) can fire just before
    // the deadline timer: a timeout at or past the deadline is the deadline's.
    if ((status === "io-timeout" || status === "tls-timeout") && now() >= ctx.deadlineAt - 1)
      deadlineHit = true;
    facts.status = deadlineHit ? "deadline-exceeded" : status;
    facts.detail = deadlineHit && status !== "deadline-exceeded" ? `deadline passed (${detail})` : detail;
  };
  const failRead = (r: { kind: ReadFailure; detail: string }, what: string) =>
    fail(statusOf(r.kind), `${what}: ${r.detail}`);
  const quit = async () => {
    ch.write("QUIT");
    const r = await ch.read(left());
    facts.quit = r.ok && r.reply.code === 221;
  };

  try {
    // banner
    const banner = await ch.read(left());
    if (!banner.ok) {
      if (banner.kind === "malformed") return fail("banner-rejected", "banner is not an SMTP reply");
      return failRead(banner, "banner");
    }
    facts.banner = banner.reply;
    facts.timings.bannerMs = round(banner.ms);
    if (banner.reply.code !== 220) {
      fail("banner-rejected", `banner code ${banner.reply.code}`);
      await quit();
      return;
    }

    // EHLO, HELO only after a 5xx
    const tEhlo = now();
    ch.write(`EHLO ${opts.ehloName}`);
    const ehlo = await ch.read(left());
    if (!ehlo.ok) return failRead(ehlo, "EHLO");
    if (ehlo.reply.code === 250) {
      facts.ehlo = { verb: "EHLO", ...ehlo.reply, keywords: ehloKeywords(ehlo.reply.lines) };
    } else if (ehlo.reply.code >= 500 && ehlo.reply.code < 600) {
      ch.write(`HELO ${opts.ehloName}`);
      const helo = await ch.read(left());
      if (!helo.ok) return failRead(helo, `HELO after EHLO ${ehlo.reply.code}`);
      facts.ehlo = { verb: "HELO", ...helo.reply, keywords: [] };
      if (helo.reply.code !== 250) {
        facts.timings.ehloMs = round(now() - tEhlo);
        fail("ehlo-failed", `EHLO ${ehlo.reply.code}, HELO ${helo.reply.code}`);
        await quit();
        return;
      }
    } else {
      facts.ehlo = { verb: "EHLO", ...ehlo.reply, keywords: [] };
      facts.timings.ehloMs = round(now() - tEhlo);
      fail("ehlo-failed", `EHLO ${ehlo.reply.code}`);
      await quit();
      return;
    }
    facts.timings.ehloMs = round(now() - tEhlo);

    // STARTTLS
    if (!hasKeyword(facts.ehlo.keywords, "STARTTLS")) {
      facts.starttls = { offered: false, accepted: false };
      fail("starttls-not-offered", `${facts.ehlo.verb} reply has no STARTTLS keyword`);
      await quit();
      return;
    }
    const tStart = now();
    ch.write("STARTTLS");
    const st = await ch.read(left());
    if (!st.ok) {
      facts.starttls = { offered: true, accepted: false };
      return failRead(st, "STARTTLS");
    }
    facts.timings.starttlsMs = round(now() - tStart);
    facts.starttls = { offered: true, reply: st.reply, accepted: st.reply.code === 220 };
    if (st.reply.code !== 220) {
      fail("starttls-refused", `STARTTLS ${st.reply.code}`);
      await quit();
      return;
    }
    if (!ch.detach()) {
      return fail("tls-handshake-failed", "server sent data after 220 and before the TLS handshake");
    }

    // TLS
    const hs = await ctx.dialer.startTls(ctx.socket, ctx.sni, left(), ctx.offer);
    facts.timings.tlsMs = round(hs.tlsMs);
    if (!hs.ok) {
      return fail(hs.status, hs.detail);
    }
    const t = hs.tls;
    current = t;
    facts.tls = tlsFacts(t, opts.maxChainCerts, ctx.leaf);
    facts.status = "tls-ok";
    // the rest of the dialogue is over TLS; what remains of the byte budget carries over
    ch.parser = new ReplyParser({
      ...opts.limits,
      maxBytes: Math.max(0, opts.limits.maxBytes - ch.parser.bytes),
    });
    ch.attach(t);
    await quit();
  } catch (e) {
    fail("internal-error", String((e as Error)?.stack ?? e));
  } finally {
    clearTimeout(deadlineTimer);
    facts.io = { bytesRead: ctx.socket.bytesRead, bytesWritten: ctx.socket.bytesWritten };
    current.destroy();
    ctx.socket.destroy();
  }
}
