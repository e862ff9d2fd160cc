/**
 * Tests for the DHT peer store (BEP 5 announced peers) on a fake clock: announce and re-announce,
 * canonical hosts, expiry (lazy and by sweep), random subsets without repeats, address families,
 * every cap (ports per host, peers per swarm, peers in all, swarms) with sizes never above them,
 * and a property run of random operations that checks the invariants after every step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PEER_TTL_MS, PeerStore, PeerStoreError, type PeerStoreOptions } from '../../src/dht/peer-store.js';
import type { RecencyMap } from '../../src/dht/recency-map.js';
import { seededRandom as prng } from '../../src/sim/clock.js';

const MIN = 60_000;

function fixture(opts: Omit<PeerStoreOptions, 'now'> = {}) {
  const clock = { t: 0 };
  const store = new PeerStore({ now: () => clock.t, random: prng(7), ...opts });
  return { clock, store };
}

/** A 20-byte info hash from a number. */
function ih(n: number): Uint8Array {
  const b = new Uint8Array(20);
  new DataView(b.buffer).setUint32(16, n);
  return b;
}

/** A distinct IPv4 address per n. */
function v4(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

const key = (p: { host: string; port: number }) => `${p.host} ${p.port}`;
const sortedKeys = (ps: { host: string; port: number }[]) => ps.map(key).sort();

describe('PeerStore: announce and get', () => {
  it('lists announced peers, counts a re-announce once, and keeps swarms apart', () => {
    const { store } = fixture();
    assert.equal(store.add(ih(1), { host: '192.0.2.1', port: 6881 }), 'added');
    assert.equal(store.add(ih(1), { host: '192.0.2.2', port: 6881, seed: true }), 'added');
    assert.equal(store.add(ih(1), { host: '192.0.2.1', port: 6881 }), 'updated');
    assert.equal(store.add(ih(2), { host: '192.0.2.1', port: 6881 }), 'added');
    assert.deepEqual(sortedKeys(store.get(ih(1))), ['192.0.2.1 6881', '192.0.2.2 6881']);
    assert.deepEqual(store.get(ih(2)), [{ host: '192.0.2.1', port: 6881 }]);
    assert.deepEqual(store.get(ih(3)), []);
    assert.deepEqual(store.count(ih(1)), { peers: 2, seeds: 1 });
    assert.equal(store.size, 3);
    assert.equal(store.torrents, 2);
    store.checkInvariants();
  });

  it('tracks the seed flag through re-announces', () => {
    const { store } = fixture();
    store.add(ih(1), { host: '192.0.2.1', port: 1, seed: true });
    assert.deepEqual(store.count(ih(1)), { peers: 1, seeds: 1 });
    store.add(ih(1), { host: '192.0.2.1', port: 1 });
    assert.deepEqual(store.count(ih(1)), { peers: 1, seeds: 0 });
    store.checkInvariants();
  });

  it('stores canonical hosts: one address written two ways is one peer', () => {
    const { store } = fixture();
    assert.equal(store.add(ih(1), { host: '::ffff:192.0.2.1', port: 80 }), 'added');
    assert.equal(store.add(ih(1), { host: '192.0.2.1', port: 80 }), 'updated');
    assert.equal(store.add(ih(1), { host: '2001:DB8:0:0::1', port: 80 }), 'added');
    assert.equal(store.add(ih(1), { host: '2001:db8::1', port: 80 }), 'updated');
    assert.deepEqual(sortedKeys(store.get(ih(1))), ['192.0.2.1 80', '2001:db8::1 80']);
    store.checkInvariants();
  });

  it('rejects hosts that are not IP literals and bad ports; throws for a bad info hash', () => {
    const { store } = fixture();
    for (const p of [
      { host: 'example.com', port: 80 },
      { host: '', port: 80 },
      { host: '192.0.2.1', port: 0 },
      { host: '192.0.2.1', port: 65536 },
      { host: '192.0.2.1', port: 1.5 },
    ]) {
      assert.equal(store.add(ih(1), p), 'rejected', JSON.stringify(p));
    }
    assert.equal(store.size, 0);
    assert.throws(() => store.add(new Uint8Array(19), { host: '192.0.2.1', port: 80 }), RangeError);
    assert.throws(() => store.get(new Uint8Array(21)), RangeError);
  });

  it('filters by address family (BEP 32)', () => {
    const { store } = fixture();
    store.add(ih(1), { host: '192.0.2.1', port: 1 });
    store.add(ih(1), { host: '2001:db8::1', port: 2 });
    store.add(ih(1), { host: '192.0.2.2', port: 3 });
    assert.deepEqual(sortedKeys(store.get(ih(1), 50, 4)), ['192.0.2.1 1', '192.0.2.2 3']);
    assert.deepEqual(store.get(ih(1), 50, 6), [{ host: '2001:db8::1', port: 2 }]);
    assert.equal(store.get(ih(1), 50).length, 3);
  });

  it('hands out a random subset without repeats, and over many answers every peer', () => {
    const { store } = fixture();
    const listed = new Set<string>();
    for (let i = 0; i < 200; i++) {
      store.add(ih(1), { host: v4(i), port: 6881 });
      listed.add(`${v4(i)} 6881`);
    }
    const seen = new Set<string>();
    const firsts = new Set<string>();
    for (let round = 0; round < 60; round++) {
      const got = store.get(ih(1), 50).map(key);
      assert.equal(got.length, 50);
      assert.equal(new Set(got).size, 50, 'no peer twice in one answer');
      for (const k of got) {
        assert.ok(listed.has(k));
        seen.add(k);
      }
      firsts.add(got.join(','));
    }
    assert.equal(seen.size, 200, 'every listed peer is handed out sooner or later');
    assert.ok(firsts.size > 1, 'answers differ');
    assert.equal(store.get(ih(1), 0).length, 0);
    assert.equal(store.get(ih(1), 500).length, 200, 'asking for more than listed gives all');
  });

  it('property: get returns min(max, listed) distinct listed peers whatever the random source gives', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 60 }), fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 20 }), (n, max, draws) => {
        let i = 0;
        const store = new PeerStore({ now: () => 0, random: () => draws[i++ % draws.length]! });
        for (let p = 0; p < n; p++) store.add(ih(1), { host: v4(p), port: 1000 + p });
        const got = store.get(ih(1), max).map(key);
        assert.equal(got.length, Math.min(n, max));
        assert.equal(new Set(got).size, got.length);
        for (const k of got) assert.match(k, /^10\.0\.\d+\.\d+ \d+$/);
      }),
      { numRuns: 200 },
    );
  });
});

