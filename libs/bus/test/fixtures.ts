/**
 * Small hand-built facts and verdicts written from the libs/dane type
 * documentation (facts.ts, verdict-types.ts): a DANE domain with one MX host,
 * the probe of that host, and the verdict. Typed as the dane types, so tsc
 * checks them against the contract independently of the schemas.
 */
import type { DomainFacts, ProbeFacts, VerdictRecord } from "@danesweep/dane";

const provenance = {
  upstream: "127.0.0.1:53",
  transport: "udp" as const,
  rcode: "NOERROR",
  flags: { aa: false, tc: false, rd: true, ra: true, ad: true, cd: false },
  attempts: 1,
  elapsedMs: 2.5,
  cached: false,
};

export function domainFacts(domain = "example.org"): DomainFacts {
  const mxHost = `mx.${domain}`;
  return {
    schema: 1,
    domain,
    port: 25,
    resolverValidates: true,
    mx: {
      qname: domain,
      qtype: "MX",
      outcome: "answer",
      security: "secure",
      chain: [],
      owner: domain,
      records: [{ preference: 10, exchange: mxHost }],
      ttl: 3600,
      provenance,
    },
    hosts: [
      {
        name: mxHost,
        preference: 10,
        implicit: false,
        a: {
          qname: mxHost,
          qtype: "A",
          outcome: "answer",
          security: "secure",
          chain: [],
          owner: mxHost,
          records: ["127.0.0.10"],
          ttl: 300,
        },
        aaaa: {
          qname: mxHost,
          qtype: "AAAA",
          outcome: "nodata",
          security: "secure",
          chain: [],
          owner: mxHost,
          records: [],
        },
        tlsa: [
          {
            qname: `_25._tcp.${mxHost}`,
            qtype: "TLSA",
            outcome: "answer",
            security: "secure",
            chain: [],
            owner: `_25._tcp.${mxHost}`,
            records: [{ usage: 3, selector: 1, matchingType: 1, data: "ab".repeat(32) }],
          },
        ],
      },
    ],
    limits: [],
    collectedAt: "2024-05-01T12:00:00.000Z",
  };
}

export function probeFacts(ip = "127.0.0.10", sni = "mx.example.org"): ProbeFacts {
  return {
    schema: 1,
    ip,
    port: 25,
    sni,
    status: "tls-ok",
    banner: { code: 220, lines: [`${sni} ESMTP`] },
    ehlo: {
      code: 250,
      lines: [sni, "STARTTLS", "8BITMIME"],
      verb: "EHLO",
      keywords: ["STARTTLS", "8BITMIME"],
    },
    starttls: { offered: true, reply: { code: 220, lines: ["ready"] }, accepted: true },
    tls: { version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", chain: ["MIIBAA==", "MIIBAQ=="] },
    quit: true,
    timings: { connectMs: 1, bannerMs: 2, ehloMs: 1, starttlsMs: 1, tlsMs: 5, totalMs: 12 },
    startedAt: "2024-05-01T12:00:01.000Z",
  };
}

export function verdictRecord(domain = "example.org"): VerdictRecord {
  const mxHost = `mx.${domain}`;
  return {
    schema: 2,
    domain,
    engine: { version: "2.0.0", profile: "postfix" },
    problems: [],
    mx: { outcome: "answer", security: "secure" },
    probeMode: "all",
    tld: "org",
    provider: domain,
    verdict: {
      action: "deliver",
      security: "dane-verified",
      host: mxHost,
      address: "127.0.0.10",
      reason: "dane-authenticated",
    },
    dane: "valid",
    mxSecure: true,
    hosts: [
      {
        host: mxHost,
        preference: 10,
        implicit: false,
        addressSecurity: "secure",
        tlsaBase: mxHost,
        tlsaBaseWhy: "host-name-secure",
        requirement: "dane",
        tlsa: [{ record: { usage: 3, selector: 1, matchingType: 1, data: "ab".repeat(32) }, usable: true }],
        addresses: [
          {
            address: "127.0.0.10",
            family: 4,
            security: "secure",
            probe: { ip: "127.0.0.10", port: 25, sni: mxHost, status: "tls-ok" },
            result: "dane-verified",
            auth: {
              matched: {
                record: { usage: 3, selector: 1, matchingType: 1, data: "ab".repeat(32) },
                depth: 0,
              },
            },
          },
        ],
      },
    ],
    explanation: `${mxHost}: 3 1 1 matched the leaf`,
    judgedAt: "2024-05-01T12:00:02.000Z",
  };
}
