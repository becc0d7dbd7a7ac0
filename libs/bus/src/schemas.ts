/**
 * TypeBox schemas for the facts and verdict contract of libs/dane
 * (facts.ts, verdict-types.ts), the one schema library used project-wide: the
 * bus validates every envelope with them and the API reuses them.
 *
 * Contract:
 * - Each schema's Static type is the libs/dane TypeScript type, checked both
 *   ways at compile time (test/schemas.test.ts); closed sets are built from the
 *   `as const` arrays of libs/dane, so a value added there is accepted here.
 * - Objects accept unknown extra properties (tolerant reader: a newer producer
 *   may add an optional field before every consumer knows it); every declared
 *   field is checked for type, range and format.
 * - Times are ISO 8601 date-times, TLSA data lowercase hex (possibly empty or
 *   odd-sized: malformed data is a fact too), certificates base64.
 * Pure data: no I/O.
 */
import {
  ACTIONS,
  AUTH_STATUSES,
  CONSISTENCY_REASONS,
  CONSISTENCY_STATES,
  DANE_STATES,
  DELIVERY_SECURITIES,
  LOOKUP_ERROR_KINDS,
  LOOKUP_OUTCOMES,
  MTA_STS_CONTRADICTIONS,
  MTA_STS_MODES,
  MTA_STS_POLICY_RESULTS,
  MTA_STS_REASONS,
  MX_WEBPKI_STATES,
  PROBE_KINDS,
  PROBE_STATUSES,
  PROBLEMS,
  REASONS,
  REQUIREMENTS,
  RISKS,
  ROLLOVER_REASONS,
  RR_TYPES,
  SECURITY_STATES,
  SIGALG_FAMILIES,
  TLS_RPT_STATES,
  TLSA_BASE_WHYS,
  VERDICT_SCHEMA_VERSION,
} from "@danesweep/dane";
import { type Static, type TLiteral, type TSchema, type TUnion, Type } from "@sinclair/typebox";

/** A union of string literals from an `as const` array. */
export function literalUnion<const T extends readonly string[]>(values: T): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(values.map((v) => Type.Literal(v))) as TUnion<TLiteral<T[number]>[]>;
}

/** ISO 8601 date-time with a zone, as produced by Date.prototype.toISOString. */
export const IsoDateTime = Type.String({
  pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$",
});
/** A normalised domain name: lowercase, no trailing dot, not the root. */
export const DomainName = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: "^[a-z0-9_-]+(?:[.][a-z0-9_-]+)*$",
});
/** Any DNS name as written in facts (the root is "."). */
export const DnsName = Type.String({ minLength: 1, maxLength: 255 });
export const Port = Type.Integer({ minimum: 0, maximum: 65535 });
export const IpAddress = Type.String({ minLength: 2, maxLength: 45, pattern: "^[0-9a-fA-F.:]+$" });
export const HexString = Type.String({ pattern: "^[0-9a-f]*$" });
export const Base64 = Type.String({ pattern: "^[A-Za-z0-9+/]*={0,2}$" });
const NonNegative = Type.Integer({ minimum: 0 });
const Millis = Type.Number({ minimum: 0 });

export const LookupOutcomeSchema = literalUnion(LOOKUP_OUTCOMES);
export const LookupErrorKindSchema = literalUnion(LOOKUP_ERROR_KINDS);
export const SecuritySchema = literalUnion(SECURITY_STATES);
export const RRTypeSchema = literalUnion(RR_TYPES);
export const ProbeStatusSchema = literalUnion(PROBE_STATUSES);
export const ActionSchema = literalUnion(ACTIONS);
export const DeliverySecuritySchema = literalUnion(DELIVERY_SECURITIES);
export const ReasonSchema = literalUnion(REASONS);
export const DaneStateSchema = literalUnion(DANE_STATES);
export const RequirementSchema = literalUnion(REQUIREMENTS);
export const TlsaBaseWhySchema = literalUnion(TLSA_BASE_WHYS);
export const ProblemSchema = literalUnion(PROBLEMS);
export const ProbeKindSchema = literalUnion(PROBE_KINDS);
export const AuthStatusSchema = literalUnion(AUTH_STATUSES);
export const SigalgFamilySchema = literalUnion(SIGALG_FAMILIES);
export const ConsistencyStateSchema = literalUnion(CONSISTENCY_STATES);
export const ConsistencyReasonSchema = literalUnion(CONSISTENCY_REASONS);
export const RolloverReasonSchema = literalUnion(ROLLOVER_REASONS);
export const RiskSchema = literalUnion(RISKS);