describe('PeerStore: expiry', () => {
  it('forgets a peer 30 minutes after its last announce; a re-announce extends it', () => {
    const { clock, store } = fixture();
    store.add(ih(1), { host: '192.0.2.1', port: 1 });
    store.add(ih(1), { host: '192.0.2.2', port: 1 });
    clock.t = 20 * MIN;
    store.add(ih(1), { host: '192.0.2.2', port: 1 });
    clock.t = PEER_TTL_MS - 1;
    assert.equal(store.get(ih(1)).length, 2);
    clock.t = PEER_TTL_MS;
    assert.deepEqual(store.get(ih(1)), [{ host: '192.0.2.2', port: 1 }]);
    clock.t = 20 * MIN + PEER_TTL_MS;
    assert.deepEqual(store.get(ih(1)), []);
    assert.equal(store.torrents, 0, 'an empty swarm is dropped');
    store.checkInvariants();
  });

  it('sweep removes everything expired and says how many', () => {
    const { clock, store } = fixture();
    for (let i = 0; i < 30; i++) store.add(ih(i % 3), { host: v4(i), port: 1 });
    clock.t = 10 * MIN;
    for (let i = 30; i < 40; i++) store.add(ih(5), { host: v4(i), port: 1 });
    clock.t = PEER_TTL_MS + 1;
    assert.equal(store.sweep(), 30);
    assert.equal(store.sweep(), 0);
    assert.equal(store.size, 10);
    assert.equal(store.torrents, 1);
    store.checkInvariants();
  });

  it('a clock that steps back does not break the order or revive anything', () => {
    const { clock, store } = fixture();
    clock.t = 10 * MIN;
    store.add(ih(1), { host: '192.0.2.1', port: 1 });
    clock.t = 0;
    store.add(ih(1), { host: '192.0.2.2', port: 1 });
    store.checkInvariants();
    clock.t = 10 * MIN + PEER_TTL_MS;
    assert.equal(store.size, 0, 'both count from 10 min, the latest time seen');
  });
});

