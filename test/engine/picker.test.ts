/**
 * Unit tests for the piece picker, one rule at a time, plus a size test that would time out on
 * quadratic behaviour. Every test checks the picker's invariants after it has done its work.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bitfield } from '../../src/codec/bitfield.js';
import { type BlockRequest, type PickerOptions, PiecePicker } from '../../src/engine/picker.js';
import { seededRandom as prng } from '../../src/sim/clock.js';

const BLOCK = 16384;

/** A picker of `n` pieces of `blocks` full blocks each, with a seeded random source. */
function picker(n: number, blocks = 1, opts: Partial<PickerOptions> = {}): PiecePicker {
  return new PiecePicker({ numPieces: n, pieceLength: blocks * BLOCK, totalLength: n * blocks * BLOCK, random: prng(1), ...opts });
}

function bits(n: number, indices: Iterable<number>): Bitfield {
  const b = new Bitfield(n);
  for (const i of indices) b.set(i);
  return b;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, k) => a + k);

/** Pieces named by the requests, in order of first appearance. */
function pieces(reqs: BlockRequest[]): number[] {
  return [...new Set(reqs.map((r) => r.index))];
}

/** Receives every outstanding block of `peer`; marks completed pieces had. */
function deliverAll(p: PiecePicker, peer: string): void {
  for (const r of p.outstanding(peer)) if (p.blockReceived(peer, r).pieceComplete) p.markHave(r.index);
}

