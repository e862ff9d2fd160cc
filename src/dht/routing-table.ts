/**
 * The Kademlia routing table of a DHT node (BEP 5): which other nodes we know, kept so that we know
 * many nodes near our own id and a few in every part of the id space farther away.
 *
 * For: deciding which nodes to keep, which to ask (closest), which to ping (questionable) and which
 * parts of the space to refresh (staleBuckets); saving and restoring it between runs. Not for:
 * sending anything. It has no sockets and no timers; the DHT node drives it and tells it what
 * happened (add, failed), and time comes from the injected clock.
 *
 * Layout. Buckets hold up to K nodes and cover ranges of ids that tile the whole space. The table
 * starts with one bucket. Only the bucket whose range holds our own id splits when full (BEP 5),
 * so bucket i (all but the last) holds ids that share exactly i leading bits with ours, and the
 * last holds the ids that share at least as many as the bucket count minus one. A node that finds
 * its bucket full goes to that bucket's replacement cache, from which bad nodes are replaced.
 *
 * Node states (BEP 5): good if it answered one of our queries in the last 15 minutes, or once
 * answered and has queried us in the last 15 minutes; bad after BAD_AFTER_FAILURES queries in a
 * row without an answer; questionable otherwise (including nodes we only heard of).
 *
 * How a node was seen decides what it may do to a full bucket (any node takes a free slot, and a
 * bad node's slot when the bad node had no replacement waiting):
 * - 'responded' (it answered us): may split our bucket and may push out a node that never
 *   answered us, since a node proven to answer is worth more than one that is not.
 * - 'queried' (it queried us): may split our bucket.
 * - 'heard' (another node named it): goes to the replacement cache; names from others are cheap
 *   to forge, so they never split a bucket or push out a live node.
 *
 * Defences: an id keeps the address it was first seen at, and one address (host and port) holds one
 * id. A node that conflicts with one in the table or a cache is refused, unless the one there has
 * gone bad (then it is dropped). Both are cheap guards against floods of forged ids from one
 * machine. Hosts are compared as given, so the DHT node should pass canonical text (as Node prints
 * socket addresses).
 */
import { ID_BITS, ID_LENGTH, commonPrefixBits, compareDistance, firstIdInRange, idFromHex, idInRange, idToHex, idsEqual, randomId, randomIdInRange, rangesTileIdSpace } from '../codec/dht-id.js';
import { SeedbankError } from '../errors.js';

/** Nodes per bucket (BEP 5's K). */
export const DEFAULT_K = 8;
/** Replacement-cache entries per bucket. */
export const DEFAULT_REPLACEMENTS = 8;
/** How long an answer (or a query from a node that once answered) keeps a node good (BEP 5). */
export const GOOD_FOR_MS = 15 * 60_000;
/** Unanswered queries in a row that make a node bad. */
export const BAD_AFTER_FAILURES = 2;
/** A bucket unchanged for this long should be refreshed (BEP 5). */
export const REFRESH_AFTER_MS = 15 * 60_000;
/** Saved nodes read by fromJSON at most: a full table holds 160 buckets of K. */
const MAX_RESTORED = 4096;

export type NodeState = 'good' | 'questionable' | 'bad';
export type HowSeen = 'responded' | 'queried' | 'heard';
export type AddResult = 'added' | 'updated' | 'replacement' | 'rejected';

/** A node as the DHT learns of it: compact node info (BEP 5). */
export type NodeContact = { id: Uint8Array; host: string; port: number };

export interface NodeEntry {
  readonly id: Uint8Array;
  readonly host: string;
  readonly port: number;
  /** When the table first learned of the node (ms on the injected clock). */
  readonly added: number;
  /** When it last answered one of our queries or sent us one; null if neither (we only heard of it). */
  readonly lastSeen: number | null;
  /** When it last answered one of our queries; null if never. BEP 5 trusts incoming queries only from nodes that once answered. */
  readonly lastResponded: number | null;
  /** When we last sent it a query (sentQuery); null if never. */
  readonly lastQueried: number | null;
  /** Our queries in a row that it did not answer; an answer resets it. */
  readonly failures: number;
}

/** A bucket's status: its range (`depth` leading bits shared, `first` its lowest id in hex) and counts. */
export type BucketInfo = { depth: number; first: string; nodes: number; good: number; replacements: number; lastChanged: number };

export interface RoutingTableOptions {
  /** The clock, in ms. */
  now: () => number;
  /** Nodes per bucket. @default DEFAULT_K (8) */
  k?: number;
  /** Replacement-cache entries per bucket. @default DEFAULT_REPLACEMENTS (8) */
  replacements?: number;
  /** Uniform in [0, 1): ids for bucket refreshes. @default Math.random */
  random?: () => number;
}

