/**
 * Property tests for the peer wire codec and extension payloads: round trips for every message
 * type, arbitrary chunking (including a reused read buffer), WireError as the only error on
 * arbitrary input, and compact peers / IPv6 text checked against Node's own formatting.
 */
import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type ExtHandshake,
  type MetadataMessage,
  type PeerAddress,
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
import { MESSAGE_ID, type Message, MessageDecoder, WireError, encodeMessage } from '../../src/codec/wire.js';

/** fc.record of ordinary objects (fast-check 4 makes null-prototype ones, which deepEqual tells apart). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = fc.uint8Array({ maxLength: 80 });
const root = fc.uint8Array({ minLength: 32, maxLength: 32 });
const KNOWN_IDS = new Set<number>(Object.values(MESSAGE_ID));

const hashRange = rec({ piecesRoot: root, baseLayer: u32, index: u32, length: u32, proofLayers: u32 });

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.constantFrom<Message>(
    { type: 'keep-alive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'not-interested' },
    { type: 'have-all' },
    { type: 'have-none' },
  ),
  rec({ type: fc.constantFrom('have', 'suggest', 'allowed-fast'), index: u32 }),
  rec({ type: fc.constant('bitfield'), bitfield: bytes }),
  rec({ type: fc.constantFrom('request', 'cancel', 'reject'), index: u32, begin: u32, length: u32 }),
  rec({ type: fc.constant('piece'), index: u32, begin: u32, block: fc.uint8Array({ maxLength: 300 }) }),
  rec({ type: fc.constant('port'), port: fc.integer({ min: 0, max: 0xffff }) }),
  rec({ type: fc.constant('extended'), id: fc.integer({ min: 0, max: 255 }), payload: bytes }),
  fc.tuple(fc.constantFrom('hash-request', 'hash-reject'), hashRange).map(([type, r]) => ({ type, ...r })),
  fc
    .tuple(hashRange, fc.integer({ min: 0, max: 6 }).chain((n) => fc.uint8Array({ minLength: 32 * n, maxLength: 32 * n })))
    .map(([r, hashes]) => ({ type: 'hashes' as const, ...r, hashes })),
  rec({
    type: fc.constant('unknown'),
    id: fc.integer({ min: 0, max: 255 }).filter((id) => !KNOWN_IDS.has(id)),
    payload: bytes,
  }),
);

/** Cut points into a stream of `length` bytes, as sorted chunk boundaries. */
function chunksOf(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % stream.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, stream.length]) {
    if (p > prev) out.push(stream.subarray(prev, p));
    prev = p;
  }
  return out;
}

function drain(d: MessageDecoder, into: Message[]): void {
  for (let m = d.next(); m !== null; m = d.next()) into.push(m);
}

/** A message whose byte fields are copies, as a caller that keeps it past the next read makes. */
function own(m: Message): Message {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) out[k] = v instanceof Uint8Array ? v.slice() : v;
  return out as Message;
}

