/**
 * The piece picker's self-check: recomputes every count and index of a PiecePicker from scratch
 * and throws PickerInvariantError on any mismatch. PiecePicker.checkInvariants() hands it a view of
 * its internal fields (PickerState); tests call checkInvariants() after each step.
 */
import { type Bitfield } from '../codec/bitfield.js';
import { SeedbankError } from '../errors.js';
import { type PeerKey } from './picker.js';
import { type Download, type IndexSet, MAX_PRIORITY, type PeerState, forEachBit } from './picker-sets.js';

export class PickerInvariantError extends SeedbankError {
  override name = 'PickerInvariantError';
  constructor(message: string) {
    super('PICKER_INVARIANT', message);
  }
}

/** The internal fields of a PiecePicker that checkPickerInvariants reads (see picker.ts for each). */
export interface PickerState {
  readonly numPieces: number;
  readonly blocksPerPiece: number;
  blocksIn(index: number): number;
  readonly haveBf: Bitfield;
  readonly haveCount: number;
  readonly wantedMissing: number;
  readonly prio: Uint8Array;
  readonly avail: Int32Array;
  readonly seeds: number;
  readonly peers: ReadonlyMap<PeerKey, PeerState>;
  readonly fresh: readonly IndexSet[];
  readonly buckets: ReadonlyArray<ReadonlyArray<readonly number[]>>;
  readonly slot: Int32Array;
  readonly downloads: ReadonlyMap<number, Download>;
  readonly open: ReadonlyArray<ReadonlySet<number>>;
  readonly deadlines: ReadonlyArray<{ index: number; at: number }>;
  readonly deadlineOf: ReadonlyMap<number, number>;
  readonly endGame: boolean;
}

