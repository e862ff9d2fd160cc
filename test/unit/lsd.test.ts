/** The BEP 14 announce codec: exact bytes, tolerant form, strict content, typed errors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LsdError, MAX_LSD_HASHES, MAX_LSD_PACKET, decodeLsdAnnounce, encodeLsdAnnounce, encodeLsdAnnounces } from '../../src/codec/lsd.js';

const H1 = Buffer.alloc(20, 0xab);
const H2 = Buffer.from('0123456789abcdef0123456789abcdef01234567', 'hex');
const text = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const isLsdError = (code: string) => (e: unknown) => e instanceof LsdError && e.code === code && !e.message.includes('\n');

describe('encodeLsdAnnounce', () => {
  it('writes the BEP 14 packet byte for byte (IPv4 and IPv6 Host)', () => {
    assert.equal(
      encodeLsdAnnounce({ port: 6881, infoHashes: [H1], cookie: 'c00k1e' }).toString('latin1'),
      `BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ${'ab'.repeat(20)}\r\ncookie: c00k1e\r\n\r\n\r\n`,
    );
    assert.equal(
      encodeLsdAnnounce({ port: 1, infoHashes: [H1, H2] }, 6).toString('latin1'),
      `BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\nPort: 1\r\nInfohash: ${'ab'.repeat(20)}\r\nInfohash: ${H2.toString('hex')}\r\n\r\n\r\n`,
    );
  });

  it('refuses what it cannot send correctly', () => {
    assert.throws(() => encodeLsdAnnounce({ port: 0, infoHashes: [H1] }), RangeError);
    assert.throws(() => encodeLsdAnnounce({ port: 65536, infoHashes: [H1] }), RangeError);
    assert.throws(() => encodeLsdAnnounce({ port: 80, infoHashes: [] }), RangeError);
    assert.throws(() => encodeLsdAnnounce({ port: 80, infoHashes: [Buffer.alloc(19)] }), RangeError);
    assert.throws(() => encodeLsdAnnounce({ port: 80, infoHashes: [H1], cookie: 'has space' }), RangeError);
    assert.throws(() => encodeLsdAnnounce({ port: 80, infoHashes: [H1], cookie: 'x'.repeat(65) }), RangeError);
    assert.throws(() => encodeLsdAnnounce({ port: 80, infoHashes: new Array<Buffer>(MAX_LSD_HASHES + 1).fill(H1) }), RangeError);
  });

  it('a full packet (20 hashes, longest cookie, IPv6 Host) stays under 1400 bytes', () => {
    const hashes = Array.from({ length: MAX_LSD_HASHES }, (_, i) => Buffer.alloc(20, i));
    assert.ok(encodeLsdAnnounce({ port: 65535, infoHashes: hashes, cookie: 'x'.repeat(64) }, 6).length <= MAX_LSD_PACKET);
  });

  it('encodeLsdAnnounces groups hashes into as few packets as fit', () => {
    const hashes = Array.from({ length: 45 }, (_, i) => Buffer.alloc(20, i));
    const packets = encodeLsdAnnounces(6881, hashes, 'ck');
    assert.equal(packets.length, 3);
    const back = packets.map((p) => decodeLsdAnnounce(p));
    assert.deepEqual(back.map((a) => a.infoHashes.length), [20, 20, 5]);
    assert.deepEqual(back.flatMap((a) => a.infoHashes), hashes);
    assert.ok(back.every((a) => a.port === 6881 && a.cookie === 'ck'));
    assert.deepEqual(encodeLsdAnnounces(6881, []), []);
  });
});

describe('decodeLsdAnnounce', () => {
  it('reads what we write', () => {
    const a = decodeLsdAnnounce(encodeLsdAnnounce({ port: 51413, infoHashes: [H1, H2], cookie: 'abc' }));
    assert.deepEqual(a, { port: 51413, infoHashes: [H1, H2], cookie: 'abc' });
  });

  it('is tolerant of form: header case, bare \\n, spaces, unknown headers, no trailing empty lines, a body', () => {
    const upper = H2.toString('hex').toUpperCase();
    const a = decodeLsdAnnounce(text(`BT-SEARCH * HTTP/1.1\nhOsT: whatever\nPORT:   6881  \nX-Other: 1\ninfohash:${upper}\nCOOKIE: zz\n`));
    assert.deepEqual(a, { port: 6881, infoHashes: [H2], cookie: 'zz' });
    const b = decodeLsdAnnounce(text(`BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: ${'ab'.repeat(20)}\r\n\r\nPort: junk after the headers\r\n`));
    assert.deepEqual(b, { port: 6881, infoHashes: [H1] });
  });

  it('counts a repeated hash once, keeps at most 20, keeps the first cookie, ignores an empty one', () => {
    // 23 hashes (one repeated), in bare lines to stay under 1400 bytes.
    const many = Array.from({ length: 22 }, (_, i) => `Infohash:${Buffer.alloc(20, i).toString('hex')}\n`).join('');
    const a = decodeLsdAnnounce(text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: ${'00'.repeat(20)}\r\n${many}cookie: one\r\ncookie: two\r\n\r\n`));
    assert.equal(a.infoHashes.length, MAX_LSD_HASHES);
    assert.deepEqual(a.infoHashes[0], Buffer.alloc(20, 0));
    assert.deepEqual(a.infoHashes[19], Buffer.alloc(20, 19));
    assert.equal(a.cookie, 'one');
    const b = decodeLsdAnnounce(text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: ${'00'.repeat(20)}\r\ncookie:  \r\n\r\n`));
    assert.equal(b.cookie, undefined);
  });

  const hash = `Infohash: ${'ab'.repeat(20)}\r\n`;
  const bad: Array<[string, string, Uint8Array]> = [
    ['over 1400 bytes', 'LSD_TOO_LONG', text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n${hash}X: ${'a'.repeat(1400)}\r\n\r\n`)],
    ['empty', 'LSD_REQUEST_LINE', new Uint8Array(0)],
    ['M-SEARCH (SSDP)', 'LSD_REQUEST_LINE', text(`M-SEARCH * HTTP/1.1\r\nPort: 1\r\n${hash}\r\n`)],
    ['lower-case request line', 'LSD_REQUEST_LINE', text(`bt-search * HTTP/1.1\r\nPort: 1\r\n${hash}\r\n`)],
    ['HTTP/1.0', 'LSD_REQUEST_LINE', text(`BT-SEARCH * HTTP/1.0\r\nPort: 1\r\n${hash}\r\n`)],
    ['a line without a colon', 'LSD_HEADER', text(`BT-SEARCH * HTTP/1.1\r\nPort 1\r\n${hash}\r\n`)],
    ['a folded header', 'LSD_HEADER', text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n ${hash}\r\n`)],
    ['no port', 'LSD_PORT', text(`BT-SEARCH * HTTP/1.1\r\n${hash}\r\n`)],
    ['port 0', 'LSD_PORT', text(`BT-SEARCH * HTTP/1.1\r\nPort: 0\r\n${hash}\r\n`)],
    ['port 65536', 'LSD_PORT', text(`BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\n${hash}\r\n`)],
    ['port -1', 'LSD_PORT', text(`BT-SEARCH * HTTP/1.1\r\nPort: -1\r\n${hash}\r\n`)],
    ['port 0x50', 'LSD_PORT', text(`BT-SEARCH * HTTP/1.1\r\nPort: 0x50\r\n${hash}\r\n`)],
    ['port 1e3', 'LSD_PORT', text(`BT-SEARCH * HTTP/1.1\r\nPort: 1e3\r\n${hash}\r\n`)],
    ['two ports', 'LSD_PORT', text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nport: 2\r\n${hash}\r\n`)],
    ['no infohash', 'LSD_INFOHASH', text('BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n')],
    ['a 39-digit infohash', 'LSD_INFOHASH', text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: ${'a'.repeat(39)}\r\n\r\n`)],
    ['a 64-digit (v2) infohash', 'LSD_INFOHASH', text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: ${'a'.repeat(64)}\r\n\r\n`)],
    ['a non-hex infohash', 'LSD_INFOHASH', text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: ${'g'.repeat(40)}\r\n\r\n`)],
    ['one bad hash among good ones', 'LSD_INFOHASH', text(`BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n${hash}Infohash: xyz\r\n\r\n`)],
  ];
  for (const [what, code, packet] of bad) {
    it(`refuses ${what} with ${code}`, () => assert.throws(() => decodeLsdAnnounce(packet), isLsdError(code)));
  }

  it('reads bytes that are not UTF-8 without trouble (an unknown header with binary value)', () => {
    const head = Buffer.from(`BT-SEARCH * HTTP/1.1\r\nPort: 7\r\n${hash}X-Bin: `, 'latin1');
    const a = decodeLsdAnnounce(Buffer.concat([head, Buffer.from([0xff, 0xfe, 0x80, 0x0d, 0x0a])]));
    assert.equal(a.port, 7);
  });
});
