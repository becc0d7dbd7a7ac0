/**
 * Completes the OpenAPI document that @fastify/swagger builds from the route
 * schemas (app.ts passes `completeOpenApi` as its transformObject), for every
 * route there is and every route added later:
 * - each operation without an operationId gets one from its method and path
 *   (`operationIdOf`): the verb, then each path segment after /v1 in
 *   camel case, a parameter as By<Name>: GET /v1/scans/{id}/results is
 *   getScansByIdResults, POST /v1/scans is postScans. Two routes cannot share
 *   one (method and path are unique), so the ids are unique;
 * - `servers` is this API's own origin ("/"), so that clients resolve paths
 *   against the address they fetched the document from.
 * Pure: returns a new document.
 */

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

function camel(word: string): string {
  return word
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");
}

export function operationIdOf(method: string, path: string): string {
  const parts = path
    .split("/")
    .filter((s) => s !== "" && s !== "v1")
    .map((s) => {
      const param = /^\{(.+)\}$/.exec(s) ?? /^:(.+)$/.exec(s);
      return param ? `By${camel(param[1] as string)}` : camel(s);
    });
  return `${method.toLowerCase()}${parts.join("")}`;
}

interface OpenApiDoc {
  servers?: { url: string; description?: string }[];
  paths?: Record<string, Record<string, unknown>>;
  [k: string]: unknown;
}

export function completeOpenApi<T extends object>(input: T): T {
  const doc = structuredClone(input) as OpenApiDoc;
  if (!doc.servers || doc.servers.length === 0)
    doc.servers = [
      { url: "/", description: "this server (paths resolve against where this document was fetched)" },
    ];
  for (const [path, item] of Object.entries(doc.paths ?? {}))
    for (const m of METHODS) {
      // Methods of one route (GET and HEAD) share one object: each gets its own copy.
      const op = item[m] as { operationId?: string } | undefined;
      if (op && op.operationId === undefined) item[m] = { ...op, operationId: operationIdOf(m, path) };
    }
  return doc as T;
}
