/**
 * When a node may fetch a piece from an origin (ADR 008): the policy (`balanced`, `fallback`,
 * `origin-first`), the stall rules that let the origin step in when peers cannot keep up, the
 * settle period of a young swarm, and rendezvous ownership, which makes a swarm pay the origin
 * for each piece about once without a message between nodes.
 *
 * Pure decisions on an injected clock and injected views of the torrent, so the real client
 * (origins.ts) and the swarm simulator (src/sim) run the same rules.
 */
import { createHash } from 'node:crypto';

export type OriginPolicy = 'fallback' | 'balanced' | 'origin-first';
export const ORIGIN_POLICIES: readonly OriginPolicy[] = ['fallback', 'balanced', 'origin-first'];

/** No block from any peer for this long while some peer has pieces we want: peers cannot keep up. */
export const STALL_MS = 3000;
/** `fallback`: how long peers get to show up before the origin serves pieces nobody has. */
export const FALLBACK_GRACE_MS = 5000;
/** No block for this long although peers that have what we want choke us: they will not help. */
export const CHOKED_STALL_MS = 15_000;
/** `balanced`/`fallback`: one connection, one piece at a time, this long after the start. */
export const SWARM_SETTLE_MS = 2000;
/** Ownership is decided per stretch of this many bytes of consecutive pieces (at least a piece). */
export const OWNED_STRETCH_BYTES = 2 * 1024 * 1024;
/**
 * `balanced`/`fallback` with seedbank neighbours: no origin fetch this early, until their second
 * member report (member-view.ts, sent 500 ms after connecting) tells us who else fetches.
 */
export const MEMBERS_WAIT_MS = 600;
/** `balanced`: at most this long waiting for dialed peers' bitfields before using the origin. */
export const BALANCED_GRACE_MS = 2000;

/** Origin connections a whole swarm aims at (each node takes its share, at least one). */
export const SWARM_ORIGIN_CONNECTIONS = 16;
/** How often the member list (and with it ownership) is read again. */
const MEMBERS_REFRESH_MS = 500;

export interface WantedPeers {
  any: boolean;
  unchoking: boolean;
  unchokingQuietMs: number;
}

/** A connection as `wantedPeers` sees it. */
export interface WantedPeerView {
  amInterested: boolean;
  peerChoking: boolean;
  /** Requests outstanding at this peer. */
  inflight: number;
  /** When its last block came, or when we started asking (after having nothing outstanding). */
  lastBlockAt: number;
}

/** What `peersHaveWanted` reports, from the connections. */
export function wantedPeers(conns: Iterable<WantedPeerView>, now: number): WantedPeers {
  let any = false;
  let unchoking = false;
  let quiet = Infinity;
  for (const c of conns) {
    if (!c.amInterested) continue;
    any = true;
    if (c.peerChoking) continue;
    unchoking = true;
    quiet = Math.min(quiet, c.inflight > 0 ? now - c.lastBlockAt : 0);
  }
  return { any, unchoking, unchokingQuietMs: unchoking ? quiet : 0 };
}

export interface OriginRulesOptions {
  policy?: OriginPolicy;
  pieceLength: number;
  now: () => number;
  /** When a peer last delivered a block (or when the torrent started). */
  lastPeerBlockAt: () => number;
  /**
   * Connected peers that have a piece we want (we are interested): any, any not choking us, and
   * how long the least quiet of those not choking us has left our requests unanswered (0 when
   * we have none outstanding there).
   */
  peersHaveWanted: () => WantedPeers;
  /** Connections to known peers are being set up (we do not know what they have yet). */
  peersPending: () => boolean;
  /** Peers will turn up over the first seconds (trackers, a magnet); false: given peers only, or none. */
  expectPeers: boolean;
  /** How many connected peers (not origins) have piece i. */
  peerAvailability: (index: number) => number;
  /**
   * Our peer id, and those of the seedbank nodes still downloading that share the origin with us:
   * connected ones and those our neighbours report (member-view.ts).
   */
  selfId: Uint8Array;
  fetchingPeers: () => Uint8Array[];
}

export class OriginRules {
  readonly policy: OriginPolicy;
  private readonly startedAt: number;
  private readonly selfHash: number;
  /** Pieces per owned stretch. */
  private readonly stretch: number;
  private readonly idHashes = new Map<string, number>();
  private members: { at: number; ids: number[] } = { at: -Infinity, ids: [] };
  /** Ownership by stretch for the current member list. */
  private readonly owned = new Map<number, boolean>();

  constructor(private readonly o: OriginRulesOptions) {
    this.policy = o.policy ?? 'balanced';
    this.startedAt = o.now();
    this.selfHash = idHash(o.selfId);
    this.stretch = Math.max(1, Math.floor(OWNED_STRETCH_BYTES / o.pieceLength));
  }

  /** Connections per origin: one while the swarm settles (see `settling`), then all of them. */
  slots(max: number): number {
    if (this.policy === 'origin-first') return max;
    if (this.gentle()) return 1;
    // A swarm shares the origin: about SWARM_ORIGIN_CONNECTIONS connections in all. More would
    // only split the origin's uplink over more pieces in flight, and a piece helps the swarm
    // only once it is complete: a hundred pieces at 1 % each give peers nothing to trade.
    return Math.max(1, Math.min(max, Math.ceil(SWARM_ORIGIN_CONNECTIONS / (this.memberIds().length + 1))));
  }

