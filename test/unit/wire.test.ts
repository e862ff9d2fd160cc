import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BEncodable, bencode } from '../../src/codec/bencode.js';
import {
  METADATA_PIECE_SIZE,
  PEX_REACHABLE,
  PEX_SEED,
  decodeCompactPeers,
  decodeExtHandshake,
  decodeMetadataMessage,
  decodePex,
  encodeCompactPeers,
  encodeExtHandshake,
  encodeMetadataMessage,
  encodePex,
  formatIp,
  parseIp,
} from '../../src/codec/extensions.js';
import {
  DEFAULT_MAX_MESSAGE_LENGTH,
  type Message,
  MessageDecoder,
  RESERVED_DHT,
  RESERVED_EXTENSION,
  RESERVED_FAST,
  RESERVED_V2,
  WireError,
  decodeHandshake,
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  hasReserved,
  makeReserved,
} from '../../src/codec/wire.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const latin1 = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const isWireError = (code: string) => (e: unknown) => e instanceof WireError && e.code === code && !e.message.includes('\n');

/** Decodes every message in `bytes`, pushed as one chunk. */
function decodeAll(bytes: Uint8Array, decoder = new MessageDecoder()): Message[] {
  decoder.push(bytes);
  const out: Message[] = [];
  for (let m = decoder.next(); m !== null; m = decoder.next()) out.push(m);
  return out;
}

const ROOT = new Uint8Array(32).fill(0xaa);
const ROOT_HEX = 'aa'.repeat(32);

// Each message with its exact bytes (BEP 3, BEP 5 port, BEP 6, BEP 10, BEP 52).
const VECTORS: [Message, string][] = [
  [{ type: 'keep-alive' }, '00000000'],
  [{ type: 'choke' }, '00000001 00'],
  [{ type: 'unchoke' }, '00000001 01'],
  [{ type: 'interested' }, '00000001 02'],
  [{ type: 'not-interested' }, '00000001 03'],
  [{ type: 'have', index: 0x01020304 }, '00000005 04 01020304'],
  [{ type: 'bitfield', bitfield: hex('ff80') }, '00000003 05 ff80'],
  [{ type: 'request', index: 1, begin: 0x4000, length: 0x4000 }, '0000000d 06 00000001 00004000 00004000'],
  [{ type: 'piece', index: 2, begin: 0x8000, block: latin1('abc') }, '0000000c 07 00000002 00008000 616263'],
  [{ type: 'cancel', index: 0xffffffff, begin: 0, length: 1 }, '0000000d 08 ffffffff 00000000 00000001'],
  [{ type: 'port', port: 6881 }, '00000003 09 1ae1'],
  [{ type: 'suggest', index: 5 }, '00000005 0d 00000005'],
  [{ type: 'have-all' }, '00000001 0e'],
  [{ type: 'have-none' }, '00000001 0f'],
  [{ type: 'reject', index: 3, begin: 0x4000, length: 0x2000 }, '0000000d 10 00000003 00004000 00002000'],
  [{ type: 'allowed-fast', index: 7 }, '00000005 11 00000007'],
  [{ type: 'extended', id: 0, payload: latin1('de') }, '00000004 14 00 6465'],
  [{ type: 'extended', id: 3, payload: new Uint8Array(0) }, '00000002 14 03'],
  [
    { type: 'hash-request', piecesRoot: ROOT, baseLayer: 0, index: 4, length: 2, proofLayers: 3 },
    `00000031 15 ${ROOT_HEX} 00000000 00000004 00000002 00000003`,
  ],
  [
    { type: 'hashes', piecesRoot: ROOT, baseLayer: 2, index: 0, length: 2, proofLayers: 0, hashes: new Uint8Array(64).fill(0x11) },
    `00000071 16 ${ROOT_HEX} 00000002 00000000 00000002 00000000 ${'11'.repeat(64)}`,
  ],
  [
    { type: 'hash-reject', piecesRoot: ROOT, baseLayer: 0, index: 0, length: 512, proofLayers: 1 },
    `00000031 17 ${ROOT_HEX} 00000000 00000000 00000200 00000001`,
  ],
  [{ type: 'unknown', id: 0xff, payload: hex('0102') }, '00000003 ff 0102'],
];

