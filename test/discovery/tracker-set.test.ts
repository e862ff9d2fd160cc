/**
 * BEP 12 tiers and BEP 3 events in TrackerSet, driven by a fake clock and a scripted announce
 * function: failover inside a tier and to the next tier, a responding tracker moves to the front,
 * re-announce after the interval, `completed` once, `stopped` on close, backoff when all fail.
 * One test runs two sets against our real server on loopback.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrackerError, type TrackerEvent } from '../../src/codec/tracker.js';
import type { AnnounceOptions, AnnounceParams, AnnounceResult } from '../../src/discovery/tracker-client.js';
import { TrackerClient } from '../../src/discovery/tracker-client.js';
import { startTrackerServer } from '../../src/discovery/tracker-server.js';
import { TrackerSet, type TrackerSetInit } from '../../src/discovery/tracker-set.js';
import { FakeClock, LOOPBACK, hash20, peerId } from './helpers.js';

interface Call {
  url: string;
  event: TrackerEvent;
  left: number;
  at: number;
  trackerId?: string;
}

/** Trackers by URL: 'down' fails, a number answers with that interval. */
function scripted(clock: FakeClock, script: Map<string, 'down' | number>, extra: Partial<AnnounceResult> = {}) {
  const calls: Call[] = [];
  const announce = async (url: string, p: AnnounceParams, _o: AnnounceOptions): Promise<AnnounceResult> => {
    const c: Call = { url, event: p.event ?? 'none', left: p.left, at: clock.now() };
    if (p.trackerId) c.trackerId = Buffer.from(p.trackerId).toString();
    calls.push(c);
    const s = script.get(url);
    if (s === undefined || s === 'down') throw new TrackerError(`${url} is down`, 'TRACKER_TIMEOUT');
    return { interval: s, peers: [{ host: '10.0.0.1', port: 1 }], ...extra };
  };
  return { calls, announce };
}

function makeSet(clock: FakeClock, announce: ReturnType<typeof scripted>['announce'], tiers: string[][], progress = { left: 100 }, init: Partial<TrackerSetInit> = {}) {
  return new TrackerSet(
    { announce, clock },
    { tiers, infoHash: hash20('set'), peerId: peerId('me'), port: 6881, stats: () => ({ uploaded: 0, downloaded: 0, left: progress.left }), shuffle: false, ...init },
  );
}

const brief = (calls: Call[]) => calls.map((c) => `${c.url}:${c.event}`);

