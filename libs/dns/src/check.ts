/**
 * Does the upstream validate? (docs/rules.md rule 2)
 *
 * `checkValidating(r)` asks every configured upstream for the root SOA with
 * DO=1 and returns one ValidationCheck per upstream, in order; never rejects.
 * - NOERROR with the SOA and AD=1: ok;
 * - a reply without AD=1 (or without the SOA): "not-validating";
 * - timeout or network failure: "unreachable";
 * - anything else (SERVFAIL, REFUSED, malformed reply): "error".
 * `requireValidating(checks, { acceptIndeterminate })` is the start-up gate:
 * it returns `{ ok: true, resolverValidates }`, or `{ ok: false, message }`
 * naming each failing resolver, for the caller to print before exiting.
 */
import type { StubResolver } from "./resolver.ts";

export type ValidationCheck =
  | { ok: true; upstream: string }
  | { ok: false; upstream: string; error: "not-validating" | "unreachable" | "error"; detail: string };

export async function checkValidating(r: StubResolver): Promise<ValidationCheck[]> {
  const ups = r.upstreams;
  return Promise.all(
    ups.map(async (upstream, i): Promise<ValidationCheck> => {
      const l = await r.queryUpstream(i, ".", "SOA");
      const rcode = l.provenance?.rcode ?? "NONE";
      if (l.outcome === "error") {
        if (l.error === "timeout" || l.error === "network") {
          return {
            ok: false,
            upstream,
            error: "unreachable",
            detail: `resolver ${upstream} did not answer (${l.error}, ${l.provenance?.attempts ?? 0} attempts)`,
          };
        }
        return {
          ok: false,
          upstream,
          error: "error",
          detail: `resolver ${upstream} answered the root SOA query with ${rcode} (${l.error})`,
        };
      }
      if (l.outcome !== "answer" || !l.provenance?.flags.ad) {
        return {
          ok: false,
          upstream,
          error: "not-validating",
          detail:
            `resolver ${upstream} does not validate DNSSEC: the root SOA came back ${rcode}` +
            ` ${l.outcome === "answer" ? "without the AD bit" : `as ${l.outcome}`}`,
        };
      }
      return { ok: true, upstream };
    }),
  );
}

export type ValidationGate = { ok: true; resolverValidates: boolean } | { ok: false; message: string };

export function requireValidating(
  checks: ValidationCheck[],
  opts: { acceptIndeterminate: boolean },
): ValidationGate {
  const bad = checks.filter((c) => !c.ok);
  if (bad.length === 0 && checks.length > 0) return { ok: true, resolverValidates: true };
  if (opts.acceptIndeterminate) return { ok: true, resolverValidates: false };
  const lines = bad.map((c) => (c.ok ? "" : `  ${c.upstream}: ${c.error}: ${c.detail}`));
  return {
    ok: false,
    message:
      "refusing to scan: DANE verdicts need a validating resolver (RFC 7672 §2.1).\n" +
      lines.join("\n") +
      "\nPoint --resolver at a validating resolver, or accept that every result is marked indeterminate.",
  };
}
