/**
 * `danesweep show DOMAIN`: the latest verdict with its explanation and hosts,
 * its MTA-STS and TLS-RPT judgements (renderMailPolicies), the domain's
 * history across scans (newest first) and its change events between scans
 * (renderChangeHistory), from the store. Each verdict names the engine
 * version and policy profile that judged it; under each scan's original
 * verdict come its re-judgements (`danesweep rejudge`), with their run,
 * engine and profile. The risks of issue 14 (authoritative servers that
 * disagree, certificates other senders see, rollover risk) follow the hosts
 * (renderRisks).
 * `--json` prints the stored records instead, one line each: `{ scan, ...record }`
 * for an original, with `rejudged: { run, at, state }` for a re-judgement.
 * Exit 0 when found, 1 when the store has no verdict for the domain, 2 for bad usage.
 */
import type { VerdictRecord } from "@danesweep/dane";
import { normalizeDomain } from "@danesweep/dns";
import { type ChangeEvent, domainChanges, type Rejudgement, rejudgementsOf } from "@danesweep/store";
import { intOption, parse, parseOrUsage, UsageError } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import type { Io } from "../main.ts";
import { describeStore, openConfiguredStore, STORE_OPTIONS, storeConfig } from "../store-options.ts";

const HELP = `usage: danesweep show DOMAIN [--json] [--history N] [--data DIR | --database URL]

The domain's latest verdict, with the explanation and what each MX host did,
its risks, its MTA-STS and TLS-RPT judgements, its verdict in every earlier
scan (newest first; --history N scans, default 20), each with the engine
version and policy profile that judged it, the re-judgements of each scan
(danesweep rejudge), and its change events between scans (newly-broken,
fixed, dane-adopted, dane-dropped, mx-moved, between fully observed verdicts;
N newest).
`;

const engineOf = (r: Pick<VerdictRecord, "engine">) =>
  r.engine ? `engine ${r.engine.version}/${r.engine.profile}` : "engine (unknown)";

export function renderVerdict(r: VerdictRecord, scanId: string): string {
  const v = r.verdict;
  const lines = [
    `${r.domain}  (scan ${scanId}, judged ${r.judgedAt})`,
    `  verdict: ${v.action}${v.security ? ` ${v.security}` : ""}${v.host ? ` via ${v.host}` : ""}${v.address ? ` [${v.address}]` : ""}  reason: ${v.reason}`,
    `  DANE state: ${r.dane}${r.mxSecure ? " (MX RRset DNSSEC-signed)" : ""}`,
    `  judged by: ${engineOf(r)}`,
    "",
    ...r.explanation.split("\n").map((l) => `  ${l}`),
    "",
    "  hosts:",
  ];
  for (const h of r.hosts) {
    lines.push(
      `    ${h.preference} ${h.host}${h.implicit ? " (implicit MX)" : ""}: requires ${h.requirement}` +
        `${h.tlsaBase ? `, TLSA base ${h.tlsaBase}` : ""} (${h.tlsaBaseWhy})${h.reason ? `, ${h.reason}` : ""}`,
    );
    for (const a of h.addresses) {
      const m = a.auth?.matched;
      lines.push(
        `      ${a.address}: ${a.result}${a.reason ? ` (${a.reason})` : ""}${a.probe ? ` probe ${a.probe.status}` : ""}` +
          (m
            ? ` matched ${m.record.usage} ${m.record.selector} ${m.record.matchingType} at depth ${m.depth}`
            : a.auth?.failure
              ? ` auth: ${a.auth.failure}`
              : ""),
      );
    }
  }
  lines.push(...renderRisks(r));
  return lines.join("\n") + "\n";
}

/**
 * MTA-STS and TLS-RPT beside DANE (libs/dane rules 41-48): the policy as a
 * sender finds it, each MX host under it, what an MTA-STS sender would do,
 * the contradictions; "" for a record without the judgements.
 */
