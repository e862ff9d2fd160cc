/**
 * The tracker's memory: which peers announced which info hash, with expiry and hard caps.
 *
 * For: src/discovery/tracker-server.ts (both its HTTP and UDP sides). A data structure with an
 * injected clock and no timers or sockets of its own; `checkInvariants()` runs in tests.
 * Not for: the client side (a client's known peers are another type, see docs/architecture.md).
 *
 * A swarm is keyed by any 20-byte hash (a v1 info hash or a v2 one truncated to 20 bytes: the
 * tracker cannot tell them apart and need not). A peer is keyed by its endpoint (address and port),
 * as opentracker does: the address comes from the connection, so a peer can only replace or stop
 * its own entries. Each swarm's `Map` is kept in order of last announce (an announce deletes and
 * re-inserts), and every peer lives the same TTL, so expired peers are always at the front and
 * purging costs only what it removes.
 *
 * Memory is bounded by `maxTorrents`, `maxPeersPerTorrent` and `maxPeers`. When a cap is reached,
 * expired peers and empty swarms go first; if that is not enough the newcomer is answered but not
 * stored (refusing to store is safer than evicting: a flood of fake entries cannot push live peers out).
 */
import type { IpFamily, Peer, ScrapeStats, TrackerEvent } from '../codec/tracker.js';
import { ipToBytes } from '../codec/tracker.js';

export interface SwarmLimits {
  /** How long a peer stays listed after its last announce. */
  peerTtlMs: number;
  /** Distinct info hashes tracked at once. */
  maxTorrents: number;
  /** Peers listed per info hash. */
  maxPeersPerTorrent: number;
  /** Peers listed over all info hashes. */
  maxPeers: number;
}

export interface AnnounceFrom {
  infoHash: Uint8Array;
  /** An IP literal, already normalized (IPv4-mapped IPv6 turned into IPv4). */
  host: string;
  port: number;
  peerId: Uint8Array;
  left: number;
  event: TrackerEvent;
  /** Most peers to return. */
  numwant: number;
  /** Only peers of this family (UDP answers one family); undefined: both (HTTP has `peers6`). */
  family?: IpFamily;
}

export interface AnnounceOutcome {
  peers: Peer[];
  stats: ScrapeStats;
  /** False when a cap kept the peer out (it is still answered). */
  stored: boolean;
}

interface Entry {
  host: string;
  port: number;
  family: IpFamily;
  peerId: string;
  seeder: boolean;
  /** Its `completed` was counted (counted once per entry, however often it is repeated). */
  counted: boolean;
  expiresAt: number;
}

interface Swarm {
  peers: Map<string, Entry>;
  seeders: number;
  downloaded: number;
}

const endpointKey = (host: string, port: number) => `${host}|${port}`;

export class SwarmRegistry {
  private readonly swarms = new Map<string, Swarm>();
  private peerCount = 0;
  private lastFullSweepAt = -Infinity;

  constructor(
    private readonly limits: SwarmLimits,
    private readonly now: () => number,
    private readonly random: () => number = Math.random,
  ) {}

  get torrents(): number {
    return this.swarms.size;
  }

  get peers(): number {
    return this.peerCount;
  }

  announce(a: AnnounceFrom): AnnounceOutcome {
    const hashKey = Buffer.from(a.infoHash).toString('latin1');
    const key = endpointKey(a.host, a.port);
    const peerId = Buffer.from(a.peerId).toString('latin1');
    let swarm = this.swarms.get(hashKey);
    if (swarm) this.purge(swarm);
    let stored = false;
    if (a.event === 'stopped') {
      if (swarm) this.remove(swarm, key);
    } else if (a.port !== 0) {
      // Port 0: nobody could connect to it. Answered, not listed.
      if (!swarm && this.makeRoomForTorrent()) {
        swarm = { peers: new Map(), seeders: 0, downloaded: 0 };
        this.swarms.set(hashKey, swarm);
      }
      if (swarm) stored = this.upsert(swarm, key, a, peerId);
    }
    const peers = swarm ? this.pick(swarm, key, peerId, a.numwant, a.family) : [];
    return { peers, stats: swarm ? statsOf(swarm) : { complete: 0, downloaded: 0, incomplete: 0 }, stored };
  }

