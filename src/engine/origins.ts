/**
 * A torrent's HTTP origins (web seeds) and the policy that says when they may be used. The point
 * of an origin in a swarm is to be paid for each piece about once: the origin serves what no peer
 * has, and peers spread it (ADR 008).
 *
 * Policies (`--origin-policy`):
 * - `balanced` (default): the origin fetches pieces that no connected peer has, rarest first; once
 *   a piece is somewhere in the swarm, peers serve it. If peers stall (no block from any peer for
 *   `STALL_MS`) the origin may fetch anything, so a download never waits on a stuck swarm.
 * - `fallback`: the origin is a last resort: for pieces no peer has only after peers had
 *   `FALLBACK_GRACE_MS` to show up, and for anything when peers stall.
 * - `origin-first`: the origin fetches whatever the picker offers (a lone downloader, or when
 *   origin egress is free).
 *
 * Not for: the HTTP itself (web-seed.ts), verification or storage (the torrent).
 */
import { createHash } from 'node:crypto';
import { type Metainfo } from '../codec/metainfo.js';
import { type BlockRequest, type PiecePicker } from './picker.js';
import { TokenBucket } from './rate-limit.js';
import { WebSeed, type WebSeedStats } from './web-seed.js';

export type OriginPolicy = 'fallback' | 'balanced' | 'origin-first';
export const ORIGIN_POLICIES: readonly OriginPolicy[] = ['fallback', 'balanced', 'origin-first'];

/** No block from any peer for this long while some peer has pieces we want: peers cannot keep up. */
const STALL_MS = 3000;
/** `fallback`: how long peers get to show up before the origin serves pieces nobody has. */
const FALLBACK_GRACE_MS = 5000;
/** No block for this long although peers that have what we want choke us: they will not help. */
const CHOKED_STALL_MS = 15_000;
/** `balanced`/`fallback`: one connection, one piece at a time, this long after the start. */
const SWARM_SETTLE_MS = 2000;
/** Ownership is decided per stretch of this many bytes of consecutive pieces (at least a piece). */
const OWNED_STRETCH_BYTES = 2 * 1024 * 1024;
/** `balanced`: at most this long waiting for dialed peers' bitfields before using the origin. */
const BALANCED_GRACE_MS = 2000;

export interface OriginsOptions {
  metainfo: Metainfo;
  picker: PiecePicker;
  policy?: OriginPolicy;
  /** Bytes/s for all origins of this torrent together; 0 = none. */
  rate?: number;
  /** Parallel range requests per origin. @default 4 */
  connectionsPerOrigin?: number;
  now: () => number;
  /** When a peer last delivered a block (or when the torrent started). */
  lastPeerBlockAt: () => number;
  /** Connected peers that have a piece we want (we are interested): any, and any not choking us. */
  peersHaveWanted: () => { any: boolean; unchoking: boolean };
  /** Connections to known peers are being set up (we do not know what they have yet). */
  peersPending: () => boolean;
  /** Peers will turn up over the first seconds (trackers, a magnet); false: given peers only, or none. */
  expectPeers: boolean;
  /** Our peer id, and those of connected seedbank peers that are still downloading. */
  selfId: Buffer;
  fetchingPeers: () => Buffer[];
  deliver(key: string, req: BlockRequest, data: Uint8Array): void;
  canRequest(): boolean;
  onDropped(url: string, reason: string): void;
}

export class Origins {
  private readonly seeds = new Map<string, WebSeed>();
  private readonly bucket: TokenBucket;
  private readonly startedAt: number;
  private running = false;
  readonly policy: OriginPolicy;

  constructor(private readonly o: OriginsOptions) {
    this.policy = o.policy ?? 'balanced';
    this.bucket = new TokenBucket(o.rate ?? 0, Date.now, 0.1);
    this.startedAt = o.now();
    this.selfHash = idHash(o.selfId);
    this.stretch = Math.max(1, Math.floor(OWNED_STRETCH_BYTES / o.metainfo.pieceLength));
  }

  isOrigin(key: string): boolean {
    return this.seeds.has(key);
  }