  /** One connection, one piece at a time: while the swarm settles, or while starved. */
  private gentle(): boolean {
    return this.settling() || this.mode() === 'starved';
  }

  /**
   * Bytes one request may ask for beyond its first piece: none while the swarm settles
   * (ownership may still change as peers connect, and a piece in flight is invisible to the
   * others until it is complete) or while we are starved (see `mode`), unbounded otherwise.
   */
  maxRunBytes(): number {
    return this.policy !== 'origin-first' && this.gentle() ? 0 : Infinity;
  }

  /**
   * The first seconds of a download, while peers from trackers and PEX are still connecting:
   * a node that sees no peers yet may be the first of a swarm, not a lone node, and whatever it
   * starts fetching now under "I own everything" others will fetch too. So it goes gently (one
   * connection, one piece at a time) until the membership settles. A lone node loses little.
   */
  settling(): boolean {
    return this.o.expectPeers && this.o.now() - this.startedAt < SWARM_SETTLE_MS;
  }

  /**
   * - `stalled`: peers that have what we want and let us ask have not answered our requests for
   *   STALL_MS: they cannot keep up, and the origin steps in at full speed. (Measured from when
   *   we asked, not from our last block: in a young swarm a node often has had nothing to ask
   *   for a while, and a peer that unchokes it then is not stalling.)
   * - `starved`: nothing at all from any peer for CHOKED_STALL_MS: those that have what we want
   *   choke us (we have nothing they lack), or nobody has it (its owner left or does not use the
   *   origin). The origin sends one piece at a time: a piece our neighbours lack makes them
   *   trade with us, and it costs the origin little.
   * Peers that choke us for less long are only waiting for the next rechoke (10 s; a flash crowd
   * starts that way), and peers that have nothing we want yet are not stalling: the pieces'
   * owners are at work.
   */
  mode(): 'normal' | 'stalled' | 'starved' {
    const t = this.o.now();
    if (this.modeAt.at === t) return this.modeAt.mode;
    const w = this.o.peersHaveWanted();
    let mode: 'normal' | 'stalled' | 'starved' = 'normal';
    if (w.unchoking && w.unchokingQuietMs >= STALL_MS) mode = 'stalled';
    else if (t - this.o.lastPeerBlockAt() >= CHOKED_STALL_MS) mode = 'starved';
    this.modeAt = { at: t, mode };
    return mode;
  }

  private modeAt: { at: number; mode: 'normal' | 'stalled' | 'starved' } = { at: NaN, mode: 'normal' };

  /** Whether the origin may serve piece i to us now. */
  accept(i: number): boolean {
    if (this.policy === 'origin-first') return true;
    const t = this.o.now();
    if (this.mode() !== 'normal') return true;
    if (this.policy === 'fallback' && t - this.startedAt < FALLBACK_GRACE_MS) return false;
    // A node joining a swarm should learn what its peers have before it pays the origin, and
    // who else fetches from it (ownership decided on a partial view fetches pieces twice).
    if (t - this.startedAt < BALANCED_GRACE_MS && this.o.peersPending()) return false;
    if (this.o.expectPeers && t - this.startedAt < MEMBERS_WAIT_MS && this.memberIds().length > 0) return false;
    return this.o.peerAvailability(i) <= 0 && this.owns(i);
  }

  /**
   * Which node of the swarm fetches piece i from the origin: the one with the highest score
   * mix(id, i) among us and the connected seedbank peers that are downloading too (rendezvous
   * hashing). Every node computes the same answer from the same membership without a message,
   * so the origin serves each piece about once instead of once per node that found it missing
   * at the same moment. Peers are then asked for pieces we do not own, as for any other piece.
   */
  owns(i: number): boolean {
    const others = this.memberIds();
    if (others.length === 0) return true;
    // Owned in stretches of consecutive pieces, so one origin request can fetch several.
    const s = Math.floor(i / this.stretch);
    const known = this.owned.get(s);
    if (known !== undefined) return known;
    const k = mix32(s + 0x9e3779b9);
    const mine = mix32(this.selfHash ^ k);
    let owner = true;
    for (const o of others) if (mix32(o ^ k) > mine) {
      owner = false;
      break;
    }
    this.owned.set(s, owner);
    return owner;
  }

  /** Member hashes, recomputed at most every 500 ms (accept runs once per candidate piece). */
  private memberIds(): number[] {
    const t = this.o.now();
    if (t - this.members.at < MEMBERS_REFRESH_MS) return this.members.ids;
    this.owned.clear();
    const ids = this.o.fetchingPeers().map((id) => {
      const hex = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
      let h = this.idHashes.get(hex);
      if (h === undefined) this.idHashes.set(hex, (h = idHash(id)));
      return h;
    });
    this.members = { at: t, ids };
    return ids;
  }
}

function idHash(id: Uint8Array): number {
  return createHash('sha1').update(id).digest().readUInt32BE(0);
}

/** A 32-bit integer mix (murmur3 finaliser): nearby inputs give unrelated outputs. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
