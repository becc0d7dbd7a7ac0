/**
 * The MTA-STS part of the test universe (RFC 8461, RFC 8460): five domains in
 * the signed zone `testing.` with `_mta-sts` (and some `_smtp._tls`) TXT
 * records, an HTTPS policy server on 127.84.61.1:443 serving each domain's
 * policy by Host (certificate from the testbed CA), and an SMTP STARTTLS
 * server on 127.84.61.25:25 whose certificate the testbed CA issued for the
 * MX names (valid under WebPKI for a client that trusts the testbed CA).
 * Pure: names, records, configs and the expected judgements.
 *
 *   domain                 policy (mode, mx)                 MX hosts                               expected MTA-STS judgement
 *   sts-enforce.testing    enforce, mx.sts-enforce.testing   mx (WebPKI cert, DANE-EE 3 1 1)        valid; deliver webpki-verified; no contradiction; TLS-RPT valid
 *   sts-uncovered.testing  enforce, mx.sts-uncovered.testing mx, mx2 (both WebPKI certs, no TLSA)    deliver via mx; mx-not-covered
 *   sts-badcert.testing    enforce, mx.sts-badcert.testing   mx (cert B: self-signed, DANE-EE)      defer certificate-invalid; enforce-certificate-invalid, dane-delivers-mta-sts-defers
 *   sts-testing.testing    testing, mx.sts-testing.testing   mx (WebPKI cert, no TLSA), no TLS-RPT  deliver; testing-without-tls-rpt
 *   sts-nopolicy.testing   (the policy host answers 404)     mx (WebPKI cert, no TLSA)              http-status; policy-unavailable
 * The expected judgements follow RFC 8461 §3-5 and the contradictions' definitions
 * (libs/dane README), not the code.
 */
import type { MtaStsContradiction, MtaStsPolicyResult } from "@danesweep/dane";
import { SMTP_HOSTS, ZONES } from "./addresses.ts";

/** The HTTPS policy server (one certificate for every policy host). */
export const STS_POLICY_SERVER = { address: "127.84.61.1", port: 443 } as const;
/** The SMTP server whose certificate the testbed CA issued for the MX names. */
export const STS_MX_SERVER = { address: "127.84.61.25", port: 25 } as const;
/** The `id` of every STS record. */
export const STS_ID = "20261201";

export interface StsCase {
  domain: string;
  /** The policy served, or the HTTP status served instead of one. */
  policy: { mode: "enforce" | "testing"; mx: string[] } | { status: number };
  /** MX hosts: name, preference, address, and the TLSA (3 1 1 of the WebPKI leaf, or the seed's 3 0 1 of cert B). */
  mx: { name: string; preference: number; address: string; tlsa?: "webpki" | "cert-b" }[];
  tlsRpt?: string;
  expected: {
    policy: MtaStsPolicyResult;
    outcome?: { action: "deliver" | "defer"; host?: string; reason: string };
    contradictions: MtaStsContradiction[];
    tlsRpt: "valid" | "none";
    /** The DANE verdict's action and state. */
    dane: { action: "deliver" | "defer"; state: string };
  };
}

const T = "testing";
const mx = (d: string, name = "mx") => `${name}.${d}`;

