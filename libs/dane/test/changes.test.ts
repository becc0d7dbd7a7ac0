/**
 * Change events between two verdicts (changes.ts; docs/rules.md rules 49-51).
 *
 * 1. The golden table of rule 49-50: pairs of summaries (ChangeSide) and the
 *    kinds the rules give, written by hand from the rules' text.
 * 2. Rule 51 over records judge() makes from facts: which verdicts are fully
 *    observed, read off the rule (what our own side left unseen), and the
 *    case that made the rule: a scan that opts out a failing DANE host sees
 *    only the working one, and must not tell a CERT the domain was fixed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CHANGE_KINDS,
  type ChangeKind,
  type ChangeSide,
  changeKinds,
  changeSide,
  comparable,
  fullyObserved,
  primaryMxHost,
} from "../src/changes.ts";
import type { DomainFacts, HostFacts, ProbeFacts } from "../src/facts.ts";
import { judge } from "../src/judge.ts";
import { POLICY_PROFILES } from "../src/policy.ts";
import type { VerdictRecord } from "../src/verdict-types.ts";
import { digestHex, makeSelfSigned, spkiOf } from "./certs.ts";
import {
  domainFacts,
  failed,
  mxDomain,
  probeStatus,
  probeStore,
  probeTls,
  simpleHost,
  tlsaRec,
} from "./fixtures/build.ts";

// ------------------------------------------------------------------ 1. the golden table

const side = (o: Partial<ChangeSide> = {}): ChangeSide => ({
  profile: "postfix",
  dane: "valid",
  problems: [],
  mx: "mx1.example.org",
  observed: true,
  ...o,
});
const BROKEN = ["tlsa-mismatch"];

/** [what the row shows, before, after, the kinds rules 49 and 50 give]. */
const GOLDEN: [string, ChangeSide, ChangeSide, ChangeKind[]][] = [
  ["nothing changed", side(), side(), []],
  [
    "valid -> invalid with a mismatch: newly broken, DANE still published",
    side(),
    side({ dane: "invalid", problems: BROKEN }),
    ["newly-broken"],
  ],
  ["partial (mismatch) -> valid: fixed", side({ dane: "partial", problems: BROKEN }), side(), ["fixed"]],
  [
    "broken both times, another problem: no event",
    side({ dane: "invalid", problems: BROKEN }),
    side({ dane: "invalid", problems: ["starttls-missing"] }),
    [],
  ],
  [
    "broken both times, one problem more: no event",
    side({ dane: "invalid", problems: BROKEN }),
    side({ dane: "invalid", problems: ["tlsa-mismatch", "dnssec-bogus"] }),
    [],
  ],
  ["none -> valid: adopted", side({ dane: "none" }), side(), ["dane-adopted"]],
  ["insecure -> partial: adopted", side({ dane: "insecure" }), side({ dane: "partial" }), ["dane-adopted"]],
  [
    "no-mail -> unusable-records: adopted",
    side({ dane: "no-mail", mx: null }),
    side({ dane: "unusable-records" }),
    ["dane-adopted"],
  ],
  ["valid -> insecure: dropped", side(), side({ dane: "insecure" }), ["dane-dropped"]],
  [
    "invalid (broken) -> none: fixed and dropped",
    side({ dane: "invalid", problems: BROKEN }),
    side({ dane: "none" }),
    ["fixed", "dane-dropped"],
  ],
  [
    "valid -> no-mail (the domain went away, no MX host left): dropped",
    side(),
    side({ dane: "no-mail", mx: null }),
    ["dane-dropped"],
  ],
  ["none -> insecure: both without DANE, no event", side({ dane: "none" }), side({ dane: "insecure" }), []],
  ["valid -> partial, not broken: both with DANE, no event", side(), side({ dane: "partial" }), []],
  ["none -> dns-error: says nothing either way", side({ dane: "none" }), side({ dane: "dns-error" }), []],
  ["dns-error -> valid: says nothing either way", side({ dane: "dns-error" }), side(), []],
  [
    "dns-error with a TLSA lookup failure -> valid: fixed, no adoption",
    side({ dane: "dns-error", problems: ["tlsa-lookup-failed"] }),
    side(),
    ["fixed"],
  ],
  ["another primary MX host: moved", side(), side({ mx: "mx2.example.org" }), ["mx-moved"]],
  ["no primary MX before: not moved", side({ dane: "no-mail", mx: null }), side({ dane: "no-mail" }), []],
  ["no primary MX after: not moved", side({ dane: "none" }), side({ dane: "no-mail", mx: null }), []],
  [
    "every kind at once but fixed (none of them excludes another)",
    side({ dane: "none", mx: "old.example.net" }),
    side({ dane: "invalid", problems: BROKEN }),
    ["newly-broken", "dane-adopted", "mx-moved"],
  ],
  // Rule 50: only comparable verdicts are compared.
  [
    "after not fully observed: no event, whatever changed",
    side({ dane: "partial", problems: BROKEN }),
    side({ observed: false, mx: "mx2.example.org" }),
    [],
  ],
  [
    "before not fully observed: no event, whatever changed",
    side({ observed: false, dane: "none" }),
    side({ dane: "invalid", problems: BROKEN }),
    [],
  ],
  [
    "judged under another profile: no event (the difference is ours)",
    side({ profile: "rfc7672", dane: "insecure" }),
    side(),
    [],
  ],
];

