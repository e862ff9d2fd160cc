/**
 * Unit tests for the DHT routing table (BEP 5), one rule at a time on a fake clock: splitting,
 * closest() against a brute-force sort, replacement of bad nodes, node states, refresh targets,
 * the address rules, and saving and restoring. Every test checks the table's invariants.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commonPrefixBits, idToHex, idsEqual, randomId } from '../../src/codec/dht-id.js';
import { type HowSeen, type NodeContact, RoutingTable, RoutingTableError, GOOD_FOR_MS, REFRESH_AFTER_MS } from '../../src/dht/routing-table.js';
import { seededRandom as prng } from '../../src/sim/clock.js';

const MIN = 60_000;

const big = (id: Uint8Array) => BigInt(`0x${Buffer.from(id).toString('hex')}`);

/** A table on a clock the test moves by hand. */
function fixture(self: Uint8Array, k?: number) {
  const clock = { t: 0 };
  const table = new RoutingTable(self, { now: () => clock.t, random: prng(99), ...(k === undefined ? {} : { k }) });
  return { clock, table };
}

/** A node with a distinct address per `n`. */
function node(id: Uint8Array, n: number): NodeContact {
  return { id, host: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, port: 6881 };
}

/** An id whose top byte is `top`, the rest `fill`. */
function idOf(top: number, fill = 0): Uint8Array {
  const id = new Uint8Array(20).fill(fill);
  id[0] = top;
  return id;
}

const ZERO = new Uint8Array(20);

/** A table with self 00..00 whose far bucket (top bit 1) is full of 8 nodes seen `how`, plus `extra` nodes offered to it. */
function fullFarBucket(how: HowSeen) {
  const f = fixture(ZERO);
  const far = Array.from({ length: 8 }, (_, i) => idOf(0x80 + i));
  far.forEach((id, i) => assert.equal(f.table.add(node(id, i), how), 'added'));
  return { ...f, far };
}

describe('RoutingTable: buckets', () => {
  it('splits only the bucket that holds our id, so a far full bucket sends newcomers to its cache', () => {
    const { table, far } = fullFarBucket('responded');
    assert.equal(table.buckets().length, 1);
    // The ninth far node splits the one bucket; all far nodes land in the new far half, still full.
    assert.equal(table.add(node(idOf(0xf0), 100), 'responded'), 'replacement');
    assert.deepEqual(
      table.buckets().map((b) => [b.depth, b.nodes, b.replacements]),
      [
        [1, 8, 1],
        [1, 0, 0],
      ],
    );
    assert.equal(table.add(node(idOf(0xf1), 101), 'responded'), 'replacement');
    assert.equal(table.buckets().length, 2, 'a bucket without our id never splits');
    assert.equal(table.add(node(idOf(0x01), 102), 'responded'), 'added', 'our own half has room');
    assert.equal(table.size, 9);
    for (const id of far) assert.ok(table.get(id));
    table.checkInvariants();
  });

  it('random ids: at most K per bucket, buckets shaped around our id, size about K log2 N', () => {
    const sizes: number[] = [];
    for (const n of [250, 1000, 4000]) {
      const random = prng(n);
      const self = randomId(random);
      const { table } = fixture(self);
      for (let i = 0; i < n; i++) table.add(node(randomId(random), i), 'responded');
      table.checkInvariants();
      const buckets = table.buckets();
      // Bucket i (but the last) holds ids sharing exactly i bits with ours: depth i + 1, first bits ours but the last.
      buckets.forEach((b, i) => {
        assert.ok(b.nodes <= 8);
        const first = Buffer.from(b.first, 'hex');
        if (i < buckets.length - 1) {
          assert.equal(b.depth, i + 1);
          assert.equal(commonPrefixBits(first, self), i);
        } else {
          assert.equal(b.depth, i);
          assert.ok(commonPrefixBits(first, self) >= i);
        }
      });
      // n / 2^(i+1) of the offered ids share exactly i bits with ours: where that is plenty, bucket i is full.
      buckets.forEach((b, i) => assert.ok(n / 2 ** (i + 1) < 32 || b.nodes === 8, `bucket ${i} of ${n}: ${b.nodes}`));
      const k = 8;
      assert.ok(table.size >= k * (Math.log2(n) - 4) && table.size <= k * (Math.log2(n) + 1), `${n} nodes -> ${table.size} kept`);
      sizes.push(table.size);
    }
    assert.ok(sizes[0]! < sizes[1]! && sizes[1]! < sizes[2]!, `${sizes}`);
    assert.ok(sizes[2]! - sizes[0]! <= 8 * 6, 'sixteen times the nodes adds about four buckets, not sixteen times the size');
  });

  it('closest() equals a brute-force sort of the nodes the table kept', () => {
    const random = prng(42);
    const { table } = fixture(randomId(random));
    const offered = Array.from({ length: 600 }, () => randomId(random));
    offered.forEach((id, i) => table.add(node(id, i), 'responded'));
    const kept = offered.filter((id) => table.get(id) !== undefined);
    assert.equal(kept.length, table.size);
    for (let round = 0; round < 20; round++) {
      const target = round === 0 ? table.self : round === 1 ? kept[0]! : randomId(random);
      for (const n of [1, 8, 20, 1000]) {
        const want = [...kept].sort((a, b) => {
          const d = (big(a) ^ big(target)) - (big(b) ^ big(target));
          return d < 0n ? -1 : d > 0n ? 1 : 0;
        });
        assert.deepEqual(
          table.closest(target, n).map((e) => idToHex(e.id)),
          want.slice(0, n).map(idToHex),
        );
      }
    }
  });

  it('closest() leaves bad nodes out', () => {
    const { table, far } = fullFarBucket('responded');
    table.failed(far[0]!);
    table.failed(far[0]!);
    assert.equal(table.state(far[0]!), 'bad');
    const ids = table.closest(far[0]!, 100).map((e) => idToHex(e.id));
    assert.equal(ids.length, 7);
    assert.ok(!ids.includes(idToHex(far[0]!)));
    table.checkInvariants();
  });
});