// ---------------------------------------------------------------- facts

export const ProvenanceSchema = Type.Object({
  upstream: Type.String({ minLength: 1 }),
  transport: Type.Union([Type.Literal("udp"), Type.Literal("tcp")]),
  rcode: Type.String({ minLength: 1 }),
  flags: Type.Object({
    aa: Type.Boolean(),
    tc: Type.Boolean(),
    rd: Type.Boolean(),
    ra: Type.Boolean(),
    ad: Type.Boolean(),
    cd: Type.Boolean(),
  }),
  attempts: NonNegative,
  // Both absent in the judged form the resolver stage sends (libs/dane judgedLookup: a failed
  // lookup keeps its provenance without its timing and cache flag, as the store keeps it).
  elapsedMs: Type.Optional(Millis),
  cached: Type.Optional(Type.Boolean()),
  cdRcode: Type.Optional(Type.String({ minLength: 1 })),
});

export const CnameLinkSchema = Type.Object({ owner: DnsName, target: DnsName });

export const MxRecordSchema = Type.Object({
  preference: Type.Integer({ minimum: 0, maximum: 65535 }),
  exchange: DnsName,
});

export const TlsaRecordSchema = Type.Object({
  usage: Type.Integer({ minimum: 0, maximum: 255 }),
  selector: Type.Integer({ minimum: 0, maximum: 255 }),
  matchingType: Type.Integer({ minimum: 0, maximum: 255 }),
  data: HexString,
});

/** Lookup<T> of libs/dane for a record schema. */
export function LookupSchema<T extends TSchema>(record: T) {
  return Type.Object({
    qname: DnsName,
    qtype: RRTypeSchema,
    outcome: LookupOutcomeSchema,
    error: Type.Optional(LookupErrorKindSchema),
    security: SecuritySchema,
    chain: Type.Array(CnameLinkSchema),
    owner: DnsName,
    records: Type.Array(record),
    ttl: Type.Optional(NonNegative),
    zone: Type.Optional(DnsName),
    limitHit: Type.Optional(Type.String()),
    provenance: Type.Optional(ProvenanceSchema),
  });
}

export const AddressLookupSchema = LookupSchema(Type.String());
export const MxLookupSchema = LookupSchema(MxRecordSchema);
export const TlsaLookupSchema = LookupSchema(TlsaRecordSchema);

export const HostFactsSchema = Type.Object({
  name: DnsName,
  preference: Type.Integer({ minimum: 0, maximum: 65535 }),
  implicit: Type.Boolean(),
  a: AddressLookupSchema,
  aaaa: AddressLookupSchema,
  firstLink: Type.Optional(AddressLookupSchema),
  tlsa: Type.Array(TlsaLookupSchema),
});

export const TxtLookupSchema = LookupSchema(Type.String());

export const MtaStsDnsFactsSchema = Type.Object({
  txt: TxtLookupSchema,
  host: Type.Optional(Type.Object({ name: DnsName, a: AddressLookupSchema, aaaa: AddressLookupSchema })),
});

export const RrsigFactsSchema = Type.Object({
  signer: DnsName,
  keyTag: Type.Integer({ minimum: 0, maximum: 65535 }),
  algorithm: Type.Integer({ minimum: 0, maximum: 255 }),
  originalTtl: NonNegative,
  inception: IsoDateTime,
  expiration: IsoDateTime,
});

export const AuthoritativeAnswerSchema = Type.Object({
  server: DnsName,
  address: Type.Optional(IpAddress),
  status: AuthStatusSchema,
  detail: Type.Optional(Type.String()),
  records: Type.Optional(Type.Array(TlsaRecordSchema)),
  rrsigs: Type.Optional(Type.Array(RrsigFactsSchema)),
  ttl: Type.Optional(NonNegative),
});

