/**
 * The tracker's pieces that need no sockets: the swarm registry (expiry order, caps, counts,
 * invariants under random operations), stateless connection ids, and the address policy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { TrackerEvent } from '../../src/codec/tracker.js';
import { isLocalAddress, listedAddress } from '../../src/discovery/address-policy.js';
import { ConnectionIds } from '../../src/discovery/connection-id.js';
import { SwarmRegistry, type SwarmLimits } from '../../src/discovery/swarm-registry.js';
import { hash20, peerId } from './helpers.js';

const limits = (l: Partial<SwarmLimits> = {}): SwarmLimits => ({ peerTtlMs: 100_000, maxTorrents: 100, maxPeersPerTorrent: 100, maxPeers: 1000, ...l });

function announce(r: SwarmRegistry, torrent: string, name: string, port: number, event: TrackerEvent = 'none', left = 10, numwant = 50) {
  return r.announce({ infoHash: hash20(torrent), host: '127.0.0.1', port, peerId: peerId(name), left, event, numwant });
}

describe('SwarmRegistry', () => {
  it('expires peers by last announce, and sweeps empty swarms', () => {
    let t = 0;
    const r = new SwarmRegistry(limits(), () => t);
    announce(r, 'x', 'a', 1);
    t = 50_000;
    announce(r, 'x', 'b', 2);
    t = 90_000;
    announce(r, 'x', 'a', 1); // a renews
    t = 160_000; // b: 110 s old, a: 70 s
    assert.deepEqual(announce(r, 'x', 'c', 3).peers.map((p) => p.port), [1]);
    r.checkInvariants();
    t = 1_000_000;
    r.sweep();
    assert.equal(r.torrents, 0);
    assert.equal(r.peers, 0);
  });

  it('counts seeders and leechers, and a completion once per peer', () => {
    const r = new SwarmRegistry(limits(), () => 0);
    announce(r, 'x', 'a', 1, 'started', 10);
    announce(r, 'x', 'b', 2, 'started', 0);
    announce(r, 'x', 'a', 1, 'completed', 0);
    announce(r, 'x', 'a', 1, 'completed', 0);
    assert.deepEqual(r.stats(hash20('x')), { complete: 2, incomplete: 0, downloaded: 1 });
    announce(r, 'x', 'a', 1, 'stopped', 0);
    assert.deepEqual(r.stats(hash20('x')), { complete: 1, incomplete: 0, downloaded: 1 });
    assert.deepEqual(r.stats(hash20('unknown')), { complete: 0, incomplete: 0, downloaded: 0 });
    r.checkInvariants();
  });

  it('does not list port 0, and does not return a peer to itself under a new port', () => {
    const r = new SwarmRegistry(limits(), () => 0);
    assert.equal(announce(r, 'x', 'a', 0).stored, false);
    announce(r, 'x', 'a', 1);
    assert.deepEqual(announce(r, 'x', 'a', 2).peers, []);
  });

  it('holds every cap: per torrent, torrents, total peers', () => {
    const r = new SwarmRegistry(limits({ maxPeersPerTorrent: 3, maxTorrents: 2, maxPeers: 4 }), () => 0);
    for (let i = 0; i < 5; i++) announce(r, 'x', `p${i}`, 100 + i);
    assert.equal(r.peers, 3);
    assert.equal(announce(r, 'y', 'q', 1).stored, true);
    assert.equal(announce(r, 'y', 'q2', 2).stored, false); // total cap: 4
    assert.equal(announce(r, 'z', 'q', 1).stored, false); // torrent cap: 2
    assert.equal(r.torrents, 2);
    r.checkInvariants();
  });

  it('keeps its invariants under random announces, stops and time', () => {
    const op = fc.record({
      torrent: fc.constantFrom('a', 'b', 'c'),
      peer: fc.integer({ min: 0, max: 7 }),
      event: fc.constantFrom<TrackerEvent>('none', 'started', 'completed', 'stopped'),
      left: fc.constantFrom(0, 5),
      dt: fc.integer({ min: 0, max: 40_000 }),
      sweep: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let t = 0;
        const r = new SwarmRegistry(limits({ maxPeersPerTorrent: 5, maxTorrents: 2, maxPeers: 8 }), () => t);
        for (const o of ops) {
          t += o.dt;
          const out = announce(r, o.torrent, `p${o.peer}`, 1000 + o.peer, o.event, o.left, 3);
          assert.ok(out.peers.length <= 3);
          assert.ok(!out.peers.some((p) => p.port === 1000 + o.peer));
          if (o.sweep) r.sweep();
          r.checkInvariants();
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('ConnectionIds (BEP 15, stateless)', () => {
  it('accepts an id in its window and the next, for the address it was issued to only', () => {
    let t = 600_000;
    const ids = new ConnectionIds(() => t);
    const id = ids.issue('10.0.0.1');
    assert.ok(ids.verify(id, '10.0.0.1'));
    assert.ok(!ids.verify(id, '10.0.0.2'));
    t += 60_000;
    assert.ok(ids.verify(id, '10.0.0.1'));
    t += 60_000;
    assert.ok(!ids.verify(id, '10.0.0.1'));
    // Another server (another secret) does not accept it.
    assert.ok(!new ConnectionIds(() => t).verify(ids.issue('10.0.0.1'), '10.0.0.1'));
  });
});

describe('address policy', () => {
  it('lists the source address; honours `ip` only between local addresses', () => {
    assert.equal(listedAddress('127.0.0.1', undefined), '127.0.0.1');
    assert.equal(listedAddress('::ffff:127.0.0.1', undefined), '127.0.0.1');
    assert.equal(listedAddress('127.0.0.1', '192.168.1.5'), '192.168.1.5');
    assert.equal(listedAddress('10.1.1.1', 'fd00::0:1'), 'fd00::1');
    assert.equal(listedAddress('127.0.0.1', '8.8.8.8'), '127.0.0.1');
    assert.equal(listedAddress('8.8.8.8', '10.0.0.1'), '8.8.8.8');
    assert.equal(listedAddress('127.0.0.1', 'tracker.example'), '127.0.0.1');
  });

  it('knows local ranges', () => {
    for (const a of ['127.0.0.1', '10.2.3.4', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.1.1', '100.64.0.1', '::1', 'fd12::1', 'fe80::1']) assert.ok(isLocalAddress(a), a);
    for (const a of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2001:db8::1', '::', 'example.com']) assert.ok(!isLocalAddress(a), a);
  });
});