describe('PiecePicker', () => {
  it('rejects impossible layouts', () => {
    assert.throws(() => new PiecePicker({ numPieces: 0, pieceLength: BLOCK, totalLength: 0 }), RangeError);
    assert.throws(() => new PiecePicker({ numPieces: 2, pieceLength: BLOCK, totalLength: BLOCK }), RangeError);
    assert.throws(() => new PiecePicker({ numPieces: 2, pieceLength: BLOCK, totalLength: 2 * BLOCK + 1 }), RangeError);
  });

  it('cuts the last piece short, and its last block', () => {
    // 40,000-byte pieces: blocks of 16384, 16384, 7232. Last piece 20,000: 16384, 3616.
    const p = new PiecePicker({ numPieces: 3, pieceLength: 40000, totalLength: 100000, random: prng(2) });
    p.setMode('sequential');
    p.peerHasAll('s');
    const reqs = p.pick('s', 100);
    assert.deepEqual(reqs, [
      { index: 0, begin: 0, length: BLOCK },
      { index: 0, begin: BLOCK, length: BLOCK },
      { index: 0, begin: 2 * BLOCK, length: 7232 },
      { index: 1, begin: 0, length: BLOCK },
      { index: 1, begin: BLOCK, length: BLOCK },
      { index: 1, begin: 2 * BLOCK, length: 7232 },
      { index: 2, begin: 0, length: BLOCK },
      { index: 2, begin: BLOCK, length: 3616 },
    ]);
    assert.equal(p.pieceSize(2), 20000);
    assert.equal(p.blocksIn(2), 2);
    assert.ok(p.isValidBlock({ index: 2, begin: BLOCK, length: 3616 }));
    assert.ok(!p.isValidBlock({ index: 2, begin: BLOCK, length: BLOCK }));
    assert.ok(!p.isValidBlock({ index: 2, begin: 100, length: 100 }));
    assert.ok(!p.isValidBlock({ index: 3, begin: 0, length: BLOCK }));
    assert.throws(() => p.blockReceived('s', { index: 2, begin: BLOCK, length: BLOCK }), RangeError);
    const last = p.blockReceived('s', { index: 2, begin: BLOCK, length: 3616 });
    assert.deepEqual(last, { duplicate: false, pieceComplete: false, cancelFrom: [] });
    assert.equal(p.blockReceived('s', { index: 2, begin: 0, length: BLOCK }).pieceComplete, true);
    p.checkInvariants();
  });

  it('takes per-piece sizes when pieces other than the last are short (v2)', () => {
    const sizes = [BLOCK * 2, 100, BLOCK * 2, BLOCK + 1];
    const p = new PiecePicker({ numPieces: 4, pieceLength: 2 * BLOCK, totalLength: 8 * BLOCK, pieceSize: (i) => sizes[i]!, random: prng(3) });
    p.setMode('sequential');
    p.peerHasAll('s');
    assert.deepEqual(
      p.pick('s', 100).map((r) => `${r.index}:${r.begin}+${r.length}`),
      ['0:0+16384', '0:16384+16384', '1:0+100', '2:0+16384', '2:16384+16384', '3:0+16384', '3:16384+1'],
    );
    p.checkInvariants();
  });

  it('counts availability from bitfields, haves and seeds', () => {
    const p = picker(8);
    p.peerBitfield('a', bits(8, [0, 1, 2]));
    p.peerHave('a', 5);
    p.peerHave('b', 5);
    p.peerHasAll('s');
    assert.deepEqual(range(0, 8).map((i) => p.availability(i)), [2, 2, 2, 1, 1, 3, 1, 1]);
    p.peerBitfield('a', bits(8, [7])); // replaces what we knew
    assert.deepEqual(range(0, 8).map((i) => p.availability(i)), [1, 1, 1, 1, 1, 2, 1, 2]);
    p.checkInvariants();
    // A peer that ends up with every piece is a seed from then on.
    for (const i of range(0, 8)) p.peerHave('b', i);
    assert.deepEqual(range(0, 8).map((i) => p.availability(i)), [2, 2, 2, 2, 2, 2, 2, 3]);
    p.checkInvariants();
    p.peerGone('s');
    p.peerGone('b');
    assert.deepEqual(range(0, 8).map((i) => p.availability(i)), [0, 0, 0, 0, 0, 0, 0, 1]);
    p.peerBitfield('c', Bitfield.full(8));
    assert.equal(p.availability(0), 1);
    p.checkInvariants();
  });

  it('picks the rarest piece first', () => {
    const p = picker(4, 1, { randomFirstPieces: 0 });
    p.peerBitfield('a', bits(4, [0, 1, 2]));
    p.peerBitfield('b', bits(4, [1, 2]));
    p.peerBitfield('c', bits(4, [2]));
    p.peerHasAll('s');
    // Availability: 0 -> 2, 1 -> 3, 2 -> 4, 3 -> 1 (the seed alone).
    assert.deepEqual(pieces(p.pick('a', 1)), [0]);
    assert.deepEqual(pieces(p.pick('s', 1)), [3]);
    assert.deepEqual(pieces(p.pick('s', 1)), [1]);
    assert.deepEqual(pieces(p.pick('s', 1)), [2]);
    // Every block is requested now: end game asks the seed for a's block too.
    assert.ok(p.inEndGame());
    assert.deepEqual(pieces(p.pick('s', 1)), [0]);
    assert.deepEqual(p.pick('s', 1), []);
    p.checkInvariants();
  });

  it('follows rarity as haves arrive', () => {
    const p = picker(3, 1, { randomFirstPieces: 0 });
    p.peerHasAll('s');
    p.peerHave('x', 0);
    p.peerHave('x', 2);
    p.peerHave('y', 2);
    assert.deepEqual(pieces(p.pick('s', 3)), [1, 0, 2]);
    p.checkInvariants();
  });

  it('breaks ties among equally rare pieces at random, about uniformly', () => {
    const rng = prng(7);
    const counts = new Array<number>(8).fill(0);
    for (let t = 0; t < 4000; t++) {
      const p = picker(8, 1, { random: rng, randomFirstPieces: 0 });
      p.peerHasAll('s');
      counts[p.pick('s', 1)[0]!.index]!++;
    }
    // Expected 500 each; the standard deviation is about 21.
    for (const c of counts) assert.ok(c > 420 && c < 580, `counts ${counts}`);
  });

  it('matches a source with few pieces by its bitfield, still rarest first and at random', () => {
    // 256 pieces; 'few' has 12 (12 * 16 < 256), 4 of which 'other' has too.
    const rng = prng(8);
    const mine = [3, 40, 77, 90, 128, 129, 130, 200, 201, 240, 250, 255];
    const common = new Set([3, 128, 200, 255]);
    const counts = new Map<number, number>();
    for (let t = 0; t < 4000; t++) {
      const p = picker(256, 1, { random: rng, randomFirstPieces: 0 });
      p.peerBitfield('few', bits(256, mine));
      p.peerBitfield('other', bits(256, common));
      const i = p.pick('few', 1)[0]!.index;
      counts.set(i, (counts.get(i) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort((a, b) => a - b), mine.filter((i) => !common.has(i)));
    for (const c of counts.values()) assert.ok(c > 400 && c < 600, `counts ${[...counts]}`);
  });

  it('starts random pieces until it has randomFirstPieces of them', () => {
    const rng = prng(9);
    let rarestFirst = 0;
    const seen = new Set<number>();
    for (let t = 0; t < 300; t++) {
      const p = picker(100, 1, { random: rng });
      p.peerHasAll('s');
      p.peerBitfield('b', bits(100, range(1, 100))); // piece 0 is the rarest
      const i = p.pick('s', 1)[0]!.index;
      seen.add(i);
      if (i === 0) rarestFirst++;
    }
    assert.ok(rarestFirst < 20, `rarest picked ${rarestFirst} times of 300`);
    assert.ok(seen.size > 50);
    // With 4 pieces in hand, rarest first takes over.
    const p = picker(100, 1, { random: prng(10) });
    p.peerHasAll('s');
    p.peerBitfield('b', bits(100, range(1, 100)));
    for (const i of [10, 20, 30]) p.markHave(i);
    p.markHave(40);
    assert.deepEqual(pieces(p.pick('s', 1)), [0]);
    p.checkInvariants();
  });

  it('picks the lowest wanted index first in sequential mode', () => {
    const p = picker(40, 2);
    p.setMode('sequential');
    p.peerHasAll('s');
    p.peerBitfield('b', bits(40, range(3, 40)));
    p.markHave(4);
    assert.deepEqual(pieces(p.pick('b', 4)), [3, 5]);
    assert.deepEqual(pieces(p.pick('s', 5)), [0, 1, 2]);
    p.setPriority(33, 2);
    // Priority before affinity: 33 (priority 2) before the rest of started piece 2 (priority 1).
    assert.deepEqual(pieces(p.pick('s', 3)), [33, 2]);
    assert.deepEqual(pieces(p.pick('s', 3)), [6, 7]);
    p.checkInvariants();
  });

  it('picks higher priorities first and never priority 0', () => {
    const p = picker(10, 1, { randomFirstPieces: 0 });
    p.peerHasAll('s');
    p.peerBitfield('a', bits(10, [7]));
    p.setPriority(7, 0);
    p.setPriority(2, 6);
    p.setPriority(9, 3);
    p.setPriority(5, 3);
    assert.equal(p.wantedRemaining(), 9);
    const order = pieces(p.pick('s', 10));
    assert.equal(order[0], 2);
    assert.deepEqual(new Set(order.slice(1, 3)), new Set([5, 9]));
    assert.equal(order.length, 9);
    assert.ok(!order.includes(7));
    assert.deepEqual(p.pick('a', 1), []);
    assert.throws(() => p.setPriority(1, 8 as 7), RangeError);
    p.checkInvariants();
    for (const i of order) {
      assert.equal(p.blockReceived('s', { index: i, begin: 0, length: BLOCK }).pieceComplete, true);
      p.markHave(i);
    }
    assert.ok(p.isDone());
    assert.equal(p.wantedRemaining(), 0);
    assert.ok(!p.have(7));
    assert.ok(!p.wants(7) && !p.wants(2));
    p.setPriority(7, 1);
    assert.ok(!p.isDone());
    assert.deepEqual(pieces(p.pick('a', 1)), [7]);
    p.checkInvariants();
  });

  it('sets priorities by piece range, the highest winning on shared pieces', () => {
    const p = picker(10);
    p.setFilePriorities([
      { first: 0, end: 4, priority: 0 },
      { first: 3, end: 6, priority: 5 },
      { first: 5, end: 7, priority: 2 },
    ]);
    assert.deepEqual(range(0, 10).map((i) => p.priority(i)), [0, 0, 0, 5, 5, 5, 2, 1, 1, 1]);
    assert.equal(p.wantedRemaining(), 7);
    p.checkInvariants();
  });

  it('serves deadline pieces first, earliest first, and doubles them up when late', () => {
    let now = 1000;
    const p = picker(20, 2, { now: () => now, randomFirstPieces: 0 });
    p.peerHasAll('a');
    p.peerHasAll('b');
    p.setPriority(0, 7);
    p.setDeadline(12, 5000);
    p.setDeadline(9, 3000);
    p.setDeadline(15, 4000);
    p.setDeadline(15, null);
    p.setDeadline(4, 2000);
    p.setPriority(4, 0); // a deadline does not override "do not download"
    assert.deepEqual(pieces(p.pick('a', 5)), [9, 12, 0]);
    // Not late yet: b gets other pieces, not a second copy.
    assert.ok(!pieces(p.pick('b', 2)).some((i) => i === 9 || i === 12));
    now = 3000;
    // Piece 9 is due: b is asked for it too, though this is not the end game.
    assert.ok(!p.inEndGame());
    const dup = p.pick('b', 2);
    assert.deepEqual(dup, [
      { index: 9, begin: 0, length: BLOCK },
      { index: 9, begin: BLOCK, length: BLOCK },
    ]);
    assert.deepEqual(p.blockReceived('b', dup[0]!).cancelFrom, ['a']);
    assert.equal(p.deadline(9), 3000);
    assert.equal(p.blockReceived('a', dup[1]!).pieceComplete, true);
    p.markHave(9);
    assert.equal(p.deadline(9), null);
    p.checkInvariants();
  });

  it('finishes started pieces before starting new ones', () => {
    const p = picker(10, 4, { randomFirstPieces: 0 });
    p.peerHasAll('s');
    p.peerBitfield('a', bits(10, [2, 3]));
    p.peerBitfield('b', bits(10, [2, 3, 4]));
    const first = p.pick('a', 1);
    assert.equal(first.length, 1);
    const started = first[0]!.index;
    // s prefers the started piece, though piece 4 and the other of 2/3 are no more common.
    assert.deepEqual(p.pick('s', 3), [1, 2, 3].map((b) => ({ index: started, begin: b * BLOCK, length: BLOCK })));
    // A failed request reopens its block, and affinity fills it first.
    p.requestFailed('s', { index: started, begin: 2 * BLOCK, length: BLOCK });
    assert.deepEqual(p.pick('b', 1), [{ index: started, begin: 2 * BLOCK, length: BLOCK }]);
    // Affinity stays within a priority: a higher-priority new piece comes before a started one.
    p.requestFailed('a', first[0]!);
    p.setPriority(7, 2);
    assert.deepEqual(pieces(p.pick('s', 5)), [7, started]);
    assert.deepEqual(p.progress(started), { blocks: 4, received: 0, requested: 4 });
    p.checkInvariants();
  });

  it('requests the same blocks from other peers in end game and says whom to cancel', () => {
    const p = picker(2, 2);
    p.peerHasAll('a');
    p.peerHasAll('b');
    p.peerBitfield('c', bits(2, [1]));
    const mine = p.pick('a', 10);
    assert.equal(mine.length, 4);
    assert.ok(p.inEndGame());
    assert.deepEqual(p.pick('a', 10), []); // never the same block twice to one peer
    const dups = p.pick('b', 10);
    assert.deepEqual(
      dups.map((r) => `${r.index}:${r.begin}`).sort(),
      mine.map((r) => `${r.index}:${r.begin}`).sort(),
    );
    assert.equal(p.pick('c', 10).length, 2); // only the piece c has
    const r = p.blockReceived('b', { index: 1, begin: 0, length: BLOCK });
    assert.deepEqual({ ...r, cancelFrom: r.cancelFrom.sort() }, { duplicate: false, pieceComplete: false, cancelFrom: ['a', 'c'] });
    assert.ok(!p.outstanding('a').some((q) => q.index === 1 && q.begin === 0));
    assert.ok(!p.outstanding('c').some((q) => q.index === 1 && q.begin === 0));
    // The cancel raced: a sends it anyway.
    assert.deepEqual(p.blockReceived('a', { index: 1, begin: 0, length: BLOCK }), { duplicate: true, pieceComplete: false, cancelFrom: [] });
    p.checkInvariants();
    for (const peer of ['a', 'b', 'c']) deliverAll(p, peer);
    assert.ok(p.isDone());
    assert.ok(!p.inEndGame());
    p.checkInvariants();
  });

  it('is not in end game while a wanted piece is unavailable', () => {
    const p = picker(2);
    p.peerBitfield('a', bits(2, [0]));
    p.pick('a', 10);
    assert.ok(!p.inEndGame());
    assert.deepEqual(p.pick('a', 10), []);
    p.setPriority(1, 0);
    assert.ok(p.inEndGame());
    p.checkInvariants();
  });

  it('releases a leaving peer\'s requests and availability', () => {
    const p = picker(4, 2);
    p.peerHasAll('a');
    p.peerBitfield('b', bits(4, [0, 1, 2]));
    const reqs = p.pick('a', 8);
    assert.equal(reqs.length, 8);
    assert.equal(p.pick('b', 8).length, 6); // end game for the pieces b has
    p.peerGone('a');
    assert.deepEqual(p.outstanding('a'), []);
    assert.equal(p.availability(3), 0);
    p.checkInvariants();
    assert.ok(!p.inEndGame()); // piece 3 is free again
    p.peerHasAll('c');
    assert.deepEqual(p.pick('c', 8), [
      { index: 3, begin: 0, length: BLOCK },
      { index: 3, begin: BLOCK, length: BLOCK },
      ...p.outstanding('b'),
    ]);
    p.checkInvariants();
  });

  it('forgets a failed piece\'s blocks, blames its contributors, and asks again', () => {
    const p = picker(2, 3);
    p.peerHasAll('a');
    p.peerHasAll('b');
    p.peerHasAll('c');
    p.setMode('sequential');
    const ra = p.pick('a', 2);
    const rb = p.pick('b', 1);
    assert.deepEqual(pieces([...ra, ...rb]), [0]);
    p.blockReceived('a', ra[0]!);
    p.blockReceived('b', rb[0]!);
    assert.equal(p.blockReceived('a', ra[1]!).pieceComplete, true);
    assert.deepEqual(p.pieceFailed(0).sort(), ['a', 'b']);
    assert.equal(p.progress(0), null);
    assert.ok(!p.have(0));
    assert.deepEqual(p.pick('c', 3), [0, 1, 2].map((b) => ({ index: 0, begin: b * BLOCK, length: BLOCK })));
    assert.deepEqual(p.pieceFailed(1), []);
    p.checkInvariants();
  });

  it('keeps requests that are still out when a piece fails', () => {
    const p = picker(1, 2);
    p.peerHasAll('a');
    p.peerHasAll('b');
    const [x, y] = p.pick('a', 2);
    p.blockReceived('b', x!); // unrequested from b, still kept
    assert.deepEqual(p.pieceFailed(0), ['b']);
    assert.deepEqual(p.outstanding('a'), [y]);
    // x is free again; then, in end game, y is asked of b too.
    assert.deepEqual(p.pick('b', 2), [x, y]);
    assert.ok(p.inEndGame());
    p.checkInvariants();
  });

  it('picks only allowed-fast pieces while choked', () => {
    const p = picker(10, 2, { randomFirstPieces: 0 });
    p.peerBitfield('a', bits(10, [1, 2, 3, 8]));
    assert.deepEqual(p.pick('a', 4, { choked: true }), []);
    assert.deepEqual(p.pick('a', 4, { choked: true, allowedFast: new Set([5]) }), []); // a lacks 5
    assert.deepEqual(pieces(p.pick('a', 4, { choked: true, allowedFast: new Set([5, 8, 2]) })), [2, 8]);
    assert.deepEqual(p.pick('a', 4, { choked: true, allowedFast: new Set([8, 2]) }), []);
    p.setPriority(3, 4);
    assert.deepEqual(pieces(p.pick('a', 4, { allowedFast: new Set([8]) })), [3, 1]); // not choked: all
    p.checkInvariants();
  });

  it('frees a block when its request fails', () => {
    const p = picker(1, 2);
    p.peerHasAll('a');
    p.peerHasAll('b');
    const [x] = p.pick('a', 1);
    p.requestFailed('a', x!);
    p.requestFailed('a', x!); // twice is harmless
    p.requestFailed('b', x!); // b never asked
    assert.deepEqual(p.outstanding('a'), []);
    assert.equal(p.progress(0), null);
    assert.deepEqual(p.pick('b', 1), [x]);
    p.checkInvariants();
  });

  it('drops outstanding requests when a piece is marked had', () => {
    const p = picker(2, 2);
    p.peerHasAll('a');
    p.pick('a', 4);
    p.markHave(0);
    assert.deepEqual(pieces(p.outstanding('a')), [1]);
    assert.equal(p.blockReceived('a', { index: 0, begin: 0, length: BLOCK }).duplicate, true);
    assert.equal(p.haveBitfield().count, 1);
    assert.ok(p.haveBitfield().has(0));
    p.checkInvariants();
  });

  it('takes only accepted pieces (an origin policy), rarest first even before the first pieces', () => {
    const p = picker(8, 2);
    p.peerBitfield('a', bits(8, [0, 1, 2, 3]));
    p.peerHasAll('web');
    // "Pieces no peer has": 4..7. Not random-first: an origin has no use for a tradeable piece.
    const noPeer = (i: number) => p.availability(i) - 1 === 0;
    const got = pieces(p.pick('web', 16, { accept: noPeer }));
    assert.deepEqual([...got].sort(), [4, 5, 6, 7]);
    assert.deepEqual(p.pick('web', 16, { accept: noPeer }), [], 'nothing else is acceptable');
    // Without the predicate, the rest is fair game.
    assert.deepEqual([...pieces(p.pick('web', 16))].sort(), [0, 1, 2, 3]);
    p.checkInvariants();
  });

  it('applies accept in sequential mode and to started pieces', () => {
    const p = picker(6, 2, { randomFirstPieces: 0 });
    p.setMode('sequential');
    p.peerHasAll('a');
    p.peerHasAll('web');
    assert.deepEqual(p.pick('a', 1), [{ index: 0, begin: 0, length: BLOCK }]); // piece 0 is started
    const odd = (i: number) => i % 2 === 1;
    assert.deepEqual(pieces(p.pick('web', 4, { accept: odd })), [1, 3]);
    assert.deepEqual(pieces(p.pick('web', 2, { accept: (i) => i === 0 })), [0], 'the started piece, when accepted');
    p.checkInvariants();
  });

  it('pickPiece takes the free blocks of one given piece, and nothing it may not', () => {
    const p = picker(4, 3);
    p.peerHasAll('web');
    p.peerBitfield('a', bits(4, [2]));
    assert.deepEqual(
      p.pickPiece('web', 1, 10),
      [0, 1, 2].map((b) => ({ index: 1, begin: b * BLOCK, length: BLOCK })),
    );
    assert.deepEqual(p.pickPiece('web', 1, 10), [], 'already requested by this source');
    assert.deepEqual(p.pickPiece('a', 1, 10), [], 'the source does not have it');
    p.setPriority(3, 0);
    assert.deepEqual(p.pickPiece('web', 3, 10), [], 'not wanted');
    assert.deepEqual(p.pickPiece('web', 9, 10), [], 'no such piece');
    assert.deepEqual(p.pickPiece('web', 2, 2).length, 2, 'at most max blocks');
    p.checkInvariants();
  });

  it('stays fast at 250,000 pieces and 50 peers (no timing assertions; quadratic code would time out)', () => {
    const N = 250_000;
    const rng = prng(11);
    const p = new PiecePicker({ numPieces: N, pieceLength: 16 * BLOCK, totalLength: (N - 1) * 16 * BLOCK + 1000, random: rng });
    const peers: string[] = [];
    for (let k = 0; k < 50; k++) {
      const key = `p${k}`;
      peers.push(key);
      if (k < 3) p.peerHasAll(key);
      else if (k < 6) p.peerBitfield(key, randomBits(N, 0.01, rng)); // sparse sources
      else p.peerBitfield(key, randomBits(N, 0.5, rng));
    }
    let picked = 0;
    for (let t = 0; t < 4000; t++) {
      if (t === 2500) p.setMode('sequential');
      if (t % 500 === 250) {
        const gone = peers[3 + (t % 40)]!;
        p.peerGone(gone);
        p.peerBitfield(gone, randomBits(N, 0.5, rng));
      }
      const peer = peers[t % peers.length]!;
      const reqs = p.pick(peer, 32);
      picked += reqs.length;
      for (const r of reqs) {
        if (rng() < 0.1) p.requestFailed(peer, r);
        else if (p.blockReceived(peer, r).pieceComplete) p.markHave(r.index);
      }
      if (t % 7 === 0) p.peerHave(peer, Math.floor(rng() * N));
    }
    assert.ok(picked > 100_000, `picked ${picked}`);
    p.checkInvariants();
  });
});

/** About `density` of n pieces, at random; density 1/2 one byte at a time. */
function randomBits(n: number, density: number, rng: () => number): Bitfield {
  if (density !== 0.5 || n % 8 !== 0) {
    const b = new Bitfield(n);
    for (let i = 0; i < n; i++) if (rng() < density) b.set(i);
    return b;
  }
  return new Bitfield(n, Uint8Array.from({ length: n / 8 }, () => Math.floor(rng() * 256)));
}