describe('handshake', () => {
  const infoHash = hex('0123456789abcdef0123456789abcdef01234567');
  const peerId = latin1('-SB0100-abcdefghijkl');
  const reserved = makeReserved([RESERVED_EXTENSION, RESERVED_FAST, RESERVED_DHT]);
  const bytes = hex(`13 ${Buffer.from('BitTorrent protocol').toString('hex')} 0000000000100005 ${Buffer.from(infoHash).toString('hex')} ${Buffer.from(peerId).toString('hex')}`);

  it('encodes and decodes the 68-byte handshake', () => {
    assert.deepEqual(new Uint8Array(encodeHandshake({ infoHash, peerId, reserved })), bytes);
    assert.deepEqual(decodeHandshake(bytes), { infoHash, peerId, reserved });
  });

  it('ignores bytes after the handshake and returns copies', () => {
    const withMore = Buffer.from([...bytes, 0, 0, 0, 0]);
    const h = decodeHandshake(withMore);
    withMore.fill(0);
    assert.deepEqual(h, { infoHash, peerId, reserved });
  });

  it('rejects a short handshake or a wrong protocol string', () => {
    assert.throws(() => decodeHandshake(bytes.subarray(0, 67)), isWireError('WIRE_HANDSHAKE'));
    const wrongLength = bytes.slice();
    wrongLength[0] = 18;
    assert.throws(() => decodeHandshake(wrongLength), isWireError('WIRE_HANDSHAKE'));
    const wrongName = bytes.slice();
    wrongName[19] = 0x6d; // "BitTorrent protocom"
    assert.throws(() => decodeHandshake(wrongName), isWireError('WIRE_HANDSHAKE'));
  });

  it('sets and reads reserved bits at the bytes the BEPs name', () => {
    assert.deepEqual(makeReserved([RESERVED_EXTENSION]), hex('0000000000100000'));
    assert.deepEqual(makeReserved([RESERVED_FAST, RESERVED_DHT, RESERVED_V2]), hex('0000000000000015'));
    assert.deepEqual(makeReserved(), new Uint8Array(8));
    const r = makeReserved([RESERVED_FAST]);
    assert.ok(hasReserved(r, RESERVED_FAST));
    assert.ok(!hasReserved(r, RESERVED_DHT) && !hasReserved(r, RESERVED_EXTENSION) && !hasReserved(r, RESERVED_V2));
  });

  it('refuses fields of the wrong size', () => {
    assert.throws(() => encodeHandshake({ infoHash: new Uint8Array(32), peerId, reserved }), RangeError);
    assert.throws(() => encodeHandshake({ infoHash, peerId: new Uint8Array(19), reserved }), RangeError);
  });

  it('reads a handshake split across chunks, then the messages after it', () => {
    const d = new MessageDecoder();
    d.push(bytes.subarray(0, 10));
    assert.equal(d.readHandshake(), null);
    const rest = new Uint8Array([...bytes.subarray(10), ...hex('00000001 01 00000005 04 00000009')]);
    d.push(rest.subarray(0, 66));
    assert.deepEqual(d.readHandshake(), { infoHash, peerId, reserved });
    assert.deepEqual(d.next(), { type: 'unchoke' });
    d.push(rest.subarray(66));
    assert.deepEqual(d.next(), { type: 'have', index: 9 });
    assert.equal(d.next(), null);
  });

  it('rejects a wrong handshake at its first wrong byte', () => {
    const d = new MessageDecoder();
    d.push(latin1('GET / HTTP/1.1'));
    assert.throws(() => d.readHandshake(), isWireError('WIRE_HANDSHAKE'));
    const e = new MessageDecoder();
    e.push(bytes.subarray(0, 5));
    assert.equal(e.readHandshake(), null);
    e.push(latin1('x'));
    assert.throws(() => e.readHandshake(), isWireError('WIRE_HANDSHAKE'));
  });
});

