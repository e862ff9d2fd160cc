/**
 * A seed that holds a name's key keeps the name alive (BEP 44/46): it publishes its torrent when the
 * DHT holds no version, stores the version again after the nodes dropped it, and re-stores a newer
 * version as it is instead of moving the name back to its own torrent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bencode } from '../../src/codec/bencode.js';
import { generateKeys } from '../../src/codec/bep44.js';
import { keepName } from '../../src/client/name-keeper.js';
import { DualDht } from '../../src/dht/dual.js';
import { type DhtNode } from '../../src/dht/node.js';
import { memoryNet } from './memory-net.js';

const host = (i: number) => `127.0.3.${i + 1}`;

async function world(n: number) {
  const net = memoryNet(11);
  const nodes: DhtNode[] = [];
  for (let i = 0; i < n; i++) nodes.push(net.add(host(i), { family: 4 }));
  for (const node of nodes.slice(1)) await net.drive(node.bootstrap([{ host: host(0), port: 6881 }]));
  const join = async (h: string) => {
    const node = net.add(h, { family: 4 });
    nodes.push(node);
    const d = new DualDht(node, null);
    await net.drive(d.bootstrap([{ host: host(0), port: 6881 }]), net.clock.now() + 120_000);
    return d;
  };
  /** Moves simulated time on by `ms` (item stores expire by it) and sweeps every store. */
  const advance = (ms: number) => {
    const until = net.clock.now() + ms;
    net.clock.after(ms, () => {});
    net.clock.run({ untilMs: until, maxEvents: 10_000_000 });
    for (const node of nodes) node.items.sweep();
  };
  return { net, nodes, join, advance };
}

describe('name keeper (a seed republishing its name)', () => {
  it('publishes when the DHT holds nothing, stores again after expiry, and never moves a newer version back', async () => {
    const w = await world(16);
    const keys = generateKeys();
    const salt = Buffer.from('imagenet');
    const ours = bencode(new Map([['ih', Buffer.alloc(20, 1)]]));
    const seedDht = await w.join('127.0.4.1');
    const reader = await w.join('127.0.4.2');
    const keeper = keepName(seedDht, keys, salt, ours, 3_600_000);
    try {
      await w.net.drive(keeper.now(), w.net.clock.now() + 120_000);
      assert.equal(keeper.status.stored, 1);
      assert.equal(keeper.status.seq, 1);
      assert.ok(keeper.status.pointsHere);
      const first = await w.net.drive(reader.getMutable(keys.publicKey, salt), w.net.clock.now() + 120_000);
      assert.equal(first?.seq, 1);
      assert.ok(Buffer.from(first!.vBencoded).equals(ours));

      // Three hours later every node has dropped the item (our stores keep items 2 h).
      w.advance(3 * 3_600_000);
      assert.equal(await w.net.drive(reader.getMutable(keys.publicKey, salt), w.net.clock.now() + 120_000), null, 'expired everywhere');
      await w.net.drive(keeper.now(), w.net.clock.now() + 120_000);
      const again = await w.net.drive(reader.getMutable(keys.publicKey, salt), w.net.clock.now() + 120_000);
      assert.equal(again?.seq, 1, 'the keeper stored the same version again');

      // The owner publishes version 2 elsewhere: the keeper keeps version 2 alive, not its own.
      const other = await w.join('127.0.4.3');
      const v2 = bencode(new Map([['ih', Buffer.alloc(20, 2)]]));
      const put = await w.net.drive(other.putMutable(keys, { salt, seq: 2, vBencoded: v2 }), w.net.clock.now() + 120_000);
      assert.ok(put.storedAt > 0);
      await w.net.drive(keeper.now(), w.net.clock.now() + 120_000);
      assert.equal(keeper.status.seq, 2);
      assert.equal(keeper.status.pointsHere, false);
      const now = await w.net.drive(reader.getMutable(keys.publicKey, salt), w.net.clock.now() + 120_000);
      assert.equal(now?.seq, 2);
      assert.ok(Buffer.from(now!.vBencoded).equals(v2), 'the name still points at version 2');
    } finally {
      keeper.stop();
    }
  });
});
