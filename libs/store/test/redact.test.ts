/**
 * Secrets kept out of what people read (src/redact.ts): URL passwords, the
 * values of secret-named options, secret query parameters; a command line
 * as one printable, bounded line (owner.json, error messages).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { commandLine, redactUrl } from "../src/redact.ts";

test("a URL's password is masked wherever it stands; the user, host and the rest stay", () => {
  assert.equal(
    redactUrl("postgres://scanner:s3cret@db.example:5432/ds"),
    "postgres://scanner:***@db.example:5432/ds",
  );
  assert.equal(
    redactUrl("--writer=postgresql://u:p%40ss@h/db and https://a:b@c.example/"),
    "--writer=postgresql://u:***@h/db and https://a:***@c.example/",
  );
  assert.equal(redactUrl("postgres://u@h/db"), "postgres://u@h/db");
  assert.equal(redactUrl("host:port"), "host:port");
});

test("a command line: secrets masked, odd arguments quoted, the whole bounded", () => {
  assert.equal(
    commandLine(["danesweep", "serve", "--data", "/var/lib/ds", "--port", "8080"]),
    "danesweep serve --data /var/lib/ds --port 8080",
  );
  assert.equal(
    commandLine([
      "svc",
      "--database-url",
      "postgres://u:pw@h/db",
      "--api-token",
      "abc123",
      "--db-password=xyz",
    ]),
    "svc --database-url postgres://u:***@h/db --api-token *** --db-password=***",
  );
  // A secret-named flag followed by another option takes no value: nothing else is hidden.
  assert.equal(
    commandLine(["danesweep", "serve", "--read-token", "--port", "0"]),
    "danesweep serve --read-token --port 0",
  );
  assert.equal(
    commandLine(["x", "postgres://h/db?sslmode=require&password=pw"]),
    "x postgres://h/db?sslmode=require&password=***",
  );
  // Spaces, quotes and control characters are quoted, escapes and all: one line, nothing for a terminal to act on.
  assert.equal(
    commandLine(["danesweep", "scan", "-f", "my list.txt", "a\u001b[2Jb"]),
    'danesweep scan -f "my list.txt" "a\\u001b[2Jb"',
  );
  const long = commandLine(["danesweep", "scan", ...Array.from({ length: 200 }, (_, i) => `d${i}.example`)]);
  assert.equal(long.length, 300);
  assert.ok(long.startsWith("danesweep scan d0.example d1.example"));
  assert.ok(long.endsWith("..."));
  assert.equal(commandLine(["a", "b"], 300), "a b");
});
