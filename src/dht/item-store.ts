/**
 * The BEP 44 items our DHT node stores for others: what `put` writes and `get` reads back.
 *
 * For: keeping items by target under BEP 44's rules, expiring them, and bounding the memory they
 * take. Not for: the rules themselves (checkPut in codec/bep44.ts decides every put; this store
 * only gives it the item held now), write tokens (tokens.ts), or republishing our own items (the
 * DHT's client side). No timers and no I/O: time comes from the injected clock, expiry happens
 * lazily on every call, plus `sweep()` for the node to call now and then.
 *
 * Expiry: an item is forgotten ITEM_TTL_MS (2 h) after its last accepted put. BEP 44 says items
 * expire unless republished, and asks publishers to republish about every hour; a put that is
 * refused (say, a lower seq) does not count.
 *
 * Caps: a number of items and a number of bytes (the item's byte strings: value, key, signature,
 * salt and target; JS overhead per item is bounded by the item cap). When a new item does not fit,
 * the items put least recently give way, so a put that checkPut accepts is always stored. Evicting
 * rather than refusing because refusing would let whoever fills the store first keep it (by
 * republishing) against every later writer, while an evicted item comes back at its publisher's
 * next republish, and BEP 44 stores every item at the 8 nodes nearest its target, not only here.
 *
 * Layout: one RecencyMap (recency-map.ts) in order of last put, so the oldest item is the first
 * and expiry and eviction cost O(1) per item removed.
 */
import { type PutRequest, type PutResult, type StoredItem, MAX_ITEM_VALUE, MAX_SALT, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, checkPut, immutableTarget, mutableTarget } from '../codec/bep44.js';
import { SeedbankError } from '../errors.js';
import { RecencyMap } from './recency-map.js';

/** How long an accepted put keeps an item (BEP 44: items expire; publishers republish hourly). */
export const ITEM_TTL_MS = 2 * 60 * 60_000;
export const DEFAULT_MAX_ITEMS = 10_000;
export const DEFAULT_MAX_ITEM_BYTES = 4 * 1024 * 1024;
const TARGET_LENGTH = 20;
/** The most bytes one item can count for: a store must hold at least this. */
export const LARGEST_ITEM_BYTES = TARGET_LENGTH + MAX_ITEM_VALUE + PUBLIC_KEY_LENGTH + MAX_SALT + SIGNATURE_LENGTH;

export interface ItemStoreOptions {
  /** The clock, in ms. */
  now: () => number;
  /** How long an accepted put keeps an item. @default ITEM_TTL_MS (2 h) */
  ttlMs?: number;
  /** @default DEFAULT_MAX_ITEMS (10,000) */
  maxItems?: number;
  /** Bytes of all items together (see the module comment); at least LARGEST_ITEM_BYTES. @default DEFAULT_MAX_ITEM_BYTES (4 MiB) */
  maxBytes?: number;
}

export class ItemStoreError extends SeedbankError {
  override name = 'ItemStoreError';
  constructor(message: string) {
    super('ITEM_STORE_INVARIANT', message);
  }
}

interface Entry {
  readonly hex: string;
  readonly item: StoredItem;
  readonly bytes: number;
  readonly stored: number;
}

export class ItemStore {
  private readonly now: () => number;
  readonly ttlMs: number;
  readonly maxItems: number;
  readonly maxBytes: number;
  /** By target hex, least recently put first. */
  private readonly items = new RecencyMap<Entry>();
  private totalBytes = 0;
  /** The latest time seen: the clock as this store uses it never runs backwards, so the map stays in order. */
  private latest = -Infinity;
  private evictions = 0;

