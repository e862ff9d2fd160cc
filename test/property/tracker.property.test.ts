/**
 * Property tests for the tracker codec: every message we encode decodes to what was encoded (HTTP
 * queries and replies, compact IPv4/IPv6 peers, UDP packets both ways), and arbitrary bytes fed to
 * any parser give a value or a TrackerError, never another exception.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type AnnounceRequest,
  type AnnounceResponse,
  type Peer,
  type UdpRequest,
  type UdpResponse,
  TrackerError,
  buildAnnounceUrl,
  buildScrapeUrl,
  bytesToIp,
  decodeCompactPeers,
  decodeReply,
  decodeUdpRequest,
  decodeUdpResponse,
  encodeAnnounceResponse,
  encodeCompactPeers,
  encodeFailure,
  encodeScrapeResponse,
  encodeUdpRequest,
  encodeUdpResponse,
  ipToBytes,
  parseAnnounceQuery,
  parseAnnounceResponse,
  parseQuery,
  parseScrapeQuery,
  parseScrapeResponse,
  percentDecodeBytes,
  percentEncodeBytes,
} from '../../src/codec/tracker.js';

const RUNS = { numRuns: 300 };
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));
const hash = bytes(20);
const port = fc.integer({ min: 1, max: 65535 });
const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const event = fc.constantFrom('none', 'started', 'completed', 'stopped' as const);
/** IP addresses as our formatter writes them (so that text → bytes → text is the identity). */
const ipv4 = bytes(4).map(bytesToIp);
const ipv6 = bytes(16).map(bytesToIp);
const peer4 = fc.record({ host: ipv4, port });
const peer6 = fc.record({ host: ipv6, port });
/** Comparable form: bytes as hex, bigints tagged, undefined fields dropped, plain prototypes. */
const plain = <T>(x: T): unknown =>
  JSON.parse(JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? `${v}n` : v)));

/** A parser may return or throw TrackerError; anything else is a bug. */
function total(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof TrackerError)) throw e;
  }
}