describe('RoutingTable: replacements', () => {
  it('a bad node gives way to the best replacement: one that answered, most recently seen', () => {
    const { table, clock, far } = fullFarBucket('responded');
    table.add(node(idOf(0x01), 50), 'responded'); // splits: the far half is full from now on
    clock.t = 1000;
    assert.equal(table.add(node(idOf(0xf0), 100), 'heard'), 'replacement');
    clock.t = 2000;
    assert.equal(table.add(node(idOf(0xf1), 101), 'responded'), 'replacement');
    clock.t = 3000;
    assert.equal(table.add(node(idOf(0xf2), 102), 'heard'), 'replacement');
    assert.equal(table.add(node(idOf(0xf3), 103), 'queried'), 'replacement');

    assert.ok(table.failed(far[3]!));
    assert.equal(table.state(far[3]!), 'good', 'one failure is not enough');
    table.failed(far[3]!);
    assert.equal(table.get(far[3]!), undefined, 'bad and replaced');
    assert.ok(table.get(idOf(0xf1)), 'the replacement that answered us wins');
    assert.equal(table.buckets()[0]!.nodes, 8);
    assert.equal(table.buckets()[0]!.replacements, 3);

    // Next best: one that queried us beats ones we only heard of, even one heard of as recently.
    table.failed(far[4]!);
    table.failed(far[4]!);
    assert.ok(table.get(idOf(0xf3)));
    table.checkInvariants();
  });

  it('a bad node without replacements stays until a newcomer takes its place', () => {
    const { table, far } = fullFarBucket('responded');
    table.add(node(idOf(0x01), 50), 'responded');
    table.failed(far[2]!);
    table.failed(far[2]!);
    assert.equal(table.state(far[2]!), 'bad');
    assert.equal(table.add(node(idOf(0xf0), 100), 'queried'), 'added');
    assert.equal(table.get(far[2]!), undefined);
    assert.equal(table.state(idOf(0xf0)), 'questionable', 'it queried us but never answered');
    table.checkInvariants();
  });

  it('a node that answers pushes out one that never answered; one that only queried us does not', () => {
    const { table, far } = fullFarBucket('heard');
    assert.equal(table.add(node(idOf(0xf0), 100), 'heard'), 'replacement');
    assert.equal(table.buckets().length, 1, 'heard nodes never split a bucket');
    assert.equal(table.add(node(idOf(0xf1), 101), 'queried'), 'replacement');
    assert.equal(table.buckets().length, 2, 'queried nodes may split our bucket');
    assert.equal(table.add(node(idOf(0xf2), 102), 'responded'), 'added');
    assert.equal(table.get(idOf(0xf2))!.lastResponded, 0);
    assert.equal(table.get(far[0]!), undefined, 'the oldest of the nodes that never answered');
    assert.equal(table.size, 8);
    table.checkInvariants();
  });

  it('a cached node that answers moves in; remove() fills a slot from the cache; a failing replacement is dropped', () => {
    const { table, far } = fullFarBucket('heard');
    assert.equal(table.add(node(idOf(0x01), 50), 'queried'), 'added');
    assert.equal(table.add(node(idOf(0xf0), 100), 'heard'), 'replacement');
    assert.equal(table.add(node(idOf(0xf0), 100), 'responded'), 'added', 'it answered: it takes the place of a node that never did');
    assert.equal(table.get(far[0]!), undefined);
    assert.equal(table.buckets()[0]!.replacements, 0);

    assert.equal(table.add(node(idOf(0xf1), 101), 'heard'), 'replacement');
    assert.ok(table.remove(far[1]!));
    assert.ok(table.get(idOf(0xf1)));
    assert.equal(table.buckets()[0]!.nodes, 8);

    assert.equal(table.add(node(idOf(0xf2), 102), 'heard'), 'replacement');
    assert.ok(table.failed(idOf(0xf2)));
    assert.equal(table.buckets()[0]!.replacements, 0);
    assert.ok(table.remove(idOf(0x01)));
    assert.equal(table.remove(idOf(0x01)), false);
    assert.equal(table.failed(idOf(0x01)), false);
    table.checkInvariants();
  });

  it('the cache is bounded and keeps the nodes worth most', () => {
    const { table, clock } = fullFarBucket('responded');
    table.add(node(idOf(0x01), 50), 'responded');
    for (let i = 0; i < 8; i++) {
      clock.t = i;
      assert.equal(table.add(node(idOf(0xc0 + i), 100 + i), 'responded'), 'replacement');
    }
    clock.t = 100;
    assert.equal(table.add(node(idOf(0xd0), 200), 'heard'), 'rejected', 'hearsay does not push out a node that answered');
    assert.equal(table.add(node(idOf(0xd1), 201), 'responded'), 'replacement');
    assert.equal(table.buckets()[0]!.replacements, 8);
    table.checkInvariants();
  });
});

