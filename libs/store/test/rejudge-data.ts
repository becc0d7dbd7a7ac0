/**
 * A scan to re-judge (rejudge-suite.ts, and the CLI and API tests): the 24
 * reference cases of libs/dane's fixtures and five "profile cases" whose
 * verdict depends on the client policy, each judged by judge() under the
 * `postfix` profile at JUDGED_AT and stored as the pipeline stores it, with
 * every probe the resolver stage would ask for (probeTargets, probe mode all).
 *
 * Expected outcomes are written from the rules (docs/rules.md section G,
 * libs/dane/README.md "Client policy" and "DANE states"), never by running
 * the engine:
 * - profile-mx-match: MX RRset unsigned, its host signed with a TLSA 3 1 1
 *   record the host's certificate matches. postfix (insecure-MX policy
 *   `dane`) enforces the host's TLSA: deliver dane-verified, DANE valid.
 *   rfc7672 (`may`): DANE does not apply under an unsigned MX: deliver
 *   encrypted (opportunistic-tls), DANE insecure.
 * - profile-mx-mismatch: the same, the host presents another certificate.
 *   postfix: defer dane-check-failed, invalid. rfc7672: deliver encrypted,
 *   insecure.
 * - profile-mx-tlsa-error: the same MX, the host's TLSA lookup times out.
 *   postfix: the host is unusable (rule 17): defer tlsa-lookup-failed, DANE
 *   dns-error. rfc7672: the TLSA is not consulted: deliver encrypted,
 *   insecure.
 * - profile-numeric-mx: a signed MX RRset whose exchange is an IPv4 address
 *   written as a name (its A and AAAA lookups: NXDOMAIN); the address offers
 *   no STARTTLS. postfix (numeric MX `literal`): deliver in plaintext to the
 *   address, DANE none. rfc7672 (`name`): no host has an address: bounce
 *   no-address, DANE no-mail.
 * - profile-ta-expiring: signed MX and host, TLSA 2 0 1 of a root the server
 *   sends under a leaf that expires on 2025-01-01, after JUDGED_AT and before
 *   today: judged at the time of the scan, deliver dane-verified and valid
 *   under both profiles (judged today, the expired leaf would fail: rule 26).
 */
import {
  type DomainFacts,
  judge,
  POLICY_PROFILES,
  type ProbeFacts,
  probeKeyString,
  probeTargets,
} from "@danesweep/dane";
import { digestHex, makeChain, makeSelfSigned, spkiOf } from "../../dane/test/certs.ts";
import {
  domainFacts,
  host,
  mxAnswer,
  mxDomain,
  nxdomain,
  probeStatus,
  probeTls,
  simpleHost,
  tlsaRec,
} from "../../dane/test/fixtures/build.ts";
import { buildSeedCases } from "../../dane/test/fixtures/seed-cases.ts";
import type { JudgedEntry } from "../src/store.ts";
import { JUDGED_AT, type ScanData } from "./scan-data.ts";

export { JUDGED_AT };

export interface Outcome {
  action: string;
  security: string | null;
  reason: string;
  dane: string;
}

export interface ProfileCase {
  domain: string;
  facts: DomainFacts;
  probes: ProbeFacts[];
  postfix: Outcome;
  rfc7672: Outcome;
}

const o = (action: string, security: string | null, reason: string, dane: string): Outcome => ({
  action,
  security,
  reason,
  dane,
});