  /** Adds an origin (duplicates ignored); it starts fetching if the torrent is downloading. */
  add(url: string): void {
    if (this.seeds.has(`web:${url}`)) return;
    const ws = new WebSeed(
      url,
      {
        metainfo: this.o.metainfo,
        picker: this.o.picker,
        deliver: (key, req, data) => this.o.deliver(key, req, data),
        accept: (i) => this.accept(i),
        canRequest: () => this.o.canRequest(),
        slots: (max) => this.slots(max),
        // While the swarm settles, one piece per request: ownership may still change as peers
        // connect, and a piece in flight is invisible to the others until it is complete.
        maxRunBytes: () => (this.policy !== 'origin-first' && this.settling() ? 0 : Infinity),
        dropped: (key, reason) => {
          this.o.picker.peerGone(key);
          this.o.onDropped(url, reason);
        },
      },
      { connections: this.o.connectionsPerOrigin, buckets: this.bucket.limit > 0 ? [this.bucket] : [] },
    );
    this.seeds.set(ws.key, ws);
    if (this.running) ws.start();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const ws of this.seeds.values()) ws.start();
  }

  wake(): void {
    for (const ws of this.seeds.values()) ws.wake();
  }

  /** A piece that failed its hash check came from this origin alone (or smart ban proved it). */
  strike(key: string): void {
    this.seeds.get(key)?.strike();
  }

  /** Bytes each origin delivered, by URL. */
  stats(): WebSeedStats[] {
    return [...this.seeds.values()].map((w) => w.getStats());
  }

  /** Some origin is started and not dropped. */
  get anyActive(): boolean {
    for (const w of this.seeds.values()) if (w.active) return true;
    return false;
  }

  get bytes(): number {
    let n = 0;
    for (const w of this.seeds.values()) n += w.getStats().bytes;
    return n;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all([...this.seeds.values()].map((w) => w.stop()));
  }

  /** How many sources that are not origins have piece i. */
  private peerAvailability(i: number): number {
    let origins = 0;
    for (const w of this.seeds.values()) if (w.active) origins++;
    return this.o.picker.availability(i) - origins;
  }

  /** Connections per origin: one while the swarm settles (see `settling`), then all of them. */
  private slots(max: number): number {
    if (this.policy === 'origin-first') return max;
    return this.settling() ? 1 : max;
  }

  /**
   * The first seconds of a download, while peers from trackers and PEX are still connecting:
   * a node that sees no peers yet may be the first of a swarm, not a lone node, and whatever it
   * starts fetching now under "I own everything" others will fetch too. So it goes gently (one
   * connection, one piece at a time) until the membership settles. A lone node loses little.
   */
  private settling(): boolean {
    return this.o.expectPeers && this.o.now() - this.startedAt < SWARM_SETTLE_MS;
  }

  private accept(i: number): boolean {
    if (this.policy === 'origin-first') return true;
    const t = this.o.now();
    // Peers that have what we want and let us ask but send nothing cannot keep up: the origin
    // steps in. Peers that choke us are only waiting for the next rechoke (10 s; a flash crowd
    // starts that way), so they get longer. Peers that have nothing we want yet are not stalling:
    // the pieces' owners are at work.
    const quiet = t - this.o.lastPeerBlockAt();
    if (quiet >= STALL_MS) {
      const w = this.o.peersHaveWanted();
      if (w.unchoking || (w.any && quiet >= CHOKED_STALL_MS)) return true;
    }
    if (this.policy === 'fallback' && t - this.startedAt < FALLBACK_GRACE_MS) return false;
    // A node joining a swarm should learn what its peers have before it pays the origin.
    if (t - this.startedAt < BALANCED_GRACE_MS && this.o.peersPending()) return false;
    return this.peerAvailability(i) <= 0 && this.owns(i);
  }

  /**
   * Which node of the swarm fetches piece i from the origin: the one with the highest score
   * mix(id, i) among us and the connected seedbank peers that are downloading too (rendezvous
   * hashing). Every node computes the same answer from the same membership without a message,
   * so the origin serves each piece about once instead of once per node that found it missing
   * at the same moment. Peers are then asked for pieces we do not own, as for any other piece.
   */
  private owns(i: number): boolean {
    const others = this.memberIds();
    if (others.length === 0) return true;
    // Owned in stretches of consecutive pieces, so one origin request can fetch several.
    const k = mix32(Math.floor(i / this.stretch) + 0x9e3779b9);
    const mine = mix32(this.selfHash ^ k);
    for (const o of others) if (mix32(o ^ k) > mine) return false;
    return true;
  }

  private readonly selfHash: number;
  /** Pieces per owned stretch. */
  private readonly stretch: number;
  private readonly idHashes = new Map<string, number>();
  private members: { at: number; ids: number[] } = { at: -Infinity, ids: [] };

  /** Member hashes, recomputed at most every 200 ms (accept runs once per candidate piece). */
  private memberIds(): number[] {
    const t = this.o.now();
    if (t - this.members.at < 200) return this.members.ids;
    const ids = this.o.fetchingPeers().map((id) => {
      const hex = id.toString('hex');
      let h = this.idHashes.get(hex);
      if (h === undefined) this.idHashes.set(hex, (h = idHash(id)));
      return h;
    });
    this.members = { at: t, ids };
    return ids;
  }
}

function idHash(id: Buffer): number {
  return createHash('sha1').update(id).digest().readUInt32BE(0);
}

/** A 32-bit integer mix (murmur3 finaliser): nearby inputs give unrelated outputs. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
