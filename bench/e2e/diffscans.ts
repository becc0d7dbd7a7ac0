import { openStore, sql } from "@danesweep/store";
import { factsFrom } from "../../libs/store/src/codec.ts";

const store = await openStore({ dataDir: process.argv[2]! });
const q = async (t: string) => (await store.db.execute(sql.raw(t))).rows;
console.log(await q(`select scan, count(*) n from results group by scan order by scan`));
console.log(
  await q(`select count(*) filter (where a.facts <> b.facts) facts_changed, count(*) filter (where a.verdict <> b.verdict) verdict_changed, count(*) n
  from results a join results b on a.domain = b.domain and a.scan < b.scan`),
);
const ex =
  await q(`select a.domain, fa.body fa, fb.body fb from results a join results b on a.domain = b.domain and a.scan < b.scan
  join fact_blobs fa on fa.hash = a.facts join fact_blobs fb on fb.hash = b.facts where a.facts <> b.facts limit 3`);
for (const r of ex as { domain: string; fa: Uint8Array; fb: Uint8Array }[]) {
  const A = JSON.stringify(factsFrom(r.fa, "x"), null, 1).split("\n");
  const B = JSON.stringify(factsFrom(r.fb, "x"), null, 1).split("\n");
  console.log("==", r.domain);
  for (let i = 0; i < Math.max(A.length, B.length); i++)
    if (A[i] !== B[i]) {
      console.log(i, A[i], "|", B[i]);
    }
}
console.log(
  await q(
    `select relname, pg_total_relation_size(c.oid) sz from pg_class c join pg_namespace s on s.oid=c.relnamespace where s.nspname='public' and c.relkind='r' order by 2 desc limit 14`,
  ),
);
await store.close();
