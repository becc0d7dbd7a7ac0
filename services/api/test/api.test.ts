/**
 * The API suite over PGlite (embedded PostgreSQL, in memory), plus the pure
 * helpers: Accept negotiation, CSV lines, cursors, tokens.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { judge } from "@danesweep/dane";
import { newScanId, openStore } from "@danesweep/store";
import { buildSeedCases } from "../../../libs/dane/test/fixtures/seed-cases.ts";
import { buildApp } from "../src/app.ts";
import { CSV_FORMULA_STARTS, csvField, csvRecord } from "../src/csv.ts";
import { csvLine, decodeCursor, encodeCursor, negotiate } from "../src/formats.ts";
import { fastifyTrustProxy, parseTrustProxy } from "../src/proxy.ts";
import { parseTime } from "../src/time.ts";
import { claimedTokenId, hashToken, newToken, TOKEN_PATTERN } from "../src/tokens.ts";
import { apiSuite } from "./suite.ts";

apiSuite("pglite", () => openStore({ memory: true }));

test("GET /v1/broken lists the failing hosts stored with each verdict; an engine-2.2 verdict gets them when read", async () => {
  const store = await openStore({ memory: true });
  try {
    const world = buildSeedCases();
    const now = Date.UTC(2024, 4, 1, 12);
    // Seed cases 1, 2 and 3: each has a failing MX host (1 and 2: a digest mismatch, 3: no STARTTLS).
    const picked = world.cases.filter((c) => [1, 2, 3].includes(c.n));
    const entries = picked.map((c) => ({ facts: c.facts, record: judge(c.facts, c.probes, { now }) }));
    const [current, older, later] = entries as [
      (typeof entries)[0],
      (typeof entries)[0],
      (typeof entries)[0],
    ];
    const derivedOlder = older.record.failingHosts;
    assert.ok(
      current.record.failingHosts?.length && derivedOlder?.length && later.record.failingHosts?.length,
    );
    // Case 2 as engine 2.2 stored it (no failingHosts); case 3 as a later engine stored it, whose
    // rule listed fewer hosts than today's would derive from its hosts: the view shows what was stored.
    const { failingHosts: _f, ...asEngine22 } = older.record;
    older.record = { ...asEngine22, engine: { version: "2.2.0", profile: "postfix" } };
    later.record = { ...later.record, engine: { version: "2.9.0", profile: "postfix" }, failingHosts: [] };
    const scanId = newScanId(new Date(now));
    await store.createScan({ id: scanId, parameters: {}, startedAt: new Date(now).toISOString() });
    await store.seedDomains(
      scanId,
      picked.map((c) => ({ domain: c.domain, line: c.n })),
    );
    await store.storeJudged(scanId, entries);
    const app = buildApp({ store, auth: { readRequiresToken: false }, rateLimit: false });
    const res = await app.inject(`/v1/broken?scan=${scanId}`);
    assert.equal(res.statusCode, 200, res.body);
    const items = (res.json() as { items: { domain: string; failingHosts: unknown[] }[] }).items;
    assert.deepEqual(
      items.map((i) => [i.domain, i.failingHosts]),
      [
        ["test1.testing", current.record.failingHosts],
        ["test2.testing", derivedOlder],
        ["test3.testing", []],
      ],
    );
    assert.deepEqual(
      derivedOlder?.map((h) => h.host),
      ["test2a.testing"],
    );
    await app.close();
  } finally {
    await store.close();
  }
});

test("Accept negotiation (RFC 9110 12.5.1: q-values, wildcards)", () => {
  assert.equal(negotiate(undefined), "json");
  assert.equal(negotiate("*/*"), "json");
  assert.equal(negotiate("text/csv"), "csv");
  assert.equal(negotiate("application/x-ndjson"), "ndjson");
  assert.equal(negotiate("text/csv;q=0.2, application/x-ndjson;q=0.8"), "ndjson");
  assert.equal(negotiate("text/html, text/*;q=0.5"), "csv");
  assert.equal(negotiate("text/csv;q=0"), undefined);
  assert.equal(negotiate("image/png"), undefined);
});

test("CSV lines quote commas, quotes and line breaks (RFC 4180)", () => {
  const line = csvLine({ domain: "a.example", explanation: 'said "no", then\nleft', security: null });
  // ... then the risks and the MTA-STS / TLS-RPT columns after the explanation, empty here.
  assert.equal(line, 'a.example,,,,,,,,,"said ""no"", then\nleft",,,,,,,\r\n');
  // A list (the risks, the MTA-STS contradictions) is one field, its items separated by spaces.
  assert.equal(
    csvLine({ domain: "b.example", risks: ["rrsig-expiring", "latent-mismatch"] }),
    "b.example,,,,,,,,,,rrsig-expiring latent-mismatch,,,,,,\r\n",
  );
  assert.equal(
    csvLine({
      domain: "b.example",
      mtaStsPolicy: "valid",
      mtaStsContradictions: ["mx-not-covered", "enforce-no-tls"],
    }),
    "b.example,,,,,,,,,,,valid,,,,mx-not-covered enforce-no-tls,\r\n",
  );
});

