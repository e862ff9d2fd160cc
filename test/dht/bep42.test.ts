/**
 * BEP 42 in the DHT node: the vote on our external address (the `ip` key of answers), the switch
 * to an id derived from a global address, and `enforceNodeId` keeping nodes whose ids do not match
 * their addresses out of the routing table and lookups. In-memory network, fixed addresses:
 * 203.0.113.0/24 and 198.51.100.0/24 (documentation ranges, global for BEP 42) and 127/8 (exempt).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { idsEqual, isValidNodeIdForIp, nodeIdForIp, randomId } from '../../src/codec/dht-id.js';
import { parseIp } from '../../src/codec/extensions.js';
import { decodeKrpc, encodeKrpc } from '../../src/codec/krpc.js';
import { ExternalAddressVote } from '../../src/dht/external-address.js';
import { memoryNet } from './memory-net.js';

const ip = (host: string) => parseIp(host)!;
/** An id BEP 42 does not allow at `host` (a random id is allowed with odds of 1 in 2^21; flip a prefix bit then). */
function invalidIdFor(host: string, random: () => number): Uint8Array {
  const id = randomId(random);
  if (isValidNodeIdForIp(id, ip(host))) id[0] = id[0]! ^ 0x80;
  return id;
}

describe('external address vote', () => {
  it('believes an address once three distinct responders report it, and not before', () => {
    const v = new ExternalAddressVote();
    assert.equal(v.add('198.51.100.1', '203.0.113.7'), null);
    assert.equal(v.add('198.51.100.1', '203.0.113.7'), null, 'the same responder twice is one vote');
    assert.equal(v.add('198.51.100.2', '203.0.113.7'), null);
    assert.equal(v.add('198.51.100.3', '203.0.113.7'), '203.0.113.7');
    assert.equal(v.address, '203.0.113.7');
  });

  it('a tie keeps the old address; a clear majority of the last ten moves it', () => {
    const v = new ExternalAddressVote();
    for (let i = 1; i <= 3; i++) v.add(`10.0.0.${i}`, '203.0.113.7');
    for (let i = 4; i <= 6; i++) v.add(`10.0.0.${i}`, '203.0.113.8');
    assert.equal(v.address, '203.0.113.7', '3 against 3');
    v.add('10.0.0.7', '203.0.113.8');
    assert.equal(v.address, '203.0.113.8', '4 against 3');
    // Ten newer responders push the old reports out of the window entirely.
    for (let i = 10; i < 20; i++) v.add(`10.0.1.${i}`, '203.0.113.9');
    assert.equal(v.address, '203.0.113.9');
  });

  it('two responders, however many reports they send, never elect an address (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.constantFrom('203.0.113.1', '203.0.113.2')), { maxLength: 40 }), (reports) => {
        const v = new ExternalAddressVote();
        for (const [first, addr] of reports) v.add(first ? 'liar-a' : 'liar-b', addr);
        assert.equal(v.address, null);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a quorum larger than the window', () => {
    assert.throws(() => new ExternalAddressVote({ window: 2, quorum: 3 }), RangeError);
  });
});

