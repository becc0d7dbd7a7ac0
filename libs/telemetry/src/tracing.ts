/**
 * Tracing: the spans danesweep's stages make, over the OpenTelemetry API.
 *
 * A `Tracing` is handed to what should trace (the stage shells, the seed
 * stage, the runtime); code that was given none makes no span, reads no
 * header and allocates nothing for tracing: with no exporter configured
 * (sdk.ts) nobody gets one, so the embedded default pays nothing.
 *
 * Trace context travels as W3C trace context (`traceparent`, `tracestate`)
 * in the message headers, on Kafka and on the in-memory bus alike:
 * - `send(topic, key, attrs)`: the root span of a domain's trace, made where
 *   the domain enters the pipeline (seeding); kind PRODUCER.
 * - `process(msg, attrs)`: a CONSUMER span for a message being handled, the
 *   child of the span whose context the message's headers carry (a root
 *   span when they carry none or a malformed one).
 * - `headers(span)`: that span's context as headers, for the messages it
 *   sends; `link(headers)`: a message's context as a span link (fan-in: a
 *   probe shared by several domains, a store batch of many domains).
 * - `child(parent, name, attrs, opts)`: a span under another, explicitly
 *   parented (never from the active context, which interleaves between the
 *   many messages a stage handles at once).
 * - `active(span, fn)`: runs fn with the span active, so instrumented
 *   libraries (pg) parent their spans to it.
 * - `batch(name, links, attrs, fn)`: a root span for work done for many
 *   traces at once (a store batch), linked to each; fn runs with it active.
 * - `end(span, error?)`: ends a span, marking it failed when `error` is
 *   given (error.type: the error's code, else its name).
 * Attribute names: semconv.ts.
 */
import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type TimeInput,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { ATTR } from "./semconv.ts";

export type { Attributes, Link, Span };
export { SpanKind };

export type Headers = Record<string, string>;

/** What `process` needs of a message (libs/bus IncomingMessage has it). */
export interface TracedMessage {
  topic: string;
  key: string;
  headers: Headers;
  partition?: number;
  offset?: string;
}

export interface ChildOptions {
  kind?: SpanKind;
  startTime?: TimeInput;
  links?: Link[];
}

const getter: TextMapGetter<Headers> = {
  keys: (h) => Object.keys(h),
  get: (h, k) => h[k],
};
const setter: TextMapSetter<Headers> = {
  set: (h, k, v) => {
    h[k] = v;
  },
};

/** The active span's trace and span ids (for log lines), if a valid span is active. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const c = trace.getActiveSpan()?.spanContext();
  if (!c || !isSpanContextValid(c)) return undefined;
  return { trace_id: c.traceId, span_id: c.spanId };
}

/** The trace and span ids a message's traceparent header names (for log lines about it). */
export function messageTraceIds(
  headers: Headers | undefined,
): { trace_id: string; span_id: string } | undefined {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(headers?.traceparent ?? "");
  return m ? { trace_id: m[1] as string, span_id: m[2] as string } : undefined;
}

/** The code of an error (StoreError, ProberConfigError...), else its name, else "error". */
export function errorType(e: unknown): string {
  const err = e as { code?: unknown; name?: unknown } | undefined;
  if (typeof err?.code === "string") return err.code;
  if (typeof err?.name === "string") return err.name;
  return "error";
}

export class Tracing {
  readonly tracer: Tracer;
  /** messaging.system of the bus the spans describe ("kafka", or "in-memory" for the embedded run). */
  readonly system: string;
  readonly #propagator = new W3CTraceContextPropagator();

  constructor(tracer: Tracer, o: { messagingSystem: string }) {
    this.tracer = tracer;
    this.system = o.messagingSystem;
  }

  /** The context carried by a message's headers (the root context when they carry none). */
  extract(headers: Headers | undefined): Context {
    if (!headers || headers.traceparent === undefined) return ROOT_CONTEXT;
    return this.#propagator.extract(ROOT_CONTEXT, headers, getter);
  }

  /** A span's context as message headers (traceparent, and tracestate when it has one). */
  headers(span: Span): Headers {
    const h: Headers = {};
    this.#propagator.inject(trace.setSpan(ROOT_CONTEXT, span), h, setter);
    return h;
  }