/** What toJSON writes; fromJSON reads it back and ignores anything malformed. */
export type SavedRoutingTable = { version: 1; self: string; nodes: { id: string; host: string; port: number }[] };

export class RoutingTableError extends SeedbankError {
  override name = 'RoutingTableError';
  constructor(message: string) {
    super('ROUTING_TABLE_INVARIANT', message);
  }
}

/** The BEP 5 state of a node at time `now`. */
export function nodeState(e: NodeEntry, now: number): NodeState {
  if (e.failures >= BAD_AFTER_FAILURES) return 'bad';
  if (e.lastResponded !== null && e.lastSeen !== null && now - e.lastSeen < GOOD_FOR_MS) return 'good';
  return 'questionable';
}

type Entry = { -readonly [P in keyof NodeEntry]: NodeEntry[P] };

interface Bucket {
  /** The range: ids sharing the first `bits` bits of `prefix`. */
  prefix: Uint8Array;
  bits: number;
  nodes: Entry[];
  replacements: Entry[];
  lastChanged: number;
}

/** What a new node may do to a full bucket (see the module comment). */
type Powers = { split: boolean; evictUnanswered: boolean };

// Saved nodes ('restored') were in the table last run, so they may shape it again, but they answered nobody yet.
const POWERS: Record<HowSeen | 'restored', Powers> = {
  responded: { split: true, evictUnanswered: true },
  queried: { split: true, evictUnanswered: false },
  heard: { split: false, evictUnanswered: false },
  restored: { split: true, evictUnanswered: false },
};

export class RoutingTable {
  readonly self: Uint8Array;
  readonly k: number;
  private readonly maxReplacements: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly bucketList: Bucket[];
  /** "host:port" -> hex id, for every node in the table or a replacement cache. */
  private readonly byAddress = new Map<string, string>();

  constructor(self: Uint8Array, options: RoutingTableOptions) {
    if (self.length !== ID_LENGTH) throw new RangeError(`a node id is ${ID_LENGTH} bytes, not ${self.length}`);
    this.self = new Uint8Array(self);
    this.k = options.k ?? DEFAULT_K;
    this.maxReplacements = options.replacements ?? DEFAULT_REPLACEMENTS;
    if (!Number.isInteger(this.k) || this.k < 1) throw new RangeError(`k ${this.k} is not a positive integer`);
    if (!Number.isInteger(this.maxReplacements) || this.maxReplacements < 0) throw new RangeError(`replacements ${this.maxReplacements} is not a non-negative integer`);
    this.now = options.now;
    this.random = options.random ?? Math.random;
    this.bucketList = [{ prefix: new Uint8Array(ID_LENGTH), bits: 0, nodes: [], replacements: [], lastChanged: this.now() }];
  }

  /** Nodes in the table (not counting replacement caches). */
  get size(): number {
    return this.bucketList.reduce((n, b) => n + b.nodes.length, 0);
  }

  /**
   * Tells the table a node was seen. 'added': it is now in the table; 'updated': it already was
   * (its times are refreshed); 'replacement': it waits in a replacement cache; 'rejected': our own
   * id, port 0, or refused by the address rules (module comment). Throws RangeError for an id that
   * is not 20 bytes.
   */
  add(node: NodeContact, how: HowSeen): AddResult {
    if (node.id.length !== ID_LENGTH) throw new RangeError(`a node id is ${ID_LENGTH} bytes, not ${node.id.length}`);
    return this.admit(node, how);
  }

  /** A query to `id` went unanswered. A node that turns bad gives way to its bucket's best replacement, if any. */
  failed(id: Uint8Array): boolean {
    const at = this.locate(id);
    if (at === undefined) return false;
    const now = this.now();
    at.entry.failures++;
    // A replacement that does not answer is no replacement; a bad node goes if one can take its place.
    if (at.cached || (nodeState(at.entry, now) === 'bad' && at.bucket.replacements.length > 0)) this.removeFrom(at.bucket, at.entry, now);
    return true;
  }

  /** We sent `id` a query (so the DHT node can tell whom it asked recently). */
  sentQuery(id: Uint8Array): boolean {
    const at = this.locate(id);
    if (at !== undefined) at.entry.lastQueried = this.now();
    return at !== undefined;
  }

