/**
 * Envelope codec: round trips of every envelope type, and each dead-letter
 * reason for text that is not a valid envelope.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { HEADER, type IncomingMessage } from "../src/bus.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  envelopeHandler,
  envelopeMessage,
  makeEnvelope,
  scanOfText,
  tryEncodeEnvelope,
} from "../src/envelope.ts";
import { domainFacts, probeFacts, verdictRecord } from "./fixtures.ts";

const scan = "01HZX0SCAN";

test("every envelope type round-trips unchanged", () => {
  const cases = [
    makeEnvelope("domain", scan, { domain: "example.org", line: 3, input: "Example.ORG." }),
    makeEnvelope("dns-facts", scan, { facts: domainFacts() }, { id: "m-1" }),
    makeEnvelope("probe-request", scan, {
      ip: "2001:db8::25",
      port: 25,
      sni: "mx.example.org",
      mxHost: "mx.example.org",
      domain: "example.org",
    }),
    makeEnvelope(
      "probe-result",
      scan,
      { domain: "example.org", facts: probeFacts() },
      { trace: { traceparent: "00-abc-def-01" } },
    ),
    makeEnvelope("probe-ref", scan, {
      domain: "example.org",
      ip: "192.0.2.25",
      port: 25,
      sni: "mx.example.org",
    }),
    makeEnvelope("verdict", scan, { record: verdictRecord() }),
  ];
  for (const env of cases) {
    const text = encodeEnvelope(env.type, env.scan, env.body as never, { id: env.id, trace: env.trace });
    const r = decodeEnvelope(text);
    assert.equal(r.ok, true, `${env.type}: ${r.ok ? "" : r.detail}`);
    assert.ok(r.ok);
    assert.deepEqual(r.envelope, JSON.parse(JSON.stringify(env)));
    assert.equal(r.envelope.v, 1);
  }
});

test("text that is not JSON, or JSON that is not an object, fails decoding", () => {
  for (const text of ["", "{", "not json", "\u0000"]) {
    const r = decodeEnvelope(text);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.reason, "decode-failed", text);
  }
  for (const text of ["null", "42", '"x"', "[1,2]"]) {
    const r = decodeEnvelope(text);
    assert.ok(!r.ok);
    assert.equal(r.reason, "decode-failed", text);
  }
});

test("an envelope of another version is unsupported-version", () => {
  const env = { ...makeEnvelope("domain", scan, { domain: "example.org" }), v: 2 };
  const r = decodeEnvelope(JSON.stringify(env));
  assert.ok(!r.ok);
  assert.equal(r.reason, "unsupported-version");
  const missing = decodeEnvelope(JSON.stringify({ type: "domain", scan, body: { domain: "example.org" } }));
  assert.ok(!missing.ok);
  assert.equal(missing.reason, "unsupported-version");
});

test("schema violations are validation-failed and name the path", () => {
  const unknownType = decodeEnvelope(JSON.stringify({ v: 1, type: "gossip", scan, body: {} }));
  assert.ok(!unknownType.ok);
  assert.equal(unknownType.reason, "validation-failed");
  assert.match(unknownType.detail, /\/type/);

  const badPort = JSON.stringify(
    makeEnvelope("probe-request", scan, {
      ip: "192.0.2.1",
      port: 99999,
      sni: "mx.example.org",
      mxHost: "mx.example.org",
      domain: "example.org",
    }),
  );
  const r = decodeEnvelope(badPort);
  assert.ok(!r.ok);
  assert.equal(r.reason, "validation-failed");
  assert.match(r.detail, /\/body\/port/);

  const noScan = decodeEnvelope(JSON.stringify({ v: 1, type: "domain", body: { domain: "example.org" } }));
  assert.ok(!noScan.ok);
  assert.equal(noScan.reason, "validation-failed");
  assert.match(noScan.detail, /\/scan/);

  const f = probeFacts();
  const badFacts = decodeEnvelope(
    JSON.stringify(
      makeEnvelope("probe-result", scan, { domain: "example.org", facts: { ...f, status: "nope" as never } }),
    ),
  );
  assert.ok(!badFacts.ok);
  assert.match(badFacts.detail, /\/body\/facts\/status/);

  const badRef = decodeEnvelope(
    JSON.stringify(
      makeEnvelope("probe-ref", scan, { domain: "example.org", ip: "mx.example.org", port: 25, sni: "" }),
    ),
  );
  assert.ok(!badRef.ok);
  assert.equal(badRef.reason, "validation-failed");
  assert.match(badRef.detail, /\/body\/ip/);
});

test("decode with an expected type rejects other types", () => {
  const text = encodeEnvelope("domain", scan, { domain: "example.org" });
  assert.equal(decodeEnvelope(text, "domain").ok, true);
  const r = decodeEnvelope(text, "verdict");
  assert.ok(!r.ok);
  assert.equal(r.reason, "validation-failed");
});

test("tryEncodeEnvelope validates untyped bodies", () => {
  assert.equal(tryEncodeEnvelope("domain", scan, { domain: "example.org" }).ok, true);
  const r = tryEncodeEnvelope("domain", scan, { domain: "EXAMPLE.org." });
  assert.ok(!r.ok);
  assert.match(r.detail, /\/body\/domain/);
});

test("envelopeMessage sets the schema and traceparent headers", () => {
  const env = makeEnvelope(
    "domain",
    scan,
    { domain: "example.org" },
    { trace: { traceparent: "00-t-s-01" } },
  );
  const m = envelopeMessage("danesweep.domains", "example.org", env);
  assert.equal(m.headers?.[HEADER.schema], "danesweep.domain.v1");
  assert.equal(m.headers?.[HEADER.traceparent], "00-t-s-01");
  assert.equal(m.key, "example.org");
});

test("envelopeHandler dead-letters what does not decode and passes typed envelopes on", async () => {
  const seen: string[] = [];
  const h = envelopeHandler("domain", async (env) => {
    seen.push(env.body.domain);
    return { kind: "ack" };
  });
  const msg = (value: string): IncomingMessage => ({
    topic: "t",
    key: "k",
    value,
    headers: {},
    partition: 0,
    offset: "0",
  });
  assert.deepEqual(await h(msg(encodeEnvelope("domain", scan, { domain: "example.org" }))), { kind: "ack" });
  const dl = await h(msg("{garbage"));
  assert.equal(dl.kind, "dead-letter");
  assert.ok(dl.kind === "dead-letter");
  assert.equal(dl.reason, "decode-failed");
  const wrong = await h(msg(encodeEnvelope("verdict", scan, { record: verdictRecord() })));
  assert.ok(wrong.kind === "dead-letter");
  assert.equal(wrong.reason, "validation-failed");
  assert.deepEqual(seen, ["example.org"]);
});

test("scanOfText: the scan of an envelope's text; undefined for text that is not JSON or has no scan", () => {
  const text = encodeEnvelope("domain", "scan-1", { domain: "example.org" });
  assert.equal(scanOfText(text), "scan-1");
  assert.equal(scanOfText("not json"), undefined);
  assert.equal(scanOfText("null"), undefined);
  assert.equal(scanOfText('{"scan":7}'), undefined);
});
