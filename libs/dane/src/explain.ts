/**
 * The human-readable explanation of a verdict record: which host failed how,
 * which TLSA record matched at which depth, the verdict, the DANE state and its
 * problems, then the risks (rules 37-40: authoritative servers that disagree,
 * certificates that would fail for other senders, rollover risk), then the
 * MTA-STS and TLS-RPT judgements when the domain publishes either. Pure; never
 * throws on a record made by judge().
 *
 * `explain(record)` renders from the record alone (the store keeps records
 * without it and renders on read): a few sentences, one per host or address
 * tried, in ladder order. The text is for people: nothing may parse it (the
 * record's codes carry the meaning).
 */
import type { TlsaRecord } from "./facts.ts";
import type { AddressOutcome, HostOutcome, JudgedRecord, MatchedRecord } from "./verdict-types.ts";

interface ExplainOptions {
  probeMode: "all" | "dane";
}

/** "3 1 1 30c9c924…": the fields and the first 8 hex digits of the data. */
export function tlsaText(r: TlsaRecord): string {
  const data = typeof r.data === "string" ? r.data : "";
  const head = data.length > 8 ? `${data.slice(0, 8)}…` : data || "(empty)";
  return `${r.usage} ${r.selector} ${r.matchingType} ${head}`;
}

function matchedText(m: MatchedRecord): string {
  const where =
    m.depth === 0
      ? "the leaf certificate (depth 0)"
      : m.depth < 0
        ? "a trust anchor the server did not send"
        : `the certificate at depth ${m.depth}`;
  return `TLSA ${tlsaText(m.record)} matched ${where}`;
}

function unusableText(h: HostOutcome): string {
  return (h.tlsa ?? []).map((t) => `${tlsaText(t.record)}: ${t.why ?? "usable"}`).join("; ");
}

function requirementText(h: HostOutcome): string {
  if (h.requirement === "dane") return "DANE";
  if (h.requirement === "tls") return "TLS (its TLSA records are all unusable)";
  return "nothing";
}

function addressSentence(h: HostOutcome, a: AddressOutcome, opts: ExplainOptions): string {
  const who = `${h.host} (${a.address})`;
  const status = a.probe ? a.probe.status : "no probe";
  switch (a.result) {
    case "dane-verified":
      return a.auth?.matched ? `${who}: ${matchedText(a.auth.matched)}.` : `${who}: authenticated by DANE.`;
    case "encrypted":
      return a.reason === "tls-required-unauthenticated"
        ? `${who}: TLS established; the secure TLSA RRset has no usable record (${unusableText(h)}), so TLS is required but not authenticated.`
        : `${who}: STARTTLS worked; no DANE for this host (${h.tlsaBaseWhy}), so TLS is opportunistic and unauthenticated.`;
    case "plaintext":
      return `${who}: ${status}; no DANE for this host, so the message would go in plaintext.`;
    case "not-probed":
      if (a.reason === "incomplete-facts")
        return `${who}: the facts are incomplete (${status}); cannot tell.`;
      return opts.probeMode === "dane" && h.requirement === "opportunistic"
        ? `${who}: not probed (probe mode "dane" skips hosts without DANE); cannot tell what it would do.`
        : `${who}: not probed; cannot tell what it would do.`;
    case "policy-refused":
      return `${who}: not contacted by policy (${status}).`;
    case "not-tried":
    case "beyond-limit":
      return "";
    case "failed":
      switch (a.reason) {
        case "dane-check-failed": {
          const n = h.tlsa?.filter((t) => t.usable).length ?? 0;
          const detail = a.auth?.detail ? `: ${a.auth.detail}` : "";
          return `${who}: none of its ${n} usable TLSA record(s) authenticated the certificate chain (${a.auth?.failure ?? "no-match"}${detail}).`;
        }
        case "starttls-not-offered":
          return `${who}: ${status}, but ${requirementText(h)} is required: the host fails.`;
        case "tls-handshake-failed":
          return `${who}: ${status}, and ${requirementText(h)} is required: the host fails.`;
        case "connection-failed":
          return `${who}: could not be talked to (${status}); trying the next address.`;
        case "tlsa-lookup-failed":
          return `${who}: not contacted, the TLSA lookup failed.`;
        case "cname-lookup-failed":
          return `${who}: not contacted, the CNAME lookup on the host name failed.`;
        case "dane-unavailable":
          return `${who}: not contacted, the security level requires DANE and this host has none.`;
        default:
          return `${who}: failed (${a.reason ?? status}).`;
      }
  }
}