export function mtaStsCases(): StsCase[] {
  const enforce = `sts-enforce.${T}`;
  const uncovered = `sts-uncovered.${T}`;
  const badcert = `sts-badcert.${T}`;
  const testing = `sts-testing.${T}`;
  const nopolicy = `sts-nopolicy.${T}`;
  const W = STS_MX_SERVER.address;
  return [
    {
      domain: enforce,
      policy: { mode: "enforce", mx: [mx(enforce)] },
      mx: [{ name: mx(enforce), preference: 10, address: W, tlsa: "webpki" }],
      tlsRpt: `v=TLSRPTv1; rua=mailto:tlsrpt@${enforce}`,
      expected: {
        policy: "valid",
        outcome: { action: "deliver", host: mx(enforce), reason: "webpki-verified" },
        contradictions: [],
        tlsRpt: "valid",
        dane: { action: "deliver", state: "valid" },
      },
    },
    {
      domain: uncovered,
      policy: { mode: "enforce", mx: [mx(uncovered)] },
      mx: [
        { name: mx(uncovered), preference: 10, address: W },
        { name: mx(uncovered, "mx2"), preference: 20, address: W },
      ],
      expected: {
        policy: "valid",
        outcome: { action: "deliver", host: mx(uncovered), reason: "webpki-verified" },
        contradictions: ["mx-not-covered"],
        tlsRpt: "none",
        dane: { action: "deliver", state: "none" },
      },
    },
    {
      domain: badcert,
      policy: { mode: "enforce", mx: [mx(badcert)] },
      mx: [{ name: mx(badcert), preference: 10, address: SMTP_HOSTS.match.address, tlsa: "cert-b" }],
      expected: {
        policy: "valid",
        outcome: { action: "defer", reason: "certificate-invalid" },
        contradictions: ["enforce-certificate-invalid", "dane-delivers-mta-sts-defers"],
        tlsRpt: "none",
        dane: { action: "deliver", state: "valid" },
      },
    },
    {
      domain: testing,
      policy: { mode: "testing", mx: [mx(testing)] },
      mx: [{ name: mx(testing), preference: 10, address: W }],
      expected: {
        policy: "valid",
        outcome: { action: "deliver", host: mx(testing), reason: "webpki-verified" },
        contradictions: ["testing-without-tls-rpt"],
        tlsRpt: "none",
        dane: { action: "deliver", state: "none" },
      },
    },
    {
      domain: nopolicy,
      policy: { status: 404 },
      mx: [{ name: mx(nopolicy), preference: 10, address: W }],
      expected: {
        policy: "http-status",
        contradictions: ["policy-unavailable"],
        tlsRpt: "none",
        dane: { action: "deliver", state: "none" },
      },
    },
  ];
}

/** The names the testbed CA certifies: the policy hosts, and the MX hosts served by STS_MX_SERVER. */
export function mtaStsCertNames(): { policyHosts: string[]; mxHosts: string[] } {
  const cases = mtaStsCases();
  return {
    policyHosts: cases.map((c) => `mta-sts.${c.domain}`),
    mxHosts: cases.flatMap((c) => c.mx.filter((m) => m.address === STS_MX_SERVER.address).map((m) => m.name)),
  };
}

/** The policy text of a case (RFC 8461 §3.2), CRLF-separated as the RFC writes it. */
export function policyText(p: { mode: string; mx: string[] }): string {
  return ["version: STSv1", `mode: ${p.mode}`, ...p.mx.map((m) => `mx: ${m}`), "max_age: 86400", ""].join(
    "\r\n",
  );
}

/**
 * The records of the MTA-STS domains in `testing.`, as [owner relative to the
 * zone, type, data]; TLSA data of the WebPKI MX leaf and of certificate B given.
 */
export function mtaStsRecords(tlsa: { webpki: string; certB: string }): [string, string, string][] {
  // "sts-enforce.testing." -> "sts-enforce": owners and targets relative to the zone origin.
  const rel = (name: string) => name.slice(0, -(ZONES.signed.length + 1));
  const out: [string, string, string][] = [];
  for (const c of mtaStsCases()) {
    const d = rel(`${c.domain}.`);
    for (const m of c.mx) {
      out.push([d, "MX", `${m.preference} ${rel(`${m.name}.`)}`]);
      out.push([rel(`${m.name}.`), "A", m.address]);
      if (m.tlsa === "webpki") out.push([`_25._tcp.${rel(`${m.name}.`)}`, "TLSA", `3 1 1 ${tlsa.webpki}`]);
      if (m.tlsa === "cert-b") out.push([`_25._tcp.${rel(`${m.name}.`)}`, "TLSA", `3 0 1 ${tlsa.certB}`]);
    }
    out.push([`_mta-sts.${d}`, "TXT", `"v=STSv1; id=${STS_ID};"`]);
    out.push([`mta-sts.${d}`, "A", STS_POLICY_SERVER.address]);
    if (c.tlsRpt) out.push([`_smtp._tls.${d}`, "TXT", `"${c.tlsRpt}"`]);
  }
  return out;
}

export interface PolicySite {
  status: number;
  contentType?: string;
  body: string;
}

/** The policy server's config: per policy host, what it answers to GET /.well-known/mta-sts.txt. */
export function policyServerConfig(files: { certFile: string; keyFile: string }) {
  const sites: Record<string, PolicySite> = {};
  for (const c of mtaStsCases()) {
    sites[`mta-sts.${c.domain}`] =
      "status" in c.policy
        ? {
            status: c.policy.status,
            contentType: "text/html",
            body: "<html><body>no policy here</body></html>",
          }
        : { status: 200, contentType: "text/plain; charset=utf-8", body: policyText(c.policy) };
  }
  return {
    servers: [{ host: STS_POLICY_SERVER.address, port: STS_POLICY_SERVER.port, ...files, sites }],
  };
}
