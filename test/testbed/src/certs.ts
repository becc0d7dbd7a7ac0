/**
 * Certificates of the testbed and the TLSA association data computed from them.
 *
 * ensureCertificates(dir): creates, once, under `dir` (the state dir's certs/):
 *   - a.pem/a.key: self-signed EC P-256 leaf (the write-up's 69.167.152.113 server; matches no seed TLSA);
 *   - b.pem/b.key: self-signed RSA-2048 leaf (the write-up's 38.64.93.21 server; the "30c9c9..." records);
 *   - ca.pem/ca.key: a CA, and ta-leaf.pem/ta-leaf.key a leaf it issued, with ta-chain.pem
 *     (leaf + CA), for DANE-TA hosts of the synthetic universe;
 *   - soon.pem/soon.key: a self-signed EC leaf valid for 12 days from when it was made
 *     (the rollover-risk cases; once it has expired the risk it stands for stays the same);
 *   - int.pem/int.key: an intermediate CA under ca.pem, and int-leaf.pem/int-leaf.key a
 *     leaf it issued for taint.testing, with int-chain.pem (leaf + intermediate + CA).
 *   Existing files are kept (TLSA data in the zones depends on them). Shells out to the
 *   openssl CLI; throws the child-process error if openssl is missing or fails (a set-up
 *   failure of the testbed, not a library error).
 * ensureIssuedLeaf(dir, name, sans): a leaf the CA issues for `sans` (the MTA-STS
 *   policy and MX hosts), with its chain file; made again when the names change.
 * tlsaData(pem, selector, matching): pure; the association data (lowercase hex) of a
 *   certificate for selector 0 (full certificate) / 1 (SubjectPublicKeyInfo) and matching
 *   type 0 (full) / 1 (SHA-256) / 2 (SHA-512). Throws on a PEM that does not parse.
 * wrongDigest(hex): pure; the same length with the first byte changed (the write-up's
 *   "00c9c9..." against "30c9c9...").
 */
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface CertFiles {
  cert: string;
  key: string;
  /** Leaf followed by its issuers, as a server should send it. */
  chain: string;
}

export interface TestbedCerts {
  A: CertFiles;
  B: CertFiles;
  ca: { cert: string; key: string };
  taLeaf: CertFiles;
  /** EC leaf valid for 12 days from when it was made (rollover risk: leaf-expiring). */
  soon: CertFiles;
  /** An intermediate CA under `ca`, and a leaf it issued for taint.testing (chain leaf + intermediate + root). */
  int: { cert: string; key: string };
  intLeaf: CertFiles;
}

export function certPaths(dir: string): TestbedCerts {
  const leaf = (n: string, chain?: string): CertFiles => ({
    cert: join(dir, `${n}.pem`),
    key: join(dir, `${n}.key`),
    chain: join(dir, chain ?? `${n}.pem`),
  });
  return {
    A: leaf("a"),
    B: leaf("b"),
    ca: { cert: join(dir, "ca.pem"), key: join(dir, "ca.key") },
    taLeaf: leaf("ta-leaf", "ta-chain.pem"),
    soon: leaf("soon"),
    int: { cert: join(dir, "int.pem"), key: join(dir, "int.key") },
    intLeaf: leaf("int-leaf", "int-chain.pem"),
  };
}

const DAYS = "3650";

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function selfSigned(file: CertFiles, keyArgs: string[], cn: string, sans: string[], days = DAYS): void {
  if (existsSync(file.cert) && existsSync(file.key)) return;
  openssl([
    "req",
    "-x509",
    "-newkey",
    ...keyArgs,
    "-nodes",
    "-keyout",
    file.key,
    "-out",
    file.cert,
    "-days",
    days,
    "-subj",
    `/CN=${cn}`,
    "-addext",
    `subjectAltName=${sans.map((s) => `DNS:${s}`).join(",")}`,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
  ]);
}

const EC = ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
const RSA = ["rsa:2048"];

