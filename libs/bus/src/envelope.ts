/**
 * Versioned envelopes carried on the bus, and their codec.
 *
 * Envelope: `{ v: 1, type, scan, id?, body, trace? }` where `type` names the
 * body: domain, dns-facts, probe-request, probe-result, probe-ref, verdict.
 *
 * Contract:
 * - `encodeEnvelope(type, scan, body, opts?)` returns the JSON text; the body's
 *   shape is enforced by the static types. `tryEncodeEnvelope` also validates
 *   at run time and returns a typed result instead (for bodies built from
 *   untyped input).
 * - `decodeEnvelope(text, expect?)` never throws: it returns
 *   `{ ok: true, envelope }` or `{ ok: false, reason, detail }` with reason
 *   "decode-failed" (not JSON, not an object), "unsupported-version" (v is
 *   not 1), or "validation-failed" (unknown type, type other than `expect`,
 *   missing scan, body not matching its schema; detail names the first failing
 *   path). Validators are compiled once (TypeCompiler).
 * - `scanOfText(text)`: only the scan id of a message's text, or undefined
 *   (for watching a scan's dead letters, whose values may be anything).
 * - `envelopeHandler(type, handler)` adapts a typed handler to the Bus: a
 *   message that does not decode becomes a dead-letter outcome with the reason;
 *   a message carrying the producer's own envelope object (`decoded`, an
 *   in-process bus) is trusted as it is: it was typed where it was made, and
 *   validation is for what crosses a process boundary;
 *   `envelopesHandler(types, handler)` does the same for a topic that carries
 *   several types.
 * - `envelopeMessage(topic, key, envelope, trace?)` builds an OutgoingMessage
 *   with the x-schema header and, when given, the W3C trace context headers
 *   (traceparent, tracestate). The trace context travels in headers, on Kafka
 *   and on the in-memory bus alike; the envelope's optional `trace` field is
 *   only read (an envelope that carries one gets its headers) and nothing in
 *   danesweep sets it.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { DeadLetterReason, HandlerOutcome, IncomingMessage, OutgoingMessage } from "./bus.ts";
import { HEADER } from "./bus.ts";
import {
  DnsName,
  DomainFactsSchema,
  DomainName,
  IpAddress,
  Port,
  ProbeFactsSchema,
  ProbeKeySchema,
  ProbeKindSchema,
  VerdictRecordSchema,
} from "./schemas.ts";

export const ENVELOPE_VERSION = 1 as const;

export const ENVELOPE_TYPES = [
  "domain",
  "dns-facts",
  "probe-request",
  "probe-result",
  "probe-ref",
  "verdict",
] as const;
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number];

export const DomainBodySchema = Type.Object({
  domain: DomainName,
  /** 1-based line in the input list. */
  line: Type.Optional(Type.Integer({ minimum: 1 })),
  /** The name as written in the input, before normalisation. */
  input: Type.Optional(Type.String({ maxLength: 1024 })),
});
export const DnsFactsBodySchema = Type.Object({ facts: DomainFactsSchema });
export const ProbeRequestBodySchema = Type.Object({
  ip: IpAddress,
  port: Port,
  sni: Type.String(),
  mxHost: DnsName,
  domain: DomainName,
  /** What to do: the STARTTLS probe when absent; "mta-sts-policy" fetches the domain's MTA-STS policy (mxHost is the policy host). */
  kind: Type.Optional(ProbeKindSchema),
  /**
   * The host has a secure TLSA RRset with a usable record (the resolver
   * knows): the prober may look for a second certificate (ProbeFacts.alternates).
   */
  dane: Type.Optional(Type.Boolean()),
});
/** A probe's facts, addressed to one of the domains that asked for it. */
export const ProbeResultBodySchema = Type.Object({ domain: DomainName, facts: ProbeFactsSchema });
/**
 * A probe's result by reference, addressed to one of the domains that asked
 * for it: the probe's key only. A prober on a serializing bus sends the facts
 * once (probe-result, to the domain whose request made or fetched the probe)
 * and this to every other domain that asked; the probe is in the store before
 * either is sent, so the aggregator finds it there when it has not kept it.
 */
