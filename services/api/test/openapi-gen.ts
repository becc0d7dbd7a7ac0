/**
 * The API's OpenAPI document as the app serves it, and the TypeScript types
 * openapi-typescript generates from it into test/openapi.gen.ts, which the
 * API's tests use through a typed client (test/client.ts, openapi-fetch):
 * a route whose schema changes changes the types, and the tests that use it
 * no longer type-check until they agree.
 *   node services/api/test/openapi-gen.ts          write test/openapi.gen.ts
 *   node services/api/test/openapi-gen.ts --check  exit 1 when it is stale
 * `servedSpec()` builds the app (readRequiresToken on, so that every read
 * states its bearer security) over an in-memory store and asks for /openapi.json.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openStore } from "@danesweep/store";
import openapiTS, { astToString } from "openapi-typescript";
import { buildApp } from "../src/app.ts";

export const TYPES_FILE = fileURLToPath(new URL("./openapi.gen.ts", import.meta.url));

export async function servedSpec(
  o: { readRequiresToken: boolean } = { readRequiresToken: true },
): Promise<object> {
  const store = await openStore({ memory: true });
  const app = buildApp({ store, auth: { readRequiresToken: o.readRequiresToken }, rateLimit: false });
  try {
    const res = await app.inject("/openapi.json");
    if (res.statusCode !== 200) throw new Error(`/openapi.json answered ${res.statusCode}: ${res.body}`);
    return res.json() as object;
  } finally {
    await app.close();
    await store.close();
  }
}

export async function generatedTypes(spec: object): Promise<string> {
  const ast = await openapiTS(spec as never, { alphabetize: true });
  return `/**\n * Generated from the API's /openapi.json by openapi-typescript (node services/api/test/openapi-gen.ts).\n * Do not edit: regenerate.\n */\n${astToString(ast)}`;
}

if (import.meta.main) {
  const text = await generatedTypes(await servedSpec());
  if (process.argv.includes("--check")) {
    const stale = readFileSync(TYPES_FILE, "utf8") !== text;
    if (stale)
      console.error("stale: services/api/test/openapi.gen.ts; run: node services/api/test/openapi-gen.ts");
    process.exit(stale ? 1 : 0);
  }
  writeFileSync(TYPES_FILE, text);
  console.log(`wrote ${TYPES_FILE}`);
}
