/**
 * Property tests for magnet links: createMagnet/parseMagnet round trips, base32 btih, and the
 * rejection of malformed links with MAGNET_INVALID.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type MagnetInput, createMagnet, parseMagnet } from '../../src/codec/magnet.js';
import { MetainfoError } from '../../src/errors.js';

/** Any Unicode scalar value (no lone surrogates). Cheaper to set up than fast-check's 'binary' unit. */
const codePoint = fc
  .oneof(fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff }))
  .map((c) => String.fromCodePoint(c));

const hash = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));

// Text that needs escaping in a query string, plus arbitrary Unicode (no lone surrogates: names
// come from UTF-8, which cannot hold them).
const tricky = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '&', '=', '%', '+', '?', '#', '/', ':', '[', ']', 'é', '日', '🙂', '%20', '\n'), maxLength: 20 }),
  fc.string({ unit: codePoint, maxLength: 20 }),
);
const url = fc.tuple(fc.constantFrom('http', 'https', 'udp'), tricky).map(([scheme, rest]) => `${scheme}://tracker.example:6969/${rest}`);
const peer = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `[${h}]:${p}`),
);
const range = fc.tuple(fc.integer({ min: 0, max: 999_999_999 }), fc.integer({ min: 0, max: 1000 })).map(([a, n]): [number, number] => [
  a,
  Math.min(999_999_999, a + n),
]);

const magnetInput: fc.Arbitrary<MagnetInput> = fc
  .record({
    infoHashV1: fc.option(hash(20)),
    infoHashV2: fc.option(hash(32)),
    name: fc.option(tricky.filter((s) => s.length > 0)),
    trackers: fc.array(url, { maxLength: 4 }),
    webSeeds: fc.array(url, { maxLength: 3 }),
    peers: fc.array(peer, { maxLength: 3 }),
    select: fc.option(fc.array(range, { minLength: 1, maxLength: 5 })),
  })
  .filter((m) => m.infoHashV1 !== null || m.infoHashV2 !== null);

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding (20 bytes make exactly 32 characters). */
function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

const isMagnetInvalid = (e: unknown) => e instanceof MetainfoError && e.code === 'MAGNET_INVALID';

