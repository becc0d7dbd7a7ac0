/**
 * @danesweep/dns: the DNSSEC-aware stub resolver and the RFC 7672 lookup plan.
 * See each module's header for its contract.
 */
export { interpretAnswer, MAX_CNAME_CHAIN, type RecordTypes } from "./answer.ts";
export { type AskOptions, askTlsa } from "./authoritative.ts";
export { checkValidating, requireValidating, type ValidationCheck, type ValidationGate } from "./check.ts";
export {
  ConsistencyChecker,
  type ConsistencyOptions,
  NS_POLITENESS,
  newConsistencyChecker,
} from "./consistency.ts";
export { EvictionCursor, SizedLru } from "./evict.ts";
export {
  canonicalQname,
  NORMALIZE_ERRORS,
  type NormalizeError,
  type NormalizeResult,
  normalizeDomain,
} from "./normalize.ts";
export {
  type CollectOptions,
  collectDomainFacts,
  MAX_ADDRESSES,
  MAX_MX_HOSTS,
  selectMxHosts,
} from "./plan.ts";
export {
  DEFAULT_CACHE_BYTES,
  DEFAULT_TRANSPORT,
  DNS_CONFIG_ERRORS,
  DnsConfigError,
  type DnsConfigErrorCode,
  type DnsQuerier,
  type QueryOptions,
  type ResolverOptions,
  type ResolverStats,
  Slots,
  StubResolver,
  TRANSPORT_MODES,
  type TransportMode,
} from "./resolver.ts";
export { parseUpstream, type Upstream } from "./transport.ts";
export { type DnskeyRecord, decodeMessage, type SoaRecord } from "./wire.ts";