export const TlsaConsistencyFactsSchema = Type.Object({
  qname: DnsName,
  zone: Type.Optional(DnsName),
  ns: Type.Object({
    outcome: LookupOutcomeSchema,
    security: SecuritySchema,
    error: Type.Optional(LookupErrorKindSchema),
    names: Type.Array(DnsName),
  }),
  servers: Type.Array(AuthoritativeAnswerSchema),
  checkedAt: IsoDateTime,
  limits: Type.Optional(Type.Array(Type.String())),
});

export const DomainFactsSchema = Type.Object({
  schema: Type.Literal(1),
  domain: DomainName,
  port: Port,
  resolverValidates: Type.Boolean(),
  mx: MxLookupSchema,
  mxFirstLink: Type.Optional(AddressLookupSchema),
  hosts: Type.Array(HostFactsSchema),
  limits: Type.Array(Type.String()),
  collectedAt: IsoDateTime,
  mtaSts: Type.Optional(MtaStsDnsFactsSchema),
  tlsRpt: Type.Optional(TxtLookupSchema),
  consistency: Type.Optional(Type.Array(TlsaConsistencyFactsSchema)),
});

export const SmtpReplySchema = Type.Object({
  code: Type.Integer({ minimum: 0, maximum: 999 }),
  lines: Type.Array(Type.String()),
});

export const HttpResponseFactsSchema = Type.Object({
  status: Type.Integer({ minimum: 0, maximum: 999 }),
  contentType: Type.Optional(Type.String()),
  location: Type.Optional(Type.String()),
  bodyBytes: NonNegative,
  body: Type.Optional(Type.String()),
  truncated: Type.Optional(Type.Boolean()),
});

const TlsFactsSchema = Type.Object({
  version: Type.String(),
  cipher: Type.String(),
  group: Type.Optional(Type.String()),
  chain: Type.Array(Base64),
  chainTruncated: Type.Optional(Type.Boolean()),
});

export const AlternateHandshakeSchema = Type.Object({
  offered: SigalgFamilySchema,
  status: ProbeStatusSchema,
  detail: Type.Optional(Type.String()),
  tls: Type.Optional(TlsFactsSchema),
  timings: Type.Object({ tlsMs: Type.Optional(Millis), totalMs: Millis }),
});

export const ProbeFactsSchema = Type.Object({
  schema: Type.Literal(1),
  kind: Type.Optional(ProbeKindSchema),
  ip: IpAddress,
  port: Port,
  sni: Type.String(),
  status: ProbeStatusSchema,
  detail: Type.Optional(Type.String()),
  banner: Type.Optional(SmtpReplySchema),
  ehlo: Type.Optional(
    Type.Object({
      code: Type.Integer({ minimum: 0, maximum: 999 }),
      lines: Type.Array(Type.String()),
      verb: Type.Union([Type.Literal("EHLO"), Type.Literal("HELO")]),
      keywords: Type.Array(Type.String()),
    }),
  ),
  starttls: Type.Optional(
    Type.Object({
      offered: Type.Boolean(),
      reply: Type.Optional(SmtpReplySchema),
      accepted: Type.Boolean(),
    }),
  ),
  tls: Type.Optional(TlsFactsSchema),
  quit: Type.Optional(Type.Boolean()),
  http: Type.Optional(HttpResponseFactsSchema),
  alternates: Type.Optional(Type.Array(AlternateHandshakeSchema)),
  io: Type.Optional(Type.Object({ bytesRead: NonNegative, bytesWritten: NonNegative })),
  timings: Type.Object({
    connectMs: Type.Optional(Millis),
    bannerMs: Type.Optional(Millis),
    ehloMs: Type.Optional(Millis),
    starttlsMs: Type.Optional(Millis),
    tlsMs: Type.Optional(Millis),
    totalMs: Millis,
  }),
  startedAt: IsoDateTime,
});

export const ProbeKeySchema = Type.Object({ ip: IpAddress, port: Port, sni: Type.String() });

