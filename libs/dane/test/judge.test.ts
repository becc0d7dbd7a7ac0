/**
 * The decision ladder, rule by rule (docs/rules.md sections A-C, F), the
 * DANE states (libs/dane/README.md) and probeTargets. Expected values come
 * from the rules and the README's definitions; TLSA data is computed here
 * from real certificates (certs.ts), independently of libs/dane.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DomainFacts, HostFacts, ProbeFacts } from "../src/facts.ts";
import { judge } from "../src/judge.ts";
import { type ClientPolicy, POLICY_PROFILES } from "../src/policy.ts";
import { probeTargets } from "../src/probe-targets.ts";
import { digestHex, makeChain, makeSelfSigned, spkiOf } from "./certs.ts";
import {
  answer,
  chainOf,
  domainFacts,
  failed,
  host,
  mxAnswer,
  mxDomain,
  nodata,
  nxdomain,
  probeStatus,
  probeStore,
  probeTls,
  simpleHost,
  tlsaAt,
  tlsaRec,
} from "./fixtures/build.ts";

const NOW = Date.UTC(2025, 6, 1);
const D = "example.org";
const MX1 = "mx1.example.org";
const MX2 = "mx2.example.org";
const MX3 = "mx3.example.org";
const IP1 = "192.0.2.1";
const IP2 = "192.0.2.2";
const IP3 = "192.0.2.3";
const IP6 = "2001:db8::1";

const good = makeSelfSigned([MX1]);
const other = makeSelfSigned(["other.example"]);
/** 3 1 1 over the SPKI of `good`, computed by OpenSSL through node. */
const RIGHT = tlsaRec(3, 1, 1, digestHex("sha256", spkiOf(good)));
const WRONG = tlsaRec(3, 1, 1, digestHex("sha256", spkiOf(other)));
/** PKIX-EE: unusable in SMTP (rule 19). */
const PKIX = tlsaRec(1, 1, 1, digestHex("sha256", spkiOf(good)));

const mkHost = simpleHost;
const mkDomain = (hosts: HostFacts[], security: "secure" | "insecure" = "secure"): DomainFacts =>
  mxDomain(D, hosts, security);

const tlsGood = (ip: string, sni: string) => probeTls(ip, sni, [good.b64]);
const tlsOther = (ip: string, sni: string) => probeTls(ip, sni, [other.b64]);

const RFC: ClientPolicy = POLICY_PROFILES.rfc7672;

function run(
  facts: DomainFacts,
  probes: ProbeFacts[] = [],
  probeMode: "all" | "dane" = "all",
  policy?: ClientPolicy,
) {
  const store = probeStore(probes);
  const r = judge(facts, store, policy ? { now: NOW, probeMode, policy } : { now: NOW, probeMode });
  return { r, asked: store.asked };
}

describe("domain-level stops (rules 2, 6, 7, 9)", () => {
  test("rule 2: a resolver that does not validate makes everything indeterminate", () => {
    const f = mkDomain([mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] })]);
    f.resolverValidates = false;
    const { r, asked } = run(f, [tlsGood(IP1, MX1)]);
    assert.deepEqual(r.verdict, { action: "indeterminate", reason: "resolver-not-validating" });
    assert.equal(r.dane, "indeterminate");
    assert.deepEqual(asked, []);
  });

  test("rule 6: MX SERVFAIL defers, never falls back to the domain's addresses", () => {
    const f = domainFacts(D, failed(D, "MX", "servfail"), []);
    const { r } = run(f);
    assert.deepEqual(r.verdict, { action: "defer", reason: "mx-lookup-failed" });
    assert.equal(r.dane, "dns-error");
  });

  test("rule 6: a bogus MX answer defers", () => {
    const f = domainFacts(D, failed(D, "MX", "servfail", "bogus"), []);
    const { r } = run(f);
    assert.deepEqual(r.verdict, { action: "defer", reason: "mx-lookup-failed" });
    assert.equal(r.dane, "dns-error");
  });

  test("rule 7: NXDOMAIN bounces", () => {
    const { r } = run(domainFacts(D, nxdomain(D, "MX"), []));
    assert.deepEqual(r.verdict, { action: "bounce", reason: "nxdomain" });
    assert.equal(r.dane, "no-mail");
  });

  test("rule 9: null MX bounces", () => {
    const { r } = run(domainFacts(D, mxAnswer(D, [[0, "."]]), []));
    assert.deepEqual(r.verdict, { action: "bounce", reason: "null-mx" });
    assert.equal(r.dane, "no-mail");
  });

  test("rule 9: any MX with target '.' is a null MX; the other hosts are not contacted", () => {
    const h = mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] });
    const f = domainFacts(
      D,
      mxAnswer(D, [
        [10, MX1],
        [20, "."],
      ]),
      [h],
    );
    const { r, asked } = run(f, [tlsGood(IP1, MX1)]);
    assert.equal(r.verdict.reason, "null-mx");
    assert.deepEqual(asked, []);
    assert.deepEqual(probeTargets(f, { probeMode: "all" }), []);
  });
});

