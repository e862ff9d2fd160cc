/**
 * Our tracker client against our tracker server, over HTTP and UDP on 127.0.0.1: peers see each
 * other and never themselves, `stopped` removes, scrape counts, intervals are passed on, caps hold,
 * expiry follows the injected clock, and malformed requests are answered with a failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  TrackerError,
  decodeUdpResponse,
  encodeUdpRequest,
  parseAnnounceResponse,
  parseScrapeResponse,
  percentEncodeBytes,
} from '../../src/codec/tracker.js';
import { TrackerClient } from '../../src/discovery/tracker-client.js';
import { type TrackerServer, startTrackerServer } from '../../src/discovery/tracker-server.js';
import { LOOPBACK, hash20, params, peerId, rawGet, rawUdp } from './helpers.js';

const INTERVAL = 120;
let server: TrackerServer;
let client: TrackerClient;
let httpUrl: string;
let udpUrl: string;

before(async () => {
  server = await startTrackerServer({ host: LOOPBACK, interval: INTERVAL, maxNumwant: 5 });
  httpUrl = `http://${LOOPBACK}:${server.httpPort}/announce`;
  udpUrl = `udp://${LOOPBACK}:${server.udpPort}/announce`;
  client = new TrackerClient({ baseTimeoutMs: 200, bindAddress: LOOPBACK });
});
after(async () => {
  await client.close();
  await server.close();
});

const sortPeers = (ps: Array<{ host: string; port: number }>) => ps.map((p) => `${p.host}:${p.port}`).sort();

for (const transport of ['http', 'udp'] as const) {
  describe(`client and server over ${transport}`, () => {
    const url = () => (transport === 'http' ? httpUrl : udpUrl);

    it('two peers announce and each sees the other, never itself', async () => {
      const ih = hash20(`two-peers-${transport}`);
      const a = await client.announce(url(), params(ih, 'a', 6001, { event: 'started' }));
      assert.deepEqual(a.peers, []);
      assert.equal(a.interval, INTERVAL);
      if (transport === 'http') assert.equal(a.minInterval, INTERVAL / 2);
      const b = await client.announce(url(), params(ih, 'b', 6002, { event: 'started', left: 0 }));
      assert.deepEqual(sortPeers(b.peers), [`${LOOPBACK}:6001`]);
      assert.equal(b.complete, 1);
      assert.equal(b.incomplete, 1);
      const a2 = await client.announce(url(), params(ih, 'a', 6001));
      assert.deepEqual(sortPeers(a2.peers), [`${LOOPBACK}:6002`]);
      server.registry.checkInvariants();
    });

    it('stopped removes the peer', async () => {
      const ih = hash20(`stopped-${transport}`);
      await client.announce(url(), params(ih, 'a', 6001, { event: 'started' }));
      await client.announce(url(), params(ih, 'b', 6002, { event: 'started' }));
      const stop = await client.announce(url(), params(ih, 'b', 6002, { event: 'stopped' }));
      assert.deepEqual(stop.peers, []);
      const a = await client.announce(url(), params(ih, 'a', 6001));
      assert.deepEqual(a.peers, []);
      assert.equal(a.incomplete, 1);
      assert.equal(a.complete, 0);
    });

    it('scrape counts seeders, leechers and completed downloads', async () => {
      const ih = hash20(`scrape-${transport}`);
      const other = hash20(`never-announced-${transport}`);
      await client.announce(url(), params(ih, 'a', 6001, { event: 'started' }));
      await client.announce(url(), params(ih, 'b', 6002, { event: 'started' }));
      await client.announce(url(), params(ih, 'c', 6003, { event: 'started', left: 0 }));
      await client.announce(url(), params(ih, 'a', 6001, { event: 'completed', left: 0 }));
      // A repeated `completed` from the same peer is counted once.
      await client.announce(url(), params(ih, 'a', 6001, { event: 'completed', left: 0 }));
      const s = await client.scrape(url(), [ih, other]);
      assert.deepEqual(s.get(ih.toString('hex')), { complete: 2, incomplete: 1, downloaded: 1 });
      assert.deepEqual(s.get(other.toString('hex')), { complete: 0, incomplete: 0, downloaded: 0 });
    });

    it('caps numwant at maxNumwant and returns a sample of distinct peers', async () => {
      const ih = hash20(`numwant-${transport}`);
      for (let i = 0; i < 8; i++) await client.announce(url(), params(ih, `p${i}`, 7000 + i));
      const r = await client.announce(url(), params(ih, 'asker', 7100, { numwant: 100 }));
      assert.equal(r.peers.length, 5);
      assert.equal(new Set(sortPeers(r.peers)).size, 5);
      const few = await client.announce(url(), params(ih, 'asker', 7100, { numwant: 2 }));
      assert.equal(few.peers.length, 2);
    });

    it('lists an IPv6 `ip` given by a loopback peer to HTTP clients (peers6), not to UDP IPv4 clients', async () => {
      const ih = hash20(`ipv6-${transport}`);
      await client.announce(httpUrl, params(ih, 'six', 6006, { ip: '::1' }));
      await client.announce(url(), params(ih, 'four', 6004));
      const r = await client.announce(url(), params(ih, 'asker', 6010));
      assert.deepEqual(sortPeers(r.peers), transport === 'http' ? [`${LOOPBACK}:6004`, '::1:6006'] : [`${LOOPBACK}:6004`]);
    });
  });
}

describe('malformed requests get a failure, and the server keeps serving', () => {
  it('HTTP: bad info_hash, missing port, bad escapes, no hashes to scrape, unknown path, POST', async () => {
    const ih = percentEncodeBytes(hash20('x'));
    const pid = percentEncodeBytes(peerId('x'));
    const cases: Array<[string, RegExp, string?]> = [
      [`/announce?info_hash=abc&peer_id=${pid}&port=1&left=0`, /info_hash must be 20 bytes/],
      [`/announce?info_hash=${ih}&peer_id=${pid}&left=0`, /port is missing/],
      [`/announce?info_hash=${ih}&peer_id=${pid}&port=99999&left=0`, /out of range/],
      [`/announce?info_hash=%zz&peer_id=${pid}&port=1&left=0`, /percent-encoding/],
      [`/announce?info_hash=${ih}&peer_id=${pid}&port=1&left=-5`, /left must be a non-negative integer/],
      ['/scrape', /at least one info_hash/],
      ['/nope', /no such path/],
      ['/announce', /only GET/, 'POST'],
    ];
    for (const [path, re, method] of cases) {
      const r = await rawGet(server.httpPort!, path, method);
      assert.throws(() => parseAnnounceResponse(r.body), (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_FAILURE' && re.test(e.failureReason ?? ''), path);
    }
    const ok = await rawGet(server.httpPort!, `/announce?info_hash=${ih}&peer_id=${pid}&port=1&left=0`);
    assert.equal(parseAnnounceResponse(ok.body).interval, INTERVAL);
  });

  it('HTTP: compact=0 gives a list of dictionaries with peer ids', async () => {
    const ih = hash20('non-compact');
    await client.announce(httpUrl, params(ih, 'a', 6001));
    const r = await rawGet(server.httpPort!, `/announce?info_hash=${percentEncodeBytes(ih)}&peer_id=${percentEncodeBytes(peerId('b'))}&port=6002&left=5&compact=0`);
    const parsed = parseAnnounceResponse(r.body);
    assert.deepEqual(parsed.peers.map((p) => [p.host, p.port, Buffer.from(p.peerId!).toString('hex')]), [[LOOPBACK, 6001, peerId('a').toString('hex')]]);
  });

  it('HTTP: a scrape of many hashes is refused, not served', async () => {
    const q = Array.from({ length: 101 }, (_, i) => `info_hash=${percentEncodeBytes(hash20(`h${i}`))}`).join('&');
    const r = await rawGet(server.httpPort!, `/scrape?${q}`);
    assert.throws(() => parseScrapeResponse(r.body), /at most 100/);
  });

  it('UDP: garbage, wrong protocol id, unknown action and a forged connection id get error packets; short packets get nothing', async () => {
    const port = server.udpPort!;
    const tidOf = (b: Buffer | null) => (b ? decodeUdpResponse(b).transactionId : null);
    const garbage = Buffer.alloc(16, 0xab);
    const r1 = await rawUdp(port, garbage);
    assert.ok(r1);
    const d1 = decodeUdpResponse(r1);
    assert.equal(d1.action, 'error');
    assert.equal(tidOf(r1), garbage.readUInt32BE(12));
    const forged = encodeUdpRequest({ action: 'announce', connectionId: 12345n, transactionId: 77, params: params(hash20('f'), 'f', 1) });
    const r2 = decodeUdpResponse((await rawUdp(port, forged))!);
    assert.equal(r2.action, 'error');
    assert.equal(r2.transactionId, 77);
    assert.match((r2 as { message: string }).message, /connection id/);
    const unknownAction = Buffer.from(encodeUdpRequest({ action: 'connect', transactionId: 5 }));
    unknownAction.writeUInt32BE(9, 8);
    assert.equal(decodeUdpResponse((await rawUdp(port, unknownAction))!).action, 'error');
    assert.equal(await rawUdp(port, Buffer.from('hi'), 300), null);
    // A truncated announce with a valid connection id.
    const conn = decodeUdpResponse((await rawUdp(port, encodeUdpRequest({ action: 'connect', transactionId: 1 })))!);
    assert.equal(conn.action, 'connect');
    const full = encodeUdpRequest({ action: 'announce', connectionId: (conn as { connectionId: bigint }).connectionId, transactionId: 2, params: params(hash20('t'), 't', 1) });
    const r3 = decodeUdpResponse((await rawUdp(port, full.subarray(0, 60)))!);
    assert.equal(r3.action, 'error');
    // Still serving.
    const ok = await client.announce(udpUrl, params(hash20('after-garbage'), 'z', 9));
    assert.equal(ok.interval, INTERVAL);
  });
});

describe('expiry and connection ids follow the injected clock', () => {
  let t = 0;
  let timed: TrackerServer;
  let c: TrackerClient;
  before(async () => {
    t = 10_000_000;
    timed = await startTrackerServer({ host: LOOPBACK, interval: 60, peerTtlSeconds: 100, now: () => t });
    c = new TrackerClient({ baseTimeoutMs: 200, bindAddress: LOOPBACK });
  });
  after(async () => {
    await c.close();
    await timed.close();
  });

  it('a peer that stops announcing is dropped after its TTL', async () => {
    const url = `http://${LOOPBACK}:${timed.httpPort}/announce`;
    const ih = hash20('expiry');
    await c.announce(url, params(ih, 'old', 6001));
    t += 50_000;
    await c.announce(url, params(ih, 'young', 6002));
    t += 60_000; // old: 110 s since its announce; young: 60 s
    const r = await c.announce(url, params(ih, 'asker', 6003));
    assert.deepEqual(sortPeers(r.peers), [`${LOOPBACK}:6002`]);
    t += 1_000_000;
    timed.registry.sweep();
    assert.equal(timed.registry.torrents, 0);
    timed.registry.checkInvariants();
  });

  it('a cached UDP connection id the server no longer accepts is renewed transparently', async () => {
    const url = `udp://${LOOPBACK}:${timed.udpPort}`;
    const ih = hash20('conn-id');
    await c.announce(url, params(ih, 'a', 6001));
    t += 5 * 60_000; // the server's windows moved on; the client's cache (real time) has not
    await c.announce(`http://${LOOPBACK}:${timed.httpPort}/announce`, params(ih, 'a', 6001)); // (a's entry had expired)
    const r = await c.announce(url, params(ih, 'b', 6002));
    assert.deepEqual(sortPeers(r.peers), [`${LOOPBACK}:6001`]);
  });
});

describe('caps', () => {
  it('a full swarm still answers a newcomer but does not list it', async () => {
    const s = await startTrackerServer({ host: LOOPBACK, udpPort: false, maxPeersPerTorrent: 2, maxTorrents: 2 });
    const c = new TrackerClient();
    try {
      const url = `http://${LOOPBACK}:${s.httpPort}/announce`;
      const ih = hash20('full');
      await c.announce(url, params(ih, 'a', 1));
      await c.announce(url, params(ih, 'b', 2));
      const third = await c.announce(url, params(ih, 'c', 3));
      assert.equal(third.peers.length, 2);
      assert.equal(third.incomplete, 2);
      await c.announce(url, params(hash20('second torrent'), 'a', 1));
      // A third torrent does not fit: answered with nobody, and not stored.
      const r = await c.announce(url, params(hash20('third torrent'), 'a', 1));
      assert.deepEqual(r.peers, []);
      assert.equal(s.registry.torrents, 2);
      s.registry.checkInvariants();
    } finally {
      await c.close();
      await s.close();
    }
  });
});
