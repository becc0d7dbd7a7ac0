/**
 * The macro expander against Grafana's documented expansions (PostgreSQL data
 * source docs: $__timeFilter(dateColumn) is "dateColumn BETWEEN
 * '2017-04-21T05:01:17Z' AND '2017-04-21T05:06:17Z'", $__timeFrom() is
 * "'2017-04-21T05:01:17Z'"; template variables: a multi-value or include-All
 * variable's values are quoted and comma-separated, sqlstring quotes and
 * doubles quotes; Prometheus lists become (a|b)), and its errors.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { expandMacros, intervalText, type MacroContext, MacroError, variableValue } from "../src/macros.ts";

const ctx = (variables: MacroContext["variables"] = {}): MacroContext => ({
  from: new Date("2017-04-21T05:01:17Z"),
  to: new Date("2017-04-21T05:06:17Z"),
  intervalMs: 300_000,
  variables,
});

test("time macros as the PostgreSQL data source expands them", () => {
  assert.equal(
    expandMacros("where $__timeFilter(dateColumn)", ctx()),
    "where dateColumn BETWEEN '2017-04-21T05:01:17Z' AND '2017-04-21T05:06:17Z'",
  );
  assert.equal(
    expandMacros("$__timeFrom() .. $__timeTo()", ctx()),
    "'2017-04-21T05:01:17Z' .. '2017-04-21T05:06:17Z'",
  );
  assert.equal(expandMacros("select $__time(t), 1", ctx()), 'select t AS "time", 1');
});

test("global variables: interval, rate interval, range, from and to", () => {
  assert.equal(expandMacros("$__interval $__interval_ms", ctx()), "5m 300000");
  assert.equal(expandMacros("[$__rate_interval]", ctx()), "[20m]");
  assert.equal(expandMacros("$__range $__range_s", ctx()), "5m 300");
  assert.equal(expandMacros("$__from-$__to", ctx()), "1492750877000-1492751177000");
  assert.equal(intervalText(86_400_000), "1d");
  assert.equal(intervalText(90_000), "90s");
  assert.equal(intervalText(250), "250ms");
});

test("template variables: raw single values, quoted lists, formats", () => {
  const vars = {
    scan: { value: "S1", multi: false, includeAll: false },
    tld: { value: ["org", "n'l"], multi: true, includeAll: true },
    one: { value: "de", multi: true, includeAll: false },
  };
  assert.equal(
    expandMacros("id = '$scan' and '${scan}' = '[[scan]]'", ctx(vars)),
    "id = 'S1' and 'S1' = 'S1'",
  );
  assert.equal(expandMacros("id = ${scan:sqlstring}", ctx(vars)), "id = 'S1'");
  assert.equal(expandMacros("tld in ($tld)", ctx(vars)), "tld in ('org','n''l')");
  assert.equal(expandMacros("tld in ($one)", ctx(vars)), "tld in ('de')");
  assert.equal(expandMacros("${tld:csv}", ctx(vars)), "org,n'l");
  assert.equal(
    expandMacros(
      'x{tld=~"$tld"}',
      ctx({ tld: { value: ["a.b", "c"], multi: true, includeAll: false } }),
      "prometheus",
    ),
    'x{tld=~"(a\\.b|c)"}',
  );
});

test("anything unknown is an error naming it", () => {
  const code = (f: () => unknown, c: string, named: string) =>
    assert.throws(f, (e) => e instanceof MacroError && e.code === c && e.message.includes(named));
  code(() => expandMacros("$__timeGroup(t, '1h')", ctx()), "unknown-macro", "$__timeGroup");
  code(() => expandMacros("$__nope", ctx()), "unknown-macro", "$__nope");
  code(() => expandMacros("$missing", ctx()), "unknown-variable", "missing");
  code(
    () => expandMacros("${scan:json}", ctx({ scan: { value: "S", multi: false, includeAll: false } })),
    "unknown-format",
    "json",
  );
  code(() => expandMacros("$__timeFilter(a, b)", ctx()), "bad-argument", "$__timeFilter(a, b)");
});

test("a variable's value: All is every option, a current value among the options, else the first", () => {
  const options = ["a", "b", "c"];
  assert.deepEqual(
    variableValue({ name: "v", multi: true, includeAll: true, current: { value: "$__all" } }, options),
    {
      value: options,
      multi: true,
      includeAll: true,
    },
  );
  assert.equal(variableValue({ name: "v", current: { value: "b" } }, options).value, "b");
  assert.equal(variableValue({ name: "v", current: { value: "gone" } }, options).value, "a");
  assert.equal(variableValue({ name: "v" }, options).value, "a");
  assert.deepEqual(variableValue({ name: "v", multi: true }, options).value, ["a"]);
  assert.throws(() => variableValue({ name: "v" }, []), MacroError);
  assert.throws(() => variableValue({ name: "v", allValue: ".*" }, options), /custom All/);
});
