/**
 * The peers other clients announced to our DHT node (BEP 5 `announce_peer`), per info hash, for
 * the `values` of our `get_peers` answers.
 *
 * For: remembering, expiring and handing out announced peers, within fixed memory. Not for:
 * checking write tokens (tokens.ts) or the peers of torrents we download ourselves (the engine's
 * peer list). No timers and no I/O: time comes from the injected clock, and expiry happens lazily
 * on every call, plus `sweep()`, which the node calls now and then to free memory when it is idle.
 *
 * Expiry: a peer is forgotten PEER_TTL_MS (30 min) after its last announce; BEP 5 says stored
 * peers expire, and live clients re-announce well within that.
 *
 * Caps, so that nothing a stranger sends can grow memory without bound. Whenever one is reached,
 * the least recently announced entry of the kind that is full gives way, and a new announce is
 * always stored:
 * - per host in one swarm (`maxPortsPerHost`): that host's oldest port. Write tokens bind the IP
 *   only, so one machine could otherwise fill a swarm's list with its own ports; a client that
 *   restarted on a new port simply replaces its old entry.
 * - per swarm (`maxPeersPerTorrent`): the swarm's oldest peer.
 * - in all (`maxPeers`): the oldest peer of any swarm.
 * - swarms (`maxTorrents`): the whole swarm announced to least recently.
 * Evicting the oldest rather than refusing the newest was chosen because an old entry is the one
 * most likely gone (live peers re-announce), and because refusing would let whoever fills the
 * store first keep everyone else out for as long as they keep re-announcing. A flood can still
 * push real peers out; the query limiter bounds how fast, and real peers come back with their
 * next announce.
 *
 * Layout: every index is a RecencyMap (recency-map.ts) in order of last announce, so the
 * oldest entry is always the first and expiry and eviction cost O(1) per entry removed.
 *
 * Hosts are stored as canonical IP text (RFC 5952, IPv4-mapped IPv6 as IPv4), so one address
 * written two ways is one peer; a host that is not an IP literal is refused, since a `get_peers`
 * answer can only carry addresses.
 */
import type { Endpoint } from '../codec/krpc.js';
import { canonicalIp } from '../discovery/address-policy.js';
import { SeedbankError } from '../errors.js';
import { RecencyMap } from './recency-map.js';

/** How long an announce keeps a peer listed (BEP 5: peers expire). */
export const PEER_TTL_MS = 30 * 60_000;
/** Peers a `get_peers` answer carries by default: about what fits in one UDP packet with IPv4. */
export const DEFAULT_GET_PEERS = 50;
export const DEFAULT_MAX_PEERS_PER_TORRENT = 2_000;
export const DEFAULT_MAX_PORTS_PER_HOST = 4;
export const DEFAULT_MAX_TORRENTS = 10_000;
export const DEFAULT_MAX_PEERS = 100_000;

const INFO_HASH_LENGTH = 20;

export interface PeerStoreOptions {
  /** The clock, in ms. */
  now: () => number;
  /** Uniform in [0, 1): which peers `get` hands out when there are more than asked for. @default Math.random */
  random?: () => number;
  /** How long an announce keeps a peer listed. @default PEER_TTL_MS (30 min) */
  ttlMs?: number;
  /** @default DEFAULT_MAX_PEERS_PER_TORRENT (2,000) */
  maxPeersPerTorrent?: number;
  /** Ports one host may have listed in one swarm. @default DEFAULT_MAX_PORTS_PER_HOST (4) */
  maxPortsPerHost?: number;
  /** Info hashes with peers. @default DEFAULT_MAX_TORRENTS (10,000) */
  maxTorrents?: number;
  /** Peers over all info hashes. @default DEFAULT_MAX_PEERS (100,000) */
  maxPeers?: number;
}

/** An announce: the address to list (the node has already applied implied_port) and BEP 33's seed flag. */
export interface AnnouncedPeer {
  host: string;
  port: number;
  seed?: boolean;
}