test("CSV fields a spreadsheet would evaluate get a leading apostrophe (OWASP CSV injection)", () => {
  // OWASP's list of first characters that start a formula: = + - @ tab CR.
  for (const c of ["=", "+", "-", "@", "\t", "\r"])
    assert.ok(CSV_FORMULA_STARTS.includes(c), JSON.stringify(c));
  assert.equal(csvField("=1+1.escmx.evil"), "'=1+1.escmx.evil");
  assert.equal(csvField("@sum(1,1)"), '"\'@sum(1,1)"'); // then quoted for its comma
  assert.equal(csvField("+33.example"), "'+33.example");
  assert.equal(csvField("-cmd.example"), "'-cmd.example");
  assert.equal(csvField("\t=1"), "'\t=1");
  assert.equal(csvField("\r=1"), '"\'\r=1"'); // then quoted for its CR
  assert.equal(csvField("\uff1d1+1"), "'\uff1d1+1"); // full-width equals sign
  assert.equal(csvField('=HYPERLINK("http://x.example")'), '"\'=HYPERLINK(""http://x.example"")"');
  // Only the first character counts; empty and missing values stay empty.
  assert.equal(csvField("mx.example=1"), "mx.example=1");
  assert.equal(csvField(" =1"), " =1");
  assert.equal(csvField(""), "");
  assert.equal(csvField(null), "");
  assert.equal(csvField(undefined), "");
  // csv-stringify's escape_formulas example: [["=1", "@2", "3"]] -> '=1,'@2,3
  assert.equal(csvRecord(["=1", "@2", "3"]), "'=1,'@2,3\r\n");
});

test("cursors round-trip; anything else is refused", () => {
  assert.equal(decodeCursor(encodeCursor("test1.testing")), "test1.testing");
  assert.equal(decodeCursor("dGVzdA"), undefined); // "test" without the k: prefix
  assert.equal(decodeCursor("-1"), undefined);
  assert.equal(decodeCursor(`${encodeCursor("x")}=`), undefined);
});

test("tokens: ds_<16 hex>_<43 base64url>, hashed with SHA-256", () => {
  const t = newToken((n) => new Uint8Array(n).fill(1));
  assert.equal(t.id, "0101010101010101");
  assert.match(t.token, TOKEN_PATTERN);
  assert.equal(t.token, `ds_0101010101010101_${Buffer.alloc(32, 1).toString("base64url")}`);
  assert.equal(hashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); // FIPS 180-2 example
  assert.equal(claimedTokenId(`Bearer ${t.token}`), t.id);
  assert.equal(claimedTokenId("Bearer nope"), undefined);
});

test("--trust-proxy values: a hop count, or addresses and CIDRs; anything else names the bad entry", () => {
  assert.deepEqual(parseTrustProxy("1"), { ok: true, value: { hops: 1 } });
  assert.deepEqual(parseTrustProxy(" 2 "), { ok: true, value: { hops: 2 } });
  assert.deepEqual(parseTrustProxy("10.0.0.0/8, 192.0.2.7,::1,2001:db8::/32"), {
    ok: true,
    value: { proxies: ["10.0.0.0/8", "192.0.2.7", "::1", "2001:db8::/32"] },
  });
  for (const [bad, named] of [
    ["0", "0"],
    ["11", "11"],
    ["true", "true"],
    ["", "hop count"],
    ["10.0.0.0/33", "10.0.0.0/33"],
    ["192.0.2.1,proxy.example", "proxy.example"],
    ["host:proxy.example", "host:proxy.example"],
    ["192.0.2.1#x", "192.0.2.1#x"],
    ["300.1.1.1", "300.1.1.1"],
  ]) {
    const r = parseTrustProxy(bad as string);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.ok(r.error.includes(named as string), r.error);
  }
  const trust = fastifyTrustProxy({ proxies: ["10.0.0.0/8", "2001:db8::1"] });
  assert.equal(trust("10.1.2.3", 0), true);
  assert.equal(trust("::ffff:10.1.2.3", 0), true);
  assert.equal(trust("2001:db8::1", 3), true);
  assert.equal(trust("11.0.0.1", 0), false);
  assert.equal(trust("not-an-address", 1), false);
  const hops = fastifyTrustProxy({ hops: 2 });
  assert.deepEqual(
    [0, 1, 2].map((h) => hops("198.51.100.1", h)),
    [true, true, false],
  );
  assert.throws(() => fastifyTrustProxy({ hops: 0 }), RangeError);
  assert.throws(() => fastifyTrustProxy({ proxies: ["nope.example"] }), RangeError);
});

test("times: RFC 3339 with a zone, real calendar days, to UTC milliseconds", () => {
  assert.deepEqual(parseTime("2024-02-29T12:00:00Z"), { ok: true, iso: "2024-02-29T12:00:00.000Z" });
  assert.deepEqual(parseTime("2024-01-01T00:30:00+01:00"), { ok: true, iso: "2023-12-31T23:30:00.000Z" });
  assert.deepEqual(parseTime("2024-01-01T00:00:00.1239z"), { ok: true, iso: "2024-01-01T00:00:00.123Z" });
  assert.deepEqual(parseTime("2024-01-31T24:00:00Z"), { ok: true, iso: "2024-02-01T00:00:00.000Z" });
  assert.deepEqual(parseTime("0099-06-01T00:00:00Z"), { ok: true, iso: "0099-06-01T00:00:00.000Z" });
  assert.deepEqual(parseTime("2000-02-29T00:00:00Z"), { ok: true, iso: "2000-02-29T00:00:00.000Z" });
  for (const bad of [
    "1900-02-29T00:00:00Z", // 1900 is not a leap year
    "2024-06-31T00:00:00Z",
    "2024-01-01T24:00:01Z",
    "2024-01-01T00:00:00",
    "2024-01-01 00:00:00Z",
    "2024-01-01T00:00:00+24:00",
    "9999-12-31T23:59:59-01:00", // year 10000 in UTC
  ])
    assert.equal(parseTime(bad).ok, false, bad);
  const r = parseTime("2024-02-30T00:00:00Z");
  assert.ok(!r.ok && r.error.includes("2024-02 has 29 days"), JSON.stringify(r));
});