function hostSentences(h: HostOutcome, opts: ExplainOptions): string[] {
  const out: string[] = [];
  const tried = h.addresses.filter((a) => a.result !== "not-tried");
  if (h.reason === "no-address") return [`${h.host}: no address records; skipped.`];
  if (h.reason === "address-lookup-failed") return [`${h.host}: the address lookups failed; skipped.`];
  if (h.numeric && tried.length > 0) {
    out.push(
      `${h.host}: the MX exchange is an IP address; it is used as such, without DNSSEC and so without DANE.`,
    );
  }
  if (h.reason === "dane-unavailable") {
    if (tried.length > 0) {
      out.push(
        `${h.host}: the security level requires DANE and this host has no usable DANE; it is not contacted.`,
      );
    }
    return out;
  }
  if (h.reason === "tlsa-lookup-failed" || h.reason === "cname-lookup-failed") {
    const what =
      h.reason === "tlsa-lookup-failed"
        ? `the TLSA lookup${h.tlsaBase ? ` for ${h.tlsaBase}` : ""} failed`
        : "the first-link CNAME lookup failed";
    if (tried.length > 0) out.push(`${h.host}: ${what}, so the host is unusable and is not contacted.`);
    return out;
  }
  if (h.requirement === "dane" && h.tlsaBase && tried.length > 0) {
    out.push(`${h.host}: DANE required, TLSA base domain ${h.tlsaBase} (${h.tlsaBaseWhy}).`);
  }
  for (const a of tried) {
    const s = addressSentence(h, a, opts);
    if (s) out.push(s);
  }
  if (h.wouldAuthenticate === true) {
    out.push(
      `${h.host}: its own secure TLSA would have authenticated the server (Postfix "Trusted"), but DANE does not apply.`,
    );
  } else if (h.wouldAuthenticate === false) {
    out.push(`${h.host}: its own secure TLSA would not have authenticated the server.`);
  }
  return out;
}

const DANE_FAILURES = new Set(["dane-check-failed", "starttls-not-offered", "tls-handshake-failed"]);

/** Why a host weakens a DANE domain ("" when it does not), for the partial state. */
function weakness(h: HostOutcome): string {
  switch (h.tlsaBaseWhy) {
    case "no-address":
    case "address-lookup-error":
      return "";
    case "tlsa-lookup-error":
      return `${h.host} (TLSA lookup failed)`;
    case "cname-lookup-error":
      return `${h.host} (CNAME lookup failed)`;
    case "incomplete-facts":
      return `${h.host} (facts incomplete)`;
    case "numeric-exchange":
      return `${h.host} (an IP address: no DANE)`;
  }
  if (h.requirement === "opportunistic") return `${h.host} (no TLSA)`;
  if (h.requirement === "tls") return `${h.host} (only unusable TLSA records)`;
  const failed = h.addresses.find(
    (a) => DANE_FAILURES.has(a.reason ?? "") || DANE_FAILURES.has(a.assessed?.reason ?? ""),
  );
  return failed ? `${h.host} (${failed.reason ?? failed.assessed?.reason} at ${failed.address})` : "";
}

