/**
 * The politeness every contact with a target's server goes through, in one
 * place: the SMTP dialer (dialer.ts) and the authoritative DNS client
 * (libs/dns authoritative.ts) each hold one.
 *
 * - new Guard(opts): the policy (non-public addresses refused unless
 *   allowPrivate, address.ts classifyAddress; the opt-out list, optout.ts
 *   matchOptOut) and a Limiter (limiter.ts: per-IP rate and concurrency,
 *   global concurrency).
 * - refusal(target) -> { status, detail } | undefined: pure, no I/O. status
 *   "policy-private-address" (with the range) or "policy-opt-out" (with the
 *   entry).
 * - admit(ip) waits for admission to contact `ip`; the per-IP state is keyed
 *   by the host really reached (an IPv6 address carrying an IPv4 address,
 *   address.ts embeddedIpv4, shares that IPv4 address's bucket). Resolves
 *   { ok: true, release } or { ok: false } once closed; never rejects. It
 *   does not check the policy: callers call refusal() first.
 * - stats(), close(): the limiter's.
 */
import { formatIp, parseIp } from "@danesweep/dane";
import { classifyAddress, embeddedIpv4 } from "./address.ts";
import { type Admission, Limiter, type LimiterOptions } from "./limiter.ts";
import { matchOptOut, type OptOutList, type OptOutTarget } from "./optout.ts";

export type PolicyStatus = "policy-private-address" | "policy-opt-out";

export interface GuardOptions extends LimiterOptions {
  allowPrivate: boolean;
  optOut: OptOutList | undefined;
}

export class Guard {
  private readonly o: GuardOptions;
  private readonly limiter: Limiter;

  constructor(o: GuardOptions) {
    this.o = o;
    this.limiter = new Limiter(o);
  }

  refusal(t: OptOutTarget): { status: PolicyStatus; detail: string } | undefined {
    const cls = classifyAddress(t.ip);
    if (!cls.public && (!this.o.allowPrivate || cls.range === "invalid")) {
      return { status: "policy-private-address", detail: `${cls.range} address` };
    }
    if (this.o.optOut) {
      const m = matchOptOut(this.o.optOut, t);
      if (m) return { status: "policy-opt-out", detail: `opt-out ${m.kind} entry "${m.entry}"` };
    }
    return undefined;
  }

  admit(ip: string): Promise<Admission> {
    const addr = parseIp(ip);
    if (!addr) return Promise.resolve({ ok: false, reason: "closed" });
    return this.limiter.acquire(formatIp(embeddedIpv4(addr)[0] ?? addr));
  }

  stats(): ReturnType<Limiter["stats"]> {
    return this.limiter.stats();
  }

  close(): void {
    this.limiter.close();
  }
}
