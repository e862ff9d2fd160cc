/**
 * Tests for the DHT inbound query limiter on a fake clock: a source's burst and refill, a flood
 * from one source that leaves every other source its allowance, the global bucket, IPv6 /64
 * sources, the counters, and the bound on remembered sources under 100,000 distinct addresses;
 * and RecencyMap, the O(1) least-recently-used order that the limiter and the DHT stores share,
 * against a list model.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_MAX_SOURCES, DEFAULT_SOURCE_BURST, QueryLimiter, QueryLimiterError, type QueryLimiterOptions } from '../../src/dht/query-limiter.js';
import { RecencyMap } from '../../src/dht/recency-map.js';

function fixture(opts: Omit<QueryLimiterOptions, 'now'> = {}) {
  const clock = { t: 0 };
  const limiter = new QueryLimiter({ now: () => clock.t, ...opts });
  return { clock, limiter };
}

/** How many of `n` queries from `host` are allowed, all at the current time. */
function burst(limiter: QueryLimiter, host: string, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (limiter.allow(host)) ok++;
  return ok;
}

/** A distinct IPv4 address per n. */
function v4(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

describe('QueryLimiter: one source', () => {
  it('allows a burst, then refills at the rate', () => {
    const { clock, limiter } = fixture({ sourceRate: 20, sourceBurst: 50 });
    assert.equal(burst(limiter, '192.0.2.1', 80), 50);
    clock.t = 500; // half a second: 10 more
    assert.equal(burst(limiter, '192.0.2.1', 80), 10);
    clock.t = 60_000; // a minute: back to a full burst, not more
    assert.equal(burst(limiter, '192.0.2.1', 80), 50);
    limiter.checkInvariants();
  });

  it('a steady source under the rate is never refused', () => {
    const { clock, limiter } = fixture({ sourceRate: 20, sourceBurst: 50 });
    for (let i = 0; i < 2_000; i++) {
      clock.t = i * 50; // exactly 20 per second
      assert.ok(limiter.allow('192.0.2.1'), `query ${i}`);
    }
    assert.equal(limiter.stats().refused.source, 0);
  });

  it('a clock that steps back gives no tokens and breaks nothing', () => {
    const { clock, limiter } = fixture({ sourceRate: 20, sourceBurst: 50 });
    clock.t = 10_000;
    assert.equal(burst(limiter, '192.0.2.1', 60), 50);
    clock.t = 0;
    assert.equal(burst(limiter, '192.0.2.1', 10), 0);
    clock.t = 10_000;
    assert.equal(burst(limiter, '192.0.2.1', 10), 0, 'time before the latest seen does not count twice');
    limiter.checkInvariants();
  });
});

describe('QueryLimiter: many sources', () => {
  it("a flood from one address does not touch another address's allowance", () => {
    const { clock, limiter } = fixture();
    assert.equal(burst(limiter, '198.51.100.66', 10_000), DEFAULT_SOURCE_BURST);
    assert.equal(burst(limiter, '192.0.2.1', DEFAULT_SOURCE_BURST), DEFAULT_SOURCE_BURST, 'the other source gets its whole burst');
    // And over time: the flooder sends 1,000 per second for 10 s, a neighbour 10 per second.
    let neighbour = 0;
    let flooder = 0;
    for (let ms = 1; ms <= 10_000; ms++) {
      clock.t = 1_000 + ms;
      if (limiter.allow('198.51.100.66')) flooder++;
      if (ms % 100 === 0 && limiter.allow('192.0.2.1')) neighbour++;
    }
    assert.equal(neighbour, 100, "every one of the neighbour's queries answered");
    // 20 per second over the 11 s since its bucket emptied at t = 0.
    assert.ok(flooder >= 219 && flooder <= 221, `the flooder got 20 per second (${flooder})`);
    const s = limiter.stats();
    assert.equal(s.refused.global, 0);
    assert.equal(s.refused.source, 10_000 - DEFAULT_SOURCE_BURST + 10_000 - flooder);
    assert.equal(s.allowed, DEFAULT_SOURCE_BURST * 2 + 100 + flooder);
    limiter.checkInvariants();
  });

  it('queries a source refuses take nothing from the global bucket', () => {
    const { limiter } = fixture({ sourceBurst: 50, globalBurst: 60 });
    assert.equal(burst(limiter, '198.51.100.66', 5_000), 50);
    assert.equal(burst(limiter, '192.0.2.1', 50), 10, 'the global bucket had 10 left, not 0');
    assert.deepEqual(limiter.stats().refused, { source: 4_950, global: 40 });
  });

  it('the global bucket caps many sources together', () => {
    const { clock, limiter } = fixture({ globalRate: 100, globalBurst: 200 });
    let ok = 0;
    for (let i = 0; i < 1_000; i++) if (limiter.allow(v4(i))) ok++;
    assert.equal(ok, 200);
    assert.equal(limiter.stats().refused.global, 800);
    clock.t = 1_000;
    ok = 0;
    for (let i = 1_000; i < 2_000; i++) if (limiter.allow(v4(i))) ok++;
    assert.equal(ok, 100, 'one second refills the global rate');
  });

  it('an IPv6 /64 is one source; another /64 is another; IPv4-mapped IPv6 is its IPv4 address', () => {
    const { limiter } = fixture({ sourceBurst: 5 });
    assert.equal(burst(limiter, '2001:db8:1:2::1', 3), 3);
    assert.equal(burst(limiter, '2001:db8:1:2:ffff::9', 3), 2, 'same /64');
    assert.equal(burst(limiter, '2001:db8:1:3::1', 5), 5, 'next /64');
    assert.equal(burst(limiter, '192.0.2.1', 3), 3);
    assert.equal(burst(limiter, '::ffff:192.0.2.1', 3), 2, 'same IPv4 address');
    assert.equal(burst(limiter, '0:0:0:0:0:ffff:192.0.2.1', 1), 0, 'same again');
    assert.equal(limiter.sources, 3);
  });

  it('remembers at most maxSources under 100,000 distinct addresses, least recently seen dropped', () => {
    const { limiter } = fixture({ globalBurst: 1_000_000 });
    let ok = 0;
    for (let i = 0; i < 100_000; i++) {
      if (limiter.allow(v4(i))) ok++;
      assert.ok(limiter.sources <= DEFAULT_MAX_SOURCES);
    }
    assert.equal(ok, 100_000, 'each new address gets a query');
    assert.equal(limiter.sources, DEFAULT_MAX_SOURCES);
    assert.equal(limiter.stats().dropped, 100_000 - DEFAULT_MAX_SOURCES);
    limiter.checkInvariants();
  });

  it('a flooder that keeps sending stays remembered, so a crowd of other addresses cannot reset it', () => {
    const { limiter } = fixture({ maxSources: 100, globalBurst: 1_000_000 });
    let flooder = 0;
    for (let i = 0; i < 100_000; i++) {
      limiter.allow(v4(i));
      if (limiter.allow('198.51.100.66')) flooder++;
    }
    assert.equal(flooder, DEFAULT_SOURCE_BURST, 'no second burst: its empty bucket was never dropped');
    assert.ok(limiter.sources <= 100);
    limiter.checkInvariants();
  });

  it('property: with the clock frozen, no source gets more than its burst and none is refused before', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(9), { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 2, max: 12 }), (senders, sourceBurst, maxSources) => {
        const { limiter } = fixture({ sourceBurst, maxSources, globalBurst: 10_000 });
        // With fewer sources than maxSources nothing is dropped, so counts are exact.
        const sent = new Map<number, number>();
        for (const s of senders) {
          const n = (sent.get(s) ?? 0) + 1;
          sent.set(s, n);
          const ok = limiter.allow(`192.0.2.${s}`);
          if (sent.size <= maxSources) assert.equal(ok, n <= sourceBurst, `source ${s}, query ${n}`);
          assert.ok(limiter.sources <= maxSources);
        }
        limiter.checkInvariants();
      }),
      { numRuns: 200 },
    );
  });
});

