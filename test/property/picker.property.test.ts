/**
 * Model-based property test for the piece picker: random sequences of operations (sources joining,
 * leaving and announcing pieces; picks, receipts, rejections, hash failures; priority, mode and
 * deadline changes) against a small model of who has what and who was asked for what. The
 * picker's own invariants are checked after every step, each pick against the ordering rules, and
 * at the end the download is driven to completion.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Bitfield } from '../../src/codec/bitfield.js';
import { type BlockRequest, type Priority, PiecePicker } from '../../src/engine/picker.js';
import { seededRandom as prng } from '../../src/sim/clock.js';

const BLOCK = 16384;
const PEERS = ['a', 'b', 'c', 'd', 'e'];

type Op =
  | { t: 'join'; peer: number; seed: boolean; pieces: number[] }
  | { t: 'have'; peer: number; piece: number }
  | { t: 'gone'; peer: number }
  | { t: 'pick'; peer: number; max: number; choked: boolean; fast: number[] }
  | { t: 'receive'; peer: number; nth: number; failHash: boolean }
  | { t: 'reject'; peer: number; nth: number }
  | { t: 'unsolicited'; peer: number; piece: number; block: number }
  | { t: 'priority'; piece: number; priority: Priority }
  | { t: 'mode'; sequential: boolean }
  | { t: 'deadline'; piece: number; in: number | null }
  | { t: 'clock'; ms: number }
  | { t: 'markHave'; piece: number };

const peer = fc.nat(PEERS.length - 1);
const piece = fc.nat(1000);
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('join' as const), peer, seed: fc.boolean(), pieces: fc.array(piece, { maxLength: 30 }) }), weight: 3 },
  // A source with a few pieces: in a large torrent, one matched by bitfield (sparse).
  { arbitrary: fc.record({ t: fc.constant('join' as const), peer, seed: fc.constant(false), pieces: fc.array(piece, { minLength: 2, maxLength: 4 }) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('have' as const), peer, piece }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('gone' as const), peer }), weight: 1 },
  {
    arbitrary: fc.record({ t: fc.constant('pick' as const), peer, max: fc.integer({ min: 1, max: 12 }), choked: fc.nat(4).map((x) => x === 0), fast: fc.array(piece, { maxLength: 4 }) }),
    weight: 8,
  },
  { arbitrary: fc.record({ t: fc.constant('receive' as const), peer, nth: fc.nat(), failHash: fc.boolean() }), weight: 8 },
  { arbitrary: fc.record({ t: fc.constant('reject' as const), peer, nth: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('unsolicited' as const), peer, piece, block: fc.nat(7) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('priority' as const), piece, priority: fc.integer({ min: 0, max: 7 }) as fc.Arbitrary<Priority> }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('mode' as const), sequential: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('deadline' as const), piece, in: fc.option(fc.integer({ min: -50, max: 200 })) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('clock' as const), ms: fc.integer({ min: 1, max: 100 }) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('markHave' as const), piece }), weight: 1 },
);

const config: fc.Arbitrary<Config> = fc.record({
  // Up to 80 pieces so that a peer with a few is a sparse source (fewer than 1/16 of them).
  numPieces: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 13, max: 80 })),
  blocks: fc.integer({ min: 1, max: 4 }),
  lastBytes: fc.integer({ min: 1, max: 4 * BLOCK }),
  randomFirstPieces: fc.integer({ min: 0, max: 3 }),
  seed: fc.integer(),
});

interface Config {
  numPieces: number;
  blocks: number;
  lastBytes: number;
  randomFirstPieces: number;
  seed: number;
}

const key = (r: BlockRequest) => `${r.index}:${r.begin}`;

/** Runs one scenario; throws on the first broken rule. */
function run(cfg: Config, ops: Op[]): void {
  const n = cfg.numPieces;
  const pieceLength = cfg.blocks * BLOCK;
  const totalLength = (n - 1) * pieceLength + Math.min(pieceLength, cfg.lastBytes);
  let clock = 0;
  const p = new PiecePicker({ numPieces: n, pieceLength, totalLength, random: prng(cfg.seed), now: () => clock, randomFirstPieces: cfg.randomFirstPieces });

  // The model: what each connected source has (null = everything), and who sent blocks of what.
  const has = new Map<string, Set<number> | null>();
  const contributors = new Map<number, Set<string>>();
  const peerHas = (k: string, i: number) => has.has(k) && (has.get(k) === null || has.get(k)!.has(i));
  const askedOf = (r: BlockRequest) => [...has.keys()].filter((k) => p.outstanding(k).some((q) => key(q) === key(r)));

  const receive = (k: string, r: BlockRequest, failHash: boolean) => {
    const before = askedOf(r).filter((x) => x !== k).sort();
    const wasHad = p.have(r.index);
    const got = p.blockReceived(k, r);
    if (got.duplicate) {
      assert.deepEqual(got.cancelFrom, []);
      return;
    }
    assert.ok(!wasHad);
    assert.deepEqual([...got.cancelFrom].sort(), before, 'cancelFrom names exactly the other peers asked');
    assert.ok(askedOf(r).length === 0, 'nobody is still asked for a received block');
    let who = contributors.get(r.index);
    if (!who) contributors.set(r.index, (who = new Set()));
    who.add(k);
    if (!got.pieceComplete) return;
    assert.equal(p.progress(r.index)?.received, p.blocksIn(r.index));
    if (failHash) {
      assert.deepEqual(p.pieceFailed(r.index).sort(), [...who].sort(), 'pieceFailed names the contributors');
      assert.equal(p.progress(r.index)?.received ?? 0, 0);
    } else p.markHave(r.index);
    contributors.delete(r.index);
  };

  const pick = (k: string, max: number, choked: boolean, fast: Set<number>) => {
    // Snapshot for the ordering oracle.
    const wanted = [...Array(n).keys()].filter((i) => p.wants(i) && peerHas(k, i));
    const prog = new Map(wanted.map((i) => [i, p.progress(i)]));
    const avail = new Map(wanted.map((i) => [i, p.availability(i)]));
    const mine = new Set(p.outstanding(k).map(key));
    const others = new Set([...has.keys()].filter((x) => x !== k).flatMap((x) => p.outstanding(x).map(key)));
    const noDeadlines = [...Array(n).keys()].every((i) => p.deadline(i) === null);
    const overdue = (i: number) => (p.deadline(i) ?? Infinity) <= clock;
    const sequential = p.mode === 'sequential';
    const randomFirst = !sequential && p.haveBitfield().count < cfg.randomFirstPieces;

    const reqs = p.pick(k, max, { choked, allowedFast: fast });
    assert.ok(reqs.length <= max);
    const seen = new Set<string>();
    for (const r of reqs) {
      assert.ok(p.isValidBlock(r), `invalid block ${JSON.stringify(r)}`);
      assert.ok(peerHas(k, r.index), `piece ${r.index} requested from ${k}, which does not have it`);
      assert.ok(p.wants(r.index), `piece ${r.index} is not wanted`);
      assert.ok(!mine.has(key(r)) && !seen.has(key(r)), `block ${key(r)} requested twice from ${k}`);
      seen.add(key(r));
      if (choked) assert.ok(fast.has(r.index), `piece ${r.index} is not allowed fast`);
      if (others.has(key(r))) assert.ok(p.inEndGame() || overdue(r.index), `duplicate ${key(r)} outside end game`);
    }
    if (choked) return;
    const freeIn = (g: ReturnType<typeof p.progress>, i: number) => (g ? g.blocks - g.received - g.requested : p.blocksIn(i));
    const free = (i: number) => freeIn(prog.get(i) ?? null, i);
    // As many as asked, unless nothing free is left that this peer could serve.
    // In end game, or for a piece past its deadline, also every block this peer was not asked for.
    if (reqs.length < max) {
      const asked = new Map<number, number>();
      for (const r of p.outstanding(k)) asked.set(r.index, (asked.get(r.index) ?? 0) + 1);
      for (const i of wanted) {
        const g = p.progress(i);
        assert.equal(freeIn(g, i), 0, `piece ${i} left free`);
        if (p.inEndGame() || overdue(i)) assert.equal(asked.get(i) ?? 0, g!.blocks - g!.received, `piece ${i}: blocks left to duplicate`);
      }
    }
    // The earliest deadline goes first: its free blocks, and all its blocks once it is late.
    const due = wanted.filter((i) => p.deadline(i) !== null).sort((x, y) => p.deadline(x)! - p.deadline(y)! || x - y)[0];
    if (due !== undefined && !reqs.every((r) => r.index === due)) {
      const g = p.progress(due);
      assert.equal(freeIn(g, due), 0, `deadline piece ${due} left free`);
      const asked = p.outstanding(k).filter((r) => r.index === due).length;
      if (overdue(due)) assert.equal(asked, g!.blocks - g!.received, `late piece ${due} not asked of ${k} in full`);
    }
    if (!noDeadlines) return;
    const order = [...new Set(reqs.map((r) => r.index))];
    const firstNew = order.find((i) => prog.get(i) === null);
    if (firstNew === undefined) return;
    const pri = (i: number) => p.priority(i);
    for (const i of wanted) {
      if (i === firstNew) continue;
      if (prog.get(i) !== null && free(i) > 0 && pri(i) >= pri(firstNew)) {
        assert.ok(order.indexOf(i) >= 0 && order.indexOf(i) < order.indexOf(firstNew), `started piece ${i} not finished before new piece ${firstNew}`);
      }
      if (prog.get(i) === null && !order.includes(i)) {
        assert.ok(pri(i) <= pri(firstNew), `piece ${i} of higher priority than ${firstNew}`);
        if (pri(i) === pri(firstNew) && !randomFirst) {
          if (sequential) assert.ok(i > firstNew, `sequential: ${firstNew} picked before ${i}`);
          else assert.ok(avail.get(i)! >= avail.get(firstNew)!, `rarest first: ${firstNew} picked before rarer ${i}`);
        }
      }
    }
  };

  for (const o of ops) {
    const k = 'peer' in o ? PEERS[o.peer]! : '';
    switch (o.t) {
      case 'join':
        if (o.seed) {
          p.peerHasAll(k);
          has.set(k, null);
        } else {
          const set = new Set(o.pieces.map((x) => x % n));
          const bf = new Bitfield(n);
          for (const i of set) bf.set(i);
          p.peerBitfield(k, bf);
          has.set(k, set.size === n ? null : set);
        }
        break;
      case 'have': {
        const i = o.piece % n;
        p.peerHave(k, i);
        const s = has.get(k);
        if (s === undefined) has.set(k, n === 1 ? null : new Set([i]));
        else if (s !== null) {
          s.add(i);
          if (s.size === n) has.set(k, null);
        }
        break;
      }
      case 'gone':
        p.peerGone(k);
        has.delete(k);
        assert.deepEqual(p.outstanding(k), []);
        break;
      case 'pick':
        if (has.has(k)) pick(k, o.max, o.choked, new Set(o.fast.map((x) => x % n)));
        else assert.deepEqual(p.pick(k, o.max), []);
        break;
      case 'receive': {
        const out = p.outstanding(k);
        if (out.length > 0) receive(k, out[o.nth % out.length]!, o.failHash);
        break;
      }
      case 'reject': {
        const out = p.outstanding(k);
        if (out.length === 0) break;
        const r = out[o.nth % out.length]!;
        p.requestFailed(k, r);
        assert.ok(!p.outstanding(k).some((q) => key(q) === key(r)));
        break;
      }
      case 'unsolicited': {
        const i = o.piece % n;
        const begin = (o.block % p.blocksIn(i)) * BLOCK;
        receive(k, { index: i, begin, length: Math.min(BLOCK, p.pieceSize(i) - begin) }, false);
        break;
      }
      case 'priority':
        p.setPriority(o.piece % n, o.priority);
        break;
      case 'mode':
        p.setMode(o.sequential ? 'sequential' : 'rarest-first');
        break;
      case 'deadline':
        p.setDeadline(o.piece % n, o.in === null ? null : clock + o.in);
        break;
      case 'clock':
        clock += o.ms;
        break;
      case 'markHave':
        p.markHave(o.piece % n);
        contributors.delete(o.piece % n);
        break;
    }
    p.checkInvariants();
  }

  // Drive to completion: a seed joins; everyone's requests are answered; everyone picks again.
  p.peerHasAll('seed');
  has.set('seed', null);
  for (let round = 0; !p.isDone(); round++) {
    assert.ok(round < 4 * n * cfg.blocks + 10, 'download does not finish');
    for (const k of has.keys()) {
      for (const r of p.outstanding(k)) receive(k, r, false);
      pick(k, 3, false, new Set());
      p.checkInvariants();
    }
  }
  assert.equal(p.wantedRemaining(), 0);
  assert.ok(!p.inEndGame());
  for (let i = 0; i < n; i++) assert.ok(p.have(i) || p.priority(i) === 0, `piece ${i} wanted but missing`);
  p.checkInvariants();
}

