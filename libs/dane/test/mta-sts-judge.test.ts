/**
 * Golden table of the MTA-STS judgement beside the DANE verdict (docs/rules.md
 * rules 45-48): for each domain, how a sender finds the policy (RFC 8461
 * §3.1-3.3), what a sender applying it without DANE does (§4, §5), and which
 * contradictions the record lists. The expected values are read from the RFC
 * (what an MTA-STS sender does with each case) and from the definitions of
 * the contradictions in libs/dane/README.md; certificates are real (test/certs.ts),
 * issued by a test root the engine is given as its trust store.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { trustStore } from "../src/auth.ts";
import type { DomainFacts, ProbeFacts } from "../src/facts.ts";
import { judge } from "../src/judge.ts";
import type { MtaStsJudgement, VerdictRecord } from "../src/verdict-types.ts";
import { makeChain, makeLeaf, makeSelfSigned, tlsaFor } from "./certs.ts";
import {
  domainFacts,
  failed,
  mxDomain,
  probeStatus,
  probeStore,
  probeTls,
  simpleHost,
} from "./fixtures/build.ts";
import { policyFetch, policyFetchFailed, withMailPolicies } from "./fixtures/mta-sts.ts";

const NOW = Date.UTC(2025, 6, 1);
const D = "example.com";
const STS_HOST = "mta-sts.example.com";
const STS_IP = "192.0.2.80";
const MX1 = { name: "mx1.example.com", ip: "192.0.2.1" };
const MX2 = { name: "mx2.example.com", ip: "192.0.2.2" };

const ca = makeChain({ intermediates: 1, leafNames: [STS_HOST] });
const mid = ca.intermediates[0]!;
const TRUST = (() => {
  const s = trustStore("test root", [ca.root.pem]);
  assert.ok(s.ok);
  return s.store;
})();
/** Chains as the servers send them: leaf, intermediate. */
const policyChain = ca.chain;
const mx1Chain = [makeLeaf(mid, [MX1.name]).b64, mid.b64];
const mx2Chain = [makeLeaf(mid, [MX2.name]).b64, mid.b64];
const mx1SelfSigned = makeSelfSigned([MX1.name]);
const STS = ["v=STSv1; id=20250701"];

interface Row {
  name: string;
  /** The domain's facts: MX hosts, then the MTA-STS DNS facts. */
  facts: DomainFacts;
  probes: ProbeFacts[];
  trust?: boolean;
  want: Partial<MtaStsJudgement> & { contradictions: MtaStsJudgement["contradictions"] };
  /** The DANE verdict's action, where the row is about the two side by side. */
  dane?: VerdictRecord["verdict"]["action"];
}

/** mx1 (10) and mx2 (20), MX RRset signed, no TLSA unless given. */
function domain(o: { mx1Tlsa?: ReturnType<typeof tlsaFor>[]; onlyMx1?: boolean } = {}): DomainFacts {
  const hosts = [simpleHost(MX1.name, 10, { v4: [MX1.ip], tlsa: o.mx1Tlsa ?? null })];
  if (!o.onlyMx1) hosts.push(simpleHost(MX2.name, 20, { v4: [MX2.ip] }));
  return mxDomain(D, hosts);
}

const fetched = (http: Parameters<typeof policyFetch>[3] = {}, chain = policyChain) =>
  policyFetch(STS_IP, STS_HOST, chain, http);
const mx1Ok = probeTls(MX1.ip, MX1.name, mx1Chain);
const mx2Ok = probeTls(MX2.ip, MX2.name, mx2Chain);
const policy = (mode: string, ...mx: string[]) =>
  `version: STSv1\nmode: ${mode}\n${mx.map((m) => `mx: ${m}\n`).join("")}max_age: 604800\n`;
const sts = (dns: Parameters<typeof withMailPolicies>[1], f = domain()) =>
  withMailPolicies(f, { hostV4: [STS_IP], ...dns });