export const ProbeRefBodySchema = Type.Object({ domain: DomainName, ...ProbeKeySchema.properties });
export const VerdictBodySchema = Type.Object({ record: VerdictRecordSchema });

export const BODY_SCHEMAS = {
  domain: DomainBodySchema,
  "dns-facts": DnsFactsBodySchema,
  "probe-request": ProbeRequestBodySchema,
  "probe-result": ProbeResultBodySchema,
  "probe-ref": ProbeRefBodySchema,
  verdict: VerdictBodySchema,
} as const satisfies Record<EnvelopeType, TSchema>;

export type BodyOf<T extends EnvelopeType> = Static<(typeof BODY_SCHEMAS)[T]>;
export type DomainBody = BodyOf<"domain">;
export type DnsFactsBody = BodyOf<"dns-facts">;
export type ProbeRequestBody = BodyOf<"probe-request">;
export type ProbeResultBody = BodyOf<"probe-result">;
export type ProbeRefBody = BodyOf<"probe-ref">;
export type VerdictBody = BodyOf<"verdict">;

/** W3C trace context carried with the envelope. */
export const TraceSchema = Type.Object({
  traceparent: Type.String({ maxLength: 128 }),
  tracestate: Type.Optional(Type.String({ maxLength: 512 })),
});
export type Trace = Static<typeof TraceSchema>;

function envelopeSchema<T extends EnvelopeType>(type: T) {
  return Type.Object({
    v: Type.Literal(ENVELOPE_VERSION),
    type: Type.Literal(type),
    scan: Type.String({ minLength: 1, maxLength: 128 }),
    id: Type.Optional(Type.String({ maxLength: 256 })),
    body: BODY_SCHEMAS[type],
    trace: Type.Optional(TraceSchema),
  });
}

export const ENVELOPE_SCHEMAS = {
  domain: envelopeSchema("domain"),
  "dns-facts": envelopeSchema("dns-facts"),
  "probe-request": envelopeSchema("probe-request"),
  "probe-result": envelopeSchema("probe-result"),
  "probe-ref": envelopeSchema("probe-ref"),
  verdict: envelopeSchema("verdict"),
} as const;

export type EnvelopeOf<T extends EnvelopeType> = Static<(typeof ENVELOPE_SCHEMAS)[T]>;
export type Envelope = { [T in EnvelopeType]: EnvelopeOf<T> }[EnvelopeType];

const compiled = {
  domain: TypeCompiler.Compile(ENVELOPE_SCHEMAS.domain),
  "dns-facts": TypeCompiler.Compile(ENVELOPE_SCHEMAS["dns-facts"]),
  "probe-request": TypeCompiler.Compile(ENVELOPE_SCHEMAS["probe-request"]),
  "probe-result": TypeCompiler.Compile(ENVELOPE_SCHEMAS["probe-result"]),
  "probe-ref": TypeCompiler.Compile(ENVELOPE_SCHEMAS["probe-ref"]),
  verdict: TypeCompiler.Compile(ENVELOPE_SCHEMAS.verdict),
};

/** The x-schema header value for an envelope type, e.g. "danesweep.dns-facts.v1". */
export function schemaHeader(type: EnvelopeType): string {
  return `danesweep.${type}.v${ENVELOPE_VERSION}`;
}

export interface EnvelopeOptions {
  id?: string;
  trace?: Trace;
}

export function makeEnvelope<T extends EnvelopeType>(
  type: T,
  scan: string,
  body: BodyOf<T>,
  opts: EnvelopeOptions = {},
): EnvelopeOf<T> {
  const env: Record<string, unknown> = { v: ENVELOPE_VERSION, type, scan };
  if (opts.id !== undefined) env.id = opts.id;
  env.body = body;
  if (opts.trace !== undefined) env.trace = opts.trace;
  return env as EnvelopeOf<T>;
}

