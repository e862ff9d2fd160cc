/**
 * BEP 32 on an in-memory network: a DualDht runs an IPv4 and an IPv6 node, each table holds only
 * its family, results of both are merged (peers once, the newest mutable item), `want` asks for the
 * other family only while its table is empty, and an answer with IPv6 peers still fits one packet.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bencode } from '../../src/codec/bencode.js';
import { generateKeys } from '../../src/codec/bep44.js';
import { MAX_PACKET, type Want, decodeKrpc, encodeKrpc } from '../../src/codec/krpc.js';
import { DualDht } from '../../src/dht/dual.js';
import { memoryNet } from './memory-net.js';

const v4 = (i: number) => `127.0.1.${i}`;
const v6 = (i: number) => `fd00::${(i + 1).toString(16)}`;

/** n dual-stack nodes (127.0.1.i and fd00::i+1, both exempt from BEP 42); all join through node 0. */
async function dualWorld(n: number, seed = 7) {
  const net = memoryNet(seed);
  const duals = Array.from({ length: n }, (_, i) => new DualDht(net.add(v4(i), { family: 4 }), net.add(v6(i), { family: 6 })));
  for (const d of duals.slice(1)) {
    await net.drive(
      d.bootstrap([
        { host: v4(0), port: 6881 },
        { host: v6(0), port: 6881 },
      ]),
    );
  }
  return { net, duals };
}

describe('dual-stack DHT (BEP 32)', () => {
  it('keeps one table per family, and merges peers and items from both', async () => {
    const { net, duals } = await dualWorld(12);
    for (const d of duals) {
      assert.ok(d.v4.table.nodes().every((e) => !e.host.includes(':')), 'IPv4 table: IPv4 nodes only');
      assert.ok(d.v6!.table.nodes().every((e) => e.host.startsWith('fd00::')), 'IPv6 table: IPv6 nodes only');
      assert.ok(d.tableSizes().v4 >= 8 && d.tableSizes().v6 >= 8, JSON.stringify(d.tableSizes()));
      d.v4.table.checkInvariants();
      d.v6!.table.checkInvariants();
    }
    const hash = Buffer.alloc(20, 0x5a);
    const a = await net.drive(duals[3]!.announce(hash, 7000));
    assert.ok(a.announcedTo >= 8, `announced to ${a.announcedTo} nodes of both families`);
    const peers = await net.drive(duals[9]!.getPeers(hash));
    assert.deepEqual(
      peers.map((p) => `${p.host} ${p.port}`).sort(),
      [`${v4(3)} 7000`, `${v6(3)} 7000`].sort(),
      'the peer under each of its addresses, each once',
    );

    // The newest version wins even when only one family has it.
    const keys = generateKeys();
    const item = (seq: number) => ({ seq, vBencoded: bencode(new Map([['seq', seq]])) });
    await net.drive(duals[2]!.putMutable(keys, item(1)));
    await net.drive(duals[2]!.v6!.putMutable(keys, item(2)));
    assert.equal((await net.drive(duals[7]!.v4.getMutable(keys.publicKey)))?.seq, 1);
    assert.equal((await net.drive(duals[7]!.getMutable(keys.publicKey)))?.seq, 2);
    const put = await net.drive(duals[4]!.putImmutable(bencode(Buffer.from('card'))));
    assert.deepEqual(Buffer.from((await net.drive(duals[10]!.getImmutable(put.target)))!), Buffer.from(bencode(Buffer.from('card'))));
    const near = await net.drive(duals[5]!.findNode(duals[6]!.v4.id));
    assert.ok(near.some((x) => x.host === v4(6)) && near.some((x) => x.host === v6(6)));

    const s = duals[3]!.status();
    assert.equal(s.v4.id, Buffer.from(duals[3]!.v4.id).toString('hex'));
    assert.ok(s.v6 !== null && s.v4.nodes === duals[3]!.tableSizes().v4 && s.v6.nodes === duals[3]!.tableSizes().v6);
    assert.ok(s.v4.lookups > 0 && s.v4.queriesAnswered > 0 && s.v4.buckets >= 1 && s.v4.good + s.v4.questionable <= s.v4.nodes);
  });

  it('asks for the other family (want) while its table is empty, and fills it from answers that name such nodes', async () => {
    const net = memoryNet(8);
    const router = net.add(v4(0), { family: 4 });
    const six = net.add(v6(0), { family: 6 });
    const c = new DualDht(net.add(v4(1), { family: 4 }), net.add(v6(1), { family: 6 }));
    const wants: string[] = [];
    net.intercept.fn = (packet, to) => {
      const m = decodeKrpc(packet);
      if (m.kind === 'query' && m.method === 'find_node') wants.push(((m as { want?: Want[] }).want ?? []).join('+'));
      // The router keeps both families, as libtorrent does: its answers to C name the IPv6 node.
      if (m.kind === 'response' && to.host === v4(1) && m.nodes !== undefined) return encodeKrpc({ ...m, nodes6: [{ id: six.id, host: v6(0), port: 6881 }] });
      return packet;
    };
    await net.drive(c.bootstrap([{ host: v4(0), port: 6881 }]));
    assert.ok(wants.length > 0 && wants[0] === 'n4+n6', wants.join());
    assert.ok(c.v6!.table.get(six.id), 'the IPv6 node learned of');
    assert.ok(!c.v4.table.nodes().some((e) => e.host.includes(':')));
    assert.ok(router.table.size >= 1);
    // Once the IPv6 table holds a bucket's worth, queries go back to the default (no want).
    for (let i = 0; i < c.v6!.table.k; i++) c.v6!.table.add({ id: Buffer.alloc(20, 0x90 + i), host: v6(50 + i), port: 6881 }, 'responded');
    wants.length = 0;
    await net.drive(c.v4.findNode(c.v4.id));
    assert.ok(wants.length > 0 && wants.every((w) => w === ''), wants.join());
  });

  it('a get_peers answer with many IPv6 peers and both node lists fits in one packet', async () => {
    const net = memoryNet(9);
    const x = net.add('fd00::1');
    for (let i = 0; i < 8; i++) {
      x.table.add({ id: Buffer.alloc(20, i + 1), host: `127.0.2.${i + 1}`, port: 6881 }, 'responded');
      x.table.add({ id: Buffer.alloc(20, i + 0x81), host: `fd00::2:${i + 1}`, port: 6881 }, 'responded');
    }
    const hash = Buffer.alloc(20, 0x33);
    for (let i = 0; i < 60; i++) x.peers.add(hash, { host: `fd00::3:${i + 1}`, port: 6000 + i });
    const y = net.add('fd00::9');
    let largest = 0;
    net.intercept.fn = (packet) => {
      largest = Math.max(largest, packet.length);
      return packet;
    };
    const r = await net.drive(y.ask({ host: 'fd00::1', port: 6881 }, { method: 'get_peers', infoHash: hash, want: ['n4', 'n6'] }));
    assert.equal(r.values?.length, 30, 'IPv6 peers are capped by bytes, not count');
    assert.equal(r.nodes?.length, 8);
    assert.equal(r.nodes6?.length, 8);
    assert.ok(largest <= MAX_PACKET, `${largest} bytes`);
  });
});
