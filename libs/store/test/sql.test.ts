/**
 * sql.ts arrayLiteral: the array parameters the store sends are the literals
 * the pg driver itself would have sent (its own prepareValue, the reference),
 * and PostgreSQL (PGlite) reads them back element for element.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import { arrayLiteral } from "../src/sql.ts";

/** The pg driver's own conversion of a parameter (not in its type declarations). */
const pgUtils = createRequire(import.meta.url)("pg/lib/utils.js") as { prepareValue(v: unknown): unknown };

const cases: unknown[][] = [
  [],
  ["example.org", "mx.example.net"],
  ["a", null, "b", undefined],
  ['quote"inside', "back\\slash", 'both\\"', "\\\\", '"'],
  ["comma,and{brace}", " spaced ", "NULL", "null", "", "ünïcode.example"],
  [1, 2, 3, -7, 0],
  [1.5, 1e21, Number.NaN],
  [12345678901234567890n, 0n],
  [true, false, null],
  ["2026-12-04T10:00:00.000Z", "2026-12-04T10:00:00.001Z"],
];

test("arrayLiteral: the literal the pg driver would send, for every element kind it takes", () => {
  for (const c of cases)
    assert.equal(
      arrayLiteral(c),
      pgUtils.prepareValue(c),
      JSON.stringify(c, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)),
    );
});

test("arrayLiteral: leaves to the driver what it does not build (nested arrays, buffers, dates, objects)", () => {
  assert.equal(arrayLiteral([["a"], ["b"]]), undefined);
  assert.equal(arrayLiteral([Buffer.from("x")]), undefined);
  assert.equal(arrayLiteral([new Date(0)]), undefined);
  assert.equal(arrayLiteral(["a", { b: 1 }]), undefined);
});

test("arrayLiteral: PostgreSQL reads back each element as given", async () => {
  const db = new PGlite();
  try {
    const texts = [
      "plain",
      'quote"inside',
      "back\\slash",
      "comma,and{brace}",
      " spaced ",
      "NULL",
      "",
      null,
      "ünïcode",
    ];
    const r = await db.query<{ a: (string | null)[] }>("select $1::text[] as a", [arrayLiteral(texts)]);
    assert.deepEqual(r.rows[0]?.a, texts);
    const ints = [1, -2, 300000, null];
    const n = await db.query<{ a: (number | null)[] }>("select $1::integer[] as a", [arrayLiteral(ints)]);
    assert.deepEqual(n.rows[0]?.a, ints);
    const u = await db.query<{ n: number }>(
      "select count(*)::int as n from unnest($1::uuid[], $2::text[]) as x(h, d)",
      [
        arrayLiteral(["0b6a3f1e-8a40-4f6e-9c1d-3a2b1c0d9e8f", "1c7b4e2f-9b51-4a7f-8d2e-4b3c2d1e0f9a"]),
        arrayLiteral(["a.example", "b.example"]),
      ],
    );
    assert.equal(u.rows[0]?.n, 2);
  } finally {
    await db.close();
  }
});