describe("implicit MX (rule 8)", () => {
  test("NODATA: the domain is its own host, DANE applies with the domain as TLSA base", () => {
    const self = host(D, 0, {
      implicit: true,
      a: answer(D, "A", [IP1]),
      aaaa: nodata(D, "AAAA"),
      tlsa: [tlsaAt(D, [RIGHT])],
    });
    const f = domainFacts(D, nodata(D, "MX"), [self]);
    const { r } = run(f, [tlsGood(IP1, D)]);
    assert.deepEqual(r.verdict, {
      action: "deliver",
      security: "dane-verified",
      host: D,
      address: IP1,
      reason: "dane-authenticated",
    });
    assert.equal(r.dane, "valid");
    assert.equal(r.hosts[0]!.implicit, true);
    assert.equal(r.hosts[0]!.tlsaBase, D);
    assert.match(r.explanation, /implicit MX/);
  });
});

describe("insecure MX under the rfc7672 profile (rule 11)", () => {
  const hosts = () => [
    mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] }),
    mkHost(MX2, 20, { v4: [IP2], tlsa: [WRONG] }),
    mkHost(MX3, 30, { v4: [IP3] }),
  ];
  const probes = [tlsGood(IP1, MX1), tlsGood(IP2, MX2), tlsGood(IP3, MX3)];

  test("every host is opportunistic; secure TLSA that would authenticate is recorded", () => {
    const { r } = run(mkDomain(hosts(), "insecure"), probes, "all", RFC);
    assert.equal(r.engine.profile, "rfc7672");
    assert.deepEqual(r.verdict, {
      action: "deliver",
      security: "encrypted",
      host: MX1,
      address: IP1,
      reason: "opportunistic-tls",
    });
    assert.equal(r.dane, "insecure");
    assert.equal(r.mxSecure, false);
    assert.deepEqual(
      r.hosts.map((h) => [h.requirement, h.wouldAuthenticate]),
      [
        ["opportunistic", true],
        ["opportunistic", false],
        ["opportunistic", undefined],
      ],
    );
  });

  test("with an insecure MX a primary without STARTTLS takes the message in plaintext", () => {
    const { r } = run(
      mkDomain(hosts(), "insecure"),
      [probeStatus(IP1, MX1, "starttls-not-offered")],
      "all",
      RFC,
    );
    assert.equal(r.verdict.action, "deliver");
    assert.equal(r.verdict.security, "plaintext");
    assert.equal(r.verdict.host, MX1);
  });

  test("a TLSA lookup error on a host does not matter when the MX is insecure", () => {
    const f = mkDomain([mkHost(MX1, 10, { v4: [IP1], tlsa: "error" })], "insecure");
    const { r } = run(f, [tlsGood(IP1, MX1)], "all", RFC);
    assert.equal(r.verdict.security, "encrypted");
    assert.equal(r.dane, "insecure");
  });
});

