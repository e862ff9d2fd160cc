/**
 * The piece picker's internal book-keeping structures, kept apart from the picking logic in
 * picker.ts: what the picker knows of one source (PeerState), the record of a piece being
 * downloaded (Download), and a set of piece indices as 32-bit words with a summary word per
 * 32 words (IndexSet), plus two small helpers over word bitmaps. Not part of the public API.
 */
import type { PeerKey } from './picker.js';

/** Highest piece priority (0 = do not download). */
export const MAX_PRIORITY = 7;

/** What the picker knows about one source. */
export interface PeerState {
  /** Has every piece (have-all, a complete bitfield, a web seed): counted once, in `seeds`. */
  seed: boolean;
  /** The pieces it has, 32 to a word, piece 0 in the high bit (as in a wire bitfield); null for seeds. */
  words: Uint32Array | null;
  count: number;
  /** Block ids (piece * blocksPerPiece + block) we asked it for and are still waiting on. */
  outstanding: Set<number>;
}

/** Book-keeping for a piece with blocks requested or received. */
export class Download {
  /** Sources asked for each block; undefined when nobody is (never an empty array). */
  readonly requesters: Array<PeerKey[] | undefined>;
  /** The source each received block came from. A received block has no requesters. */
  readonly from: Array<PeerKey | undefined>;
  received = 0;
  /** Blocks with at least one requester. */
  requested = 0;
  /** No free block lies below this one. */
  cursor = 0;
  constructor(readonly blocks: number) {
    this.requesters = new Array<PeerKey[] | undefined>(blocks).fill(undefined);
    this.from = new Array<PeerKey | undefined>(blocks).fill(undefined);
  }
  get free(): number {
    return this.blocks - this.received - this.requested;
  }
}

/**
 * A set of piece indices as 32-bit words (piece 0 in the high bit of word 0, so Math.clz32 finds
 * the lowest index), with a summary word per 32 words to skip empty stretches.
 */
export class IndexSet {
  readonly words: Uint32Array;
  readonly summary: Uint32Array;
  size = 0;
  constructor(n: number) {
    this.words = new Uint32Array(Math.ceil(n / 32));
    this.summary = new Uint32Array(Math.ceil(this.words.length / 32));
  }
  has(i: number): boolean {
    return ((this.words[i >>> 5] >>> (31 - (i & 31))) & 1) === 1;
  }
  add(i: number): void {
    const w = i >>> 5;
    const m = 1 << (31 - (i & 31));
    if (this.words[w] & m) return;
    if (this.words[w] === 0) this.summary[w >>> 5] |= 1 << (31 - (w & 31));
    this.words[w] |= m;
    this.size++;
  }
  delete(i: number): void {
    const w = i >>> 5;
    const m = 1 << (31 - (i & 31));
    if (!(this.words[w] & m)) return;
    this.words[w] &= ~m;
    if (this.words[w] === 0) this.summary[w >>> 5] &= ~(1 << (31 - (w & 31)));
    this.size--;
  }
  /** The lowest index >= from in this set and in `mask` (every index when null), or -1. */
  nextAnd(from: number, mask: Uint32Array | null): number {
    let w = from >>> 5;
    if (w >= this.words.length) return -1;
    let x = this.words[w] & (mask ? mask[w] : -1) & (-1 >>> (from & 31));
    while (x === 0) {
      w = this.nextWord(w + 1);
      if (w < 0) return -1;
      x = this.words[w] & (mask ? mask[w] : -1);
    }
    return (w << 5) + Math.clz32(x);
  }
  /** The lowest non-empty word >= w, or -1. */
  private nextWord(w: number): number {
    let s = w >>> 5;
    if (s >= this.summary.length) return -1;
    let y = this.summary[s] & (-1 >>> (w & 31));
    while (y === 0) {
      if (++s >= this.summary.length) return -1;
      y = this.summary[s];
    }
    return (s << 5) + Math.clz32(y);
  }
}

export function hasPiece(ps: PeerState, i: number): boolean {
  return ps.seed || ((ps.words![i >>> 5] >>> (31 - (i & 31))) & 1) === 1;
}

/** Calls f with every piece in a word bitmap. */
export function forEachBit(words: Uint32Array, f: (i: number) => void): void {
  for (let w = 0; w < words.length; w++) {
    for (let x = words[w]; x !== 0; ) {
      const k = Math.clz32(x);
      f((w << 5) + k);
      x &= ~(1 << (31 - k));
    }
  }
}