describe("rules 49-50: the golden table", () => {
  for (const [what, before, after, kinds] of GOLDEN) {
    test(what, () => {
      assert.deepEqual(changeKinds(before, after), kinds);
    });
  }

  test("every kind is pinned by a row, and kinds come in CHANGE_KINDS order", () => {
    const seen = new Set(GOLDEN.flatMap((r) => r[3]));
    assert.deepEqual([...seen].sort(), [...CHANGE_KINDS].sort());
    for (const [, , , kinds] of GOLDEN) {
      assert.deepEqual(
        kinds,
        CHANGE_KINDS.filter((k) => kinds.includes(k)),
      );
    }
  });

  test("comparable: both fully observed, one profile", () => {
    assert.equal(comparable(side(), side()), true);
    assert.equal(comparable(side({ observed: false }), side()), false);
    assert.equal(comparable(side(), side({ observed: false })), false);
    assert.equal(comparable(side({ profile: "rfc7672" }), side()), false);
  });
});

// ------------------------------------------------------------------ 2. rule 51 over judged records

const NOW = Date.UTC(2026, 10, 1);
const D = "example.org";
const MX1 = "mx1.example.org";
const MX2 = "mx2.example.org";
const IP1 = "192.0.2.1";
const IP2 = "192.0.2.2";
const good = makeSelfSigned([MX1, MX2]);
const other = makeSelfSigned(["other.example"]);
/** 3 1 1 of `good`'s key, computed here through node's crypto. */
const RIGHT = tlsaRec(3, 1, 1, digestHex("sha256", spkiOf(good)));

const dane = (name: string, pref: number, ips: string[]): HostFacts =>
  simpleHost(name, pref, { v4: ips, tlsa: [RIGHT] });
const plainHost = (name: string, pref: number, ips: string[]): HostFacts =>
  simpleHost(name, pref, { v4: ips });
const ok = (ip: string, sni: string) => probeTls(ip, sni, [good.b64]);
const wrong = (ip: string, sni: string) => probeTls(ip, sni, [other.b64]);

function judged(facts: DomainFacts, probes: ProbeFacts[], opts: { probeMode?: "all" | "dane" } = {}) {
  return judge(facts, probeStore(probes), { now: NOW, probeMode: opts.probeMode ?? "all" });
}

/** test1.testing's shape: the primary presents a certificate no record matches, the secondary the right one. */
const failingPrimary = () => mxDomain(D, [dane(MX1, 10, [IP1]), dane(MX2, 20, [IP2])]);

