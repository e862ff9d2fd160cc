/** Unit tests for the engine's small policies: choker, token buckets, known peers, piece cache. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Choker, type ChokeCandidate } from '../../src/engine/choker.js';
import { PeerList } from '../../src/engine/peer-list.js';
import { PieceCache } from '../../src/engine/piece-cache.js';
import { TokenBucket, takeAll } from '../../src/engine/rate-limit.js';

function peer(key: string, down: number, up: number, interested = true, amChoking = true): ChokeCandidate {
  return { key, peerInterested: interested, amChoking, downRate: () => down, upRate: () => up };
}

describe('choker', () => {
  it('downloading: unchokes those who give us the most, plus one optimistic', () => {
    let t = 0;
    const c = new Choker({ slots: 2, now: () => t, random: () => 0 });
    const peers = [peer('a', 10, 0), peer('b', 30, 0), peer('c', 20, 0), peer('d', 0, 0), peer('e', 5, 0, false)];
    const u = c.decide(peers, false);
    assert.ok(u.has('b') && u.has('c'), 'the two best uploaders to us');
    assert.equal(u.size, 3, 'two slots plus one optimistic');
    assert.ok(!u.has('e'), 'never an uninterested peer');
    const optimistic = [...u].find((k) => k !== 'b' && k !== 'c')!;
    t += 10_000;
    assert.ok(c.decide(peers, false).has(optimistic), 'the optimistic unchoke lasts 30 s');
    t += 30_000;
    const c2 = new Choker({ slots: 2, now: () => t, random: () => 0.99 });
    assert.ok(c2.decide(peers, false).size === 3);
  });

  it('seeding: unchokes the fastest takers when nothing else is known', () => {
    const c = new Choker({ slots: 1, random: () => 0 });
    const u = c.decide([peer('slow', 0, 1), peer('fast', 0, 100), peer('mid', 0, 50)], true);
    assert.ok(u.has('fast'));
    assert.ok(!u.has('mid') || !u.has('slow'), 'one slot and one optimistic only');
  });

  it('seeding: those furthest behind first, fastest takers among equals', () => {
    const c = new Choker({ slots: 2, random: () => 0 });
    const at = (key: string, up: number, progress: number): ChokeCandidate => ({ ...peer(key, 0, up), progress: () => progress });
    const u = c.decide([at('nearly-done', 100, 0.9), at('behind-slow', 1, 0.1), at('behind-fast', 50, 0.1), at('half', 80, 0.5)], true);
    assert.ok(u.has('behind-slow') && u.has('behind-fast'), [...u].join());
    // While downloading, progress does not matter: tit-for-tat.
    const d = new Choker({ slots: 1, random: () => 0 }).decide([{ ...peer('giver', 100, 0), progress: () => 0.9 }, { ...peer('taker', 0, 0), progress: () => 0 }], false);
    assert.ok(d.has('giver'));
  });

  it('free slots count interested peers only, and a lost interest hands its slot to the best waiting peer', () => {
    const c = new Choker({ slots: 1, random: () => 0 });
    // Two unchoked (one slot plus the optimistic), but one of them wants nothing: a slot is free.
    const peers = [peer('busy', 10, 0, true, false), peer('idle', 0, 0, false, false), peer('slow', 1, 0), peer('fast', 50, 0), peer('uninterested', 99, 0, false)];
    assert.equal(c.hasFreeSlot(peers), true);
    assert.equal(c.nextToUnchoke(peers, false), 'fast');
    assert.equal(c.hasFreeSlot([...peers, peer('busy2', 1, 0, true, false)]), false);
    assert.equal(c.nextToUnchoke([...peers, peer('busy2', 1, 0, true, false)], false), null);
    assert.equal(c.nextToUnchoke([peer('busy', 10, 0, true, false)], false), null, 'nobody waits');
    const at = (key: string, progress: number): ChokeCandidate => ({ ...peer(key, 0, 0), progress: () => progress });
    assert.equal(c.nextToUnchoke([at('ahead', 0.9), at('behind', 0.1)], true), 'behind');
  });
});

describe('token bucket', () => {
  it('paces to the rate after the burst, and 0 means unlimited', () => {
    let t = 0;
    const b = new TokenBucket(1000, () => t, 0.25);
    assert.equal(b.take(16384), 0, 'the first block fits the minimum burst');
    const wait = b.take(1000);
    assert.ok(wait >= 999 && wait <= 1001, `wait ${wait}`);
    t += wait;
    assert.equal(b.take(0), 0);
    assert.equal(new TokenBucket(0).take(1 << 30), 0);
  });

  it('the stricter of chained buckets wins', () => {
    const t = 0;
    const a = new TokenBucket(1000, () => t, 0);
    const b = new TokenBucket(10_000, () => t, 0);
    a.take(16384);
    b.take(16384);
    assert.ok(takeAll([a, b], 1000) > takeAll([b], 0));
  });
});

describe('known peers', () => {
  it('backs off failed peers, skips banned and connected ones, and is bounded', () => {
    let t = 0;
    const l = new PeerList(() => t);
    const p = l.add('10.0.0.1', 6881, 'tracker')!;
    assert.deepEqual(l.candidates(10).map((x) => x.key), ['10.0.0.1:6881']);
    p.failures = 2;
    p.lastAttempt = t;
    assert.equal(l.candidates(10).length, 0, 'backing off');
    t += 4001;
    assert.equal(l.candidates(10).length, 1);
    p.banned = true;
    assert.equal(l.candidates(10).length, 0);
    assert.ok(l.isBanned('10.0.0.1'));
    assert.equal(l.add('10.0.0.2', 0, 'pex'), null, 'port 0 is not an address');
    assert.equal(l.add('::1', 7000, 'manual')!.key, '[::1]:7000');
    for (let i = 0; i < 3000; i++) l.add('10.1.0.1', 1000 + i, 'pex');
    assert.ok(l.size <= 2000);
  });
});

describe('piece cache', () => {
  it('reads each piece once for many blocks, shares concurrent loads, evicts by bytes', async () => {
    const reads: number[] = [];
    const storage = {
      read: async (index: number, begin: number, length: number) => {
        reads.push(index);
        return Buffer.alloc(length, index + begin);
      },
    };
    const cache = new PieceCache(storage, () => 64, 128);
    const blocks = await Promise.all([cache.block(1, 0, 16), cache.block(1, 16, 16), cache.block(1, 48, 16)]);
    assert.deepEqual(reads, [1], 'one read for three blocks');
    assert.equal(blocks[2]!.length, 16);
    assert.equal(blocks[2]![0], 1);
    await cache.block(2, 0, 16);
    await cache.block(3, 0, 16); // 3 pieces of 64 bytes > 128: the least recently used goes
    assert.equal(cache.peek(1, 0, 16), null);
    assert.ok(cache.peek(3, 0, 16));
  });

  it('a failed read is reported and not cached', async () => {
    let fail = true;
    const cache = new PieceCache({ read: async (_i: number, _b: number, n: number) => (fail ? Promise.reject(new Error('EIO')) : Buffer.alloc(n)) }, () => 32);
    await assert.rejects(cache.block(0, 0, 16), /EIO/);
    fail = false;
    assert.equal((await cache.block(0, 0, 16)).length, 16);
  });
});
