/**
 * The testbed as the benchmarks use it: where its state is, emptying its
 * resolver's caches between contenders, and how many queries the resolver
 * was asked since (Unbound's counters start again at each flush).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
/** The testbed's state directory (the synthetic universe is in synth/). */
export const testbedDir = process.env.DANESWEEP_TESTBED_DIR ?? "/var/tmp/danesweep-testbed";
const testbed = join(root, "test/testbed/bin/testbed");

/** Starts the testbed when it is down. */
export function testbedUp(): void {
  execFileSync(testbed, ["up"], { stdio: ["ignore", "ignore", "inherit"] });
}

/** Empties Unbound's caches (`testbed flush`: a reload in place), which also zeroes its counters. */
export function flushResolver(): void {
  execFileSync(testbed, ["flush"], { stdio: ["ignore", "ignore", "inherit"] });
}

/**
 * The queries Unbound was asked since the last flush (its `total.num.queries`
 * through unbound-control), or NaN when it cannot be read.
 */
export function resolverQueries(): number {
  try {
    const out = execFileSync(
      "unbound-control",
      ["-c", join(testbedDir, "unbound/unbound.conf"), "stats_noreset"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
    const m = /^total\.num\.queries=(\d+)$/m.exec(out);
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
