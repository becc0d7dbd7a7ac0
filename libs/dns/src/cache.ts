/**
 * The resolver's answer cache, bounded by entries and by bytes (no I/O; the
 * clock is injected).
 *
 * - new LookupCache({ maxEntries, maxBytes, now }): both bounds hold at every
 *   moment; 0 for either turns the cache off.
 * - get(key): the cached lookup while its TTL runs (an expired one is dropped
 *   and undefined returned). A hit moves the entry to the young end of the
 *   eviction order unless it got there within the last quarter of the cache's
 *   turnover, so hits on hot entries cost no reordering.
 * - set(key, lookup, ttlSeconds): keeps the lookup for its TTL, evicting the
 *   least recently used entries until both bounds hold with it in. A lookup
 *   whose estimated size is over an eighth of `maxBytes` is not kept at all
 *   (false returned), so one hostile maximum-size RRset cannot sweep the
 *   cache of everything else.
 * - bytes / size: the estimated bytes held and the entry count.
 *
 * Sizes are estimates of the V8 heap an entry holds (lookupBytes): every
 * string, object, array slot and number of the lookup and its key, the cache's
 * own bookkeeping, each string counted in full even when shared, so the
 * estimate errs high. A maximum-size TLSA RRset (one 64 KiB TCP message)
 * counts about 130 KB: its data is kept as hex text, two characters an octet.
 */
import type { Lookup } from "@danesweep/dane";
import { EvictionCursor } from "./evict.ts";

export interface LookupCacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** Clock for TTLs (ms). */
  now: () => number;
}

interface Entry {
  /** The lookup as served from the cache; shared, read-only. */
  view: Lookup<unknown>;
  expires: number;
  bytes: number;
  /** Value of the recency clock when the entry last moved to the young end. */
  stamp: number;
}

/** V8 on 64-bit without pointer compression (Node's build): header and slot sizes, rounded up. */
const OBJECT_HEADER = 24;
const ARRAY_HEADER = 32;
const STRING_HEADER = 24;
const SLOT = 8;
/**
 * Per entry: the Map's slots and bucket share, the Entry object and its
 * fields, the key's rope node, and what the walk below cannot see (property
 * backing stores, boxed doubles); set so that the estimate meets the heap
 * measured by bench/dns/cache-size.ts (within about 10%, see libs/dns/README.md).
 */
const ENTRY_OVERHEAD = 160;

function valueBytes(v: unknown, depth: number): number {
  switch (typeof v) {
    case "string":
      // one-byte strings (names and hex are ASCII), rounded to the 8-byte allocation unit
      return STRING_HEADER + ((v.length + 7) & ~7);
    case "number":
      return SLOT; // a heap number at worst; a small integer lives in its slot
    case "object": {
      if (v === null || depth > 8) return 0;
      if (Array.isArray(v)) {
        let n = ARRAY_HEADER + SLOT * v.length;
        for (const x of v) n += valueBytes(x, depth + 1);
        return n;
      }
      let n = OBJECT_HEADER;
      for (const k in v) n += SLOT + valueBytes((v as Record<string, unknown>)[k], depth + 1);
      return n;
    }
    default:
      return 0; // booleans and undefined live in their slot
  }
}

/** Estimated heap bytes one cache entry holds: the key, the lookup and the bookkeeping. */
export function lookupBytes(key: string, l: Lookup<unknown>): number {
  return ENTRY_OVERHEAD + valueBytes(key, 0) + valueBytes(l, 0);
}

export class LookupCache {
  private readonly o: LookupCacheOptions;
  private readonly map = new Map<string, Entry>();
  private total = 0;
  /** Recency clock: counts insertions and moves. */
  private stamp = 0;
  /** Evicts oldest first at a constant cost (evict.ts). */
  private readonly oldest = new EvictionCursor(this.map);

  constructor(o: LookupCacheOptions) {
    this.o = { ...o, maxEntries: Math.max(0, o.maxEntries), maxBytes: Math.max(0, o.maxBytes) };
  }

  /** False when a bound of 0 turns the cache off. */
  get enabled(): boolean {
    return this.o.maxEntries > 0 && this.o.maxBytes > 0;
  }

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.total;
  }

  get(key: string): Lookup<unknown> | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit.expires <= this.o.now()) {
      this.drop(key, hit);
      return undefined;
    }
    if (this.stamp - hit.stamp > this.map.size >> 2) {
      this.map.delete(key);
      hit.stamp = ++this.stamp;
      this.map.set(key, hit);
    }
    return hit.view;
  }

  set(key: string, view: Lookup<unknown>, ttlSeconds: number): boolean {
    const old = this.map.get(key);
    if (old) this.drop(key, old);
    const bytes = lookupBytes(key, view);
    if (!this.enabled || bytes > this.o.maxBytes / 8) return false;
    while (this.map.size >= this.o.maxEntries || this.total + bytes > this.o.maxBytes) {
      const e = this.oldest.shift();
      if (!e) break;
      this.total -= e[1].bytes;
    }
    this.map.set(key, { view, expires: this.o.now() + ttlSeconds * 1000, bytes, stamp: ++this.stamp });
    this.total += bytes;
    return true;
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }

  private drop(key: string, e: Entry): void {
    this.map.delete(key);
    this.total -= e.bytes;
  }
}
