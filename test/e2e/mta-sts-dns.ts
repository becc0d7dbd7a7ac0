/**
 * Waiting until the validating resolver serves the testbed's MTA-STS records
 * (test/testbed src/mta-sts.ts). `testbed up` reloads the zone at once, but
 * Unbound may still answer from what it cached before (it synthesises
 * NXDOMAIN from cached NSEC records for up to their TTL, 300 s here), and the
 * testbed is shared: another checkout's `up` may have written the zone
 * without them a moment ago. Polls with kdig every 2 s; throws after
 * `timeoutMs` naming what is still missing.
 */
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { mtaStsCases, RESOLVER } from "@danesweep/testbed";

function answers(name: string, type: string): boolean {
  try {
    return (
      execFileSync("kdig", [`@${RESOLVER.address}`, "+short", "+timeout=2", "+retry=0", name, type], {
        encoding: "utf8",
      }).trim() !== ""
    );
  } catch {
    return false;
  }
}

export async function waitForMtaStsRecords(timeoutMs = 360_000): Promise<void> {
  const names = mtaStsCases().flatMap((c) => [
    [`_mta-sts.${c.domain}`, "TXT"],
    [c.domain, "MX"],
    [`mta-sts.${c.domain}`, "A"],
    ...c.mx.map((m) => [m.name, "A"]),
  ]) as [string, string][];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = names.filter(([n, t]) => !answers(n, t));
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `the resolver does not serve the MTA-STS records: ${missing.map((m) => m.join(" ")).join(", ")}`,
      );
    await sleep(2000);
  }
}
