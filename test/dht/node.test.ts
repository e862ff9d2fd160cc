/**
 * DHT nodes on an in-memory network and a simulated clock: bootstrap, announce and get_peers,
 * BEP 44 immutable and mutable items (newest version wins, forged answers ignored).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bencode } from '../../src/codec/bencode.js';
import { generateKeys } from '../../src/codec/bep44.js';
import { type Endpoint, decodeKrpc, encodeKrpc } from '../../src/codec/krpc.js';
import { DhtNode } from '../../src/dht/node.js';
import { driver } from './memory-net.js';
import { SimClock, seededRandom } from '../../src/sim/clock.js';

/** N nodes at 127.0.x.y:6881, 5 ms apart, driven by one SimClock. */
function network(n: number, seed = 1) {
  const clock = new SimClock();
  const random = seededRandom(seed);
  const byAddr = new Map<string, { node: DhtNode; self: Endpoint }>();
  const timers = { now: clock.now, setTimeout: (fn: () => void, ms: number) => clock.after(ms, fn), clearTimeout: (h: unknown) => clock.cancel(h as ReturnType<SimClock['after']>) };
  const nodes: DhtNode[] = [];
  const intercept: { fn?: (packet: Uint8Array, to: Endpoint, from: Endpoint) => Uint8Array | null } = {};
  for (let i = 0; i < n; i++) {
    const self = { host: `127.0.${(i >> 8) & 255}.${(i & 255) + 1}`, port: 6881 };
    const node = new DhtNode({
      random,
      randomBytes: (k) => Uint8Array.from({ length: k }, () => Math.floor(random() * 256)),
      timers,
      transport: {
        send(packet, host, port) {
          const copy = Uint8Array.from(packet);
          clock.after(5, () => {
            const to = byAddr.get(`${host}:${port}`);
            const p = intercept.fn ? intercept.fn(copy, { host, port }, self) : copy;
            if (to && p) to.node.onPacket(p, self);
          });
        },
      },
    });
    byAddr.set(`${self.host}:${self.port}`, { node, self });
    nodes.push(node);
  }
  const drive = driver(clock);
  return { clock, nodes, addr: (i: number) => byAddr.get([...byAddr.keys()][i]!)!.self, drive, intercept };
}

describe('DHT node on an in-memory network', () => {
  it('bootstraps, announces and finds peers of an info hash, with BEP 44 items', async () => {
    const net = network(40);
    const { nodes, drive } = net;
    for (let i = 1; i < nodes.length; i++) await drive(nodes[i]!.bootstrap([net.addr(0)]));
    for (const n of nodes) {
      n.table.checkInvariants();
      assert.ok(n.table.size >= 8, `a node knows ${n.table.size} others`);
    }
    const infoHash = Buffer.alloc(20, 0xab);
    const a = await drive(nodes[7]!.announce(infoHash, 5000));
    assert.ok(a.announcedTo >= 4, `announced to ${a.announcedTo}`);
    const found = await drive(nodes[33]!.getPeers(infoHash));
    assert.ok(found.values.some((p) => p.host === net.addr(7).host && p.port === 5000), JSON.stringify(found.values));
    assert.ok(found.rounds >= 1 && found.rounds <= 8);

    const v = bencode(Buffer.from('a small dataset card'));
    const put = await drive(nodes[3]!.putImmutable(v));
    assert.ok(put.storedAt >= 4);
    assert.deepEqual(Buffer.from((await drive(nodes[21]!.getImmutable(put.target)))!), Buffer.from(v));

    const keys = generateKeys();
    const salt = Buffer.from('imagenet-subset');
    const v1 = bencode(new Map([['ih', Buffer.alloc(20, 1)]]));
    const v2 = bencode(new Map([['ih', Buffer.alloc(20, 2)]]));
    await drive(nodes[5]!.putMutable(keys, { salt, seq: 1, vBencoded: v1 }));
    const got1 = await drive(nodes[30]!.getMutable(keys.publicKey, salt));
    assert.equal(got1?.seq, 1);
    assert.deepEqual(Buffer.from(got1!.vBencoded), Buffer.from(v1));
    await drive(nodes[5]!.putMutable(keys, { salt, seq: 2, vBencoded: v2 }));
    const got2 = await drive(nodes[12]!.getMutable(keys.publicKey, salt));
    assert.equal(got2?.seq, 2);
    assert.deepEqual(Buffer.from(got2!.vBencoded), Buffer.from(v2));
    // Nobody else can write under the key: a put of seq 3 signed by another key goes elsewhere (its
    // own target), and the name still resolves to seq 2.
    await drive(nodes[9]!.putMutable(generateKeys(), { salt, seq: 3, vBencoded: v1 }));
    assert.equal((await drive(nodes[12]!.getMutable(keys.publicKey, salt)))?.seq, 2);
  });

  it('a get answered with a forged signature or a higher forged seq is ignored', async () => {
    const net = network(24, 2);
    const { nodes, drive } = net;
    for (let i = 1; i < nodes.length; i++) await drive(nodes[i]!.bootstrap([net.addr(0)]));
    const keys = generateKeys();
    const v1 = bencode(new Map([['ih', Buffer.alloc(20, 1)]]));
    await drive(nodes[4]!.putMutable(keys, { seq: 1, vBencoded: v1 }));
    // Every answer to a get now claims seq 9 with another value and the old signature.
    net.intercept.fn = (packet) => {
      const m = decodeKrpc(packet);
      if (m.kind !== 'response' || m.seq === undefined) return packet;
      return encodeKrpc({ ...m, seq: 9, value: bencode(new Map([['ih', Buffer.alloc(20, 6)]])) });
    };
    assert.equal(await drive(nodes[15]!.getMutable(keys.publicKey)), null, 'every answer was forged: nothing valid');
    net.intercept.fn = undefined;
    assert.equal((await drive(nodes[15]!.getMutable(keys.publicKey)))?.seq, 1);
  });
});
