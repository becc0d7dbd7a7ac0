/**
 * The smtp-servers CLI: starts every server in the config, prints their ports,
 * records accepted connections when asked, rejects a bad config with exit 2,
 * and exits 0 on SIGTERM.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Prober } from "@danesweep/probe";
import { makeCertChain } from "../src/server.ts";

const cli = fileURLToPath(new URL("../bin/smtp-servers.ts", import.meta.url));

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

test("a bad config exits 2 with the reason", () => {
  const dir = mkdtempSync(join(tmpdir(), "ds-smtp-cli-"));
  try {
    writeFileSync(
      join(dir, "bad.json"),
      JSON.stringify({ servers: [{ host: "127.0.0.1", port: 0, mode: "nope" }] }),
    );
    const r = spawnSync(process.execPath, [cli, "--config", join(dir, "bad.json")], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown mode "nope"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
