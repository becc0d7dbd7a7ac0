/**
 * `danesweep scans`: the scans in the store, newest first, with their state
 * and counts by action and DANE state.
 */
import { intOption, parse, parseOrUsage } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import type { Io } from "../main.ts";
import { openConfiguredStore, STORE_OPTIONS, storeConfig } from "../store-options.ts";

const HELP = `usage: danesweep scans [--limit N] [--json] [--data DIR | --database URL]\n`;

function counts(m: Record<string, number> | undefined): string {
  if (!m) return "-";
  const e = Object.entries(m).filter(([, n]) => n > 0);
  return e.length ? e.map(([k, n]) => `${k} ${n}`).join(", ") : "-";
}

function options(argv: string[]) {
  const { values: v } = parse(argv, {
    ...STORE_OPTIONS,
    limit: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  return { v, limit: intOption("limit", v.limit, 20, 1, 10_000), cfg: storeConfig(v) };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const p = parseOrUsage("scans", HELP, io.stderr, () => options(argv));
  if (!p.ok) return p.code;
  const o = p.value;
  const { v, limit, cfg } = o;
  if (v.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const store = await openConfiguredStore(cfg);
  try {
    const list = await store.listScans({ limit });
    for (const s of list) {
      const c = s.counts ?? (await store.scanCounts(s.id));
      if (v.json) {
        io.stdout.write(`${JSON.stringify({ ...s, counts: c })}\n`);
        continue;
      }
      io.stdout.write(
        `${s.id}  ${s.state.padEnd(11)}  started ${s.startedAt}${s.finishedAt ? `  ended ${s.finishedAt}` : ""}\n` +
          `    domains ${c.domains}  probes ${c.probes}\n` +
          `    action: ${counts(c.byAction)}\n    dane:   ${counts(c.byDane)}\n`,
      );
    }
    if (list.length === 0 && !v.json)
      io.stdout.write("no scans yet (danesweep scan ... or danesweep demo)\n");
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