describe('message vectors', () => {
  for (const [message, bytes] of VECTORS) {
    const label = message.type === 'extended' || message.type === 'unknown' ? `${message.type} ${message.id}` : message.type;
    it(`${label}: ${bytes}`, () => {
      assert.deepEqual(new Uint8Array(encodeMessage(message)), hex(bytes));
      assert.deepEqual(decodeAll(hex(bytes)), [message]);
    });
  }

  it('encodePieceHeader is the first 13 bytes of the piece message', () => {
    const block = new Uint8Array(100).fill(7);
    const full = encodeMessage({ type: 'piece', index: 9, begin: 16384, block });
    assert.deepEqual(encodePieceHeader(9, 16384, block.length), full.subarray(0, 13));
  });

  it('refuses to encode out-of-range fields', () => {
    assert.throws(() => encodeMessage({ type: 'have', index: -1 }), RangeError);
    assert.throws(() => encodeMessage({ type: 'have', index: 2 ** 32 }), RangeError);
    assert.throws(() => encodeMessage({ type: 'request', index: 0, begin: 1.5, length: 1 }), RangeError);
    assert.throws(() => encodeMessage({ type: 'port', port: 65536 }), RangeError);
    assert.throws(() => encodeMessage({ type: 'extended', id: 256, payload: new Uint8Array(0) }), RangeError);
    assert.throws(() => encodeMessage({ type: 'hash-request', piecesRoot: new Uint8Array(31), baseLayer: 0, index: 0, length: 2, proofLayers: 0 }), RangeError);
    assert.throws(() => encodeMessage({ type: 'hashes', piecesRoot: ROOT, baseLayer: 0, index: 0, length: 2, proofLayers: 0, hashes: new Uint8Array(33) }), RangeError);
    // An 'unknown' with a known id would decode as something else.
    assert.throws(() => encodeMessage({ type: 'unknown', id: 4, payload: new Uint8Array(4) }), RangeError);
  });
});