describe("host order (rules 10, 12)", () => {
  test("preference beats security: a better host without TLSA is tried before a TLSA host", () => {
    // Listed in reverse order in the facts: the engine sorts by preference.
    const f = mkDomain([
      mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] }),
      mkHost(MX1, 10, { v4: [IP1], tlsa: null }),
    ]);
    const { r } = run(f, [probeStatus(IP1, MX1, "starttls-not-offered"), tlsGood(IP2, MX2)]);
    assert.deepEqual(r.verdict, {
      action: "deliver",
      security: "plaintext",
      host: MX1,
      address: IP1,
      reason: "opportunistic-plaintext",
    });
    assert.deepEqual(
      r.hosts.map((h) => h.host),
      [MX1, MX2],
    );
    const mx2 = r.hosts[1]!.addresses[0]!;
    assert.equal(mx2.result, "not-tried");
    assert.deepEqual(mx2.assessed, { result: "dane-verified", reason: "dane-authenticated" });
    // The DANE host authenticates, but the domain is only as strong as its weakest MX.
    assert.equal(r.dane, "partial");
    assert.match(r.explanation, /weaker hosts: mx1\.example\.org \(no TLSA\)/);
  });

  test("equal preferences are tried in name order", () => {
    const f = mkDomain([
      mkHost("b.example.org", 10, { v4: [IP2] }),
      mkHost("a.example.org", 10, { v4: [IP1] }),
    ]);
    const { r } = run(f, [tlsGood(IP1, "a.example.org"), tlsGood(IP2, "b.example.org")]);
    assert.equal(r.verdict.host, "a.example.org");
    assert.deepEqual(
      probeTargets(f, { probeMode: "all" }).map((t) => t.mxHost),
      ["a.example.org", "b.example.org"],
    );
  });
});

describe("addresses (rules 13, 14, 29)", () => {
  test("rule 13: A secure and AAAA failing: the host uses its IPv4 addresses with DANE", () => {
    const h = mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] });
    h.aaaa = failed(MX1, "AAAA", "servfail");
    const { r } = run(mkDomain([h]), [tlsGood(IP1, MX1)]);
    assert.equal(r.verdict.security, "dane-verified");
    assert.equal(r.hosts[0]!.requirement, "dane");
    assert.deepEqual(
      r.hosts[0]!.addresses.map((a) => a.address),
      [IP1],
    );
  });

  test("rule 13: A failing and AAAA secure: IPv6 only", () => {
    const h = mkHost(MX1, 10, { v6: [IP6], tlsa: [RIGHT] });
    h.a = failed(MX1, "A", "timeout");
    const { r } = run(mkDomain([h]), [tlsGood(IP6, MX1)]);
    assert.equal(r.verdict.security, "dane-verified");
    assert.equal(r.verdict.address, IP6);
  });

  test("rule 29: each address is a try, A before AAAA, then the next host; all failing defers with the last failure", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: [IP1], v6: [IP6], tlsa: [RIGHT] }),
      mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] }),
    ]);
    const probes = [
      probeStatus(IP1, MX1, "connect-refused"),
      tlsOther(IP6, MX1),
      probeStatus(IP2, MX2, "connect-timeout"),
    ];
    const { r, asked } = run(f, probes);
    assert.deepEqual(asked, [`${IP1}|25|${MX1}`, `${IP6}|25|${MX1}`, `${IP2}|25|${MX2}`]);
    assert.deepEqual(r.verdict, { action: "defer", reason: "connection-failed" });
    assert.deepEqual(
      r.hosts[0]!.addresses.map((a) => [a.address, a.family, a.result, a.reason]),
      [
        [IP1, 4, "failed", "connection-failed"],
        [IP6, 6, "failed", "dane-check-failed"],
      ],
    );
    assert.equal(r.hosts[0]!.reason, "dane-check-failed");
    assert.equal(r.dane, "invalid");
  });

  test("rule 29: the last failure decides the defer reason", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] }),
      mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] }),
    ]);
    const { r } = run(f, [probeStatus(IP1, MX1, "connect-refused"), tlsOther(IP2, MX2)]);
    assert.deepEqual(r.verdict, { action: "defer", reason: "dane-check-failed" });
  });

  test("rule 14: an address lookup error skips the host; the next host delivers", () => {
    const h1 = mkHost(MX1, 10, { tlsa: [RIGHT] });
    h1.a = failed(MX1, "A", "servfail");
    h1.aaaa = failed(MX1, "AAAA", "servfail");
    const { r } = run(mkDomain([h1, mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] })]), [tlsGood(IP2, MX2)]);
    assert.equal(r.verdict.host, MX2);
    assert.equal(r.verdict.security, "dane-verified");
    assert.equal(r.hosts[0]!.reason, "address-lookup-failed");
    assert.equal(r.dane, "valid");
  });

  test("rule 14: every host's address lookups failing defers", () => {
    const h1 = mkHost(MX1, 10);
    h1.a = failed(MX1, "A", "timeout");
    h1.aaaa = failed(MX1, "AAAA", "timeout");
    const { r } = run(mkDomain([h1, mkHost(MX2, 20)]));
    assert.deepEqual(r.verdict, { action: "defer", reason: "address-lookup-failed" });
    assert.equal(r.dane, "dns-error");
  });

  test("rule 30: no MX host with any address bounces", () => {
    const { r } = run(mkDomain([mkHost(MX1, 10), mkHost(MX2, 20)]));
    assert.deepEqual(r.verdict, { action: "bounce", reason: "no-address" });
    assert.equal(r.dane, "no-mail");
  });
});

