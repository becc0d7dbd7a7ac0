/**
 * The typed API client the tests use: openapi-fetch over the types generated
 * from the app's own /openapi.json (openapi.gen.ts), sending each request
 * through the app's inject() (no socket), or to a listening address. Requests
 * and responses are typed by the spec: a test that asks for what the spec
 * does not describe, or reads a field it does not have, does not type-check.
 *   apiClient(app, headers?)  -> Client<paths> over inject()
 * Responses keep their status and headers (`response`), and their body is
 * read as the spec's content type says (`data` for 2xx, `error` otherwise).
 */
import type { FastifyInstance } from "fastify";
import createClient, { type Client } from "openapi-fetch";
import type { paths } from "./openapi.gen.ts";

export type ApiClient = Client<paths>;

/** A fetch that hands the request to app.inject() and builds a Response from its answer. */
export function injectFetch(app: FastifyInstance): (req: Request) => Promise<Response> {
  return async (req) => {
    const u = new URL(req.url);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const res = await app.inject({
      method: req.method as "GET",
      url: `${u.pathname}${u.search}`,
      headers: Object.fromEntries(req.headers.entries()),
      ...(body ? { payload: body } : {}),
    });
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) for (const x of Array.isArray(v) ? v : [v]) headers.append(k, String(x));
    const nullBody = req.method === "HEAD" || [204, 205, 304].includes(res.statusCode);
    return new Response(nullBody ? null : res.rawPayload, { status: res.statusCode, headers });
  };
}

export function apiClient(app: FastifyInstance, headers: Record<string, string> = {}): ApiClient {
  return createClient<paths>({ baseUrl: "http://api.test", fetch: injectFetch(app), headers });
}
