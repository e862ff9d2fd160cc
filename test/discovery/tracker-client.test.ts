/**
 * The tracker client against misbehaving trackers on loopback: UDP packet loss (retransmission with
 * backoff), silence (the overall timeout wins), connection-id caching, HTTP redirects, oversized
 * and slow replies, error statuses, and abort.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TrackerError, decodeUdpRequest, encodeAnnounceResponse, encodeFailure, encodeUdpResponse } from '../../src/codec/tracker.js';
import { TrackerClient } from '../../src/discovery/tracker-client.js';
import { LOOPBACK, hash20, params } from './helpers.js';

const isTrackerError = (code: string) => (e: unknown) => e instanceof TrackerError && e.code === code;

/** A scripted UDP tracker: `answer` sees each request (after the first `drop` are dropped) and may reply. */
async function fakeUdpTracker(drop: number): Promise<{ port: number; received: string[]; close(): Promise<void> }> {
  const s = dgram.createSocket('udp4');
  const received: string[] = [];
  let seen = 0;
  s.on('message', (msg, from) => {
    const r = decodeUdpRequest(msg);
    received.push(r.action);
    if (seen++ < drop) return;
    const reply =
      r.action === 'connect'
        ? encodeUdpResponse({ action: 'connect', transactionId: r.transactionId, connectionId: 42n })
        : encodeUdpResponse({ action: 'announce', transactionId: r.transactionId, interval: 99, leechers: 1, seeders: 2, peers: [{ host: '10.1.2.3', port: 4 }] });
    s.send(reply, from.port, from.address);
  });
  await new Promise<void>((r) => s.bind(0, LOOPBACK, () => r()));
  return { port: s.address().port, received, close: () => new Promise((r) => s.close(() => r())) };
}

describe('UDP client', () => {
  it('retransmits after base·2^n and succeeds when a later packet gets through', async () => {
    const t = await fakeUdpTracker(2);
    const c = new TrackerClient({ baseTimeoutMs: 50, bindAddress: LOOPBACK });
    try {
      const started = Date.now();
      const r = await c.announce(`udp://${LOOPBACK}:${t.port}/announce`, params(hash20('rt'), 'a', 1), { timeoutMs: 5000 });
      const took = Date.now() - started;
      assert.deepEqual(r, { interval: 99, complete: 2, incomplete: 1, peers: [{ host: '10.1.2.3', port: 4 }] });
      // Two connects dropped: sent at 0, 50 and 150 ms (50 · 2^0, then 50 · 2^1 later).
      assert.deepEqual(t.received, ['connect', 'connect', 'connect', 'announce']);
      assert.ok(took >= 140 && took < 2000, `took ${took} ms`);
      // The connection id is cached: a second announce sends no connect.
      await c.announce(`udp://${LOOPBACK}:${t.port}`, params(hash20('rt'), 'a', 1), { timeoutMs: 5000 });
      assert.deepEqual(t.received.slice(4), ['announce']);
    } finally {
      await c.close();
      await t.close();
    }
  });

  it('gives up at the overall timeout when the tracker is silent', async () => {
    const t = await fakeUdpTracker(Infinity);
    const c = new TrackerClient({ baseTimeoutMs: 40, bindAddress: LOOPBACK });
    try {
      const started = Date.now();
      await assert.rejects(c.announce(`udp://${LOOPBACK}:${t.port}`, params(hash20('silent'), 'a', 1), { timeoutMs: 300 }), isTrackerError('TRACKER_TIMEOUT'));
      const took = Date.now() - started;
      assert.ok(took >= 290 && took < 1500, `took ${took} ms`);
      // 0, 40, 120, 280 ms: four tries within 300 ms, no more (three if timers run late on a busy machine).
      assert.ok(t.received.length >= 3 && t.received.length <= 4, `${t.received.length} packets`);
    } finally {
      await c.close();
      await t.close();
    }
  });

  it('stops when aborted', async () => {
    const t = await fakeUdpTracker(Infinity);
    const c = new TrackerClient({ baseTimeoutMs: 1000, bindAddress: LOOPBACK });
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      await assert.rejects(c.announce(`udp://${LOOPBACK}:${t.port}`, params(hash20('abort'), 'a', 1), { signal: ac.signal, timeoutMs: 10_000 }), isTrackerError('TRACKER_ABORTED'));
    } finally {
      await c.close();
      await t.close();
    }
  });

  it('rejects URLs it cannot use', async () => {
    const c = new TrackerClient();
    try {
      await assert.rejects(c.announce('udp://127.0.0.1/announce', params(hash20('u'), 'a', 1)), isTrackerError('TRACKER_URL'));
      await assert.rejects(c.announce('wss://tracker.example/announce', params(hash20('u'), 'a', 1)), isTrackerError('TRACKER_URL'));
      await assert.rejects(c.scrape('http://127.0.0.1:1/tracker', [hash20('u')]), isTrackerError('TRACKER_URL'));
    } finally {
      await c.close();
    }
  });
});

describe('HTTP client', () => {
  let server: http.Server;
  let base: string;
  const ok = encodeAnnounceResponse({ interval: 77, peers: [{ host: '10.0.0.9', port: 9 }] }, { compact: true });
  before(async () => {
    server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      const hop = /^\/hop(\d+)\/announce$/.exec(path);
      if (hop) {
        const n = Number(hop[1]);
        res.writeHead(302, { Location: n === 0 ? '/ok/announce' : `/hop${n - 1}/announce` });
        return res.end();
      }
      if (path === '/ok/announce') return res.end(ok);
      if (path === '/huge/announce') {
        // Streams forever until the client hangs up.
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        return pump();
      }
      if (path === '/slow/announce') return; // never answers
      if (path === '/refuse/announce') {
        res.writeHead(403);
        return res.end(encodeFailure('passkey not valid'));
      }
      res.writeHead(500);
      res.end('<html>oops</html>');
    });
    await new Promise<void>((r) => server.listen(0, LOOPBACK, () => r()));
    base = `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const c = new TrackerClient();
  const p = params(hash20('http'), 'a', 1);

  it('follows up to 3 redirects, not 4', async () => {
    const r = await c.announce(`${base}/hop2/announce`, p);
    assert.equal(r.interval, 77);
    assert.deepEqual(r.peers, [{ host: '10.0.0.9', port: 9 }]);
    await assert.rejects(c.announce(`${base}/hop3/announce`, p), (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_HTTP' && /redirects/.test(e.message));
  });

  it('cuts off a reply over 2 MiB', async () => {
    await assert.rejects(c.announce(`${base}/huge/announce`, p, { timeoutMs: 10_000 }), (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_HTTP' && /limit/.test(e.message));
  });

  it('times out a tracker that never answers', async () => {
    const started = Date.now();
    await assert.rejects(c.announce(`${base}/slow/announce`, p, { timeoutMs: 200 }), isTrackerError('TRACKER_TIMEOUT'));
    assert.ok(Date.now() - started < 2000);
  });

  it('reports a failure reason sent with an error status, and a bare error status', async () => {
    await assert.rejects(c.announce(`${base}/refuse/announce`, p), (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_FAILURE' && e.failureReason === 'passkey not valid');
    await assert.rejects(c.announce(`${base}/other/announce`, p), (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_HTTP' && /500/.test(e.message));
  });

  it('reports a closed port as unreachable', async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, LOOPBACK, () => r()));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    await assert.rejects(c.announce(`http://${LOOPBACK}:${port}/announce`, p, { timeoutMs: 2000 }), isTrackerError('TRACKER_UNREACHABLE'));
  });
});
