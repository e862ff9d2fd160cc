/**
 * Model-based property test for the DHT routing table: random sequences of adds (each way of
 * being seen, with ids clustered at random depths around ours so that buckets fill and split, and
 * few addresses so that the address rules fire), failures, removals, sent queries and clock steps.
 * The table's invariants are checked after every step, each answer against what it promised, and
 * closest() against a brute-force sort; at the end a save and restore must keep every live node.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { idToHex } from '../../src/codec/dht-id.js';
import { type HowSeen, RoutingTable, nodeState } from '../../src/dht/routing-table.js';

type Op =
  | { t: 'add'; node: number; address: number; how: HowSeen }
  | { t: 'failed'; node: number }
  | { t: 'remove'; node: number }
  | { t: 'sent'; node: number }
  | { t: 'clock'; ms: number };

const id20 = fc.uint8Array({ minLength: 20, maxLength: 20 });
const POOL = 40;
// Some ids come up far more often than others, so that the same node fails twice and goes bad.
const nodeIndex = fc.oneof(fc.nat(7), fc.nat(POOL - 1));

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('add' as const), node: nodeIndex, address: fc.nat(30), how: fc.constantFrom<HowSeen>('responded', 'queried', 'heard') }), weight: 8 },
  { arbitrary: fc.record({ t: fc.constant('failed' as const), node: nodeIndex }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('remove' as const), node: nodeIndex }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('sent' as const), node: nodeIndex }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('clock' as const), ms: fc.integer({ min: 1, max: 20 * 60_000 }) }), weight: 1 },
);

/** An id sharing exactly `depth` leading bits with `self`; the rest from `noise`. */
function near(self: Uint8Array, depth: number, noise: Uint8Array): Uint8Array {
  const out = new Uint8Array(noise);
  for (let bit = 0; bit <= depth; bit++) {
    const mask = 0x80 >> (bit & 7);
    const want = bit < depth ? self[bit >> 3]! & mask : ~self[bit >> 3]! & mask;
    out[bit >> 3] = (out[bit >> 3]! & ~mask) | want;
  }
  return out;
}

const big = (id: Uint8Array) => BigInt(`0x${idToHex(id)}`);

describe('routing table properties', () => {
  it('keeps its invariants and its word under random add/failed/remove sequences', () => {
    // What the runs went through, so that a generator too weak to reach a rule fails the test.
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        id20,
        fc.array(fc.tuple(fc.nat(8), id20), { minLength: POOL, maxLength: POOL }),
        fc.constantFrom(1, 2, 3, 8),
        fc.constantFrom(0, 2, 8),
        fc.array(op, { maxLength: 120, size: 'max' }),
        id20,
        (self, shapes, k, replacements, ops, target) => {
          const ids = shapes.map(([depth, noise]) => near(self, depth, noise));
          const clock = { t: 0 };
          const table = new RoutingTable(self, { now: () => clock.t, k, replacements });
          const address = (n: number) => ({ host: `10.0.0.${n % 10}`, port: 6881 + Math.floor(n / 10) });
          for (const o of ops) {
            if (o.t === 'clock') {
              clock.t += o.ms;
            } else if (o.t === 'add') {
              const id = ids[o.node]!;
              const before = table.get(id);
              const result = table.add({ id, ...address(o.address) }, o.how);
              seen.add(`${o.how} ${result}`);
              if (table.buckets().length >= 3) seen.add('split twice');
              const after = table.get(id);
              if (result === 'added' || result === 'updated') {
                assert.ok(after, result);
                assert.deepEqual([after.host, after.port], [address(o.address).host, address(o.address).port]);
                if (o.how === 'responded') assert.equal(nodeState(after, clock.t), 'good');
              } else if (after !== undefined) {
                // Refused: the id is in the table at another address, which it keeps.
                assert.equal(result, 'rejected');
                assert.deepEqual([after.host, after.port], [before?.host, before?.port]);
              } else {
                // Not in the table: it never was, or its entry had gone bad (a live one is never pushed out by a rival).
                assert.ok(before === undefined || nodeState(before, clock.t) === 'bad', result);
              }
              if (result === 'updated') assert.ok(before);
            } else if (o.t === 'failed') {
              const before = table.get(ids[o.node]!);
              const size = table.size;
              table.failed(ids[o.node]!);
              const after = table.get(ids[o.node]!);
              if (before !== undefined) {
                // Either counted, or gone bad and swapped for a replacement in the same breath.
                if (after !== undefined) assert.equal(after.failures, before.failures + 1);
                else {
                  assert.equal(table.size, size);
                  seen.add('bad node replaced');
                }
              }
            } else if (o.t === 'remove') {
              table.remove(ids[o.node]!);
              assert.equal(table.get(ids[o.node]!), undefined);
            } else {
              const known = table.get(ids[o.node]!) !== undefined;
              const noted = table.sentQuery(ids[o.node]!);
              if (known) assert.ok(noted && table.get(ids[o.node]!)!.lastQueried === clock.t);
            }
            table.checkInvariants();
            assert.equal(table.nodes().length, table.size);
            const live = table.nodes().filter((e) => nodeState(e, clock.t) !== 'bad');
            const want = live.map((e) => e.id).sort((a, b) => {
              const d = (big(a) ^ big(target)) - (big(b) ^ big(target));
              return d < 0n ? -1 : d > 0n ? 1 : 0;
            });
            assert.deepEqual(table.closest(target, 5).map((e) => idToHex(e.id)), want.slice(0, 5).map(idToHex));
          }
          // Save and restore: every node that is not bad comes back.
          const back = RoutingTable.fromJSON(JSON.parse(JSON.stringify(table)), { now: () => clock.t, k, replacements });
          back.checkInvariants();
          const key = (e: { id: Uint8Array; host: string; port: number }) => `${idToHex(e.id)}@${e.host}:${e.port}`;
          const liveKeys = table
            .nodes()
            .filter((e) => nodeState(e, clock.t) !== 'bad')
            .map(key)
            .sort();
          assert.deepEqual(back.nodes().map(key).sort(), liveKeys);
        },
      ),
      { numRuns: 100 },
    );
    for (const how of ['responded', 'queried', 'heard']) for (const result of ['added', 'updated', 'replacement', 'rejected']) assert.ok(seen.has(`${how} ${result}`), `${how} ${result}`);
    assert.ok(seen.has('split twice') && seen.has('bad node replaced'), [...seen].join(', '));
  });
});