describe('magnet properties', () => {
  it('parseMagnet(createMagnet(x)) round-trips', () => {
    fc.assert(
      fc.property(magnetInput, (m) => {
        const uri = createMagnet(m);
        assert.ok(uri.startsWith('magnet:?'));
        const p = parseMagnet(uri);
        assert.deepEqual(p.infoHashV1, m.infoHashV1);
        assert.deepEqual(p.infoHashV2, m.infoHashV2);
        assert.equal(p.name, m.name);
        assert.deepEqual(p.trackers, m.trackers);
        assert.deepEqual(p.webSeeds, m.webSeeds);
        assert.deepEqual(p.peers, m.peers);
        assert.deepEqual(p.select, m.select);
      }),
      { numRuns: 300 },
    );
  });

  it('a created magnet has one value per parameter: no raw & = # ? or spaces inside values', () => {
    fc.assert(
      fc.property(magnetInput, (m) => {
        const query = createMagnet(m).slice('magnet:?'.length);
        for (const part of query.split('&')) {
          const eq = part.indexOf('=');
          assert.ok(eq > 0, part);
          assert.doesNotMatch(part.slice(eq + 1), /[=&#? ]/);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('base32 btih parses to the same hash as hex, in either case', () => {
    fc.assert(
      fc.property(hash(20), fc.boolean(), (h, lower) => {
        const b32 = lower ? base32(h).toLowerCase() : base32(h);
        assert.equal(b32.length, 32);
        const fromB32 = parseMagnet(`magnet:?xt=urn:btih:${b32}`);
        const hexText = h.toString('hex');
        const fromHex = parseMagnet(`magnet:?xt=urn:btih:${lower ? hexText : hexText.toUpperCase()}`);
        assert.deepEqual(fromB32.infoHashV1, h);
        assert.deepEqual(fromHex.infoHashV1, h);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts numbered keys (xt.1, tr.2) and unknown parameters', () => {
    const v1 = 'aa'.repeat(20);
    const v2 = 'bb'.repeat(32);
    const m = parseMagnet(`magnet:?xt.1=urn:btih:${v1}&xt.2=urn:btmh:1220${v2}&tr.1=udp://a:1&tr.2=udp://b:2&x.foo=bar&kt=a+b`);
    assert.equal(m.infoHashV1?.toString('hex'), v1);
    assert.equal(m.infoHashV2?.toString('hex'), v2);
    assert.deepEqual(m.trackers, ['udp://a:1', 'udp://b:2']);
  });

  const h40 = 'c'.repeat(40);
  const malformed: Array<[string, string]> = [
    ['not a magnet', 'http://example.com/?xt=urn:btih:' + h40],
    ['no query', 'magnet:'],
    ['no xt', 'magnet:?dn=name&tr=udp://t:1'],
    ['empty query', 'magnet:?'],
    ['unknown urn only', 'magnet:?xt=urn:sha1:' + h40],
    ['btih of 39 hex digits', 'magnet:?xt=urn:btih:' + 'c'.repeat(39)],
    ['btih of 41 hex digits', 'magnet:?xt=urn:btih:' + 'c'.repeat(41)],
    ['btih of 64 hex digits', 'magnet:?xt=urn:btih:' + 'c'.repeat(64)],
    ['btih with a non-hex digit', 'magnet:?xt=urn:btih:' + 'g' + 'c'.repeat(39)],
    ['btih of 31 base32 characters', 'magnet:?xt=urn:btih:' + 'A'.repeat(31)],
    ['btih with base32 digit 1', 'magnet:?xt=urn:btih:' + '1'.repeat(32)],
    ['empty btih', 'magnet:?xt=urn:btih:'],
    ['btmh without 1220', 'magnet:?xt=urn:btmh:' + 'c'.repeat(64)],
    ['btmh with another multihash code', 'magnet:?xt=urn:btmh:1120' + 'c'.repeat(64)],
    ['btmh too short', 'magnet:?xt=urn:btmh:1220' + 'c'.repeat(63)],
    ['btmh too long', 'magnet:?xt=urn:btmh:1220' + 'c'.repeat(66)],
    ['bad so letter', `magnet:?xt=urn:btih:${h40}&so=1-a`],
    ['reversed so range', `magnet:?xt=urn:btih:${h40}&so=5-3`],
    ['empty so', `magnet:?xt=urn:btih:${h40}&so=`],
    ['so with an empty item', `magnet:?xt=urn:btih:${h40}&so=1,,2`],
    ['so negative', `magnet:?xt=urn:btih:${h40}&so=-1`],
    ['so index of 10 digits', `magnet:?xt=urn:btih:${h40}&so=1234567890`],
    ['bad percent-encoding', `magnet:?xt=urn:btih:${h40}&dn=%E0%A4%A`],
    ['lone percent', `magnet:?xt=urn:btih:${h40}&dn=100%`],
  ];
  for (const [what, uri] of malformed) {
    it(`rejects a magnet with ${what} as MAGNET_INVALID`, () => {
      assert.throws(() => parseMagnet(uri), isMagnetInvalid);
    });
  }

  it('any string either parses or throws MAGNET_INVALID', () => {
    const piece = fc.constantFrom('xt=urn:btih:', 'xt=urn:btmh:1220', 'dn=', 'so=', 'tr=', '&', '=', '%', '%e2%82', 'c'.repeat(40), 'A'.repeat(32), '1-2', ',');
    fc.assert(
      fc.property(fc.array(fc.oneof(piece, fc.string({ maxLength: 6 })), { maxLength: 8 }), (parts) => {
        const uri = `magnet:?${parts.join('')}`;
        try {
          parseMagnet(uri);
        } catch (e) {
          assert.ok(isMagnetInvalid(e), `unexpected ${String(e)}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('createMagnet refuses a link without an info hash', () => {
    assert.throws(() => createMagnet({ name: 'x' }), isMagnetInvalid);
  });
});
