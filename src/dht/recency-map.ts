interface Link<V> {
  readonly key: string;
  value: V;
  prev: Link<V> | null;
  next: Link<V> | null;
}

/**
 * A map that keeps its keys in order of last `touch`, oldest first, with O(1) touch, delete and
 * oldest(). A JS Map is ordered too, but each delete leaves a hole that iteration from the front
 * walks past until the table is rebuilt, so "drop the oldest" done over and over (expiry, LRU
 * eviction) costs O(n) a time: about 70 us per drop at 100,000 entries on Node 20, which a flood
 * would make us pay per packet. Hence a Map for lookup and a doubly linked list for order. Used by
 * the query limiter and the DHT node's peer and item stores.
 */
export class RecencyMap<V> {
  private readonly links = new Map<string, Link<V>>();
  private head: Link<V> | null = null;
  private tail: Link<V> | null = null;

  get size(): number {
    return this.links.size;
  }

  get(key: string): V | undefined {
    return this.links.get(key)?.value;
  }

  /** Sets `key` to `value` and makes it the newest. */
  touch(key: string, value: V): void {
    let link = this.links.get(key);
    if (link === undefined) {
      link = { key, value, prev: null, next: null };
      this.links.set(key, link);
    } else {
      link.value = value;
      if (link === this.tail) return;
      this.unlink(link);
    }
    link.prev = this.tail;
    if (this.tail !== null) this.tail.next = link;
    else this.head = link;
    this.tail = link;
  }

  delete(key: string): boolean {
    const link = this.links.get(key);
    if (link === undefined) return false;
    this.links.delete(key);
    this.unlink(link);
    return true;
  }

  /** The value touched least recently. */
  oldest(): V | undefined {
    return this.head?.value;
  }

  /** The oldest value for which `where` holds; a scan from the oldest. */
  find(where: (v: V) => boolean): V | undefined {
    for (let l = this.head; l !== null; l = l.next) if (where(l.value)) return l.value;
    return undefined;
  }

  /** Keys and values, oldest first. Do not change the map while iterating. */
  *entries(): IterableIterator<[string, V]> {
    for (let l = this.head; l !== null; l = l.next) yield [l.key, l.value];
  }

  *values(): IterableIterator<V> {
    for (let l = this.head; l !== null; l = l.next) yield l.value;
  }

  /** What is wrong with the list, or null: for the stores' checkInvariants. O(size). */
  brokenLinks(): string | null {
    let n = 0;
    let prev: Link<V> | null = null;
    for (let l = this.head; l !== null; l = l.next) {
      if (l.prev !== prev) return `the link before ${l.key} is wrong`;
      if (this.links.get(l.key) !== l) return `${l.key} is listed but not indexed`;
      if (++n > this.links.size) return 'the list is longer than the index';
      prev = l;
    }
    if (prev !== this.tail) return 'the tail is not the last link';
    return n === this.links.size ? null : `${this.links.size} keys indexed, ${n} listed`;
  }

  private unlink(link: Link<V>): void {
    if (link.prev !== null) link.prev.next = link.next;
    else this.head = link.next;
    if (link.next !== null) link.next.prev = link.prev;
    else this.tail = link.prev;
    link.prev = null;
    link.next = null;
  }
}
