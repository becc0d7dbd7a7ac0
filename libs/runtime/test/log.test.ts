import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "../src/log.ts";

test("JSON lines with time, level, service, message, child fields, errors as code/name/message", () => {
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
