/**
 * Integration test of the running testbed: real Knot, real Unbound, queried with kdig.
 * Starts the testbed (bin/testbed up) when it is not up, and stops it afterwards only
 * in that case. Expected values come from the zone design (issue text) and, for TLSA
 * data, from openssl's own digest of certificate B, not from the generator.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CHANGE_CASES, seedCases, testbedState } from "../src/index.ts";

const run = promisify(execFile);
const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "testbed");
const state = testbedState();
let startedHere = false;

before(() => {
  const status = spawnSync(BIN, ["status"], { encoding: "utf8" });
  if (status.status === 0) return;
  const up = spawnSync(BIN, ["up"], { encoding: "utf8", timeout: 300_000 });
  assert.equal(up.status, 0, `testbed up failed:\n${up.stderr}`);
  startedHere = true;
});

after(() => {
  if (startedHere) spawnSync(BIN, ["down"], { encoding: "utf8" });
});

interface Dig {
  status: string;
  flags: string[];
  answers: { name: string; type: string; data: string }[];
  timedOut: boolean;
}

async function dig(name: string, type: string, ...opts: string[]): Promise<Dig> {
  const args = [`@${state.resolver.address}`, "-p", String(state.resolver.port), name, type, "+dnssec"];
  args.push("+retry=0", "+timeout=12", ...opts);
  const r = await run("kdig", args).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }));
  const out = r.stdout;
  const status = /status: (\w+)/.exec(out)?.[1] ?? "NONE";
  const flags = (/;; Flags: ([^;]*);/.exec(out)?.[1] ?? "").trim().split(/\s+/).filter(Boolean);
  const answers: Dig["answers"] = [];
  let section = "";
  for (const line of out.split("\n")) {
    if (line.startsWith(";; ")) section = line;
    else if (section.includes("ANSWER SECTION") && line.trim()) {
      const f = line.trim().split(/\s+/);
      answers.push({ name: f[0]!, type: f[3]!, data: f.slice(4).join(" ") });
    }
  }
  return { status, flags, answers, timedOut: status === "NONE" };
}

test("the resolver validates: AD=1 on the root SOA", async () => {
  const r = await dig(".", "SOA");
  assert.equal(r.status, "NOERROR");
  assert.ok(r.flags.includes("ad"), `flags ${r.flags}`);
});

test("test1.testing MX is secure and has the write-up's two hosts", async () => {
  const r = await dig("test1.testing", "MX");
  assert.equal(r.status, "NOERROR");
  assert.ok(r.flags.includes("ad"));
  const mx = r.answers.filter((a) => a.type === "MX").map((a) => a.data.toLowerCase());
  assert.deepEqual(mx.sort(), ["10 test1a.testing.", "20 test1b.testing."]);
});

test("every seed domain's MX (through CNAMEs) is secure", async () => {
  for (const c of seedCases()) {
    const r = await dig(c.domain, "MX");
    assert.equal(r.status, "NOERROR", c.domain);
    assert.ok(r.flags.includes("ad"), `${c.domain} flags ${r.flags}`);
    assert.ok(
      r.answers.some((a) => a.type === "MX"),
      c.domain,
    );
  }
});

test("TLSA data is the SHA-256 of certificate B (computed by openssl); the wrong one differs", async () => {
  const der = execFileSync("openssl", ["x509", "-in", state.certs.B.cert, "-outform", "DER"]);
  const digest = execFileSync("sha256sum", { input: der }).toString().split(" ")[0]!;
  const right = await dig("_25._tcp.test1b.testing", "TLSA");
  assert.ok(right.flags.includes("ad"));
  assert.deepEqual(
    right.answers.filter((a) => a.type === "TLSA").map((a) => a.data.replace(/\s/g, "").toLowerCase()),
    [`301${digest}`],
  );
  const wrong = await dig("_25._tcp.test14aa.testing", "TLSA");
  const data = wrong.answers
    .find((a) => a.type === "TLSA")!
    .data.replace(/\s/g, "")
    .toLowerCase();
  assert.equal(data.length, `301${digest}`.length);
  assert.notEqual(data, `301${digest}`);
  // The certificate served by the mismatching host is a different one.
  assert.notEqual(readFileSync(state.certs.A.cert, "utf8"), readFileSync(state.certs.B.cert, "utf8"));
});

test("change-event domains (src/changes.ts): secure MX, A and TLSA 3 1 1 of B's key; no server on their addresses", async () => {
  // Independent digest of certificate B's key: openssl's DER of the public key, hashed by sha256sum.
  const pub = execFileSync("openssl", ["x509", "-in", state.certs.B.cert, "-pubkey", "-noout"]);
  const spki = execFileSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: pub });
  const digest = execFileSync("sha256sum", { input: spki }).toString().split(" ")[0]!;
  for (const c of Object.values(CHANGE_CASES)) {
    const mx = await dig(c.domain, "MX");
    assert.ok(mx.flags.includes("ad"), `${c.domain} flags ${mx.flags}`);
    assert.deepEqual(
      mx.answers.filter((a) => a.type === "MX").map((a) => a.data.toLowerCase()),
      [`10 ${c.mx}.`],
    );
    const a = await dig(c.mx, "A");
    assert.ok(a.flags.includes("ad"));
    assert.deepEqual(
      a.answers.filter((x) => x.type === "A").map((x) => x.data),
      [c.address],
    );
    const tlsa = await dig(`_25._tcp.${c.mx}`, "TLSA");
    assert.ok(tlsa.flags.includes("ad"));
    assert.deepEqual(
      tlsa.answers.filter((x) => x.type === "TLSA").map((x) => x.data.replace(/\s/g, "").toLowerCase()),
      [`311${digest}`],
    );
    // The tests bring their own server: nothing of the testbed's listens there.
    const refused = await new Promise<string>((resolve) => {
      const sock = connect({ host: c.address, port: 25 });
      sock.on("connect", () => {
        sock.destroy();
        resolve("connected");
      });
      sock.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    });
    assert.equal(refused, "ECONNREFUSED", c.address);
  }
});

test("test19a.moretesting A is insecure (no AD)", async () => {
  const r = await dig("test19a.moretesting", "A");
  assert.equal(r.status, "NOERROR");
  assert.ok(!r.flags.includes("ad"));
  assert.deepEqual(
    r.answers.filter((a) => a.type === "A").map((a) => a.data),
    ["127.64.93.21"],
  );
});

test("a name in bogustesting. is SERVFAIL, and NOERROR with CD=1", async () => {
  const r = await dig("mx.bogustesting", "A");
  assert.equal(r.status, "SERVFAIL");
  const cd = await dig("mx.bogustesting", "A", "+cd");
  assert.equal(cd.status, "NOERROR");
  assert.ok(cd.answers.some((a) => a.type === "A"));
});

test("timeouttesting. gives SERVFAIL or a timeout", async () => {
  const r = await dig("test.timeouttesting", "MX");
  assert.ok(r.status === "SERVFAIL" || r.timedOut, `got ${r.status}`);
  const tlsa = await dig("_25._tcp.test20a.testing", "TLSA");
  assert.ok(tlsa.status === "SERVFAIL" || tlsa.timedOut, `got ${tlsa.status}`);
});

test("a missing name is a secure NXDOMAIN", async () => {
  const r = await dig("does-not-exist.testing", "MX");
  assert.equal(r.status, "NXDOMAIN");
  assert.ok(r.flags.includes("ad"));
});

test("a secure NODATA and a null MX", async () => {
  const nodata = await dig("nodata.testing", "MX");
  assert.equal(nodata.status, "NOERROR");
  assert.ok(nodata.flags.includes("ad"));
  assert.equal(nodata.answers.filter((a) => a.type === "MX").length, 0);
  const nullmx = await dig("nullmx.testing", "MX");
  assert.deepEqual(
    nullmx.answers.filter((a) => a.type === "MX").map((a) => a.data),
    ["0 ."],
  );
});

test("a CNAME loop fails; a 10-link chain resolves", async () => {
  const loop = await dig("loop1.testing", "A");
  assert.equal(loop.status, "SERVFAIL");
  const chain = await dig("chain0.testing", "MX");
  assert.equal(chain.status, "NOERROR");
  assert.equal(chain.answers.filter((a) => a.type === "CNAME").length, 10);
});

test("25 MX, 20 addresses", async () => {
  const mx = await dig("manymx.testing", "MX", "+tcp");
  assert.equal(mx.answers.filter((a) => a.type === "MX").length, 25);
  const a = await dig("manyaddr.testing", "A", "+tcp");
  assert.equal(a.answers.filter((x) => x.type === "A").length, 20);
});

test("a large TXT and a large MX RRset set TC=1 over UDP (1232-byte buffer)", async () => {
  for (const [name, type] of [
    ["bigtxt.testing", "TXT"],
    ["bigmx.testing", "MX"],
  ] as const) {
    const udp = await dig(name, type, "+bufsize=1232", "+ignore");
    assert.ok(udp.flags.includes("tc"), `${name} flags ${udp.flags}`);
    const tcp = await dig(name, type, "+tcp");
    assert.ok(tcp.flags.includes("ad"));
    assert.ok(tcp.answers.filter((x) => x.type === type).length >= 8);
  }
});

// ------------------------------------------------------------- certificates and SMTP

/** Certificates the server at ADDRESS:25 sends after STARTTLS, as DER SHA-256 hex (leaf first). */
function starttlsChain(address: string): { ok: boolean; digests: string[] } {
  const r = spawnSync(
    "openssl",
    ["s_client", "-starttls", "smtp", "-connect", `${address}:25`, "-showcerts", "-servername", "mx.testing"],
    { input: "", encoding: "utf8", timeout: 15_000 },
  );
  const pems = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const digests = pems.map((pem) => {
    const d = execFileSync("openssl", ["x509", "-outform", "DER"], { input: pem });
    return execFileSync("sha256sum", { input: d }).toString().split(" ")[0]!;
  });
  return { ok: pems.length > 0, digests };
}

