/**
 * The prober end to end against the SMTP test servers (test/smtp) and a few
 * crafted servers, on 127.0.0.0/8 with ephemeral ports and certificates made
 * here with the openssl CLI. Each server mode must give its status within the
 * deadline, with the bytes read bounded; the policy and the limits must hold.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { type ProbeFacts, probeKeyString } from "@danesweep/dane";
import {
  type CertChain,
  type Mode,
  makeCertChain,
  type SmtpServerHandle,
  startSmtpServer,
} from "@danesweep/test-smtp";
// the resolver and its scripted DNS server, to take the probe key from a real DNS answer
import { StubResolver } from "../../dns/src/index.ts";
import { respond, startFakeServer } from "../../dns/test/fake-server.ts";
import {
  type ProbeRequest,
  Prober,
  ProberConfigError,
  type ProberOptions,
  parseOptOutList,
} from "../src/index.ts";

const EHLO = "scanner.danesweep.test";
let chain: CertChain;
let unrelated: CertChain;
const servers: SmtpServerHandle[] = [];

before(() => {
  chain = makeCertChain({ length: 3, names: ["mx.test"] });
  unrelated = makeCertChain({ names: ["other.test"] });
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function server(mode: Mode, extra: Partial<Parameters<typeof startSmtpServer>[0]> = {}) {
  const s = await startSmtpServer({
    host: "127.0.0.1",
    port: 0,
    mode,
    key: chain.key,
    cert: chain.cert,
    ...extra,
  });
  servers.push(s);
  return s;
}

function prober(o: Partial<ProberOptions> = {}) {
  return new Prober({
    ehloName: EHLO,
    allowPrivate: true,
    perIpRate: 1000,
    perIpBurst: 1000,
    perIpConcurrency: 100,
    commandTimeoutMs: 1000,
    deadlineMs: 2500,
    ...o,
  });
}

const req = (s: { port: number; host?: string }, sni = "mx.test"): ProbeRequest => ({
  ip: s.host ?? "127.0.0.1",
  port: s.port,
  sni,
  mxHost: "mx.test",
});

async function timed(p: Prober, r: ProbeRequest): Promise<{ f: ProbeFacts; ms: number }> {
  const t = performance.now();
  const f = await p.probe(r);
  return { f, ms: performance.now() - t };
}

const ALLOWED_COMMANDS = new Set(["EHLO", "HELO", "STARTTLS", "QUIT"]);
function assertPolite(s: SmtpServerHandle) {
  for (const log of s.sessions()) {
    assert.equal(log.forbidden, false);
    for (const c of log.commands) assert.ok(ALLOWED_COMMANDS.has(c), `sent ${c}`);
  }
}

test("starttls: TLS facts, the chain exactly as sent, SNI, EHLO name, QUIT", async () => {
  const s = await server("starttls");
  const p = prober();
  const { f, ms } = await timed(p, req(s, "MX.Test."));
  assert.equal(f.status, "tls-ok", f.detail);
  assert.equal(f.sni, "mx.test");
  assert.equal(f.banner?.code, 220);
  assert.equal(f.ehlo?.verb, "EHLO");
  assert.ok(f.ehlo?.keywords.includes("STARTTLS"));
  assert.deepEqual(f.starttls, {
    offered: true,
    accepted: true,
    reply: { code: 220, lines: ["2.0.0 Ready to start TLS"] },
  });
  assert.equal(f.tls?.version, "TLSv1.3");
  assert.match(f.tls?.cipher ?? "", /^TLS_/);
  assert.ok(f.tls?.group);
  assert.deepEqual(f.tls?.chain, chain.base64); // leaf, intermediate, root as the server sent them
  assert.equal(f.tls?.chainTruncated, undefined);
  assert.equal(f.quit, true);
  for (const k of ["connectMs", "bannerMs", "ehloMs", "starttlsMs", "tlsMs"] as const) {
    assert.equal(typeof f.timings[k], "number", k);
  }
  assert.ok(f.timings.totalMs <= ms + 1);
  assert.ok(!Number.isNaN(Date.parse(f.startedAt)));
  const log = s.sessions().at(-1)!;
  assert.equal(log.servername, "mx.test");
  assert.deepEqual(log.commands, ["EHLO", "STARTTLS", "QUIT"]);
  assertPolite(s);
  await p.close();
});

test("the chain is recorded in the server's order with duplicates and strays, not rebuilt", async () => {
  const [leaf, int, root] = chain.pems;
  const sent = [leaf!, root!, unrelated.pems[0]!, int!, int!];
  const s = await server("starttls", { cert: sent.join("") });
  const p = prober();
  const f = await p.probe(req(s));
  assert.equal(f.status, "tls-ok", f.detail);
  const b64 = (pem: string) =>
    Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64");
  assert.deepEqual(f.tls?.chain, sent.map(b64));
  await p.close();
});

test("each server mode gives its status within the deadline, with bounded reads", async () => {
  const p = prober({ maxLineBytes: 1000, maxLinesPerReply: 100, maxChainCerts: 20 });
  const cases: {
    mode: Mode;
    status: ProbeFacts["status"];
    check?: (f: ProbeFacts, s: SmtpServerHandle) => void;
  }[] = [
    {
      mode: "plain",
      status: "starttls-not-offered",
      check: (f) => {
        assert.deepEqual(f.starttls, { offered: false, accepted: false });
        assert.ok(f.ehlo?.keywords.includes("X-STARTTLS-DECOY"));
        assert.match(f.ehlo?.lines[0] ?? "", /STARTTLS/); // in the greeting, which is no keyword
        assert.equal(f.quit, true);
      },
    },
    {
      mode: "refuse-starttls",
      status: "starttls-refused",
      check: (f) => {
        assert.equal(f.starttls?.accepted, false);
        assert.equal(f.starttls?.reply?.code, 454);
        assert.equal(f.tls, undefined);
      },
    },
    {
      mode: "garbage-tls",
      status: "tls-handshake-failed",
      check: (f) => assert.equal(f.starttls?.accepted, true),
    },
    {
      mode: "reset-after-starttls",
      status: "tls-handshake-failed",
      check: (f) => assert.equal(f.starttls?.accepted, true),
    },
    {
      mode: "banner-5xx",
      status: "banner-rejected",
      check: (f, s) => {
        assert.equal(f.banner?.code, 554);
        assert.equal(f.ehlo, undefined);
        assert.deepEqual(s.sessions().at(-1)!.commands, ["QUIT"]);
      },
    },
    { mode: "tls12-only", status: "tls-ok", check: (f) => assert.equal(f.tls?.version, "TLSv1.2") },
    {
      mode: "long-chain",
      status: "tls-ok",
      check: (f) => {
        assert.equal(f.tls?.chain.length, 20);
        assert.equal(f.tls?.chainTruncated, true);
      },
    },
    {
      mode: "helo-only",
      status: "starttls-not-offered",
      check: (f, s) => {
        assert.equal(f.ehlo?.verb, "HELO");
        assert.deepEqual(s.sessions().at(-1)!.commands, ["EHLO", "HELO", "QUIT"]);
      },
    },
    {
      mode: "huge-line",
      status: "protocol-error",
      check: (f) => {
        assert.match(f.detail ?? "", /line-too-long/);
        // the server would send 64 MiB; the probe stops after one socket read past the cap
        assert.ok(f.io!.bytesRead < 1000 + 2 * 65536, `read ${f.io!.bytesRead}`);
      },
    },
    {
      mode: "endless-ehlo",
      status: "protocol-error",
      check: (f) => {
        assert.match(f.detail ?? "", /too-many-lines/);
        assert.ok(f.io!.bytesRead < 100 * 1000 + 2 * 65536, `read ${f.io!.bytesRead}`);
      },
    },
  ];
  for (const c of cases) {
    const s = await server(
      c.mode,
      c.mode === "long-chain" ? { key: undefined, cert: undefined, chainLength: 50 } : {},
    );
    const { f, ms } = await timed(p, req(s));
    assert.equal(f.status, c.status, `${c.mode}: ${f.detail}`);
    assert.ok(ms < 2500 + 500, `${c.mode} took ${ms} ms`);
    c.check?.(f, s);
    assertPolite(s);
  }
  await p.close();
});

test("slow banner: io-timeout at the command timeout, deadline-exceeded at the deadline", async () => {
  const s = await server("slow-banner", { bannerDelayMs: 10_000 });
  const a = await timed(prober({ commandTimeoutMs: 400, deadlineMs: 5000 }), req(s));
  assert.equal(a.f.status, "io-timeout");
  assert.ok(a.ms >= 390 && a.ms < 1400, `${a.ms}`);
  const b = await timed(prober({ commandTimeoutMs: 5000, deadlineMs: 600 }), req(s));
  assert.equal(b.f.status, "deadline-exceeded");
  assert.ok(b.ms >= 590 && b.ms < 1600, `${b.ms}`);
  assert.equal(typeof b.f.timings.connectMs, "number"); // partial evidence kept
});

test("endless EHLO against a byte cap: protocol-error, reads bounded", async () => {
  const s = await server("endless-ehlo");
  const p = prober({ maxLinesPerReply: 1_000_000, maxBytesRead: 200_000 });
  const { f, ms } = await timed(p, req(s));
  assert.equal(f.status, "protocol-error");
  assert.match(f.detail ?? "", /too-many-bytes/);
  assert.ok(f.io!.bytesRead < 200_000 + 2 * 65536, `read ${f.io!.bytesRead}`);
  assert.ok(ms < 3000);
});

test("multi-line banner kept whole", async () => {
  const s = await server("plain", { banner: "mx.test ESMTP\nsecond line\nthird line" });
  const f = await prober().probe(req(s));
  assert.deepEqual(f.banner, { code: 220, lines: ["mx.test ESMTP", "second line", "third line"] });
});

/** A crafted server: `script` gets the socket and the lines the client sent so far. */
async function crafted(script: (sock: net.Socket, line: string | undefined) => void) {
  const srv = net.createServer((sock) => {
    sock.on("error", () => {});
    let buf = "";
    script(sock, undefined);
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      let i = buf.indexOf("\r\n");
      while (i >= 0) {
        script(sock, buf.slice(0, i));
        buf = buf.slice(i + 2);
        i = buf.indexOf("\r\n");
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  return { port, close: () => new Promise<void>((r) => srv.close(() => r())), srv };
}

test("crafted servers: 4xx banner, non-SMTP banner, EHLO 4xx (no HELO), close mid-dialogue, data before ClientHello", async () => {
  const p = prober();
  const seen: string[] = [];
  const cases: {
    script: (s: net.Socket, l: string | undefined) => void;
    status: ProbeFacts["status"];
    detail?: RegExp;
  }[] = [
    {
      script: (s, l) =>
        l === undefined ? s.write("421 4.3.2 busy\r\n") : l === "QUIT" && s.end("221 bye\r\n"),
      status: "banner-rejected",
    },
    {
      script: (s, l) => l === undefined && s.write("HTTP/1.0 400 Bad Request\r\n\r\n"),
      status: "banner-rejected",
    },
    {
      script: (s, l) => {
        if (l !== undefined) seen.push(l);
        if (l === undefined) s.write("220 hi\r\n");
        else if (l.startsWith("EHLO")) s.write("421 4.7.0 try later\r\n");
        else if (l === "QUIT") s.end("221 bye\r\n");
        else s.write("500 what\r\n");
      },
      status: "ehlo-failed",
    },
    { script: (s, l) => (l === undefined ? s.write("220 hi\r\n") : s.end()), status: "io-reset" },
    { script: (s, l) => (l === undefined ? s.write("220 hi\r\n") : s.resetAndDestroy()), status: "io-reset" },
    {
      script: (s, l) => {
        if (l === undefined) s.write("220 hi\r\n");
        else if (l.startsWith("EHLO")) s.write("250-hi\r\n250 STARTTLS\r\n");
        else if (l === "STARTTLS") s.write("220 go ahead\r\n\x16\x03\x01 injected");
      },
      status: "tls-handshake-failed",
      detail: /before the TLS handshake/,
    },
  ];
  for (const c of cases) {
    const srv = await crafted(c.script);
    const f = await p.probe({ ip: "127.0.0.1", port: srv.port, sni: "mx.test", mxHost: "mx.test" });
    assert.equal(f.status, c.status, f.detail);
    if (c.detail) assert.match(f.detail ?? "", c.detail);
    await srv.close();
  }
  assert.deepEqual(seen, [`EHLO ${EHLO}`, "QUIT"]); // HELO only after a 5xx
  await p.close();
});

test("connect refused", async () => {
  const srv = await crafted(() => {});
  await srv.close(); // the port is now closed
  const f = await prober().probe({ ip: "127.0.0.1", port: srv.port, sni: "mx.test", mxHost: "mx.test" });
  assert.equal(f.status, "connect-refused");
  assert.equal(f.detail, "ECONNREFUSED");
});

test("private addresses refused by default without a socket, allowed with allowPrivate", async () => {
  const s = await server("plain");
  const strict = new Prober({ ehloName: EHLO });
  for (const ip of [
    "127.0.0.1",
    "::ffff:127.0.0.1",
    "10.1.2.3",
    "192.168.200.200",
    "100.64.1.1",
    "fe80::1",
    "fd00::25",
    "ff02::1",
    "198.51.100.1",
    "nonsense",
  ]) {
    const f = await strict.probe({ ip, port: s.port, sni: "mx.test", mxHost: "mx.test" });
    assert.equal(f.status, "policy-private-address", ip);
    assert.equal(f.timings.totalMs, 0);
  }
  assert.equal(s.connections(), 0);
  const f = await prober().probe(req(s));
  assert.equal(f.status, "starttls-not-offered");
  assert.equal(s.connections(), 1);
  assert.equal(strict.stats().byStatus["policy-private-address"], 10);
});

test("the opt-out list is honoured and the refusal recorded", async () => {
  const a = await server("plain", { host: "127.0.0.2" });
  const b = await server("plain", { host: "127.0.3.1" });
  const { list, errors } = parseOptOutList(
    "127.0.0.2\n127.0.3.0/24\nhost:mx.optout.test\ndomain:optout.example\n",
  );
  assert.deepEqual(errors, []);
  const p = prober({ optOut: list });
  const refused: [ProbeRequest, RegExp][] = [
    [{ ip: "127.0.0.2", port: a.port, sni: "mx.test", mxHost: "mx.test" }, /127\.0\.0\.2/],
    [{ ip: "127.0.3.1", port: b.port, sni: "mx.test", mxHost: "mx.test" }, /127\.0\.3\.0\/24/],
  ];
  for (const [r, why] of refused) {
    const f = await p.probe(r);
    assert.equal(f.status, "policy-opt-out");
    assert.match(f.detail ?? "", why);
  }
  const c = await server("plain", { host: "127.0.4.1" });
  for (const r of [
    { ip: "127.0.4.1", port: c.port, sni: "mx.test", mxHost: "MX.optout.test" },
    { ip: "127.0.4.1", port: c.port, sni: "mx.test", mxHost: "mx.test", domain: "sub.optout.example" },
  ]) {
    assert.equal((await p.probe(r)).status, "policy-opt-out");
  }
  assert.equal(a.connections() + b.connections() + c.connections(), 0);
  const ok = await p.probe({
    ip: "127.0.4.1",
    port: c.port,
    sni: "mx.test",
    mxHost: "mx.test",
    domain: "fine.example",
  });
  assert.equal(ok.status, "starttls-not-offered");
  assert.equal(c.connections(), 1);
});

test("concurrent requests for the same (ip, port, SNI) share one probe", async () => {
  const s = await server("starttls");
  const p = prober();
  const [x, y, z] = await Promise.all([p.probe(req(s)), p.probe(req(s)), p.probe(req(s, "other.test"))]);
  assert.equal(x, y);
  assert.notEqual(x, z);
  assert.equal(s.connections(), 2);
  assert.equal(p.stats().shared, 1);
  assert.equal(p.stats().inFlight, 0);
});

/**
 * A clock that only moves between macrotasks (a 2 ms interval sets it to the
 * time, in whole milliseconds): within one callback and its microtasks it
 * reads one value, so the time the token bucket granted a token and the
 * probe's startedAt (read right after the grant) are the same number.
 */
function tickingClock(): { now: () => number; stop: () => void } {
  const read = () => Math.floor(performance.timeOrigin + performance.now());
  let t = read();
  const tick = setInterval(() => {
    t = read();
  }, 2);
  return { now: () => t, stop: () => clearInterval(tick) };
}

test("rate limit: 5 probes to one IP at 2/s with burst 1 start 500 ms apart on the bucket's clock", async () => {
  const s = await server("plain");
  const clock = tickingClock();
  const p = prober({ perIpRate: 2, perIpBurst: 1, perIpConcurrency: 5, now: clock.now });
  const fs = await Promise.all([1, 2, 3, 4, 5].map((i) => p.probe(req(s, `mx${i}.test`))));
  clock.stop();
  assert.ok(fs.every((f) => f.status === "starttls-not-offered"));
  assert.equal(s.connections(), 5);
  // startedAt is the bucket's grant time: each token comes 1/rate after the last
  const starts = fs.map((f) => Date.parse(f.startedAt)).sort((x, y) => x - y);
  for (let i = 1; i < starts.length; i++) {
    assert.ok(starts[i]! - starts[i - 1]! >= 500, `gap ${starts[i]! - starts[i - 1]!} ms`);
  }
  assert.ok(starts.at(-1)! - starts[0]! >= 2000, `span ${starts.at(-1)! - starts[0]!} ms`);
});

test("per-IP and global concurrency caps hold, and are used, against servers that hold their banners", {
  timeout: 60_000,
}, async () => {
  const a = await server("starttls", { holdBanner: true, host: "127.0.0.5" });
  const b = await server("starttls", { holdBanner: true, host: "127.0.0.6" });
  const p = prober({
    perIpConcurrency: 2,
    globalConcurrency: 3,
    commandTimeoutMs: 60_000,
    deadlineMs: 120_000,
  });
  const left = { a: 5, b: 5 };
  // all of a's first: the per-IP cap, not the order, must keep a third one to a waiting
  const reqs = [
    ...[1, 2, 3, 4, 5].map((i) => ({ ip: "127.0.0.5", port: a.port, sni: `a${i}.test`, mxHost: "a.test" })),
    ...[1, 2, 3, 4, 5].map((i) => ({ ip: "127.0.0.6", port: b.port, sni: `b${i}.test`, mxHost: "b.test" })),
  ];
  const all = reqs.map((r) =>
    p.probe(r).then((f) => {
      left[r.ip === "127.0.0.5" ? "a" : "b"]--;
      return f;
    }),
  );
  // admission is decided as the requests come: a1 a2 b1 run, a3 waits for a's slot, b2 for a global one
  assert.equal(p.stats().waiting, 7);
  const rounds: string[] = [];
  while (left.a + left.b > 0) {
    // every probe the caps admit connects and waits for its banner; none can finish meanwhile
    const want = Math.min(3, Math.min(2, left.a) + Math.min(2, left.b));
    while (a.held() + b.held() < want || p.stats().active < want) await new Promise((r) => setTimeout(r, 5));
    rounds.push(`${a.held()}+${b.held()}`);
    assert.ok(a.held() <= 2 && b.held() <= 2, `per-IP: ${a.held()} and ${b.held()} at once`);
    assert.equal(a.held() + b.held(), want, "global: as many at once as the caps allow, no more");
    assert.equal(p.stats().active, want);
    assert.equal(p.stats().waiting, left.a + left.b - want);
    const released = a.releaseBanners() + b.releaseBanners();
    const target = left.a + left.b - released;
    while (left.a + left.b > target) await new Promise((r) => setTimeout(r, 5));
  }
  const fs = await Promise.all(all);
  assert.ok(
    fs.every((f) => f.status === "tls-ok"),
    fs.map((f) => f.status).join(),
  );
  assert.equal(a.connections() + b.connections(), 10);
  assert.ok(rounds.length >= 4, rounds.join(" "));
  await p.close();
});

test("SNI that is an IP literal is not sent", async () => {
  const s = await server("starttls");
  const f = await prober().probe(req(s, "127.0.0.1"));
  assert.equal(f.status, "tls-ok");
  assert.equal(s.sessions().at(-1)!.servername, undefined);
});

test("close(): waiting probes end as internal-error, new ones too", async () => {
  const s = await server("slow-banner", { bannerDelayMs: 200 });
  const p = prober({ perIpConcurrency: 1 });
  const first = p.probe(req(s, "a.test"));
  const second = p.probe(req(s, "b.test"));
  await new Promise((r) => setTimeout(r, 50));
  await p.close();
  assert.equal((await first).status, "tls-ok");
  assert.deepEqual([(await second).status, (await second).detail], ["internal-error", "prober closed"]);
  assert.equal((await p.probe(req(s, "c.test"))).status, "internal-error");
});

test("classical key-exchange groups by default (X25519 first); the hybrid post-quantum one only when asked", async () => {
  // the test server is Node's default OpenSSL 3.5 server, which prefers X25519MLKEM768 when a client offers it
  const s = await server("starttls");
  const dflt = prober();
  const a = await dflt.probe(req(s, "a.test"));
  assert.equal(a.status, "tls-ok", a.detail);
  assert.equal(a.tls?.group, "X25519");
  await dflt.close();
  const pq = prober({ groups: "X25519MLKEM768:X25519" });
  const b = await pq.probe(req(s, "b.test"));
  assert.equal(b.status, "tls-ok", b.detail);
  assert.equal(b.tls?.group, "X25519MLKEM768");
  await pq.close();
  const p256 = prober({ groups: "P-256" });
  const c = await p256.probe(req(s, "c.test"));
  assert.equal(c.tls?.group, "prime256v1");
  await p256.close();
});

test("bad options throw a typed config error", () => {
  for (const [o, field] of [
    [{ ehloName: "ok.test", groups: "X25519:no-such-group" }, "groups"],
    [{ ehloName: "ok.test", groups: "" }, "groups"],
    [{ ehloName: "ok.test", tls: { minVersion: "TLSv9" } }, "tls"],
  ] as [ProberOptions, string][]) {
    assert.throws(
      () => new Prober(o),
      (e: unknown) => e instanceof ProberConfigError && e.code === "invalid-option" && e.field === field,
      JSON.stringify(o),
    );
  }
  for (const o of [
    { ehloName: "bad\r\nMAIL FROM:<>" },
    { ehloName: "ok.test", perIpRate: 0 },
    { ehloName: "ok.test", maxChainCerts: 1.5 },
  ]) {
    assert.throws(
      () => new Prober(o as ProberOptions),
      (e: unknown) => e instanceof ProberConfigError && e.code === "invalid-option",
    );
  }
  assert.doesNotThrow(() => new Prober({ ehloName: "[192.0.2.1]" }));
});

test("IPv6 loopback: the key uses the canonical address", async () => {
  const s = await server("starttls", { host: "::1" });
  const p = prober();
  const f = await p.probe({ ip: "0:0:0:0:0:0:0:1", port: s.port, sni: "mx.test", mxHost: "mx.test" });
  assert.equal(f.ip, "::1");
  assert.equal(f.status, "tls-ok", f.detail);
  await p.close();
});

test("an AAAA of ::ffff:127.0.0.1 from a DNS answer: the facts carry the requested key exactly (issue 11)", async () => {
  // The key comes from the DNS decoder (libs/dns) as the resolver stage builds probe requests.
  const dns = await startFakeServer((q) => [
    respond(q, { answers: [{ type: "AAAA", name: q.name, ttl: 60, data: "::ffff:7f00:1" }] }),
  ]);
  const resolver = new StubResolver({ upstreams: [`127.0.0.1:${dns.port}`], timeoutMs: 2000 });
  const aaaa = await resolver.query("mx.test", "AAAA");
  await resolver.close();
  await dns.close();
  assert.equal(aaaa.outcome, "answer");
  const key = aaaa.records[0]!;
  const s = await server("starttls"); // on 127.0.0.1, reached through the v4-mapped address
  const p = prober();
  const f = await p.probe({ ip: key, port: s.port, sni: "mx.test", mxHost: "mx.test" });
  assert.equal(f.status, "tls-ok", f.detail);
  assert.equal(f.ip, key);
  assert.equal(probeKeyString(f), probeKeyString({ ip: key, port: s.port, sni: "mx.test" }));
  await p.close();
});

// ------------------------------------------------ every certificate a sender might see (issue 14, item 2)

test("a DANE host with an ECDSA and an RSA certificate: the second handshake offers RSA only and records the RSA chain", async () => {
  const rsa = makeCertChain({ names: ["mx.test"], leafKey: "rsa" });
  const s = await server("starttls", { key: [chain.key, rsa.key], cert: [chain.cert, rsa.cert] });
  const p = prober();
  const f = await p.probe({ ...req(s), alternates: true });
  assert.equal(f.status, "tls-ok", f.detail);
  // The first handshake offers ECDSA first: the server presents its ECDSA chain.
  assert.equal(f.tls?.chain[0], chain.base64[0]);
  assert.equal(f.alternates?.length, 1);
  const alt = f.alternates![0]!;
  assert.equal(alt.offered, "rsa");
  assert.equal(alt.status, "tls-ok", alt.detail);
  assert.equal(alt.tls?.chain[0], rsa.base64[0]);
  // Two SMTP sessions, each with EHLO and QUIT, never MAIL/RCPT/DATA.
  const sessions = s.sessions();
  assert.equal(sessions.length, 2);
  for (const x of sessions) {
    assert.equal(x.forbidden, false);
    assert.ok(x.commands.includes("EHLO") && x.commands.includes("QUIT"), x.commands.join(" "));
  }
  await p.close();
});

test("an ECDSA-only server: the RSA-only handshake fails and says so (no second certificate)", async () => {
  const s = await server("starttls");
  const p = prober();
  const f = await p.probe({ ...req(s), alternates: true });
  assert.equal(f.status, "tls-ok", f.detail);
  assert.equal(f.alternates?.[0]?.offered, "rsa");
  assert.equal(f.alternates?.[0]?.status, "tls-handshake-failed");
  assert.equal(f.alternates?.[0]?.tls, undefined);
  await p.close();
});

test("an RSA leaf over TLS 1.2: the second handshake offers ECDSA only; over TLS 1.3 there is none", async () => {
  const rsa = makeCertChain({ names: ["mx.test"], leafKey: "rsa" });
  const both = { key: [chain.key, rsa.key], cert: [chain.cert, rsa.cert] };
  // TLS 1.2 only, RSA-authenticated suites first: the server picks its RSA certificate.
  const p12 = prober({ tls: { maxVersion: "TLSv1.2", ciphers: "aRSA:aECDSA" } });
  const s12 = await server("starttls", both);
  const f12 = await p12.probe({ ...req(s12), alternates: true });
  assert.equal(f12.tls?.version, "TLSv1.2");
  assert.equal(f12.tls?.chain[0], rsa.base64[0]);
  assert.equal(f12.alternates?.[0]?.offered, "ecdsa");
  assert.equal(f12.alternates?.[0]?.tls?.chain[0], chain.base64[0], f12.alternates?.[0]?.detail);
  await p12.close();
  const s13 = await server("starttls", { key: rsa.key, cert: rsa.cert });
  const p13 = prober();
  const f13 = await p13.probe({ ...req(s13), alternates: true });
  assert.equal(f13.tls?.version, "TLSv1.3");
  assert.equal(f13.alternates, undefined);
  assert.equal(s13.sessions().length, 1);
  await p13.close();
});

test("without `alternates` (not a DANE host) one handshake only", async () => {
  const rsa = makeCertChain({ names: ["mx.test"], leafKey: "rsa" });
  const s = await server("starttls", { key: [chain.key, rsa.key], cert: [chain.cert, rsa.cert] });
  const p = prober();
  const f = await p.probe(req(s));
  assert.equal(f.alternates, undefined);
  assert.equal(s.sessions().length, 1);
  await p.close();
});

test("the second connection waits for the per-IP bucket like any other", async () => {
  const rsa = makeCertChain({ names: ["mx.test"], leafKey: "rsa" });
  const s = await server("starttls", { key: [chain.key, rsa.key], cert: [chain.cert, rsa.cert] });
  // A bucket of one token refilled once every 400 ms: the second session cannot start before.
  const p = prober({ perIpRate: 2.5, perIpBurst: 1, deadlineMs: 5000 });
  const start = Date.now();
  const f = await p.probe({ ...req(s), alternates: true });
  assert.equal(f.alternates?.[0]?.status, "tls-ok");
  // The bucket gives the second token 400 ms after the first at the earliest (load only delays it).
  const b = s.sessions()[1]!;
  assert.ok(
    b.acceptedAt - start >= 395,
    `second session accepted ${b.acceptedAt - start} ms after the start`,
  );
  await p.close();
});