describe('BEP 42 node ids', () => {
  it('a node on a global address switches to a BEP 42 id once three responders agree, keeping its table', async () => {
    const net = memoryNet(3);
    const others = [1, 2, 3, 4, 5].map((i) => net.add(`198.51.100.${i}`));
    const x = net.add('203.0.113.7');
    const before = x.id;
    assert.ok(!isValidNodeIdForIp(before, ip('203.0.113.7')));
    await net.drive(x.bootstrap(others.map((_, i) => ({ host: `198.51.100.${i + 1}`, port: 6881 }))));
    assert.equal(x.externalAddress, '203.0.113.7');
    assert.equal(x.counters.idChanges, 1);
    assert.ok(!idsEqual(x.id, before));
    assert.ok(isValidNodeIdForIp(x.id, ip('203.0.113.7')), 'the new id is one BEP 42 allows for our address');
    assert.ok(idsEqual(x.table.self, x.id));
    assert.equal(x.status().id, Buffer.from(x.id).toString('hex'));
    assert.equal(x.table.size, 5, 'the table was rebuilt around the new id with the same nodes');
    x.table.checkInvariants();
    // Queries now carry the new id: a node that hears from us learns it.
    const probe = net.add('198.51.100.9');
    await net.drive(x.ask({ host: '198.51.100.9', port: 6881 }, { method: 'ping' }));
    assert.ok(probe.table.get(x.id) !== undefined);
  });

  it('keeps its id when it is already valid for the address, on an exempt address, or with bep42Id off', async () => {
    const net = memoryNet(4);
    const voters = [1, 2, 3].map((i) => ({ host: `198.51.100.${i}`, port: 6881 }));
    for (const v of voters) net.add(v.host);
    const valid = nodeIdForIp(ip('203.0.113.20'), 5, net.random);
    const cases = [net.add('203.0.113.20', { id: valid }), net.add('127.0.0.20'), net.add('203.0.113.21', { bep42Id: false })];
    const ids = cases.map((n) => n.id);
    for (const n of cases) await net.drive(n.bootstrap(voters));
    cases.forEach((n, i) => {
      assert.ok(n.externalAddress !== null, 'the address was learned');
      assert.equal(n.counters.idChanges, 0);
      assert.ok(idsEqual(n.id, ids[i]!));
    });
  });

  it('answers carry the querier address (ip), and a lie from fewer than three responders changes nothing', async () => {
    const net = memoryNet(5);
    const voters = [1, 2, 3, 4].map((i) => ({ host: `198.51.100.${i}`, port: 6881 }));
    for (const v of voters) net.add(v.host);
    const x = net.add('203.0.113.30');
    const seen: string[] = [];
    net.intercept.fn = (packet, _to, from) => {
      const m = decodeKrpc(packet);
      if (m.kind !== 'response') return packet;
      seen.push(m.ip?.host ?? 'none');
      // Two responders claim we are elsewhere.
      return from.host.endsWith('.1') || from.host.endsWith('.2') ? encodeKrpc({ ...m, ip: { host: '203.0.113.99', port: 1 } }) : packet;
    };
    await net.drive(x.bootstrap(voters));
    assert.ok(seen.length >= 4 && seen.every((h) => h === '203.0.113.30'), seen.join());
    assert.equal(x.externalAddress, null, 'two true reports against two lies: no quorum');
    assert.equal(x.counters.idChanges, 0);
  });
});

describe('enforceNodeId', () => {
  /** G: global with a valid id; B: global with an invalid id; L: loopback (exempt) with a random id. G knows B and L. */
  async function world(enforce: boolean) {
    const net = memoryNet(6);
    const g = net.add('198.51.100.1', { id: nodeIdForIp(ip('198.51.100.1'), 1, net.random) });
    const b = net.add('198.51.100.2', { id: invalidIdFor('198.51.100.2', net.random) });
    const l = net.add('127.0.0.3');
    await net.drive(g.bootstrap([{ host: '198.51.100.2', port: 6881 }, { host: '127.0.0.3', port: 6881 }]));
    const x = net.add('203.0.113.40', { enforceNodeId: enforce, bep42Id: false });
    await net.drive(x.bootstrap([{ host: '198.51.100.1', port: 6881 }]));
    const found = await net.drive(x.findNode(b.id));
    // B queries X: X answers, but an enforcing X does not take B into its table.
    await net.drive(b.ask({ host: '203.0.113.40', port: 6881 }, { method: 'ping' }));
    return { x, g, b, l, found };
  }

  it('keeps a node whose id does not match its global address out of the table and lookups; exempt addresses stay', async () => {
    const { x, g, b, l, found } = await world(true);
    assert.ok(x.table.get(g.id), 'valid id: in');
    assert.ok(x.table.get(l.id), 'loopback is exempt: in');
    assert.equal(x.table.get(b.id), undefined, 'invalid id: out');
    assert.ok(!found.closest.some((n) => idsEqual(n.id, b.id)), 'and never asked in a lookup');
    assert.ok(found.closest.some((n) => idsEqual(n.id, g.id)));
    assert.equal(x.accepts({ id: b.id, host: '198.51.100.2', port: 6881 }), false);
    x.table.checkInvariants();
  });

  it('is off by default: the same node is kept', async () => {
    const { x, b, found } = await world(false);
    assert.ok(x.table.get(b.id));
    assert.ok(found.closest.some((n) => idsEqual(n.id, b.id)));
  });
});