const rows: Row[] = [
  // ------------------------------------------------ finding the policy (rules 41, 42, 45)
  {
    name: "no _mta-sts record",
    facts: withMailPolicies(domain(), {}),
    probes: [mx1Ok],
    want: { policy: "no-record", contradictions: [] },
  },
  {
    name: "the TXT lookup fails",
    facts: withMailPolicies(domain(), { sts: "error" }),
    probes: [mx1Ok],
    want: { policy: "record-lookup-failed", contradictions: [] },
  },
  {
    name: "two STS records",
    facts: withMailPolicies(domain(), { sts: ["v=STSv1; id=1", "v=STSv1; id=2"] }),
    probes: [mx1Ok],
    want: { policy: "record-invalid", contradictions: [] },
  },
  {
    name: "the policy host does not exist",
    facts: sts({ sts: STS, hostV4: "nx" }),
    probes: [mx1Ok],
    want: { policy: "host-no-address", id: "20250701", contradictions: ["policy-unavailable"] },
  },
  {
    name: "the policy host's lookups fail",
    facts: sts({ sts: STS, hostV4: "error" }),
    probes: [mx1Ok],
    want: { policy: "host-lookup-failed", contradictions: ["policy-unavailable"] },
  },
  {
    name: "the policy host refuses connections",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, policyFetchFailed(STS_IP, STS_HOST, "connect-refused")],
    want: { policy: "fetch-failed", contradictions: ["policy-unavailable"] },
  },
  {
    name: "the policy host's handshake fails",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, policyFetchFailed(STS_IP, STS_HOST, "tls-handshake-failed")],
    want: { policy: "fetch-failed", contradictions: ["policy-unavailable"] },
  },
  {
    name: "not contacted by our policy (private address): no judgement of the domain",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, policyFetchFailed(STS_IP, STS_HOST, "policy-private-address")],
    want: { policy: "fetch-refused", contradictions: [] },
  },
  {
    name: "no fetch facts",
    facts: sts({ sts: STS }),
    probes: [mx1Ok],
    want: { policy: "not-fetched", contradictions: [] },
  },
  {
    name: "the policy host's certificate is self-signed",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched({}, [makeSelfSigned([STS_HOST]).b64])],
    want: { policy: "host-certificate-invalid", contradictions: ["policy-unavailable"] },
  },
  {
    name: "the policy host's certificate names another host",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched({}, [makeLeaf(mid, ["www.example.com"]).b64, mid.b64])],
    want: { policy: "host-certificate-invalid", contradictions: ["policy-unavailable"] },
  },
  {
    name: "404",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched({ status: 404, contentType: "text/html" })],
    want: { policy: "http-status", contradictions: ["policy-unavailable"] },
  },
  {
    name: "a redirect is not followed",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched({ status: 301, location: "https://elsewhere.example/mta-sts.txt" })],
    want: { policy: "http-status", contradictions: ["policy-unavailable"] },
  },
  {
    name: "served as text/html",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched({ contentType: "text/html" })],
    want: { policy: "content-type", contradictions: ["policy-unavailable"] },
  },
  {
    name: "no Content-Type",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched({ contentType: undefined })],
    want: { policy: "content-type", contradictions: ["policy-unavailable"] },
  },
  {
    name: "longer than the fetch reads",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched({ truncated: true, bodyBytes: 65537 })],
    want: { policy: "too-large", contradictions: ["policy-unavailable"] },
  },
  {
    name: "a policy that does not parse",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched({ body: "version: STSv1\nmode: enforce\n" })],
    want: { policy: "policy-invalid", contradictions: ["policy-unavailable"] },
  },
  {
    name: "no trust store: the policy host's certificate cannot be judged",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched()],
    trust: false,
    want: { policy: "not-validated", contradictions: [] },
  },
  {
    name: "mode none: MTA-STS off",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, fetched({ body: "version: STSv1\nmode: none\nmax_age: 86400\n" })],
    want: { policy: "valid", mode: "none", contradictions: [] },
  },

  // ------------------------------------------------ applying it (rules 46, 47) and contradictions (rule 48)
  {
    name: "enforce, both MX covered, certificates valid: deliver to the first",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, mx2Ok, fetched()],
    want: {
      policy: "valid",
      mode: "enforce",
      maxAge: 86400,
      mx: ["*.example.com"],
      hosts: [
        { host: MX1.name, pattern: "*.example.com", webpki: "valid", address: MX1.ip },
        { host: MX2.name, pattern: "*.example.com", webpki: "valid", address: MX2.ip },
      ],
      outcome: { action: "deliver", host: MX1.name, address: MX1.ip, reason: "webpki-verified" },
      contradictions: [],
    },
  },
  {
    name: "enforce, the first MX's certificate self-signed: skipped, deliver to the second",
    facts: sts({ sts: STS }),
    probes: [probeTls(MX1.ip, MX1.name, [mx1SelfSigned.b64]), mx2Ok, fetched()],
    want: {
      outcome: { action: "deliver", host: MX2.name, address: MX2.ip, reason: "webpki-verified" },
      contradictions: ["enforce-certificate-invalid"],
    },
  },
  {
    name: "enforce, a policy that covers only the second MX",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, mx2Ok, fetched({ body: policy("enforce", MX2.name) })],
    want: {
      outcome: { action: "deliver", host: MX2.name, address: MX2.ip, reason: "webpki-verified" },
      contradictions: ["mx-not-covered"],
    },
  },
  {
    name: "enforce, no MX covered: MTA-STS senders defer, DANE senders deliver",
    facts: sts({ sts: STS }),
    probes: [mx1Ok, mx2Ok, fetched({ body: policy("enforce", "mail.example.org") })],
    dane: "deliver",
    want: {
      outcome: { action: "defer", reason: "no-mx-covered" },
      contradictions: ["mx-not-covered", "dane-delivers-mta-sts-defers"],
    },
  },
  {
    name: "enforce, the only MX offers no STARTTLS",
    facts: sts({ sts: STS }, domain({ onlyMx1: true })),
    probes: [probeStatus(MX1.ip, MX1.name, "starttls-not-offered"), fetched()],
    dane: "deliver",
    want: {
      hosts: [{ host: MX1.name, pattern: "*.example.com", webpki: "no-tls" }],
      outcome: { action: "defer", reason: "starttls-not-offered" },
      contradictions: ["enforce-no-tls", "dane-delivers-mta-sts-defers"],
    },
  },
  {
    name: "enforce, DANE-EE on a self-signed certificate: DANE delivers, MTA-STS defers",
    facts: sts({ sts: STS }, domain({ onlyMx1: true, mx1Tlsa: [tlsaFor(3, 1, 1, mx1SelfSigned)] })),
    probes: [probeTls(MX1.ip, MX1.name, [mx1SelfSigned.b64]), fetched()],
    dane: "deliver",
    want: {
      outcome: { action: "defer", reason: "certificate-invalid" },
      contradictions: ["enforce-certificate-invalid", "dane-delivers-mta-sts-defers"],
    },
  },
  {
    name: "enforce, TLSA that matches nothing: DANE defers, MTA-STS delivers (DANE wins)",
    facts: sts({ sts: STS }, domain({ onlyMx1: true, mx1Tlsa: [tlsaFor(3, 1, 1, mx1SelfSigned)] })),
    probes: [mx1Ok, fetched()],
    dane: "defer",
    want: {
      outcome: { action: "deliver", host: MX1.name, address: MX1.ip, reason: "webpki-verified" },
      contradictions: ["mta-sts-delivers-dane-defers"],
    },
  },
  {
    name: "enforce, the first MX refuses connections: the next",
    facts: sts({ sts: STS }),
    probes: [probeStatus(MX1.ip, MX1.name, "connect-refused"), mx2Ok, fetched()],
    want: {
      hosts: [
        { host: MX1.name, pattern: "*.example.com", webpki: "unreachable" },
        { host: MX2.name, pattern: "*.example.com", webpki: "valid", address: MX2.ip },
      ],
      outcome: { action: "deliver", host: MX2.name, address: MX2.ip, reason: "webpki-verified" },
      contradictions: [],
    },
  },
  {
    name: "enforce, the first MX not probed: cannot tell",
    facts: sts({ sts: STS }),
    probes: [mx2Ok, fetched()],
    want: { outcome: { action: "indeterminate", reason: "not-probed" }, contradictions: [] },
  },
  {
    name: "enforce, the MX lookup fails",
    facts: sts({ sts: STS }, domainFacts(D, failed(D, "MX", "servfail"), [])),
    probes: [fetched()],
    want: { hosts: [], outcome: { action: "defer", reason: "mx-lookup-failed" }, contradictions: [] },
  },
  {
    name: "testing without TLS-RPT: the failures it asks to hear of go nowhere",
    facts: sts({ sts: STS }),
    probes: [
      probeTls(MX1.ip, MX1.name, [mx1SelfSigned.b64]),
      mx2Ok,
      fetched({ body: policy("testing", "*.example.com") }),
    ],
    want: {
      mode: "testing",
      outcome: { action: "deliver", host: MX2.name, address: MX2.ip, reason: "webpki-verified" },
      contradictions: ["testing-without-tls-rpt"],
    },
  },
  {
    name: "testing with TLS-RPT",
    facts: sts({ sts: STS, tlsRpt: ["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"] }),
    probes: [mx1Ok, mx2Ok, fetched({ body: policy("testing", MX1.name) })],
    want: { mode: "testing", contradictions: ["mx-not-covered"] },
  },
];