describe("per host (rules 17, 20, 21, 28)", () => {
  test("opportunistic host: a failed handshake means a plaintext retry", () => {
    for (const status of ["tls-handshake-failed", "tls-timeout"] as const) {
      const { r } = run(mkDomain([mkHost(MX1, 10, { v4: [IP1] })]), [probeStatus(IP1, MX1, status)]);
      assert.equal(r.verdict.action, "deliver", status);
      assert.equal(r.verdict.security, "plaintext", status);
      assert.equal(r.verdict.reason, "opportunistic-plaintext", status);
      assert.equal(r.dane, "none", status);
    }
  });

  test("DANE host: a failed handshake fails the host", () => {
    const { r } = run(mkDomain([mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] })]), [
      probeStatus(IP1, MX1, "tls-handshake-failed"),
    ]);
    assert.deepEqual(r.verdict, { action: "defer", reason: "tls-handshake-failed" });
    assert.equal(r.dane, "invalid");
  });

  test("a 4xx answer to STARTTLS counts as not offered", () => {
    const dane = run(mkDomain([mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] })]), [
      probeStatus(IP1, MX1, "starttls-refused"),
    ]).r;
    assert.deepEqual(dane.verdict, { action: "defer", reason: "starttls-not-offered" });
    const opp = run(mkDomain([mkHost(MX1, 10, { v4: [IP1] })]), [
      probeStatus(IP1, MX1, "starttls-refused"),
    ]).r;
    assert.equal(opp.verdict.security, "plaintext");
  });

  test("rule 21: only unusable records: TLS required, not authenticated", () => {
    const { r } = run(mkDomain([mkHost(MX1, 10, { v4: [IP1], tlsa: [PKIX] })]), [tlsOther(IP1, MX1)]);
    assert.deepEqual(r.verdict, {
      action: "deliver",
      security: "encrypted",
      host: MX1,
      address: IP1,
      reason: "tls-required-unauthenticated",
    });
    assert.equal(r.hosts[0]!.requirement, "tls");
    assert.deepEqual(r.hosts[0]!.tlsa, [{ record: PKIX, usable: false, why: "usage-pkix" }]);
    assert.equal(r.dane, "unusable-records");
  });

  test("rule 17: a TLSA lookup error fails the host without contacting it", () => {
    const { r, asked } = run(mkDomain([mkHost(MX1, 10, { v4: [IP1], tlsa: "error" })]), [tlsGood(IP1, MX1)]);
    assert.deepEqual(r.verdict, { action: "defer", reason: "tlsa-lookup-failed" });
    assert.deepEqual(asked, []);
    assert.equal(r.dane, "dns-error");
  });

  test("rule 15: an error on the first-link CNAME query fails the host", () => {
    const h = host(MX1, 10, {
      a: answer(MX1, "A", [IP1], "insecure", chainOf(MX1, "mx.cdn.example.net")),
      aaaa: nodata(MX1, "AAAA", "insecure", chainOf(MX1, "mx.cdn.example.net")),
      firstLink: failed(MX1, "CNAME", "servfail"),
    });
    const { r } = run(mkDomain([h]), [tlsGood(IP1, MX1)]);
    assert.deepEqual(r.verdict, { action: "defer", reason: "cname-lookup-failed" });
  });

  test("policy-refused and missing probes make the verdict indeterminate when reached first", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] }),
      mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] }),
    ]);
    const pol = run(f, [probeStatus(IP1, MX1, "policy-private-address"), tlsGood(IP2, MX2)]).r;
    assert.deepEqual(pol.verdict, { action: "indeterminate", reason: "policy-refused" });
    const none = run(f, [tlsGood(IP2, MX2)]).r;
    assert.deepEqual(none.verdict, { action: "indeterminate", reason: "not-probed" });
    // ...but not when an earlier host decides.
    const early = run(f, [tlsGood(IP1, MX1)]).r;
    assert.equal(early.verdict.action, "deliver");
  });
});

