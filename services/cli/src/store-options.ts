/**
 * Where the store is: `--database URL` (PostgreSQL) or `--data DIR` (PGlite,
 * the embedded default). Without either: $DANESWEEP_DATA, else
 * $XDG_DATA_HOME/danesweep, else ~/.local/share/danesweep.
 *
 * `openConfig` is what the commands open: on the embedded store it names
 * this process "danesweep COMMAND ARGS" for owner.json, so that another
 * process finding the directory busy is told which command holds it.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { openStore, redactUrl, type Store, type StoreConfig } from "@danesweep/store";
import { UsageError } from "./args.ts";

export const STORE_OPTIONS = {
  data: { type: "string" },
  database: { type: "string" },
} as const;

export function defaultDataDir(env = process.env): string {
  if (env.DANESWEEP_DATA) return env.DANESWEEP_DATA;
  return join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "danesweep");
}

export type CliStoreConfig = { url: string } | { dataDir: string };

export function storeConfig(v: { data?: string | undefined; database?: string | undefined }): CliStoreConfig {
  if (v.data !== undefined && v.database !== undefined)
    throw new UsageError("give either --data DIR (embedded) or --database URL (PostgreSQL), not both");
  if (v.database !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(v.database))
      throw new UsageError(`--database must be a postgres:// URL, got "${v.database}"`);
    return { url: v.database };
  }
  return { dataDir: v.data ?? defaultDataDir() };
}

export function describeStore(c: CliStoreConfig): string {
  return "url" in c ? redactUrl(c.url) : `PGlite at ${c.dataDir}`;
}

/** The config to open: an embedded store records this command line as its owner's. */
export function openConfig(c: CliStoreConfig, argv: readonly string[] = process.argv): StoreConfig {
  return "url" in c ? c : { ...c, command: ["danesweep", ...argv.slice(2)] };
}

export async function openConfiguredStore(c: CliStoreConfig): Promise<Store> {
  return openStore(openConfig(c));
}
