/**
 * `danesweep serve`: the query API (@danesweep/api) over the embedded store
 * (--data DIR, PGlite; the default data directory otherwise) or PostgreSQL
 * (--database URL). With --writer-database URL as well, --database is used
 * for reads only (a login in role danesweep_reader), the writer applies the
 * migrations, grants the reader role, starts scans and re-judges them.
 *
 * `run(argv, io, deps?)` returns an exit code: 2 for bad options (one line
 * naming the option), 1 when the store cannot be opened or the port cannot be
 * bound, 0 after SIGINT/SIGTERM closed the server. `--trust-proxy` takes a
 * hop count or the proxies' addresses (@danesweep/api proxy.ts); without it
 * the TCP peer is the client. `--max-exports` caps concurrent result exports.
 * `--mta-sts-ca FILE` names the roots re-judging (POST /v1/scans/{id}/rejudge)
 * judges MTA-STS certificates against (default Node's default CA
 * certificates, as the aggregator's DANESWEEP_MTA_STS_CA). `deps.makeStartScan`
 * (given by the pipeline) turns the writer store into the scan starter of
 * POST /v1/scans; without it that endpoint answers 503.
 */
import { resolve } from "node:path";
import {
  buildApp,
  DEFAULT_MAX_EXPORTS,
  listen,
  otelPlugin,
  parseTrustProxy,
  type StartScan,
  type TrustProxy,
} from "@danesweep/api";
import { ApiQueries, openDatabase, openStore, Store } from "@danesweep/store";
import type { FastifyBaseLogger } from "fastify";
import { intOption, kafkaOption, parse, UsageError } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import { kafkaStartScan } from "../kafka-start-scan.ts";
import type { Io } from "../main.ts";
import { describeStore, openConfig, STORE_OPTIONS, storeConfig } from "../store-options.ts";
import { mtaStsTrust } from "./scan.ts";

const HELP = `usage: danesweep serve [--host ADDR] [--port N] [--data DIR | --database URL [--writer-database URL]]
                       [--read-token] [--rate-per-address N] [--rate-per-token N] [--max-exports N]
                       [--trust-proxy HOPS|ADDR[,ADDR...]] [--mta-sts-ca FILE] [--log]
  --host ADDR             address to listen on (default 127.0.0.1)
  --port N                port (default 8080; 0 picks a free one)
  --data DIR              embedded store (PGlite data directory; the default store)
  --database URL          PostgreSQL for reads (alias --database-url)
  --writer-database URL   PostgreSQL for migrations, POST /v1/scans and re-judging; --database then only reads
  --read-token            read endpoints need a token with scope "read" (default: public)
  --rate-per-address N    requests per minute per client address (default 600; 0 disables limits)
  --rate-per-token N      requests per minute per token (default 3000)
  --max-exports N         result exports (NDJSON, CSV) running at once (default ${DEFAULT_MAX_EXPORTS});
                          beyond, 429 with Retry-After
  --trust-proxy HOPS|ADDR[,ADDR...]
                          behind reverse proxies: take the client address from
                          X-Forwarded-For as they wrote it, never as the client did.
                          HOPS: how many proxies stand in front on every path;
                          or the proxies' addresses and CIDRs (e.g. 10.0.0.0/8,::1)
  --mta-sts-ca FILE       PEM roots re-judging judges MTA-STS certificates against: those the
                          scans were judged with (default: Node's default CA certificates)
  --log                   log requests (JSON lines on stderr)
  --kafka BROKERS         enable POST /v1/scans: seed scans onto this deployment's Kafka
                          (needs --database URL; the services do the scanning)
  --kafka-client NAME     platformatic (default) | kafkajs
`;

export interface ServeDeps {
  makeStartScan?: (writer: Store) => StartScan;
  /** Resolves to stop the server (tests); default: SIGINT or SIGTERM. */
  stop?: Promise<void>;
  /** Called with the listening address. */
  onListening?: (address: string) => void;
}

