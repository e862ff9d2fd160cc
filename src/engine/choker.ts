/**
 * Choking: who may download from us. Tit-for-tat while we download (unchoke those who give us the
 * most), those furthest behind while we seed, plus one optimistic unchoke that rotates so newcomers get a
 * chance to prove themselves (BEP 3's algorithm, as libtorrent and mainline do it).
 *
 * Pure policy: it is handed the connections and returns decisions; the torrent applies them.
 */
export interface ChokeCandidate {
  readonly key: string;
  readonly peerInterested: boolean;
  readonly amChoking: boolean;
  /** Bytes/s this peer sends us. */
  downRate(): number;
  /** Bytes/s we send this peer. */
  upRate(): number;
  /** Fraction of the torrent the peer has, 0..1, if known. */
  progress?(): number;
}

/** What `chokeCandidate` reads of a connection (PeerConnection, or the simulator's). */
export interface ChokeablePeer {
  readonly key: string;
  peerInterested: boolean;
  amChoking: boolean;
  peerHasAll: boolean;
  have: { count: number; size: number };
  down: { rate(): number };
  up: { rate(): number };
}

/** A connection as the choker sees it. */
export function chokeCandidate(c: ChokeablePeer): ChokeCandidate {
  return {
    key: c.key,
    peerInterested: c.peerInterested,
    amChoking: c.amChoking,
    downRate: () => c.down.rate(),
    upRate: () => c.up.rate(),
    progress: () => (c.peerHasAll ? 1 : c.have.count / Math.max(1, c.have.size)),
  };
}

export interface ChokerOptions {
  /** Regular upload slots, the optimistic one not included. @default 7 */
  slots?: number;
  /** How long an optimistic unchoke lasts. @default 30 s */
  optimisticMs?: number;
  random?: () => number;
  now?: () => number;
}

export class Choker {
  private optimistic: string | null = null;
  private optimisticSince = -Infinity;
  readonly slots: number;
  private readonly optimisticMs: number;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(opts: ChokerOptions = {}) {
    this.slots = opts.slots ?? 7;
    this.optimisticMs = opts.optimisticMs ?? 30_000;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
  }

  /** The set of peers to unchoke now; everyone else interested is choked. */
  decide(peers: readonly ChokeCandidate[], seeding: boolean): Set<string> {
    const interested = peers.filter((p) => p.peerInterested);
    const score = (p: ChokeCandidate) => (seeding ? p.upRate() : p.downRate());
    // Seeding: those furthest behind first. A dataset is distributed when its last node has it,
    // and the node most behind has the most a seed can give it; a seed that serves its fastest
    // takers lets the early finishers pull ahead while the slowest wait. Ties: fastest takers.
    // Downloading: tit-for-tat. Ties (all zero at start) keep current unchokes first, so slots do
    // not flap.
    const behind = (p: ChokeCandidate) => (seeding && p.progress ? p.progress() : 0);
    interested.sort((a, b) => behind(a) - behind(b) || score(b) - score(a) || Number(a.amChoking) - Number(b.amChoking));
    const unchoke = new Set(interested.slice(0, this.slots).map((p) => p.key));
    const rest = interested.filter((p) => !unchoke.has(p.key));
    const t = this.now();
    const stillThere = rest.some((p) => p.key === this.optimistic);
    if (!stillThere || t - this.optimisticSince >= this.optimisticMs) {
      const pick = rest.length ? rest[Math.floor(this.random() * rest.length)]! : null;
      this.optimistic = pick?.key ?? null;
      this.optimisticSince = t;
    }
    if (this.optimistic) unchoke.add(this.optimistic);
    return unchoke;
  }

  /**
   * Whether a newly interested peer may be unchoked at once: a slot is free. Slots are counted
   * over unchoked peers that are interested: one that wants nothing from us uses no upload.
   */
  hasFreeSlot(peers: readonly ChokeCandidate[]): boolean {
    return peers.filter((p) => !p.amChoking && p.peerInterested).length < this.slots + 1;
  }

  /**
   * A peer we unchoke lost interest: the interested peer that should take its slot now rather
   * than at the next rechoke (up to 10 s of an idle slot while a young swarm's pieces change
   * hands every second), by the same order as `decide`; null if there is none or no free slot.
   */
  nextToUnchoke(peers: readonly ChokeCandidate[], seeding: boolean): string | null {
    if (!this.hasFreeSlot(peers)) return null;
    const waiting = peers.filter((p) => p.peerInterested && p.amChoking);
    if (waiting.length === 0) return null;
    const score = (p: ChokeCandidate) => (seeding ? p.upRate() : p.downRate());
    const behind = (p: ChokeCandidate) => (seeding && p.progress ? p.progress() : 0);
    waiting.sort((a, b) => behind(a) - behind(b) || score(b) - score(a));
    return waiting[0]!.key;
  }
}
