/**
 * The MTA-STS policy fetch (https.ts through Prober.probe with kind
 * "mta-sts-policy") against real HTTPS servers on 127.0.0.1 with ephemeral
 * ports and certificates made with the openssl CLI: what the request looks
 * like (GET of the well-known path, Host and SNI the policy host), what is
 * recorded of each kind of answer, the caps (body, time), and the guards it
 * shares with the SMTP probe (private addresses, the opt-out list).
 */
import assert from "node:assert/strict";
import type http from "node:http";
import https from "node:https";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import type tls from "node:tls";
import { type CertChain, makeCertChain } from "@danesweep/test-smtp";
import { type ProbeRequest, Prober, type ProberOptions, parseOptOutList } from "../src/index.ts";

const HOST = "mta-sts.example.test";
const EHLO = "scanner.danesweep.test";
let chain: CertChain;
const closers: (() => Promise<void>)[] = [];

before(() => {
  chain = makeCertChain({ length: 2, names: [HOST] });
});
after(async () => {
  for (const c of closers) await c();
});

interface Seen {
  method?: string;
  url?: string;
  host?: string;
  userAgent?: string;
  sni?: string;
  requests: number;
}

async function httpsServer(handler: http.RequestListener): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { requests: 0 };
  const s = https.createServer({ key: chain.key, cert: chain.cert }, (req, res) => {
    seen.requests++;
    seen.method = req.method;
    seen.url = req.url;
    seen.host = req.headers.host;
    seen.userAgent = req.headers["user-agent"];
    seen.sni = (req.socket as tls.TLSSocket).servername || undefined;
    handler(req, res);
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  closers.push(() => {
    s.closeAllConnections();
    return new Promise<void>((r) => s.close(() => r()));
  });
  return { port: (s.address() as net.AddressInfo).port, seen };
}

/** A raw TCP server: `onConn` gets each socket (for servers that break the protocol). */
async function tcpServer(onConn: (s: net.Socket) => void): Promise<number> {
  const open = new Set<net.Socket>();
  const s = net.createServer((c) => {
    open.add(c);
    c.on("close", () => open.delete(c));
    onConn(c);
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  closers.push(() => {
    for (const c of open) c.destroy();
    return new Promise<void>((r) => s.close(() => r()));
  });
  return (s.address() as net.AddressInfo).port;
}

function prober(o: Partial<ProberOptions> = {}) {
  const p = new Prober({
    ehloName: EHLO,
    allowPrivate: true,
    perIpRate: 1000,
    perIpBurst: 1000,
    commandTimeoutMs: 2000,
    deadlineMs: 5000,
    ...o,
  });
  closers.push(() => p.close());
  return p;
}

const fetchReq = (port: number, ip = "127.0.0.1"): ProbeRequest => ({
  ip,
  port,
  sni: HOST,
  mxHost: HOST,
  domain: "example.test",
  kind: "mta-sts-policy",
});

const POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n";

describe("a policy served", () => {
  test("200 text/plain: the whole response, the chain, GET of the well-known path with Host and SNI", async () => {
    const s = await httpsServer((_q, res) => {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end(POLICY);
    });
    const f = await prober().probe(fetchReq(s.port));
    assert.equal(f.status, "http-response", f.detail);
    assert.equal(f.kind, "mta-sts-policy");
    assert.deepEqual(f.http, {
      status: 200,
      contentType: "text/plain; charset=utf-8",
      bodyBytes: Buffer.byteLength(POLICY),
      body: POLICY,
    });
    assert.deepEqual(f.tls?.chain, chain.base64);
    assert.equal(s.seen.method, "GET");
    assert.equal(s.seen.url, "/.well-known/mta-sts.txt");
    assert.equal(s.seen.host, HOST);
    assert.equal(s.seen.sni, HOST);
    assert.match(s.seen.userAgent ?? "", new RegExp(EHLO.replaceAll(".", "\\.")));
    assert.ok(f.io && f.io.bytesRead > 0 && f.io.bytesWritten > 0);
    assert.ok(f.timings.connectMs !== undefined && f.timings.tlsMs !== undefined);
  });

  test("chunked transfer encoding", async () => {
    const s = await httpsServer((_q, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write(POLICY.slice(0, 10));
      res.end(POLICY.slice(10));
    });
    const f = await prober().probe(fetchReq(s.port));
    assert.equal(f.http?.body, POLICY);
  });

  test("404: the status, no body kept", async () => {
    const s = await httpsServer((_q, res) => {
      res.writeHead(404, { "content-type": "text/html" });
      res.end("<html>not here</html>");
    });
    const f = await prober().probe(fetchReq(s.port));
    assert.equal(f.status, "http-response");
    assert.deepEqual(f.http, { status: 404, contentType: "text/html", bodyBytes: 21 });
  });

  test("a redirect is recorded and not followed", async () => {
    const s = await httpsServer((_q, res) => {
      res.writeHead(301, { location: "https://elsewhere.example.test/mta-sts.txt" });
      res.end();
    });
    const f = await prober().probe(fetchReq(s.port));
    assert.equal(f.http?.status, 301);
    assert.equal(f.http?.location, "https://elsewhere.example.test/mta-sts.txt");
    assert.equal(s.seen.requests, 1);
  });

  test("a body over the cap is cut there", async () => {
    const s = await httpsServer((_q, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("x".repeat(4 * 1024 * 1024));
    });
    const f = await prober({ maxPolicyBytes: 1000 }).probe(fetchReq(s.port));
    assert.equal(f.status, "http-response");
    assert.equal(f.http?.truncated, true);
    assert.equal(f.http?.bodyBytes, 1001);
    assert.equal(f.http?.body, undefined);
    assert.ok(
      (f.io?.bytesRead ?? 0) < 1024 * 1024,
      `stopped reading early: ${f.io?.bytesRead} bytes read of 4 MiB`,
    );
  });
});

describe("failures", () => {
  test("no answer in time: io-timeout", async () => {
    const s = await httpsServer(() => {
      /* never answers */
    });
    const f = await prober({ commandTimeoutMs: 300 }).probe(fetchReq(s.port));
    assert.equal(f.status, "io-timeout");
  });

  test("the connection closes mid-body: io-reset", async () => {
    const s = await httpsServer((_q, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "100" });
      res.write("version: STSv1\n");
      setImmediate(() => res.socket?.destroy());
    });
    const f = await prober().probe(fetchReq(s.port));
    assert.equal(f.status, "io-reset");
  });

  test("not HTTP over TLS: protocol-error", async () => {
    const tlsmod = await import("node:tls");
    const srv = tlsmod.createServer({ key: chain.key, cert: chain.cert }, (c) => {
      c.on("data", () => c.end("SSH-2.0-OpenSSH\r\n\r\n"));
    });
    const open = new Set<net.Socket>();
    srv.on("secureConnection", (c) => open.add(c));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    closers.push(() => {
      for (const c of open) c.destroy();
      return new Promise<void>((r) => srv.close(() => r()));
    });
    const f = await prober().probe(fetchReq((srv.address() as net.AddressInfo).port));
    assert.equal(f.status, "protocol-error");
    assert.deepEqual(f.tls?.chain, chain.base64, "the chain is kept whatever came after");
  });

  test("no TLS at all: tls-handshake-failed", async () => {
    const port = await tcpServer((c) => c.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    const f = await prober().probe(fetchReq(port));
    assert.equal(f.status, "tls-handshake-failed");
  });

  test("nothing listening: connect-refused", async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const free = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const f = await prober().probe(fetchReq(free));
    assert.equal(f.status, "connect-refused");
  });
});

describe("the guards of every contact", () => {
  test("a private address is not contacted without allowPrivate", async () => {
    let contacted = 0;
    const port = await tcpServer((c) => {
      contacted++;
      c.destroy();
    });
    const f = await prober({ allowPrivate: false }).probe(fetchReq(port));
    assert.equal(f.status, "policy-private-address");
    assert.equal(f.kind, "mta-sts-policy");
    assert.equal(contacted, 0);
  });

  test("the opt-out list: the policy host by name, the mail domain", async () => {
    let contacted = 0;
    const port = await tcpServer((c) => {
      contacted++;
      c.destroy();
    });
    for (const entry of [`host:${HOST}`, "domain:example.test"]) {
      const list = parseOptOutList(entry);
      const f = await prober({ optOut: list.list }).probe(fetchReq(port));
      assert.equal(f.status, "policy-opt-out", entry);
    }
    assert.equal(contacted, 0);
  });

  test("concurrent requests for one (ip, port, host) share one fetch", async () => {
    const s = await httpsServer((_q, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(POLICY);
    });
    const p = prober();
    const [a, b] = await Promise.all([p.probe(fetchReq(s.port)), p.probe(fetchReq(s.port))]);
    assert.equal(a, b);
    assert.equal(s.seen.requests, 1);
  });
});