describe('TrackerSet (BEP 12 tiers, fake clock)', () => {
  it('fails over inside a tier, moves the responder to the front, and re-announces after the interval', async () => {
    const clock = new FakeClock();
    const script = new Map<string, 'down' | number>([['A', 'down'], ['B', 100], ['C', 100]]);
    const { calls, announce } = scripted(clock, script);
    const set = makeSet(clock, announce, [['A', 'B'], ['C']]);
    const failed: string[] = [];
    set.on('tracker:failed', (f) => failed.push(f.url));
    await set.start();
    assert.deepEqual(brief(calls), ['A:started', 'B:started']);
    assert.deepEqual(failed, ['A']);
    assert.deepEqual(set.order, [['B', 'A'], ['C']]);
    assert.equal(set.nextAnnounceAt, clock.now() + 100_000);
    await clock.advance(99_000);
    assert.equal(calls.length, 2);
    await clock.advance(1_000);
    assert.deepEqual(brief(calls).slice(2), ['B:none']);
    assert.equal(calls[2]!.at - calls[1]!.at, 100_000);
    await set.close();
  });

  it('falls back to the next tier when a whole tier fails, and back to the first tier when it recovers', async () => {
    const clock = new FakeClock();
    const script = new Map<string, 'down' | number>([['A', 'down'], ['B', 'down'], ['C', 60]]);
    const { calls, announce } = scripted(clock, script);
    const set = makeSet(clock, announce, [['A', 'B'], ['C']]);
    await set.start();
    assert.deepEqual(brief(calls), ['A:started', 'B:started', 'C:started']);
    script.set('B', 60);
    await clock.advance(60_000);
    // Tier 1 is tried first again; B has not seen us, so it gets `started`.
    assert.deepEqual(brief(calls).slice(3), ['A:started', 'B:started']);
    assert.deepEqual(set.order, [['B', 'A'], ['C']]);
    // Closing tells both trackers that saw us.
    await set.close();
    assert.deepEqual(brief(calls).slice(5).sort(), ['B:stopped', 'C:stopped']);
  });

  it('honours a floor under the interval and the tracker min interval', async () => {
    const clock = new FakeClock();
    const { announce } = scripted(clock, new Map([['A', 5]]), { minInterval: 40 });
    const set = makeSet(clock, announce, [['A']], { left: 100 }, { minIntervalSeconds: 30 });
    await set.start();
    assert.equal(set.nextAnnounceAt, clock.now() + 40_000);
    await set.close();
  });

  it('sends completed once, then regular announces; stopped on close; nothing after close', async () => {
    const clock = new FakeClock();
    const { calls, announce } = scripted(clock, new Map([['A', 100]]));
    const progress = { left: 100 };
    const set = makeSet(clock, announce, [['A']], progress);
    await set.start();
    progress.left = 0;
    await set.completed();
    await set.completed();
    await clock.advance(100_000);
    assert.deepEqual(brief(calls), ['A:started', 'A:completed', 'A:none']);
    assert.equal(calls[1]!.left, 0);
    await set.close();
    await set.close();
    assert.deepEqual(brief(calls).slice(3), ['A:stopped']);
    assert.equal(clock.pending, 0);
    await clock.advance(1_000_000);
    assert.equal(calls.length, 4);
  });

  it('never sends completed for a torrent that started complete', async () => {
    const clock = new FakeClock();
    const { calls, announce } = scripted(clock, new Map([['A', 100]]));
    const set = makeSet(clock, announce, [['A']], { left: 0 });
    await set.start();
    await set.completed();
    await set.close();
    assert.deepEqual(brief(calls), ['A:started', 'A:stopped']);
  });

  it('completed during a running announce follows it at once', async () => {
    const clock = new FakeClock();
    const { calls, announce } = scripted(clock, new Map([['A', 100]]));
    const progress = { left: 100 };
    const set = makeSet(clock, announce, [['A']], progress);
    const first = set.start();
    progress.left = 0;
    const done = set.completed();
    await first;
    await done;
    assert.deepEqual(brief(calls), ['A:started', 'A:completed']);
    await set.close();
  });

  it('backs off when every tracker fails, and reports it', async () => {
    const clock = new FakeClock();
    const { calls, announce } = scripted(clock, new Map([['A', 'down']]));
    const set = makeSet(clock, announce, [['A']], { left: 1 }, { retrySeconds: 10 });
    const retries: number[] = [];
    set.on('tracker:exhausted', (e) => retries.push(e.retryInMs));
    await set.start();
    await clock.advance(10_000);
    await clock.advance(20_000);
    await clock.advance(40_000);
    assert.deepEqual(retries, [10_000, 20_000, 40_000, 80_000]);
    assert.equal(calls.length, 4);
    assert.ok(calls.every((c) => c.event === 'started'));
    // Nobody saw us: closing sends nothing.
    await set.close();
    assert.equal(calls.length, 4);
  });

  it('echoes a tracker id back to the tracker that gave it', async () => {
    const clock = new FakeClock();
    const { calls, announce } = scripted(clock, new Map([['A', 100]]), { trackerId: Buffer.from('tid-1') });
    const set = makeSet(clock, announce, [['A']]);
    await set.start();
    await clock.advance(100_000);
    assert.equal(calls[0]!.trackerId, undefined);
    assert.equal(calls[1]!.trackerId, 'tid-1');
    await set.close();
  });
});

describe('TrackerSet against our server on loopback', () => {
  it('two peers find each other through a dead UDP tracker in tier 1 and our HTTP tracker in tier 2', async () => {
    const server = await startTrackerServer({ host: LOOPBACK, udpPort: false, interval: 60 });
    const client = new TrackerClient({ baseTimeoutMs: 50, bindAddress: LOOPBACK });
    const announce = client.announce.bind(client);
    // A port nothing listens on: UDP gives no error, only silence, so the timeout decides.
    const dead = `udp://${LOOPBACK}:9/announce`;
    const http = `http://${LOOPBACK}:${server.httpPort}/announce`;
    const mk = (name: string, port: number) =>
      new TrackerSet({ announce }, { tiers: [[dead], [http]], infoHash: hash20('real'), peerId: peerId(name), port, stats: () => ({ uploaded: 0, downloaded: 0, left: 10 }), timeoutMs: 200 });
    const a = mk('a', 6001);
    const b = mk('b', 6002);
    try {
      const seenByB: string[] = [];
      b.on('tracker:announced', (e) => seenByB.push(...e.result.peers.map((p) => `${p.host}:${p.port}`)));
      await a.start();
      await b.start();
      assert.deepEqual(seenByB, [`${LOOPBACK}:6001`]);
      assert.equal(server.registry.peers, 2);
      await a.close();
      assert.equal(server.registry.peers, 1);
    } finally {
      await a.close();
      await b.close();
      await client.close();
      await server.close();
    }
  });
});