  /** Forgets a node (table or replacement cache); a table slot it frees is filled from the cache. */
  remove(id: Uint8Array): boolean {
    const at = this.locate(id);
    if (at !== undefined) this.removeFrom(at.bucket, at.entry, this.now());
    return at !== undefined;
  }

  /** A node in the table (not the replacement caches). */
  get(id: Uint8Array): NodeEntry | undefined {
    const at = this.locate(id);
    return at === undefined || at.cached ? undefined : { ...at.entry };
  }

  /** The state of a node in the table. */
  state(id: Uint8Array): NodeState | undefined {
    const e = this.get(id);
    return e === undefined ? undefined : nodeState(e, this.now());
  }

  /** Every node in the table, bucket by bucket. */
  nodes(): NodeEntry[] {
    return this.bucketList.flatMap((b) => b.nodes.map((e) => ({ ...e })));
  }

  /**
   * The `n` nodes nearest `target` by XOR distance, nearest first, bad nodes left out. A full scan:
   * a table holds a few hundred nodes, and a sort of those costs less than getting a walk over
   * buckets right.
   */
  closest(target: Uint8Array, n = this.k): NodeEntry[] {
    if (target.length !== ID_LENGTH) throw new RangeError(`a target is ${ID_LENGTH} bytes, not ${target.length}`);
    const now = this.now();
    const all = this.bucketList.flatMap((b) => b.nodes.filter((e) => nodeState(e, now) !== 'bad'));
    all.sort((a, b) => compareDistance(target, a.id, b.id));
    return all.slice(0, Math.max(0, n)).map((e) => ({ ...e }));
  }

  /** Status of every bucket, farthest from our id first. */
  buckets(): BucketInfo[] {
    const now = this.now();
    return this.bucketList.map((b) => {
      const good = b.nodes.filter((e) => nodeState(e, now) === 'good').length;
      return { depth: b.bits, first: idToHex(firstIdInRange(b.prefix, b.bits)), nodes: b.nodes.length, good, replacements: b.replacements.length, lastChanged: b.lastChanged };
    });
  }

  /** For each bucket unchanged for `olderThanMs`, a random id in its range to look up (BEP 5 refresh). */
  staleBuckets(olderThanMs = REFRESH_AFTER_MS): Uint8Array[] {
    const now = this.now();
    return this.bucketList.filter((b) => now - b.lastChanged >= olderThanMs).map((b) => randomIdInRange(b.prefix, b.bits, this.random));
  }

  /** Questionable nodes in the table, to ping: least recently seen first. */
  questionable(): NodeEntry[] {
    const now = this.now();
    const out = this.bucketList.flatMap((b) => b.nodes.filter((e) => nodeState(e, now) === 'questionable'));
    out.sort((a, b) => (a.lastSeen ?? -Infinity) - (b.lastSeen ?? -Infinity) || a.added - b.added);
    return out.map((e) => ({ ...e }));
  }

  /** Our id and the table's nodes that are not bad, for fromJSON next run. Times are not saved: they belong to this run's clock. */
  toJSON(): SavedRoutingTable {
    const now = this.now();
    const nodes = this.bucketList.flatMap((b) => b.nodes.filter((e) => nodeState(e, now) !== 'bad'));
    return { version: 1, self: idToHex(this.self), nodes: nodes.map((e) => ({ id: idToHex(e.id), host: e.host, port: e.port })) };
  }

  /**
   * A table from toJSON's output. Our id is `options.self` if given (say, a new BEP 42 id after the
   * external address changed), else the saved one, else a random one. Saved nodes come back
   * questionable (they answered nobody in this run) so the DHT node pings them; entries that are
   * malformed, and anything past the first 4,096, are ignored.
   */
  static fromJSON(json: unknown, options: RoutingTableOptions & { self?: Uint8Array }): RoutingTable {
    const saved = isRecord(json) ? json : {};
    const self = options.self ?? idFromHex(saved['self']) ?? randomId(options.random);
    const table = new RoutingTable(self, options);
    const list = Array.isArray(saved['nodes']) ? (saved['nodes'] as unknown[]).slice(0, MAX_RESTORED) : [];
    for (const item of list) {
      const id = isRecord(item) ? idFromHex(item['id']) : null;
      if (id === null || !isRecord(item) || typeof item['host'] !== 'string' || typeof item['port'] !== 'number') continue;
      table.admit({ id, host: item['host'], port: item['port'] }, 'restored');
    }
    return table;
  }