describe("rule 51: fully observed", () => {
  test("the case behind the rule: opting out a failing host would read as 'fixed'", () => {
    const seen = judged(failingPrimary(), [wrong(IP1, MX1), ok(IP2, MX2)]);
    assert.equal(seen.dane, "partial");
    assert.deepEqual(seen.problems, ["tlsa-mismatch"]);
    assert.equal(fullyObserved(seen), true);

    // The next scan leaves the primary out (opt-out list): only the working secondary is seen.
    const optedOut = judged(failingPrimary(), [probeStatus(IP1, MX1, "policy-opt-out"), ok(IP2, MX2)]);
    assert.deepEqual(optedOut.verdict, { action: "indeterminate", reason: "policy-refused" });
    assert.equal(optedOut.dane, "valid");
    assert.deepEqual(optedOut.problems, []);
    assert.equal(fullyObserved(optedOut), false);

    const before = changeSide(seen);
    const after = changeSide(optedOut);
    assert.deepEqual(
      changeKinds({ ...before }, { ...after, observed: true }),
      ["fixed"],
      "what rule 51 prevents",
    );
    assert.deepEqual(changeKinds(before, after), []);
    assert.deepEqual(changeKinds(after, before), [], "nor newly broken when the host is seen again");
  });

  test("a failing host after the decision, refused as a non-public address: not fully observed", () => {
    // The primary delivers; the secondary (which would fail) is only assessed.
    const f = mxDomain(D, [dane(MX1, 10, [IP1]), dane(MX2, 20, [IP2])]);
    const r = judged(f, [ok(IP1, MX1), probeStatus(IP2, MX2, "policy-private-address")]);
    assert.equal(r.verdict.action, "deliver");
    assert.equal(r.hosts[1]!.addresses[0]!.result, "not-tried");
    assert.equal(r.hosts[1]!.addresses[0]!.assessed?.result, "policy-refused");
    assert.equal(fullyObserved(r), false);
  });

  test("an address of a DANE host without probe facts (prober failure or probe mode): not fully observed", () => {
    const f = mxDomain(D, [dane(MX1, 10, [IP1, IP2])]);
    const missing = judged(f, [ok(IP1, MX1)]);
    assert.equal(missing.dane, "valid");
    assert.equal(fullyObserved(missing), false);
    const internal = judged(f, [ok(IP1, MX1), probeStatus(IP2, MX1, "internal-error")]);
    assert.equal(fullyObserved(internal), false);
    assert.equal(fullyObserved(judged(f, [ok(IP1, MX1), ok(IP2, MX1)])), true);
  });

  test("a host without TLSA refused or not probed: still fully observed (its probes decide nothing of DANE)", () => {
    const f = mxDomain(D, [plainHost(MX1, 10, [IP1]), dane(MX2, 20, [IP2])]);
    const refused = judged(f, [probeStatus(IP1, MX1, "policy-opt-out"), ok(IP2, MX2)]);
    assert.deepEqual(refused.verdict, { action: "indeterminate", reason: "policy-refused" });
    assert.equal(refused.dane, "partial");
    assert.equal(fullyObserved(refused), true);
    // Probe mode dane probes no host without TLSA.
    const daneMode = judged(f, [ok(IP2, MX2)], { probeMode: "dane" });
    assert.equal(daneMode.dane, "partial");
    assert.equal(fullyObserved(daneMode), true);
    // No TLSA anywhere: the DANE state comes from DNS alone.
    const none = judged(mxDomain(D, [plainHost(MX1, 10, [IP1])]), [probeStatus(IP1, MX1, "policy-opt-out")]);
    assert.equal(none.dane, "none");
    assert.equal(fullyObserved(none), true);
  });

  test("an insecure MX under rfc7672: the state comes from DNS alone, a refused host with TLSA changes nothing", () => {
    const f = mxDomain(D, [dane(MX1, 10, [IP1])], "insecure");
    const r = judge(f, probeStore([probeStatus(IP1, MX1, "policy-opt-out")]), {
      now: NOW,
      policy: POLICY_PROFILES.rfc7672,
    });
    assert.equal(r.dane, "insecure");
    assert.ok(r.hosts[0]!.tlsa, "the host's secure TLSA is on the record");
    assert.equal(fullyObserved(r), true);
  });

  test("an unreachable host is an observation; a domain whose DANE hosts are all unreachable is not", () => {
    const f = failingPrimary();
    const partly = judged(f, [probeStatus(IP1, MX1, "connect-refused"), ok(IP2, MX2)]);
    assert.equal(partly.dane, "valid");
    assert.equal(fullyObserved(partly), true);
    const all = judged(f, [
      probeStatus(IP1, MX1, "connect-refused"),
      probeStatus(IP2, MX2, "connect-timeout"),
    ]);
    assert.equal(all.dane, "indeterminate");
    assert.equal(fullyObserved(all), false);
  });

  test("a resolver that does not validate: not fully observed", () => {
    const f = failingPrimary();
    f.resolverValidates = false;
    const r = judged(f, []);
    assert.equal(r.dane, "indeterminate");
    assert.equal(fullyObserved(r), false);
  });

  test("a failed MX lookup hides the hosts; a bogus one is a finding", () => {
    const timeout = judged(domainFacts(D, failed(D, "MX", "timeout"), []), []);
    assert.equal(timeout.dane, "dns-error");
    assert.deepEqual(timeout.problems, []);
    assert.equal(fullyObserved(timeout), false);
    const bogus = judged(domainFacts(D, failed(D, "MX", "servfail", "bogus"), []), []);
    assert.deepEqual(bogus.problems, ["dnssec-bogus"]);
    assert.equal(fullyObserved(bogus), true);
  });

  test("failed address lookups of every host hide the hosts", () => {
    const h = simpleHost(MX1, 10, { tlsa: [RIGHT] });
    h.a = failed(MX1, "A", "timeout");
    h.aaaa = failed(MX1, "AAAA", "timeout");
    const r = judged(mxDomain(D, [h]), []);
    assert.equal(r.verdict.reason, "address-lookup-failed");
    assert.equal(fullyObserved(r), false);
  });

  test("a TLSA lookup failure is a problem the scan saw: fully observed", () => {
    const r = judged(mxDomain(D, [simpleHost(MX1, 10, { v4: [IP1], tlsa: "error" })]), []);
    assert.deepEqual(r.problems, ["tlsa-lookup-failed"]);
    assert.equal(fullyObserved(r), true);
  });
});

