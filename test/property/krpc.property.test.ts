/**
 * Property tests for the KRPC codec: round trips for every message kind, KrpcDecodeError as the
 * only error on arbitrary and on mutated packets, and decode(encode(decode(x))) equal to decode(x).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type BValue, bdecodeWithSpans, bencode } from '../../src/codec/bencode.js';
import { formatIp } from '../../src/codec/extensions.js';
import {
  type Endpoint,
  type KrpcMessage,
  type NodeInfo,
  KrpcDecodeError,
  MAX_PACKET,
  decodeKrpc,
  decodeNodes,
  encodeKrpc,
  encodeNodes,
} from '../../src/codec/krpc.js';

/** fc.record of ordinary objects (fast-check 4 makes null-prototype ones, which deepEqual tells apart). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

/** A message from field arbitraries, of which only `required` are always present. */
function messageOf(model: Record<string, fc.Arbitrary<unknown>>, required: string[]): fc.Arbitrary<KrpcMessage> {
  return fc.record(model, { requiredKeys: required, noNullPrototype: true }).map((o) => o as unknown as KrpcMessage);
}

const fixedBytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const id = fixedBytes(20);
const token = fc.uint8Array({ maxLength: 20 });
const safeNat = fc.maxSafeNat();
const port = fc.integer({ min: 0, max: 0xffff });
/** Any Unicode scalar value (no lone surrogates), which survives a UTF-8 round trip. */
const text = (maxLength: number) =>
  fc.string({ unit: fc.oneof(fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff })).map((c) => String.fromCodePoint(c)), maxLength });

// IPv6 addresses with many zero groups too, so that "::" and the IPv4-mapped forms come up.
const v6Bytes = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((words) => new Uint8Array(words.flatMap((w) => [w >> 8, w & 0xff])));
const endpoint4 = rec<Endpoint>({ host: fixedBytes(4).map(formatIp), port });
const endpoint6 = rec<Endpoint>({ host: v6Bytes.map(formatIp), port });
const endpoint = fc.oneof(endpoint4, endpoint6);
const node = (e: fc.Arbitrary<Endpoint>): fc.Arbitrary<NodeInfo> => fc.tuple(id, e).map(([i, a]) => ({ id: i, ...a }));

/** Any bencoded value, small, with binary (latin1) dictionary keys. */
const bvalue: fc.Arbitrary<BValue> = fc.letrec<{ v: BValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.uint8Array({ maxLength: 12 }),
    fc.integer(),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.array(fc.tuple(fc.uint8Array({ maxLength: 4 }).map((b) => Buffer.from(b).toString('latin1')), tie('v')), { maxLength: 4 }).map((e) => new Map(e)),
  ),
})).v;
const rawValue = bvalue.map((v) => new Uint8Array(bencode(v))).filter((b) => b.length <= 300);

const envelope = {
  t: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  v: fc.uint8Array({ maxLength: 8 }),
  ip: endpoint,
};
const want = fc.array(fc.constantFrom('n4' as const, 'n6' as const), { maxLength: 3 });
const KNOWN = ['ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put'];

/** A query of `method` with extra fields; envelope keys, `ro` and `optional` ones may be left out. */
function query(method: string, fields: Record<string, fc.Arbitrary<unknown>>, optional: string[] = []): fc.Arbitrary<KrpcMessage> {
  const model = { ...envelope, kind: fc.constant('query'), method: fc.constant(method), id, ro: fc.constant(true), ...fields };
  return messageOf(model, Object.keys(model).filter((k) => !['v', 'ip', 'ro', ...optional].includes(k)));
}

const mutable = fc.record(
  { k: fixedBytes(32), sig: fixedBytes(64), seq: safeNat, cas: safeNat, salt: fc.uint8Array({ maxLength: 64 }) },
  { requiredKeys: ['k', 'sig', 'seq'], noNullPrototype: true },
);

const unknownQuery = fc
  .tuple(
    query('', {}),
    text(12).filter((m) => !KNOWN.includes(m)),
    fc.array(fc.tuple(fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b).toString('latin1')), bvalue), { maxLength: 4 }),
  )
  .map(([q, method, args]): KrpcMessage => {
    assert.ok(q.kind === 'query');
    // `args` is all of `a`, id included.
    return { ...q, method, args: new Map([...args, ['id', q.id]]) };
  });