/** Recomputes everything from scratch and throws PickerInvariantError on any mismatch. O(N * peers). */
export function checkPickerInvariants(s: PickerState): void {
  const fail = (msg: string): never => {
    throw new PickerInvariantError(msg);
  };
  const N = s.numPieces;
  const bpp = s.blocksPerPiece;
  // Availability equals the sum over sources.
  const count = new Int32Array(N);
  let seeds = 0;
  for (const [key, ps] of s.peers) {
    if (ps.seed) {
      seeds++;
      if (ps.words !== null || ps.count !== N) fail(`seed ${key} has a bitmap or count ${ps.count}`);
      continue;
    }
    let c = 0;
    forEachBit(ps.words!, (i) => {
      if (i >= N) fail(`peer ${key} has piece ${i} beyond the end`);
      count[i]++;
      c++;
    });
    if (c !== ps.count) fail(`peer ${key} count ${ps.count}, bitmap ${c}`);
    if (c === N) fail(`peer ${key} has every piece but is not a seed`);
  }
  if (seeds !== s.seeds) fail(`seeds ${s.seeds}, recounted ${seeds}`);
  let have = 0;
  let wantedMissing = 0;
  const freshSize = new Array<number>(MAX_PRIORITY + 1).fill(0);
  for (let i = 0; i < N; i++) {
    if (count[i] !== s.avail[i]) fail(`piece ${i} availability ${s.avail[i]}, recounted ${count[i]}`);
    const p = s.prio[i];
    if (p > MAX_PRIORITY) fail(`piece ${i} priority ${p}`);
    const had = s.haveBf.has(i);
    if (had) have++;
    else if (p > 0) wantedMissing++;
    if (had && s.downloads.has(i)) fail(`had piece ${i} is partially tracked`);
    if (had && s.deadlineOf.has(i)) fail(`had piece ${i} has a deadline`);
    const fresh = p > 0 && !had && !s.downloads.has(i);
    for (let q = 1; q <= MAX_PRIORITY; q++) {
      if (s.fresh[q].has(i) !== (fresh && q === p)) fail(`piece ${i} fresh-set ${q} membership wrong`);
    }
    if (fresh) {
      freshSize[p]++;
      if (s.buckets[p][s.avail[i]]?.[s.slot[i]] !== i) fail(`piece ${i} not in its bucket`);
    }
  }
  if (have !== s.haveCount || have !== s.haveBf.count) fail(`have count ${s.haveCount}, recounted ${have}`);
  if (wantedMissing !== s.wantedMissing) fail(`wanted missing ${s.wantedMissing}, recounted ${wantedMissing}`);
  for (let p = 0; p <= MAX_PRIORITY; p++) {
    const set = s.fresh[p];
    const inBuckets = s.buckets[p].reduce((s, b) => s + b.length, 0);
    if (set.size !== freshSize[p] || inBuckets !== freshSize[p]) fail(`priority ${p}: fresh ${set.size}, buckets ${inBuckets}, recounted ${freshSize[p]}`);
    for (let w = 0; w < set.words.length; w++) {
      if ((set.words[w] !== 0) !== (((set.summary[w >>> 5] >>> (31 - (w & 31))) & 1) === 1)) fail(`priority ${p}: summary bit ${w} wrong`);
    }
    for (const i of s.open[p]) {
      const d = s.downloads.get(i);
      if (!d || s.prio[i] !== p || d.free === 0) fail(`piece ${i} wrongly in open set ${p}`);
    }
  }
  // Downloads against per-source outstanding sets.
  let requests = 0;
  for (const [i, d] of s.downloads) {
    if (d.blocks !== s.blocksIn(i)) fail(`piece ${i} tracked with ${d.blocks} blocks`);
    let received = 0;
    let requested = 0;
    let firstFree = d.blocks;
    for (let b = 0; b < d.blocks; b++) {
      const r = d.requesters[b];
      if (d.from[b] !== undefined) received++;
      if (r) {
        requested++;
        if (r.length === 0 || new Set(r).size !== r.length) fail(`piece ${i} block ${b} requesters ${JSON.stringify(r)}`);
        if (d.from[b] !== undefined) fail(`piece ${i} block ${b} both received and requested`);
        for (const peer of r) {
          requests++;
          if (!s.peers.get(peer)?.outstanding.has(i * bpp + b)) fail(`piece ${i} block ${b} requested by ${peer}, not in its outstanding list`);
        }
      } else if (d.from[b] === undefined && firstFree === d.blocks) firstFree = b;
    }
    if (received !== d.received || requested !== d.requested) fail(`piece ${i} counts ${d.received}/${d.requested}, recounted ${received}/${requested}`);
    if (received + requested === 0) fail(`piece ${i} tracked with nothing requested or received`);
    if (d.cursor > firstFree) fail(`piece ${i} cursor ${d.cursor} past free block ${firstFree}`);
    if (d.free > 0 !== s.open[s.prio[i]].has(i)) fail(`piece ${i} open-set membership wrong`);
  }
  let outstanding = 0;
  for (const [peer, ps] of s.peers) {
    for (const id of ps.outstanding) {
      outstanding++;
      const i = Math.floor(id / bpp);
      if (s.haveBf.has(i)) fail(`${peer} has a request in had piece ${i}`);
      if (!s.downloads.get(i)?.requesters[id - i * bpp]?.includes(peer)) fail(`${peer} outstanding block ${id} not recorded in piece ${i}`);
    }
  }
  if (outstanding !== requests) fail(`outstanding ${outstanding}, requests ${requests}`);
  for (let k = 0; k < s.deadlines.length; k++) {
    const { index, at } = s.deadlines[k];
    if (s.deadlineOf.get(index) !== at) fail(`deadline of ${index} out of sync`);
    const prev = s.deadlines[k - 1];
    if (prev && (prev.at > at || (prev.at === at && prev.index >= index))) fail('deadlines out of order');
  }
  if (s.deadlineOf.size !== s.deadlines.length) fail('deadline map out of sync');
  // End game: wanted pieces remain, and each is tracked with no free block.
  let endGame = s.wantedMissing > 0;
  for (let i = 0; i < N && endGame; i++) {
    if (s.prio[i] > 0 && !s.haveBf.has(i) && !(s.downloads.get(i)?.free === 0)) endGame = false;
  }
  if (endGame !== s.endGame) fail(`end game flag ${s.endGame}, recomputed ${endGame}`);
}
