/**
 * Where the running testbed keeps its files, and what it serves. Pure: paths are
 * computed from the state dir, nothing is read or checked here.
 *
 * testbedState(env): the state dir is env.DANESWEEP_TESTBED_DIR or
 *   /var/tmp/danesweep-testbed; returns every address and path others need.
 * zoneFileName(zone): the zone file name under <state>/zones ("root.zone" for ".").
 */
import { join } from "node:path";
import { BLACKHOLE_SERVER, CHILD_SERVER, RESOLVER, ROOT_SERVER, SMTP_HOSTS, ZONES } from "./addresses.ts";
import { certPaths, type TestbedCerts } from "./certs.ts";

export const DEFAULT_STATE_DIR = "/var/tmp/danesweep-testbed";

export interface TestbedState {
  dir: string;
  /** The validating resolver to query (AD bit trusted). */
  resolver: { address: string; port: number };
  rootServer: { address: string; port: number };
  childServer: { address: string; port: number };
  blackhole: { address: string; port: number };
  zones: typeof ZONES;
  /** The fake root's DS, as Unbound's trust anchor file (written by `testbed up`). */
  trustAnchorFile: string;
  certs: TestbedCerts;
  smtp: {
    hosts: typeof SMTP_HOSTS;
    /** Config of the seed SMTP servers (test/smtp/bin/smtp-servers.ts --config). */
    seedConfig: string;
    /** Config of the synthetic universe's SMTP servers (written by bin/synth). */
    synthConfig: string;
    /** One JSON line per connection to NEVER_CONTACT_ADDRESS:25 (must stay empty). */
    neverContactRecord: string;
  };
  mtaSts: {
    /** The HTTPS policy server's config (src/cli/policy-server.ts) and its log. */
    policyConfig: string;
    policyLog: string;
    /** The config of the SMTP server with the WebPKI MX certificate. */
    smtpConfig: string;
    /** The testbed CA, the root an MTA-STS sender trusts here (danesweep scan --mta-sts-ca). */
    caFile: string;
  };
  synth: {
    /** One line per synthetic domain: "<domain> <class>" (written by bin/synth). */
    domainsFile: string;
    manifestFile: string;
  };
  logs: { knotRoot: string; knotChild: string; unbound: string; blackhole: string; smtp: string };
}

export function zoneFileName(zone: string): string {
  return zone === "." ? "root.zone" : `${zone.replace(/\.$/, "")}.zone`;
}

export function testbedState(env: Record<string, string | undefined> = process.env): TestbedState {
  const dir = env.DANESWEEP_TESTBED_DIR || DEFAULT_STATE_DIR;
  return {
    dir,
    resolver: { ...RESOLVER },
    rootServer: { address: ROOT_SERVER.address, port: ROOT_SERVER.port },
    childServer: { ...CHILD_SERVER },
    blackhole: { ...BLACKHOLE_SERVER },
    zones: ZONES,
    trustAnchorFile: join(dir, "unbound", "root.key"),
    certs: certPaths(join(dir, "certs")),
    smtp: {
      hosts: SMTP_HOSTS,
      seedConfig: join(dir, "smtp", "seed-servers.json"),
      synthConfig: join(dir, "smtp", "synth-servers.json"),
      neverContactRecord: join(dir, "smtp", "never-contact.jsonl"),
    },
    mtaSts: {
      policyConfig: join(dir, "mta-sts", "policy-server.json"),
      policyLog: join(dir, "mta-sts", "policy.log"),
      smtpConfig: join(dir, "mta-sts", "smtp-servers.json"),
      caFile: join(dir, "certs", "ca.pem"),
    },
    synth: {
      domainsFile: join(dir, "synth", "domains.txt"),
      manifestFile: join(dir, "synth", "manifest.json"),
    },
    logs: {
      knotRoot: join(dir, "knot-root", "knot.log"),
      knotChild: join(dir, "knot-child", "knot.log"),
      unbound: join(dir, "unbound", "unbound.log"),
      blackhole: join(dir, "blackhole.log"),
      smtp: join(dir, "smtp", "smtp.log"),
    },
  };
}