export function renderMailPolicies(r: VerdictRecord): string {
  const m = r.mtaSts;
  const t = r.tlsRpt;
  if (!m && !t) return "";
  const lines = ["", "  MTA-STS and TLS-RPT:"];
  if (m) {
    const why = m.detail ? ` (${m.detail})` : "";
    lines.push(`    MTA-STS policy: ${m.policy}${m.id !== undefined ? `, id ${m.id}` : ""}${why}`);
    if (m.fetch)
      lines.push(
        `    fetched from ${m.fetch.ip}:${m.fetch.port} (${m.fetch.sni}): ${m.fetch.status}` +
          `${m.fetch.httpStatus !== undefined ? ` HTTP ${m.fetch.httpStatus}` : ""}`,
      );
    if (m.mode !== undefined)
      lines.push(`    mode ${m.mode}, max_age ${m.maxAge}, mx ${(m.mx ?? []).join(" ") || "(none)"}`);
    for (const h of m.hosts ?? [])
      lines.push(
        `      ${h.host}: ${h.pattern !== undefined ? `covered by ${h.pattern}` : "NOT covered"}; ` +
          `certificate ${h.webpki}${h.address ? ` [${h.address}]` : ""}${h.detail ? ` (${h.detail})` : ""}`,
      );
    if (m.outcome) {
      const o = m.outcome;
      lines.push(
        `    an MTA-STS sender (no DANE) would: ${o.action}${o.host ? ` via ${o.host}` : ""}` +
          `${o.address ? ` [${o.address}]` : ""}  reason: ${o.reason}${m.mode === "testing" ? " (testing: it delivers anyway and reports)" : ""}`,
      );
    }
    lines.push(`    contradictions: ${m.contradictions.length > 0 ? m.contradictions.join(", ") : "none"}`);
    if (m.trust) lines.push(`    certificates judged against: ${m.trust}`);
  }
  if (t)
    lines.push(
      `    TLS-RPT: ${t.state}${t.rua ? ` -> ${t.rua.join(", ")}` : ""}${t.detail ? ` (${t.detail})` : ""}`,
    );
  return `${lines.join("\n")}\n`;
}

