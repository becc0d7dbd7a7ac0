/**
 * One embedded data directory shared by several stores and processes
 * (embedded.ts): one owner serves it, the others are its clients, sessions
 * take turns a transaction at a time, the owner hands over when it closes,
 * a killed owner is replaced with nothing committed lost, and a stopped owner
 * (Ctrl-Z) is named, with how to resume it, instead of waited for for ever;
 * a new directory is copied from the template, again if a copy was cut short;
 * input cut anywhere into reads is served whole.
 */
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { openDatabase } from "../src/db.ts";
import { readOwner, socketNameOf, templatePath } from "../src/embedded.ts";
import { StoreError } from "../src/errors.ts";
import { openStore } from "../src/store.ts";

const base = mkdtempSync(join(tmpdir(), "danesweep-embedded-"));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(base, `d${n++}`);

test("a second store on the same directory is a client of the first, and sees its writes", async () => {
  const dir = freshDir();
  const a = await openStore({ dataDir: dir });
  const b = await openStore({ dataDir: dir });
  try {
    assert.equal(a.embedded?.isOwner, true);
    assert.equal(b.embedded?.isOwner, false);
    assert.equal(readOwner(dir)?.pid, process.pid);
    await a.createScan({ id: "s-share", parameters: {}, startedAt: "2026-01-01T00:00:00Z" });
    const added = await b.seedDomains("s-share", [{ domain: "x.test", line: 1 }]);
    assert.deepEqual(added, ["x.test"]);
    assert.deepEqual(await a.domainStateCounts("s-share"), { total: 1, judged: 0 });
  } finally {
    await b.close();
    await a.close();
  }
});