describe('MessageDecoder', () => {
  const stream = VECTORS.map(([, bytes]) => hex(bytes));
  const all = new Uint8Array(Buffer.concat(stream));
  const expected = VECTORS.map(([m]) => m);

  it('decodes many messages from one chunk', () => {
    assert.deepEqual(decodeAll(all), expected);
  });

  it('decodes a stream pushed one byte at a time', () => {
    const d = new MessageDecoder();
    const out: Message[] = [];
    for (const byte of all) {
      d.push(Uint8Array.of(byte));
      for (let m = d.next(); m !== null; m = d.next()) out.push(m);
    }
    assert.deepEqual(out, expected);
    assert.equal(d.bufferedBytes, 0);
  });

  it('decodes chunks pushed before any next()', () => {
    const d = new MessageDecoder();
    for (let i = 0; i < all.length; i += 7) d.push(all.subarray(i, i + 7));
    assert.deepEqual(decodeAll(new Uint8Array(0), d), expected);
  });

  it('returns a block within one chunk as a view of that chunk (zero-copy)', () => {
    const chunk = encodeMessage({ type: 'piece', index: 1, begin: 0, block: new Uint8Array(16384).fill(3) });
    const [m] = decodeAll(chunk);
    assert.ok(m?.type === 'piece');
    assert.equal(m.block.buffer, chunk.buffer);
    assert.equal(m.block.byteOffset, chunk.byteOffset + 13);
    assert.equal(Object.getPrototypeOf(m.block), Uint8Array.prototype, 'a plain Uint8Array, not a Buffer');
  });

  it('copies the bytes of a split message, so the caller may reuse its read buffer', () => {
    const msg = encodeMessage({ type: 'piece', index: 1, begin: 0, block: new Uint8Array(1000).fill(3) });
    const readBuffer = new Uint8Array(600);
    const d = new MessageDecoder();
    readBuffer.set(msg.subarray(0, 600));
    d.push(readBuffer);
    assert.equal(d.next(), null);
    readBuffer.fill(0xee); // the socket reads the next bytes into the same memory
    readBuffer.set(msg.subarray(600));
    d.push(readBuffer.subarray(0, msg.length - 600));
    const m = d.next();
    assert.ok(m?.type === 'piece');
    assert.deepEqual(m.block, new Uint8Array(1000).fill(3));
    assert.notEqual(m.block.buffer, readBuffer.buffer);
  });

  it('keeps a split length prefix across a reused buffer too', () => {
    const msg = encodeMessage({ type: 'have', index: 77 });
    const buf = new Uint8Array(3);
    const d = new MessageDecoder();
    buf.set(msg.subarray(0, 3));
    d.push(buf);
    assert.equal(d.next(), null);
    buf.fill(0xff);
    buf.set(msg.subarray(3, 6));
    d.push(buf);
    assert.equal(d.next(), null);
    buf.fill(0xff);
    d.push(msg.subarray(6));
    assert.deepEqual(d.next(), { type: 'have', index: 77 });
  });

  it('throws WIRE_TOO_LONG as soon as an oversized length prefix arrives', () => {
    const d = new MessageDecoder();
    d.push(hex('00 10 00'));
    assert.equal(d.next(), null);
    d.push(hex('0e'));
    assert.throws(() => d.next(), isWireError('WIRE_TOO_LONG'));
    assert.ok(DEFAULT_MAX_MESSAGE_LENGTH === 0x10000d);
    // Exactly the limit is accepted.
    const small = new MessageDecoder({ maxMessageLength: 5 });
    assert.deepEqual(decodeAll(hex('00000005 04 00000001'), small), [{ type: 'have', index: 1 }]);
    assert.throws(() => decodeAll(hex('00000006 05 0000000000'), new MessageDecoder({ maxMessageLength: 5 })), isWireError('WIRE_TOO_LONG'));
  });

  it('stays failed after an error', () => {
    const d = new MessageDecoder({ maxMessageLength: 10 });
    d.push(hex('ffffffff'));
    assert.throws(() => d.next(), isWireError('WIRE_TOO_LONG'));
    d.push(hex('00000001 00'));
    assert.throws(() => d.next(), isWireError('WIRE_TOO_LONG'));
  });

  for (const [what, bytes] of [
    ['choke with a payload', '00000002 00 00'],
    ['have with a 3-byte payload', '00000004 04 000001'],
    ['have with a 5-byte payload', '00000006 04 0000000100'],
    ['request with 11 bytes', '0000000c 06 00000001 00000000 000040'],
    ['cancel with 13 bytes', '0000000e 08 00000001 00000000 0000400000'],
    ['reject with 11 bytes', '0000000c 10 00000001 00000000 000040'],
    ['piece without a full header', '00000008 07 00000001 000000'],
    ['port with 1 byte', '00000002 09 1a'],
    ['suggest with 2 bytes', '00000003 0d 0001'],
    ['have-all with a payload', '00000002 0e 00'],
    ['allowed-fast with 0 bytes', '00000001 11'],
    ['extended without an id', '00000001 14'],
    ['hash-request of 47 bytes', `00000030 15 ${ROOT_HEX} 00000000 00000000 00000002 000000`],
    ['hash-reject of 49 bytes', `00000032 17 ${ROOT_HEX} 00000000 00000000 00000002 00000000 00`],
    ['hashes with a partial hash', `00000032 16 ${ROOT_HEX} 00000000 00000000 00000002 00000000 00`],
  ] as const) {
    it(`throws WIRE_MALFORMED for ${what}`, () => {
      assert.throws(() => decodeAll(hex(bytes)), isWireError('WIRE_MALFORMED'));
    });
  }

  it('returns unrecognised ids as unknown messages, not errors', () => {
    const ids = [10, 11, 12, 18, 19, 24, 100, 255];
    const bytes = new Uint8Array(Buffer.concat(ids.map((id) => hex(`00000003 ${id.toString(16).padStart(2, '0')} abcd`))));
    assert.deepEqual(
      decodeAll(bytes),
      ids.map((id) => ({ type: 'unknown', id, payload: hex('abcd') })),
    );
  });

  it('accepts an empty bitfield and an empty block', () => {
    assert.deepEqual(decodeAll(hex('00000001 05 00000009 07 00000000 00000000')), [
      { type: 'bitfield', bitfield: new Uint8Array(0) },
      { type: 'piece', index: 0, begin: 0, block: new Uint8Array(0) },
    ]);
  });
});

