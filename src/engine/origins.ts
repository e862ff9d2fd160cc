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
import { type Metainfo } from '../codec/metainfo.js';
import { type BlockRequest, type PiecePicker } from './picker.js';
import { TokenBucket } from './rate-limit.js';
import { WebSeed, type WebSeedStats } from './web-seed.js';
import { OriginRules, type OriginPolicy, type WantedPeers } from './origin-rules.js';

export { ORIGIN_POLICIES, type OriginPolicy } from './origin-rules.js';

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
  /** Connected peers that have a piece we want: see OriginRulesOptions. */
  peersHaveWanted: () => WantedPeers;
  /** Connections to known peers are being set up (we do not know what they have yet). */
  peersPending: () => boolean;
  /** Peers will turn up over the first seconds (trackers, a magnet); false: given peers only, or none. */
  expectPeers: boolean;
  /** Our peer id, and those of connected seedbank peers that are still downloading. */
  selfId: Buffer;
  fetchingPeers: () => Uint8Array[];
  deliver(key: string, req: BlockRequest, data: Uint8Array): void;
  canRequest(): boolean;
  onDropped(url: string, reason: string): void;
}

export class Origins {
  private readonly seeds = new Map<string, WebSeed>();
  private readonly bucket: TokenBucket;
  private running = false;
  private readonly rules: OriginRules;
  readonly policy: OriginPolicy;

  constructor(private readonly o: OriginsOptions) {
    this.bucket = new TokenBucket(o.rate ?? 0, Date.now, 0.1);
    this.rules = new OriginRules({
      policy: o.policy,
      pieceLength: o.metainfo.pieceLength,
      now: o.now,
      lastPeerBlockAt: o.lastPeerBlockAt,
      peersHaveWanted: o.peersHaveWanted,
      peersPending: o.peersPending,
      expectPeers: o.expectPeers,
      peerAvailability: (i) => this.peerAvailability(i),
      selfId: o.selfId,
      fetchingPeers: o.fetchingPeers,
    });
    this.policy = this.rules.policy;
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
        accept: (i) => this.rules.accept(i),
        canRequest: () => this.o.canRequest(),
        slots: (max) => this.rules.slots(max),
        maxRunBytes: () => this.rules.maxRunBytes(),
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
}