function run(r: Row) {
  return judge(r.facts, probeStore(r.probes), r.trust === false ? { now: NOW } : { now: NOW, trust: TRUST });
}

describe("MTA-STS beside DANE: golden table", () => {
  for (const r of rows) {
    test(r.name, () => {
      const rec = run(r);
      assert.ok(rec.mtaSts, "the record carries an MTA-STS judgement");
      const got = rec.mtaSts as MtaStsJudgement;
      for (const [k, v] of Object.entries(r.want)) {
        assert.deepEqual(got[k as keyof MtaStsJudgement], v, `${k}: ${JSON.stringify(got)}`);
      }
      if (r.dane) assert.equal(rec.verdict.action, r.dane, "the DANE verdict");
    });
  }
});

describe("what the MTA-STS judgement never changes", () => {
  test("the DANE verdict, state and problems are those of the same facts without MTA-STS", () => {
    for (const r of rows) {
      const plain: DomainFacts = { ...r.facts };
      delete plain.mtaSts;
      delete plain.tlsRpt;
      const a = run(r);
      const b = judge(plain, probeStore(r.probes), { now: NOW, trust: TRUST });
      assert.deepEqual(
        [a.verdict, a.dane, a.problems, a.hosts],
        [b.verdict, b.dane, b.problems, b.hosts],
        r.name,
      );
      assert.equal(b.mtaSts, undefined);
    }
  });
  test("facts without the lookups give records without the judgements", () => {
    const r = judge(domain(), probeStore([mx1Ok]), { now: NOW, trust: TRUST });
    assert.equal("mtaSts" in r, false);
    assert.equal("tlsRpt" in r, false);
  });
});

