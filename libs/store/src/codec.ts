/**
 * How facts, verdicts and probes are stored: content-addressed blobs, so a
 * domain whose facts did not change since its previous scan costs one small
 * row per scan, not a new copy.
 *
 * Each kind has a stored form (what is hashed and kept) and a volatile part
 * (kept per scan in the row that points at the blob, or not kept):
 * - DomainFacts: the stored form drops `collectedAt` (a column of the scan's
 *   row) and the consistency check's `checkedAt`; its lookups are in their
 *   judged form (libs/dane judgedLookup, also what the resolver stage sends
 *   on): a lookup keeps its provenance only when it failed, and
 *   then without its timing (`elapsedMs`) and cache flag; the provenance of
 *   successful lookups (which upstream answered how fast) is not kept. A
 *   lookup's `ttl` is kept only when the answer is secure: then it is the
 *   Original TTL of its RRSIG, as the zone publishes it; otherwise it is what
 *   a caching resolver had left of its copy, which differs from scan to scan
 *   with nothing changed in the zone (a tenth of the domains of a 100k
 *   universe stored new facts in a second scan for that alone), and no rule
 *   reads it. The same holds for the MTA-STS and TLS-RPT lookups. A TLSA
 *   lookup's `zone` (its RRSIG's signer) is not kept: it serves the
 *   consistency check in flight, whose facts record the zone. The consistency facts
 *   drop `checkedAt` (read back as the collection time: the servers were
 *   asked within the checker's cache time of it).
 * - ProbeFacts of an MTA-STS policy fetch (kind "mta-sts-policy") are stored
 *   like any probe: their `http` part (the policy text included) is in the blob.
 * - VerdictRecord: the stored form drops `judgedAt` (a row column),
 *   `explanation` (rendered when read, from the record and its facts) and
 *   `domain` (the row's key, given back when read). Without its name, a
 *   verdict is shared by every domain that the same MX hosts serve with the
 *   same outcome (a hosting provider's customers), so verdicts cost one blob
 *   per distinct outcome, not one per domain. Bodies written before this
 *   kept `domain`; they read the same.
 * - ProbeFacts: the stored form drops `startedAt`, `timings` and `io` (kept
 *   in the scan's probe row), and the timings of each alternate handshake
 *   (kept after the probe's own in the row's timings), and replaces every
 *   certificate chain (the probe's and its alternates') by the certificates'
 *   SHA-256 (lowercase hex; the DER is stored once per hash).
 *
 * A blob's key is the first 16 bytes of the SHA-256 of its stored form's
 * JSON text, written as a UUID. The body is that JSON, compressed: one codec
 * byte, then the payload.
 *   0x00  the JSON text, UTF-8, uncompressed (what SQL migrations write);
 *   0x01  raw DEFLATE of the JSON text with the preset dictionary DICT_V1.
 * Decoders accept every codec; encoders write 0x01. DICT_V1 must never change
 * (a new dictionary is a new codec byte): stored bodies depend on it.
 * Decoding a body that is not one of these raises StoreError "integrity".
 */
import { hash } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import {
  type AlternateHandshake,
  type DomainFacts,
  judgedFacts,
  type ProbeFacts,
  primaryMxHost,
  type TlsaConsistencyFacts,
  type VerdictRecord,
} from "@danesweep/dane";
import { StoreError } from "./errors.ts";

export const CODEC_PLAIN = 0x00;
export const CODEC_DEFLATE_V1 = 0x01;

/**
 * The preset dictionary of codec 0x01: the keys and common values of the
 * three stored forms, so that even a small blob compresses well. Built from
 * literals here, never from scanned data; frozen once released.
 */
