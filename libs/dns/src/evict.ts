/**
 * Evicting a Map's oldest entries cheaply, for the caches that use a Map's
 * insertion order as their recency order (an entry used again is deleted and
 * set again, moving it to the young end).
 *
 * Why not `map.keys().next()` each time: a Map keeps the slots of deleted
 * entries until it is rehashed, and a new iterator steps over every one of
 * them. On a full cache where each insertion evicts one entry, that is
 * thousands of steps an eviction (5% of a 100k-domain scan's CPU, from the
 * resolver's cache alone). An EvictionCursor keeps one iterator between calls
 * instead: every key before its position was evicted or deleted, and entries
 * set later are appended behind it, so its next key is always the oldest.
 * When it reaches the end it starts again from the front.
 */
export class EvictionCursor<K, V> {
  readonly #map: Map<K, V>;
  #keys: MapIterator<K> | undefined;

  constructor(map: Map<K, V>) {
    this.#map = map;
  }

  /** Removes the map's oldest entry and returns it; undefined when the map is empty. */
  shift(): [K, V] | undefined {
    for (let fresh = 0; fresh < 2; fresh++) {
      this.#keys ??= this.#map.keys();
      const next = this.#keys.next();
      if (!next.done) {
        const value = this.#map.get(next.value) as V;
        this.#map.delete(next.value);
        return [next.value, value];
      }
      this.#keys = undefined;
    }
    return undefined;
  }
}

/**
 * A map bounded by the total size of its values (`sizeOf`: their bytes, or
 * the length of their text), least recently used first out: `get` moves a hit
 * to the young end, `set` evicts the oldest entries (EvictionCursor) until the
 * total is within `maxSize` again. A hit among the youngest quarter of the
 * entries (counted in sets and moves since it was last moved) stays where it
 * is, as in LookupCache: it is far from the old end either way, and a move
 * is a delete and an insertion in the Map (about 1% of a 100k scan's CPU
 * went to moving hits that were already young). The caches that keep values
 * serialized (libs/dns ConsistencyChecker, libs/pipeline ProbeCache) share it.
 */
export class SizedLru<K, V> {
  readonly #map = new Map<K, { value: V; stamp: number }>();
  readonly #oldest = new EvictionCursor(this.#map);
  readonly #sizeOf: (v: V) => number;
  readonly #max: number;
  #size = 0;
  /** Counts sets and moves: an entry's stamp is the count when it was last placed at the young end. */
  #stamp = 0;

  constructor(maxSize: number, sizeOf: (v: V) => number) {
    this.#max = maxSize;
    this.#sizeOf = sizeOf;
  }

  /** The value, now among the most recently used; undefined when absent. */
  get(k: K): V | undefined {
    const e = this.#map.get(k);
    if (e === undefined) return undefined;
    if (this.#stamp - e.stamp > this.#map.size >> 2) {
      this.#map.delete(k);
      e.stamp = ++this.#stamp;
      this.#map.set(k, e);
    }
    return e.value;
  }

  /** Sets the value as the most recently used, then evicts the oldest while over the bound. */
  set(k: K, v: V): void {
    this.delete(k);
    this.#map.set(k, { value: v, stamp: ++this.#stamp });
    this.#size += this.#sizeOf(v);
    while (this.#size > this.#max) {
      const e = this.#oldest.shift();
      if (!e) break;
      this.#size -= this.#sizeOf(e[1].value);
    }
  }

  delete(k: K): void {
    const old = this.#map.get(k);
    if (old === undefined) return;
    this.#map.delete(k);
    this.#size -= this.#sizeOf(old.value);
  }

  /** Entries held. */
  get count(): number {
    return this.#map.size;
  }

  /** Their total size. */
  get size(): number {
    return this.#size;
  }
}
