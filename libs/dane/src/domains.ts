/**
 * Where a name sits in the DNS as registries see it, from the full Public
 * Suffix List (tldts, ICANN section). Pure: the list ships with the package.
 *
 * Contract:
 * - `tldOf(domain)`: the public suffix under which the domain is registered
 *   ("com", "co.uk", "nl"); for a name under no listed suffix, its last label
 *   (the list's default rule); "" for an empty name or an IP address.
 * - `registrableDomain(host)`: the registrable domain (public suffix plus one
 *   label: "google.com" for "aspmx.l.google.com", "example.co.uk"); undefined
 *   when the name is itself a public suffix, is an IP address or is empty.
 *   For an MX host this is the provider.
 * Names are compared in lowercase without the trailing dot; neither throws.
 */
import { getDomain, getPublicSuffix } from "tldts";

const OPTIONS = { allowPrivateDomains: false, validateHostname: false } as const;

function clean(name: string): string {
  if (typeof name !== "string") return "";
  const lower = name.trim().toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

export function tldOf(domain: string): string {
  const name = clean(domain);
  if (name === "") return "";
  return getPublicSuffix(name, OPTIONS) ?? "";
}

export function registrableDomain(host: string): string | undefined {
  const name = clean(host);
  if (name === "") return undefined;
  return getDomain(name, OPTIONS) ?? undefined;
}