const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe('wire message properties', () => {
  it('decode(encode(m)) equals m for every message type', () => {
    fc.assert(
      fc.property(message, (m) => {
        const d = new MessageDecoder();
        d.push(encodeMessage(m));
        assert.deepEqual(d.next(), m);
        assert.equal(d.next(), null);
        assert.equal(d.bufferedBytes, 0);
      }),
      { numRuns: 500 },
    );
  });

  it('any chunking of a stream yields the same messages', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 25 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
        const stream = concat(messages.map(encodeMessage));
        const chunks = chunksOf(stream, cuts);

        // Drained after every push.
        const eager: Message[] = [];
        const a = new MessageDecoder();
        for (const c of chunks) {
          a.push(c);
          drain(a, eager);
        }
        assert.deepEqual(eager, messages);
        assert.equal(a.bufferedBytes, 0);

        // Everything pushed first, then drained.
        const lazy: Message[] = [];
        const b = new MessageDecoder();
        for (const c of chunks) b.push(c);
        drain(b, lazy);
        assert.deepEqual(lazy, messages);

        // One read buffer reused for every chunk and scribbled over after each drain.
        const reused: Message[] = [];
        const readBuffer = new Uint8Array(Math.max(1, ...chunks.map((c) => c.length)));
        const d = new MessageDecoder();
        for (const c of chunks) {
          readBuffer.set(c);
          d.push(readBuffer.subarray(0, c.length));
          for (let m = d.next(); m !== null; m = d.next()) reused.push(own(m));
          readBuffer.fill(0xa5);
        }
        assert.deepEqual(reused, messages);
      }),
      { numRuns: 300 },
    );
  });

  it('messages larger than the initial split buffer survive any chunking', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64 * 1024 - 64, max: 300 * 1024 }),
        fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 10 }),
        (size, sizes) => {
          const bitfield = new Uint8Array(size).map((_, i) => i * 7);
          const stream = concat([encodeMessage({ type: 'bitfield', bitfield }), encodeMessage({ type: 'have', index: 1 })]);
          const d = new MessageDecoder();
          const out: Message[] = [];
          for (let at = 0, i = 0; at < stream.length; i++) {
            const n = sizes[i % sizes.length]!;
            d.push(stream.subarray(at, at + n));
            drain(d, out);
            at += n;
          }
          assert.deepEqual(out, [
            { type: 'bitfield', bitfield },
            { type: 'have', index: 1 },
          ]);
        },
      ),
      { numRuns: 15 },
    );
  });

  // Frames with a correct length prefix and a known id, but a payload of any length: most
  // fixed-size messages come out malformed, the rest decode.
  const frame = fc
    .tuple(fc.constantFrom(...KNOWN_IDS, 30), fc.uint8Array({ maxLength: 60 }))
    .map(([id, payload]) => concat([Buffer.from([0, 0, 0, payload.length + 1, id]), payload]));
  const noise = fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.array(frame, { maxLength: 6 }).map(concat));

  it('arbitrary bytes decode or throw WireError, and what decodes re-encodes to the same bytes', () => {
    let decoded = 0;
    let rejected = 0;
    fc.assert(
      fc.property(noise, fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 0, max: 200 }), (stream, cuts, max) => {
        const d = new MessageDecoder({ maxMessageLength: max });
        const out: Message[] = [];
        try {
          for (const c of chunksOf(stream, cuts)) {
            d.push(c);
            drain(d, out);
          }
        } catch (e) {
          assert.ok(e instanceof WireError, `unexpected ${String(e)}`);
          assert.ok(['WIRE_TOO_LONG', 'WIRE_MALFORMED'].includes(e.code), e.code);
          rejected++;
          return;
        }
        decoded += out.length;
        const consumed = stream.subarray(0, stream.length - d.bufferedBytes);
        assert.deepEqual(concat(out.map(encodeMessage)), consumed);
      }),
      { numRuns: 500 },
    );
    assert.ok(decoded > 0 && rejected > 0, `decoded ${decoded} messages, rejected ${rejected} streams`);
  });

  it('readHandshake on arbitrary bytes returns a handshake, null or WireError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (input) => {
        const d = new MessageDecoder();
        d.push(input);
        try {
          const h = d.readHandshake();
          assert.ok(h === null || (h.infoHash.length === 20 && h.peerId.length === 20 && h.reserved.length === 8));
        } catch (e) {
          assert.ok(e instanceof WireError && e.code === 'WIRE_HANDSHAKE', `unexpected ${String(e)}`);
        }
      }),
      { numRuns: 200 },
    );
  });
});

/** Any Unicode scalar value (no lone surrogates), which survives a UTF-8 round trip. */
const codePoint = fc
  .oneof(fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff }))
  .map((c) => String.fromCodePoint(c));
const text = (maxLength: number) => fc.string({ unit: codePoint, maxLength });
const nonNegative = fc.maxSafeNat();

const v4Bytes = fc.uint8Array({ minLength: 4, maxLength: 4 });
// IPv6 addresses with many zero groups too, so that "::" and the IPv4 forms come up.
const v6Bytes = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((words) => new Uint8Array(words.flatMap((w) => [w >> 8, w & 0xff])));
const port = fc.integer({ min: 0, max: 0xffff });
const peer4 = rec({ host: v4Bytes.map(formatIp), port });
const peer6 = rec({ host: v6Bytes.map(formatIp), port });
const flagged = (p: fc.Arbitrary<PeerAddress>) => fc.tuple(p, fc.integer({ min: 0, max: 255 })).map(([a, flags]) => ({ ...a, flags }));

const isWireError = (e: unknown) => e instanceof WireError;