describe('RoutingTable: node states', () => {
  it('good, questionable and bad on the clock (BEP 5)', () => {
    const { table, clock } = fixture(ZERO);
    const a = idOf(0x80);
    const q = idOf(0x81);
    table.add(node(a, 1), 'responded');
    table.add(node(q, 2), 'queried');
    assert.equal(table.state(a), 'good');
    assert.equal(table.state(q), 'questionable', 'a query from a node that never answered proves nothing');
    clock.t = GOOD_FOR_MS - 1;
    assert.equal(table.state(a), 'good');
    clock.t = GOOD_FOR_MS;
    assert.equal(table.state(a), 'questionable');
    assert.deepEqual(
      table.questionable().map((e) => idToHex(e.id)),
      [a, q].map(idToHex),
      'least recently seen first',
    );
    table.add(node(a, 1), 'queried');
    assert.equal(table.state(a), 'good', 'answered once and queried us within 15 minutes');
    table.add(node(a, 1), 'heard');
    assert.equal(table.get(a)!.lastSeen, GOOD_FOR_MS, 'hearsay does not count as seen');
    table.failed(a);
    assert.equal(table.state(a), 'good');
    table.failed(a);
    assert.equal(table.state(a), 'bad');
    assert.equal(table.questionable().length, 1, 'bad nodes are not worth a ping');
    assert.equal(table.add(node(a, 1), 'responded'), 'updated');
    assert.equal(table.state(a), 'good', 'an answer clears the failures');
    assert.equal(table.get(a)!.failures, 0);
    assert.ok(table.sentQuery(a));
    clock.t += 5;
    assert.equal(table.get(a)!.lastQueried, GOOD_FOR_MS);
    assert.equal(table.sentQuery(idOf(0x99)), false);
    table.checkInvariants();
  });

  it('staleBuckets: a random id in each bucket unchanged for 15 minutes', () => {
    const random = prng(8);
    const { table, clock } = fixture(randomId(random));
    for (let i = 0; i < 300; i++) table.add(node(randomId(random), i), 'responded');
    assert.deepEqual(table.staleBuckets(), []);
    clock.t = REFRESH_AFTER_MS;
    const buckets = table.buckets();
    const targets = table.staleBuckets();
    assert.equal(targets.length, buckets.length);
    targets.forEach((t, i) => assert.ok(commonPrefixBits(t, Buffer.from(buckets[i]!.first, 'hex')) >= buckets[i]!.depth));
    // An answer from a node in the first bucket freshens that bucket only.
    const inFirst = table.nodes().find((e) => commonPrefixBits(e.id, table.self) === 0)!;
    table.add(inFirst, 'responded');
    assert.equal(table.staleBuckets().length, buckets.length - 1);
    assert.equal(table.buckets()[0]!.lastChanged, REFRESH_AFTER_MS);
    // A query from it does not (BEP 5 counts answers, additions and replacements).
    clock.t = 2 * REFRESH_AFTER_MS;
    table.add(inFirst, 'queried');
    assert.equal(table.staleBuckets().length, buckets.length);
    assert.equal(table.staleBuckets(30 * MIN + 1).length, 0);
    table.checkInvariants();
  });
});

