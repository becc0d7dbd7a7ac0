/**
 * Helper process of embedded.test.ts: owns an embedded directory, commits 500
 * seeded domains of scan "s-kill", writes "committed" to the file named by
 * its second argument, and waits (to be killed).
 */
import { writeFileSync } from "node:fs";
import { openStore } from "../src/store.ts";

const [dir, ready] = process.argv.slice(2) as [string, string];
const store = await openStore({ dataDir: dir });
await store.createScan({ id: "s-kill", parameters: {}, startedAt: "2026-01-01T00:00:00Z" });
await store.seedDomains(
  "s-kill",
  Array.from({ length: 500 }, (_, i) => ({ domain: `d${i}.test`, line: i + 1 })),
);
writeFileSync(ready, "committed");
setInterval(() => {}, 60_000);