export function encodeEnvelope<T extends EnvelopeType>(
  type: T,
  scan: string,
  body: BodyOf<T>,
  opts: EnvelopeOptions = {},
): string {
  return JSON.stringify(makeEnvelope(type, scan, body, opts));
}

export type DecodeResult<E = Envelope> =
  | { ok: true; envelope: E }
  | { ok: false; reason: DeadLetterReason; detail: string };

const MAX_DETAIL = 500;

function firstError(type: EnvelopeType, value: unknown): string {
  const err = compiled[type].Errors(value).First();
  if (!err) return "invalid";
  const path = err.path === "" ? "/" : err.path;
  return `${path}: ${err.message}`.slice(0, MAX_DETAIL);
}

/** Validates an already parsed value as an envelope (of type `expect` when given). */
export function validateEnvelope<T extends EnvelopeType = EnvelopeType>(
  value: unknown,
  expect?: T,
): DecodeResult<EnvelopeOf<T>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: "decode-failed", detail: "not a JSON object" };
  }
  const rec = value as Record<string, unknown>;
  if (rec.v !== ENVELOPE_VERSION) {
    return {
      ok: false,
      reason: "unsupported-version",
      detail: `v=${JSON.stringify(rec.v) ?? "undefined"}`.slice(0, MAX_DETAIL),
    };
  }
  const type = rec.type;
  if (typeof type !== "string" || !(ENVELOPE_TYPES as readonly string[]).includes(type)) {
    return {
      ok: false,
      reason: "validation-failed",
      detail: `/type: unknown ${JSON.stringify(type) ?? "undefined"}`,
    };
  }
  const t = type as EnvelopeType;
  if (expect !== undefined && t !== expect) {
    return { ok: false, reason: "validation-failed", detail: `/type: expected ${expect}, got ${t}` };
  }
  if (!compiled[t].Check(value)) {
    return { ok: false, reason: "validation-failed", detail: firstError(t, value) };
  }
  return { ok: true, envelope: value as EnvelopeOf<T> };
}

export function decodeEnvelope<T extends EnvelopeType = EnvelopeType>(
  text: string,
  expect?: T,
): DecodeResult<EnvelopeOf<T>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return {
      ok: false,
      reason: "decode-failed",
      detail: `not JSON: ${(e as Error).message}`.slice(0, MAX_DETAIL),
    };
  }
  return validateEnvelope(value, expect);
}

/**
 * The scan id in a message's JSON text, if it has one; undefined for anything
 * else (a dead letter's value may be any text). Does not validate the rest.
 */
export function scanOfText(value: string): string | undefined {
  try {
    const v = JSON.parse(value) as { scan?: unknown };
    return typeof v?.scan === "string" ? v.scan : undefined;
  } catch {
    return undefined;
  }
}

export type EncodeResult =
  | { ok: true; text: string }
  | { ok: false; reason: "validation-failed"; detail: string };

/** Like encodeEnvelope, but validates the envelope first (for bodies built from untyped input). */
export function tryEncodeEnvelope(
  type: EnvelopeType,
  scan: string,
  body: unknown,
  opts: EnvelopeOptions = {},
): EncodeResult {
  const env = makeEnvelope(type, scan, body as never, opts);
  const r = validateEnvelope(env, type);
  if (!r.ok) return { ok: false, reason: "validation-failed", detail: r.detail };
  return { ok: true, text: JSON.stringify(env) };
}

/**
 * An OutgoingMessage carrying an envelope, with the x-schema header and the
 * W3C trace context `trace` (traceparent, tracestate headers) when given.
 */
