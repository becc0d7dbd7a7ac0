/**
 * Writes a synthetic universe (src/synth.ts) into a directory laid out like the state dir:
 *   zones/synth.zone, zones/synthu.zone       the zones (served by the child Knot)
 *   synth/domains.txt                         "<domain> <class> <action> <security-or-reason>" per line
 *   synth/manifest.json                       options, counts per class, hosts, expected outcome per class
 *   smtp/synth-servers.json                   test/smtp config for the MX hosts (127.60.<kind>.<k>)
 *
 *   node synth.ts N [--seed S] [--hosts H] [--probes-per-domain R] [--out DIR]
 * --probes-per-domain R: about R distinct probes per domain (MX host names per kind =
 * N * R / 5, spread over the H addresses of each kind); default: one name per address.
 * DIR defaults to the testbed state dir. Certificates come from DIR/certs (created when missing).
 * Exit 2 on bad usage; prints timing and counts.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureCertificates } from "../certs.ts";
import { testbedState, zoneFileName } from "../state.ts";
import { MAX_NAMES_PER_KIND, SYNTH_EXPECTED, synthUniverse } from "../synth.ts";

function usage(msg: string): never {
  console.error(`synth: ${msg}\nusage: synth N [--seed S] [--hosts H] [--probes-per-domain R] [--out DIR]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined) usage(`${name} needs a value`);
  args.splice(i, 2);
  return v;
};
const seed = Number(opt("--seed") ?? "1");
const hostsOpt = opt("--hosts");
const ratioOpt = opt("--probes-per-domain");
const out = opt("--out") ?? testbedState().dir;
const n = Number(args[0]);
if (!Number.isInteger(n) || n < 1 || args.length !== 1) usage("N must be a positive integer");
if (!Number.isInteger(seed)) usage("--seed must be an integer");
const hosts = hostsOpt ? Number(hostsOpt) : Math.min(50, Math.max(2, Math.ceil(n / 2000)));
if (!Number.isInteger(hosts) || hosts < 1 || hosts > 250) usage("--hosts must be 1..250");
const ratio = ratioOpt === undefined ? undefined : Number(ratioOpt);
if (ratio !== undefined && !(ratio > 0 && ratio <= 2)) usage("--probes-per-domain must be in (0, 2]");
const names = ratio === undefined ? hosts : Math.max(1, Math.round((n * ratio) / 5));
if (names > MAX_NAMES_PER_KIND)
  usage(`--probes-per-domain gives ${names} names per kind, more than ${MAX_NAMES_PER_KIND}`);

const t0 = performance.now();
const certs = ensureCertificates(join(out, "certs"));
const u = synthUniverse({
  n,
  seed,
  hosts,
  names,
  eePem: readFileSync(certs.B.cert, "utf8"),
  caPem: readFileSync(certs.ca.cert, "utf8"),
  files: {
    eeCert: certs.B.chain,
    eeKey: certs.B.key,
    taChain: certs.taLeaf.chain,
    taKey: certs.taLeaf.key,
    tlsCert: certs.A.chain,
    tlsKey: certs.A.key,
  },
});
for (const d of ["zones", "synth", "smtp"]) mkdirSync(join(out, d), { recursive: true });
for (const [zone, text] of Object.entries(u.zones))
  writeFileSync(join(out, "zones", zoneFileName(zone)), text);
writeFileSync(
  join(out, "synth", "domains.txt"),
  u.domains
    .map((d) => {
      const e = SYNTH_EXPECTED[d.class];
      return `${d.domain} ${d.class} ${e.action} ${e.security ?? e.reason}\n`;
    })
    .join(""),
);
writeFileSync(
  join(out, "synth", "manifest.json"),
  JSON.stringify(
    {
      n,
      seed,
      hostsPerKind: hosts,
      namesPerKind: names,
      counts: u.counts,
      expected: SYNTH_EXPECTED,
      hosts: u.hosts,
    },
    null,
    2,
  ) + "\n",
);
writeFileSync(join(out, "smtp", "synth-servers.json"), JSON.stringify(u.smtpConfig, null, 2) + "\n");
console.log(
  `synth: ${n} domains (seed ${seed}, ${hosts} addresses and ${names} MX names per kind, ${u.smtpConfig.servers.length} SMTP servers) written to ${out} ` +
    `in ${Math.round(performance.now() - t0)} ms; ${JSON.stringify(u.counts)}`,
);
