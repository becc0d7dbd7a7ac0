/**
 * What verdicts are grouped by: the TLD of a domain and the provider (the
 * registrable domain) of an MX host, computed when a verdict is written.
 */

/** The last label of a normalised domain name. */
export function tldOf(domain: string): string {
  const i = domain.lastIndexOf(".");
  return i < 0 ? domain : domain.slice(i + 1);
}

const SECOND_LEVEL = /(^|\.)(co|com|net|org|ac|gov|edu|ne|or|go|gob|gv|nic|mil|ltd|plc)\.[a-z]{2}$/;

/** The registrable domain of a host name (an approximation of the Public Suffix List). */
export function providerOf(host: string): string {
  const labels = host.split(".");
  const n = SECOND_LEVEL.test(host) ? 3 : 2;
  return labels.length <= n ? host : labels.slice(-n).join(".");
}
