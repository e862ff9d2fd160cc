/**
 * The piece picker: which blocks to ask which source for next. A pure data structure: no sockets,
 * no timers, no I/O; the clock and the random source are injected. The torrent feeds it what each
 * source has and what arrived; it answers with block requests and keeps the books (who was asked
 * for what, who sent what). PICKER-NOTES.md beside this file explains the order and the costs.
 *
 * Not for: timeouts (the caller decides when a request has failed), hashing, storage, choking.
 * BEPs: 3 (pieces and blocks), 6 (have-all and allowed-fast), 19 (a web seed is just a source
 * that has every piece).
 */
import { Bitfield } from '../codec/bitfield.js';
import { checkPickerInvariants } from './picker-invariants.js';
import { Download, IndexSet, MAX_PRIORITY, type PeerState, forEachBit, hasPiece } from './picker-sets.js';

export { PickerInvariantError } from './picker-invariants.js';

/** Opaque id of a source of blocks (a wire peer or a web seed). */
export type PeerKey = string;
export interface BlockRequest {
  index: number;
  begin: number;
  length: number;
}
export type PickMode = 'rarest-first' | 'sequential';
/** 0 = do not download; 1 = normal (the default); 7 = highest. */
export type Priority = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

export const DEFAULT_BLOCK_SIZE = 16384;
export const DEFAULT_RANDOM_FIRST_PIECES = 4;
export const DEFAULT_PRIORITY: Priority = 1;
export { MAX_PRIORITY };
/**
 * A source holding fewer than 1/SPARSE_PEER_RATIO of the pieces is matched by intersecting its
 * bitfield with the wanted pieces, not by walking the rarity buckets (where it would skip about
 * SPARSE_PEER_RATIO pieces for each one it has).
 */
const SPARSE_PEER_RATIO = 16;

export interface PickerOptions {
  numPieces: number;
  pieceLength: number;
  /** Bytes in the piece stream; the last piece may be shorter than the others. */
  totalLength: number;
  /** @default 16384 */
  blockSize?: number;
  /**
   * Size of piece `index`, for torrents where pieces other than the last are short (v2: the last
   * piece of every file). @default from pieceLength and totalLength
   */
  pieceSize?: (index: number) => number;
  /** Uniform in [0, 1). @default Math.random */
  random?: () => number;
  /** Milliseconds, compared with deadlines. @default Date.now */
  now?: () => number;
  /** Until we have this many pieces, start random pieces instead of the rarest. @default 4 */
  randomFirstPieces?: number;
}

export interface PickOptions {
  /** BEP 6: pieces this source lets us request while it chokes us. */
  allowedFast?: ReadonlySet<number>;
  /** When true, only `allowedFast` pieces are picked. */
  choked?: boolean;
  /**
   * Only pieces for which this returns true (a web seed's origin policy: e.g. "pieces no peer
   * has"). Fresh pieces are then taken rarest first even while we have few pieces: a random
   * first piece helps a peer trade soon, which an origin does not need.
   */
  accept?: (index: number) => boolean;
}

export interface BlockReceipt {
  /** The block was already received (or its piece is had): drop the data. */
  duplicate: boolean;
  /** Every block of the piece is now received: hash it, then markHave or pieceFailed. */
  pieceComplete: boolean;
  /** Other sources that had requested this block (end game) and should get a cancel. */
  cancelFrom: PeerKey[];
}

export class PiecePicker {
  readonly numPieces: number;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly blockSize: number;
  /** Most blocks in one piece; block ids are piece * blocksPerPiece + block. */
  private readonly blocksPerPiece: number;
  private readonly sizes: Uint32Array | null;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly randomFirstPieces: number;
  private pickMode: PickMode = 'rarest-first';

  private readonly haveBf: Bitfield;
  private haveCount = 0;
  /** Pieces with priority > 0 that we do not have. */
  private wantedMissing: number;
  private readonly prio: Uint8Array;
  /** Sources that are not seeds and have each piece. availability() adds `seeds`. */
  private readonly avail: Int32Array;
  private seeds = 0;
  private readonly peers = new Map<PeerKey, PeerState>();