function mxSentence(r: JudgedRecord): string {
  const v = r.verdict;
  switch (v.reason) {
    case "resolver-not-validating":
      return "The resolver did not prove that it validates DNSSEC, so nothing can be judged.";
    case "mx-lookup-failed": {
      const why = r.mx.security === "bogus" ? "bogus" : (r.mx.error ?? r.mx.outcome);
      return `The MX lookup for ${r.domain} failed (${why}); mail defers and never falls back to the domain's own addresses.`;
    }
    case "nxdomain":
      return `${r.domain} does not exist (NXDOMAIN).`;
    case "null-mx":
      return `${r.domain} publishes a null MX (RFC 7505): it accepts no mail.`;
  }
  const implicit = r.hosts.some((h) => h.implicit);
  const head = implicit ? `${r.domain} has no MX records, so it is its own mail host (implicit MX).` : "";
  const what = implicit ? "NODATA answer" : "MX RRset";
  const enforced = r.hosts.some((h) => h.requirement === "dane");
  const sec = r.mxSecure
    ? `The ${what} is DNSSEC-secure, so DANE applies.`
    : enforced
      ? `The ${what} is not DNSSEC-secure (${r.mx.security}), but the client policy (${r.engine.profile}) still requires the secure TLSA of the hosts that have one.`
      : `The ${what} is not DNSSEC-secure (${r.mx.security}): DANE does not apply and the hosts' TLSA is not required.`;
  return head ? `${head} ${sec}` : sec;
}

function verdictSentence(r: JudgedRecord): string {
  const v = r.verdict;
  if (v.action === "deliver") {
    return `Verdict: deliver ${v.security} to ${v.host} (${v.address}), reason ${v.reason}.`;
  }
  if (v.action === "defer" && v.beyondAddressLimit) {
    const b = v.beyondAddressLimit;
    return `Verdict: defer (${v.reason}); ${b.host} (${b.address}) would take the message ${b.security}, but it lies beyond the client's limit of ${b.limit} addresses and is never tried.`;
  }
  if (v.action === "defer") return `Verdict: defer (${v.reason}).`;
  if (v.action === "bounce") return `Verdict: bounce (${v.reason}).`;
  return `Verdict: indeterminate (${v.reason}).`;
}

const POLICY_TEXT: Record<string, string> = {
  "record-lookup-failed": "the _mta-sts TXT lookup failed",
  "record-invalid": "the _mta-sts TXT record is invalid",
  "host-lookup-failed": "the policy host's address lookups failed",
  "host-no-address": "the policy host has no address",
  "fetch-refused": "the policy host was not contacted (our policy)",
  "not-fetched": "the policy was not fetched",
  "fetch-failed": "the policy fetch failed",
  "host-certificate-invalid": "the policy host's certificate is not valid under WebPKI",
  "http-status": "the policy host did not answer 200",
  "content-type": "the policy is not served as text/plain",
  "too-large": "the policy is too large",
  "policy-invalid": "the policy does not parse",
  "not-validated": "the policy host's certificate could not be judged (no trust store)",
};