export function profileCases(): ProfileCase[] {
  const insecureMx = (d: string, tlsa: "match" | "mismatch" | "error") => {
    const mx = `mx.${d}`;
    const ip = tlsa === "match" ? "192.0.2.11" : tlsa === "mismatch" ? "192.0.2.12" : "192.0.2.13";
    const good = makeSelfSigned([mx]);
    const other = makeSelfSigned(["other.example"]);
    const record = tlsaRec(3, 1, 1, digestHex("sha256", spkiOf(good)));
    const facts = mxDomain(
      d,
      [simpleHost(mx, 10, { v4: [ip], tlsa: tlsa === "error" ? "error" : [record] })],
      "insecure",
    );
    return { facts, probes: [probeTls(ip, mx, [(tlsa === "mismatch" ? other : good).b64])] };
  };
  const numeric = "profile-numeric-mx.example";
  const ta = "profile-ta-expiring.example";
  const taChain = makeChain({ leafNames: [`mx.${ta}`], leaf: { notAfter: Date.UTC(2025, 0, 1) } });
  return [
    {
      domain: "profile-mx-match.example",
      ...insecureMx("profile-mx-match.example", "match"),
      postfix: o("deliver", "dane-verified", "dane-authenticated", "valid"),
      rfc7672: o("deliver", "encrypted", "opportunistic-tls", "insecure"),
    },
    {
      domain: "profile-mx-mismatch.example",
      ...insecureMx("profile-mx-mismatch.example", "mismatch"),
      postfix: o("defer", null, "dane-check-failed", "invalid"),
      rfc7672: o("deliver", "encrypted", "opportunistic-tls", "insecure"),
    },
    {
      domain: "profile-mx-tlsa-error.example",
      ...insecureMx("profile-mx-tlsa-error.example", "error"),
      postfix: o("defer", null, "tlsa-lookup-failed", "dns-error"),
      rfc7672: o("deliver", "encrypted", "opportunistic-tls", "insecure"),
    },
    {
      domain: numeric,
      facts: domainFacts(numeric, mxAnswer(numeric, [[10, "192.0.2.77"]]), [
        host("192.0.2.77", 10, { a: nxdomain("192.0.2.77", "A"), aaaa: nxdomain("192.0.2.77", "AAAA") }),
      ]),
      probes: [probeStatus("192.0.2.77", "192.0.2.77", "starttls-not-offered")],
      postfix: o("deliver", "plaintext", "opportunistic-plaintext", "none"),
      rfc7672: o("bounce", null, "no-address", "no-mail"),
    },
    {
      domain: ta,
      facts: mxDomain(ta, [
        simpleHost(`mx.${ta}`, 10, {
          v4: ["192.0.2.21"],
          tlsa: [tlsaRec(2, 0, 1, digestHex("sha256", taChain.root.der))],
        }),
      ]),
      probes: [probeTls("192.0.2.21", `mx.${ta}`, taChain.withRoot)],
      postfix: o("deliver", "dane-verified", "dane-authenticated", "valid"),
      rfc7672: o("deliver", "dane-verified", "dane-authenticated", "valid"),
    },
  ];
}

/**
 * The scan's data: the 24 seed cases and the profile cases judged under
 * `postfix` at JUDGED_AT, and the probes the resolver stage asks for (probe
 * mode all); `profileCases` to look the profile cases' expectations up.
 */
export function rejudgeScanData(): ScanData & { profileCases: ProfileCase[] } {
  const world = buildSeedCases();
  const cases = profileCases();
  const all: {
    facts: DomainFacts;
    probe: (k: { ip: string; port: number; sni: string }) => ProbeFacts | undefined;
  }[] = [
    ...world.cases.map((c) => ({ facts: c.facts, probe: c.probes })),
    ...cases.map((c) => {
      const byKey = new Map(c.probes.map((p) => [probeKeyString(p), p]));
      return {
        facts: c.facts,
        probe: (k: { ip: string; port: number; sni: string }) => byKey.get(probeKeyString(k)),
      };
    }),
  ];
  const entries: JudgedEntry[] = [];
  const probes = new Map<string, ProbeFacts>();
  for (const c of all) {
    entries.push({ facts: c.facts, record: judge(c.facts, c.probe, { now: JUDGED_AT }) });
    for (const t of probeTargets(c.facts, { probeMode: "all", policy: POLICY_PROFILES.postfix })) {
      const p = c.probe(t);
      if (p) probes.set(probeKeyString(p), p);
    }
  }
  return { entries, probes: [...probes.values()], profileCases: cases };
}
