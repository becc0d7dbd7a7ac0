/**
 * The SMTP test servers' CLI (test/smtp/bin/smtp-servers.ts, as the testbed
 * runs it) and the prober together: the CLI starts every server of its config
 * and prints their ports, a real probe of the STARTTLS server gets the chain
 * the config names, the server records the connection it accepted (and the
 * one never contacted records none), and SIGTERM stops the CLI with exit 0.
 * It lives here rather than in test/smtp so that test/smtp does not depend on
 * libs/probe (whose tests use its servers).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeCertChain } from "@danesweep/test-smtp";
import { Prober } from "../src/index.ts";

const cli = fileURLToPath(new URL("../../../test/smtp/bin/smtp-servers.ts", import.meta.url));

test("starts the configured servers, records connections, stops on SIGTERM", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ds-smtp-cli-"));
  try {
    const c = makeCertChain({ length: 2, names: ["mx.cli.test"] });
    writeFileSync(join(dir, "chain.pem"), c.cert);
    writeFileSync(join(dir, "leaf.key"), c.key);
    writeFileSync(
      join(dir, "servers.json"),
      JSON.stringify({
        servers: [
          {
            host: "127.0.0.1",
            port: 0,
            mode: "starttls",
            certFile: "chain.pem",
            keyFile: "leaf.key",
            recordFile: "a.log",
          },
          { host: "127.0.9.9", port: 0, mode: "plain", recordFile: "b.log" },
        ],
      }),
    );
    const child = spawn(process.execPath, [cli, "--config", join(dir, "servers.json")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const events: { event: string; host?: string; port?: number; mode?: string }[] = [];
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) {
      events.push(JSON.parse(line));
      if (events.at(-1)!.event === "ready") break;
    }
    assert.deepEqual(
      events.map((e) => [e.event, e.host, e.mode]),
      [
        ["listening", "127.0.0.1", "starttls"],
        ["listening", "127.0.9.9", "plain"],
        ["ready", undefined, undefined],
      ],
    );
    const p = new Prober({ ehloName: "scanner.test", allowPrivate: true });
    const f = await p.probe({
      ip: "127.0.0.1",
      port: events[0]!.port!,
      sni: "mx.cli.test",
      mxHost: "mx.cli.test",
    });
    assert.equal(f.status, "tls-ok", f.detail);
    assert.deepEqual(f.tls?.chain, c.base64);
    await p.close();
    const rec = readFileSync(join(dir, "a.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(rec.length, 1);
    assert.equal(rec[0].local, `127.0.0.1:${events[0]!.port}`);
    assert.throws(() => readFileSync(join(dir, "b.log")), /ENOENT/); // never contacted
    const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    assert.equal(await exit, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