/** 'added': a new peer; 'updated': a known peer re-announced; 'rejected': not an IP literal, or a bad port. */
export type PeerAddResult = 'added' | 'updated' | 'rejected';

export class PeerStoreError extends SeedbankError {
  override name = 'PeerStoreError';
  constructor(message: string) {
    super('PEER_STORE_INVARIANT', message);
  }
}

interface Entry {
  /** Key in `order`: the swarm's hex and `addr`. */
  readonly key: string;
  /** Key in its swarm's `peers`: host and port. */
  readonly addr: string;
  readonly swarm: Swarm;
  readonly host: string;
  readonly port: number;
  seed: boolean;
  announced: number;
}

interface Swarm {
  readonly hex: string;
  /** By `addr`, oldest announce first. */
  readonly peers: RecencyMap<Entry>;
  /** Listed ports per host, for maxPortsPerHost. */
  readonly hosts: Map<string, number>;
  seeds: number;
  lastAnnounce: number;
}

export class PeerStore {
  private readonly now: () => number;
  private readonly random: () => number;
  readonly ttlMs: number;
  readonly maxPeersPerTorrent: number;
  readonly maxPortsPerHost: number;
  readonly maxTorrents: number;
  readonly maxPeers: number;
  /** By info hash hex, least recently announced to first. */
  private readonly swarms = new RecencyMap<Swarm>();
  /** Every peer of every swarm, oldest announce first. */
  private readonly order = new RecencyMap<Entry>();
  /** The latest time seen: the clock as this store uses it never runs backwards, so the maps stay in order. */
  private latest = -Infinity;
  private evictions = 0;

