/**
 * Property tests for the BEP 14 announce codec: round trips (also through the tolerant forms a
 * sender may use: header case, bare \n, hash case), and LsdError as the only error on arbitrary
 * bytes or on valid packets with bytes changed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type LsdAnnounce, LsdError, MAX_LSD_HASHES, decodeLsdAnnounce, encodeLsdAnnounce, encodeLsdAnnounces } from '../../src/codec/lsd.js';

/** fc.record of ordinary objects (fast-check 4 makes null-prototype ones, which deepEqual tells apart). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

const hash = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b));
const distinctHashes = (max: number) => fc.uniqueArray(hash, { minLength: 1, maxLength: max, selector: (h) => h.toString('hex') });
const cookie = fc.stringMatching(/^[\x21-\x7e]{1,64}$/);
const announce: fc.Arbitrary<LsdAnnounce> = fc.oneof(
  rec({ port: fc.integer({ min: 1, max: 65535 }), infoHashes: distinctHashes(MAX_LSD_HASHES) }),
  rec({ port: fc.integer({ min: 1, max: 65535 }), infoHashes: distinctHashes(MAX_LSD_HASHES), cookie }),
);

/** Decodes, and fails the property if anything but an LsdError is thrown. */
function decodeOrLsdError(bytes: Uint8Array): void {
  try {
    decodeLsdAnnounce(bytes);
  } catch (e) {
    assert.ok(e instanceof LsdError, `threw ${String(e)}`);
    assert.ok(!e.message.includes('\n'));
  }
}

describe('LSD codec properties', () => {
  it('decode(encode(a)) == a, for both Host forms', () => {
    fc.assert(
      fc.property(announce, fc.constantFrom<4 | 6>(4, 6), (a, family) => {
        assert.deepEqual(decodeLsdAnnounce(encodeLsdAnnounce(a, family)), a);
      }),
      { numRuns: 200 },
    );
  });

  it('the tolerant forms decode to the same announce: any header-name case, \\n line ends, upper-case hex', () => {
    fc.assert(
      fc.property(announce, fc.boolean(), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (a, bareLf, upper) => {
        let s = encodeLsdAnnounce(a).toString('latin1');
        let i = 0;
        s = s.replace(/^(Host|Port|Infohash|cookie):/gm, (name) => (upper[i++ % upper.length] ? name.toUpperCase() : name.toLowerCase()));
        s = s.replace(/^(infohash:\s*)([0-9a-f]{40})(?=\r?$)/gim, (_, h: string, v: string) => h + (upper[0] ? v.toUpperCase() : v));
        if (bareLf) s = s.replaceAll('\r\n', '\n');
        assert.deepEqual(decodeLsdAnnounce(Buffer.from(s, 'latin1')), a);
      }),
      { numRuns: 200 },
    );
  });

  it('encodeLsdAnnounces: every hash in exactly one packet, each packet decodes, ceil(n/20) packets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.uniqueArray(hash, { maxLength: 70, selector: (h) => h.toString('hex') }), (port, hashes) => {
        const packets = encodeLsdAnnounces(port, hashes, 'me');
        assert.equal(packets.length, Math.ceil(hashes.length / MAX_LSD_HASHES));
        assert.deepEqual(packets.flatMap((p) => decodeLsdAnnounce(p).infoHashes), hashes);
      }),
      { numRuns: 100 },
    );
  });

  it('arbitrary bytes never throw anything but LsdError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1500 }), (b) => decodeOrLsdError(b)), { numRuns: 200 });
  });

  it('arbitrary text after a valid request line never throws anything but LsdError', () => {
    const line = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.tuple(fc.constantFrom('Port', 'Infohash', 'cookie', 'Host', 'port', 'INFOHASH'), fc.string({ maxLength: 50 })).map(([k, v]) => `${k}:${v}`),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.constantFrom('\r\n', '\n'), (lines, eol) => {
        decodeOrLsdError(Buffer.from(['BT-SEARCH * HTTP/1.1', ...lines].join(eol), 'latin1'));
      }),
      { numRuns: 200 },
    );
  });

  it('a valid packet with bytes overwritten or cut never throws anything but LsdError', () => {
    fc.assert(
      fc.property(announce, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(), (a, edits, cut) => {
        const b = Buffer.from(encodeLsdAnnounce(a));
        for (const [at, v] of edits) b[at % b.length] = v;
        decodeOrLsdError(b.subarray(0, cut % (b.length + 1)));
      }),
      { numRuns: 200 },
    );
  });
});
