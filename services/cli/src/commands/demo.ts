/**
 * `danesweep demo`: brings up the test universe (Knot, Unbound and the SMTP
 * test servers, installing their Debian packages when missing), scans the 24
 * reference domains of the 2018 sendmail DANE write-up through the whole
 * pipeline on the embedded default, and prints each verdict beside the
 * write-up's expected outcome. Exit 0 when all agree, 4 when any differs.
 *
 * The CLI does not depend on the testbed package: it runs the testbed's
 * command (test/testbed/bin/testbed up, and `env` for the resolver's address)
 * and takes the cases and their expected outcomes from the seed table of
 * @danesweep/dane (libs/dane/seed/seed-cases.json), the table the testbed
 * builds its zones from.
 */
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SEED_CASES, type SeedCaseEntry, type VerdictRecord } from "@danesweep/dane";
import { parse, UsageError } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import type { Io } from "../main.ts";
import { STORE_OPTIONS } from "../store-options.ts";
import { executeScan, parseScanArgs } from "./scan.ts";

const HELP = `usage: danesweep demo [--data DIR | --database URL] [--down]

Brings up the test universe on loopback (a signed fake root, signed and
unsigned zones, a validating Unbound on 127.0.0.0/8, SMTP test servers
on 127.0.0.0/8), scans the 24 reference domains and prints each verdict beside
the write-up's expected outcome. The universe stays up afterwards so you can
explore it (danesweep show test1.testing); --down stops it at the end.
`;

const TESTBED = fileURLToPath(new URL("../../../../test/testbed/bin/testbed", import.meta.url));

function testbed(cmd: "up" | "down", io: Io): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(TESTBED, [cmd], { stdio: ["ignore", "pipe", "pipe"] });
    p.stdout.on("data", (b) => io.stderr.write(b));
    p.stderr.on("data", (b) => io.stderr.write(b));
    p.on("error", (e) => {
      io.stderr.write(`danesweep demo: cannot run ${TESTBED}: ${e.message}\n`);
      resolve(1);
    });
    p.on("close", (code) => resolve(code ?? 1));
  });
}

/** What the demo needs of a seed case: its number, domain and expected outcome. */
export type DemoCase = Pick<SeedCaseEntry, "case" | "domain"> & {
  expected: Pick<SeedCaseEntry["expected"], "action" | "security" | "host">;
};

/**
 * The validating resolver of the test universe, from the output of `testbed
 * env` (DANESWEEP_TESTBED_RESOLVER and DANESWEEP_TESTBED_RESOLVER_PORT); an
 * error naming what is missing otherwise.
 */
export function testbedResolver(envText: string): { ok: true; value: string } | { ok: false; error: string } {
  const vars = new Map<string, string>();
  for (const m of envText.matchAll(/^export ([A-Z0-9_]+)='([^']*)'$/gm))
    vars.set(m[1] as string, m[2] as string);
  const address = vars.get("DANESWEEP_TESTBED_RESOLVER");
  const port = vars.get("DANESWEEP_TESTBED_RESOLVER_PORT");
  if (address === undefined || port === undefined || !/^\d{1,5}$/.test(port))
    return {
      ok: false,
      error: `${TESTBED} env printed no DANESWEEP_TESTBED_RESOLVER and DANESWEEP_TESTBED_RESOLVER_PORT`,
    };
  return { ok: true, value: `${address}:${port}` };
}

function testbedEnv(): Promise<{ ok: true; value: string } | { ok: false; error: string }> {
  return new Promise((resolve) =>
    execFile(TESTBED, ["env"], { encoding: "utf8" }, (e, stdout) =>
      resolve(e ? { ok: false, error: `cannot run ${TESTBED} env: ${e.message}` } : testbedResolver(stdout)),
    ),
  );
}

export function expectedText(c: DemoCase): string {
  const e = c.expected;
  return e.action === "deliver" ? `deliver ${e.security} ${e.host}` : e.action;
}

export function gotText(r: VerdictRecord | undefined): string {
  if (!r) return "(no verdict)";
  const v = r.verdict;
  return v.action === "deliver" ? `deliver ${v.security} ${v.host}` : v.action;
}

export function agrees(c: DemoCase, r: VerdictRecord | undefined): boolean {
  if (!r) return false;
  const e = c.expected;
  const v = r.verdict;
  if (v.action !== e.action) return false;
  if (e.action !== "deliver") return true;
  return v.security === e.security && v.host === e.host;
}

export function demoTable(
  cases: readonly DemoCase[],
  got: Map<string, VerdictRecord>,
): { text: string; mismatches: number } {
  const rows = cases.map((c) => {
    const r = got.get(c.domain);
    return [
      String(c.case),
      c.domain,
      expectedText(c),
      gotText(r),
      r?.verdict.reason ?? "-",
      r?.dane ?? "-",
      agrees(c, r) ? "OK" : "MISMATCH",
    ];
  });
  const head = ["CASE", "DOMAIN", "EXPECTED (write-up)", "GOT", "REASON", "DANE", ""];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const mismatches = rows.filter((r) => r[6] !== "OK").length;
  return { text: [line(head), ...rows.map(line)].join("\n") + "\n", mismatches };
}

export async function run(argv: string[], io: Io): Promise<number> {
  let values: { data?: string; database?: string; help?: boolean; down?: boolean };
  try {
    ({ values } = parse(argv, {
      ...STORE_OPTIONS,
      help: { type: "boolean", short: "h" },
      down: { type: "boolean" },
    }));
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`danesweep demo: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  if (values.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  io.stderr.write("danesweep demo: bringing up the test universe (test/testbed/bin/testbed up)\n");
  const up = await testbed("up", io);
  if (up !== 0) {
    io.stderr.write(
      `danesweep demo: the test universe did not come up (exit ${up}); see the messages above\n`,
    );
    return EXIT.failure;
  }
  const resolver = await testbedEnv();
  if (!resolver.ok) {
    io.stderr.write(`danesweep demo: ${resolver.error}\n`);
    return EXIT.failure;
  }
  const cases = SEED_CASES;
  const storeArgs = [
    ...(values.data !== undefined ? ["--data", values.data] : []),
    ...(values.database !== undefined ? ["--database", values.database] : []),
  ];
  const parsed = parseScanArgs(
    [
      "--resolver",
      resolver.value,
      "--allow-private",
      "--per-ip-rate",
      "100",
      "--per-ip-burst",
      "100",
      "--per-ip-concurrency",
      "8",
      "--ehlo",
      "danesweep-demo.invalid",
      "--quiet",
      ...storeArgs,
      ...cases.map((c) => c.domain),
    ],
    false,
  );
  const got = new Map<string, VerdictRecord>();
  io.stderr.write(`danesweep demo: scanning the ${cases.length} reference domains\n`);
  const { code, scanId } = await executeScan(parsed, io, {
    print: false,
    onVerdict: (r) => got.set(r.domain, r),
  });
  if (code !== EXIT.ok) return code;
  const { text, mismatches } = demoTable(cases, got);
  io.stdout.write(text);
  io.stdout.write(
    mismatches === 0
      ? `\nall ${cases.length} verdicts agree with the write-up (scan ${scanId}).\n`
      : `\n${mismatches} of ${cases.length} verdicts differ from the write-up (scan ${scanId}).\n`,
  );
  io.stdout.write(
    values.down
      ? ""
      : "explore: bin/danesweep show test1.testing; stop the universe: test/testbed/bin/testbed down\n",
  );
  if (values.down) await testbed("down", io);
  return mismatches === 0 ? EXIT.ok : EXIT.demoMismatch;
}
