/**
 * Prints the verdicts of the 24 seed cases of the 2018 sendmail DANE write-up
 * beside the write-up's expected outcome, as an aligned table, and exits 1 on
 * any mismatch (0 when every case agrees).
 *
 * The facts come from libs/dane/test/fixtures/seed-cases.ts (zone data mapped
 * onto 127.0.0.0/8, certificates made fresh each run); the verdicts from
 * libs/dane's judge(). A match compares action, delivery security and host.
 * Usage: node scripts/verdict-table.ts
 */
import { judge } from "../libs/dane/src/judge.ts";
import { buildSeedCases, outcomeLabel } from "../libs/dane/test/fixtures/seed-cases.ts";

const NOW = Date.UTC(2025, 0, 1);
const world = buildSeedCases();

const rows: string[][] = [["case", "domain", "expected", "got", "reason", "dane", ""]];
let mismatches = 0;
for (const c of world.cases) {
  const r = judge(c.facts, c.probes, { now: NOW });
  const e = c.expected;
  const v = r.verdict;
  const ok = v.action === e.action && v.security === e.security && v.host === e.host;
  if (!ok) mismatches++;
  rows.push([
    String(c.n),
    c.domain,
    outcomeLabel(e),
    outcomeLabel(v),
    v.reason,
    r.dane,
    ok ? "OK" : "MISMATCH",
  ]);
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
for (const row of rows)
  console.log(
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd(),
  );
console.log(
  mismatches === 0
    ? `\nall ${world.cases.length} cases agree with the write-up`
    : `\n${mismatches} MISMATCH(ES)`,
);
process.exit(mismatches === 0 ? 0 : 1);
