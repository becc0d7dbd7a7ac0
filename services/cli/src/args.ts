/**
 * Option parsing shared by the commands: node:util parseArgs with errors
 * turned into one clear line naming the option, and validators for numbers,
 * enumerations, resolver addresses (read by libs/dns parseUpstream, the
 * resolver's own reader, so an address is in the one canonical text of
 * libs/dane formatIp) and the EHLO name (the prober's own test, so that a bad
 * --ehlo is a usage error, exit 2, before anything starts).
 * Throws UsageError (exit code 2).
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { parseUpstream } from "@danesweep/dns";
import { isValidEhloName } from "@danesweep/probe";

export class UsageError extends Error {
  readonly code = "usage" as const;
}

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^.*?: /, "").split("\n")[0] ?? String(e));
  }
}

export function intOption(
  name: string,
  v: string | undefined,
  dflt: number,
  min: number,
  max: number,
): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function numberOption(
  name: string,
  v: string | undefined,
  dflt: number,
  min: number,
  max: number,
): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function enumOption<E extends string>(
  name: string,
  v: string | undefined,
  values: readonly E[],
  dflt: E,
): E {
  if (v === undefined) return dflt;
  if (!(values as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${values.join(", ")}, got "${v}"`);
  return v as E;
}

/** --ehlo NAME: a host name or an address literal ("[192.0.2.1]"); undefined when not given. */
export function ehloOption(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!isValidEhloName(v))
    throw new UsageError(
      `--ehlo must be a host name (letters, digits, hyphens, dots) or an address literal like [192.0.2.1], got "${v}"`,
    );
  return v;
}

/**
 * "127.0.0.1", "127.0.0.1:5353", "::1", "[::1]:53" -> "host:port" with
 * brackets for IPv6, the address in its canonical text ("[2001:DB8:0::1]" is
 * "[2001:db8::1]:53").
 */
export function resolverAddress(v: string): string {
  const p = parseUpstream(v);
  if (!p.ok)
    throw new UsageError(
      `--resolver must be an IP address with an optional port 1-65535 (ADDR[:PORT], [V6]:PORT), got "${v}"`,
    );
  return p.upstream.key;
}

/**
 * Runs a command's option parser: a UsageError is printed with the command's
 * help on stderr and becomes exit code 2; anything else propagates.
 */
export function parseOrUsage<T>(
  cmd: string,
  help: string,
  stderr: NodeJS.WritableStream,
  fn: () => T,
): { ok: true; value: T } | { ok: false; code: number } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    stderr.write(`danesweep ${cmd}: ${e.message}\n${help}`);
    return { ok: false, code: 2 };
  }
}

export const KAFKA_CLIENTS = ["platformatic", "kafkajs"] as const;

/**
 * `--kafka BROKERS [--kafka-client NAME]`: the deployment's brokers (host:port,
 * comma-separated) and the client library. A deployment keeps its store in
 * PostgreSQL, so `--kafka` needs `--database URL` (`hasDatabase`).
 */
export function kafkaOption(
  brokers: string | undefined,
  client: string | undefined,
  hasDatabase: boolean,
): { brokers: string[]; client: (typeof KAFKA_CLIENTS)[number] } | undefined {
  if (brokers === undefined) return undefined;
  const list = brokers
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "");
  if (list.length === 0) throw new UsageError("--kafka needs at least one broker (host:port)");
  if (!hasDatabase) throw new UsageError("--kafka needs --database URL (the deployment's PostgreSQL)");
  return { brokers: list, client: enumOption("kafka-client", client, KAFKA_CLIENTS, "platformatic") };
}