  /**
   * Throws RoutingTableError if the table is inconsistent: bucket ranges that do not tile the id
   * space, a bucket other than ours that is not the sibling of a prefix of our id (only our bucket
   * splits), a bucket or cache over its size, a node outside its bucket's range, an id twice, our
   * own id, or an address index that does not match. For tests; O(table size).
   */
  checkInvariants(): void {
    const fail = (what: string): never => {
      throw new RoutingTableError(`routing table: ${what}`);
    };
    if (!rangesTileIdSpace(this.bucketList)) fail('bucket ranges do not tile the id space');
    const ids = new Set<string>();
    let entries = 0;
    for (const b of this.bucketList) {
      const shared = commonPrefixBits(b.prefix, this.self);
      if (shared < b.bits && shared !== b.bits - 1) fail(`bucket of depth ${b.bits} is not next to our id's range`);
      if (b.nodes.length > this.k) fail(`bucket of depth ${b.bits} holds ${b.nodes.length} nodes; K is ${this.k}`);
      if (b.replacements.length > this.maxReplacements) fail(`bucket of depth ${b.bits} caches ${b.replacements.length} replacements`);
      for (const e of [...b.nodes, ...b.replacements]) {
        const hex = idToHex(e.id);
        if (!idInRange(e.id, b.prefix, b.bits)) fail(`node ${hex} lies outside its bucket's range`);
        if (ids.has(hex)) fail(`node ${hex} appears twice`);
        if (idsEqual(e.id, this.self)) fail('our own id is in the table');
        if (this.byAddress.get(addressKey(e)) !== hex) fail(`address ${addressKey(e)} is not indexed to ${hex}`);
        if (!Number.isInteger(e.failures) || e.failures < 0) fail(`node ${hex} has ${e.failures} failures`);
        ids.add(hex);
        entries++;
      }
    }
    if (this.byAddress.size !== entries) fail(`${this.byAddress.size} addresses indexed for ${entries} nodes`);
  }

  // -------------------------------------------------------------------------------------------

  /** The bucket whose range holds `id` (see the layout in the module comment). */
  private bucketOf(id: Uint8Array): Bucket {
    return this.bucketList[Math.min(commonPrefixBits(this.self, id), this.bucketList.length - 1)]!;
  }

  private locate(id: Uint8Array): { bucket: Bucket; entry: Entry; cached: boolean } | undefined {
    if (id.length !== ID_LENGTH) return undefined;
    const bucket = this.bucketOf(id);
    const inTable = bucket.nodes.find((e) => idsEqual(e.id, id));
    if (inTable !== undefined) return { bucket, entry: inTable, cached: false };
    const cached = bucket.replacements.find((e) => idsEqual(e.id, id));
    return cached === undefined ? undefined : { bucket, entry: cached, cached: true };
  }

  /** add(), and fromJSON's way in for saved nodes. */
  private admit(node: NodeContact, how: HowSeen | 'restored'): AddResult {
    if (!Number.isInteger(node.port) || node.port < 1 || node.port > 0xffff || node.host === '' || idsEqual(node.id, this.self)) return 'rejected';
    const now = this.now();
    const at = this.locate(node.id);
    if (at !== undefined && sameAddress(at.entry, node)) {
      touch(at.entry, how, now);
      if (!at.cached) {
        if (how === 'responded') at.bucket.lastChanged = now;
        return 'updated';
      }
      // Out of the cache and in again through the front door: it may have earned a slot by now.
      this.removeFrom(at.bucket, at.entry, now);
      return this.place(at.entry, POWERS[how], now);
    }
    // This id at another address, or this address under another id: the first stays unless it has gone bad.
    const holder = this.byAddress.get(addressKey(node));
    const rivals = [at, holder === undefined ? undefined : this.locate(idFromHex(holder)!)].filter((r) => r !== undefined);
    if (rivals.some((r) => r.cached || nodeState(r.entry, now) !== 'bad')) return 'rejected';
    for (const r of rivals) this.removeFrom(r.bucket, r.entry, now);
    const entry: Entry = { id: new Uint8Array(node.id), host: node.host, port: node.port, added: now, lastSeen: null, lastResponded: null, lastQueried: null, failures: 0 };
    touch(entry, how, now);
    return this.place(entry, POWERS[how], now);
  }