describe('PeerStore: caps', () => {
  it('one host gets at most maxPortsPerHost ports in a swarm; its newest ports stay', () => {
    const { clock, store } = fixture({ maxPortsPerHost: 4 });
    for (let port = 1; port <= 10; port++) {
      clock.t = port;
      assert.equal(store.add(ih(1), { host: '192.0.2.1', port }), 'added');
      store.checkInvariants();
    }
    store.add(ih(1), { host: '192.0.2.2', port: 1 });
    assert.deepEqual(sortedKeys(store.get(ih(1), 100)), ['192.0.2.1 10', '192.0.2.1 7', '192.0.2.1 8', '192.0.2.1 9', '192.0.2.2 1']);
    assert.equal(store.evicted, 6);
  });

  it('a full swarm drops its least recently announced peer', () => {
    const { clock, store } = fixture({ maxPeersPerTorrent: 10 });
    for (let i = 0; i < 20; i++) {
      clock.t = i;
      store.add(ih(1), { host: v4(i), port: 1 });
      // Peer 3 is the oldest at i = 12 (0-2 are gone); a re-announce makes it the newest.
      if (i === 12) store.add(ih(1), { host: v4(3), port: 1 });
      assert.ok(store.count(ih(1)).peers <= 10);
      store.checkInvariants();
    }
    const expected = [3, ...Array.from({ length: 9 }, (_, i) => 11 + i)].map((i) => `${v4(i)} 1`).sort();
    assert.deepEqual(sortedKeys(store.get(ih(1), 100)), expected);
  });

  it('peers in all never exceed maxPeers; the oldest anywhere goes', () => {
    const { clock, store } = fixture({ maxPeers: 50 });
    for (let i = 0; i < 200; i++) {
      clock.t = i;
      store.add(ih(i % 7), { host: v4(i), port: 1 });
      assert.ok(store.size <= 50);
      store.checkInvariants();
    }
    assert.equal(store.size, 50);
    const all = Array.from({ length: 7 }, (_, t) => store.get(ih(t), 1000).map(key)).flat().sort();
    assert.deepEqual(all, Array.from({ length: 50 }, (_, i) => `${v4(150 + i)} 1`).sort());
  });

  it('swarms never exceed maxTorrents; the one announced to least recently goes', () => {
    const { clock, store } = fixture({ maxTorrents: 5 });
    for (let t = 0; t < 5; t++) {
      clock.t = t;
      store.add(ih(t), { host: v4(t), port: 1 });
      store.add(ih(t), { host: v4(t + 100), port: 1 });
    }
    clock.t = 10;
    store.add(ih(0), { host: v4(0), port: 1 }); // swarm 0 is recent again
    clock.t = 11;
    store.add(ih(9), { host: v4(9), port: 1 });
    assert.equal(store.torrents, 5);
    assert.equal(store.count(ih(1)).peers, 0, 'swarm 1 was the least recent');
    assert.equal(store.count(ih(0)).peers, 2);
    assert.equal(store.count(ih(9)).peers, 1);
    assert.equal(store.evicted, 2, 'both of its peers');
    store.checkInvariants();
  });

  it('with default caps, a flood stays within them', () => {
    const { store } = fixture();
    for (let i = 0; i < 30_000; i++) store.add(ih(i), { host: v4(i), port: 1 });
    assert.equal(store.torrents, 10_000);
    for (let i = 0; i < 3_000; i++) store.add(ih(1_000_000), { host: v4(i), port: 2 });
    assert.equal(store.count(ih(1_000_000)).peers, 2_000);
    for (let t = 0; t < 60; t++) for (let i = 0; i < 2_000; i++) store.add(ih(2_000_000 + t), { host: v4(i), port: 3 });
    assert.equal(store.size, 100_000);
    assert.ok(store.torrents <= 10_000);
    store.checkInvariants();
  });

  it('refuses caps that are not positive integers', () => {
    for (const opts of [{ maxPeers: 0 }, { maxTorrents: 1.5 }, { maxPeersPerTorrent: -1 }, { maxPortsPerHost: Number.NaN }, { ttlMs: 0 }]) {
      assert.throws(() => fixture(opts), RangeError, JSON.stringify(opts));
    }
  });
});

