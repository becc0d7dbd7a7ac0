/**
 * bench/e2e/diffscans.ts: why a second scan of an unchanged universe stored
 * new facts. Compares the results of a store's two latest scans domain by
 * domain: how many rows point at other facts or verdict blobs than the scan
 * before, and, for the first few such domains, the lines of their facts
 * (stored form, pretty-printed) that differ, with the lines before each.
 * This is how the resolver's remaining TTL of unsigned answers was found
 * (a tenth of 100k synthetic domains; codec.ts no longer stores it).
 *
 *   BENCH_KEEP=1 node bench/e2e/run.ts ...   (keeps the two scans' store)
 *   node bench/e2e/diffscans.ts DATA_DIR [EXAMPLES]   (default 3)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStore, sql } from "@danesweep/store";
import { factsFrom } from "../../libs/store/src/codec.ts";

const [data, examplesArg] = process.argv.slice(2);
if (!data || !existsSync(join(data, "PG_VERSION"))) {
  console.error(
    "usage: node bench/e2e/diffscans.ts DATA_DIR [EXAMPLES]  (DATA_DIR: a danesweep data directory)",
  );
  process.exit(2);
}
const examples = Number(examplesArg ?? 3);
if (!Number.isInteger(examples) || examples < 0) {
  console.error(
    `bench/e2e/diffscans.ts: EXAMPLES must be a whole number, not ${JSON.stringify(examplesArg)}`,
  );
  process.exit(2);
}
const store = await openStore({ dataDir: data });
try {
  const scans = (
    await store.db.execute<{ scan: number }>(
      sql`select distinct scan from results order by scan desc limit 2`,
    )
  ).rows.map((r) => Number(r.scan));
  if (scans.length < 2) throw new Error(`${data} holds results of ${scans.length} scan(s); two are needed`);
  const [b, a] = scans as [number, number];
  const counts = (
    await store.db.execute<{ n: string; facts: string; verdicts: string }>(
      sql`select count(*) as n, count(*) filter (where x.facts <> y.facts) as facts,
                 count(*) filter (where x.verdict <> y.verdict) as verdicts
          from results x join results y on y.domain = x.domain and y.scan = ${b} where x.scan = ${a}`,
    )
  ).rows[0];
  console.log(
    `scans ${a} -> ${b}: ${counts?.n} domains in both; other facts ${counts?.facts}, other verdict ${counts?.verdicts}`,
  );
  const diffs = (
    await store.db.execute<{ domain: string; fa: Uint8Array; fb: Uint8Array }>(
      sql`select x.domain, fa.body as fa, fb.body as fb
          from results x join results y on y.domain = x.domain and y.scan = ${b}
          join fact_blobs fa on fa.hash = x.facts join fact_blobs fb on fb.hash = y.facts
          where x.scan = ${a} and x.facts <> y.facts order by x.domain limit ${examples}`,
    )
  ).rows;
  for (const r of diffs) {
    const before = JSON.stringify(factsFrom(r.fa, ""), null, 1).split("\n");
    const after = JSON.stringify(factsFrom(r.fb, ""), null, 1).split("\n");
    console.log(`== ${r.domain}`);
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      if (before[i] === after[i]) continue;
      console.log(before.slice(Math.max(0, i - 8), i).join("\n"));
      console.log(`- ${before[i] ?? ""}\n+ ${after[i] ?? ""}`);
    }
  }
} finally {
  await store.close();
}