  /**
   * Fresh pieces: wanted, not had, nothing requested or received. By priority, as an index set
   * (index order: sequential mode, random first, sparse sources) and in buckets by availability
   * (rarest first). buckets[p][a] is in random order; slot[i] is i's position in its bucket.
   */
  private readonly fresh: IndexSet[] = [];
  private readonly buckets: number[][][] = [];
  private readonly slot: Int32Array;
  private readonly downloads = new Map<number, Download>();
  /** Downloads with a free block (neither requested nor received), by priority. */
  private readonly open: Array<Set<number>> = [];
  /** Earliest first; `deadlineOf` mirrors it. */
  private deadlines: Array<{ index: number; at: number }> = [];
  private readonly deadlineOf = new Map<number, number>();
  private endGame = false;

  constructor(opts: PickerOptions) {
    const { numPieces, pieceLength, totalLength } = opts;
    const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!Number.isSafeInteger(numPieces) || numPieces < 1) throw new RangeError(`numPieces ${numPieces}`);
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize ${blockSize}`);
    if (!Number.isSafeInteger(pieceLength) || pieceLength < 1) throw new RangeError(`pieceLength ${pieceLength}`);
    const last = totalLength - (numPieces - 1) * pieceLength;
    if (!Number.isSafeInteger(totalLength) || last < 1 || last > pieceLength) {
      throw new RangeError(`totalLength ${totalLength} does not fit ${numPieces} pieces of ${pieceLength}`);
    }
    this.numPieces = numPieces;
    this.pieceLength = pieceLength;
    this.totalLength = totalLength;
    this.blockSize = blockSize;
    this.blocksPerPiece = Math.ceil(pieceLength / blockSize);
    if (this.blocksPerPiece * numPieces > Number.MAX_SAFE_INTEGER) throw new RangeError('too many blocks');
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.randomFirstPieces = opts.randomFirstPieces ?? DEFAULT_RANDOM_FIRST_PIECES;
    this.sizes = null;
    if (opts.pieceSize) {
      this.sizes = new Uint32Array(numPieces);
      for (let i = 0; i < numPieces; i++) {
        const s = opts.pieceSize(i);
        if (!Number.isSafeInteger(s) || s < 1 || s > pieceLength) throw new RangeError(`piece ${i} of ${s} bytes`);
        this.sizes[i] = s;
      }
    }
    this.haveBf = new Bitfield(numPieces);
    this.prio = new Uint8Array(numPieces).fill(DEFAULT_PRIORITY);
    this.wantedMissing = numPieces;
    this.avail = new Int32Array(numPieces);
    this.slot = new Int32Array(numPieces);
    for (let p = 0; p <= MAX_PRIORITY; p++) {
      this.fresh.push(new IndexSet(numPieces));
      this.buckets.push([]);
      this.open.push(new Set());
    }
    for (let i = 0; i < numPieces; i++) this.freshInsert(i);
  }

  // ---- pieces and blocks ----

  /** Bytes in piece `index`. */
  pieceSize(index: number): number {
    if (this.sizes) return this.sizes[index];
    return index === this.numPieces - 1 ? this.totalLength - index * this.pieceLength : this.pieceLength;
  }

  blocksIn(index: number): number {
    return Math.ceil(this.pieceSize(index) / this.blockSize);
  }

  /** True if `req` names exactly one block of this torrent (validate wire input with this). */
  isValidBlock(req: BlockRequest): boolean {
    const { index, begin, length } = req;
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.numPieces) return false;
    if (!Number.isSafeInteger(begin) || begin < 0 || begin % this.blockSize !== 0) return false;
    const size = this.pieceSize(index);
    return begin < size && length === Math.min(this.blockSize, size - begin);
  }

  private blockNumber(req: BlockRequest): number {
    if (!this.isValidBlock(req)) throw new RangeError(`not a block: ${JSON.stringify(req)}`);
    return req.begin / this.blockSize;
  }

  private blockAt(id: number): BlockRequest {
    const index = Math.floor(id / this.blocksPerPiece);
    const begin = (id - index * this.blocksPerPiece) * this.blockSize;
    return { index, begin, length: Math.min(this.blockSize, this.pieceSize(index) - begin) };
  }

  private checkIndex(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.numPieces) throw new RangeError(`piece ${index} out of range`);
  }

  // ---- availability ----

  peerHasAll(peer: PeerKey): void {
    const ps = this.peerState(peer);
    this.forgetAvailability(ps);
    ps.seed = true;
    ps.words = null;
    ps.count = this.numPieces;
    this.seeds++;
  }

  /** Replaces what we knew of this source's pieces; its outstanding requests stay. */
  peerBitfield(peer: PeerKey, bf: Bitfield): void {
    if (bf.size !== this.numPieces) throw new RangeError(`bitfield of ${bf.size} pieces for ${this.numPieces}`);
    if (bf.complete) return this.peerHasAll(peer);
    const ps = this.peerState(peer);
    this.forgetAvailability(ps);
    const words = new Uint32Array(Math.ceil(this.numPieces / 32));
    const bytes = bf.bytes;
    for (let w = 0; w < words.length; w++) {
      const k = w * 4;
      words[w] = ((bytes[k] << 24) | ((bytes[k + 1] ?? 0) << 16) | ((bytes[k + 2] ?? 0) << 8) | (bytes[k + 3] ?? 0)) >>> 0;
    }
    ps.words = words;
    ps.count = bf.count;
    forEachBit(words, (i) => this.bump(i, 1));
  }

  peerHave(peer: PeerKey, index: number): void {
    this.checkIndex(index);
    const ps = this.peerState(peer);
    if (hasPiece(ps, index)) return;
    ps.words![index >>> 5] |= 1 << (31 - (index & 31));
    ps.count++;
    this.bump(index, 1);
    // A source that completes becomes a seed: one O(N) pass now, paid for by the N haves.
    if (ps.count === this.numPieces) this.peerHasAll(peer);
  }

  /** Forgets the source: its availability and its outstanding requests (which become free). */
  peerGone(peer: PeerKey): void {
    const ps = this.peers.get(peer);
    if (!ps) return;
    for (const id of ps.outstanding) {
      const i = Math.floor(id / this.blocksPerPiece);
      const d = this.downloads.get(i)!;
      this.unrequest(peer, d, id - i * this.blocksPerPiece);
      this.settle(i, d);
    }
    ps.outstanding.clear();
    this.forgetAvailability(ps);
    this.peers.delete(peer);
    this.refreshEndGame();
  }

  /** How many connected sources have piece `index`. */
  availability(index: number): number {
    this.checkIndex(index);
    return this.avail[index] + this.seeds;
  }

  private peerState(peer: PeerKey): PeerState {
    let ps = this.peers.get(peer);
    if (!ps) {
      ps = { seed: false, words: new Uint32Array(Math.ceil(this.numPieces / 32)), count: 0, outstanding: new Set() };
      this.peers.set(peer, ps);
    }
    return ps;
  }

  /** Removes the source's pieces from the counts, leaving it a source with no pieces. */
  private forgetAvailability(ps: PeerState): void {
    if (ps.seed) this.seeds--;
    else forEachBit(ps.words!, (i) => this.bump(i, -1));
    ps.seed = false;
    ps.words = new Uint32Array(Math.ceil(this.numPieces / 32));
    ps.count = 0;
  }

  /** Changes a piece's availability, moving it between buckets if it is fresh. */
  private bump(i: number, delta: number): void {
    if (this.isFresh(i)) {
      this.bucketRemove(i);
      this.avail[i] += delta;
      this.bucketInsert(i);
    } else this.avail[i] += delta;
  }

  // ---- fresh pieces ----

  private isFresh(i: number): boolean {
    return this.prio[i] > 0 && this.fresh[this.prio[i]].has(i);
  }

  private freshInsert(i: number): void {
    this.bucketInsert(i);
    this.fresh[this.prio[i]].add(i);
  }

  private freshRemove(i: number): void {
    this.bucketRemove(i);
    this.fresh[this.prio[i]].delete(i);
  }

  /** Puts a piece in its bucket at a uniformly random position (inside-out shuffle). */
  private bucketInsert(i: number): void {
    const p = this.prio[i];
    const a = this.avail[i];
    const bs = this.buckets[p];
    while (bs.length <= a) bs.push([]);
    const b = bs[a];
    const j = Math.min(b.length, Math.floor(this.random() * (b.length + 1)));
    if (j === b.length) {
      this.slot[i] = b.length;
      b.push(i);
    } else {
      const moved = b[j];
      this.slot[moved] = b.length;
      b.push(moved);
      b[j] = i;
      this.slot[i] = j;
    }
  }

  private bucketRemove(i: number): void {
    const b = this.buckets[this.prio[i]][this.avail[i]];
    const j = this.slot[i];
    const last = b.pop()!;
    if (last !== i) {
      b[j] = last;
      this.slot[last] = j;
    }
  }

  // ---- what we want ----

  setPriority(index: number, priority: Priority): void {
    this.checkIndex(index);
    if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) throw new RangeError(`priority ${priority}`);
    const old = this.prio[index];
    if (old === priority) return;
    const d = this.downloads.get(index);
    if (this.isFresh(index)) this.freshRemove(index);
    this.open[old].delete(index);
    this.prio[index] = priority;
    if (!this.haveBf.has(index)) {
      this.wantedMissing += (priority > 0 ? 1 : 0) - (old > 0 ? 1 : 0);
      if (d) this.settle(index, d);
      else if (priority > 0) this.freshInsert(index);
    }
    this.refreshEndGame();
  }

  priority(index: number): Priority {
    this.checkIndex(index);
    return this.prio[index] as Priority;
  }

  /**
   * Priorities for piece ranges [first, end) (e.g. from layout.filePieces). A piece shared by
   * several ranges gets the highest of their priorities; pieces in no range keep theirs.
   */
  setFilePriorities(ranges: ReadonlyArray<{ first: number; end: number; priority: Priority }>): void {
    const best = new Map<number, Priority>();
    for (const { first, end, priority } of ranges) {
      for (let i = first; i < end; i++) {
        const b = best.get(i);
        if (b === undefined || priority > b) best.set(i, priority);
      }
    }
    for (const [i, p] of best) this.setPriority(i, p);
  }

  get mode(): PickMode {
    return this.pickMode;
  }

  setMode(mode: PickMode): void {
    if (mode !== 'rarest-first' && mode !== 'sequential') throw new RangeError(`mode ${String(mode)}`);
    this.pickMode = mode;
  }

  /** Pieces with a deadline go first, earliest first; past its deadline a piece is requested twice. */
  setDeadline(index: number, atMs: number | null): void {
    this.checkIndex(index);
    if (atMs !== null && !Number.isFinite(atMs)) throw new RangeError(`deadline ${atMs}`);
    if (this.deadlineOf.has(index)) {
      this.deadlineOf.delete(index);
      this.deadlines = this.deadlines.filter((d) => d.index !== index);
    }
    if (atMs === null || this.haveBf.has(index)) return;
    this.deadlineOf.set(index, atMs);
    let k = this.deadlines.length;
    while (k > 0 && (this.deadlines[k - 1].at > atMs || (this.deadlines[k - 1].at === atMs && this.deadlines[k - 1].index > index))) k--;
    this.deadlines.splice(k, 0, { index, at: atMs });
  }

  deadline(index: number): number | null {
    return this.deadlineOf.get(index) ?? null;
  }

  // ---- our progress ----

  have(index: number): boolean {
    this.checkIndex(index);
    return this.haveBf.has(index);
  }

  /** Priority > 0 and not had: a source with this piece is interesting. */
  wants(index: number): boolean {
    this.checkIndex(index);
    return this.prio[index] > 0 && !this.haveBf.has(index);
  }

  haveBitfield(): Bitfield {
    return new Bitfield(this.numPieces, this.haveBf.bytes);
  }

  /** The piece is verified (or loaded from resume data). Any requests still out for it are dropped. */
  markHave(index: number): void {
    this.checkIndex(index);
    if (this.haveBf.has(index)) return;
    const d = this.downloads.get(index);
    if (d) {
      for (let b = 0; b < d.blocks; b++) {
        for (const peer of d.requesters[b] ?? []) this.peers.get(peer)!.outstanding.delete(index * this.blocksPerPiece + b);
      }
      this.downloads.delete(index);
      this.open[this.prio[index]].delete(index);
    }
    if (this.isFresh(index)) this.freshRemove(index);
    this.haveBf.set(index);
    this.haveCount++;
    if (this.prio[index] > 0) this.wantedMissing--;
    this.setDeadline(index, null);
    this.refreshEndGame();
  }

  /**
   * The piece failed its hash check: its received blocks are forgotten so that they are requested
   * again. Returns the sources that sent them, once each, for blame.
   */
  pieceFailed(index: number): PeerKey[] {
    this.checkIndex(index);
    const d = this.downloads.get(index);
    if (!d) return [];
    const contributors = new Set<PeerKey>();
    for (let b = 0; b < d.blocks; b++) {
      const from = d.from[b];
      if (from === undefined) continue;
      contributors.add(from);
      d.from[b] = undefined;
      if (b < d.cursor) d.cursor = b;
    }
    d.received = 0;
    this.settle(index, d);
    this.refreshEndGame();
    return [...contributors];
  }

  /** Progress of a piece being downloaded, or null when nothing of it is requested or received. */
  progress(index: number): { blocks: number; received: number; requested: number } | null {
    const d = this.downloads.get(index);
    return d ? { blocks: d.blocks, received: d.received, requested: d.requested } : null;
  }

  // ---- requests ----

  /**
   * Up to `max` blocks to request from `peer`, marked as requested by it. Order (PICKER-NOTES.md):
   * deadlines; then for each priority from 7 down to 1, pieces already started, then new pieces
   * (rarest first, random among equals, random while we have few pieces; or lowest index first);
   * then, in end game, blocks already requested from other sources.
   */
  pick(peer: PeerKey, max: number, opts: PickOptions = {}): BlockRequest[] {
    const ps = this.peers.get(peer);
    const out: number[] = [];
    if (!ps || !(max > 0) || this.wantedMissing === 0) return [];
    this.accept = opts.accept ?? null;
    try {
      this.pickInto(peer, ps, max, opts, out);
    } finally {
      this.accept = null;
    }
    return out.map((id) => this.blockAt(id));
  }

  /**
   * Up to `max` free blocks of piece `index` for `peer` (lowest first), if the piece is wanted,
   * not had, and the peer has it; [] otherwise. For sources that fetch runs of consecutive pieces
   * (web seeds: one HTTP range instead of many).
   */
  pickPiece(peer: PeerKey, index: number, max: number): BlockRequest[] {
    const ps = this.peers.get(peer);
    if (!ps || !(max > 0) || !Number.isSafeInteger(index) || index < 0 || index >= this.numPieces) return [];
    if (this.prio[index] === 0 || this.haveBf.has(index) || !hasPiece(ps, index)) return [];
    const out: number[] = [];
    this.takeFree(peer, ps, index, max, out);
    this.refreshEndGame();
    return out.map((id) => this.blockAt(id));
  }

  /** The `accept` of the pick in progress. */
  private accept: ((index: number) => boolean) | null = null;

  private ok(ps: PeerState, i: number): boolean {
    return hasPiece(ps, i) && (this.accept === null || this.accept(i));
  }

  private pickInto(peer: PeerKey, ps: PeerState, max: number, opts: PickOptions, out: number[]): void {
    if (opts.choked) {
      this.pickAllowedFast(peer, ps, max, opts.allowedFast, out);
    } else {
      this.pickDeadlines(peer, ps, max, out);
      for (let p = MAX_PRIORITY; p >= 1 && out.length < max; p--) {
        this.pickStarted(peer, ps, p, max, out);
        if (out.length < max) this.pickFresh(peer, ps, p, max, out);
      }
      this.refreshEndGame();
      if (out.length < max && this.endGame) this.pickDuplicates(peer, ps, max, out, null);
    }
    this.refreshEndGame();
  }

  private pickDeadlines(peer: PeerKey, ps: PeerState, max: number, out: number[]): void {
    if (this.deadlines.length === 0) return;
    const now = this.now();
    for (const { index: i, at } of this.deadlines) {
      if (out.length >= max) return;
      if (this.prio[i] === 0 || !this.ok(ps, i)) continue;
      this.takeFree(peer, ps, i, max, out);
      if (out.length < max && now >= at) this.takeDuplicates(peer, ps, i, max, out);
    }
  }

  /** Piece affinity: finish what is started before starting more. */
  private pickStarted(peer: PeerKey, ps: PeerState, p: number, max: number, out: number[]): void {
    if (this.open[p].size === 0) return;
    const started = [...this.open[p]].filter((i) => this.ok(ps, i));
    if (this.pickMode === 'sequential') started.sort((a, b) => a - b);
    for (const i of started) {
      if (out.length >= max) return;
      this.takeFree(peer, ps, i, max, out);
    }
  }

  private pickFresh(peer: PeerKey, ps: PeerState, p: number, max: number, out: number[]): void {
    const set = this.fresh[p];
    if (set.size === 0) return;
    const mask = ps.words;
    if (this.pickMode === 'sequential') {
      for (let i = set.nextAnd(0, mask); i >= 0 && out.length < max; i = set.nextAnd(i + 1, mask)) if (this.ok(ps, i)) this.takeFree(peer, ps, i, max, out);
    } else if (this.haveCount < this.randomFirstPieces && this.accept === null) {
      // Something to trade soon beats rarity: a random piece is as likely as the rarest to be
      // wanted by others, and rarest-first would send every new peer to the same few pieces.
      while (out.length < max) {
        const start = Math.min(this.numPieces - 1, Math.floor(this.random() * this.numPieces));
        let i = set.nextAnd(start, mask);
        if (i < 0) i = set.nextAnd(0, mask);
        if (i < 0) return;
        this.takeFree(peer, ps, i, max, out);
      }
    } else if (ps.seed || ps.count * SPARSE_PEER_RATIO >= this.numPieces) {
      const bs = this.buckets[p];
      // A non-seed source cannot have a piece whose non-seed count is 0.
      for (let a = ps.seed ? 0 : 1; a < bs.length && out.length < max; a++) {
        const b = bs[a];
        for (let j = 0; j < b.length && out.length < max; ) {
          // takeFree moves the bucket's last piece into slot j: look at j again.
          if (this.ok(ps, b[j])) this.takeFree(peer, ps, b[j], max, out);
          else j++;
        }
      }
    } else {
      // One pass over the source's fresh pieces per availability level used (usually one).
      while (out.length < max) {
        let min = Infinity;
        const level: number[] = [];
        const words = set.words;
        for (let w = 0; w < words.length; w++) {
          for (let x = words[w] & mask![w]; x !== 0; ) {
            const k = Math.clz32(x);
            x &= ~(1 << (31 - k));
            const i = (w << 5) + k;
            if (this.accept !== null && !this.accept(i)) continue;
            const a = this.avail[i];
            if (a < min) {
              min = a;
              level.length = 0;
            }
            if (a === min) level.push(i);
          }
        }
        if (level.length === 0) return;
        while (level.length > 0 && out.length < max) {
          const j = Math.min(level.length - 1, Math.floor(this.random() * level.length));
          const i = level[j];
          level[j] = level[level.length - 1];
          level.pop();
          this.takeFree(peer, ps, i, max, out);
        }
      }
    }
  }

  /** Choked: only allowed-fast pieces, best first by the same rules. */
  private pickAllowedFast(peer: PeerKey, ps: PeerState, max: number, allowed: ReadonlySet<number> | undefined, out: number[]): void {
    if (!allowed || allowed.size === 0) return;
    const seq = this.pickMode === 'sequential';
    const key = (i: number) => this.deadlineOf.get(i) ?? Infinity;
    const pieces = [...allowed]
      .filter((i) => Number.isSafeInteger(i) && i >= 0 && i < this.numPieces && this.prio[i] > 0 && !this.haveBf.has(i) && hasPiece(ps, i))
      .sort(
        (a, b) =>
          key(a) - key(b) ||
          this.prio[b] - this.prio[a] ||
          Number(this.downloads.has(b)) - Number(this.downloads.has(a)) ||
          (seq ? 0 : this.avail[a] - this.avail[b]) ||
          a - b,
      );
    const now = this.deadlines.length > 0 ? this.now() : 0;
    for (const i of pieces) {
      if (out.length >= max) return;
      this.takeFree(peer, ps, i, max, out);
      if (out.length < max && now >= key(i)) this.takeDuplicates(peer, ps, i, max, out);
    }
    this.refreshEndGame();
    if (out.length < max && this.endGame) this.pickDuplicates(peer, ps, max, out, pieces);
  }

  /** End game: blocks other sources were asked for, least-asked first, so the last pieces finish fast. */
  private pickDuplicates(peer: PeerKey, ps: PeerState, max: number, out: number[], only: number[] | null): void {
    const cands: Array<{ i: number; b: number; asked: number }> = [];
    for (const i of only ?? this.downloads.keys()) {
      const d = this.downloads.get(i);
      if (!d || this.prio[i] === 0 || !this.ok(ps, i)) continue;
      for (let b = 0; b < d.blocks; b++) {
        const r = d.requesters[b];
        if (r && !r.includes(peer)) cands.push({ i, b, asked: r.length });
      }
    }
    const dl = (i: number) => this.deadlineOf.get(i) ?? Infinity;
    cands.sort((x, y) => dl(x.i) - dl(y.i) || this.prio[y.i] - this.prio[x.i] || x.asked - y.asked || x.i - y.i || x.b - y.b);
    for (const { i, b } of cands) {
      if (out.length >= max) return;
      this.request(peer, ps, i, this.downloads.get(i)!, b);
      out.push(i * this.blocksPerPiece + b);
    }
  }

  /** Requests free blocks of piece i, lowest first, starting its download if it is fresh. */
  private takeFree(peer: PeerKey, ps: PeerState, i: number, max: number, out: number[]): void {
    let d = this.downloads.get(i);
    if (!d) {
      if (!this.isFresh(i)) return;
      this.freshRemove(i);
      d = new Download(this.blocksIn(i));
      this.downloads.set(i, d);
    }
    if (d.free === 0) return;
    let b = d.cursor;
    for (; b < d.blocks && out.length < max; b++) {
      if (d.requesters[b] || d.from[b] !== undefined) continue;
      this.request(peer, ps, i, d, b);
      out.push(i * this.blocksPerPiece + b);
    }
    d.cursor = b;
    this.settle(i, d);
  }

  /** Requests blocks of piece i that others were asked for and this source was not. */
  private takeDuplicates(peer: PeerKey, ps: PeerState, i: number, max: number, out: number[]): void {
    const d = this.downloads.get(i);
    if (!d) return;
    for (let b = 0; b < d.blocks && out.length < max; b++) {
      const r = d.requesters[b];
      if (!r || r.includes(peer)) continue;
      this.request(peer, ps, i, d, b);
      out.push(i * this.blocksPerPiece + b);
    }
  }

  private request(peer: PeerKey, ps: PeerState, i: number, d: Download, b: number): void {
    const r = d.requesters[b];
    if (r) r.push(peer);
    else {
      d.requesters[b] = [peer];
      d.requested++;
    }
    ps.outstanding.add(i * this.blocksPerPiece + b);
  }

  /** Removes `peer` from block b's requesters (not from its outstanding set). */
  private unrequest(peer: PeerKey, d: Download, b: number): boolean {
    const r = d.requesters[b];
    const k = r ? r.indexOf(peer) : -1;
    if (k < 0) return false;
    r!.splice(k, 1);
    if (r!.length === 0) {
      d.requesters[b] = undefined;
      d.requested--;
      if (b < d.cursor) d.cursor = b;
    }
    return true;
  }

  /** After a download changed: drop it if empty (back to fresh), else fix its open-set membership. */
  private settle(i: number, d: Download): void {
    const p = this.prio[i];
    if (d.received === 0 && d.requested === 0) {
      this.downloads.delete(i);
      this.open[p].delete(i);
      if (p > 0 && !this.haveBf.has(i)) this.freshInsert(i);
    } else if (d.free > 0) this.open[p].add(i);
    else this.open[p].delete(i);
  }

  blockReceived(peer: PeerKey, req: BlockRequest): BlockReceipt {
    const b = this.blockNumber(req);
    const i = req.index;
    const id = i * this.blocksPerPiece + b;
    let d = this.downloads.get(i);
    if (this.haveBf.has(i) || (d && d.from[b] !== undefined)) {
      // A received block has no requesters left, so there is nothing to release.
      return { duplicate: true, pieceComplete: false, cancelFrom: [] };
    }
    if (!d) {
      // Unrequested (or its request already failed): the data is still good to keep.
      if (this.isFresh(i)) this.freshRemove(i);
      d = new Download(this.blocksIn(i));
      this.downloads.set(i, d);
    }
    const requesters = d.requesters[b] ?? [];
    for (const r of requesters) this.peers.get(r)!.outstanding.delete(id);
    if (requesters.length > 0) d.requested--;
    d.requesters[b] = undefined;
    d.from[b] = peer;
    d.received++;
    this.settle(i, d);
    this.refreshEndGame();
    return { duplicate: false, pieceComplete: d.received === d.blocks, cancelFrom: requesters.filter((r) => r !== peer) };
  }

  /** The request was rejected, timed out or dropped by a choke: the block becomes free again. */
  requestFailed(peer: PeerKey, req: BlockRequest): void {
    const b = this.blockNumber(req);
    const d = this.downloads.get(req.index);
    const ps = this.peers.get(peer);
    if (!d || !ps || !this.unrequest(peer, d, b)) return;
    ps.outstanding.delete(req.index * this.blocksPerPiece + b);
    this.settle(req.index, d);
    this.refreshEndGame();
  }

  outstanding(peer: PeerKey): BlockRequest[] {
    const ps = this.peers.get(peer);
    return ps ? [...ps.outstanding].sort((a, b) => a - b).map((id) => this.blockAt(id)) : [];
  }

  // ---- state ----

  wantedRemaining(): number {
    return this.wantedMissing;
  }

  isDone(): boolean {
    return this.wantedMissing === 0;
  }

  /** Every missing wanted block is requested or received. */
  inEndGame(): boolean {
    return this.endGame;
  }

  private refreshEndGame(): void {
    let free = 0;
    for (let p = 1; p <= MAX_PRIORITY; p++) free += this.fresh[p].size + this.open[p].size;
    this.endGame = this.wantedMissing > 0 && free === 0;
  }

  /** Recomputes everything from scratch and throws PickerInvariantError on any mismatch. O(N * peers). */
  checkInvariants(): void {
    checkPickerInvariants({
      numPieces: this.numPieces,
      blocksPerPiece: this.blocksPerPiece,
      blocksIn: (index) => this.blocksIn(index),
      haveBf: this.haveBf,
      haveCount: this.haveCount,
      wantedMissing: this.wantedMissing,
      prio: this.prio,
      avail: this.avail,
      seeds: this.seeds,
      peers: this.peers,
      fresh: this.fresh,
      buckets: this.buckets,
      slot: this.slot,
      downloads: this.downloads,
      open: this.open,
      deadlines: this.deadlines,
      deadlineOf: this.deadlineOf,
      endGame: this.endGame,
    });
  }
}