describe('PeerStore: property', () => {
  type Op = { t: 'add'; torrent: number; host: number; port: number; seed: boolean } | { t: 'get'; torrent: number; max: number; family: 4 | 6 | undefined } | { t: 'clock'; ms: number } | { t: 'sweep' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.record({ t: fc.constant('add' as const), torrent: fc.nat(6), host: fc.nat(12), port: fc.integer({ min: 1, max: 6 }), seed: fc.boolean() }, { noNullPrototype: true }), weight: 10 },
    { arbitrary: fc.record({ t: fc.constant('get' as const), torrent: fc.nat(6), max: fc.nat(12), family: fc.constantFrom<4 | 6 | undefined>(4, 6, undefined) }, { noNullPrototype: true }), weight: 3 },
    { arbitrary: fc.record({ t: fc.constant('clock' as const), ms: fc.integer({ min: 1, max: 20 * MIN }) }, { noNullPrototype: true }), weight: 2 },
    { arbitrary: fc.constant({ t: 'sweep' as const }), weight: 1 },
  );
  // Hosts 0-5 are IPv4, 6-12 IPv6, so family filters have something to do.
  const host = (n: number) => (n < 6 ? `192.0.2.${n}` : `2001:db8::${n}`);

  it('random operations on small caps: invariants hold, an announce is listed at once, get answers only live peers', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.record({ maxPeersPerTorrent: fc.integer({ min: 1, max: 8 }), maxPortsPerHost: fc.integer({ min: 1, max: 3 }), maxTorrents: fc.integer({ min: 1, max: 4 }), maxPeers: fc.integer({ min: 1, max: 15 }) }, { noNullPrototype: true }), (ops, caps) => {
        const { clock, store } = fixture(caps);
        const lastAnnounce = new Map<string, number>();
        for (const o of ops) {
          if (o.t === 'add') {
            store.add(ih(o.torrent), { host: host(o.host), port: o.port, seed: o.seed });
            lastAnnounce.set(`${o.torrent}/${host(o.host)} ${o.port}`, clock.t);
            assert.ok(store.get(ih(o.torrent), 1000).some((p) => p.host === host(o.host) && p.port === o.port), 'just announced, so listed');
          } else if (o.t === 'get') {
            const got = store.get(ih(o.torrent), o.max, o.family).map(key);
            assert.ok(got.length <= o.max);
            assert.equal(new Set(got).size, got.length);
            for (const k of got) {
              const at = lastAnnounce.get(`${o.torrent}/${k}`);
              assert.ok(at !== undefined && clock.t - at < PEER_TTL_MS, `${k} was announced within the TTL`);
              if (o.family !== undefined) assert.equal(k.includes(':'), o.family === 6);
            }
          } else if (o.t === 'clock') {
            clock.t += o.ms;
          } else {
            store.sweep();
          }
          store.checkInvariants();
          assert.ok(store.size <= caps.maxPeers && store.torrents <= caps.maxTorrents);
        }
      }),
      { numRuns: 150 },
    );
  });

  /** The store's private maps, reached around TypeScript to break them on purpose. */
  type Internals = { order: RecencyMap<{ announced: number; key: string }>; swarms: RecencyMap<{ seeds: number }> };

  it('checkInvariants throws PeerStoreError on a peer missing from an index, a bad seed count or broken order', () => {
    const fresh = () => {
      const { store } = fixture();
      store.add(ih(1), { host: '192.0.2.1', port: 1 });
      store.add(ih(1), { host: '192.0.2.2', port: 1 });
      store.checkInvariants();
      return { store, inner: store as unknown as Internals };
    };
    let f = fresh();
    f.inner.order.delete(f.inner.order.oldest()!.key);
    assert.throws(() => f.store.checkInvariants(), PeerStoreError);
    f = fresh();
    [...f.inner.swarms.values()][0]!.seeds = 1;
    assert.throws(() => f.store.checkInvariants(), /seeds/);
    f = fresh();
    [...f.inner.order.values()][0]!.announced = 5;
    assert.throws(() => f.store.checkInvariants(), (e: unknown) => e instanceof PeerStoreError && e.code === 'PEER_STORE_INVARIANT' && /order/.test(e.message));
  });
});