export function envelopeMessage<T extends EnvelopeType>(
  topic: string,
  key: string,
  envelope: EnvelopeOf<T>,
  trace?: TraceHeaders,
): OutgoingMessage {
  const headers: Record<string, string> = { [HEADER.schema]: schemaHeader(envelope.type as EnvelopeType) };
  if (trace) withTrace(headers, trace);
  else if (envelope.trace) withTrace(headers, envelope.trace);
  return new EnvelopeMessage(topic, key, headers, envelope);
}

/**
 * An envelope's message, whose JSON text is made when first read: a bus that
 * serializes reads it at once, the in-process bus hands `decoded` to its
 * consumers and never needs it (for a domain's facts, a few KB of text a
 * message). A class, so that the lazy `value` is one getter on the prototype,
 * not a closure and an accessor made for every message.
 */
class EnvelopeMessage implements OutgoingMessage {
  topic: string;
  key: string;
  headers: Record<string, string>;
  decoded: unknown;
  #text: string | undefined;
  constructor(topic: string, key: string, headers: Record<string, string>, envelope: unknown) {
    this.topic = topic;
    this.key = key;
    this.headers = headers;
    this.decoded = envelope;
  }
  get value(): string {
    this.#text ??= JSON.stringify(this.decoded);
    return this.#text;
  }
}

/** W3C trace context as message headers (libs/telemetry Tracing.headers makes them). */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

/** Adds the trace context headers to `headers` (returned). */
export function withTrace(headers: Record<string, string>, trace: TraceHeaders): Record<string, string> {
  if (trace.traceparent !== undefined) headers[HEADER.traceparent] = trace.traceparent;
  if (trace.tracestate !== undefined) headers[HEADER.tracestate] = trace.tracestate;
  return headers;
}

/** The producer's own envelope object carried by an in-process bus, if any. */
function ownEnvelope(msg: IncomingMessage): Envelope | undefined {
  const d = msg.decoded as { v?: unknown; type?: unknown } | undefined;
  return d && typeof d === "object" && d.v === ENVELOPE_VERSION && typeof d.type === "string"
    ? (d as Envelope)
    : undefined;
}

/**
 * Like envelopeHandler, for a topic that carries several envelope types: the
 * handler sees any of `types`; anything else is dead-lettered.
 */
export function envelopesHandler<T extends EnvelopeType>(
  types: readonly T[],
  handler: (envelope: EnvelopeOf<T>, msg: IncomingMessage) => Promise<HandlerOutcome>,
): (msg: IncomingMessage) => Promise<HandlerOutcome> {
  return async (msg) => {
    const own = ownEnvelope(msg);
    if (own && (types as readonly string[]).includes(own.type)) return handler(own as EnvelopeOf<T>, msg);
    const r = decodeEnvelope(msg.value);
    if (!r.ok) return { kind: "dead-letter", reason: r.reason, detail: r.detail };
    if (!(types as readonly string[]).includes(r.envelope.type)) {
      return {
        kind: "dead-letter",
        reason: "validation-failed",
        detail: `/type: expected ${types.join(" or ")}, got ${r.envelope.type}`,
      };
    }
    return handler(r.envelope as EnvelopeOf<T>, msg);
  };
}

/**
 * Adapts a handler of decoded envelopes to the Bus: a message that fails to
 * decode or validate (or is of another type than `type`) is dead-lettered with
 * the reason and detail; the handler never sees it.
 */
export function envelopeHandler<T extends EnvelopeType>(
  type: T,
  handler: (envelope: EnvelopeOf<T>, msg: IncomingMessage) => Promise<HandlerOutcome>,
): (msg: IncomingMessage) => Promise<HandlerOutcome> {
  return async (msg) => {
    const own = ownEnvelope(msg);
    if (own && own.type === type) return handler(own as EnvelopeOf<T>, msg);
    const r = decodeEnvelope(msg.value, type);
    if (!r.ok) return { kind: "dead-letter", reason: r.reason, detail: r.detail };
    return handler(r.envelope, msg);
  };
}