  stats(infoHash: Uint8Array): ScrapeStats {
    const swarm = this.swarms.get(Buffer.from(infoHash).toString('latin1'));
    if (!swarm) return { complete: 0, downloaded: 0, incomplete: 0 };
    this.purge(swarm);
    return statsOf(swarm);
  }

  /** Drops expired peers everywhere, and swarms left with no peers. */
  sweep(): void {
    for (const [k, swarm] of this.swarms) {
      this.purge(swarm);
      if (swarm.peers.size === 0) this.swarms.delete(k);
    }
  }

  /** Throws if the counters disagree with the entries or the order invariant is broken. For tests. */
  checkInvariants(): void {
    let total = 0;
    for (const swarm of this.swarms.values()) {
      let seeders = 0;
      let prev = -Infinity;
      for (const [k, e] of swarm.peers) {
        if (k !== endpointKey(e.host, e.port)) throw new Error(`entry ${k} is filed under the wrong key`);
        if (e.expiresAt < prev) throw new Error('peers are not in order of expiry');
        prev = e.expiresAt;
        if (e.seeder) seeders++;
      }
      if (seeders !== swarm.seeders) throw new Error(`seeder count ${swarm.seeders} but ${seeders} seeders listed`);
      if (swarm.peers.size > this.limits.maxPeersPerTorrent) throw new Error('a swarm is over its cap');
      total += swarm.peers.size;
    }
    if (total !== this.peerCount) throw new Error(`peer count ${this.peerCount} but ${total} listed`);
    if (total > this.limits.maxPeers || this.swarms.size > this.limits.maxTorrents) throw new Error('over a cap');
  }

  private upsert(swarm: Swarm, key: string, a: AnnounceFrom, peerId: string): boolean {
    const old = swarm.peers.get(key);
    if (old) this.remove(swarm, key);
    else if (!this.makeRoomForPeer(swarm)) return false;
    const family: IpFamily = ipToBytes(a.host)?.length === 16 ? 6 : 4;
    const seeder = a.left === 0;
    const completes = a.event === 'completed' && !old?.counted;
    if (completes) swarm.downloaded++;
    const e: Entry = { host: a.host, port: a.port, family, peerId, seeder, counted: completes || (old?.counted ?? false), expiresAt: this.now() + this.limits.peerTtlMs };
    swarm.peers.set(key, e);
    if (seeder) swarm.seeders++;
    this.peerCount++;
    return true;
  }

  private remove(swarm: Swarm, key: string): void {
    const e = swarm.peers.get(key);
    if (!e) return;
    swarm.peers.delete(key);
    if (e.seeder) swarm.seeders--;
    this.peerCount--;
  }

  private purge(swarm: Swarm): void {
    const now = this.now();
    for (const [k, e] of swarm.peers) {
      if (e.expiresAt > now) break;
      this.remove(swarm, k);
    }
  }

  private makeRoomForTorrent(): boolean {
    if (this.swarms.size < this.limits.maxTorrents) return true;
    this.sweepWhenFull();
    return this.swarms.size < this.limits.maxTorrents;
  }

  private makeRoomForPeer(swarm: Swarm): boolean {
    if (swarm.peers.size >= this.limits.maxPeersPerTorrent) return false;
    if (this.peerCount < this.limits.maxPeers) return true;
    this.sweepWhenFull();
    return this.peerCount < this.limits.maxPeers;
  }

  /** A full sweep costs every entry: when full, at most one a second, or a flood would pay it per packet. */
  private sweepWhenFull(): void {
    const now = this.now();
    if (now - this.lastFullSweepAt < 1000) return;
    this.lastFullSweepAt = now;
    this.sweep();
  }

  /** Up to `n` random peers other than the asker (by endpoint or by peer id). */
  private pick(swarm: Swarm, selfKey: string, selfId: string, n: number, family?: IpFamily): Peer[] {
    const all: Entry[] = [];
    for (const [k, e] of swarm.peers) {
      if (k === selfKey || e.peerId === selfId || (family !== undefined && e.family !== family)) continue;
      all.push(e);
    }
    const take = Math.min(n, all.length);
    // A partial Fisher-Yates shuffle: the first `take` entries become a uniform random sample.
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(this.random() * (all.length - i));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, take).map((e) => ({ host: e.host, port: e.port, peerId: Buffer.from(e.peerId, 'latin1') }));
  }
}

function statsOf(s: Swarm): ScrapeStats {
  return { complete: s.seeders, downloaded: s.downloaded, incomplete: s.peers.size - s.seeders };
}