test("transactions of two sessions never interleave: the second waits for the first to commit", async () => {
  const dir = freshDir();
  const a = await openDatabase({ dataDir: dir });
  const b = await openDatabase({ dataDir: dir });
  try {
    await a.pool.query("create table t (v integer)");
    const ca = await a.pool.connect();
    await ca.query("begin");
    await ca.query("insert into t values (1)");
    let bDone = false;
    const bRead = b.pool.query("select count(*)::int as n from t").then((r) => {
      bDone = true;
      return r.rows[0].n as number;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(bDone, false, "a session's query ran inside another session's open transaction");
    await ca.query("insert into t values (2)");
    await ca.query("commit");
    ca.release();
    assert.equal(await bRead, 2);
  } finally {
    await b.close();
    await a.close();
  }
});

test("a client that goes away mid-transaction is rolled back and the others go on", async () => {
  const dir = freshDir();
  const a = await openDatabase({ dataDir: dir });
  const b = await openDatabase({ dataDir: dir });
  try {
    await a.pool.query("create table t (v integer)");
    const cb = await b.pool.connect();
    await cb.query("begin");
    await cb.query("insert into t values (42)");
    // The client's connection dies without COMMIT.
    cb.release(new Error("drop this connection"));
    const r = await a.pool.query("select count(*)::int as n from t");
    assert.equal(r.rows[0].n, 0);
    await a.pool.query("insert into t values (7)");
    assert.equal((await b.pool.query("select sum(v)::int as s from t")).rows[0].s, 7);
  } finally {
    await b.close();
    await a.close();
  }
});

test("when the owner closes, a client takes the directory over and keeps every committed row", async () => {
  const dir = freshDir();
  const a = await openStore({ dataDir: dir });
  const b = await openStore({ dataDir: dir });
  try {
    await a.createScan({ id: "s-hand", parameters: {}, startedAt: "2026-01-01T00:00:00Z" });
    await a.seedDomains("s-hand", [{ domain: "one.test", line: 1 }]);
    await a.close();
    assert.equal(b.embedded?.isOwner, false);
    // The next statement finds no owner, elects this process and reopens the files.
    await b.seedDomains("s-hand", [{ domain: "two.test", line: 2 }]);
    assert.equal(b.embedded?.isOwner, true);
    assert.deepEqual(await b.domainStateCounts("s-hand"), { total: 2, judged: 0 });
  } finally {
    await b.close();
    await a.close().catch(() => {});
  }
});

const child = fileURLToPath(new URL("./embedded-owner-child.ts", import.meta.url));

/** The state letter Linux gives process `pid` (/proc/PID/stat, after the command name). */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

/** Forks the owner child on `dir` and waits until it has committed its rows. */
async function ownedByChild(dir: string) {
  const ready = join(dir, "..", `${n}-ready`);
  const proc = fork(child, [dir, ready], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  for (let i = 0; i < 600; i++) {
    try {
      if (readFileSync(ready, "utf8") === "committed") break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(readFileSync(ready, "utf8"), "committed");
  return proc;
}

test("an owner killed with SIGKILL is replaced, and everything it committed is there", async () => {
  const dir = freshDir();
  // The child owns the directory and commits 500 rows, then waits.
  const proc = await ownedByChild(dir);
  try {
    const b = await openStore({ dataDir: dir });
    try {
      assert.equal(b.embedded?.isOwner, false);
      assert.equal(readOwner(dir)?.pid, proc.pid);
      assert.deepEqual(await b.domainStateCounts("s-kill"), { total: 500, judged: 0 });
      proc.kill("SIGKILL");
      await new Promise((r) => proc.once("exit", r));
      // The client's next statements elect it owner; WAL recovery keeps the committed rows.
      let counts: { total: number; judged: number } | undefined;
      for (let i = 0; i < 50 && !counts; i++) {
        counts = await b.domainStateCounts("s-kill").catch(() => undefined);
        if (!counts) await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(counts, { total: 500, judged: 0 });
      assert.equal(b.embedded?.isOwner, true);
      assert.deepEqual(await b.seedDomains("s-kill", [{ domain: "after.test", line: 501 }]), ["after.test"]);
    } finally {
      await b.close();
    }
  } finally {
    proc.kill("SIGKILL");
    writeFileSync(join(dir, "..", "done"), "");
  }
});

test("owner.json names the owner's own command line, not the serving thread's", {
  timeout: 120_000,
}, async () => {
  const dir = freshDir();
  const proc = await ownedByChild(dir);
  try {
    const o = readOwner(dir);
    assert.equal(o?.pid, proc.pid);
    assert.match(o?.command ?? "", /embedded-owner-child\.ts /);
    assert.ok(o?.command.endsWith(`-ready`), o?.command);
    assert.doesNotMatch(o?.command ?? "", /embedded-worker/);
  } finally {
    proc.kill("SIGKILL");
  }
});

test("an owner stopped with SIGSTOP: opening fails at once, naming it and how to resume it", {
  timeout: 120_000,
}, async () => {
  const dir = freshDir();
  const proc = await ownedByChild(dir);
  const pid = proc.pid as number;
  try {
    proc.kill("SIGSTOP");
    while (procState(pid) !== "T") await new Promise((r) => setTimeout(r, 20));
    // Its socket still accepts connections (the kernel does), but nothing will answer them.
    await assert.rejects(openStore({ dataDir: dir }), (e: unknown) => {
      assert.ok(e instanceof StoreError, String(e));
      assert.equal(e.code, "unavailable");
      assert.equal(e.canRetry, true);
      for (const part of [
        `pid ${pid} (`,
        "embedded-owner-child.ts",
        "stopped",
        `kill -CONT ${pid}`,
        `kill ${pid}`,
      ])
        assert.ok(e.message.includes(part), `"${part}" in: ${e.message}`);
      return true;
    });
    proc.kill("SIGCONT");
    // Resumed, it answers again: the store opens, as the owner's client, with every row.
    const b = await openStore({ dataDir: dir });
    try {
      assert.equal(b.embedded?.isOwner, false);
      assert.deepEqual(await b.domainStateCounts("s-kill"), { total: 500, judged: 0 });
    } finally {
      await b.close();
    }
  } finally {
    proc.kill("SIGCONT");
    proc.kill("SIGKILL");
  }
});

test("a new directory is a copy of the template; a copy cut short (no PG_VERSION yet) is made again", async () => {
  const template = templatePath();
  assert.ok(
    existsSync(join(template, "PG_VERSION")),
    `no template at ${template}: scripts/setup.sh builds it`,
  );
  const dir = freshDir();
  // What a copy killed half-way leaves: some of the files, one of them cut off, and no PG_VERSION.
  mkdirSync(join(dir, "global"), { recursive: true });
  writeFileSync(join(dir, "global", "pg_control"), "");
  writeFileSync(join(dir, "postgresql.conf"), "# cut off");
  const a = await openStore({ dataDir: dir });
  try {
    assert.equal(
      readFileSync(join(dir, "PG_VERSION"), "utf8"),
      readFileSync(join(template, "PG_VERSION"), "utf8"),
    );
    assert.equal(
      statSync(join(dir, "global", "pg_control")).size,
      statSync(join(template, "global", "pg_control")).size,
    );
    await a.createScan({ id: "s-template", parameters: {}, startedAt: "2026-01-01T00:00:00Z" });
    assert.deepEqual(await a.seedDomains("s-template", [{ domain: "x.test", line: 1 }]), ["x.test"]);
  } finally {
    await a.close();
  }
});

test("a message header cut across two reads: the store's thread reads on and answers every query", async () => {
  const dir = freshDir();
  const a = await openStore({ dataDir: dir });
  const sock = netConnect({ path: socketNameOf(dir) });
  try {
    await once(sock, "connect");
    // Counts ReadyForQuery ('Z') messages: one after the startup, one after each query.
    let ready = 0;
    let input = Buffer.alloc(0);
    sock.on("data", (c: Buffer) => {
      input = Buffer.concat([input, c]);
      while (input.length >= 5 && input.length >= 1 + input.readInt32BE(1)) {
        if (input[0] === 0x5a) ready++;
        input = input.subarray(1 + input.readInt32BE(1));
      }
    });
    const readyFor = async (n: number) => {
      const until = Date.now() + 10_000;
      while (ready < n && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.equal(ready, n, "ReadyForQuery messages");
    };
    const params = Buffer.from("user\0postgres\0database\0postgres\0\0");
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4); // protocol 3.0
    params.copy(startup, 8);
    sock.write(startup);
    await readyFor(1);
    const query = (text: string) => {
      const body = Buffer.from(`${text}\0`);
      const m = Buffer.alloc(5 + body.length);
      m[0] = 0x51; // 'Q'
      m.writeInt32BE(4 + body.length, 1);
      body.copy(m, 5);
      return m;
    };
    const [q1, q2, q3] = [query("select 1"), query("select 2"), query("select 3")];
    // The first read ends 3 bytes into the second query's 5-byte header; the second read holds
    // the rest of it and a whole third query.
    sock.write(Buffer.concat([q1, q2.subarray(0, 3)]));
    await readyFor(2);
    sock.write(Buffer.concat([q2.subarray(3), q3]));
    await readyFor(4);
    // And the store's own sessions are served as before.
    await a.createScan({ id: "s-cut", parameters: {}, startedAt: "2026-01-01T00:00:00Z" });
    assert.deepEqual(await a.seedDomains("s-cut", [{ domain: "x.test", line: 1 }]), ["x.test"]);
  } finally {
    sock.destroy();
    await a.close();
  }
});
