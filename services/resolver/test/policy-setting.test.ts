/**
 * DANESWEEP_POLICY, the client-policy profile of the Kafka deployment, as the
 * resolver (which plans the probes) and the aggregator (which judges) read it
 * from their environment and flags (libs/runtime loadConfig, runService): the
 * two must accept the same profiles, the ones libs/dane knows, default to
 * postfix, and refuse any other value before starting (exit 2), naming the
 * variable, the flag and the choices. Expected values come from the
 * deployment's documentation (deploy/README.md) and libs/dane's profile list.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { POLICY_PROFILE_NAMES, policyProfile } from "@danesweep/dane";
import { loadConfig, runService } from "@danesweep/runtime";
import { fields as aggregatorFields, aggregatorService } from "../../aggregator/src/service.ts";
import { fields as resolverFields, resolverService } from "../src/service.ts";

type RunOptions = Parameters<typeof runService>[1];
const services = [
  { name: "resolver", fields: resolverFields, run: (o: RunOptions) => runService(resolverService, o) },
  { name: "aggregator", fields: aggregatorFields, run: (o: RunOptions) => runService(aggregatorService, o) },
];

for (const s of services) {
  describe(`${s.name}: DANESWEEP_POLICY`, () => {
    test("unset: postfix, the Postfix defaults", () => {
      const r = loadConfig(s.fields, { env: {}, argv: [] });
      assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
      assert.equal(r.config.policy, "postfix");
    });

    test("every profile libs/dane knows, from the variable or the --policy flag (the flag wins)", () => {
      assert.deepEqual(POLICY_PROFILE_NAMES, ["postfix", "rfc7672"]);
      for (const name of POLICY_PROFILE_NAMES) {
        const r = loadConfig(s.fields, { env: { DANESWEEP_POLICY: name }, argv: [] });
        assert.ok(r.ok, name);
        assert.equal(r.config.policy, name);
        assert.equal(policyProfile(r.config.policy)?.name, name);
      }
      const flag = loadConfig(s.fields, {
        env: { DANESWEEP_POLICY: "postfix" },
        argv: ["--policy", "rfc7672"],
      });
      assert.ok(flag.ok);
      assert.equal(flag.config.policy, "rfc7672");
    });

    test("an unknown profile: exit 2 before starting, naming the variable, the flag and the choices", async () => {
      for (const bad of ["sendmail", "Postfix", "rfc7672 "]) {
        let stderr = "";
        const code = await s.run({
          argv: [],
          env: { DANESWEEP_KAFKA_BROKERS: "127.0.0.1:1", DANESWEEP_POLICY: bad },
          stderr: {
            write: (t: string) => {
              stderr += t;
              return true;
            },
          } as unknown as NodeJS.WritableStream,
          signals: false,
        });
        assert.equal(code, 2, stderr);
        assert.match(stderr, new RegExp(`${s.name}: bad configuration: DANESWEEP_POLICY \\(--policy\\)`));
        assert.match(stderr, /expected one of postfix, rfc7672/);
        assert.ok(stderr.includes(JSON.stringify(bad)), stderr);
      }
    });
  });
}
