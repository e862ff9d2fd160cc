import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemberView } from '../../src/engine/member-view.js';
import { OriginRules, wantedPeers, type WantedPeers } from '../../src/engine/origin-rules.js';
import { SimClock, seededRandom } from '../../src/sim/clock.js';
import { fluidBound } from '../../src/sim/fluid.js';
import { simulateSwarm } from '../../src/sim/swarm.js';
import { Uplink, type UplinkStream } from '../../src/sim/uplink.js';

const MiB = 1024 * 1024;

describe('SimClock', () => {
  it('runs events in time order, same-time events in the order scheduled, and honours cancel', () => {
    const c = new SimClock();
    const seen: string[] = [];
    c.at(30, () => seen.push('c'));
    c.at(10, () => seen.push('a'));
    c.at(10, () => seen.push('b'));
    const gone = c.at(20, () => seen.push('never'));
    c.cancel(gone);
    c.at(5, () => c.after(100, () => seen.push(`d@${c.now()}`)));
    assert.equal(c.run({ untilMs: 1000, maxEvents: 100 }), 'idle');
    assert.deepEqual(seen, ['a', 'b', 'c', 'd@105']);
  });

  it('every() repeats until stopped, and run() stops at its time and event limits', () => {
    const c = new SimClock();
    let n = 0;
    const stop = c.every(100, () => n++);
    assert.equal(c.run({ untilMs: 450, maxEvents: 1000 }), 'time');
    assert.equal(n, 4);
    assert.equal(c.run({ untilMs: 10_000, maxEvents: 3 }), 'events');
    assert.equal(n, 7);
    stop();
    assert.equal(c.run({ untilMs: 10_000, maxEvents: 1000 }), 'idle');
    assert.equal(n, 7);
  });

  it('seededRandom is deterministic and uniform enough', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(mean > 0.45 && mean < 0.55, `mean ${mean}`);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  });
});

describe('Uplink', () => {
  it('sends at its rate and shares it between streams block by block', () => {
    const c = new SimClock();
    const up = new Uplink(c, 16384 * 10); // 10 blocks per second
    const done: Record<string, number[]> = { a: [], b: [] };
    const stream = (name: 'a' | 'b', blocks: number): UplinkStream => ({
      queued: false,
      next() {
        if (blocks === 0) return null;
        blocks--;
        return { bytes: 16384, sent: () => done[name]!.push(c.now()) };
      },
    });
    up.wake(stream('a', 3));
    up.wake(stream('b', 3));
    c.run({ untilMs: 10_000, maxEvents: 1000 });
    assert.equal(up.bytesSent, 6 * 16384);
    // Interleaved: a, b, a, b, a, b at 100 ms each.
    assert.deepEqual(done.a!.map(Math.round), [100, 300, 500]);
    assert.deepEqual(done.b!.map(Math.round), [200, 400, 600]);
  });
});

describe('fluidBound', () => {
  it('takes the largest of the server, download and aggregate terms', () => {
    const server = fluidBound({ fileBytes: 100, serverUp: 10, clientUp: [10, 10], clientDown: [Infinity, Infinity] });
    assert.equal(server.binding, 'server');
    assert.equal(server.seconds, 10);
    const agg = fluidBound({ fileBytes: 100, serverUp: 100, clientUp: [1, 1, 1, 1], clientDown: [0, 0, 0, 0] });
    assert.equal(agg.binding, 'aggregate');
    assert.ok(Math.abs(agg.seconds - 400 / 104) < 1e-9);
    const down = fluidBound({ fileBytes: 100, serverUp: 100, clientUp: [100], clientDown: [5] });
    assert.equal(down.binding, 'download');
    assert.equal(down.seconds, 20);
  });
});

describe('MemberView', () => {
  it('keeps reported ids until they expire, without excluded ones, bounded in size', () => {
    let t = 0;
    const v = new MemberView(() => t, 1000, 3);
    const id = (n: number) => new Uint8Array(20).fill(n);
    v.report([id(1), id(2), new Uint8Array(5)]); // a malformed id is ignored
    assert.equal(v.size, 2);
    t = 500;
    v.report([id(3), id(4)]);
    assert.equal(v.size, 3); // the oldest (1) went
    const hex = (n: number) => Buffer.from(id(n)).toString('hex');
    assert.deepEqual(v.ids(new Set([hex(4)])).map((x) => x[0]), [2, 3]);
    t = 1400; // 2 expired (reported at 0)
    assert.deepEqual(v.ids(new Set()).map((x) => x[0]), [3, 4]);
  });
});