/** The options of `serve` (exported for tests); throws UsageError naming a bad one. */
export function serveOptions(argv: string[]) {
  const { values: v, positionals } = parse(argv, {
    ...STORE_OPTIONS,
    "database-url": { type: "string" },
    "writer-database": { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    "read-token": { type: "boolean" },
    "rate-per-address": { type: "string" },
    "rate-per-token": { type: "string" },
    "max-exports": { type: "string" },
    "trust-proxy": { type: "string" },
    "mta-sts-ca": { type: "string" },
    log: { type: "boolean" },
    kafka: { type: "string" },
    "kafka-client": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (v.database !== undefined && v["database-url"] !== undefined)
    throw new UsageError("give --database or --database-url, not both");
  const database = v.database ?? v["database-url"];
  const cfg = storeConfig({ data: v.data, database });
  const writer = v["writer-database"];
  if (writer !== undefined) {
    if (!("url" in cfg)) throw new UsageError("--writer-database needs --database URL (PostgreSQL)");
    if (!/^postgres(ql)?:\/\//.test(writer))
      throw new UsageError(`--writer-database must be a postgres:// URL, got "${writer}"`);
  }
  const kafka = kafkaOption(v.kafka, v["kafka-client"], "url" in cfg);
  let trustProxy: TrustProxy | undefined;
  if (v["trust-proxy"] !== undefined) {
    const t = parseTrustProxy(v["trust-proxy"]);
    if (!t.ok) throw new UsageError(`--trust-proxy: ${t.error}`);
    trustProxy = t.value;
  }
  const host = v.host ?? "127.0.0.1";
  if (!/^[0-9A-Za-z.:_-]{1,255}$/.test(host)) throw new UsageError(`--host is not an address, got "${host}"`);
  return {
    v,
    cfg,
    kafka,
    writer,
    trustProxy,
    mtaSts: mtaStsTrust(v["mta-sts-ca"] === undefined ? undefined : resolve(v["mta-sts-ca"])),
    host,
    port: intOption("port", v.port, 8080, 0, 65535),
    perAddress: intOption("rate-per-address", v["rate-per-address"], 600, 0, 10_000_000),
    perToken: intOption("rate-per-token", v["rate-per-token"], 3000, 1, 10_000_000),
    maxExports: intOption("max-exports", v["max-exports"], DEFAULT_MAX_EXPORTS, 1, 1000),
  };
}

export async function run(argv: string[], io: Io, deps: ServeDeps = {}): Promise<number> {
  let o: ReturnType<typeof serveOptions>;
  try {
    o = serveOptions(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`danesweep serve: ${e.message}\n${HELP}`);
      return EXIT.usage;
    }
    throw e;
  }
  if (o.v.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const stores: Store[] = [];
  try {
    let reader: Store;
    let writer: Store;
    try {
      if (o.writer !== undefined && "url" in o.cfg) {
        writer = await openStore({ url: o.writer });
        stores.push(writer);
        await new ApiQueries(writer).setupReaderRole();
        reader = new Store(await openDatabase({ url: o.cfg.url }));
        stores.push(reader);
      } else {
        writer = await openStore(openConfig(o.cfg));
        stores.push(writer);
        reader = writer;
      }
    } catch (e) {
      io.stderr.write(`danesweep serve: cannot open ${describeStore(o.cfg)}: ${(e as Error).message}\n`);
      return EXIT.failure;
    }
    const makeStartScan = deps.makeStartScan ?? (o.kafka ? kafkaStartScan(o.kafka) : undefined);
    const startScan = makeStartScan?.(writer);
    // --log: the one pino logger every danesweep process writes with (libs/runtime), ids of the
    // request's trace on each line when tracing is on; request spans from @fastify/otel.
    const tracing = io.telemetry?.tracer !== undefined;
    let loggerInstance: FastifyBaseLogger | undefined;
    if (o.v.log === true) {
      const { createLogger, pinoOf } = await import("@danesweep/runtime");
      const { activeTraceIds } = await import("@danesweep/telemetry");
      loggerInstance = pinoOf(
        createLogger({ service: "api", ...(tracing ? { traceIds: activeTraceIds } : {}) }),
      );
    }
    const app = buildApp({
      store: reader,
      writer,
      auth: { readRequiresToken: o.v["read-token"] === true },
      ...(startScan ? { startScan } : {}),
      rateLimit: o.perAddress === 0 ? false : { perAddress: o.perAddress, perToken: o.perToken },
      exports: { maxConcurrent: o.maxExports },
      rejudge: { trust: o.mtaSts },
      ...(o.trustProxy ? { trustProxy: o.trustProxy } : {}),
      ...(loggerInstance ? { loggerInstance } : {}),
      ...(tracing ? { otel: await otelPlugin() } : {}),
    });
    let address: string;
    try {
      address = await listen(app, { host: o.host, port: o.port });
    } catch (e) {
      io.stderr.write(`danesweep serve: cannot listen on ${o.host}:${o.port}: ${(e as Error).message}\n`);
      await app.close().catch(() => {});
      return EXIT.failure;
    }
    io.stdout.write(
      `danesweep API on ${address} (${describeStore(o.cfg)}${o.writer ? ", writes through the writer" : ""}); docs at ${address}/docs\n`,
    );
    deps.onListening?.(address);
    await (deps.stop ??
      new Promise<void>((ok) => {
        process.once("SIGINT", () => ok());
        process.once("SIGTERM", () => ok());
      }));
    await app.close();
    return EXIT.ok;
  } finally {
    for (const s of stores.reverse()) await s.close().catch(() => {});
  }
}
