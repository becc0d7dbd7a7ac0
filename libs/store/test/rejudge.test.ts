/**
 * The re-judging suite on PGlite, in a new temporary data directory, and the
 * pure part (rejudge-core.ts): change counts, the choice of profile, and an
 * MTA-STS domain judged again exactly as it was judged.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  defaultPolicy,
  judge,
  type ProbeFacts,
  policyFetchTarget,
  probeKeyString,
  trustStore,
} from "@danesweep/dane";
import { makeChain, makeLeaf } from "../../dane/test/certs.ts";
import { mxDomain, probeTls, simpleHost } from "../../dane/test/fixtures/build.ts";
import { policyFetch, withMailPolicies } from "../../dane/test/fixtures/mta-sts.ts";
import { storedVerdict } from "../src/codec.ts";
import { openMigratedDatabase } from "../src/db.ts";
import { localOwnerAlive, rejudgeOwner } from "../src/rejudge.ts";
import {
  chooseProfile,
  judgeStored,
  probesToRead,
  sameVerdict,
  tallyChanges,
  type VerdictClass,
} from "../src/rejudge-core.ts";
import { rejudgeSuite } from "./rejudge-suite.ts";

const dataDir = mkdtempSync(join(tmpdir(), "danesweep-rejudge-store-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

rejudgeSuite("pglite", () => openMigratedDatabase({ dataDir }), 20_000);

describe("rejudge: change counts and profile (pure)", () => {
  const c = (
    action: string,
    security: string | null,
    reason: string,
    dane: string,
    broken = false,
  ): VerdictClass => ({
    action,
    security,
    reason,
    dane,
    broken,
  });
  const dv = c("deliver", "dane-verified", "dane-authenticated", "valid");
  const enc = c("deliver", "encrypted", "opportunistic-tls", "insecure");
  const def = c("defer", null, "dane-check-failed", "invalid", true);

  test("transitions by action, security and DANE state; totals before and after; what changed", () => {
    const counts = tallyChanges([
      { from: dv, to: dv, domains: 5, identical: 5 },
      { from: dv, to: enc, domains: 2, identical: 0 },
      { from: def, to: enc, domains: 3, identical: 0 },
      { from: def, to: { ...def, broken: false }, domains: 1, identical: 0 },
    ]);
    assert.equal(counts.domains, 11);
    assert.equal(counts.identical, 5);
    // 2 + 3 changed action or security, and 1 changed only whether it is broken.
    assert.equal(counts.changed, 6);
    assert.deepEqual(counts.action, [
      { from: "defer", to: "defer", domains: 1 },
      { from: "defer", to: "deliver", domains: 3 },
      { from: "deliver", to: "deliver", domains: 7 },
    ]);
    assert.deepEqual(counts.security, [
      { from: "dane-verified", to: "dane-verified", domains: 5 },
      { from: "dane-verified", to: "encrypted", domains: 2 },
      { from: null, to: "encrypted", domains: 3 },
      { from: null, to: null, domains: 1 },
    ]);
    assert.deepEqual(counts.dane, [
      { from: "invalid", to: "insecure", domains: 3 },
      { from: "invalid", to: "invalid", domains: 1 },
      { from: "valid", to: "insecure", domains: 2 },
      { from: "valid", to: "valid", domains: 5 },
    ]);
    assert.deepEqual(counts.before.action, { defer: 4, deliver: 7 });
    assert.deepEqual(counts.after.action, { defer: 1, deliver: 10 });
    assert.deepEqual(counts.after.security, { "dane-verified": 5, encrypted: 5 });
    assert.deepEqual(counts.after.dane, { insecure: 5, invalid: 1, valid: 5 });
    assert.deepEqual(tallyChanges([]).action, []);
  });

  test("profile: the one given, else the scan's parameters, else the stored verdicts', else postfix", () => {
    const name = (r: ReturnType<typeof chooseProfile>) => ("policy" in r ? r.policy.name : r.error);
    assert.equal(name(chooseProfile("rfc7672", { policy: "postfix" }, "postfix")), "rfc7672");
    assert.equal(name(chooseProfile(undefined, { policy: "rfc7672" }, "postfix")), "rfc7672");
    assert.equal(name(chooseProfile(undefined, { via: "api" }, "rfc7672")), "rfc7672");
    assert.equal(name(chooseProfile(undefined, { policy: "nonsense" }, "also-nonsense")), "postfix");
    assert.equal(name(chooseProfile(undefined, null, undefined)), "postfix");
    assert.equal(
      name(chooseProfile("toString", {}, undefined)),
      'policy profile "toString" is not one of postfix, rfc7672',
    );
  });
});

describe("rejudge: an MTA-STS domain (pure)", () => {
  // example.com: MX mx1 (WebPKI certificate, no TLSA), an enforce policy covering it, TLS-RPT.
  const ca = makeChain({ intermediates: 1, leafNames: ["mta-sts.example.com"] });
  const mid = ca.intermediates[0]!;
  const roots = trustStore("test root", [ca.root.pem]);
  assert.ok(roots.ok);
  const trust = roots.store;
  const facts = withMailPolicies(
    mxDomain("example.com", [simpleHost("mx1.example.com", 10, { v4: ["192.0.2.1"] })]),
    {
      sts: ["v=STSv1; id=20250701"],
      tlsRpt: ["v=TLSRPTv1; rua=mailto:tls@example.com"],
      hostV4: ["192.0.2.80"],
    },
  );
  const stored: ProbeFacts[] = [
    probeTls("192.0.2.1", "mx1.example.com", [makeLeaf(mid, ["mx1.example.com"]).b64, mid.b64]),
    policyFetch("192.0.2.80", "mta-sts.example.com", ca.chain),
  ];
  const probes = new Map(stored.map((p) => [probeKeyString(p), p]));
  const now = Date.UTC(2025, 6, 1);
  const policy = defaultPolicy();
  // As the aggregator judged it: every probe the resolver asked for, the scan's roots.
  const original = judge(facts, (k) => probes.get(probeKeyString(k)), {
    now,
    probeMode: "all",
    policy,
    trust,
  });

  test("the policy fetch is among the probes to read, and the scan's roots judge it: the same record", () => {
    // What RFC 8461 says of these facts, so that the comparison below is about MTA-STS at all.
    assert.equal(original.mtaSts?.policy, "valid");
    assert.equal(original.mtaSts?.outcome?.action, "deliver");
    assert.equal(original.mtaSts?.outcome?.reason, "webpki-verified");
    const fetch = policyFetchTarget(facts);
    assert.ok(fetch);
    const readable = probesToRead(facts, "all", policy);
    assert.ok(readable.has(probeKeyString(fetch)), "the policy fetch is read");
    const again = judgeStored({ facts, judgedAt: original.judgedAt, probeMode: "all" }, probes, policy, {
      readable,
      trust,
    });
    assert.equal(again.missingProbe, false);
    assert.deepEqual(again.record, original);
    assert.ok(sameVerdict(again.record, storedVerdict(original)));
  });

  test("without the scan's roots, the certificates are not judged and the record differs", () => {
    const bare = judgeStored({ facts, judgedAt: original.judgedAt, probeMode: "all" }, probes, policy);
    assert.notEqual(bare.record.mtaSts?.policy, "valid");
    assert.ok(!sameVerdict(bare.record, storedVerdict(original)));
  });
});

test("owners: this process is alive, an exited process of this host is not, another host's is assumed alive", () => {
  assert.equal(localOwnerAlive(rejudgeOwner()), true);
  const exited = spawnSync(process.execPath, ["-e", "process.pid"]).pid as number;
  assert.equal(localOwnerAlive(`${hostname()}:${exited}:ab12`), false);
  assert.equal(localOwnerAlive(`elsewhere.invalid:${exited}:ab12`), true);
  assert.equal(localOwnerAlive("not an owner"), true);
});
