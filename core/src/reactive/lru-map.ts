/**
 * A map that keeps its `limit` most recently used entries: for caches whose keys come from app
 * data (SQL texts with IN-lists of any length, document ids) and would otherwise only grow.
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>()

  constructor(readonly limit: number) {}

  get size(): number {
    return this.map.size
  }

  /** The value of `key`, which becomes the most recently used. */
  get(key: K): V | undefined {
    const value = this.map.get(key)
    if (value !== undefined) {
      // a Map iterates in insertion order: re-inserting moves the key to the young end
      this.map.delete(key)
      this.map.set(key, value)
    }
    return value
  }

  set(key: K, value: V): void {
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value as K)
  }
}