export const DICT_V1: Buffer = Buffer.from(
  [
    '"policy-private-address","policy-opt-out","internal-error","deadline-exceeded","protocol-error","io-reset","io-timeout",',
    '"ehlo-failed","banner-rejected","connect-unreachable","connect-reset","connect-timeout","connect-refused","tls-timeout",',
    '"tls-handshake-failed","starttls-refused","starttls-not-offered","not-probed","policy-refused","incomplete-facts",',
    '"resolver-not-validating","no-address","null-mx","nxdomain","connection-failed","address-lookup-failed","mx-lookup-failed",',
    '"cname-lookup-failed","tlsa-lookup-failed","dane-check-failed","opportunistic-plaintext","tls-required-unauthenticated",',
    '"unusable-records","dns-error","no-mail","indeterminate","invalid","partial","valid","none","insecure","bogus",',
    '"first-link-insecure","address-insecure","original-name-chain-insecure","original-name-fallback","expanded-name",',
    '"host-name-secure","no-secure-tlsa","tlsa-lookup-error","cname-lookup-error","address-lookup-error",',
    '{"upstream":"127.0.0.1:53","transport":"udp","rcode":"SERVFAIL","flags":{"aa":false,"tc":false,"rd":true,"ra":true,"ad":false,"cd":false},"attempts":2,"cdRcode":"NOERROR"},',
    '"tls":{"version":"TLSv1.3","cipher":"TLS_AES_256_GCM_SHA384","group":"x25519","chain":["',
    '"TLSv1.2","ECDHE-RSA-AES256-GCM-SHA384","TLS_AES_128_GCM_SHA256","TLS_CHACHA20_POLY1305_SHA256","X25519MLKEM768","P-256",',
    '{"schema":1,"ip":"","port":25,"sni":"","status":"tls-ok","banner":{"code":220,"lines":[" ESMTP Postfix"]},',
    '"ehlo":{"code":250,"lines":["","PIPELINING","SIZE 52428800","ETRN","STARTTLS","ENHANCEDSTATUSCODES","8BITMIME","DSN","SMTPUTF8","CHUNKING"],',
    '"verb":"EHLO","keywords":["PIPELINING","SIZE","ETRN","STARTTLS","ENHANCEDSTATUSCODES","8BITMIME","DSN","SMTPUTF8","CHUNKING"]},',
    '"starttls":{"offered":true,"reply":{"code":220,"lines":["2.0.0 Ready to start TLS"]},"accepted":true},"quit":true}',
    '{"schema":1,"domain":"","verdict":{"action":"defer","reason":"","host":"","address":""},"dane":"","mxSecure":false,"hosts":[',
    '{"address":"","family":6,"security":"secure","probe":{"ip":"","port":25,"sni":"","status":"tls-ok"},"result":"failed","reason":"',
    '"assessed":{"result":"not-probed","reason":"not-probed"},',
    '"auth":{"matched":{"record":{"usage":2,"selector":0,"matchingType":1,"data":""},"depth":1},"failure":"","detail":""}}',
    '"tlsa":[{"record":{"usage":3,"selector":1,"matchingType":2,"data":""},"usable":true,"why":""}],"wouldAuthenticate":true,',
    '{"host":"","preference":20,"implicit":false,"addressSecurity":"secure","tlsaBase":"","tlsaBaseWhy":"","requirement":"opportunistic","addresses":[',
    '"result":"not-tried","reason":"","result":"dane-verified","reason":"dane-authenticated","result":"encrypted","reason":"opportunistic-tls",',
    '"security":"dane-verified","security":"encrypted","security":"plaintext","action":"deliver","action":"bounce","requirement":"dane",',
    '{"schema":1,"domain":"","port":25,"resolverValidates":true,"limits":[],"mx":{"qname":"","qtype":"MX","outcome":"answer","security":"secure",',
    '"chain":[],"owner":"","records":[{"preference":10,"exchange":"mx1.',
  ].join("") +
    '"}],"ttl":3600},"hosts":[{"name":"","preference":10,"implicit":false,' +
    '"a":{"qname":"","qtype":"A","outcome":"answer","security":"secure","chain":[],"owner":"","records":["192.0.2.1"],"ttl":3600},' +
    '"aaaa":{"qname":"","qtype":"AAAA","outcome":"nodata","security":"secure","chain":[],"owner":"","records":[],"ttl":3600},' +
    '"tlsa":[{"qname":"_25._tcp.","qtype":"TLSA","outcome":"answer","security":"secure","chain":[],"owner":"_25._tcp.",' +
    '"records":[{"usage":3,"selector":1,"matchingType":1,"data":""},{"usage":2,"selector":1,"matchingType":1,"data":""}],"ttl":3600}]}',
);

/** A blob ready to store: its key (UUID text) and its body (codec byte + payload). */
export interface Blob {
  hash: string;
  body: Buffer;
}