describe('PiecePicker (model-based)', () => {
  it('starts the rarest piece a source has (or the lowest, in sequential mode), dense or sparse', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        // Density in percent; a source below 1/16 of the pieces is matched by bitfield, not buckets.
        fc.array(fc.record({ seed: fc.boolean(), density: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 100 })) }), { minLength: 1, maxLength: PEERS.length }),
        fc.boolean(),
        fc.integer(),
        (n, sources, sequential, seed) => {
          const rng = prng(seed);
          const p = new PiecePicker({ numPieces: n, pieceLength: BLOCK, totalLength: n * BLOCK, random: rng, randomFirstPieces: 0 });
          if (sequential) p.setMode('sequential');
          const has: Array<(i: number) => boolean> = [];
          sources.forEach((s, k) => {
            if (s.seed) {
              p.peerHasAll(PEERS[k]!);
              has.push(() => true);
              return;
            }
            const bf = new Bitfield(n);
            for (let i = 0; i < n; i++) if (rng() * 100 < s.density) bf.set(i);
            p.peerBitfield(PEERS[k]!, bf);
            has.push((i) => bf.has(i));
          });
          for (let round = 0; round < 3; round++) {
            sources.forEach((_, k) => {
              const fresh = [...Array(n).keys()].filter((i) => has[k]!(i) && p.progress(i) === null && !p.have(i));
              const got = p.pick(PEERS[k]!, 1);
              if (fresh.length === 0) return;
              const i = got[0]!.index;
              assert.ok(fresh.includes(i), `piece ${i} was not fresh`);
              if (sequential) assert.equal(i, Math.min(...fresh));
              else assert.equal(p.availability(i), Math.min(...fresh.map((j) => p.availability(j))), `piece ${i} is not the rarest`);
            });
            p.checkInvariants();
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps its invariants and ordering rules under random operations, then finishes', () => {
    fc.assert(
      fc.property(config, fc.array(op, { maxLength: 80 }), (cfg, ops) => run(cfg, ops)),
      { numRuns: 250 },
    );
  });

  it('finishes from any mix of sparse and dense sources and priorities', () => {
    fc.assert(
      fc.property(
        config,
        fc.array(fc.record({ t: fc.constant('join' as const), peer, seed: fc.constant(false), pieces: fc.array(piece, { maxLength: 30 }) }), { maxLength: 5 }),
        fc.array(fc.record({ t: fc.constant('join' as const), peer, seed: fc.constant(false), pieces: fc.array(piece, { minLength: 2, maxLength: 4 }) }), { maxLength: 3 }),
        fc.array(fc.record({ t: fc.constant('priority' as const), piece, priority: fc.integer({ min: 0, max: 7 }) as fc.Arbitrary<Priority> }), { maxLength: 10 }),
        (cfg, joins, sparse, prios) => run(cfg, [...joins, ...sparse, ...prios]),
      ),
      { numRuns: 150 },
    );
  });
});