describe("changeSide", () => {
  test("the profile, DANE state, problems and primary MX host of a record", () => {
    const f = mxDomain(D, [dane(MX2, 10, [IP2]), dane(MX1, 10, [IP1]), dane("a.example.org", 5, [])]);
    const r = judge(f, probeStore([ok(IP1, MX1), ok(IP2, MX2)]), {
      now: NOW,
      policy: POLICY_PROFILES.rfc7672,
    });
    // a.example.org has no address: the ladder keeps it, first by preference.
    assert.deepEqual(changeSide(r), {
      profile: "rfc7672",
      dane: "valid",
      problems: [],
      mx: "a.example.org",
      observed: true,
    });
  });

  test("primaryMxHost: lowest preference, then the ladder's order; none without hosts", () => {
    const host = (h: string, preference: number) =>
      ({ host: h, preference }) as VerdictRecord["hosts"][number];
    assert.equal(primaryMxHost({ hosts: [host("b", 20), host("c", 10), host("d", 10)] }), "c");
    assert.equal(primaryMxHost({ hosts: [] }), null);
    assert.equal(primaryMxHost({}), null);
  });

  test("records stored before problems and profiles existed", () => {
    const old = { dane: "valid", verdict: { action: "deliver", reason: "dane-authenticated" } } as const;
    assert.deepEqual(changeSide(old), {
      profile: "postfix",
      dane: "valid",
      problems: [],
      mx: null,
      observed: true,
    });
  });
});