/** The domain's change events between scans (libs/store changes.ts), newest first; "" when it has none. */
export function renderChangeHistory(events: ChangeEvent[]): string {
  if (events.length === 0) return "";
  const lines = [`\n  changes (${events.length}, newest first; since = first seen in the new state):`];
  for (const e of events) {
    const what =
      e.kind === "mx-moved"
        ? `${e.mx.before} -> ${e.mx.after}`
        : e.kind === "newly-broken" || e.kind === "fixed"
          ? `problems [${e.problems.before.join(" ")}] -> [${e.problems.after.join(" ")}], DANE ${e.dane.before} -> ${e.dane.after}`
          : `DANE ${e.dane.before} -> ${e.dane.after}`;
    lines.push(
      `    ${e.since}  ${e.kind.padEnd(13)} ${what}  (scan ${e.scanId}, before: scan ${e.previousScanId} at ${e.previousAt})`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The risks of a record (libs/dane rules 37-40): none of them changes the verdict. */
export function renderRisks(r: VerdictRecord): string[] {
  if (r.risks === undefined) return [];
  const lines = ["", `  risks: ${r.risks.length > 0 ? r.risks.join(", ") : "none found"}`];
  const c = r.consistency;
  if (c) {
    lines.push(
      `    authoritative servers: ${c.state}${c.reasons.length > 0 ? ` (${c.reasons.join(", ")})` : ""}`,
    );
    for (const s of c.servers) {
      lines.push(
        `      ${s.qname} @ ${s.server}${s.address ? ` [${s.address}]` : ""}: ${s.status}` +
          (s.expiresAt ? `, signatures until ${s.expiresAt}` : "") +
          (s.reasons.length > 0 ? ` -> ${s.reasons.join(", ")}` : ""),
      );
    }
  }
  for (const h of r.hosts) {
    for (const a of h.addresses) {
      for (const alt of a.alternates ?? []) {
        lines.push(
          `    ${h.host} [${a.address}] offering only ${alt.offered}: ${alt.result}` +
            `${alt.keyType ? ` (${alt.keyType} key)` : ""}${alt.failure ? `, ${alt.failure}` : ""}`,
        );
      }
    }
  }
  for (const l of r.latent ?? []) {
    lines.push(
      `    latent: ${l.host} [${l.address}] to senders offering ${l.offered}: ${l.keyType ?? "?"} certificate fails (${l.failure})`,
    );
  }
  for (const h of r.hosts) {
    const rr = h.rolloverRisk;
    if (!rr) continue;
    lines.push(
      `    rollover ${h.host}: ${rr.reasons.length > 0 ? rr.reasons.join(", ") : "none"}` +
        `${rr.leafNotAfter ? `; leaf expires ${rr.leafNotAfter}` : ""}${rr.tlsaTtl !== undefined ? `; TLSA TTL ${rr.tlsaTtl} s` : ""}`,
    );
  }
  return lines;
}

function options(argv: string[]) {
  const parsed = parse(argv, {
    ...STORE_OPTIONS,
    json: { type: "boolean" },
    history: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  const v = parsed.values;
  if (!v.help && parsed.positionals.length !== 1) throw new UsageError("give exactly one DOMAIN");
  return { parsed, v, limit: intOption("history", v.history, 20, 1, 10_000), cfg: storeConfig(v) };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const p = parseOrUsage("show", HELP, io.stderr, () => options(argv));
  if (!p.ok) return p.code;
  const o = p.value;
  const { parsed, v, limit, cfg } = o;
  if (v.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const n = normalizeDomain(parsed.positionals[0]!);
  if (!n.ok) {
    io.stderr.write(`danesweep show: invalid domain: ${n.error} (${n.detail})\n`);
    return EXIT.usage;
  }
  const store = await openConfiguredStore(cfg);
  try {
    const history = await store.domainHistory(n.name, { limit });
    if (history.length === 0) {
      io.stderr.write(`danesweep show: no verdict for ${n.name} in ${describeStore(cfg)}\n`);
      return EXIT.failure;
    }
    const rejudged = new Map<string, Rejudgement[]>();
    for (const j of await rejudgementsOf(store, n.name, { scanIds: history.map((h) => h.scanId) })) {
      const l = rejudged.get(j.scanId);
      if (l) l.push(j);
      else rejudged.set(j.scanId, [j]);
    }
    if (v.json) {
      for (const h of history) {
        io.stdout.write(`${JSON.stringify({ scan: h.scanId, ...h.record })}\n`);
        for (const j of rejudged.get(h.scanId) ?? [])
          io.stdout.write(
            `${JSON.stringify({ scan: h.scanId, rejudged: { run: j.run, at: j.rejudgedAt, state: j.runState }, ...j.record })}\n`,
          );
      }
      return EXIT.ok;
    }
    const latest = history[0]!;
    io.stdout.write(renderVerdict(latest.record, latest.scanId));
    io.stdout.write(renderMailPolicies(latest.record));
    io.stdout.write(
      `\n  history (${history.length} scan${history.length === 1 ? "" : "s"}, newest first):\n`,
    );
    for (const h of history) {
      io.stdout.write(
        `    ${h.scanStartedAt}  ${h.scanId}  ${h.action}${h.security ? ` ${h.security}` : ""}  ${h.reason}  ${h.dane}` +
          `  ${engineOf(h.record)}\n`,
      );
      for (const j of rejudged.get(h.scanId) ?? [])
        io.stdout.write(
          `      re-judged ${j.rejudgedAt} (run ${j.run}${j.runState === "finished" ? "" : `, ${j.runState}`})  ` +
            `${j.action}${j.security ? ` ${j.security}` : ""}  ${j.reason}  ${j.dane}  ${engineOf(j)}\n`,
        );
    }
    io.stdout.write(renderChangeHistory(await domainChanges(store, n.name, limit)));
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