describe('extension handshake (BEP 10)', () => {
  it('decodes the BEP 10 example (with µT_PEX counted in UTF-8 bytes)', () => {
    const payload = Buffer.concat([latin1('d1:md11:LT_metadatai1e7:'), Buffer.from('µT_PEX'), latin1('i2ee1:pi6881e1:v13:'), Buffer.from('µTorrent 1.2'), latin1('e')]);
    assert.deepEqual(decodeExtHandshake(payload), { m: { LT_metadata: 1, 'µT_PEX': 2 }, p: 6881, v: 'µTorrent 1.2' });
    assert.deepEqual(encodeExtHandshake({ m: { LT_metadata: 1, 'µT_PEX': 2 }, p: 6881, v: 'µTorrent 1.2' }), payload);
  });

  it('encodes every field under its BEP name', () => {
    const bytes = encodeExtHandshake({
      m: { ut_metadata: 3, ut_pex: 0 },
      v: 'seedbank 0.1',
      p: 51413,
      reqq: 500,
      metadataSize: 31235,
      yourip: hex('7f000001'),
      ipv4: hex('0a000001'),
      ipv6: new Uint8Array(16),
    });
    const expected = `d4:ipv44:\n\0\0\x014:ipv616:${'\0'.repeat(16)}1:md11:ut_metadatai3e6:ut_pexi0ee13:metadata_sizei31235e1:pi51413e4:reqqi500e1:v12:seedbank 0.16:yourip4:\x7f\0\0\x01e`;
    assert.equal(bytes.toString('latin1'), expected);
  });

  it('ignores unknown keys, wrongly typed optional keys and bad m entries', () => {
    const payload = bencode(
      new Map<string, BEncodable>([
        ['e', 1],
        ['m', new Map<string, BEncodable>([['a', 1], ['b', 'x'], ['c', 256], ['d', -1], ['__proto__', 7]])],
        ['metadata_size', '12'],
        ['p', 70000],
        ['reqq', []],
        ['v', 5],
        ['yourip', 'abc'],
        ['ipv6', Buffer.alloc(4)],
      ]),
    );
    const h = decodeExtHandshake(payload);
    assert.deepEqual(Object.keys(h), ['m']);
    assert.equal(Object.getPrototypeOf(h.m), Object.prototype);
    assert.deepEqual(Object.entries(h.m), [['__proto__', 7], ['a', 1]]);
  });

  it('throws WireError for a payload that is not a bencoded dictionary', () => {
    for (const s of ['le', 'i1e', 'd1:m', 'x', '', 'de1']) {
      assert.throws(() => decodeExtHandshake(latin1(s)), isWireError('WIRE_EXTENSION'), s);
    }
  });
});

describe('ut_metadata (BEP 9)', () => {
  it('encodes and decodes the BEP 9 examples', () => {
    assert.equal(encodeMetadataMessage({ msgType: 0, piece: 0 }).toString('latin1'), 'd8:msg_typei0e5:piecei0ee');
    assert.equal(encodeMetadataMessage({ msgType: 2, piece: 0 }).toString('latin1'), 'd8:msg_typei2e5:piecei0ee');
    const data = latin1('d4:name1:xe');
    const bytes = encodeMetadataMessage({ msgType: 1, piece: 0, totalSize: 34256, data });
    assert.equal(Buffer.from(bytes).toString('latin1'), 'd8:msg_typei1e5:piecei0e10:total_sizei34256eed4:name1:xe');
    assert.deepEqual(decodeMetadataMessage(bytes), { msgType: 1, piece: 0, totalSize: 34256, data });
    assert.deepEqual(decodeMetadataMessage(latin1('d8:msg_typei0e5:piecei3ee')), { msgType: 0, piece: 3 });
  });

  it('returns the data as a view of the payload', () => {
    const payload = encodeMetadataMessage({ msgType: 1, piece: 2, totalSize: 40000, data: new Uint8Array(40000 - 2 * METADATA_PIECE_SIZE) });
    const m = decodeMetadataMessage(payload);
    assert.equal(m.data?.buffer, payload.buffer);
    assert.equal(m.data?.length, 40000 - 2 * METADATA_PIECE_SIZE);
  });

  it('keeps unknown message types for the caller to ignore', () => {
    assert.deepEqual(decodeMetadataMessage(latin1('d3:fooi1e8:msg_typei9e5:piecei1ee')), { msgType: 9, piece: 1 });
  });

  it('throws WireError for a malformed message', () => {
    for (const s of ['d8:msg_typei0ee', 'd5:piecei0ee', 'd8:msg_type1:05:piecei0ee', 'd8:msg_typei0e5:piecei-1ee', 'd8:msg_typei0e5:piece', 'le', '5:abcde', 'x', '']) {
      assert.throws(() => decodeMetadataMessage(latin1(s)), isWireError('WIRE_EXTENSION'), s);
    }
    const tooMuch = new Uint8Array([...latin1('d8:msg_typei1e5:piecei0e10:total_sizei99999ee'), ...new Uint8Array(METADATA_PIECE_SIZE + 1)]);
    assert.throws(() => decodeMetadataMessage(tooMuch), isWireError('WIRE_EXTENSION'));
  });
});

