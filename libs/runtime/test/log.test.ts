import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "../src/log.ts";

test("JSON lines: level name, ISO time, service, message, child fields, errors as code/name/message", () => {
  const lines: string[] = [];
  const log = createLogger({ service: "svc", level: "info", write: (l) => lines.push(l), now: () => 0 });
  log.debug("hidden");
  const e = Object.assign(new Error("nope"), { code: "unavailable" });
  log.child({ scan: "S" }).warn("failed", { error: e, n: 10n });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.endsWith("\n"));
  assert.deepEqual(JSON.parse(lines[0]!), {
    time: "1970-01-01T00:00:00.000Z",
    level: "warn",
    service: "svc",
    msg: "failed",
    scan: "S",
    error: { code: "unavailable", name: "Error", message: "nope" },
    n: "10",
  });
});

test("with traceIds, a line written inside a span carries its trace and span ids; others none", () => {
  const lines: string[] = [];
  let active: { trace_id: string; span_id: string } | undefined;
  const log = createLogger({ service: "svc", write: (l) => lines.push(l), traceIds: () => active });
  log.info("outside");
  active = { trace_id: "0af7651916cd43dd8448eb211c80319c", span_id: "b7ad6b7169203331" };
  log.info("inside", { k: 1 });
  const [outside, inside] = lines.map((l) => JSON.parse(l));
  assert.equal(outside.trace_id, undefined);
  assert.equal(inside.trace_id, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(inside.span_id, "b7ad6b7169203331");
  assert.equal(inside.k, 1);
});
