/**
 * @danesweep/probe: the one guarded dialer and the STARTTLS prober.
 * Prober.probe(request) -> ProbeFacts (see prober.ts); the pure parts
 * (address classification, opt-out list, token bucket, SMTP reply parser,
 * EHLO keywords) are exported for reuse and tests. The text form of an IP
 * address is libs/dane's canonicalIp / formatIp, the one every package uses.
 */
export { type AddressClass, classifyAddress, embeddedIpv4 } from "./address.ts";
export { type BucketState, bucketIsFull, bucketTake } from "./bucket.ts";
export { classifyConnectError, DEFAULT_GROUPS, SIGALGS } from "./dialer.ts";
export { ehloKeywords, hasKeyword } from "./ehlo.ts";
export { Guard, type GuardOptions, type PolicyStatus } from "./guard.ts";
export { Fifo } from "./limiter.ts";
export {
  emptyOptOutList,
  matchOptOut,
  OPT_OUT_ERRORS,
  type OptOutError,
  type OptOutList,
  type OptOutMatch,
  parseOptOutList,
} from "./optout.ts";
export { OptOutFileError, readOptOutFile } from "./optout-file.ts";
export {
  isValidEhloName,
  type ProbeRequest,
  Prober,
  ProberConfigError,
  type ProberOptions,
  type ProberStats,
} from "./prober.ts";
export { REPLY_ERRORS, type ReplyError, type ReplyLimits, ReplyParser } from "./reply.ts";