// ---------------------------------------------------------------- verdicts

export const MatchedRecordSchema = Type.Object({
  record: TlsaRecordSchema,
  depth: Type.Integer({ minimum: -1 }),
});

const AddressResultSchema = Type.Union([
  DeliverySecuritySchema,
  Type.Literal("failed"),
  Type.Literal("not-tried"),
  Type.Literal("beyond-limit"),
  Type.Literal("not-probed"),
  Type.Literal("policy-refused"),
]);

export const AddressOutcomeSchema = Type.Object({
  address: Type.String(),
  family: Type.Union([Type.Literal(4), Type.Literal(6)]),
  security: SecuritySchema,
  probe: Type.Optional(
    Type.Object({ ip: IpAddress, port: Port, sni: Type.String(), status: ProbeStatusSchema }),
  ),
  result: AddressResultSchema,
  reason: Type.Optional(ReasonSchema),
  auth: Type.Optional(
    Type.Object({
      matched: Type.Optional(MatchedRecordSchema),
      failure: Type.Optional(Type.String()),
      detail: Type.Optional(Type.String()),
    }),
  ),
  assessed: Type.Optional(
    Type.Object({
      result: Type.Union([
        DeliverySecuritySchema,
        Type.Literal("failed"),
        Type.Literal("not-probed"),
        Type.Literal("policy-refused"),
      ]),
      reason: ReasonSchema,
    }),
  ),
  alternates: Type.Optional(
    Type.Array(
      Type.Object({
        offered: SigalgFamilySchema,
        status: ProbeStatusSchema,
        keyType: Type.Optional(Type.String()),
        result: Type.Union([
          Type.Literal("dane-verified"),
          Type.Literal("failed"),
          Type.Literal("no-certificate"),
        ]),
        failure: Type.Optional(Type.String()),
      }),
    ),
  ),
});

export const HostOutcomeSchema = Type.Object({
  host: DnsName,
  preference: Type.Integer({ minimum: 0, maximum: 65535 }),
  implicit: Type.Boolean(),
  addressSecurity: SecuritySchema,
  tlsaBase: Type.Optional(DnsName),
  tlsaBaseWhy: TlsaBaseWhySchema,
  requirement: Type.Union([RequirementSchema, Type.Literal("unusable")]),
  tlsa: Type.Optional(
    Type.Array(
      Type.Object({ record: TlsaRecordSchema, usable: Type.Boolean(), why: Type.Optional(Type.String()) }),
    ),
  ),
  wouldAuthenticate: Type.Optional(Type.Boolean()),
  addresses: Type.Array(AddressOutcomeSchema),
  reason: Type.Optional(ReasonSchema),
  numeric: Type.Optional(Type.Boolean()),
  rolloverRisk: Type.Optional(
    Type.Object({
      reasons: Type.Array(RolloverReasonSchema),
      leafNotAfter: Type.Optional(IsoDateTime),
      tlsaTtl: Type.Optional(NonNegative),
    }),
  ),
});

export const ConsistencyOutcomeSchema = Type.Object({
  state: ConsistencyStateSchema,
  reasons: Type.Array(ConsistencyReasonSchema),
  servers: Type.Array(
    Type.Object({
      qname: DnsName,
      zone: Type.Optional(DnsName),
      server: DnsName,
      address: Type.Optional(IpAddress),
      status: AuthStatusSchema,
      reasons: Type.Array(ConsistencyReasonSchema),
      expiresAt: Type.Optional(IsoDateTime),
    }),
  ),
});

export const LatentFailureSchema = Type.Object({
  host: DnsName,
  address: Type.String(),
  offered: Type.Union([SigalgFamilySchema, Type.Literal("default")]),
  keyType: Type.Optional(Type.String()),
  failure: Type.String(),
});

/** A host that failed or would fail (libs/dane problems.ts `failingHosts`). */
export const FailingHostSchema = Type.Object({
  host: DnsName,
  preference: Type.Integer({ minimum: 0, maximum: 65535 }),
  requirement: Type.Union([RequirementSchema, Type.Literal("unusable")]),
  reason: Type.Optional(ReasonSchema),
  tlsaBaseWhy: TlsaBaseWhySchema,
  addresses: Type.Array(
    Type.Object({ address: Type.String(), result: AddressResultSchema, reason: ReasonSchema }),
  ),
});

