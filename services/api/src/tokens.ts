/**
 * API bearer tokens: `ds_<id>_<secret>` (id 16 hex digits, secret 43
 * base64url characters = 256 random bits). Only the SHA-256 of the whole
 * token is stored (api_tokens.sha256, hex).
 *
 * - `newToken(random?)`: a fresh token and its hash (pure with injected randomness).
 * - `createToken(queries, { name, scopes, now })`: stores a new token, returns
 *   it (the only time the secret is seen).
 * - `verifyToken(queries, header)`: reads an Authorization header; the result
 *   is a tagged union, never a throw for bad input: `missing` (no header),
 *   `malformed` (not `Bearer ds_..`), `unknown` (no such id, or the hash
 *   differs: compared in constant time), `revoked`, or `ok` with the scopes.
 *   Database failures raise StoreError.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { ApiQueries, TokenScope } from "@danesweep/store";

export const TOKEN_PATTERN = /^ds_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export type TokenCheck =
  | { ok: true; id: string; name: string; scopes: TokenScope[] }
  | { ok: false; why: "missing" | "malformed" | "unknown" | "revoked"; id?: string };

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function newToken(random: (n: number) => Uint8Array = randomBytes): {
  id: string;
  token: string;
  sha256: string;
} {
  const id = Buffer.from(random(8)).toString("hex");
  const secret = Buffer.from(random(32)).toString("base64url");
  const token = `ds_${id}_${secret}`;
  return { id, token, sha256: hashToken(token) };
}

export async function createToken(
  queries: ApiQueries,
  opts: { name: string; scopes: TokenScope[]; now: Date; random?: (n: number) => Uint8Array },
): Promise<{ id: string; token: string }> {
  const t = newToken(opts.random);
  await queries.insertToken({
    id: t.id,
    name: opts.name,
    sha256: t.sha256,
    scopes: opts.scopes,
    createdAt: opts.now.toISOString(),
  });
  return { id: t.id, token: t.token };
}

/** The token id a well-formed Authorization header claims (unverified). */
export function claimedTokenId(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer ([^\s]+)$/i.exec(header.trim());
  return m ? TOKEN_PATTERN.exec(m[1] as string)?.[1] : undefined;
}

const DUMMY = hashToken("ds_0000000000000000_dummy");

export async function verifyToken(queries: ApiQueries, header: string | undefined): Promise<TokenCheck> {
  if (header === undefined || header === "") return { ok: false, why: "missing" };
  const m = /^Bearer ([^\s]+)$/i.exec(header.trim());
  const token = m?.[1];
  const parsed = token === undefined ? null : TOKEN_PATTERN.exec(token);
  if (!token || !parsed) return { ok: false, why: "malformed" };
  const id = parsed[1] as string;
  const row = await queries.findToken(id);
  const given = Buffer.from(hashToken(token), "hex");
  const stored = Buffer.from(row?.sha256 ?? DUMMY, "hex");
  const same = stored.length === given.length && timingSafeEqual(stored, given);
  if (!row || !same) return { ok: false, why: "unknown", id };
  if (row.revokedAt !== null) return { ok: false, why: "revoked", id };
  return { ok: true, id, name: row.name, scopes: row.scopes };
}
