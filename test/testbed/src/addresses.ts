/**
 * Fixed addresses and names of the testbed universe. Pure constants: nothing
 * here does I/O. Every address is in 127.0.0.0/8 so nothing leaves the machine.
 *
 * The write-up's public addresses are mapped onto loopback by replacing the
 * first octet with 127 (69.167.152.113 -> 127.167.152.113, ...).
 */

/** The validating Unbound every client should query. */
export const RESOLVER = { address: "127.53.53.53", port: 53 } as const;
/** Knot instance serving the fake root ".". */
export const ROOT_SERVER = { address: "127.53.0.1", port: 53, name: "ns1." } as const;
/** Knot instance serving every child zone (one instance cannot serve parent and child for DS queries). */
export const CHILD_SERVER = { address: "127.53.0.2", port: 53 } as const;
/** A process that reads UDP/TCP on port 53 and never replies: resolvers time out. */
export const BLACKHOLE_SERVER = { address: "127.53.0.9", port: 53 } as const;

/** The SMTP hosts of the seed universe (write-up address -> loopback address). */
export const SMTP_HOSTS = {
  /** 69.167.152.113: STARTTLS with certificate A, which does NOT match the seed TLSA records. */
  mismatch: { address: "127.167.152.113", writeUp: "69.167.152.113", mode: "starttls", cert: "A" },
  /** 38.64.93.21: STARTTLS with certificate B, which the "30c9c9..." records match. */
  match: { address: "127.64.93.21", writeUp: "38.64.93.21", mode: "starttls", cert: "B" },
  /** 69.167.152.152: plain SMTP, no STARTTLS. */
  plain: { address: "127.167.152.152", writeUp: "69.167.152.152", mode: "plain", cert: "A" },
} as const;
/**
 * 192.168.200.200: the own A record of test19/test20. Nothing may contact it: a plain SMTP
 * server listens there only to record every connection (<state>/smtp/never-contact.jsonl).
 */
export const NEVER_CONTACT_ADDRESS = "127.168.200.200";

/** Zones the testbed serves. */
export const ZONES = {
  root: ".",
  /** Signed, DS in the root. Holds test1..test24 and the extra resolver-test names. */
  signed: "testing.",
  /** Unsigned: insecure delegation (no DS in the root). */
  unsigned: "moretesting.",
  /** Signed, but the root holds a wrong DS: everything in it is bogus. */
  bogus: "bogustesting.",
  /** Delegated to the never-answering server. */
  timeout: "timeouttesting.",
  /** Signed zone for the synthetic universe (bin/synth). */
  synth: "synth.",
  /** Unsigned zone for the synthetic universe's insecure domains. */
  synthInsecure: "synthu.",
} as const;

/** SMTP port the seed servers listen on. */
export const SMTP_PORT = 25;

/** First octets used by the synthetic universe's MX hosts: 127.60.<x>.<y>. */
export const SYNTH_HOST_PREFIX = "127.60";
