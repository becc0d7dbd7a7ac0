/**
 * Calibration of the resolver cache's byte estimate (libs/dns/src/cache.ts
 * lookupBytes) against the heap it really holds (a script, not a test).
 *
 *   node bench/dns/cache-size.ts [--n 5000]
 *
 * For each kind of answer (one A, two AAAA, two MX, one SHA-256 TLSA, and the
 * hostile ones: a TLSA of 8 KB and of a whole 64 KiB message, 1,200 A records)
 * it fills a StubResolver's cache (no bounds) from a scripted DNS server in a
 * child process (libs/dns/test/fake-server.ts; its memory is not counted),
 * and prints the heap per entry measured after a full GC beside the cache's
 * own estimate. The estimate should stay within about 10% of the measure.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { RRType } from "@danesweep/dane";
import { StubResolver } from "../../libs/dns/src/index.ts";
import { type Incoming, respond, startFakeServer } from "../../libs/dns/test/fake-server.ts";

const { values } = parseArgs({
  options: { n: { type: "string", default: "5000" }, serve: { type: "string" }, size: { type: "string" } },
});

function answers(kind: string, size: number, q: Incoming) {
  const rr = (type: string, data: unknown) => ({ type, name: q.name, ttl: 3600, data });
  switch (kind) {
    case "aaaa":
      return [rr("AAAA", "2001:db8::25"), rr("AAAA", "2001:db8::26")];
    case "mx":
      return [
        rr("MX", { preference: 10, exchange: `mx1.${q.name}` }),
        rr("MX", { preference: 20, exchange: `mx2.${q.name}` }),
      ];
    case "tlsa":
    case "tlsa-big":
      return [rr("TLSA", { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(size, 7) })];
    case "a-big":
      return Array.from({ length: size }, (_, i) => rr("A", `10.${(i >> 8) & 255}.${i & 255}.1`));
    default:
      return [rr("A", "192.0.2.1")];
  }
}

if (values.serve) {
  const kind = values.serve;
  const size = Number(values.size ?? 32);
  const s = await startFakeServer((q) => {
    s.received.length = 0;
    return [respond(q, { answers: answers(kind, size, q) as never })];
  });
  console.log(s.port);
} else {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const n = Number(values.n);
  const kinds: [string, RRType, number, number][] = [
    ["a", "A", 0, n],
    ["aaaa", "AAAA", 0, n],
    ["mx", "MX", 0, n],
    ["tlsa", "TLSA", 32, n],
    ["tlsa-big", "TLSA", 8000, 200],
    ["tlsa-big", "TLSA", 65_400, 200],
    ["a-big", "A", 1200, 100],
  ];
  console.log("kind\trdata\tentries\tmeasured B/entry\testimate B/entry\testimate/measured");
  for (const [kind, type, size, count] of kinds) {
    const child = spawn(
      process.execPath,
      [new URL(import.meta.url).pathname, "--serve", kind, "--size", String(size)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let port = 0;
    for await (const line of createInterface({ input: child.stdout! })) {
      port = Number(line);
      break;
    }
    const r = new StubResolver({
      upstreams: [`127.0.0.1:${port}`],
      timeoutMs: 10_000,
      transport: "tcp",
      cacheMaxBytes: 2 ** 40,
      cacheMaxEntries: 1e9,
    });
    await r.query("warm.example", type);
    gc();
    gc();
    const h0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, (_, j) =>
          r.query(`_25._tcp.host-${i + j}.some-domain.example`, type),
        ),
      );
    }
    gc();
    gc();
    const measured = (process.memoryUsage().heapUsed - h0) / count;
    const st = r.stats();
    const estimate = st.cacheBytes / st.cacheEntries;
    console.log(
      [
        kind,
        size || "-",
        count,
        Math.round(measured),
        Math.round(estimate),
        (estimate / measured).toFixed(2),
      ].join("\t"),
    );
    await r.close();
    child.kill();
  }
}