describe('OriginRules', () => {
  const wanted = (w: Partial<WantedPeers>): WantedPeers => ({ any: false, unchoking: false, unchokingQuietMs: 0, ...w });

  it('wantedPeers measures quiet from our outstanding requests, not from our last block', () => {
    const conns = [
      { amInterested: true, peerChoking: false, inflight: 0, lastBlockAt: 0 },
      { amInterested: true, peerChoking: false, inflight: 4, lastBlockAt: 1000 },
      { amInterested: false, peerChoking: false, inflight: 4, lastBlockAt: 0 },
    ];
    // The first peer has nothing outstanding: nobody is stalling.
    assert.deepEqual(wantedPeers(conns, 9000), { any: true, unchoking: true, unchokingQuietMs: 0 });
    assert.deepEqual(wantedPeers(conns.slice(1), 9000), { any: true, unchoking: true, unchokingQuietMs: 8000 });
    assert.deepEqual(wantedPeers([{ amInterested: true, peerChoking: true, inflight: 0, lastBlockAt: 0 }], 9000), { any: true, unchoking: false, unchokingQuietMs: 0 });
  });

  it('balanced: only pieces no peer has and that we own; stalled or starved peers open everything, starved one piece at a time', () => {
    let t = 0;
    let w = wanted({});
    let lastBlock = 0;
    const others = [new Uint8Array(20).fill(7), new Uint8Array(20).fill(9)];
    const rules = new OriginRules({
      pieceLength: 2 * MiB, // one piece per owned stretch
      now: () => t,
      lastPeerBlockAt: () => lastBlock,
      peersHaveWanted: () => w,
      peersPending: () => false,
      expectPeers: true,
      peerAvailability: (i) => (i === 0 ? 1 : 0),
      selfId: new Uint8Array(20).fill(1),
      fetchingPeers: () => others,
    });
    t = 100;
    assert.equal(rules.slots(4), 1, 'settling');
    assert.equal(rules.maxRunBytes(), 0);
    t = 3000;
    assert.equal(rules.slots(4), 4);
    assert.equal(rules.maxRunBytes(), Infinity);
    assert.equal(rules.accept(0), false, 'a peer has piece 0');
    const owned = Array.from({ length: 300 }, (_, i) => i + 1).filter((i) => rules.accept(i));
    // Three members: we own about a third of the pieces, and not all or none.
    assert.ok(owned.length > 60 && owned.length < 140, `owned ${owned.length} of 300`);
    const notOwned = Array.from({ length: 300 }, (_, i) => i + 1).find((i) => !owned.includes(i))!;
    t = 3001;
    w = wanted({ any: true, unchoking: true, unchokingQuietMs: 3500 });
    assert.equal(rules.mode(), 'stalled');
    assert.equal(rules.accept(notOwned), true);
    assert.equal(rules.slots(4), 4);
    t = 20_000;
    w = wanted({ any: true });
    assert.equal(rules.mode(), 'starved');
    assert.equal(rules.accept(notOwned), true);
    assert.equal(rules.slots(4), 1);
    assert.equal(rules.maxRunBytes(), 0);
    lastBlock = 19_000;
    t = 20_001;
    assert.equal(rules.mode(), 'normal');
    assert.equal(rules.accept(notOwned), false);
  });
});

describe('simulateSwarm', () => {
  const small = { nodes: 24, fileBytes: 4 * MiB, pieceLength: 64 * 1024, upload: 2 * MiB, originUpload: 2 * MiB, seed: 7 };

  it('every node finishes, no sooner than the fluid bound, and the origin sends the dataset at least once', () => {
    const r = simulateSwarm(small);
    assert.equal(r.stoppedBy, 'done');
    assert.equal(r.unfinished, 0);
    assert.equal(r.times.length, 24);
    assert.ok(r.first >= r.tStar - 1e-9, `first ${r.first} < T* ${r.tStar}`);
    assert.ok(r.last >= r.first);
    assert.ok(r.originBytes >= r.fileBytes, `origin ${r.originBytes}`);
    // Every node received the whole dataset from peers or the origin.
    assert.ok(r.peerBytes + r.originBytes >= 24 * r.fileBytes);
    assert.ok(r.uploadUtilisation > 0 && r.uploadUtilisation <= 1);
    assert.equal(r.originPerSecond.reduce((s, b) => s + b, 0), r.originBytes);
  });

  it('is deterministic from its seed', () => {
    const a = simulateSwarm(small);
    const b = simulateSwarm(small);
    assert.deepEqual(a, b);
    const c = simulateSwarm({ ...small, seed: 8 });
    assert.notDeepEqual(c.times, a.times);
  });

  it('heterogeneous caps, capped downloads and a join window still finish every node', () => {
    const r = simulateSwarm({ ...small, upload: [1 * MiB, 4 * MiB], download: 8 * MiB, joinWindowMs: 2000, latencyMs: 25 });
    assert.equal(r.unfinished, 0);
    assert.ok(r.first >= r.tStar - 1e-9);
  });

  it('a lone node takes the whole dataset from the origin at the origin rate', () => {
    const r = simulateSwarm({ ...small, nodes: 1 });
    assert.equal(r.unfinished, 0);
    assert.equal(r.originBytes, r.fileBytes);
    assert.equal(r.peerBytes, 0);
  });

  it('rejects nonsense parameters with a RangeError', () => {
    assert.throws(() => simulateSwarm({ ...small, nodes: 0 }), RangeError);
    assert.throws(() => simulateSwarm({ ...small, upload: [1, -1] }), RangeError);
  });
});
