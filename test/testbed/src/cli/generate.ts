/**
 * Writes the generated files of the seed universe into a state dir. Run by bin/testbed.
 *
 *   node generate.ts zones STATE_DIR       certificates (once), child zone files (the seed, the
 *                                          risk cases of src/risk.ts and the change-event cases of
 *                                          src/changes.ts), SMTP configs,
 *                                          consisttesting.'s second variant in zones-ns2/, and
 *                                          the MTA-STS policy server's and SMTP server's configs (mta-sts/)
 *   node generate.ts root STATE_DIR DSFILE root zone from the DS records in DSFILE
 *
 * A file is rewritten only when its content changes; prints the changed files
 * (one per line) so the caller knows what to reload. Exit 2 on bad usage; an
 * openssl or file-system failure ends the process with its error (set-up failure).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NEVER_CONTACT_ADDRESS, SMTP_HOSTS, SMTP_PORT } from "../addresses.ts";
import { type CertFiles, ensureCertificates, ensureIssuedLeaf } from "../certs.ts";
import { changeRecords } from "../changes.ts";
import { mtaStsCertNames, policyServerConfig, STS_MX_SERVER } from "../mta-sts.ts";
import { CONSIST_ZONE, consistDelegation, consistZones, RISK_HOSTS, riskRecords } from "../risk.ts";
import { rootZone, seedZones } from "../seed.ts";
import { zoneFileName } from "../state.ts";

function writeIfChanged(file: string, text: string): void {
  if (existsSync(file) && readFileSync(file, "utf8") === text) return;
  writeFileSync(file, text);
  console.log(file);
}

const [cmd, dir, dsFile] = process.argv.slice(2);
if (!dir || (cmd !== "zones" && cmd !== "root") || (cmd === "root" && !dsFile)) {
  console.error("usage: generate.ts zones STATE_DIR | root STATE_DIR DSFILE");
  process.exit(2);
}
const zonesDir = join(dir, "zones");
mkdirSync(zonesDir, { recursive: true });

if (cmd === "zones") {
  let certs: ReturnType<typeof ensureCertificates>;
  try {
    certs = ensureCertificates(join(dir, "certs"));
  } catch (e) {
    const err = e as { message?: string; stderr?: Buffer };
    console.error(`generate: certificate generation failed: ${err.stderr?.toString() || err.message}`);
    process.exit(1);
  }
  const stsDir = join(dir, "mta-sts");
  mkdirSync(stsDir, { recursive: true });
  let sts: { policy: CertFiles; mx: CertFiles };
  try {
    const names = mtaStsCertNames();
    sts = {
      policy: ensureIssuedLeaf(join(dir, "certs"), "sts-policy", names.policyHosts),
      mx: ensureIssuedLeaf(join(dir, "certs"), "sts-mx", names.mxHosts),
    };
  } catch (e) {
    const err = e as { message?: string; stderr?: Buffer };
    console.error(
      `generate: MTA-STS certificate generation failed: ${err.stderr?.toString() || err.message}`,
    );
    process.exit(1);
  }
  const zones = seedZones(readFileSync(certs.B.cert, "utf8"), { mxPem: readFileSync(sts.mx.cert, "utf8") });
  const pems = {
    A: readFileSync(certs.A.cert, "utf8"),
    B: readFileSync(certs.B.cert, "utf8"),
    soon: readFileSync(certs.soon.cert, "utf8"),
    int: readFileSync(certs.int.cert, "utf8"),
  };
  // The risk cases of issue 14 (src/risk.ts) live in testing. and in consisttesting.;
  // so do the change-event cases (src/changes.ts), whose addresses have no server here.
  zones["testing."] = `${zones["testing."]}${[...riskRecords(pems), ...changeRecords(pems.B)].join("\n")}\n`;
  const consist = consistZones(pems);
  zones[CONSIST_ZONE] = consist.ns1;
  const ns2Dir = join(dir, "zones-ns2");
  mkdirSync(ns2Dir, { recursive: true });
  writeIfChanged(join(ns2Dir, zoneFileName(CONSIST_ZONE)), consist.ns2);
  for (const [zone, text] of Object.entries(zones)) {
    // The synthetic zones belong to bin/synth once it has written them.
    const file = join(zonesDir, zoneFileName(zone));
    if ((zone === "synth." || zone === "synthu.") && existsSync(file)) continue;
    writeIfChanged(file, text);
  }
  const smtpDir = join(dir, "smtp");
  mkdirSync(smtpDir, { recursive: true });
  const servers: object[] = Object.values(SMTP_HOSTS).map((h) => {
    const c = certs[h.cert];
    return { host: h.address, port: SMTP_PORT, mode: h.mode, certFile: c.chain, keyFile: c.key };
  });
  // A trap on the address that must never be contacted: every connection is recorded.
  servers.push({
    host: NEVER_CONTACT_ADDRESS,
    port: SMTP_PORT,
    mode: "plain",
    recordFile: join(smtpDir, "never-contact.jsonl"),
  });
  writeIfChanged(join(smtpDir, "seed-servers.json"), JSON.stringify({ servers }, null, 2) + "\n");
  // The MTA-STS part: the HTTPS policy server and the SMTP server with the WebPKI MX certificate.
  writeIfChanged(
    join(stsDir, "policy-server.json"),
    JSON.stringify(policyServerConfig({ certFile: sts.policy.chain, keyFile: sts.policy.key }), null, 2) +
      "\n",
  );
  const stsSmtp = {
    servers: [
      {
        host: STS_MX_SERVER.address,
        port: STS_MX_SERVER.port,
        mode: "starttls",
        certFile: sts.mx.chain,
        keyFile: sts.mx.key,
      },
    ],
  };
  writeIfChanged(join(stsDir, "smtp-servers.json"), JSON.stringify(stsSmtp, null, 2) + "\n");
  // The risk cases' servers run in a process of their own: adding them never restarts the seed servers.
  const risk = [
    {
      host: RISK_HOSTS.dual,
      port: SMTP_PORT,
      mode: "starttls",
      certFile: [certs.A.chain, certs.B.chain],
      keyFile: [certs.A.key, certs.B.key],
    },
    {
      host: RISK_HOSTS.soon,
      port: SMTP_PORT,
      mode: "starttls",
      certFile: certs.soon.chain,
      keyFile: certs.soon.key,
    },
    {
      host: RISK_HOSTS.taint,
      port: SMTP_PORT,
      mode: "starttls",
      certFile: certs.intLeaf.chain,
      keyFile: certs.intLeaf.key,
    },
  ];
  writeIfChanged(join(smtpDir, "risk-servers.json"), JSON.stringify({ servers: risk }, null, 2) + "\n");
} else {
  const ds = readFileSync(dsFile!, "utf8").split("\n");
  writeIfChanged(join(zonesDir, zoneFileName(".")), `${rootZone(ds)}${consistDelegation().join("\n")}\n`);
}
