/**
 * Request and response schemas of the query API (TypeBox, the project's one
 * schema library). The verdict, facts and closed sets come from @danesweep/bus
 * (built from the `as const` arrays of @danesweep/dane); query strings and
 * bodies are closed (unknown parameters are refused with 400). Pure data.
 */
import {
  ActionSchema,
  ProblemSchema as DaneProblemSchema,
  DaneStateSchema,
  DeliverySecuritySchema,
  DomainFactsSchema,
  FailingHostSchema,
  IsoDateTime,
  literalUnion,
  ProbeFactsSchema,
  ReasonSchema,
  VerdictRecordSchema,
} from "@danesweep/bus";
import { POLICY_PROFILE_NAMES } from "@danesweep/dane";
import { ADOPTION_GROUPINGS, REJUDGE_STATES, SCAN_STATES } from "@danesweep/store";
import { Type } from "@sinclair/typebox";

/** A domain name as a client may write it: any case, an optional trailing dot (normalised by the handler). */
export const DomainParam = Type.String({
  minLength: 1,
  maxLength: 254,
  pattern: "^[A-Za-z0-9_-]{1,63}(\\.[A-Za-z0-9_-]{1,63})*\\.?$",
});
/** A host or registrable domain filter (normalised lowercase, no trailing dot). */
export const HostParam = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: "^[a-z0-9_-]{1,63}(\\.[a-z0-9_-]{1,63})*$",
});
export const TldParam = Type.String({ minLength: 1, maxLength: 63, pattern: "^[a-z0-9-]{1,63}$" });
export const ScanIdParam = Type.String({ minLength: 1, maxLength: 64, pattern: "^[0-9A-Za-z_-]{1,64}$" });
export const CursorParam = Type.String({ minLength: 1, maxLength: 600, pattern: "^[A-Za-z0-9_-]+$" });
export const MAX_PAGE = 1000;
export const LimitParam = Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 100 });

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    parameter: Type.Optional(Type.String()),
  },
  { $id: "Problem", description: "RFC 9457 problem details (application/problem+json)" },
);

const Counts = Type.Record(Type.String(), Type.Integer({ minimum: 0 }));
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

// ---------------------------------------------------------------- domains

