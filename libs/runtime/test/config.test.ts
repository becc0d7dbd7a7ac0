import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Type } from "@sinclair/typebox";
import { flagName, loadConfig, redactedConfig } from "../src/config.ts";
import { COMMON_FIELDS, runService } from "../src/service.ts";

const fields = {
  rate: { env: "DANESWEEP_PER_IP_RATE", schema: Type.Number({ minimum: 0.001 }), default: 1, doc: "rate" },
  burst: { env: "DANESWEEP_PER_IP_BURST", schema: Type.Integer({ minimum: 1 }), default: 2, doc: "burst" },
  allow: { env: "DANESWEEP_ALLOW_PRIVATE", schema: Type.Boolean(), default: false, doc: "allow" },
  brokers: {
    env: "DANESWEEP_KAFKA_BROKERS",
    schema: Type.Array(Type.String({ pattern: "^[^:]+:[0-9]+$" }), { minItems: 1 }),
    doc: "brokers",
  },
  url: {
    env: "DANESWEEP_DATABASE_URL",
    schema: Type.String(),
    default: "postgres://u:pw@h/db",
    doc: "url",
    secret: true,
  },
};

describe("loadConfig", () => {
  test("flag names derive from the variable", () => {
    assert.equal(flagName("DANESWEEP_PER_IP_RATE"), "per-ip-rate");
  });

  test("converts text by the schema's kind; flags win over the environment", () => {
    const r = loadConfig(fields, {
      env: {
        DANESWEEP_PER_IP_RATE: "2.5",
        DANESWEEP_KAFKA_BROKERS: "a:1, b:2,",
        DANESWEEP_ALLOW_PRIVATE: "yes",
      },
      argv: ["--per-ip-burst", "7", "--per-ip-rate=4", "file.txt"],
    });
    assert.ok(r.ok);
    assert.deepEqual(r.config, {
      rate: 4,
      burst: 7,
      allow: true,
      brokers: ["a:1", "b:2"],
      url: "postgres://u:pw@h/db",
    });
    assert.deepEqual(r.positionals, ["file.txt"]);
  });

  test("a boolean flag without a value is true", () => {
    const r = loadConfig(fields, { env: { DANESWEEP_KAFKA_BROKERS: "a:1" }, argv: ["--allow-private"] });
    assert.ok(r.ok);
    assert.equal(r.config.allow, true);
  });

  test("every problem names its variable and flag", () => {
    const r = loadConfig(fields, {
      env: { DANESWEEP_PER_IP_RATE: "fast", DANESWEEP_PER_IP_BURST: "0", DANESWEEP_ALLOW_PRIVATE: "maybe" },
      argv: [],
    });
    assert.ok(!r.ok);
    const by = new Map(r.issues.map((i) => [i.variable, i]));
    assert.match(by.get("DANESWEEP_PER_IP_RATE")!.message, /expected a number/);
    assert.match(by.get("DANESWEEP_PER_IP_BURST")!.message, /greater or equal to 1/);
    assert.equal(by.get("DANESWEEP_PER_IP_BURST")!.flag, "--per-ip-burst");
    assert.match(by.get("DANESWEEP_ALLOW_PRIVATE")!.message, /true or false/);
    assert.match(by.get("DANESWEEP_KAFKA_BROKERS")!.message, /^required/);
    assert.equal(r.issues.length, 4);
  });

  test("a value outside a closed set (a union of literals) is told the choices", () => {
    const closed = {
      mode: {
        env: "DANESWEEP_PROBE_MODE",
        schema: Type.Union([Type.Literal("all"), Type.Literal("dane")]),
        default: "all" as const,
        doc: "mode",
      },
    };
    const ok = loadConfig(closed, { env: { DANESWEEP_PROBE_MODE: "dane" }, argv: [] });
    assert.ok(ok.ok);
    assert.equal(ok.config.mode, "dane");
    const r = loadConfig(closed, { env: { DANESWEEP_PROBE_MODE: "some" }, argv: [] });
    assert.ok(!r.ok);
    assert.deepEqual(r.issues, [
      {
        variable: "DANESWEEP_PROBE_MODE",
        flag: "--probe-mode",
        message: 'expected one of all, dane (got "some")',
      },
    ]);
  });

  test("array items are checked one by one", () => {
    const r = loadConfig(fields, { env: { DANESWEEP_KAFKA_BROKERS: "a:1,nope" }, argv: [] });
    assert.ok(!r.ok);
    assert.equal(r.issues[0]!.variable, "DANESWEEP_KAFKA_BROKERS");
    assert.match(r.issues[0]!.message, /\/1/);
  });

  test("unknown flags are reported, not ignored", () => {
    const r = loadConfig(fields, { env: { DANESWEEP_KAFKA_BROKERS: "a:1" }, argv: ["--per-ip-rat", "3"] });
    assert.ok(!r.ok);
    assert.match(r.issues[0]!.message, /per-ip-rat/);
  });

  test("secrets are masked in the logged config", () => {
    const r = loadConfig(fields, { env: { DANESWEEP_KAFKA_BROKERS: "a:1" }, argv: [] });
    assert.ok(r.ok);
    assert.equal(redactedConfig(fields, r.config).url, "postgres://u:***@h/db");
  });
});

describe("runService configuration gate", () => {
  const spec = {
    name: "t",
    summary: "test",
    fields: {},
    start: async () => {
      throw new Error("must not start");
    },
  };
  const capture = () => {
    let text = "";
    return {
      stream: {
        write: (s: string) => {
          text += s;
          return true;
        },
      } as unknown as NodeJS.WritableStream,
      text: () => text,
    };
  };

  test("a bad value exits 2 naming the variable, before anything starts", async () => {
    const err = capture();
    const code = await runService(spec, {
      argv: [],
      env: {
        DANESWEEP_KAFKA_BROKERS: "k:9092",
        DANESWEEP_DATABASE_URL: "mysql://x",
        DANESWEEP_PARTITIONS: "0",
      },
      stderr: err.stream,
      signals: false,
    });
    assert.equal(code, 2);
    assert.match(err.text(), /DANESWEEP_DATABASE_URL \(--database-url\)/);
    assert.match(err.text(), /DANESWEEP_PARTITIONS \(--partitions\)/);
  });

  test("--help lists every setting and exits 0", async () => {
    const out = capture();
    const code = await runService(spec, { argv: ["--help"], env: {}, stdout: out.stream, signals: false });
    assert.equal(code, 0);
    for (const f of Object.values(COMMON_FIELDS)) assert.ok(out.text().includes(f.env), f.env);
  });
});
