/**
 * The probe keys a prober has asked for, as a Bloom filter: `has` may say
 * true for a key never added (about 1 in 1,000 with 2.5 million keys in the
 * default 4 MiB), never false for one that was. Used where a false "yes" only
 * costs a store lookup and a false "no" would cost a second dial (stages.ts,
 * probeHandler's `newScan`). Fixed size whatever the scan's size.
 */
export class AskedKeys {
  readonly #bits: Uint32Array;
  readonly #mask: number;
  readonly #k: number;

  /** `log2Bits`: the filter has 2^log2Bits bits (default 25: 4 MiB); `bitsPerKey`: bits set per key (default 7). */
  constructor(log2Bits = 25, bitsPerKey = 7) {
    if (!Number.isInteger(log2Bits) || log2Bits < 5 || log2Bits > 31)
      throw new RangeError("log2Bits must be 5..31");
    this.#bits = new Uint32Array(2 ** (log2Bits - 5));
    this.#mask = 2 ** log2Bits - 1;
    this.#k = bitsPerKey;
  }

  add(key: string): void {
    const [h1, h2] = hashes(key);
    for (let i = 0; i < this.#k; i++) {
      const b = (h1 + Math.imul(i, h2)) & this.#mask;
      this.#bits[b >>> 5]! |= 1 << (b & 31);
    }
  }

  has(key: string): boolean {
    const [h1, h2] = hashes(key);
    for (let i = 0; i < this.#k; i++) {
      const b = (h1 + Math.imul(i, h2)) & this.#mask;
      if ((this.#bits[b >>> 5]! & (1 << (b & 31))) === 0) return false;
    }
    return true;
  }
}

/** Two 32-bit FNV-1a hashes of the key's UTF-16 code units, with different offsets; the second made odd. */
function hashes(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  // Final mixing (murmur3's fmix32) so that keys differing only at the end spread over the whole filter.
  return [fmix(a) >>> 0, (fmix(b) | 1) >>> 0];
}

function fmix(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x;
}
