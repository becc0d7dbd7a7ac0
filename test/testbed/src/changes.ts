/**
 * The change-event cases of issue 14 (libs/dane rules 49-51) as zone data:
 * DANE domains whose one MX host has an address on which the testbed runs
 * no server. A test makes a real change between two scans without touching
 * the zones: it starts an SMTP server of its own on that address (port 25)
 * presenting certificate A (the TLSA record does not match it: DANE
 * `invalid`, `tlsa-mismatch`), certificate B (it matches: `valid`) or no
 * STARTTLS (`invalid`, `starttls-missing`), or none at all (every address
 * unreachable: DANE `indeterminate`). Pure: certificate PEMs in, text out.
 *
 * In `testing.` (changeRecords, appended to its zone), one domain per test
 * file, because test files run at the same time and each server needs its
 * own address:
 * - flip.testing: MX 10 mx.flip.testing, 127.64.93.40 (test/e2e/changes.e2e.test.ts);
 * - flop.testing: MX 10 mx.flop.testing, 127.64.93.41 (test/e2e/mta-sts-kafka.e2e.test.ts);
 * each with one TLSA record at _25._tcp.<mx>: 3 1 1 of certificate B's key.
 */
import { tlsaData } from "./certs.ts";

export interface ChangeCase {
  domain: string;
  mx: string;
  /** No testbed server listens here: the test brings its own. */
  address: string;
}

export const CHANGE_CASES = {
  cli: { domain: "flip.testing", mx: "mx.flip.testing", address: "127.64.93.40" },
  kafka: { domain: "flop.testing", mx: "mx.flop.testing", address: "127.64.93.41" },
} as const satisfies Record<string, ChangeCase>;

/** The (name, type) pairs a case publishes: what a test waits for the resolver to serve. */
export function changeCaseNames(c: ChangeCase): [string, string][] {
  return [
    [c.domain, "MX"],
    [c.mx, "A"],
    [`_25._tcp.${c.mx}`, "TLSA"],
  ];
}

/** Lines for the testing. zone (relative owners): MX, A and the TLSA 3 1 1 of certificate B. */
export function changeRecords(pemB: string): string[] {
  const rel = (name: string) => name.slice(0, -".testing".length);
  return Object.values(CHANGE_CASES).flatMap((c) => [
    `${rel(c.domain)} MX 10 ${rel(c.mx)}`,
    `${rel(c.mx)} A ${c.address}`,
    `_25._tcp.${rel(c.mx)} TLSA 3 1 1 ${tlsaData(pemB, 1, 1)}`,
  ]);
}