describe("DANE-TA reference names (rule 27)", () => {
  // Leaf named after the next-hop domain only; the TA is the intermediate at depth 1.
  const chain = makeChain({ intermediates: 1, leafNames: [D] });
  const ta = tlsaRec(2, 0, 1, digestHex("sha256", chain.intermediates[0]!.der));

  test("with a secure MX, the next-hop domain is a reference identifier", () => {
    const { r } = run(mkDomain([mkHost(MX1, 10, { v4: [IP1], tlsa: [ta] })]), [
      probeTls(IP1, MX1, chain.chain),
    ]);
    assert.equal(r.verdict.security, "dane-verified", r.explanation);
    assert.equal(r.hosts[0]!.addresses[0]!.auth?.matched?.depth, 1);
    assert.match(r.explanation, /TLSA 2 0 1 [0-9a-f]{8}… matched the certificate at depth 1/);
  });

  test("with a secure MX, the MX RRset owner (after a CNAME) is a reference identifier", () => {
    const owner = "mail.example.net";
    const c = makeChain({ intermediates: 1, leafNames: [owner] });
    const rec = tlsaRec(2, 0, 1, digestHex("sha256", c.intermediates[0]!.der));
    const h = mkHost(MX1, 10, { v4: [IP1], tlsa: [rec] });
    const f = domainFacts(D, mxAnswer(D, [[10, MX1]], "secure", chainOf(D, owner)), [h]);
    const { r } = run(f, [probeTls(IP1, MX1, c.chain)]);
    assert.equal(r.verdict.security, "dane-verified", r.explanation);
    // A leaf naming neither the base, the domain nor the owner fails.
    const stranger = makeChain({ intermediates: 1, leafNames: ["elsewhere.example"] });
    const rec2 = tlsaRec(2, 0, 1, digestHex("sha256", stranger.intermediates[0]!.der));
    const f2 = domainFacts(D, mxAnswer(D, [[10, MX1]], "secure", chainOf(D, owner)), [
      mkHost(MX1, 10, { v4: [IP1], tlsa: [rec2] }),
    ]);
    const r2 = run(f2, [probeTls(IP1, MX1, stranger.chain)]).r;
    assert.deepEqual(r2.verdict, { action: "defer", reason: "dane-check-failed" });
    assert.equal(r2.hosts[0]!.addresses[0]!.auth?.failure, "name-mismatch");
  });

  test("with an insecure MX (rfc7672), only the TLSA base domain is: the host's TLSA would not authenticate", () => {
    const { r } = run(
      mkDomain([mkHost(MX1, 10, { v4: [IP1], tlsa: [ta] })], "insecure"),
      [probeTls(IP1, MX1, chain.chain)],
      "all",
      RFC,
    );
    assert.equal(r.verdict.security, "encrypted");
    assert.equal(r.hosts[0]!.wouldAuthenticate, false);
  });
});

describe("probe mode dane", () => {
  const f = () => mkDomain([mkHost(MX1, 10, { v4: [IP1] }), mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] })]);

  test("probeTargets lists only hosts that require TLS", () => {
    assert.deepEqual(probeTargets(f(), { probeMode: "dane" }), [
      { ip: IP2, port: 25, sni: MX2, mxHost: MX2, family: 4, requirement: "dane", dane: true },
    ]);
    // `dane`: the host has a secure TLSA RRset with a usable record (the prober looks for every certificate).
    assert.deepEqual(
      probeTargets(f(), { probeMode: "all" }).map((t) => [t.mxHost, t.requirement, t.dane]),
      [
        [MX1, "opportunistic", false],
        [MX2, "dane", true],
      ],
    );
  });

  test("an unprobed opportunistic primary leaves the verdict indeterminate; the state still counts it", () => {
    const { r } = run(f(), [tlsGood(IP2, MX2)], "dane");
    assert.deepEqual(r.verdict, { action: "indeterminate", reason: "not-probed" });
    assert.equal(r.dane, "partial");
    assert.match(r.explanation, /probe mode "dane"/);
  });
});