export const DomainQuery = Type.Object(
  { history: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);

const VerdictSummary = Type.Object({
  action: ActionSchema,
  security: Nullable(DeliverySecuritySchema),
  reason: ReasonSchema,
  dane: DaneStateSchema,
});

/** Which engine version judged, under which client-policy profile. */
export const EngineSchema = Type.Object({ version: Type.String(), profile: Type.String() });

const RejudgeStateSchema = literalUnion(REJUDGE_STATES);

/** A re-judgement of the domain in a scan (POST /v1/scans/{id}/rejudge). */
export const HistoryRejudgement = Type.Object({
  run: Type.Integer({ minimum: 1 }),
  runState: RejudgeStateSchema,
  rejudgedAt: Type.String({ description: "when its run started" }),
  engine: EngineSchema,
  action: ActionSchema,
  security: Nullable(DeliverySecuritySchema),
  reason: ReasonSchema,
  dane: DaneStateSchema,
});

export const HistoryEntry = Type.Object({
  scanId: Type.String(),
  scanStartedAt: Type.String(),
  judgedAt: Type.String(),
  action: ActionSchema,
  security: Nullable(DeliverySecuritySchema),
  reason: ReasonSchema,
  dane: DaneStateSchema,
  engine: EngineSchema,
  rejudgements: Type.Array(HistoryRejudgement, {
    description:
      "the scan's stored facts judged again (oldest run first); the original verdict is this entry",
  }),
});

export const DomainResponse = Type.Object({
  domain: Type.String(),
  scanId: Type.String(),
  scanStartedAt: Type.String(),
  verdict: VerdictRecordSchema,
  facts: Nullable(DomainFactsSchema),
  probes: Type.Array(ProbeFactsSchema),
  history: Type.Optional(Type.Array(HistoryEntry, { description: "every scan's verdict, oldest first" })),
  changes: Type.Optional(
    Type.Array(
      Type.Object({
        scanId: Type.String(),
        scanStartedAt: Type.String(),
        from: VerdictSummary,
        to: VerdictSummary,
      }),
      { description: "the scans whose verdict differs from the scan before" },
    ),
  ),
});

// ---------------------------------------------------------------- scans

export const ScanParams = Type.Object({ id: ScanIdParam });

export const ScansQuery = Type.Object(
  { limit: Type.Optional(LimitParam), cursor: Type.Optional(CursorParam) },
  { additionalProperties: false },
);

const ScanState = literalUnion(SCAN_STATES);

/** What a scan was started with; it names files on the scanning host, so only a scan-scoped token sees it. */
const ScanParametersShown = Type.Optional(
  Type.Unknown({ description: 'what the scan was started with; only for a token with scope "scan"' }),
);

export const ScanListItem = Type.Object({
  id: Type.String(),
  state: ScanState,
  parameters: ScanParametersShown,
  startedAt: Type.String(),
  finishedAt: Nullable(Type.String()),
});

export const ScanListResponse = Type.Object({
  items: Type.Array(ScanListItem),
  next: Nullable(Type.String()),
});

export const ScanResponse = Type.Object({
  id: Type.String(),
  state: ScanState,
  parameters: ScanParametersShown,
  timings: Type.Object({
    startedAt: Type.String(),
    finishedAt: Nullable(Type.String()),
    elapsedMs: Type.Number({ description: "to the end, or to now for a running scan" }),
  }),
  progress: Type.Object({
    domains: Type.Integer({ description: "domains seeded" }),
    judged: Type.Integer({ description: "domains with a verdict" }),
    probes: Type.Object({ done: Type.Integer({ description: "probes stored" }), byStatus: Counts }),
  }),
  counts: Type.Object({ action: Counts, security: Counts, reason: Counts, dane: Counts }),
});

export const ScanParametersSchema = Type.Object(
  {
    probeMode: Type.Optional(Type.Union([Type.Literal("all"), Type.Literal("dane")])),
    label: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const MAX_SCAN_DOMAINS = 100_000;

export const StartScanJson = Type.Object(
  {
    domains: Type.Array(Type.String({ minLength: 1, maxLength: 254 }), {
      minItems: 1,
      maxItems: MAX_SCAN_DOMAINS,
    }),
    parameters: Type.Optional(ScanParametersSchema),
  },
  { additionalProperties: false },
);

export const StartScanText = Type.String({
  minLength: 1,
  description: "one domain per line; blank lines and lines starting with # are skipped",
});

export const StartScanResponse = Type.Object({ scanId: Type.String(), domains: Type.Integer() });

// ---------------------------------------------------------------- results

export const ResultsQuery = Type.Object(
  {
    action: Type.Optional(ActionSchema),
    security: Type.Optional(DeliverySecuritySchema),
    reason: Type.Optional(ReasonSchema),
    dane: Type.Optional(DaneStateSchema),
    tld: Type.Optional(TldParam),
    mx: Type.Optional(HostParam),
    provider: Type.Optional(HostParam),
    limit: Type.Optional(LimitParam),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

export const ResultItem = Type.Object({
  domain: Type.String(),
  tld: Type.String(),
  action: ActionSchema,
  security: Nullable(DeliverySecuritySchema),
  reason: ReasonSchema,
  dane: DaneStateSchema,
  mxHost: Nullable(Type.String()),
  deliveredHost: Nullable(Type.String()),
  judgedAt: Type.String(),
  explanation: Type.String(),
  /** libs/dane rules 37-40: what may break the domain's DANE (empty for verdicts of engines before 2.1). */
  risks: Type.Array(Type.String()),
  mtaStsPolicy: Nullable(
    Type.String({ description: "how a sender finds the MTA-STS policy (libs/dane README)" }),
  ),
  mtaStsMode: Nullable(Type.String()),
  mtaStsOutcome: Nullable(Type.String({ description: "what an MTA-STS sender without DANE does" })),
  mtaStsReason: Nullable(Type.String()),
  mtaStsContradictions: Type.Array(Type.String()),
  tlsRpt: Nullable(Type.String()),
});

export const ResultsPage = Type.Object({
  scanId: Type.String(),
  items: Type.Array(ResultItem),
  next: Nullable(Type.String({ description: "cursor of the next page; null on the last page" })),
});

// ---------------------------------------------------------------- stats

export const AdoptionQuery = Type.Object(
  {
    from: Type.Optional(IsoDateTime),
    to: Type.Optional(IsoDateTime),
    by: Type.Optional(literalUnion(ADOPTION_GROUPINGS)),
    group: Type.Optional(HostParam),
    top: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 20 })),
  },
  { additionalProperties: false },
);

export const AdoptionResponse = Type.Object({
  by: Nullable(literalUnion(ADOPTION_GROUPINGS)),
  series: Type.Array(
    Type.Object({
      scanId: Type.String(),
      scanStartedAt: Type.String(),
      scanState: ScanState,
      group: Nullable(Type.String()),
      domains: Type.Integer(),
      dane: Counts,
      action: Counts,
      security: Counts,
    }),
  ),
});

export const RiskQuery = Type.Object(
  { from: Type.Optional(IsoDateTime), to: Type.Optional(IsoDateTime) },
  { additionalProperties: false },
);

export const RiskResponse = Type.Object({
  series: Type.Array(
    Type.Object({
      scanId: Type.String(),
      scanStartedAt: Type.String(),
      scanState: ScanState,
      /** Domains delivered authenticated by DANE (state valid or partial). */
      daneDomains: Type.Integer(),
      /** Of those, with any risk (libs/dane rules 37-40). */
      atRisk: Type.Integer(),
      /** atRisk / daneDomains (0 when there is none). */
      share: Type.Number(),
      /** With a rollover risk (rule 39). */
      rolloverAtRisk: Type.Integer(),
      rolloverShare: Type.Number(),
      /** Domains per risk code. */
      byRisk: Counts,
    }),
  ),
});

export const ProvidersQuery = Type.Object(
  { scan: Type.Optional(ScanIdParam), limit: Type.Optional(LimitParam) },
  { additionalProperties: false },
);

export const ProvidersResponse = Type.Object({
  scanId: Type.String(),
  providers: Type.Array(
    Type.Object({ provider: Type.String(), domains: Type.Integer(), mxHosts: Type.Integer(), dane: Counts }),
  ),
});

export const BrokenQuery = Type.Object(
  {
    scan: Type.Optional(ScanIdParam),
    tld: Type.Optional(TldParam),
    limit: Type.Optional(LimitParam),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

export const BrokenResponse = Type.Object({
  scanId: Type.String(),
  items: Type.Array(
    Type.Object({
      domain: Type.String(),
      tld: Type.String(),
      mxHost: Nullable(Type.String()),
      provider: Nullable(Type.String()),
      action: ActionSchema,
      reason: ReasonSchema,
      dane: DaneStateSchema,
      problems: Type.Array(DaneProblemSchema),
      failingHosts: Type.Array(FailingHostSchema),
      explanation: Type.String(),
      firstBroken: Type.Object({ scanId: Type.String(), scanStartedAt: Type.String() }),
    }),
  ),
  next: Nullable(Type.String()),
});

// ---------------------------------------------------------------- re-judging

export const RejudgeQuery = Type.Object(
  {
    policy: Type.Optional(
      Type.Union(
        POLICY_PROFILE_NAMES.map((n) => Type.Literal(n)),
        { description: "the client-policy profile to judge under; default the scan's" },
      ),
    ),
    again: Type.Optional(
      Type.Boolean({
        default: false,
        description: "judge again even if this engine already re-judged the scan under this profile",
      }),
    ),
  },
  { additionalProperties: false },
);

export const RejudgeRunParams = Type.Object({
  id: ScanIdParam,
  run: Type.Integer({ minimum: 1, maximum: 32767 }),
});

const TransitionSchema = Type.Object({
  from: Nullable(Type.String()),
  to: Nullable(Type.String()),
  domains: Type.Integer({ minimum: 0 }),
});

const ByValue = Type.Object({ action: Counts, security: Counts, dane: Counts });

export const RejudgeCountsSchema = Type.Object({
  domains: Type.Integer({ description: "domains re-judged" }),
  identical: Type.Integer({
    description: "verdicts that say exactly what the original said (the original's stored verdict is reused)",
  }),
  changed: Type.Integer({
    description: "verdicts whose action, security, reason, DANE state or brokenness changed",
  }),
  action: Type.Array(TransitionSchema, {
    description: "domains per (old -> new) action, unchanged ones included",
  }),
  security: Type.Array(TransitionSchema, { description: "the same per delivery security (null: none)" }),
  dane: Type.Array(TransitionSchema, { description: "the same per DANE state" }),
  before: ByValue,
  after: ByValue,
  originals: Type.Array(
    Type.Object({ engine: Type.String(), profile: Type.String(), domains: Type.Integer() }),
    { description: "the engines and profiles that judged the original verdicts" },
  ),
});

export const RejudgeRunSchema = Type.Object({
  scanId: Type.String(),
  run: Type.Integer({ minimum: 1 }),
  engine: Type.String({ description: "the verdict engine's version" }),
  profile: Type.String(),
  state: RejudgeStateSchema,
  startedAt: Type.String(),
  finishedAt: Nullable(Type.String()),
  heartbeatAt: Type.String({ description: "when the run last stored a batch" }),
  judged: Type.Integer({ description: "domains stored by the run so far" }),
  total: Type.Integer({ description: "domains judged in the scan when the run started" }),
  newBlobs: Type.Integer({ description: "verdicts stored for the first time" }),
  missingProbes: Type.Integer({ description: "domains whose re-judging needed a probe the scan never made" }),
  counts: Nullable(RejudgeCountsSchema),
  error: Nullable(Type.String()),
});

export const RejudgeStarted = Type.Composite([
  RejudgeRunSchema,
  Type.Object({
    status: Type.Union(
      [Type.Literal("new"), Type.Literal("resumed"), Type.Literal("running"), Type.Literal("done")],
      {
        description:
          "new: a run started; resumed: an unfinished run goes on; running: this server is running it; done: it had finished",
      },
    ),
  }),
]);

export const RejudgeRunList = Type.Object({ scanId: Type.String(), items: Type.Array(RejudgeRunSchema) });

export const HealthResponse = Type.Object({ status: Type.String() });
export const MetricsText = Type.String({ description: "Prometheus text exposition format 0.0.4" });