describe("TLS-RPT on the record", () => {
  const f = (rec: string[] | "nx" | "error") => withMailPolicies(domain(), { tlsRpt: rec });
  test("valid", () =>
    assert.deepEqual(
      judge(f(["v=TLSRPTv1; rua=mailto:r@example.com"]), probeStore([]), { now: NOW }).tlsRpt,
      {
        state: "valid",
        rua: ["mailto:r@example.com"],
      },
    ));
  test("none", () =>
    assert.deepEqual(judge(f("nx"), probeStore([]), { now: NOW }).tlsRpt, { state: "none" }));
  test("lookup failed", () =>
    assert.deepEqual(judge(f("error"), probeStore([]), { now: NOW }).tlsRpt, { state: "lookup-failed" }));
});

describe("the explanation says it", () => {
  test("enforce with a contradiction", () => {
    const rec = run(rows.find((r) => r.name.startsWith("enforce, DANE-EE on a self-signed"))!);
    assert.match(rec.explanation, /MTA-STS: policy id 20250701, mode enforce/);
    assert.match(rec.explanation, /mx1\.example\.com: covered by \*\.example\.com; certificate: untrusted/);
    assert.match(rec.explanation, /would defer \(certificate-invalid\)/);
    assert.match(
      rec.explanation,
      /contradictions: enforce-certificate-invalid, dane-delivers-mta-sts-defers/,
    );
  });
  test("a domain that publishes neither says nothing of them", () => {
    const rec = run(rows[0]!);
    assert.doesNotMatch(rec.explanation, /MTA-STS|TLS-RPT/);
  });
});