function certDigest(file: string): string {
  const d = execFileSync("openssl", ["x509", "-in", file, "-outform", "DER"]);
  return execFileSync("sha256sum", { input: d }).toString().split(" ")[0]!;
}

const smtpUp = () =>
  spawnSync(BIN, ["status"], { encoding: "utf8" }).stdout.includes("smtp servers (seed)      running");

test("SMTP: 127.64.93.21 serves certificate B, 127.167.152.113 certificate A, 127.167.152.152 no STARTTLS", (t) => {
  if (!smtpUp()) return t.skip("SMTP servers not running (test/smtp CLI missing?)");
  assert.deepEqual(starttlsChain("127.64.93.21").digests, [certDigest(state.certs.B.cert)]);
  assert.deepEqual(starttlsChain("127.167.152.113").digests, [certDigest(state.certs.A.cert)]);
  assert.equal(starttlsChain("127.167.152.152").ok, false);
});

test("synthetic universe (when generated): a DANE-TA domain is secure and its host sends leaf + the TLSA's CA", async (t) => {
  let lines: string[];
  try {
    lines = readFileSync(state.synth.domainsFile, "utf8").trim().split("\n");
  } catch {
    return t.skip("no synthetic universe (bin/synth N)");
  }
  const ta = lines.map((l) => l.split(" ")).find((f) => f[1] === "dane-ta");
  if (!ta) return t.skip("no dane-ta domain");
  const mx = await dig(ta[0]!, "MX");
  assert.equal(mx.status, "NOERROR");
  assert.ok(mx.flags.includes("ad"));
  const host = mx.answers.find((a) => a.type === "MX")!.data.split(" ")[1]!;
  const tlsa = await dig(`_25._tcp.${host}`, "TLSA");
  assert.ok(tlsa.flags.includes("ad"));
  const caDigest = certDigest(state.certs.ca.cert);
  assert.deepEqual(
    tlsa.answers.filter((a) => a.type === "TLSA").map((a) => a.data.replace(/\s/g, "").toLowerCase()),
    [`201${caDigest}`],
  );
  if (!spawnSync(BIN, ["status"], { encoding: "utf8" }).stdout.includes("smtp servers (synth)     running")) {
    return t.skip("synthetic SMTP servers not running");
  }
  const a = await dig(host, "A");
  const chain = starttlsChain(a.answers.find((x) => x.type === "A")!.data);
  assert.deepEqual(chain.digests, [certDigest(state.certs.taLeaf.cert), caDigest]);
});
