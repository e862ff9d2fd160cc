/**
 * A DHT node under hostile input: garbage and oversized packets, forged ids, a query flood from
 * one address, wrong tokens. No throw, state bounded, the offender limited, everyone else served.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { KRPC_ERROR, decodeKrpc, encodeKrpc } from '../../src/codec/krpc.js';
import { DhtNode } from '../../src/dht/node.js';
import { SimClock, seededRandom } from '../../src/sim/clock.js';

function node() {
  const clock = new SimClock();
  const sent: Array<{ packet: Uint8Array; host: string; port: number }> = [];
  const n = new DhtNode({
    random: seededRandom(9),
    timers: { now: clock.now, setTimeout: (fn, ms) => clock.after(ms, fn), clearTimeout: (h) => clock.cancel(h as ReturnType<SimClock['after']>) },
    transport: { send: (packet, host, port) => void sent.push({ packet: Uint8Array.from(packet), host, port }) },
  });
  return { n, sent, clock };
}

const ping = (id = randomBytes(20), t = Buffer.from('pp')) => encodeKrpc({ kind: 'query', method: 'ping', t, id });

describe('DHT node under hostile input', () => {
  it('garbage, truncated and oversized packets never throw and are counted as dropped', () => {
    const { n } = node();
    const random = seededRandom(1);
    const good = ping();
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(random() * 300);
      const junk = Uint8Array.from({ length: len }, () => Math.floor(random() * 256));
      n.onPacket(junk, { host: '10.0.0.66', port: 1000 });
      n.onPacket(good.subarray(0, Math.floor(random() * good.length)), { host: '10.0.0.66', port: 1000 });
    }
    n.onPacket(Buffer.alloc(5000, 0x64), { host: '10.0.0.66', port: 1000 });
    assert.ok(n.rpc.stats.dropped >= 9000, `dropped ${n.rpc.stats.dropped}`);
    assert.equal(n.table.size, 0, 'nothing malformed entered the routing table');
  });

  it('a flood of queries from one address is limited while another address is still answered', () => {
    const { n, sent } = node();
    for (let i = 0; i < 5000; i++) n.onPacket(ping(), { host: '10.0.0.1', port: 4000 });
    const toFlooder = sent.filter((s) => s.host === '10.0.0.1').length;
    assert.ok(toFlooder <= 100, `the flooder got ${toFlooder} answers to 5,000 queries`);
    assert.ok(n.counters.queriesRefused >= 4900);
    const before = sent.length;
    n.onPacket(ping(), { host: '10.0.0.2', port: 4000 });
    assert.equal(sent.length, before + 1, 'an honest node is answered during the flood');
    assert.equal(decodeKrpc(sent.at(-1)!.packet).kind, 'response');
  });

  it('forged ids from one address take one routing-table slot, not thousands', () => {
    const { n, clock } = node();
    for (let i = 0; i < 2000; i++) {
      n.onPacket(ping(randomBytes(20)), { host: '10.0.0.3', port: 4000 });
      if (i % 40 === 39) clock.run({ untilMs: clock.now() + 5000, maxEvents: 1000 }); // let the limiter refill
    }
    assert.ok(n.table.size <= 1, `table holds ${n.table.size} entries for one address`);
    n.table.checkInvariants();
  });

  it('announce_peer and put with a wrong token are refused with error 203', () => {
    const { n, sent } = node();
    const from = { host: '10.0.0.4', port: 4000 };
    n.onPacket(encodeKrpc({ kind: 'query', method: 'announce_peer', t: Buffer.from('aa'), id: randomBytes(20), infoHash: randomBytes(20), port: 6881, token: Buffer.from('forged') }), from);
    n.onPacket(encodeKrpc({ kind: 'query', method: 'put', t: Buffer.from('ab'), id: randomBytes(20), token: Buffer.from('forged'), value: Buffer.from('3:abc') }), from);
    const replies = sent.map((s) => decodeKrpc(s.packet));
    assert.deepEqual(replies.map((r) => (r.kind === 'error' ? r.code : r.kind)), [KRPC_ERROR.PROTOCOL, KRPC_ERROR.PROTOCOL]);
    assert.equal(n.peers.size, 0);
    assert.equal(n.items.size, 0);
  });
});