const message: fc.Arbitrary<KrpcMessage> = fc.oneof(
  query('ping', {}),
  query('find_node', { target: id, want }, ['want']),
  query('get_peers', { infoHash: id, want }, ['want']),
  query('announce_peer', { infoHash: id, port, token, impliedPort: fc.boolean() }, ['impliedPort']),
  query('get', { target: id, seq: safeNat }, ['seq']),
  query('put', { token, value: rawValue }),
  fc.tuple(query('put', { token, value: rawValue }), mutable).map(([q, m]) => ({ ...q, ...m }) as KrpcMessage),
  unknownQuery,
  messageOf(
    {
      ...envelope,
      kind: fc.constant('response'),
      id,
      nodes: fc.array(node(endpoint4), { maxLength: 8 }),
      nodes6: fc.array(node(endpoint6), { maxLength: 6 }),
      values: fc.array(endpoint, { maxLength: 10 }),
      token,
      value: rawValue,
      k: fixedBytes(32),
      sig: fixedBytes(64),
      seq: safeNat,
    },
    ['kind', 't', 'id'],
  ),
  messageOf({ ...envelope, kind: fc.constant('error'), code: fc.integer(), message: text(40) }, ['kind', 't', 'code', 'message']),
);

const isDecodeError = (e: unknown) => e instanceof KrpcDecodeError && (e.code === 'KRPC_MALFORMED' || e.code === 'KRPC_TOO_LARGE');

/** decodeKrpc, with any throw other than KrpcDecodeError failing the property. */
function tryDecode(bytes: Uint8Array): KrpcMessage | null {
  try {
    return decodeKrpc(bytes);
  } catch (e) {
    assert.ok(isDecodeError(e), `unexpected ${String(e)}`);
    return null;
  }
}

// A valid packet with some bytes overwritten by bencode's own characters, cut short or lengthened:
// most come out malformed, and many decode to a different but valid message.
const mutated = fc
  .tuple(
    message,
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...'0123456789:deil-xyqrt'.split('').map((c) => c.charCodeAt(0)), 0, 0xff)), { maxLength: 3 }),
    fc.oneof(fc.constant(0), fc.nat({ max: 40 })),
  )
  .map(([m, edits, cut]) => {
    const b = new Uint8Array(encodeKrpc(m));
    for (const [at, byte] of edits) b[at % b.length] = byte;
    return b.subarray(0, b.length - Math.min(cut, b.length));
  });

describe('KRPC properties', () => {
  it('decode(encode(m)) equals m for every message kind', () => {
    fc.assert(
      fc.property(message, (m) => {
        const packet = encodeKrpc(m);
        assert.ok(packet.length <= MAX_PACKET);
        assert.deepEqual(decodeKrpc(packet), m);
      }),
      { numRuns: 200 },
    );
  });

  it('the order of the top-level keys does not matter (not every DHT client sorts them)', () => {
    fc.assert(
      fc.property(message, fc.integer(), (m, seed) => {
        const packet = encodeKrpc(m);
        const { topLevelSpans } = bdecodeWithSpans(packet);
        // Reassemble the same key/value bytes in a shuffled order.
        const keys = [...topLevelSpans.keys()];
        const order = keys.map((k, i) => [k, (Math.imul(i + 1, 2654435761) ^ seed) >>> 0] as const).sort((a, b) => a[1] - b[1]).map(([k]) => k);
        const parts = order.map((k) => Buffer.concat([Buffer.from(`${Buffer.byteLength(k, 'latin1')}:${k}`, 'latin1'), packet.subarray(...topLevelSpans.get(k)!)]));
        const shuffled = Buffer.concat([Buffer.from('d'), ...parts, Buffer.from('e')]);
        assert.deepEqual(decodeKrpc(shuffled), m);
      }),
      { numRuns: 200 },
    );
  });

  it('decodeKrpc on arbitrary or mutated bytes returns a message or throws KrpcDecodeError', () => {
    let decoded = 0;
    let rejected = 0;
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated), (bytes) => {
        if (tryDecode(bytes) === null) rejected++;
        else decoded++;
      }),
      { numRuns: 200 },
    );
    assert.ok(decoded > 0 && rejected > 0, `decoded ${decoded}, rejected ${rejected}`);
  });

  it('decode(encode(decode(x))) equals decode(x) for whatever decodes', () => {
    fc.assert(
      fc.property(mutated, (bytes) => {
        const m = tryDecode(bytes);
        if (m !== null) assert.deepEqual(decodeKrpc(encodeKrpc(m)), m);
      }),
      { numRuns: 200 },
    );
  });
});

describe('compact node info properties', () => {
  for (const family of [4, 6] as const) {
    const stride = family === 4 ? 26 : 38;
    it(`IPv${family}: decode(encode(nodes)) equals nodes, and other lengths are rejected`, () => {
      fc.assert(
        fc.property(fc.array(node(family === 4 ? endpoint4 : endpoint6), { maxLength: 10 }), (nodes) => {
          const bytes = encodeNodes(nodes, family);
          assert.equal(bytes.length, nodes.length * stride);
          assert.deepEqual(decodeNodes(bytes, family), nodes);
        }),
        { numRuns: 100 },
      );
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 4 * stride }), (buf) => {
          if (buf.length % stride === 0) assert.equal(decodeNodes(buf, family).length, buf.length / stride);
          else assert.throws(() => decodeNodes(buf, family), isDecodeError);
        }),
        { numRuns: 100 },
      );
    });
  }
});