describe('RoutingTable: addresses and ids', () => {
  it('refuses our own id, port 0, an empty host and ids that are not 20 bytes', () => {
    const { table } = fixture(ZERO);
    assert.equal(table.add(node(ZERO, 1), 'responded'), 'rejected');
    assert.equal(table.add({ id: idOf(1), host: '10.0.0.1', port: 0 }, 'responded'), 'rejected');
    assert.equal(table.add({ id: idOf(1), host: '', port: 1 }, 'responded'), 'rejected');
    assert.throws(() => table.add({ id: new Uint8Array(19), host: '10.0.0.1', port: 1 }, 'responded'), RangeError);
    assert.throws(() => new RoutingTable(new Uint8Array(21), { now: () => 0 }), RangeError);
    assert.equal(table.size, 0);
  });

  it('one address holds one id, and an id keeps its address, until the first goes bad', () => {
    const { table } = fixture(ZERO);
    const a = idOf(0x80);
    assert.equal(table.add({ id: a, host: '1.2.3.4', port: 6881 }, 'responded'), 'added');
    assert.equal(table.add({ id: idOf(0x81), host: '1.2.3.4', port: 6881 }, 'responded'), 'rejected', 'same address, other id');
    assert.equal(table.add({ id: idOf(0x81), host: '1.2.3.4', port: 6882 }, 'responded'), 'added', 'another port is another node');
    assert.equal(table.add({ id: a, host: '5.6.7.8', port: 6881 }, 'responded'), 'rejected', 'same id, other address');
    assert.equal(table.get(a)!.host, '1.2.3.4');

    table.failed(a);
    table.failed(a);
    assert.equal(table.add({ id: a, host: '5.6.7.8', port: 6881 }, 'responded'), 'added', 'the old entry went bad: the id moved');
    assert.equal(table.get(a)!.host, '5.6.7.8');
    assert.equal(table.state(a), 'good');
    const b = idOf(0x81);
    table.failed(b);
    table.failed(b);
    assert.equal(table.add({ id: idOf(0x82), host: '1.2.3.4', port: 6882 }, 'heard'), 'added', 'the address now belongs to a new id');
    assert.equal(table.get(b), undefined);
    table.checkInvariants();
  });

  it('the address rule covers the replacement cache too', () => {
    const { table } = fullFarBucket('responded');
    table.add(node(idOf(0x01), 50), 'responded');
    assert.equal(table.add({ id: idOf(0xf0), host: '9.9.9.9', port: 1 }, 'heard'), 'replacement');
    assert.equal(table.add({ id: idOf(0xf1), host: '9.9.9.9', port: 1 }, 'responded'), 'rejected');
    assert.equal(table.add({ id: idOf(0xf0), host: '9.9.9.8', port: 1 }, 'responded'), 'rejected');
    assert.equal(table.add({ id: idOf(0xf0), host: '9.9.9.9', port: 1 }, 'responded'), 'replacement', 'seen again, still no room');
    table.checkInvariants();
  });

  it('keeps its own copy of ids', () => {
    const { table } = fixture(ZERO);
    const id = idOf(0x80);
    table.add(node(id, 1), 'responded');
    id[0] = 0x01;
    assert.ok(table.get(idOf(0x80)));
    table.checkInvariants();
  });
});