describe("DANE states (README)", () => {
  test("valid: every host has usable TLSA and every reached address authenticates", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] }),
      mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] }),
    ]);
    const { r } = run(f, [tlsGood(IP1, MX1), tlsGood(IP2, MX2)]);
    assert.equal(r.verdict.host, MX1);
    assert.equal(r.dane, "valid");
  });

  test("partial: the primary's TLSA lookup fails, the secondary authenticates", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: [IP1], tlsa: "error" }),
      mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] }),
    ]);
    const { r } = run(f, [tlsGood(IP2, MX2)]);
    assert.equal(r.verdict.security, "dane-verified");
    assert.equal(r.verdict.host, MX2);
    assert.equal(r.dane, "partial");
  });

  test("partial: a later host that would fail DANE weakens a delivered domain", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] }),
      mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] }),
    ]);
    const { r } = run(f, [tlsGood(IP1, MX1), tlsOther(IP2, MX2)]);
    assert.equal(r.verdict.host, MX1);
    assert.equal(r.dane, "partial");
  });

  test("valid: an unreachable DANE host is not a weakness", () => {
    const f = mkDomain([
      mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] }),
      mkHost(MX2, 20, { v4: [IP2], tlsa: [RIGHT] }),
    ]);
    const { r } = run(f, [probeStatus(IP1, MX1, "connect-timeout"), tlsGood(IP2, MX2)]);
    assert.equal(r.verdict.host, MX2);
    assert.equal(r.dane, "valid");
  });

  test("indeterminate: the only DANE host cannot be reached", () => {
    const { r } = run(mkDomain([mkHost(MX1, 10, { v4: [IP1], tlsa: [RIGHT] })]), [
      probeStatus(IP1, MX1, "io-reset"),
    ]);
    assert.deepEqual(r.verdict, { action: "defer", reason: "connection-failed" });
    assert.equal(r.dane, "indeterminate");
  });

  test("none: secure MX, no TLSA anywhere", () => {
    const { r } = run(mkDomain([mkHost(MX1, 10, { v4: [IP1] })]), [tlsGood(IP1, MX1)]);
    assert.equal(r.verdict.reason, "opportunistic-tls");
    assert.equal(r.dane, "none");
  });
});

describe("robustness", () => {
  test("judge never throws on malformed facts", () => {
    const bad = [{}, { domain: "x.example", resolverValidates: true }, null] as unknown as DomainFacts[];
    for (const f of bad) {
      const r = judge(f, () => undefined, { now: NOW });
      assert.equal(r.verdict.action, "indeterminate");
      assert.equal(r.verdict.reason, "incomplete-facts");
    }
  });

  test("an MX answer without host facts is incomplete, not a bounce", () => {
    const f = domainFacts(D, mxAnswer(D, [[10, MX1]]), []);
    const { r } = run(f);
    assert.deepEqual(r.verdict, { action: "indeterminate", reason: "incomplete-facts" });
    assert.equal(r.dane, "indeterminate");
  });

  test("an insecure MX whose hosts have no address bounces: no-mail wins over insecure", () => {
    const { r } = run(mkDomain([mkHost(MX1, 10)], "insecure"));
    assert.deepEqual(r.verdict, { action: "bounce", reason: "no-address" });
    assert.equal(r.dane, "no-mail");
  });

  test("a host whose TLSA facts are incomplete makes the verdict indeterminate when reached", () => {
    const h = mkHost(MX1, 10, { v4: [IP1] });
    h.tlsa = [];
    const { r } = run(mkDomain([h]), [tlsGood(IP1, MX1)]);
    assert.deepEqual(r.verdict, { action: "indeterminate", reason: "incomplete-facts" });
    assert.deepEqual(probeTargets(mkDomain([h]), { probeMode: "all" }), []);
  });
});