export const VerdictSchema = Type.Object({
  action: ActionSchema,
  security: Type.Optional(DeliverySecuritySchema),
  host: Type.Optional(DnsName),
  address: Type.Optional(Type.String()),
  reason: ReasonSchema,
  beyondAddressLimit: Type.Optional(
    Type.Object({
      limit: Type.Integer({ minimum: 1 }),
      host: DnsName,
      address: Type.String(),
      security: DeliverySecuritySchema,
    }),
  ),
});

export const MtaStsJudgementSchema = Type.Object({
  policy: literalUnion(MTA_STS_POLICY_RESULTS),
  detail: Type.Optional(Type.String()),
  id: Type.Optional(Type.String()),
  mode: Type.Optional(literalUnion(MTA_STS_MODES)),
  maxAge: Type.Optional(NonNegative),
  mx: Type.Optional(Type.Array(Type.String())),
  fetch: Type.Optional(
    Type.Object({
      ip: IpAddress,
      port: Port,
      sni: Type.String(),
      status: ProbeStatusSchema,
      httpStatus: Type.Optional(Type.Integer({ minimum: 0, maximum: 999 })),
    }),
  ),
  hosts: Type.Optional(
    Type.Array(
      Type.Object({
        host: DnsName,
        pattern: Type.Optional(Type.String()),
        webpki: literalUnion(MX_WEBPKI_STATES),
        address: Type.Optional(Type.String()),
        detail: Type.Optional(Type.String()),
      }),
    ),
  ),
  outcome: Type.Optional(
    Type.Object({
      action: Type.Union([
        Type.Literal("deliver"),
        Type.Literal("defer"),
        Type.Literal("bounce"),
        Type.Literal("indeterminate"),
      ]),
      host: Type.Optional(DnsName),
      address: Type.Optional(Type.String()),
      reason: literalUnion(MTA_STS_REASONS),
    }),
  ),
  contradictions: Type.Array(literalUnion(MTA_STS_CONTRADICTIONS)),
  trust: Type.Optional(Type.String()),
});

export const TlsRptJudgementSchema = Type.Object({
  state: literalUnion(TLS_RPT_STATES),
  rua: Type.Optional(Type.Array(Type.String())),
  detail: Type.Optional(Type.String()),
});

export const VerdictRecordSchema = Type.Object({
  schema: Type.Literal(VERDICT_SCHEMA_VERSION),
  domain: DomainName,
  engine: Type.Object({ version: Type.String({ minLength: 1 }), profile: Type.String({ minLength: 1 }) }),
  verdict: VerdictSchema,
  dane: DaneStateSchema,
  problems: Type.Array(ProblemSchema),
  failingHosts: Type.Optional(Type.Array(FailingHostSchema)),
  mxSecure: Type.Boolean(),
  mx: Type.Object({
    outcome: LookupOutcomeSchema,
    security: SecuritySchema,
    error: Type.Optional(LookupErrorKindSchema),
  }),
  probeMode: Type.Union([Type.Literal("all"), Type.Literal("dane")]),
  tld: Type.String(),
  provider: Type.Optional(Type.String({ minLength: 1 })),
  hosts: Type.Array(HostOutcomeSchema),
  mtaSts: Type.Optional(MtaStsJudgementSchema),
  tlsRpt: Type.Optional(TlsRptJudgementSchema),
  consistency: Type.Optional(ConsistencyOutcomeSchema),
  latent: Type.Optional(Type.Array(LatentFailureSchema)),
  risks: Type.Optional(Type.Array(RiskSchema)),
  explanation: Type.String(),
  judgedAt: IsoDateTime,
});

export type DomainFactsStatic = Static<typeof DomainFactsSchema>;
export type ProbeFactsStatic = Static<typeof ProbeFactsSchema>;
export type VerdictRecordStatic = Static<typeof VerdictRecordSchema>;
