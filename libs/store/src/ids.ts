/**
 * Scan ids: time-sortable, 26 characters of Crockford base32 (ULID layout:
 * 48-bit milliseconds, then 80 random bits). Ids of later milliseconds sort
 * after earlier ones as plain strings. Pure: time and randomness are arguments
 * (`newScanId` supplies the defaults).
 */
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** `ms` must be an integer in [0, 2^48); `random` at least 10 bytes (only 10 are used). */
export function scanIdFrom(ms: number, random: Uint8Array): string {
  let time = "";
  let t = Math.floor(ms);
  for (let i = 0; i < 10; i++) {
    time = (ALPHABET[t % 32] as string) + time;
    t = Math.floor(t / 32);
  }
  let bits = 0;
  let acc = 0;
  let rand = "";
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | (random[i] ?? 0);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      rand += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return time + rand;
}

export function newScanId(now: Date, random: (n: number) => Uint8Array = randomBytes): string {
  return scanIdFrom(now.getTime(), random(10));
}