describe('ut_pex (BEP 11) and compact peers', () => {
  it('encodes IPv4 and IPv6 peers into their own fields', () => {
    const bytes = encodePex({
      added: [
        { host: '1.2.3.4', port: 6881, flags: PEX_SEED | PEX_REACHABLE },
        { host: '2001:db8::1', port: 443, flags: 1 },
        { host: '10.0.0.1', port: 1 },
      ],
      dropped: [{ host: '5.6.7.8', port: 80, flags: 2 }],
    });
    const expected =
      '5:added12:\x01\x02\x03\x04\x1a\xe1\x0a\x00\x00\x01\x00\x01' +
      '7:added.f2:\x12\x00' +
      '6:added618:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x01\xbb' +
      '8:added6.f1:\x01' +
      '7:dropped6:\x05\x06\x07\x08\x00\x50' +
      '8:dropped60:';
    assert.equal(bytes.toString('latin1'), `d${expected}e`);
    assert.deepEqual(decodePex(bytes), {
      added: [
        { host: '1.2.3.4', port: 6881, flags: 0x12 },
        { host: '10.0.0.1', port: 1, flags: 0 },
        { host: '2001:db8::1', port: 443, flags: 1 },
      ],
      dropped: [{ host: '5.6.7.8', port: 80 }],
    });
  });

  it('tolerates missing fields and flags of the wrong length', () => {
    assert.deepEqual(decodePex(latin1('d5:added6:\x01\x02\x03\x04\x00\x017:added.f2:\x01\x01e')), {
      added: [{ host: '1.2.3.4', port: 1 }],
      dropped: [],
    });
    assert.deepEqual(decodePex(latin1('d5:addedi5ee')), { added: [], dropped: [] });
  });

  it('throws WireError for a ragged peer list or a payload that is not a dictionary', () => {
    assert.throws(() => decodePex(latin1('d5:added5:\x01\x02\x03\x04\x00e')), isWireError('WIRE_MALFORMED'));
    assert.throws(() => decodePex(latin1('d8:dropped617:00000000000000000e')), isWireError('WIRE_MALFORMED'));
    assert.throws(() => decodePex(latin1('l5:addede')), isWireError('WIRE_EXTENSION'));
  });

  it('encodes and decodes compact peers, 6 and 18 bytes each', () => {
    const v4 = [
      { host: '127.0.0.1', port: 6881 },
      { host: '255.255.255.255', port: 65535 },
    ];
    const v4Bytes = hex('7f000001 1ae1 ffffffff ffff');
    assert.deepEqual(new Uint8Array(encodeCompactPeers(v4, 4)), v4Bytes);
    assert.deepEqual(decodeCompactPeers(v4Bytes, 4), v4);
    const v6 = [{ host: '::ffff:192.168.0.1', port: 1 }];
    const v6Bytes = hex('00000000000000000000ffffc0a80001 0001');
    assert.deepEqual(new Uint8Array(encodeCompactPeers(v6, 6)), v6Bytes);
    assert.deepEqual(decodeCompactPeers(v6Bytes, 6), v6);
    assert.throws(() => decodeCompactPeers(v4Bytes.subarray(1), 4), isWireError('WIRE_MALFORMED'));
    assert.throws(() => decodeCompactPeers(v4Bytes, 6), isWireError('WIRE_MALFORMED'));
    assert.throws(() => encodeCompactPeers(v6, 4), RangeError);
    assert.throws(() => encodeCompactPeers([{ host: '1.2.3.4', port: 70000 }], 4), RangeError);
  });

  it('formats IPv6 as Node prints socket addresses', () => {
    for (const [full, text] of [
      ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
      ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
      ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'],
      ['0001:0000:0000:0000:0000:0000:0000:0000', '1::'],
      ['0000:0000:0000:0000:0000:ffff:0102:0304', '::ffff:1.2.3.4'],
      ['0000:0000:0000:0000:0000:0000:0102:0304', '::1.2.3.4'],
      ['0000:0000:0000:0000:0000:fffe:0102:0304', '::fffe:102:304'],
      ['FE80:0000:0000:0000:ABCD:0000:0000:0000', 'fe80::abcd:0:0:0'],
    ]) {
      const bytes = parseIp(full!);
      assert.ok(bytes !== null, full);
      assert.equal(formatIp(bytes), text);
      assert.deepEqual(parseIp(text!), bytes);
    }
  });

  it('rejects text that is not an IP address', () => {
    for (const s of ['', '1.2.3', '1.2.3.4.5', '1.2.3.256', '01.2.3.4', '1.2.3.-4', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'fe80::1%eth0', '::1.2.3', 'g::', 'example.com']) {
      assert.equal(parseIp(s), null, s);
    }
  });
});
