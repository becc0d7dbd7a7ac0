/**
 * SMTP reply parser: an incremental state machine fed bytes (no I/O).
 *
 * new ReplyParser(limits); feed(chunk) returns the replies completed by the
 * chunk, and an error code when the input broke the protocol or a limit:
 *   "line-too-long"    a line (without its CRLF) longer than maxLineBytes; raised
 *                      as soon as the buffered partial line passes the cap, so
 *                      memory stays bounded whatever the peer sends;
 *   "too-many-lines"   a reply with more than maxLinesPerReply lines;
 *   "too-many-bytes"   more than maxBytes fed in total;
 *   "malformed"        a line that does not start with a 3-digit code followed
 *                      by " ", "-" or the end of the line, or a continuation
 *                      line whose code differs from the first line's.
 * After an error the parser is dead: every later feed returns the same error
 * and no replies. Lines end with CRLF; a bare LF is accepted as the end of a
 * line. Text is decoded as UTF-8 when valid, otherwise byte for byte (latin1).
 * idle() is true when no partial reply or line is buffered (used to detect data
 * sent after "220 Ready to start TLS" and before the handshake).
 * Codes accepted: first digit 1-5, then two digits.
 */
import type { SmtpReply } from "@danesweep/dane";

export const REPLY_ERRORS = ["line-too-long", "too-many-lines", "too-many-bytes", "malformed"] as const;
export type ReplyError = (typeof REPLY_ERRORS)[number];

export interface ReplyLimits {
  maxLineBytes: number;
  maxLinesPerReply: number;
  maxBytes: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decode(b: Uint8Array): string {
  for (let i = 0; i < b.length; i++) {
    if (b[i]! >= 0x80) {
      try {
        return utf8.decode(b);
      } catch {
        return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
      }
    }
  }
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

export class ReplyParser {
  private readonly limits: ReplyLimits;
  private partial: Buffer[] = [];
  private partialLen = 0;
  private code = 0;
  private lines: string[] = [];
  private total = 0;
  private dead: ReplyError | undefined;

  constructor(limits: ReplyLimits) {
    this.limits = limits;
  }

  /** Bytes fed so far. */
  get bytes(): number {
    return this.total;
  }

  idle(): boolean {
    return this.partialLen === 0 && this.lines.length === 0;
  }

  feed(chunk: Uint8Array): { replies: SmtpReply[]; error?: ReplyError } {
    const replies: SmtpReply[] = [];
    if (this.dead) return { replies, error: this.dead };
    this.total += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      if (lf < 0) {
        const rest = chunk.subarray(start);
        // the cap counts line bytes without CRLF; a pending CR may still come
        if (this.partialLen + rest.length > this.limits.maxLineBytes + 1)
          return this.fail("line-too-long", replies);
        this.partial.push(Buffer.from(rest));
        this.partialLen += rest.length;
        break;
      }
      let line: Uint8Array;
      if (this.partialLen === 0) {
        line = chunk.subarray(start, lf);
      } else {
        this.partial.push(Buffer.from(chunk.subarray(start, lf)));
        line = Buffer.concat(this.partial, this.partialLen + (lf - start));
        this.partial = [];
        this.partialLen = 0;
      }
      start = lf + 1;
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      if (line.length > this.limits.maxLineBytes) return this.fail("line-too-long", replies);
      const err = this.line(line, replies);
      if (err) return this.fail(err, replies);
    }
    if (this.total > this.limits.maxBytes) return this.fail("too-many-bytes", replies);
    return { replies };
  }

  private line(line: Uint8Array, out: SmtpReply[]): ReplyError | undefined {
    if (line.length < 3) return "malformed";
    const d0 = line[0]! - 0x30;
    const d1 = line[1]! - 0x30;
    const d2 = line[2]! - 0x30;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return "malformed";
    const code = d0 * 100 + d1 * 10 + d2;
    let last: boolean;
    if (line.length === 3) last = true;
    else if (line[3] === 0x20) last = true;
    else if (line[3] === 0x2d) last = false;
    else return "malformed";
    if (this.lines.length > 0 && code !== this.code) return "malformed";
    if (this.lines.length >= this.limits.maxLinesPerReply) return "too-many-lines";
    this.code = code;
    this.lines.push(line.length > 4 ? decode(line.subarray(4)) : "");
    if (last) {
      out.push({ code, lines: this.lines });
      this.lines = [];
      this.code = 0;
    }
    return undefined;
  }

  private fail(error: ReplyError, replies: SmtpReply[]): { replies: SmtpReply[]; error: ReplyError } {
    this.dead = error;
    this.partial = [];
    this.partialLen = 0;
    this.lines = [];
    return { replies, error };
  }
}