export function ensureCertificates(dir: string): TestbedCerts {
  mkdirSync(dir, { recursive: true });
  const p = certPaths(dir);
  selfSigned(p.A, EC, "mismatch.testbed.danesweep", ["test1a.testing", "test2a.testing"]);
  selfSigned(p.B, RSA, "match.testbed.danesweep", ["test1b.testing", "test3b.testing"]);
  if (!existsSync(p.ca.cert) || !existsSync(p.ca.key)) {
    openssl([
      "req",
      "-x509",
      "-newkey",
      ...EC,
      "-nodes",
      "-keyout",
      p.ca.key,
      "-out",
      p.ca.cert,
      "-days",
      DAYS,
      "-subj",
      "/CN=danesweep testbed CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
  }
  if (!existsSync(p.taLeaf.cert) || !existsSync(p.taLeaf.key) || !existsSync(p.taLeaf.chain)) {
    issueLeaf(dir, "ta-leaf", p.taLeaf, "ta-leaf.synth", ["*.synth", "*.mx.synth"]);
  }
  selfSigned(p.soon, EC, "soon.testbed.danesweep", ["soon.testing"], "12");
  if (!existsSync(p.int.cert) || !existsSync(p.int.key)) {
    issue(
      dir,
      "int",
      p.int,
      "danesweep testbed intermediate",
      "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
      p.ca,
    );
  }
  if (!existsSync(p.intLeaf.cert) || !existsSync(p.intLeaf.key) || !existsSync(p.intLeaf.chain)) {
    issue(dir, "int-leaf", p.intLeaf, "taint.testing", leafExtensions(["taint.testing"]), p.int);
    writeFileSync(
      p.intLeaf.chain,
      readFileSync(p.intLeaf.cert, "utf8") +
        readFileSync(p.int.cert, "utf8") +
        readFileSync(p.ca.cert, "utf8"),
    );
  }
  return p;
}

/** A server certificate's extensions: not a CA, serverAuth, the names `sans`. */
function leafExtensions(sans: readonly string[]): string {
  return (
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n" +
    `subjectAltName=${sans.map((n) => `DNS:${n}`).join(",")}\n`
  );
}

/**
 * A certificate `issuer` signs: a new EC P-256 key in `out.key`, subject CN
 * `cn`, the extensions `ext` (openssl extension-file lines), the certificate
 * in `out.cert`. The one place the testbed issues from a CA.
 */
function issue(
  dir: string,
  name: string,
  out: { cert: string; key: string },
  cn: string,
  ext: string,
  issuer: { cert: string; key: string },
): void {
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  openssl(["req", "-new", "-newkey", ...EC, "-nodes", "-keyout", out.key, "-out", csr, "-subj", `/CN=${cn}`]);
  writeFileSync(extFile, ext);
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    issuer.cert,
    "-CAkey",
    issuer.key,
    "-CAcreateserial",
    "-days",
    DAYS,
    "-extfile",
    extFile,
    "-out",
    out.cert,
  ]);
}

/** A leaf the testbed CA issues (EC P-256, serverAuth) for `sans`, with its chain file (leaf + CA). */
function issueLeaf(dir: string, name: string, f: CertFiles, cn: string, sans: readonly string[]): void {
  const ca = certPaths(dir).ca;
  issue(dir, name, f, cn, leafExtensions(sans), ca);
  writeFileSync(f.chain, readFileSync(f.cert, "utf8") + readFileSync(ca.cert, "utf8"));
}

/**
 * Leaf certificates the testbed CA issues for the MTA-STS part (mta-sts.ts):
 * `sts-policy` for the policy hosts, `sts-mx` for the MX hosts of
 * STS_MX_SERVER; each with a chain file (leaf + CA) as a server sends it.
 * Made once, and again when the names change (kept in <name>.names).
 * Needs ensureCertificates' CA. Shells out to openssl like the rest.
 */
export function ensureIssuedLeaf(dir: string, name: string, sans: readonly string[]): CertFiles {
  const f: CertFiles = {
    cert: join(dir, `${name}.pem`),
    key: join(dir, `${name}.key`),
    chain: join(dir, `${name}-chain.pem`),
  };
  const namesFile = join(dir, `${name}.names`);
  const wanted = `${sans.join("\n")}\n`;
  const same = existsSync(namesFile) && readFileSync(namesFile, "utf8") === wanted;
  if (same && existsSync(f.cert) && existsSync(f.key) && existsSync(f.chain)) return f;
  issueLeaf(dir, name, f, sans[0] ?? name, sans);
  writeFileSync(namesFile, wanted);
  return f;
}

export type Selector = 0 | 1;
export type Matching = 0 | 1 | 2;

export function tlsaData(pem: string, selector: Selector, matching: Matching): string {
  const cert = new X509Certificate(pem);
  const der = selector === 0 ? cert.raw : cert.publicKey.export({ type: "spki", format: "der" });
  if (matching === 0) return Buffer.from(der).toString("hex");
  return createHash(matching === 1 ? "sha256" : "sha512")
    .update(der)
    .digest("hex");
}

export function wrongDigest(hex: string): string {
  const first = hex.slice(0, 2) === "00" ? "ff" : "00";
  return first + hex.slice(2);
}