/** The UUID text of a SHA-256 digest's first 16 bytes, from the digest's hex. */
function uuidOf(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A stored form's key and JSON text, not compressed yet. Hashing is cheap and
 * compressing is not (most of a writer's codec time): a writer that already
 * knows the key is stored, or met it earlier in the same batch, skips
 * `compressBlob` (store.ts storeJudged).
 */
export interface BlobText {
  hash: string;
  text: Buffer;
}

export function blobText(stored: unknown): BlobText {
  const text = Buffer.from(JSON.stringify(stored), "utf8");
  // The one-shot hash in hex: a third of createHash().update().digest()'s time for a record.
  return { hash: uuidOf(hash("sha256", text, "hex")), text };
}

/** How compressBlob calls zlib (one options object for every blob; see there). */
const DEFLATE_V1 = { dictionary: DICT_V1, level: 6, windowBits: 13, memLevel: 4, chunkSize: 2048 } as const;

/** The blob of a key and text: the body compressed (codec 0x01). */
export function compressBlob(t: BlobText): Blob {
  // An 8 KiB window holds the dictionary and a record; the default 32 KiB one only costs time to set up.
  // So does the default hash table (memLevel 8): a 4th of it compresses these records to the same
  // size, a third faster (each call sets up a new zlib state). Neither changes the format.
  // The output goes to a buffer of `chunkSize` bytes (more when it is longer): the default 16 KiB
  // is an ArrayBuffer of its own per call, 2 KiB a slice of Node's pool (a blob's payload is
  // ~400 bytes): 20% less CPU a blob, GC included, and no external memory for the GC to count.
  const payload = deflateRawSync(t.text, DEFLATE_V1);
  const body = Buffer.allocUnsafe(payload.length + 1);
  body[0] = CODEC_DEFLATE_V1;
  payload.copy(body, 1);
  return { hash: t.hash, body };
}

/**
 * Byte strings as one bytea parameter: their concatenation, and where each
 * starts (1-based, for SQL's substring) and how long it is. The pg driver sends
 * a Buffer parameter in binary, but an array of Buffers as text (`\\x` and two
 * hex digits a byte, escaped again as an array element), which both sides
 * must encode and parse: a batch's blob bodies are most of its bytes. SQL
 * takes each back with `substring(bytes from start for length)`.
 */
export function packBytes(list: readonly Buffer[]): { bytes: Buffer; starts: number[]; lengths: number[] } {
  const starts: number[] = new Array(list.length);
  const lengths: number[] = new Array(list.length);
  let at = 1;
  for (let i = 0; i < list.length; i++) {
    starts[i] = at;
    lengths[i] = list[i]!.length;
    at += lengths[i]!;
  }
  return { bytes: Buffer.concat(list as Buffer[], at - 1), starts, lengths };
}

/** The blob of a stored form: key from its JSON text, body compressed. */
export function blobOf(stored: unknown): Blob {
  return compressBlob(blobText(stored));
}

/** The stored form of a body (any codec). */
export function openBlob<T>(body: Uint8Array, what: string): T {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let text: Buffer;
  try {
    if (buf[0] === CODEC_PLAIN) text = buf.subarray(1);
    else if (buf[0] === CODEC_DEFLATE_V1) text = inflateRawSync(buf.subarray(1), { dictionary: DICT_V1 });
    else throw new Error(`unknown codec byte ${buf[0]}`);
    return JSON.parse(text.toString("utf8")) as T;
  } catch (e) {
    throw new StoreError("integrity", `${what}: stored body does not decode: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

// ------------------------------------------------------------------ facts

/** DomainFacts as stored (see the file comment): the judged form (libs/dane judgedFacts) without its times. */
export function storedFacts(f: DomainFacts): StoredFacts {
  const { collectedAt: _t, ...out }: StoredFacts & { collectedAt?: string } = judgedFacts(f);
  if (f.consistency) out.consistency = f.consistency.map(({ checkedAt: _c, ...c }) => c);
  return out;
}

/** DomainFacts as stored: no collection time, no consistency check time. */
export type StoredFacts = Omit<DomainFacts, "collectedAt" | "consistency"> & {
  consistency?: Omit<TlsaConsistencyFacts, "checkedAt">[];
};

/** The facts back from a stored body and the collection time of the scan's row. */
export function factsFrom(body: Uint8Array, collectedAt: string): DomainFacts {
  const stored = openBlob<StoredFacts & { collectedAt?: string }>(body, "facts");
  const at = stored.collectedAt ?? collectedAt;
  const { consistency, ...rest } = stored;
  const out: DomainFacts = { ...rest, collectedAt: at };
  if (consistency)
    out.consistency = consistency.map((c) => ({
      ...c,
      checkedAt: (c as { checkedAt?: string }).checkedAt ?? at,
    }));
  return out;
}

// ---------------------------------------------------------------- verdicts

export type StoredVerdict = Omit<VerdictRecord, "judgedAt" | "explanation" | "domain">;

export function storedVerdict(r: Omit<VerdictRecord, "judgedAt" | "explanation">): StoredVerdict {
  const { judgedAt: _j, explanation: _e, domain: _d, ...rest } = r as VerdictRecord;
  return rest;
}

export function verdictBlob(r: VerdictRecord): Blob {
  return blobOf(storedVerdict(r));
}

/**
 * The columns of verdict_blobs rows, one array per column in row order, for
 * the `unnest` of a batched insert: the scan's write path (store.ts
 * storeJudged) and a re-judging run's (rejudge.ts) fill every column alike.
 * The bodies are packed into one parameter (packBytes).
 */
export function verdictBlobColumns(list: readonly { blob: Blob; r: VerdictRecord }[]): {
  hashes: string[];
  tlds: string[];
  providers: (string | null)[];
  mxHosts: (string | null)[];
  hosts: (string | null)[];
  addresses: (string | null)[];
  engines: string[];
  profiles: string[];
  /** Comma-joined: SQL splits them with string_to_array (the codes have no commas). */
  problems: string[];
  risks: string[];
  bodies: ReturnType<typeof packBytes>;
} {
  return {
    hashes: list.map((v) => v.blob.hash),
    tlds: list.map((v) => v.r.tld),
    providers: list.map((v) => v.r.provider ?? null),
    mxHosts: list.map((v) => primaryMxHost(v.r)),
    hosts: list.map((v) => v.r.verdict.host ?? null),
    addresses: list.map((v) => v.r.verdict.address ?? null),
    engines: list.map((v) => v.r.engine.version),
    profiles: list.map((v) => v.r.engine.profile),
    problems: list.map((v) => (v.r.problems ?? []).join(",")),
    risks: list.map((v) => (v.r.risks ?? []).join(",")),
    bodies: packBytes(list.map((v) => v.blob.body)),
  };
}

/** A stored verdict read back for its domain (explanation and judgedAt are the reader's to add). */
export type ReadVerdict = StoredVerdict & { domain: string; explanation?: string; judgedAt?: string };

/** The verdict of `domain` from a stored body (any form: bodies that kept the domain read the same). */
export function verdictFrom(body: Uint8Array, domain: string): ReadVerdict {
  const { schema, ...rest } = openBlob<StoredVerdict & { domain?: string }>(body, "verdict");
  return { schema, domain, ...rest } as ReadVerdict;
}

// ------------------------------------------------------------------ probes

/** What of a probe is kept per scan, outside the blob. */
export interface ProbeVolatile {
  startedAt: string;
  timings: ProbeFacts["timings"];
  io?: ProbeFacts["io"];
  /** The timings of the alternate handshakes, in their order. */
  alternateTimings?: AlternateHandshake["timings"][];
}

type StoredAlternate = Omit<AlternateHandshake, "timings">;
export type StoredProbe = Omit<ProbeFacts, "startedAt" | "timings" | "io" | "alternates"> & {
  alternates?: StoredAlternate[];
};

export function sha256Hex(der: Uint8Array): string {
  return hash("sha256", der, "hex");
}

/**
 * A probe split into its blob (chain as certificate hashes), the certificates
 * it cites (hash -> DER) and its volatile part.
 */
export function probeBlob(p: ProbeFacts): {
  blob: Blob;
  certs: Map<string, Buffer>;
  volatile: ProbeVolatile;
} {
  const { startedAt, timings, io, alternates, ...rest } = p;
  const certs = new Map<string, Buffer>();
  const hashed = (chain: string[]) =>
    chain.map((b64) => {
      const der = Buffer.from(b64, "base64");
      const h = sha256Hex(der);
      certs.set(h, der);
      return h;
    });
  const stored: StoredProbe = p.tls ? { ...rest, tls: { ...p.tls, chain: hashed(p.tls.chain) } } : rest;
  const volatile: ProbeVolatile = io ? { startedAt, timings, io } : { startedAt, timings };
  if (alternates) {
    stored.alternates = alternates.map(({ timings: _t, ...a }) =>
      a.tls ? { ...a, tls: { ...a.tls, chain: hashed(a.tls.chain) } } : a,
    );
    volatile.alternateTimings = alternates.map((a) => a.timings);
  }
  return { blob: blobOf(stored), certs, volatile };
}

/** The certificate hashes a stored probe cites (its chain and its alternates'). */
export function probeCertificateHashes(stored: StoredProbe): string[] {
  return [...(stored.tls?.chain ?? []), ...(stored.alternates ?? []).flatMap((a) => a.tls?.chain ?? [])];
}

export function openProbe(body: Uint8Array): StoredProbe {
  return openBlob<StoredProbe>(body, "probe");
}

/** A probe back from its stored form, volatile part and certificates (hash -> base64 DER). */
export function probeFrom(
  stored: StoredProbe,
  volatile: ProbeVolatile,
  ders: Map<string, string>,
): ProbeFacts {
  const { alternateTimings, ...own } = volatile;
  const { alternates, ...rest } = stored;
  const chainOf = (hashes: string[]) =>
    hashes.map((h) => {
      const der = ders.get(h);
      if (der === undefined)
        throw new StoreError(
          "integrity",
          `certificate ${h} of probe ${stored.ip}|${stored.port}|${stored.sni} missing`,
        );
      return der;
    });
  const out = { ...rest, ...own } as ProbeFacts;
  if (stored.tls) out.tls = { ...stored.tls, chain: chainOf(stored.tls.chain) };
  if (alternates)
    out.alternates = alternates.map((a, i) => {
      const alt: AlternateHandshake = { ...a, timings: alternateTimings?.[i] ?? { totalMs: 0 } };
      if (a.tls) alt.tls = { ...a.tls, chain: chainOf(a.tls.chain) };
      return alt;
    });
  return out;
}
