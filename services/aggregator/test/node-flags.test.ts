/**
 * The aggregator's Node flags (src/node-flags.ts) are the ones its manifests
 * start it with: the Kubernetes Deployment's and the Compose service's
 * command run `node <flags> services/aggregator/src/main.ts`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { AGGREGATOR_NODE_FLAGS } from "../src/node-flags.ts";

const root = new URL("../../../", import.meta.url);
const command = JSON.stringify([
  "node",
  ...AGGREGATOR_NODE_FLAGS,
  "services/aggregator/src/main.ts",
]).replaceAll(",", ", ");

for (const file of ["k8s/base/aggregator.yaml", "deploy/compose.yaml"]) {
  test(`${file} starts the aggregator with its Node flags`, () => {
    const text = readFileSync(new URL(file, root), "utf8");
    const lines = text.split("\n").filter((l) => l.includes("services/aggregator/src/main.ts"));
    assert.equal(lines.length, 1, `one command starts the aggregator in ${file}`);
    assert.ok(
      lines[0]!.includes(`command: ${command}`),
      `${file}: ${lines[0]!.trim()} should be command: ${command}`,
    );
  });
}