describe('QueryLimiter: options and invariants', () => {
  it('refuses rates and sizes that are not positive', () => {
    for (const opts of [{ sourceRate: 0 }, { globalRate: -1 }, { sourceBurst: 0 }, { globalBurst: 1.5 }, { maxSources: 0 }, { sourceRate: Infinity }]) {
      assert.throws(() => fixture(opts), RangeError, JSON.stringify(opts));
    }
  });

  it('checkInvariants throws QueryLimiterError on a bucket over its burst', () => {
    const { limiter } = fixture();
    limiter.allow('192.0.2.1');
    (limiter as unknown as { global: { tokens: number } }).global.tokens = 1e9;
    assert.throws(() => limiter.checkInvariants(), (e: unknown) => e instanceof QueryLimiterError && e.code === 'QUERY_LIMITER_INVARIANT');
  });
});

describe('RecencyMap', () => {
  it('property: matches a list model under random touches and deletes; oldest() is the least recently touched', () => {
    type Op = { t: 'touch'; key: number; value: number } | { t: 'delete'; key: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ t: fc.constant('touch' as const), key: fc.nat(9), value: fc.nat() }, { noNullPrototype: true }),
      fc.record({ t: fc.constant('delete' as const), key: fc.nat(9) }, { noNullPrototype: true }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const map = new RecencyMap<number>();
        let model: [string, number][] = [];
        for (const o of ops) {
          const k = `k${o.key}`;
          const had = model.some(([mk]) => mk === k);
          model = model.filter(([mk]) => mk !== k);
          if (o.t === 'touch') {
            map.touch(k, o.value);
            model.push([k, o.value]);
          } else {
            assert.equal(map.delete(k), had);
          }
          assert.equal(map.brokenLinks(), null);
          assert.deepEqual([...map.entries()], model);
          assert.equal(map.size, model.length);
          assert.equal(map.oldest(), model[0]?.[1]);
          assert.equal(map.get(k), o.t === 'touch' ? o.value : undefined);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('find returns the oldest match', () => {
    const map = new RecencyMap<number>();
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3], ['d', 4]] as const) map.touch(k, v);
    map.touch('b', 2);
    assert.equal(map.find((v) => v % 2 === 0), 4, 'b was touched again, so d is the older even value');
    assert.equal(map.find((v) => v > 10), undefined);
  });
});