  /** A message's trace context as a span link, if it carries one. */
  link(headers: Headers | undefined, attributes?: Attributes): Link | undefined {
    const sc = trace.getSpanContext(this.extract(headers));
    if (!sc) return undefined;
    return attributes ? { context: sc, attributes } : { context: sc };
  }

  /** The root span of a domain's trace: the message that brings it into the pipeline. */
  send(topic: string, key: string, attrs: Attributes = {}): Span {
    return this.tracer.startSpan(
      `send ${topic}`,
      {
        kind: SpanKind.PRODUCER,
        root: true,
        attributes: {
          [ATTR.messagingSystem]: this.system,
          [ATTR.messagingOperationType]: "send",
          [ATTR.messagingOperationName]: "send",
          [ATTR.messagingDestination]: topic,
          [ATTR.messagingKafkaKey]: key,
          ...attrs,
        },
      },
      ROOT_CONTEXT,
    );
  }

  /** A CONSUMER span for handling `msg`, child of the context its headers carry. */
  process(msg: TracedMessage, attrs: Attributes = {}, links?: Link[]): Span {
    const a: Attributes = {
      [ATTR.messagingSystem]: this.system,
      [ATTR.messagingOperationType]: "process",
      [ATTR.messagingOperationName]: "process",
      [ATTR.messagingDestination]: msg.topic,
      [ATTR.messagingKafkaKey]: msg.key,
      ...attrs,
    };
    if (msg.partition !== undefined) a[ATTR.messagingPartition] = String(msg.partition);
    if (msg.offset !== undefined) a[ATTR.messagingKafkaOffset] = msg.offset;
    return this.tracer.startSpan(
      `process ${msg.topic}`,
      links ? { kind: SpanKind.CONSUMER, attributes: a, links } : { kind: SpanKind.CONSUMER, attributes: a },
      this.extract(msg.headers),
    );
  }

  /** A span under `parent` (explicitly: never the active context). */
  child(parent: Span, name: string, attrs: Attributes = {}, o: ChildOptions = {}): Span {
    return this.tracer.startSpan(
      name,
      {
        kind: o.kind ?? SpanKind.INTERNAL,
        attributes: attrs,
        ...(o.startTime !== undefined ? { startTime: o.startTime } : {}),
        ...(o.links ? { links: o.links } : {}),
      },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
  }

  /** Runs fn with `span` active (instrumented libraries parent their spans to it). */
  active<T>(span: Span, fn: () => T): T {
    return context.with(trace.setSpan(ROOT_CONTEXT, span), fn);
  }

  /**
   * Work done for many traces at once (a store batch): a root span linked to
   * each, active while fn runs, ended when it settles (failed if it throws).
   */
  async batch<T>(name: string, links: Link[], attrs: Attributes, fn: () => Promise<T>): Promise<T> {
    const span = this.tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL, root: true, attributes: attrs, links },
      ROOT_CONTEXT,
    );
    try {
      const out = await this.active(span, fn);
      span.end();
      return out;
    } catch (e) {
      this.end(span, e);
      throw e;
    }
  }

  /** Ends a span; with an error, marks it failed (error.type, status message). */
  end(span: Span, error?: unknown, endTime?: TimeInput): void {
    if (error !== undefined) {
      span.setAttribute(ATTR.errorType, errorType(error));
      const message = (error as { message?: unknown })?.message;
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: typeof message === "string" ? message.slice(0, 300) : String(error).slice(0, 300),
      });
    }
    span.end(endTime);
  }

  /**
   * Ends a span by a bus handler's outcome: "ack" is fine; "retry" and
   * "dead-letter" mark it failed with the reason as error.type.
   */
  endOutcome(span: Span, outcome: { kind: string; reason?: string; detail?: string }): void {
    if (outcome.kind !== "ack") {
      span.setAttribute(ATTR.errorType, outcome.reason ?? outcome.kind);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: `${outcome.kind}${outcome.detail ? `: ${outcome.detail.slice(0, 300)}` : ""}`,
      });
    }
    span.end();
  }
}