describe('extension payload properties', () => {
  it('extension handshakes round-trip', () => {
    const handshake: fc.Arbitrary<ExtHandshake> = fc.record(
      {
        m: fc.uniqueArray(fc.tuple(text(12), fc.integer({ min: 0, max: 255 })), { selector: ([k]) => k, maxLength: 6 }).map((e) => Object.fromEntries(e)),
        v: text(20),
        p: port,
        reqq: nonNegative,
        metadataSize: nonNegative,
        yourip: fc.oneof(v4Bytes, fc.uint8Array({ minLength: 16, maxLength: 16 })),
        ipv4: v4Bytes,
        ipv6: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      },
      { requiredKeys: ['m'], noNullPrototype: true },
    );
    fc.assert(
      fc.property(handshake, (h) => {
        assert.deepEqual(decodeExtHandshake(encodeExtHandshake(h)), h);
      }),
      { numRuns: 300 },
    );
  });

  it('ut_metadata messages round-trip, data included', () => {
    const msg: fc.Arbitrary<MetadataMessage> = fc.oneof(
      rec({ msgType: fc.constantFrom(0, 2), piece: nonNegative }),
      rec({ msgType: fc.constant(1), piece: nonNegative, totalSize: nonNegative, data: fc.uint8Array({ maxLength: 300 }) }),
      fc
        .record({ msgType: nonNegative, piece: nonNegative, totalSize: nonNegative, data: fc.uint8Array({ minLength: 1, maxLength: 30 }) }, { requiredKeys: ['msgType', 'piece'], noNullPrototype: true })
        // a data message (1) always has both; that case is the second arbitrary's
        .filter((m) => m.msgType !== 1 || (m.totalSize !== undefined && m.data !== undefined)),
    );
    fc.assert(
      fc.property(msg, (m) => {
        assert.deepEqual(decodeMetadataMessage(encodeMetadataMessage(m)), m);
      }),
      { numRuns: 300 },
    );
  });

  it('ut_pex messages round-trip, IPv4 peers before IPv6', () => {
    fc.assert(
      fc.property(
        fc.array(flagged(peer4), { maxLength: 8 }),
        fc.array(flagged(peer6), { maxLength: 8 }),
        fc.array(peer4, { maxLength: 8 }),
        fc.array(peer6, { maxLength: 8 }),
        (added4, added6, dropped4, dropped6) => {
          const payload = encodePex({ added: [...added6, ...added4], dropped: [...dropped6, ...dropped4] });
          assert.deepEqual(decodePex(payload), { added: [...added4, ...added6], dropped: [...dropped4, ...dropped6] });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('extension decoders return a value or throw WireError on arbitrary bytes', () => {
    const bencodeish = fc
      .string({ unit: fc.constantFrom(...'ildee0123456789:-mpv'.split('')), maxLength: 60 })
      .map((s) => new Uint8Array(Buffer.from(s, 'latin1')));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), bencodeish), (input) => {
        for (const decode of [decodeExtHandshake, decodeMetadataMessage, decodePex]) {
          try {
            decode(input);
          } catch (e) {
            assert.ok(isWireError(e), `${decode.name}: unexpected ${String(e)}`);
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('compact peer properties', () => {
  for (const family of [4, 6] as const) {
    const stride = family === 4 ? 6 : 18;
    it(`IPv${family}: decode(encode(peers)) equals peers, and encode(decode(bytes)) equals bytes`, () => {
      fc.assert(
        fc.property(fc.array(family === 4 ? peer4 : peer6, { maxLength: 10 }), (peers) => {
          assert.deepEqual(decodeCompactPeers(encodeCompactPeers(peers, family), family), peers);
        }),
        { numRuns: 200 },
      );
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 10 }).chain((n) => fc.uint8Array({ minLength: n * stride, maxLength: n * stride })), (buf) => {
          assert.deepEqual(new Uint8Array(encodeCompactPeers(decodeCompactPeers(buf, family), family)), buf);
        }),
        { numRuns: 200 },
      );
    });
  }

  it('a length that is not a whole number of peers throws WireError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.constantFrom(4 as const, 6 as const), (buf, family) => {
        const stride = family === 4 ? 6 : 18;
        if (buf.length % stride === 0) assert.equal(decodeCompactPeers(buf, family).length, buf.length / stride);
        else assert.throws(() => decodeCompactPeers(buf, family), isWireError);
      }),
      { numRuns: 200 },
    );
  });

  it('IPv6 text matches Node and parses back from any spelling', () => {
    fc.assert(
      fc.property(v6Bytes, fc.boolean(), (b, upper) => {
        const words = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16).padStart(4, '0'));
        const full = words.join(':');
        const text = formatIp(b);
        assert.equal(text, new SocketAddress({ address: full, family: 'ipv6' }).address);
        assert.deepEqual(parseIp(text), b);
        assert.deepEqual(parseIp(upper ? full.toUpperCase() : full), b);
      }),
      { numRuns: 300 },
    );
  });
});
