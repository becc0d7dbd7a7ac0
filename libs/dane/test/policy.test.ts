/**
 * The client policy (docs/rules.md section G, rules 31-36): the two profiles,
 * what each setting changes in a verdict, the engine and profile on every
 * record, the problems, the failing hosts, TLD and provider, and explain()
 * from the record alone. Expected values come from the Postfix parameters'
 * documented behaviour and RFC 7672, not from the code; TLSA data is computed
 * here from real certificates.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { explain } from "../src/explain.ts";
import type { DomainFacts, HostFacts, ProbeFacts } from "../src/facts.ts";
import { judge } from "../src/judge.ts";
import {
  type ClientPolicy,
  DEFAULT_POLICY_PROFILE,
  ENGINE_VERSION,
  engineBefore,
  POLICY_PROFILE_NAMES,
  POLICY_PROFILES,
  policyProfile,
} from "../src/policy.ts";
import { applyAddressLimit, domainRoute, numericExchange, probeTargets } from "../src/probe-targets.ts";
import { FAILING_HOSTS_SINCE, failingHosts, upgradeRecord } from "../src/problems.ts";
import type { JudgedRecord, VerdictRecord } from "../src/verdict-types.ts";
import { digestHex, makeSelfSigned, spkiOf } from "./certs.ts";
import {
  domainFacts,
  failed,
  host,
  mxAnswer,
  mxDomain,
  nxdomain,
  probeStatus,
  probeStore,
  probeTls,
  type SimpleHostOpts,
  simpleHost,
  tlsaRec,
} from "./fixtures/build.ts";

const NOW = Date.UTC(2025, 6, 1);
const D = "example.org";
const POSTFIX = POLICY_PROFILES.postfix;
const RFC = POLICY_PROFILES.rfc7672;

const good = makeSelfSigned(["mx1.example.org"]);
const other = makeSelfSigned(["other.example"]);
const RIGHT = tlsaRec(3, 1, 1, digestHex("sha256", spkiOf(good)));
const PKIX = tlsaRec(1, 1, 1, digestHex("sha256", spkiOf(good)));

const mkHost = simpleHost;
type HostOpts = SimpleHostOpts;
const mkDomain = (hosts: HostFacts[], security: "secure" | "insecure" = "secure"): DomainFacts =>
  mxDomain(D, hosts, security);

function run(facts: DomainFacts, probes: ProbeFacts[], policy?: ClientPolicy) {
  const store = probeStore(probes);
  const r = judge(facts, store, policy ? { now: NOW, policy } : { now: NOW });
  return { r, asked: store.asked };
}

describe("profiles", () => {
  test("postfix is the default; both profiles can be looked up by name; others cannot", () => {
    assert.equal(DEFAULT_POLICY_PROFILE, "postfix");
    assert.deepEqual(POLICY_PROFILE_NAMES, ["postfix", "rfc7672"]);
    assert.equal(policyProfile("postfix"), POSTFIX);
    assert.equal(policyProfile("rfc7672"), RFC);
    assert.equal(policyProfile("sendmail"), undefined);
    assert.equal(policyProfile("toString"), undefined);
  });

  test("Postfix 3.7 defaults: dane level, insecure MX policy dane, 5 addresses balanced, numeric MX literal, depth 9", () => {
    assert.deepEqual(
      { ...POSTFIX },
      {
        name: "postfix",
        securityLevel: "dane",
        insecureMxPolicy: "dane",
        mxAddressLimit: 5,
        balanceInetProtocols: true,
        numericMx: "literal",
        serverCertVerifyDepth: 9,
      },
    );
  });

  test("every record names the engine version and the profile used", () => {
    const f = mkDomain([mkHost("mx1.example.org", 10, { v4: ["192.0.2.1"], tlsa: [RIGHT] })]);
    const probes = [probeTls("192.0.2.1", "mx1.example.org", [good.b64])];
    assert.deepEqual(run(f, probes).r.engine, { version: ENGINE_VERSION, profile: "postfix" });
    assert.deepEqual(run(f, probes, RFC).r.engine, { version: ENGINE_VERSION, profile: "rfc7672" });
    const bad = judge({} as DomainFacts, () => undefined, { now: NOW, policy: RFC });
    assert.deepEqual(bad.engine, { version: ENGINE_VERSION, profile: "rfc7672" });
  });
});

describe("rule 32: insecure MX policy (smtp_tls_dane_insecure_mx_policy)", () => {
  const MX = "mx1.example.org";
  const IP = "192.0.2.1";
  const insecureMx = (tlsa: HostOpts["tlsa"]) => mkDomain([mkHost(MX, 10, { v4: [IP], tlsa })], "insecure");

  test("postfix (dane): a secure TLSA of a host under an unsigned MX is still required: a mismatch defers", () => {
    const { r } = run(insecureMx([RIGHT]), [probeTls(IP, MX, [other.b64])]);
    assert.deepEqual(r.verdict, { action: "defer", reason: "dane-check-failed" });
    assert.equal(r.hosts[0]!.requirement, "dane");
    assert.equal(r.mxSecure, false);
    assert.equal(r.dane, "invalid");
    assert.deepEqual(r.problems, ["tlsa-mismatch"]);
  });

  test("postfix (dane): a matching chain is delivered dane-verified; rfc7672 (may) delivers encrypted", () => {
    const probes = [probeTls(IP, MX, [good.b64])];
    const pf = run(insecureMx([RIGHT]), probes).r;
    assert.equal(pf.verdict.security, "dane-verified");
    assert.equal(pf.dane, "valid");
    const rfc = run(insecureMx([RIGHT]), probes, RFC).r;
    assert.equal(rfc.verdict.security, "encrypted");
    assert.equal(rfc.verdict.reason, "opportunistic-tls");
    assert.equal(rfc.dane, "insecure");
    assert.equal(rfc.hosts[0]!.wouldAuthenticate, true);
  });

  test("postfix (dane): the host's TLSA lookup error makes it unusable; rfc7672 ignores it", () => {
    const pf = run(insecureMx("error"), [probeTls(IP, MX, [good.b64])]);
    assert.deepEqual(pf.r.verdict, { action: "defer", reason: "tlsa-lookup-failed" });
    assert.deepEqual(pf.asked, []);
    assert.deepEqual(pf.r.problems, ["tlsa-lookup-failed"]);
    const rfc = run(insecureMx("error"), [probeTls(IP, MX, [good.b64])], RFC).r;
    assert.equal(rfc.verdict.action, "deliver");
    assert.deepEqual(rfc.problems, []);
  });

  test("postfix (dane): no TLSA anywhere under an unsigned MX stays 'insecure'", () => {
    const { r } = run(insecureMx(null), [probeTls(IP, MX, [good.b64])]);
    assert.equal(r.verdict.reason, "opportunistic-tls");
    assert.equal(r.dane, "insecure");
  });

  test("encrypt: secure TLSA under an unsigned MX requires TLS without authentication", () => {
    const policy: ClientPolicy = { ...POSTFIX, name: "encrypt-mx", insecureMxPolicy: "encrypt" };
    const mismatch = run(insecureMx([RIGHT]), [probeTls(IP, MX, [other.b64])], policy).r;
    assert.deepEqual(mismatch.verdict.reason, "tls-required-unauthenticated");
    assert.equal(mismatch.hosts[0]!.wouldAuthenticate, false);
    const plain = run(insecureMx([RIGHT]), [probeStatus(IP, MX, "starttls-not-offered")], policy).r;
    assert.deepEqual(plain.verdict, { action: "defer", reason: "starttls-not-offered" });
    assert.equal(plain.dane, "insecure");
  });

  test("a host in an insecure zone gets no DANE whatever the policy (its address is not secure)", () => {
    const f = mkDomain([mkHost(MX, 10, { v4: [IP], security: "insecure" })], "insecure");
    const { r } = run(f, [probeStatus(IP, MX, "starttls-not-offered")]);
    assert.equal(r.verdict.security, "plaintext");
  });
});

describe("rule 34: MX address limit (smtp_mx_address_limit)", () => {
  const six = () =>
    mkDomain(
      [1, 2, 3, 4, 5, 6].map((i) =>
        mkHost(`mx${i}.example.org`, i * 10, { v4: [`192.0.2.${i}`], tlsa: [RIGHT] }),
      ),
    );
  const probes = () => [
    ...[1, 2, 3, 4, 5].map((i) => probeStatus(`192.0.2.${i}`, `mx${i}.example.org`, "connect-refused")),
    probeTls("192.0.2.6", "mx6.example.org", [good.b64]),
  ];

  test("postfix: a domain that works only through its sixth address defers, and the verdict says so", () => {
    const { r, asked } = run(six(), probes());
    assert.equal(r.verdict.action, "defer");
    assert.equal(r.verdict.reason, "connection-failed");
    assert.deepEqual(r.verdict.beyondAddressLimit, {
      limit: 5,
      host: "mx6.example.org",
      address: "192.0.2.6",
      security: "dane-verified",
    });
    const last = r.hosts[5]!.addresses[0]!;
    assert.equal(last.result, "beyond-limit");
    assert.deepEqual(last.assessed, { result: "dane-verified", reason: "dane-authenticated" });
    assert.equal(asked.length, 6, "the sixth address is assessed for the record");
    assert.match(r.explanation, /beyond the client's limit of 5 addresses/);
  });

  test("rfc7672: no limit, the sixth address delivers", () => {
    const { r } = run(six(), probes(), RFC);
    assert.equal(r.verdict.action, "deliver");
    assert.equal(r.verdict.host, "mx6.example.org");
    assert.equal(r.verdict.beyondAddressLimit, undefined);
  });

  test("the limit counts addresses, not hosts, in route order", () => {
    const f = mkDomain([
      mkHost("mx1.example.org", 10, { v4: ["192.0.2.1", "192.0.2.2", "192.0.2.3"], tlsa: [RIGHT] }),
      mkHost("mx2.example.org", 20, { v4: ["192.0.2.4", "192.0.2.5", "192.0.2.6"], tlsa: [RIGHT] }),
    ]);
    const route = domainRoute(f, POSTFIX);
    assert.equal(route.kind, "hosts");
    if (route.kind !== "hosts") return;
    assert.deepEqual(
      route.hosts.flatMap((h) => h.addresses.map((a) => [a.ip, a.beyondLimit])),
      [
        ["192.0.2.1", false],
        ["192.0.2.2", false],
        ["192.0.2.3", false],
        ["192.0.2.4", false],
        ["192.0.2.5", false],
        ["192.0.2.6", true],
      ],
    );
  });

  test("balancing keeps both families within the limit (smtp_balance_inet_protocols)", () => {
    const v6 = (i: number) => `2001:db8::${i}`;
    // Six IPv6 addresses first, then two IPv4: without balancing the IPv4 ones would be cut.
    const f = mkDomain([
      mkHost("mx1.example.org", 10, { v6: [1, 2, 3, 4, 5, 6].map(v6), tlsa: [RIGHT] }),
      mkHost("mx2.example.org", 20, { v4: ["192.0.2.1", "192.0.2.2"], tlsa: [RIGHT] }),
    ]);
    const kept = (policy: ClientPolicy) => {
      const route = domainRoute(f, policy);
      if (route.kind !== "hosts") return [];
      return route.hosts.flatMap((h) => h.addresses.filter((a) => !a.beyondLimit).map((a) => a.ip));
    };
    // v4 count 2 <= 5/2: both IPv4 kept, IPv6 fills the other 3.
    assert.deepEqual(kept(POSTFIX), [v6(1), v6(2), v6(3), "192.0.2.1", "192.0.2.2"]);
    assert.deepEqual(kept({ ...POSTFIX, balanceInetProtocols: false }), [v6(1), v6(2), v6(3), v6(4), v6(5)]);
  });

  test("balancing with both families above half the limit: the odd share goes to the first address's family", () => {
    const route = {
      kind: "hosts" as const,
      hosts: [
        {
          addresses: [
            ...["a", "b", "c", "d"].map((x) => ({ ip: `v6-${x}`, family: 6 as const })),
            ...["a", "b", "c", "d"].map((x) => ({ ip: `v4-${x}`, family: 4 as const })),
          ].map((a) => ({ ...a, security: "secure" as const, beyondLimit: false })),
        },
      ],
    };
    applyAddressLimit(route.hosts as never, POSTFIX);
    assert.deepEqual(
      route.hosts[0]!.addresses.filter((a) => !a.beyondLimit).map((a) => a.ip),
      ["v6-a", "v6-b", "v6-c", "v4-a", "v4-b"],
    );
  });

  test("a host's addresses: A then AAAA, each address once in its first place, few or many", () => {
    const addressesOf = (v4: string[], v6: string[]) => {
      const route = domainRoute(mkDomain([mkHost("mx1.example.org", 10, { v4, v6, tlsa: [RIGHT] })]), RFC);
      return route.kind === "hosts" ? route.hosts[0]!.addresses.map((a) => `${a.family} ${a.ip}`) : [];
    };
    assert.deepEqual(addressesOf(["192.0.2.2", "192.0.2.1", "192.0.2.2"], ["2001:db8::1", "2001:db8::1"]), [
      "4 192.0.2.2",
      "4 192.0.2.1",
      "6 2001:db8::1",
    ]);
    // Forty A records, each listed twice, and three AAAA: past a short list, duplicates are still dropped in order.
    const many = Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`);
    const got = addressesOf([...many, ...[...many].reverse()], ["2001:db8::2", "2001:db8::3", "2001:db8::2"]);
    assert.deepEqual(got, [...many.map((ip) => `4 ${ip}`), "6 2001:db8::2", "6 2001:db8::3"]);
  });

  test("probe mode dane leaves addresses beyond the limit unprobed; mode all probes them", () => {
    const dane = probeTargets(six(), { probeMode: "dane" }).map((t) => t.ip);
    assert.deepEqual(dane, ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"]);
    assert.equal(probeTargets(six(), { probeMode: "all" }).length, 6);
    assert.equal(probeTargets(six(), { probeMode: "dane", policy: RFC }).length, 6);
  });
});

describe("rule 33: numeric MX exchange", () => {
  const numericDomain = () =>
    domainFacts(D, mxAnswer(D, [[10, "192.0.2.77"]]), [
      host("192.0.2.77", 10, {
        a: nxdomain("192.0.2.77", "A"),
        aaaa: nxdomain("192.0.2.77", "AAAA"),
      }),
    ]);

  test("numericExchange recognises IPv4 (and IPv6) literals only", () => {
    assert.deepEqual(numericExchange("192.0.2.77"), { ip: "192.0.2.77", family: 4 });
    assert.deepEqual(numericExchange("2001:DB8::1"), { ip: "2001:db8::1", family: 6 });
    assert.equal(numericExchange("192.0.2.77.example"), undefined);
    assert.equal(numericExchange("1.2.3"), undefined);
    assert.equal(numericExchange("mx.example.org"), undefined);
  });

  test("postfix: connects to the address literally, without DANE", () => {
    const { r, asked } = run(numericDomain(), [
      probeStatus("192.0.2.77", "192.0.2.77", "starttls-not-offered"),
    ]);
    assert.deepEqual(r.verdict, {
      action: "deliver",
      security: "plaintext",
      host: "192.0.2.77",
      address: "192.0.2.77",
      reason: "opportunistic-plaintext",
    });
    assert.deepEqual(asked, ["192.0.2.77|25|192.0.2.77"]);
    assert.equal(r.hosts[0]!.tlsaBaseWhy, "numeric-exchange");
    assert.equal(r.hosts[0]!.numeric, true);
    assert.equal(r.dane, "none");
    assert.equal(r.provider, undefined);
    assert.deepEqual(
      probeTargets(numericDomain(), { probeMode: "all" }).map((t) => [t.ip, t.requirement]),
      [["192.0.2.77", "opportunistic"]],
    );
  });

  test("an exchange spelling IPv6 its own way is probed at the address's one canonical text (RFC 5952)", () => {
    // RFC 5952 section 4: lowercase, leading zeros dropped, the longest zero run as "::";
    // section 5: an IPv4-mapped address in mixed notation. The prober stores its facts under
    // that text, and the DNS decoder writes AAAA records in it.
    const spellings: [string, string][] = [
      ["::FFFF:7f00:1", "::ffff:127.0.0.1"],
      ["0:0:0:0:0:ffff:c000:0221", "::ffff:192.0.2.33"],
      ["2001:0DB8:0:0:0:0:0:0025", "2001:db8::25"],
    ];
    for (const [exchange, canonical] of spellings) {
      assert.deepEqual(numericExchange(exchange), { ip: canonical, family: 6 }, exchange);
      const facts = domainFacts(D, mxAnswer(D, [[10, exchange]]), [
        host(exchange, 10, { a: nxdomain(exchange, "A"), aaaa: nxdomain(exchange, "AAAA") }),
      ]);
      assert.deepEqual(
        probeTargets(facts, { probeMode: "all" }).map((t) => t.ip),
        [canonical],
      );
      const { r, asked } = run(facts, [probeStatus(canonical, exchange, "starttls-not-offered")]);
      assert.deepEqual(asked, [`${canonical}|25|${exchange}`]);
      assert.deepEqual(r.verdict, {
        action: "deliver",
        security: "plaintext",
        host: exchange,
        address: canonical,
        reason: "opportunistic-plaintext",
      });
    }
  });

  test("rfc7672: the exchange is a name with no address: the domain bounces", () => {
    const { r, asked } = run(numericDomain(), [], RFC);
    assert.deepEqual(r.verdict, { action: "bounce", reason: "no-address" });
    assert.deepEqual(asked, []);
  });
});

describe("rule 31: security level (smtp_tls_security_level)", () => {
  const MX1 = "mx1.example.org";
  const MX2 = "mx2.example.org";
  const f = () =>
    mkDomain([mkHost(MX1, 10, { v4: ["192.0.2.1"] }), mkHost(MX2, 20, { v4: ["192.0.2.2"], tlsa: [RIGHT] })]);
  const probes = [probeTls("192.0.2.1", MX1, [other.b64]), probeTls("192.0.2.2", MX2, [other.b64])];

  test("dane-only: a host without DANE is not used; the next host's DANE failure defers", () => {
    const policy: ClientPolicy = { ...POSTFIX, name: "dane-only", securityLevel: "dane-only" };
    const { r } = run(f(), probes, policy);
    assert.deepEqual(r.verdict, { action: "defer", reason: "dane-check-failed" });
    assert.equal(r.hosts[0]!.reason, "dane-unavailable");
    assert.deepEqual(r.hosts[0]!.addresses[0], {
      address: "192.0.2.1",
      family: 4,
      security: "secure",
      result: "failed",
      reason: "dane-unavailable",
    });
    // The DANE state is the domain's, as DANE sees it: a host without TLSA, one that fails.
    assert.equal(r.dane, "invalid");
  });

  test("dane-only: an unsigned MX makes every host unusable", () => {
    const policy: ClientPolicy = { ...POSTFIX, name: "dane-only", securityLevel: "dane-only" };
    const g = mkDomain([mkHost(MX1, 10, { v4: ["192.0.2.1"], tlsa: [RIGHT] })], "insecure");
    const { r } = run(g, [probeTls("192.0.2.1", MX1, [good.b64])], policy);
    assert.deepEqual(r.verdict, { action: "defer", reason: "dane-unavailable" });
  });

  test("encrypt: TLS required everywhere, no authentication", () => {
    const policy: ClientPolicy = { ...POSTFIX, name: "encrypt", securityLevel: "encrypt" };
    const { r } = run(f(), probes, policy);
    assert.equal(r.verdict.reason, "tls-required-unauthenticated");
    assert.equal(r.verdict.host, MX1);
    // DANE state from DANE's view: the TLSA host fails authentication.
    assert.equal(r.dane, "invalid");
    assert.equal(r.hosts[1]!.addresses[0]!.result, "not-tried");
  });

  test("may: TLSA is not consulted, STARTTLS is optional", () => {
    const policy: ClientPolicy = { ...POSTFIX, name: "may", securityLevel: "may" };
    const g = mkDomain([mkHost(MX2, 20, { v4: ["192.0.2.2"], tlsa: "error" })]);
    const { r } = run(g, [probeStatus("192.0.2.2", MX2, "starttls-not-offered")], policy);
    assert.equal(r.verdict.security, "plaintext");
  });
});

describe("rule 36: problems and failing hosts", () => {
  const MX1 = "mx1.example.org";
  const MX2 = "mx2.example.org";

  test("the problems of the SQL view, read from the verdict (partial: one host mismatches, one has no STARTTLS)", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: ["192.0.2.1"], tlsa: [RIGHT] }),
      mkHost(MX2, 20, { v4: ["192.0.2.2"], tlsa: [RIGHT] }),
      mkHost("mx3.example.org", 30, { v4: ["192.0.2.3"], tlsa: [RIGHT] }),
    ]);
    const { r } = run(f, [
      probeTls("192.0.2.1", MX1, [good.b64]),
      probeTls("192.0.2.2", MX2, [other.b64]),
      probeStatus("192.0.2.3", "mx3.example.org", "starttls-not-offered"),
    ]);
    assert.equal(r.dane, "partial");
    assert.deepEqual(r.problems, ["tlsa-mismatch", "starttls-missing"]);
    // The failing hosts are stored on the record by judge(): the views read them, never derive them.
    assert.deepEqual(r.failingHosts, [
      {
        host: MX2,
        preference: 20,
        requirement: "dane",
        tlsaBaseWhy: "host-name-secure",
        reason: "dane-check-failed",
        addresses: [{ address: "192.0.2.2", result: "not-tried", reason: "dane-check-failed" }],
      },
      {
        host: "mx3.example.org",
        preference: 30,
        requirement: "dane",
        tlsaBaseWhy: "host-name-secure",
        reason: "starttls-not-offered",
        addresses: [{ address: "192.0.2.3", result: "not-tried", reason: "starttls-not-offered" }],
      },
    ]);
    assert.deepEqual(failingHosts(r), r.failingHosts, "the rule judge() applied");
  });

  test("a host whose TLSA lookup failed is a failing host: its address would fail untried", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: ["192.0.2.1"], tlsa: [RIGHT] }),
      mkHost(MX2, 20, { v4: ["192.0.2.2"], tlsa: "error" }),
    ]);
    const { r } = run(f, [probeTls("192.0.2.1", MX1, [good.b64])]);
    assert.equal(r.verdict.host, MX1);
    assert.deepEqual(r.problems, ["tlsa-lookup-failed"]);
    // Rule 16: a TLSA lookup error makes the host unusable; the ladder had delivered before it.
    assert.deepEqual(
      r.failingHosts?.map((h) => [h.host, h.tlsaBaseWhy, h.reason, h.addresses]),
      [
        [
          MX2,
          "tlsa-lookup-error",
          "tlsa-lookup-failed",
          [{ address: "192.0.2.2", result: "not-tried", reason: "tlsa-lookup-failed" }],
        ],
      ],
    );
  });

  test("only unusable records and no STARTTLS: unusable-records with starttls-missing", () => {
    // Rule 21: a secure TLSA RRset with only unusable records still requires TLS.
    const f = mkDomain([mkHost(MX1, 10, { v4: ["192.0.2.1"], tlsa: [PKIX] })]);
    const { r } = run(f, [probeStatus("192.0.2.1", MX1, "starttls-not-offered")]);
    assert.deepEqual(r.verdict, { action: "defer", reason: "starttls-not-offered" });
    assert.equal(r.dane, "unusable-records");
    assert.deepEqual(r.problems, ["starttls-missing"]);
    assert.deepEqual(
      r.failingHosts?.map((h) => [h.host, h.requirement, h.reason]),
      [[MX1, "tls", "starttls-not-offered"]],
    );
  });

  test("only unusable records and a failed handshake: unusable-records with tls-handshake-failed", () => {
    const f = mkDomain([mkHost(MX1, 10, { v4: ["192.0.2.1"], tlsa: [PKIX] })]);
    const { r } = run(f, [probeStatus("192.0.2.1", MX1, "tls-handshake-failed")]);
    assert.equal(r.dane, "unusable-records");
    assert.deepEqual(r.problems, ["tls-handshake-failed"]);
  });

  test("dnssec-bogus also comes from the facts (a bogus MX lookup)", () => {
    const f = domainFacts(D, failed(D, "MX", "servfail", "bogus"), []);
    const { r } = run(f, []);
    assert.equal(r.dane, "dns-error");
    assert.deepEqual(r.problems, ["dnssec-bogus"]);
    const timeout = run(domainFacts(D, failed(D, "MX", "timeout"), []), []).r;
    assert.equal(timeout.dane, "dns-error");
    assert.deepEqual(timeout.problems, []);
  });

  test("a valid, a none and an insecure domain are not broken", () => {
    const valid = run(mkDomain([mkHost(MX1, 10, { v4: ["192.0.2.1"], tlsa: [RIGHT] })]), [
      probeTls("192.0.2.1", MX1, [good.b64]),
    ]).r;
    assert.deepEqual([valid.dane, valid.problems], ["valid", []]);
    const none = run(mkDomain([mkHost(MX1, 10, { v4: ["192.0.2.1"] })]), [
      probeStatus("192.0.2.1", MX1, "starttls-not-offered"),
    ]).r;
    assert.deepEqual([none.dane, none.problems], ["none", []]);
    // No host failed: no failing-host list is stored.
    assert.equal(valid.failingHosts, undefined);
    assert.equal("failingHosts" in valid, false);
  });

  test("a record of an engine before 2.3 gets its failing hosts when read; a later one keeps what it stored", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: ["192.0.2.1"], tlsa: [RIGHT] }),
      mkHost(MX2, 20, { v4: ["192.0.2.2"], tlsa: [RIGHT] }),
    ]);
    const { r } = run(f, [probeTls("192.0.2.1", MX1, [good.b64]), probeTls("192.0.2.2", MX2, [other.b64])]);
    assert.deepEqual(
      r.failingHosts?.map((h) => h.host),
      [MX2],
    );
    const without: VerdictRecord = { ...r };
    delete without.failingHosts;
    for (const version of ["2.2.0", "2.1.0", "pre-2026.12"]) {
      const old = { ...without, engine: { version, profile: "postfix" } };
      assert.deepEqual(upgradeRecord(old).failingHosts, r.failingHosts, version);
    }
    // A record without an engine at all (schema 1) is older than every engine.
    const { engine: _e, ...schema1 } = without;
    assert.deepEqual(upgradeRecord(schema1 as VerdictRecord).failingHosts, r.failingHosts);
    // 2.3 and later: the stored field is the answer, absent meaning none.
    assert.equal(
      upgradeRecord({ ...without, engine: { version: "2.3.0", profile: "postfix" } }).failingHosts,
      undefined,
    );
    const later = { ...r, engine: { version: "2.10.0", profile: "postfix" }, failingHosts: [] };
    assert.deepEqual(upgradeRecord(later).failingHosts, []);
    assert.equal(upgradeRecord(r), r);
    // An old record whose hosts did not fail stays without the field.
    const ok = run(mkDomain([mkHost(MX1, 10, { v4: ["192.0.2.1"], tlsa: [RIGHT] })]), [
      probeTls("192.0.2.1", MX1, [good.b64]),
    ]).r;
    assert.equal(
      "failingHosts" in upgradeRecord({ ...ok, engine: { version: "2.2.0", profile: "postfix" } }),
      false,
    );
  });

  test("engine versions are ordered as semver; one that is not semver is older than any", () => {
    assert.equal(engineBefore("2.2.0", "2.3.0"), true);
    assert.equal(engineBefore("2.3.0", "2.3.0"), false);
    assert.equal(engineBefore("2.10.0", "2.3.0"), false);
    assert.equal(engineBefore("10.0.0", "9.9.9"), false);
    assert.equal(engineBefore("1.99.99", "2.0.0"), true);
    assert.equal(engineBefore("pre-2026.12", "2.3.0"), true);
    assert.equal(engineBefore("", "2.3.0"), true);
    assert.equal(engineBefore(ENGINE_VERSION, FAILING_HOSTS_SINCE), false);
  });
});

describe("TLD and provider on the record (full Public Suffix List)", () => {
  test("tld is the public suffix of the domain, provider the registrable domain of the first MX host", () => {
    const f = domainFacts(
      "shop.example.co.uk",
      mxAnswer("shop.example.co.uk", [[10, "aspmx.l.google.com"]]),
      [mkHost("aspmx.l.google.com", 10, { v4: ["192.0.2.1"] })],
    );
    const { r } = run(f, [probeTls("192.0.2.1", "aspmx.l.google.com", [other.b64])]);
    assert.equal(r.tld, "co.uk");
    assert.equal(r.provider, "google.com");
  });
});

describe("explain(record) renders from the record alone", () => {
  test("the stored record without its explanation renders the same text", () => {
    const f = mkDomain([
      mkHost("mx1.example.org", 10, { v4: ["192.0.2.1"], tlsa: [RIGHT] }),
      mkHost("mx2.example.org", 20, { v4: ["192.0.2.2"] }),
    ]);
    const { r } = run(f, [probeTls("192.0.2.1", "mx1.example.org", [other.b64])]);
    const { explanation, ...stored } = r;
    const roundTripped = JSON.parse(JSON.stringify(stored)) as JudgedRecord;
    assert.equal(explain(roundTripped), explanation);
    assert.match(explanation, /not probed/);
    const mxError = judge(domainFacts(D, failed(D, "MX", "timeout"), []), () => undefined, { now: NOW });
    assert.match(explain(mxError), /The MX lookup for example\.org failed \(timeout\)/);
  });
});
