/**
 * The change-event cases (src/changes.ts) as the generator writes them, in a
 * state directory of this test's own: the records in testing.'s zone file,
 * the TLSA data against openssl's own digest of certificate B's key, and no
 * server of the testbed configured on their addresses (the tests that use
 * them run their own there).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CHANGE_CASES } from "../src/changes.ts";

const GENERATE = fileURLToPath(new URL("../src/cli/generate.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "testbed-changes-"));
after(() => rmSync(dir, { recursive: true, force: true }));
execFileSync(process.execPath, [GENERATE, "zones", dir], { stdio: ["ignore", "ignore", "inherit"] });
const zone = readFileSync(join(dir, "zones", "testing.zone"), "utf8").split("\n");

test("testing.'s zone holds each case's MX, A and TLSA 3 1 1 of certificate B's key", () => {
  const pub = execFileSync("openssl", ["x509", "-in", join(dir, "certs", "b.pem"), "-pubkey", "-noout"]);
  const spki = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: pub });
  const digest = execFileSync("sha256sum", { input: spki }).toString().split(" ")[0]!;
  const cases = Object.values(CHANGE_CASES);
  assert.equal(new Set(cases.map((c) => c.address)).size, cases.length, "one address per case");
  for (const c of cases) {
    const d = c.domain.replace(/\.testing$/, "");
    const mx = c.mx.replace(/\.testing$/, "");
    assert.deepEqual(
      zone.filter((l) => l.startsWith(`${d} `) || l.startsWith(`${mx} `) || l.startsWith(`_25._tcp.${mx} `)),
      [`${d} MX 10 ${mx}`, `${mx} A ${c.address}`, `_25._tcp.${mx} TLSA 3 1 1 ${digest}`],
    );
  }
});

test("no server of the testbed is configured on a case's address", () => {
  const configs: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".json")) configs.push(p);
    }
  };
  walk(dir);
  const hosts = configs.flatMap((f) =>
    ((JSON.parse(readFileSync(f, "utf8")) as { servers?: { host: string }[] }).servers ?? []).map(
      (s) => s.host,
    ),
  );
  assert.ok(hosts.includes("127.64.93.21"), "the seed servers are among the configs read");
  for (const c of Object.values(CHANGE_CASES)) assert.ok(!hosts.includes(c.address), c.address);
  // No other record of the zone points at these addresses.
  for (const c of Object.values(CHANGE_CASES)) {
    assert.deepEqual(
      zone.filter((l) => l.endsWith(` ${c.address}`)).length,
      1,
      `${c.address} is only ${c.mx}'s`,
    );
  }
});