  constructor(options: ItemStoreOptions) {
    this.now = options.now;
    this.ttlMs = options.ttlMs ?? ITEM_TTL_MS;
    this.maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_ITEM_BYTES;
    if (!Number.isFinite(this.ttlMs) || this.ttlMs <= 0) throw new RangeError(`ttlMs ${this.ttlMs} is not a positive number`);
    if (!Number.isInteger(this.maxItems) || this.maxItems < 1) throw new RangeError(`maxItems ${this.maxItems} is not a positive integer`);
    // Smaller, and an item that checkPut accepts might not fit even in an empty store.
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < LARGEST_ITEM_BYTES) throw new RangeError(`maxBytes ${this.maxBytes} is under ${LARGEST_ITEM_BYTES}, the largest item`);
  }

  /** Items stored now. */
  get size(): number {
    this.expire(this.tick());
    return this.items.size;
  }

  /** Bytes the items stored now count for (see the module comment). */
  get bytes(): number {
    this.expire(this.tick());
    return this.totalBytes;
  }

  /** Items pushed out by a cap (not by expiry) since the store was made. */
  get evicted(): number {
    return this.evictions;
  }

  /**
   * Applies a put at `target` (the target the writer's token was for): checkPut against the item
   * stored there now, and on success stores the new item, which restarts its expiry. Returns what
   * checkPut returned, so a refusal carries the KRPC error code to answer with. Throws RangeError
   * for a target that is not 20 bytes.
   */
  put(target: Uint8Array, put: PutRequest): PutResult {
    const hex = targetHex(target);
    const t = this.tick();
    this.expire(t);
    const current = this.items.get(hex);
    const result = checkPut({ ...put, target }, current?.item);
    if (!result.ok) return result;
    if (current !== undefined) this.remove(current);
    const bytes = itemBytes(result.item);
    // Ends: the constructor made sure that the largest item fits in an empty store.
    while (this.items.size >= this.maxItems || this.totalBytes + bytes > this.maxBytes) {
      this.remove(this.items.oldest()!);
      this.evictions++;
    }
    this.items.touch(hex, { hex, item: result.item, bytes, stored: t });
    this.totalBytes += bytes;
    return result;
  }

  /**
   * The item stored at `target`, if any and not expired. A shallow copy: its byte strings are the
   * store's own and must not be written to. Throws RangeError for a target that is not 20 bytes.
   */
  get(target: Uint8Array): StoredItem | undefined {
    const hex = targetHex(target);
    this.expire(this.tick());
    const e = this.items.get(hex);
    return e === undefined ? undefined : { ...e.item };
  }

  /** Forgets every expired item; returns how many. The node calls it periodically. */
  sweep(): number {
    return this.expire(this.tick());
  }

  /**
   * Throws ItemStoreError if the store is inconsistent: a cap exceeded, a byte count that does not
   * add up, an item filed under a target that is not its own (recomputed from its value or key and
   * salt), or items out of put order. For tests; O(size), one SHA-1 per item.
   */
  checkInvariants(): void {
    const fail = (what: string): never => {
      throw new ItemStoreError(`item store: ${what}`);
    };
    if (this.items.size > this.maxItems) fail(`${this.items.size} items; the cap is ${this.maxItems}`);
    if (this.totalBytes > this.maxBytes) fail(`${this.totalBytes} bytes; the cap is ${this.maxBytes}`);
    const broken = this.items.brokenLinks();
    if (broken !== null) fail(broken);
    let bytes = 0;
    let last = -Infinity;
    for (const [hex, e] of this.items.entries()) {
      if (e.hex !== hex) fail(`item ${e.hex} is filed under ${hex}`);
      const { item } = e;
      const own = item.k === undefined ? immutableTarget(item.vBencoded) : mutableTarget(item.k, item.salt);
      if (own.toString('hex') !== hex || !item.target.equals(own)) fail(`item filed under ${hex} has target ${own.toString('hex')}`);
      if ((item.k === undefined) !== (item.seq === undefined) || (item.k === undefined) !== (item.sig === undefined)) fail(`item ${hex} is half mutable`);
      if (e.bytes !== itemBytes(item)) fail(`item ${hex} counts ${e.bytes} bytes, not ${itemBytes(item)}`);
      if (e.stored < last) fail(`item ${hex} is out of put order`);
      last = e.stored;
      bytes += e.bytes;
    }
    if (bytes !== this.totalBytes) fail(`items add up to ${bytes} bytes; the store counts ${this.totalBytes}`);
  }

  // -------------------------------------------------------------------------------------------

  private tick(): number {
    this.latest = Math.max(this.latest, this.now());
    return this.latest;
  }

  /** Removes items whose last put is ttlMs old or more: they are at the front of the map. */
  private expire(t: number): number {
    let removed = 0;
    for (let e = this.items.oldest(); e !== undefined && t - e.stored >= this.ttlMs; e = this.items.oldest()) {
      this.remove(e);
      removed++;
    }
    return removed;
  }

  private remove(e: Entry): void {
    this.items.delete(e.hex);
    this.totalBytes -= e.bytes;
  }
}

function itemBytes(item: StoredItem): number {
  return item.target.length + item.vBencoded.length + (item.k?.length ?? 0) + (item.salt?.length ?? 0) + (item.sig?.length ?? 0);
}

function targetHex(target: Uint8Array): string {
  if (target.length !== TARGET_LENGTH) throw new RangeError(`a target is ${TARGET_LENGTH} bytes, not ${target.length}`);
  return Buffer.from(target.buffer, target.byteOffset, target.length).toString('hex');
}