  constructor(options: PeerStoreOptions) {
    this.now = options.now;
    this.random = options.random ?? Math.random;
    this.ttlMs = options.ttlMs ?? PEER_TTL_MS;
    this.maxPeersPerTorrent = options.maxPeersPerTorrent ?? DEFAULT_MAX_PEERS_PER_TORRENT;
    this.maxPortsPerHost = options.maxPortsPerHost ?? DEFAULT_MAX_PORTS_PER_HOST;
    this.maxTorrents = options.maxTorrents ?? DEFAULT_MAX_TORRENTS;
    this.maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS;
    if (!Number.isFinite(this.ttlMs) || this.ttlMs <= 0) throw new RangeError(`ttlMs ${this.ttlMs} is not a positive number`);
    for (const [name, v] of [
      ['maxPeersPerTorrent', this.maxPeersPerTorrent],
      ['maxPortsPerHost', this.maxPortsPerHost],
      ['maxTorrents', this.maxTorrents],
      ['maxPeers', this.maxPeers],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} ${v} is not a positive integer`);
    }
  }

  /** Peers listed now, over all info hashes. */
  get size(): number {
    this.expire(this.tick());
    return this.order.size;
  }

  /** Info hashes with at least one peer listed now. */
  get torrents(): number {
    this.expire(this.tick());
    return this.swarms.size;
  }

  /** Entries pushed out by a cap (not by expiry) since the store was made: a store under pressure shows here. */
  get evicted(): number {
    return this.evictions;
  }

  /** Records an announce. Throws RangeError for an info hash that is not 20 bytes. */
  add(infoHash: Uint8Array, peer: AnnouncedPeer): PeerAddResult {
    const hex = infoHashHex(infoHash);
    const host = canonicalIp(peer.host);
    if (host === null || !Number.isInteger(peer.port) || peer.port < 1 || peer.port > 0xffff) return 'rejected';
    const t = this.tick();
    this.expire(t);
    const addr = `${host} ${peer.port}`;
    const seed = peer.seed === true;

    const known = this.swarms.get(hex)?.peers.get(addr);
    if (known !== undefined) {
      known.swarm.seeds += Number(seed) - Number(known.seed);
      known.seed = seed;
      known.announced = t;
      known.swarm.peers.touch(known.addr, known);
      this.order.touch(known.key, known);
      this.touch(known.swarm, t);
      return 'updated';
    }

    // Make room first: an eviction may empty a swarm (even this one), which then leaves the map.
    const existing = this.swarms.get(hex);
    if (existing !== undefined) {
      // A scan, but only of a swarm where this host is at its cap, and it stops at the host's oldest port.
      if ((existing.hosts.get(host) ?? 0) >= this.maxPortsPerHost) this.evict(existing.peers.find((e) => e.host === host));
      else if (existing.peers.size >= this.maxPeersPerTorrent) this.evict(existing.peers.oldest());
    }
    if (this.order.size >= this.maxPeers) this.evict(this.order.oldest());
    let swarm = this.swarms.get(hex);
    if (swarm === undefined) {
      const oldest = this.swarms.size >= this.maxTorrents ? this.swarms.oldest() : undefined;
      if (oldest !== undefined) for (const e of [...oldest.peers.values()]) this.evict(e);
      swarm = { hex, peers: new RecencyMap(), hosts: new Map(), seeds: 0, lastAnnounce: t };
      this.swarms.touch(hex, swarm);
    }

    const entry: Entry = { key: `${hex} ${addr}`, addr, swarm, host, port: peer.port, seed, announced: t };
    swarm.peers.touch(addr, entry);
    swarm.hosts.set(host, (swarm.hosts.get(host) ?? 0) + 1);
    swarm.seeds += Number(seed);
    this.order.touch(entry.key, entry);
    this.touch(swarm, t);
    return 'added';
  }

  /**
   * Up to `max` peers of the swarm, of one address family if `family` is given (BEP 32: `values`
   * holds one family, the one the asker wants). When more are listed, a uniformly random subset
   * without repeats, so that every listed peer gets handed out and none is favoured.
   * Throws RangeError for an info hash that is not 20 bytes.
   */
  get(infoHash: Uint8Array, max = DEFAULT_GET_PEERS, family?: 4 | 6): Endpoint[] {
    const hex = infoHashHex(infoHash);
    this.expire(this.tick());
    const swarm = this.swarms.get(hex);
    if (swarm === undefined) return [];
    const pool: Entry[] = [];
    for (const e of swarm.peers.values()) if (family === undefined || familyOf(e.host) === family) pool.push(e);
    const n = Math.min(pool.length, Math.max(0, Math.floor(max)));
    // The first n steps of a Fisher-Yates shuffle: n distinct entries, each subset equally likely.
    for (let i = 0; i < n; i++) {
      const j = i + Math.min(pool.length - i - 1, Math.floor(this.random() * (pool.length - i)));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, n).map((e) => ({ host: e.host, port: e.port }));
  }

  /** How many peers of the swarm are listed now, and how many of them announced as seeds. */
  count(infoHash: Uint8Array): { peers: number; seeds: number } {
    const hex = infoHashHex(infoHash);
    this.expire(this.tick());
    const swarm = this.swarms.get(hex);
    return { peers: swarm?.peers.size ?? 0, seeds: swarm?.seeds ?? 0 };
  }

  /** Forgets every expired peer; returns how many. The node calls it periodically. */
  sweep(): number {
    return this.expire(this.tick());
  }

  /**
   * Throws PeerStoreError if the store is inconsistent: a cap exceeded, an empty swarm, a peer in
   * one index and not the other, counts of hosts or seeds that do not match, a host that is not
   * canonical, or maps out of announce order. For tests; O(size).
   */
  checkInvariants(): void {
    const fail = (what: string): never => {
      throw new PeerStoreError(`peer store: ${what}`);
    };
    if (this.order.size > this.maxPeers) fail(`${this.order.size} peers; the cap is ${this.maxPeers}`);
    if (this.swarms.size > this.maxTorrents) fail(`${this.swarms.size} swarms; the cap is ${this.maxTorrents}`);
    const broken = this.swarms.brokenLinks() ?? this.order.brokenLinks();
    if (broken !== null) fail(broken);
    let peers = 0;
    let lastSwarm = -Infinity;
    for (const [hex, s] of this.swarms.entries()) {
      if (s.hex !== hex) fail(`swarm ${s.hex} is filed under ${hex}`);
      if (s.peers.size === 0) fail(`swarm ${hex} is empty`);
      const brokenPeers = s.peers.brokenLinks();
      if (brokenPeers !== null) fail(`swarm ${hex}: ${brokenPeers}`);
      if (s.peers.size > this.maxPeersPerTorrent) fail(`swarm ${hex} lists ${s.peers.size} peers; the cap is ${this.maxPeersPerTorrent}`);
      if (s.lastAnnounce < lastSwarm) fail(`swarm ${hex} is out of announce order`);
      lastSwarm = s.lastAnnounce;
      const hosts = new Map<string, number>();
      let seeds = 0;
      let last = -Infinity;
      for (const [addr, e] of s.peers.entries()) {
        if (e.addr !== addr || e.swarm !== s || e.key !== `${hex} ${addr}`) fail(`peer ${addr} of ${hex} is filed wrongly`);
        if (this.order.get(e.key) !== e) fail(`peer ${addr} of ${hex} is missing from the global order`);
        if (canonicalIp(e.host) !== e.host || addr !== `${e.host} ${e.port}`) fail(`peer ${addr} of ${hex} has a host that is not canonical`);
        if (e.announced < last || e.announced > s.lastAnnounce) fail(`peer ${addr} of ${hex} is out of announce order`);
        last = e.announced;
        hosts.set(e.host, (hosts.get(e.host) ?? 0) + 1);
        seeds += Number(e.seed);
      }
      if (seeds !== s.seeds) fail(`swarm ${hex} counts ${s.seeds} seeds, lists ${seeds}`);
      if (hosts.size !== s.hosts.size || [...hosts].some(([h, n]) => s.hosts.get(h) !== n)) fail(`swarm ${hex} counts hosts wrongly`);
      if ([...hosts.values()].some((n) => n > this.maxPortsPerHost)) fail(`swarm ${hex} lists a host more than ${this.maxPortsPerHost} times`);
      peers += s.peers.size;
    }
    if (peers !== this.order.size) fail(`${peers} peers in swarms, ${this.order.size} in the global order`);
    let last = -Infinity;
    for (const e of this.order.values()) {
      if (e.announced < last) fail('the global order is out of announce order');
      last = e.announced;
    }
  }

  // -------------------------------------------------------------------------------------------

  private tick(): number {
    this.latest = Math.max(this.latest, this.now());
    return this.latest;
  }

  /** Removes peers whose last announce is ttlMs old or more: they are at the front of `order`. */
  private expire(t: number): number {
    let removed = 0;
    for (let e = this.order.oldest(); e !== undefined && t - e.announced >= this.ttlMs; e = this.order.oldest()) {
      this.remove(e);
      removed++;
    }
    return removed;
  }

  private evict(e: Entry | undefined): void {
    if (e === undefined) return;
    this.remove(e);
    this.evictions++;
  }

  private remove(e: Entry): void {
    const s = e.swarm;
    s.peers.delete(e.addr);
    this.order.delete(e.key);
    const n = s.hosts.get(e.host) ?? 0;
    if (n <= 1) s.hosts.delete(e.host);
    else s.hosts.set(e.host, n - 1);
    s.seeds -= Number(e.seed);
    if (s.peers.size === 0) this.swarms.delete(s.hex);
  }

  private touch(s: Swarm, t: number): void {
    s.lastAnnounce = t;
    this.swarms.touch(s.hex, s);
  }
}

function infoHashHex(infoHash: Uint8Array): string {
  if (infoHash.length !== INFO_HASH_LENGTH) throw new RangeError(`an info hash is ${INFO_HASH_LENGTH} bytes, not ${infoHash.length}`);
  return Buffer.from(infoHash.buffer, infoHash.byteOffset, infoHash.length).toString('hex');
}

/** Canonical IPv6 text always has a colon and IPv4 text never does. */
function familyOf(host: string): 4 | 6 {
  return host.includes(':') ? 6 : 4;
}