/** MTA-STS and TLS-RPT beside DANE (rules 41-48); nothing for a domain that publishes neither. */
function mailPolicySentences(r: JudgedRecord): string[] {
  const out: string[] = [];
  const m = r.mtaSts;
  if (m && m.policy !== "no-record") {
    const why = m.detail ? ` (${m.detail})` : "";
    if (m.policy !== "valid") {
      const id = m.id !== undefined ? `announces policy id ${m.id}, but ` : "";
      out.push(
        `MTA-STS: the _mta-sts record ${id}${POLICY_TEXT[m.policy] ?? m.policy}${why}; a sender without a cached policy applies none.`,
      );
    } else if (m.mode === "none") {
      out.push(`MTA-STS: policy id ${m.id}, mode none (MTA-STS switched off).`);
    } else {
      out.push(
        `MTA-STS: policy id ${m.id}, mode ${m.mode}, mx ${(m.mx ?? []).join(" ")}, max_age ${m.maxAge}.`,
      );
      for (const h of m.hosts ?? []) {
        const cover = h.pattern !== undefined ? `covered by ${h.pattern}` : "covered by no mx pattern";
        const cert =
          h.webpki === "valid"
            ? "certificate valid for its name"
            : `certificate: ${h.webpki}${h.detail ? ` (${h.detail})` : ""}`;
        out.push(`${h.host}: ${cover}; ${cert}.`);
      }
      const o = m.outcome;
      if (o) {
        const what =
          o.action === "deliver"
            ? `deliver to ${o.host} (${o.address}) with a certificate valid for its name`
            : `${o.action} (${o.reason})`;
        out.push(
          m.mode === "enforce"
            ? `A sender applying this policy without DANE would ${what}.`
            : `Senders deliver anyway (mode testing); enforcing, they would ${what}.`,
        );
      }
    }
    if (m.contradictions.length > 0) out.push(`MTA-STS contradictions: ${m.contradictions.join(", ")}.`);
  }
  const t = r.tlsRpt;
  if (t?.state === "valid") out.push(`TLS-RPT: reports go to ${(t.rua ?? []).join(", ")}.`);
  else if (t?.state === "invalid") out.push(`TLS-RPT: the _smtp._tls record is invalid (${t.detail}).`);
  else if (t?.state === "lookup-failed") out.push("TLS-RPT: the _smtp._tls lookup failed.");
  return out;
}

export function explain(r: JudgedRecord): string {
  const opts: ExplainOptions = { probeMode: r.probeMode === "dane" ? "dane" : "all" };
  const parts = [mxSentence(r)];
  const notTried: string[] = [];
  const beyond: string[] = [];
  for (const h of r.hosts ?? []) {
    parts.push(...hostSentences(h, opts));
    if (h.addresses.length > 0 && h.addresses.every((a) => a.result === "not-tried")) notTried.push(h.host);
    for (const a of h.addresses) if (a.result === "beyond-limit") beyond.push(`${h.host} (${a.address})`);
  }
  if (notTried.length > 0) parts.push(`Not reached (the ladder decided earlier): ${notTried.join(", ")}.`);
  if (beyond.length > 0) parts.push(`Beyond the client's address limit, never tried: ${beyond.join(", ")}.`);
  parts.push(verdictSentence(r));
  const weak = r.dane === "partial" ? r.hosts.map(weakness).filter((w) => w !== "") : [];
  parts.push(
    weak.length > 0 ? `DANE state: partial; weaker hosts: ${weak.join(", ")}.` : `DANE state: ${r.dane}.`,
  );
  if (r.problems?.length) parts.push(`Problems: ${r.problems.join(", ")}.`);
  parts.push(...riskSentences(r));
  parts.push(...mailPolicySentences(r));
  return parts.join(" ");
}

function riskSentences(r: JudgedRecord): string[] {
  const out: string[] = [];
  const c = r.consistency;
  if (c && c.state !== "consistent") {
    const named = c.servers
      .filter((s) => s.reasons.length > 0)
      .map((s) => `${s.server}${s.address ? ` (${s.address})` : ""}: ${s.reasons.join(", ")}`);
    if (c.state === "inconsistent") {
      out.push(`Authoritative servers disagree on the TLSA records: ${named.join("; ")}.`);
    } else if (c.state === "incomplete") {
      out.push("Not every authoritative server of the TLSA records could be asked; those asked agree.");
    } else {
      out.push("The authoritative servers of the TLSA records could not be found.");
    }
  }
  for (const l of r.latent ?? []) {
    const who =
      l.offered === "default"
        ? "senders offering ECDSA first"
        : `senders offering only ${l.offered.toUpperCase()}`;
    out.push(
      `${l.host} (${l.address}) presents another certificate${l.keyType ? ` (${l.keyType} key)` : ""} to ${who}, which the TLSA records do not authenticate (${l.failure}): those senders would defer.`,
    );
  }
  for (const h of r.hosts ?? []) {
    const reasons = h.rolloverRisk?.reasons ?? [];
    if (reasons.length > 0) out.push(`${h.host}: rollover risk (${reasons.join(", ")}).`);
  }
  return out;
}