describe('RoutingTable: saving and restoring', () => {
  it('round trip: same id, same nodes (bad ones dropped), all questionable until they answer', () => {
    const random = prng(5);
    const { table } = fixture(randomId(random));
    for (let i = 0; i < 500; i++) table.add(node(randomId(random), i), i % 3 === 0 ? 'queried' : 'responded');
    const bad = table.nodes()[0]!.id;
    table.failed(bad);
    table.failed(bad);
    const saved = JSON.parse(JSON.stringify(table)) as unknown;
    const { clock } = fixture(ZERO);
    clock.t = 10 * GOOD_FOR_MS;
    const back = RoutingTable.fromJSON(saved, { now: () => clock.t });
    back.checkInvariants();
    assert.ok(idsEqual(back.self, table.self));
    const key = (e: { id: Uint8Array; host: string; port: number }) => `${idToHex(e.id)} ${e.host} ${e.port}`;
    const want = table.nodes().filter((e) => !idsEqual(e.id, bad)).map(key).sort();
    assert.deepEqual(back.nodes().map(key).sort(), want);
    assert.ok(back.nodes().every((e) => back.state(e.id) === 'questionable' && e.lastSeen === null));
    assert.equal(back.questionable().length, back.size);
  });

  it('ignores garbage and takes a new id when told to', () => {
    const self = idOf(0x42);
    const good = { id: 'ff'.repeat(20), host: '1.2.3.4', port: 6881 };
    const saved = {
      version: 1,
      self: idToHex(self),
      nodes: [good, null, 7, 'x', { id: 'zz', host: 'h', port: 1 }, { id: '11'.repeat(20), host: 5, port: 1 }, { id: '12'.repeat(20), host: 'h', port: 0 }, { id: '13'.repeat(20), host: 'h', port: '1' }, { id: idToHex(self), host: 'me', port: 1 }, { ...good, host: '1.2.3.5' }],
    };
    const back = RoutingTable.fromJSON(saved, { now: () => 0 });
    assert.ok(idsEqual(back.self, self));
    assert.deepEqual(back.nodes().map((e) => [idToHex(e.id), e.host, e.port]), [['ff'.repeat(20), '1.2.3.4', 6881]]);
    back.checkInvariants();

    const other = RoutingTable.fromJSON(saved, { now: () => 0, self: idOf(0x43) });
    assert.ok(idsEqual(other.self, idOf(0x43)));
    assert.equal(other.size, 2, 'the saved self is an ordinary node to a table with another id');

    for (const junk of [null, undefined, 42, 'x', [], { nodes: 'x' }, { self: 'nope', nodes: [{}] }]) {
      const t = RoutingTable.fromJSON(junk, { now: () => 0, random: prng(1) });
      assert.equal(t.size, 0);
      assert.equal(t.self.length, 20);
      t.checkInvariants();
    }
  });
});

describe('RoutingTable: checkInvariants', () => {
  /** The table's private fields, reached around TypeScript to break them on purpose. */
  type Internals = { bucketList: { nodes: { id: Uint8Array; host: string; port: number }[] }[] };

  it('throws RoutingTableError on an overfull bucket, a duplicate id or an unindexed node', () => {
    const fresh = () => {
      const { table } = fullFarBucket('responded');
      return { table, buckets: (table as unknown as Internals).bucketList };
    };
    let t = fresh();
    t.buckets[0]!.nodes.push({ ...t.buckets[0]!.nodes[0]!, port: 1 });
    assert.throws(() => t.table.checkInvariants(), RoutingTableError);
    t = fresh();
    t.table.add(node(idOf(0x01), 50), 'responded');
    t.buckets[1]!.nodes.push({ ...t.buckets[1]!.nodes[0]!, id: idOf(0x80, 1) });
    assert.throws(() => t.table.checkInvariants(), /outside its bucket's range/);
    t = fresh();
    t.buckets[0]!.nodes[0]!.port = 9;
    assert.throws(() => t.table.checkInvariants(), /not indexed/);
  });
});
