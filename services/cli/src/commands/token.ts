/**
 * `danesweep token create|list|revoke`: API bearer tokens in the store
 * (--data DIR or --database URL, as every command).
 * - create --name NAME [--scope read|scan ...] (default scope read): prints
 *   the token once (only its SHA-256 is stored);
 * - list [--json]: id, name, scopes, created, revoked;
 * - revoke ID|NAME: revokes the token with this id, or every live token with
 *   this name; exit 1 when none was live.
 * Exit codes: 0 ok, 1 nothing to revoke or the store failed, 2 bad usage.
 */
import { createToken } from "@danesweep/api";
import { ApiQueries, TOKEN_SCOPES, type TokenScope } from "@danesweep/store";
import { parse, parseOrUsage, UsageError } from "../args.ts";
import { EXIT } from "../exit-codes.ts";
import type { Io } from "../main.ts";
import { openConfiguredStore, STORE_OPTIONS, storeConfig } from "../store-options.ts";

const HELP = `usage: danesweep token create --name NAME [--scope read|scan]... [--data DIR | --database URL]
       danesweep token list [--json] [--data DIR | --database URL]
       danesweep token revoke ID|NAME [--data DIR | --database URL]
`;

function options(argv: string[]) {
  const { values: v, positionals } = parse(argv, {
    ...STORE_OPTIONS,
    name: { type: "string" },
    scope: { type: "string", multiple: true },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  const [sub, ...rest] = positionals;
  if (v.help) return { help: true as const };
  if (sub !== "create" && sub !== "list" && sub !== "revoke")
    throw new UsageError(sub === undefined ? "missing subcommand" : `unknown subcommand "${sub}"`);
  const cfg = storeConfig(v);
  if (sub === "create") {
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    const name = v.name;
    if (name === undefined || !/^[\x21-\x7e][\x20-\x7e]{0,99}$/.test(name))
      throw new UsageError("--name is required: 1 to 100 printable characters");
    const scopes = [...new Set(v.scope ?? ["read"])];
    for (const s of scopes)
      if (!(TOKEN_SCOPES as readonly string[]).includes(s))
        throw new UsageError(`--scope must be one of ${TOKEN_SCOPES.join(", ")}, got "${s}"`);
    return { help: false as const, sub: "create" as const, cfg, name, scopes: scopes as TokenScope[] };
  }
  if (v.name !== undefined || v.scope !== undefined)
    throw new UsageError(`--name and --scope are for "create"`);
  if (sub === "list") {
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    return { help: false as const, sub: "list" as const, cfg, json: v.json === true };
  }
  if (rest.length !== 1) throw new UsageError("revoke takes one token id or name");
  return { help: false as const, sub: "revoke" as const, cfg, target: rest[0] as string };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const p = parseOrUsage("token", HELP, io.stderr, () => options(argv));
  if (!p.ok) return p.code;
  const o = p.value;
  if (o.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const store = await openConfiguredStore(o.cfg);
  try {
    const q = new ApiQueries(store);
    if (o.sub === "create") {
      const t = await createToken(q, { name: o.name, scopes: o.scopes, now: new Date() });
      io.stdout.write(`${t.token}\n`);
      io.stderr.write(`token ${t.id} "${o.name}" (${o.scopes.join(", ")}): shown once, store it now\n`);
      return EXIT.ok;
    }
    if (o.sub === "list") {
      for (const t of await q.listTokens()) {
        const { sha256: _hash, ...shown } = t;
        io.stdout.write(
          o.json
            ? `${JSON.stringify(shown)}\n`
            : `${t.id}  ${t.name}  ${t.scopes.join(",")}  created ${t.createdAt}${t.revokedAt ? `  revoked ${t.revokedAt}` : ""}\n`,
        );
      }
      return EXIT.ok;
    }
    const ids = await q.revokeToken(o.target, new Date().toISOString());
    if (ids.length === 0) {
      io.stderr.write(`danesweep token: no live token with id or name "${o.target}"\n`);
      return EXIT.failure;
    }
    io.stdout.write(`revoked ${ids.join(", ")}\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
