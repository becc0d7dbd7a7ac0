/**
 * The WebPKI trust store MTA-STS is judged with, at the edge (libs/dane takes
 * it as an argument): the roots of a PEM file (tests: the testbed's CA;
 * `danesweep scan --mta-sts-ca FILE`, the aggregator's DANESWEEP_MTA_STS_CA),
 * or, without a file, Node's default CA certificates (its bundled Mozilla
 * roots, plus NODE_EXTRA_CA_CERTS and the system store when Node is told to
 * use them).
 *
 * `loadTrustStore(file?)` returns the store (named after the file, or
 * "node-default") or throws TrustStoreError (code "invalid-option", the
 * file and why in the message) when the file cannot be read or holds
 * something that is not a certificate.
 */
import { readFileSync } from "node:fs";
import { getCACertificates } from "node:tls";
import { type TrustStore, trustStore } from "@danesweep/dane";

export class TrustStoreError extends Error {
  readonly code = "invalid-option" as const;
  readonly canRetry = false;
}

export const DEFAULT_TRUST_NAME = "node-default";

export function loadTrustStore(file?: string): TrustStore {
  let pems: string[];
  let name: string;
  if (file === undefined || file === "") {
    pems = getCACertificates("default");
    name = DEFAULT_TRUST_NAME;
  } else {
    try {
      pems = [readFileSync(file, "utf8")];
    } catch (e) {
      throw new TrustStoreError(
        `MTA-STS trust store ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`,
      );
    }
    name = `file:${file}`;
  }
  const r = trustStore(name, pems);
  if (!r.ok) throw new TrustStoreError(`MTA-STS trust store ${file ?? DEFAULT_TRUST_NAME}: ${r.detail}`);
  return r.store;
}