  /** Puts a node that is in neither table nor cache into a slot, a split bucket, a bad node's place or the cache. */
  private place(entry: Entry, powers: Powers, now: number): AddResult {
    for (;;) {
      const b = this.bucketOf(entry.id);
      if (b.nodes.length < this.k) {
        b.nodes.push(entry);
        b.lastChanged = now;
        this.byAddress.set(addressKey(entry), idToHex(entry.id));
        return 'added';
      }
      if (powers.split && b === this.bucketList[this.bucketList.length - 1] && this.bucketList.length < ID_BITS) {
        this.split(now);
        continue;
      }
      const victim = worst(b.nodes.filter((e) => nodeState(e, now) === 'bad')) ?? (powers.evictUnanswered ? worst(b.nodes.filter((e) => e.lastResponded === null)) : undefined);
      if (victim !== undefined) {
        this.byAddress.delete(addressKey(victim));
        b.nodes[b.nodes.indexOf(victim)] = entry;
        b.lastChanged = now;
        this.byAddress.set(addressKey(entry), idToHex(entry.id));
        return 'added';
      }
      return this.cache(b, entry);
    }
  }

  /** Into the bucket's replacement cache, pushing out a worse entry if it is full. */
  private cache(b: Bucket, entry: Entry): AddResult {
    if (b.replacements.length >= this.maxReplacements) {
      const out = worst(b.replacements);
      if (out === undefined || compareWorth(entry, out) < 0) return 'rejected';
      b.replacements.splice(b.replacements.indexOf(out), 1);
      this.byAddress.delete(addressKey(out));
    }
    b.replacements.push(entry);
    this.byAddress.set(addressKey(entry), idToHex(entry.id));
    return 'replacement';
  }

  /** Splits the last bucket (ours) in two by the next bit of our id; fills either half from its cache. */
  private split(now: number): void {
    const mine = this.bucketList[this.bucketList.length - 1]!;
    const bit = mine.bits;
    const prefix = new Uint8Array(this.self);
    prefix[bit >> 3] = prefix[bit >> 3]! ^ (0x80 >> (bit & 7));
    const far: Bucket = { prefix, bits: bit + 1, nodes: [], replacements: [], lastChanged: mine.lastChanged };
    mine.prefix = new Uint8Array(this.self);
    mine.bits = bit + 1;
    const isFar = (e: Entry) => commonPrefixBits(e.id, this.self) === bit;
    far.nodes = mine.nodes.filter(isFar);
    far.replacements = mine.replacements.filter(isFar);
    mine.nodes = mine.nodes.filter((e) => !isFar(e));
    mine.replacements = mine.replacements.filter((e) => !isFar(e));
    this.bucketList.splice(this.bucketList.length - 1, 0, far);
    for (const b of [far, mine]) while (b.nodes.length < this.k && b.replacements.length > 0) this.promote(b, now);
  }

  /** Removes a node from table or cache; a freed table slot goes to the best replacement. */
  private removeFrom(b: Bucket, entry: Entry, now: number): void {
    this.byAddress.delete(addressKey(entry));
    const cachedAt = b.replacements.indexOf(entry);
    if (cachedAt >= 0) {
      b.replacements.splice(cachedAt, 1);
      return;
    }
    b.nodes.splice(b.nodes.indexOf(entry), 1);
    b.lastChanged = now;
    if (b.replacements.length > 0) this.promote(b, now);
  }

  private promote(b: Bucket, now: number): void {
    const best = b.replacements.reduce((x, y) => (compareWorth(y, x) > 0 ? y : x));
    b.replacements.splice(b.replacements.indexOf(best), 1);
    b.nodes.push(best);
    b.lastChanged = now;
  }
}

// ---------------------------------------------------------------------------------------------

/** Records an answer or a query from the node; hearsay and saved nodes prove nothing. */
function touch(e: Entry, how: HowSeen | 'restored', now: number): void {
  if (how === 'queried' || how === 'responded') e.lastSeen = now;
  if (how === 'responded') [e.lastResponded, e.failures] = [now, 0];
}

/**
 * Positive if `a` is worth more than `b` as a replacement: one that answered us beats one that only
 * queried us, which beats one we only heard of; then the more recently seen (or learned of) wins.
 */
function compareWorth(a: Entry, b: Entry): number {
  const proof = (e: Entry) => (e.lastResponded !== null ? 2 : e.lastSeen !== null ? 1 : 0);
  return proof(a) - proof(b) || (a.lastSeen ?? a.added) - (b.lastSeen ?? b.added);
}

/** The entry to give up first: most failures, then the least worth. */
function worst(list: Entry[]): Entry | undefined {
  return list.reduce<Entry | undefined>((w, e) => (w === undefined || e.failures > w.failures || (e.failures === w.failures && compareWorth(e, w) < 0) ? e : w), undefined);
}

type Address = { host: string; port: number };
const addressKey = (a: Address): string => `[${a.host}]:${a.port}`;
const sameAddress = (a: Address, b: Address): boolean => a.host === b.host && a.port === b.port;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