describe('tracker codec: round trips', () => {
  it('percent-encoding of raw bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const enc = percentEncodeBytes(b);
        assert.match(enc, /^[A-Za-z0-9\-._~%]*$/);
        assert.deepEqual(Buffer.from(percentDecodeBytes(enc)), Buffer.from(b));
      }),
      RUNS,
    );
  });

  it('IP literals: bytes → text → bytes (v4, v6, v4-mapped) agree with Node', () => {
    fc.assert(
      fc.property(fc.oneof(bytes(4), bytes(16)), (b) => {
        const t = bytesToIp(b);
        assert.deepEqual(Buffer.from(ipToBytes(t)!), b);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (s) => {
        const b = ipToBytes(s);
        assert.ok(b, s);
        // Node's URL parser is an independent oracle for the RFC 5952 form (it writes IPv4-mapped
        // addresses in hex, where RFC 5952 prefers the dotted tail: those are left out).
        const mapped = b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
        if (b.length === 16 && !mapped) assert.equal(`[${bytesToIp(b)}]`, new URL(`http://[${s}]/`).hostname);
      }),
      RUNS,
    );
  });

  it('compact peers, IPv4 and IPv6', () => {
    fc.assert(
      fc.property(fc.array(peer4, { maxLength: 30 }), fc.array(peer6, { maxLength: 30 }), (p4, p6) => {
        const mixed = [...p4, ...p6];
        assert.deepEqual(plain(decodeCompactPeers(encodeCompactPeers(mixed, 4), 4)), plain(p4));
        assert.deepEqual(plain(decodeCompactPeers(encodeCompactPeers(mixed, 6), 6)), plain(p6));
      }),
      RUNS,
    );
  });

  const announceRequest: fc.Arbitrary<AnnounceRequest> = fc.record(
    {
      infoHash: hash,
      peerId: hash,
      port: fc.integer({ min: 0, max: 65535 }),
      uploaded: count,
      downloaded: count,
      left: count,
      event,
      numwant: fc.integer({ min: 0, max: 1000 }),
      key: u32,
      ip: fc.oneof(ipv4, ipv6, fc.domain()),
      compact: fc.boolean(),
      trackerId: fc.uint8Array({ minLength: 1, maxLength: 30 }).map((a) => Buffer.from(a)),
    },
    { requiredKeys: ['infoHash', 'peerId', 'port', 'uploaded', 'downloaded', 'left'] },
  );

  it('HTTP announce query: build → parse', () => {
    fc.assert(
      fc.property(announceRequest, fc.constantFrom('http://t.example/announce', 'https://t.example:8443/x/announce?passkey=abc', 'http://[::1]:6969/announce#frag'), (r, base) => {
        const url = new URL(buildAnnounceUrl(base, r));
        const back = parseAnnounceQuery(url.search.slice(1));
        assert.deepEqual(plain(back), plain({ ...r, event: r.event ?? 'none', compact: r.compact ?? true }));
        if (base.includes('passkey')) assert.equal(url.searchParams.get('passkey'), 'abc');
      }),
      RUNS,
    );
  });

  it('HTTP announce reply: encode → parse, compact and not', () => {
    const response = fc.record(
      {
        interval: fc.integer({ min: 0, max: 1e9 }),
        minInterval: fc.integer({ min: 0, max: 1e9 }),
        complete: fc.nat(),
        incomplete: fc.nat(),
        warning: fc.string(),
        trackerId: fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
        externalIp: fc.oneof(ipv4, ipv6),
      },
      { requiredKeys: ['interval'] },
    );
    const peerWithId = fc.record({ host: fc.oneof(ipv4, ipv6, fc.domain()), port, peerId: hash }, { requiredKeys: ['host', 'port'] });
    fc.assert(
      fc.property(response, fc.array(peer4, { maxLength: 20 }), fc.array(peer6, { maxLength: 20 }), (r, p4, p6) => {
        const full: AnnounceResponse = { ...r, peers: [...p4, ...p6] };
        assert.deepEqual(plain(parseAnnounceResponse(encodeAnnounceResponse(full, { compact: true }))), plain(full));
      }),
      RUNS,
    );
    fc.assert(
      fc.property(response, fc.array(peerWithId, { maxLength: 20 }), (r, peers) => {
        const full: AnnounceResponse = { ...r, peers: peers as Peer[] };
        assert.deepEqual(plain(parseAnnounceResponse(encodeAnnounceResponse(full, { compact: false }))), plain(full));
      }),
      RUNS,
    );
  });

  it('failure reason → TrackerError TRACKER_FAILURE with the reason', () => {
    fc.assert(
      fc.property(fc.string(), (reason) => {
        assert.throws(
          () => parseAnnounceResponse(encodeFailure(reason)),
          (e: unknown) => e instanceof TrackerError && e.code === 'TRACKER_FAILURE' && e.failureReason === reason && !e.message.includes('\n'),
        );
      }),
      RUNS,
    );
  });

  it('scrape query and reply', () => {
    const stats = fc.record({ complete: fc.nat(), downloaded: fc.nat(), incomplete: fc.nat() });
    fc.assert(
      fc.property(fc.uniqueArray(hash, { minLength: 1, maxLength: 20, selector: (h) => h.toString('hex') }), fc.array(stats, { minLength: 20, maxLength: 20 }), (hashes, st) => {
        const url = new URL(buildScrapeUrl('http://t.example/scrape', hashes));
        assert.deepEqual(parseScrapeQuery(url.search.slice(1)).map((h) => Buffer.from(h).toString('hex')), hashes.map((h) => h.toString('hex')));
        const files = hashes.map((h, i) => ({ infoHash: h, ...st[i]! }));
        const back = parseScrapeResponse(encodeScrapeResponse(files));
        assert.deepEqual(back, new Map(files.map((f) => [f.infoHash.toString('hex'), { complete: f.complete, downloaded: f.downloaded, incomplete: f.incomplete }])));
      }),
      RUNS,
    );
  });

  it('UDP requests: encode → decode', () => {
    const connectionId = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    const udpAnnounce = fc.record({
      infoHash: hash,
      peerId: hash,
      port: fc.integer({ min: 0, max: 65535 }),
      uploaded: count,
      downloaded: count,
      left: count,
      event,
      numwant: fc.option(fc.integer({ min: 0, max: 0x7fffffff }), { nil: undefined }),
      key: u32,
      ip: fc.option(ipv4.filter((s) => s !== '0.0.0.0'), { nil: undefined }),
    });
    const req: fc.Arbitrary<UdpRequest> = fc.oneof(
      fc.record({ action: fc.constant('connect' as const), transactionId: u32 }),
      fc.record({ action: fc.constant('announce' as const), connectionId, transactionId: u32, params: udpAnnounce }),
      fc.record({ action: fc.constant('scrape' as const), connectionId, transactionId: u32, infoHashes: fc.array(hash, { minLength: 1, maxLength: 74 }) }),
    );
    fc.assert(
      fc.property(req, (r) => {
        const back = decodeUdpRequest(encodeUdpRequest(r));
        const expected = r.action === 'announce' ? { ...r, params: { ...r.params, compact: true } } : r;
        // Optional fields that are absent stay absent: compare without the undefined ones.
        assert.deepEqual(plain(back), plain(expected));
      }),
      RUNS,
    );
  });

  it('UDP responses: encode → decode, with 6-byte peers over IPv4 and 18-byte peers over IPv6', () => {
    const stats = fc.record({ complete: u32, downloaded: u32, incomplete: u32 });
    const res = (peers: fc.Arbitrary<Peer[]>): fc.Arbitrary<UdpResponse> =>
      fc.oneof(
        fc.record({ action: fc.constant('connect' as const), transactionId: u32, connectionId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
        fc.record({ action: fc.constant('announce' as const), transactionId: u32, interval: u32, leechers: u32, seeders: u32, peers }),
        fc.record({ action: fc.constant('scrape' as const), transactionId: u32, files: fc.array(stats, { maxLength: 74 }) }),
        fc.record({ action: fc.constant('error' as const), transactionId: u32, message: fc.string() }),
      );
    fc.assert(
      fc.property(res(fc.array(peer4, { maxLength: 50 })), (r) => assert.deepEqual(plain(decodeUdpResponse(encodeUdpResponse(r, 4), 4)), plain(r))),
      RUNS,
    );
    fc.assert(
      fc.property(res(fc.array(peer6, { maxLength: 50 })), (r) => assert.deepEqual(plain(decodeUdpResponse(encodeUdpResponse(r, 6), 6)), plain(r))),
      RUNS,
    );
  });
});

describe('tracker codec: arbitrary input gives a value or a TrackerError', () => {
  const junk = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    // Near-misses: mutations of valid messages reach deeper into the parsers than random bytes.
    fc
      .tuple(
        fc.constantFrom(
          encodeAnnounceResponse({ interval: 60, peers: [{ host: '10.0.0.1', port: 1 }, { host: '::1', port: 2 }] }, { compact: true }),
          encodeAnnounceResponse({ interval: 60, peers: [{ host: 'a.example', port: 1 }] }, { compact: false }),
          encodeScrapeResponse([{ infoHash: Buffer.alloc(20, 1), complete: 1, downloaded: 2, incomplete: 3 }]),
          encodeUdpRequest({ action: 'announce', connectionId: 5n, transactionId: 7, params: { infoHash: Buffer.alloc(20), peerId: Buffer.alloc(20), port: 1, uploaded: 0, downloaded: 0, left: 0 } }),
          encodeUdpResponse({ action: 'announce', transactionId: 1, interval: 2, leechers: 3, seeders: 4, peers: [{ host: '1.2.3.4', port: 5 }] }),
        ),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
      )
      .map(([b, edits, cut]) => {
        const c = Buffer.from(b);
        for (const [at, v] of edits) c[at % c.length] = v;
        return c.subarray(0, c.length - (cut % 4));
      }),
  );

  it('reply, announce, scrape and UDP parsers', () => {
    fc.assert(
      fc.property(junk, (b) => {
        total(() => decodeReply(b));
        total(() => parseAnnounceResponse(b));
        total(() => parseScrapeResponse(b));
        total(() => decodeUdpRequest(b));
        total(() => decodeUdpResponse(b, 4));
        total(() => decodeUdpResponse(b, 6));
        total(() => decodeCompactPeers(b, 4));
      }),
      { numRuns: 2000 },
    );
  });

  it('query parsers', () => {
    const query = fc.string({ unit: fc.constantFrom('a', '=', '&', '%', '4', '1', 'G', '+', 'é', 'info_hash', 'peer_id', 'port', 'left', '%00'), maxLength: 80 });
    fc.assert(
      fc.property(query, (q) => {
        total(() => parseQuery(q));
        total(() => parseAnnounceQuery(q));
        total(() => parseScrapeQuery(q));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects deep nesting without a stack overflow', () => {
    assert.throws(() => decodeReply(Buffer.from('l'.repeat(100_000))), TrackerError);
  });
});
