/**
 * Test certificates made with the openssl CLI (test code only).
 *
 * makeCertChain({ length, names, ... }) builds a chain of `length`
 * certificates (default 1): with length 1 a self-signed leaf, otherwise a root
 * CA, length - 2 intermediate CAs each signed by the one above, and a leaf
 * signed by the last CA. Keys are EC P-256. Returns the leaf key (PEM), each
 * certificate as PEM and DER, leaf first, and `cert`, the PEM chain leaf first
 * (root included unless includeRoot is false) as a server would send it.
 * Throws when openssl is missing or fails (tests should fail loudly then).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertChain {
  /** Leaf private key, PEM. */
  key: string;
  /** PEM chain as sent by a server, leaf first. */
  cert: string;
  /** Every certificate made, PEM, leaf first (root last). */
  pems: string[];
  /** Same, DER. */
  ders: Buffer[];
  /** Same, base64 DER (the form ProbeFacts use). */
  base64: string[];
}

export interface ChainOptions {
  length?: number;
  /** dNSName subjectAltNames of the leaf (default ["mx.test"]); the CN is the first. */
  names?: string[];
  includeRoot?: boolean;
  days?: number;
  /** Key type of the leaf: "ec" (P-256, default) or "rsa" (2048 bits); issuers stay EC. */
  leafKey?: "ec" | "rsa";
}

function pemToDer(pem: string): Buffer {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Buffer.from(b64, "base64");
}

export function makeCertChain(opts: ChainOptions = {}): CertChain {
  const length = Math.max(1, opts.length ?? 1);
  const names = opts.names && opts.names.length > 0 ? opts.names : ["mx.test"];
  const days = String(opts.days ?? 30);
  const dir = mkdtempSync(join(tmpdir(), "ds-certs-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const run = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  try {
    const caPems: string[] = [];
    for (let i = 0; i < length - 1; i++) {
      const signer =
        i === 0 ? [] : ["-CA", join(dir, `ca${i - 1}.pem`), "-CAkey", join(dir, `ca${i - 1}.key`)];
      run([
        "req",
        "-x509",
        ...ec,
        "-keyout",
        join(dir, `ca${i}.key`),
        "-out",
        join(dir, `ca${i}.pem`),
        "-days",
        days,
        "-subj",
        `/CN=danesweep test CA ${i}`,
        "-addext",
        "basicConstraints=critical,CA:true",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        ...signer,
      ]);
      caPems.push(readFileSync(join(dir, `ca${i}.pem`), "utf8"));
    }
    const signer =
      length === 1
        ? []
        : ["-CA", join(dir, `ca${length - 2}.pem`), "-CAkey", join(dir, `ca${length - 2}.key`)];
    run([
      "req",
      "-x509",
      ...(opts.leafKey === "rsa" ? ["-newkey", "rsa:2048", "-nodes"] : ec),
      "-keyout",
      join(dir, "leaf.key"),
      "-out",
      join(dir, "leaf.pem"),
      "-days",
      days,
      "-subj",
      `/CN=${names[0]}`,
      "-addext",
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`,
      "-addext",
      "basicConstraints=critical,CA:false",
      ...signer,
    ]);
    const leaf = readFileSync(join(dir, "leaf.pem"), "utf8");
    const key = readFileSync(join(dir, "leaf.key"), "utf8");
    const pems = [leaf, ...caPems.reverse()];
    const sent = opts.includeRoot === false && pems.length > 1 ? pems.slice(0, -1) : pems;
    const ders = pems.map(pemToDer);
    return { key, cert: sent.join(""), pems, ders, base64: ders.map((d) => d.toString("base64")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
