import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { bencode } from '../../src/codec/bencode.js';
import { generateKeys, immutableTarget, mutableTarget, signMutable } from '../../src/codec/bep44.js';
import { KRPC_ERROR, type KrpcQuery, type KrpcResponse, decodeKrpc, encodeKrpc } from '../../src/codec/krpc.js';
import { answerQuery, type Answer, type HandlerState } from '../../src/dht/handlers.js';
import { ItemStore } from '../../src/dht/item-store.js';
import { PeerStore } from '../../src/dht/peer-store.js';
import { RoutingTable } from '../../src/dht/routing-table.js';
import { TokenSecrets } from '../../src/dht/tokens.js';
import { seededRandom } from '../../src/sim/clock.js';

function setup() {
  let t = 1_000_000;
  const now = () => t;
  const random = seededRandom(3);
  const selfId = new Uint8Array(20).fill(0x80);
  const s: HandlerState = {
    selfId,
    table: new RoutingTable(selfId, { now, random }),
    tokens: new TokenSecrets({ now, randomBytes: (n) => randomBytes(n) }),
    peers: new PeerStore({ now, random }),
    items: new ItemStore({ now }),
  };
  for (let i = 0; i < 40; i++) s.table.add({ id: randomBytes(20), host: `10.0.0.${i + 1}`, port: 6881 }, 'responded');
  return { s, advance: (ms: number) => (t += ms) };
}

const from = { host: '127.0.0.5', port: 7000 };
const q = (fields: Record<string, unknown>) => ({ kind: 'query', t: Buffer.from('aa'), id: randomBytes(20), ...fields }) as unknown as KrpcQuery;
const ok = (a: Answer): KrpcResponse => {
  assert.equal(a.kind, 'response', JSON.stringify(a));
  // Every answer must fit in one KRPC packet and survive the codec.
  decodeKrpc(encodeKrpc({ ...a, t: Buffer.from('aa') }));
  return a as KrpcResponse;
};
const errorCode = (a: Answer) => (a.kind === 'error' ? a.code : null);

describe('DHT query handlers', () => {
  it('ping and find_node answer with our id and the K closest nodes we know', () => {
    const { s } = setup();
    assert.deepEqual(ok(answerQuery(s, q({ method: 'ping' }), from)).id, s.selfId);
    const target = randomBytes(20);
    const r = ok(answerQuery(s, q({ method: 'find_node', target }), from));
    const expected = s.table.closest(target, 8).map((n) => n.host);
    assert.deepEqual(r.nodes!.map((n) => n.host), expected);
    assert.equal(r.nodes6, undefined);
    const both = ok(answerQuery(s, q({ method: 'find_node', target, want: ['n4', 'n6'] }), from));
    assert.deepEqual(both.nodes6, []);
  });

  it('announce_peer needs a token from get_peers for the same IP; then get_peers returns the peer', () => {
    const { s } = setup();
    const infoHash = randomBytes(20);
    const first = ok(answerQuery(s, q({ method: 'get_peers', infoHash }), from));
    assert.equal(first.values, undefined);
    assert.ok(first.nodes!.length > 0 && first.token);
    assert.equal(errorCode(answerQuery(s, q({ method: 'announce_peer', infoHash, port: 6000, token: Buffer.from('nope') }), from)), KRPC_ERROR.PROTOCOL);
    const stolen = ok(answerQuery(s, q({ method: 'get_peers', infoHash }), { host: '127.0.0.9', port: 1 })).token!;
    assert.equal(errorCode(answerQuery(s, q({ method: 'announce_peer', infoHash, port: 6000, token: stolen }), from)), KRPC_ERROR.PROTOCOL, 'a token is bound to the IP it was given to');
    ok(answerQuery(s, q({ method: 'announce_peer', infoHash, port: 6000, token: first.token }), from));
    ok(answerQuery(s, q({ method: 'announce_peer', infoHash, port: 1, impliedPort: true, token: first.token }), from));
    const again = ok(answerQuery(s, q({ method: 'get_peers', infoHash }), { host: '127.0.0.6', port: 1 }));
    assert.deepEqual(new Set(again.values!.map((p) => `${p.host}:${p.port}`)), new Set(['127.0.0.5:6000', '127.0.0.5:7000']));
  });

  it('BEP 44: immutable and mutable items are stored, returned, and bad puts refused with their codes', () => {
    const { s } = setup();
    const token = ok(answerQuery(s, q({ method: 'get', target: randomBytes(20) }), from)).token!;
    const v = bencode(Buffer.from('Hello World!'));
    ok(answerQuery(s, q({ method: 'put', token, value: v }), from));
    assert.deepEqual(Buffer.from(ok(answerQuery(s, q({ method: 'get', target: immutableTarget(v) }), from)).value!), Buffer.from(v));

    const keys = generateKeys();
    const salt = Buffer.from('dataset');
    const put = (seq: number, value: Uint8Array, sig = signMutable(keys, { salt, seq, vBencoded: value })) => answerQuery(s, q({ method: 'put', token, value, k: keys.publicKey, sig, seq, salt }), from);
    const v1 = bencode(new Map([['ih', Buffer.alloc(20, 1)]]));
    const v2 = bencode(new Map([['ih', Buffer.alloc(20, 2)]]));
    ok(put(1, v1));
    const target = mutableTarget(keys.publicKey, salt);
    const got = ok(answerQuery(s, q({ method: 'get', target }), from));
    assert.equal(got.seq, 1);
    assert.deepEqual(Buffer.from(got.value!), Buffer.from(v1));
    assert.deepEqual(Buffer.from(got.k!), keys.publicKey);
    // A querier that has seq 1 already gets no value.
    assert.equal(ok(answerQuery(s, q({ method: 'get', target, seq: 1 }), from)).value, undefined);
    assert.equal(errorCode(put(2, v2, Buffer.alloc(64))), KRPC_ERROR.INVALID_SIGNATURE, 'forged signature');
    ok(put(2, v2));
    assert.equal(errorCode(put(1, v1)), KRPC_ERROR.SEQ_TOO_LOW, 'older version');
    assert.deepEqual(Buffer.from(ok(answerQuery(s, q({ method: 'get', target }), from)).value!), Buffer.from(v2));
    assert.equal(errorCode(answerQuery(s, q({ method: 'put', token: Buffer.from('bad'), value: v }), from)), KRPC_ERROR.PROTOCOL);
  });

  it('unknown methods get error 204', () => {
    const { s } = setup();
    assert.equal(errorCode(answerQuery(s, q({ method: 'vote', args: new Map() }), from)), KRPC_ERROR.METHOD_UNKNOWN);
  });
});
