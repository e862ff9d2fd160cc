/**
 * KRPC codec: the example packets of BEP 5 byte for byte, BEP 32/42/43/44 shapes, and hostile
 * packets (truncated, oversize, wrong types and sizes), each rejected with KrpcDecodeError.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bdecode, bencode } from '../../src/codec/bencode.js';
import {
  KRPC_ERROR,
  type KrpcMessage,
  KrpcDecodeError,
  MAX_PACKET,
  decodeKrpc,
  decodeNodes,
  encodeKrpc,
  encodeNodes,
  isUnknownQuery,
} from '../../src/codec/krpc.js';

const latin1 = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const AA = latin1('aa');
const ID_A = latin1('abcdefghij0123456789');
const ID_M = latin1('mnopqrstuvwxyz123456');

/** A KrpcDecodeError of `code`, with a one-line message and, for queries, what to answer. */
const isDecodeError =
  (code: 'KRPC_MALFORMED' | 'KRPC_TOO_LARGE' = 'KRPC_MALFORMED', reply?: number) =>
  (e: unknown) =>
    e instanceof KrpcDecodeError &&
    e.code === code &&
    !e.message.includes('\n') &&
    (reply === undefined ? e.reply === undefined : e.reply?.code === reply && Buffer.from(e.reply.t).equals(AA));

/** Both directions: the packet decodes to the message, and the message encodes to the packet. */
function vector(packet: string, message: KrpcMessage): void {
  assert.deepEqual(decodeKrpc(latin1(packet)), message);
  assert.equal(encodeKrpc(message).toString('latin1'), packet);
}

// A node of id 'N' x 20 at 1.2.3.4:6881, and one at [2001:db8::1]:6882.
const NODE4 = { id: new Uint8Array(20).fill(0x4e), host: '1.2.3.4', port: 6881 };
const NODE4_BYTES = `${'N'.repeat(20)}\x01\x02\x03\x04\x1a\xe1`;
const NODE6 = { id: new Uint8Array(20).fill(0x36), host: '2001:db8::1', port: 6882 };
const NODE6_BYTES = `${'6'.repeat(20)}\x20\x01\x0d\xb8${'\0'.repeat(11)}\x01\x1a\xe2`;

describe('BEP 5 example packets', () => {
  it('ping query and response', () => {
    vector('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe', { kind: 'query', method: 'ping', t: AA, id: ID_A });
    vector('d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re', { kind: 'response', t: AA, id: ID_M });
  });

  it('error', () => {
    vector('d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee', { kind: 'error', t: AA, code: KRPC_ERROR.GENERIC, message: 'A Generic Error Ocurred' });
  });

  it('find_node query and a response with nodes', () => {
    vector('d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe', {
      kind: 'query',
      method: 'find_node',
      t: AA,
      id: ID_A,
      target: ID_M,
    });
    vector(`d1:rd2:id20:0123456789abcdefghij5:nodes52:${NODE4_BYTES}${NODE4_BYTES}e1:t2:aa1:y1:re`, {
      kind: 'response',
      t: AA,
      id: latin1('0123456789abcdefghij'),
      nodes: [NODE4, NODE4],
    });
  });

  it('get_peers query, and responses with values and with nodes', () => {
    vector('d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe', {
      kind: 'query',
      method: 'get_peers',
      t: AA,
      id: ID_A,
      infoHash: ID_M,
    });
    // "axje.u" is 97.120.106.101 port 0x2e75; "idhtnm" is 105.100.104.116 port 0x6e6d.
    vector('d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re', {
      kind: 'response',
      t: AA,
      id: ID_A,
      token: latin1('aoeusnth'),
      values: [
        { host: '97.120.106.101', port: 0x2e75 },
        { host: '105.100.104.116', port: 0x6e6d },
      ],
    });
    vector(`d1:rd2:id20:abcdefghij01234567895:nodes26:${NODE4_BYTES}5:token8:aoeusnthe1:t2:aa1:y1:re`, {
      kind: 'response',
      t: AA,
      id: ID_A,
      nodes: [NODE4],
      token: latin1('aoeusnth'),
    });
  });

  it("rejects BEP 5's literal placeholder nodes ('def456...', 9 bytes)", () => {
    assert.throws(() => decodeKrpc(latin1('d1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re')), isDecodeError());
  });

  it('announce_peer with implied_port, and with it off', () => {
    const packet = (implied: number) =>
      `d1:ad2:id20:abcdefghij012345678912:implied_porti${implied}e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe`;
    const query = { kind: 'query', method: 'announce_peer', t: AA, id: ID_A, infoHash: ID_M, port: 6881, token: latin1('aoeusnth') } as const;
    vector(packet(1), { ...query, impliedPort: true });
    vector(packet(0), { ...query, impliedPort: false });
    vector('d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe', query);
  });
});

describe('BEP 32, 42 and 43 keys', () => {
  it('want, nodes6, ip, ro and the client version', () => {
    vector('d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n42:n6ee1:q9:find_node2:roi1e1:t2:aa1:y1:qe', {
      kind: 'query',
      method: 'find_node',
      t: AA,
      id: ID_A,
      target: ID_M,
      want: ['n4', 'n6'],
      ro: true,
    });
    vector(`d2:ip6:\x0a\x00\x00\x01\x1a\xe11:rd2:id20:abcdefghij01234567896:nodes638:${NODE6_BYTES}e1:t2:aa1:v4:LT\x01\x021:y1:re`, {
      kind: 'response',
      t: AA,
      v: latin1('LT\x01\x02'),
      ip: { host: '10.0.0.1', port: 6881 },
      id: ID_A,
      nodes6: [NODE6],
    });
  });

  it('drops want families it does not know, and ignores advisory keys of the wrong shape', () => {
    const m = decodeKrpc(latin1('d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n52:n6ee1:q9:find_node1:t2:aa1:y1:qe'));
    assert.ok(m.kind === 'query' && !isUnknownQuery(m) && m.method === 'find_node');
    assert.deepEqual(m.want, ['n6']);
    // ip of 5 bytes, ro of 2, a 65-byte version: a node should not drop a good packet over them.
    const odd = decodeKrpc(latin1(`d2:ip5:abcde1:rd2:id20:abcdefghij0123456789e2:roi2e1:t2:aa1:v65:${'x'.repeat(65)}1:y1:re`));
    assert.deepEqual(odd, { kind: 'response', t: AA, id: ID_A });
  });

  it('ignores unknown keys at every level', () => {
    const m = decodeKrpc(latin1('d1:ad5:extrai1e2:id20:abcdefghij01234567896:noseedi1ee1:q4:ping1:t2:aa1:y1:q1:zle4:zzzzi9ee'));
    assert.deepEqual(m, { kind: 'query', method: 'ping', t: AA, id: ID_A });
  });

  it('skips values entries that are not 6 or 18 bytes, keeping the others in order', () => {
    const v6 = `\x20\x01\x0d\xb8${'\0'.repeat(11)}\x01\x00\x50`;
    const m = decodeKrpc(latin1(`d1:rd2:id20:abcdefghij01234567896:valuesl6:axje.u5:short18:${v6}i7e6:idhtnmee1:t2:aa1:y1:re`));
    assert.ok(m.kind === 'response');
    assert.deepEqual(m.values, [
      { host: '97.120.106.101', port: 0x2e75 },
      { host: '2001:db8::1', port: 80 },
      { host: '105.100.104.116', port: 0x6e6d },
    ]);
  });
});

describe('BEP 44 get and put', () => {
  const K = new Uint8Array(32).fill(0x6b);
  const SIG = new Uint8Array(64).fill(0x73);

  it('get with and without seq', () => {
    vector('d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q3:get1:t2:aa1:y1:qe', { kind: 'query', method: 'get', t: AA, id: ID_A, target: ID_M });
    vector('d1:ad2:id20:abcdefghij01234567893:seqi4e6:target20:mnopqrstuvwxyz123456e1:q3:get1:t2:aa1:y1:qe', { kind: 'query', method: 'get', t: AA, id: ID_A, target: ID_M, seq: 4 });
  });

  it('immutable put keeps v as its exact bencoded bytes', () => {
    vector('d1:ad2:id20:abcdefghij01234567895:token8:aoeusnth1:v12:Hello World!e1:q3:put1:t2:aa1:y1:qe', {
      kind: 'query',
      method: 'put',
      t: AA,
      id: ID_A,
      token: latin1('aoeusnth'),
      value: latin1('12:Hello World!'),
    });
  });

  it('mutable put with cas and salt, v a dictionary', () => {
    const packet = `d1:ad3:casi3e2:id20:abcdefghij01234567891:k32:${'k'.repeat(32)}4:salt6:foobar3:seqi4e3:sig64:${'s'.repeat(64)}5:token8:aoeusnth1:vd1:ai1e1:bl1:xeee1:q3:put1:t2:aa1:y1:qe`;
    vector(packet, { kind: 'query', method: 'put', t: AA, id: ID_A, token: latin1('aoeusnth'), value: latin1('d1:ai1e1:bl1:xee'), k: K, sig: SIG, seq: 4, cas: 3, salt: latin1('foobar') });
  });

  it('get response with a mutable item and nodes', () => {
    const packet = `d1:rd2:id20:abcdefghij01234567891:k32:${'k'.repeat(32)}5:nodes26:${NODE4_BYTES}3:seqi9e3:sig64:${'s'.repeat(64)}5:token3:tok1:vli1ei2eee1:t2:aa1:y1:re`;
    vector(packet, { kind: 'response', t: AA, id: ID_A, k: K, nodes: [NODE4], seq: 9, sig: SIG, token: latin1('tok'), value: latin1('li1ei2ee') });
  });

  it('answers an oversize v with 205 and an oversize salt with 207', () => {
    const big = `${'x'.repeat(997)}`;
    assert.throws(
      () => decodeKrpc(latin1(`d1:ad2:id20:abcdefghij01234567895:token1:t1:v1001:${big}xxxxe1:q3:put1:t2:aa1:y1:qe`)),
      isDecodeError('KRPC_MALFORMED', KRPC_ERROR.VALUE_TOO_BIG),
    );
    const mutable = (salt: number) =>
      `d1:ad2:id20:abcdefghij01234567891:k32:${'k'.repeat(32)}4:salt${salt}:${'z'.repeat(salt)}3:seqi1e3:sig64:${'s'.repeat(64)}5:token1:t1:vi1ee1:q3:put1:t2:aa1:y1:qe`;
    assert.equal(decodeKrpc(latin1(mutable(64))).kind, 'query');
    assert.throws(() => decodeKrpc(latin1(mutable(65))), isDecodeError('KRPC_MALFORMED', KRPC_ERROR.SALT_TOO_BIG));
  });

  it('rejects a mutable put without its key, signature or sequence number', () => {
    const noSig = `d1:ad2:id20:abcdefghij01234567891:k32:${'k'.repeat(32)}3:seqi1e5:token1:t1:vi1ee1:q3:put1:t2:aa1:y1:qe`;
    assert.throws(() => decodeKrpc(latin1(noSig)), isDecodeError('KRPC_MALFORMED', KRPC_ERROR.PROTOCOL));
    const casAlone = 'd1:ad3:casi1e2:id20:abcdefghij01234567895:token1:t1:vi1ee1:q3:put1:t2:aa1:y1:qe';
    assert.throws(() => decodeKrpc(latin1(casAlone)), isDecodeError('KRPC_MALFORMED', KRPC_ERROR.PROTOCOL));
    const noV = 'd1:ad2:id20:abcdefghij01234567895:token1:te1:q3:put1:t2:aa1:y1:qe';
    assert.throws(() => decodeKrpc(latin1(noV)), isDecodeError('KRPC_MALFORMED', KRPC_ERROR.PROTOCOL));
  });
});

describe('keys out of order', () => {
  it('decodes a ping whose sender did not sort its keys, at the top and inside a', () => {
    const sorted = decodeKrpc(latin1('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'));
    const unsorted = decodeKrpc(latin1('d1:y1:q1:t2:aa1:q4:ping1:ad2:id20:abcdefghij0123456789ee'));
    assert.deepEqual(unsorted, sorted);
  });

  it('keeps a get answer\'s v as the exact bytes received, and still refuses a repeated key', () => {
    const r = decodeKrpc(latin1('d1:y1:r1:t2:aa1:rd1:v3:abc2:id20:mnopqrstuvwxyz123456ee'));
    assert.ok(r.kind === 'response' && r.value !== undefined && Buffer.from(r.value).toString('latin1') === '3:abc');
    assert.throws(() => decodeKrpc(latin1('d1:y1:q1:t2:aa1:q4:ping1:t2:bb1:ad2:id20:abcdefghij0123456789ee')), isDecodeError());
  });
});

describe('unknown methods', () => {
  it('decode as an UnknownQuery with the raw arguments, to be answered with 204', () => {
    const packet = 'd1:ad3:fooli1e3:bare2:id20:abcdefghij0123456789e1:q9:sample_xy1:t2:aa1:y1:qe';
    const m = decodeKrpc(latin1(packet));
    assert.ok(m.kind === 'query' && isUnknownQuery(m));
    assert.equal(m.method, 'sample_xy');
    assert.deepEqual(m.id, ID_A);
    assert.deepEqual(m.args, bdecode(latin1('d3:fooli1e3:bare2:id20:abcdefghij0123456789e')));
    assert.equal(encodeKrpc(m).toString('latin1'), packet);
    const answer = encodeKrpc({ kind: 'error', t: m.t, code: KRPC_ERROR.METHOD_UNKNOWN, message: 'Method Unknown' });
    assert.equal(answer.toString('latin1'), 'd1:eli204e14:Method Unknowne1:t2:aa1:y1:ee');
  });

  it('known methods are not unknown', () => {
    const m = decodeKrpc(latin1('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'));
    assert.ok(m.kind === 'query' && !isUnknownQuery(m));
  });
});

describe('hostile packets', () => {
  const ping = 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe';

  it('every truncation of a packet is rejected', () => {
    for (let n = 0; n < ping.length; n++) assert.throws(() => decodeKrpc(latin1(ping.slice(0, n))), isDecodeError(), `${n} bytes`);
  });

  it(`refuses packets over ${MAX_PACKET} bytes before parsing, and accepts ${MAX_PACKET}`, () => {
    const withToken = (n: number) => `d1:rd2:id20:abcdefghij01234567895:token${n}:${'t'.repeat(n)}e1:t2:aa1:y1:re`;
    const fits = withToken(1500 - withToken(1000).length + 1000);
    assert.equal(fits.length, MAX_PACKET);
    assert.equal(decodeKrpc(latin1(fits)).kind, 'response');
    assert.throws(() => decodeKrpc(latin1(withToken(1500 - withToken(1000).length + 1001))), isDecodeError('KRPC_TOO_LARGE'));
    assert.throws(() => decodeKrpc(new Uint8Array(MAX_PACKET + 1)), isDecodeError('KRPC_TOO_LARGE'));
  });

  const MALFORMED: [string, string][] = [
    ['not a dictionary', 'l1:ae'],
    ['not bencode', 'hello'],
    ['a repeated key', 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:t2:bb1:y1:qe'],
    ['no t', 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe'],
    ['t an integer', 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:ti1e1:y1:qe'],
    ['t empty', 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t0:1:y1:qe'],
    ['t of 17 bytes', 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t17:abcdefghijklmnopq1:y1:qe'],
    ['no y', 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aae'],
    ["y 'x'", 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:xe'],
    ['a response without r', 'd1:t2:aa1:y1:re'],
    ['r a list', 'd1:rl2:ide1:t2:aa1:y1:re'],
    ['a 19-byte response id', 'd1:rd2:id19:mnopqrstuvwxyz12345e1:t2:aa1:y1:re'],
    ['a response id as an integer', 'd1:rd2:idi5ee1:t2:aa1:y1:re'],
    ['nodes of 25 bytes', `d1:rd2:id20:abcdefghij01234567895:nodes25:${NODE4_BYTES.slice(1)}e1:t2:aa1:y1:re`],
    ['nodes6 of 26 bytes', `d1:rd2:id20:abcdefghij01234567896:nodes626:${NODE4_BYTES}e1:t2:aa1:y1:re`],
    ['values not a list', 'd1:rd2:id20:abcdefghij01234567896:values6:axje.ue1:t2:aa1:y1:re'],
    ['seq as a string', 'd1:rd2:id20:abcdefghij01234567893:seq1:1e1:t2:aa1:y1:re'],
    ['seq beyond 2^53', 'd1:rd2:id20:abcdefghij01234567893:seqi9007199254740992ee1:t2:aa1:y1:re'],
    ['seq negative', 'd1:rd2:id20:abcdefghij01234567893:seqi-1ee1:t2:aa1:y1:re'],
    ['a 31-byte k', `d1:rd2:id20:abcdefghij01234567891:k31:${'k'.repeat(31)}e1:t2:aa1:y1:re`],
    ['an error without e', 'd1:t2:aa1:y1:ee'],
    ['e as [message, code]', 'd1:el23:A Generic Error Ocurredi201ee1:t2:aa1:y1:ee'],
    ['e with only a code', 'd1:eli201ee1:t2:aa1:y1:ee'],
    ['e a string', 'd1:e5:oops!1:t2:aa1:y1:ee'],
  ];
  for (const [what, packet] of MALFORMED) {
    it(`rejects ${what}`, () => {
      assert.throws(() => decodeKrpc(latin1(packet)), isDecodeError('KRPC_MALFORMED'));
    });
  }

  // Queries whose transaction id could be read: the error says what to answer (203).
  const BAD_QUERIES: [string, string][] = [
    ['no q', 'd1:ad2:id20:abcdefghij0123456789e1:t2:aa1:y1:qe'],
    ['q an integer', 'd1:ad2:id20:abcdefghij0123456789e1:qi1e1:t2:aa1:y1:qe'],
    ['no a', 'd1:q4:ping1:t2:aa1:y1:qe'],
    ['a a list', 'd1:ale1:q4:ping1:t2:aa1:y1:qe'],
    ['no id', 'd1:ade1:q4:ping1:t2:aa1:y1:qe'],
    ['a 19-byte id', 'd1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe'],
    ['a 21-byte id in an unknown method', 'd1:ad2:id21:abcdefghij0123456789Xe1:q3:foo1:t2:aa1:y1:qe'],
    ['find_node without target', 'd1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe'],
    ['want not a list', 'd1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:want2:n4e1:q9:find_node1:t2:aa1:y1:qe'],
    ['get_peers with a 32-byte info_hash', `d1:ad2:id20:abcdefghij01234567899:info_hash32:${'h'.repeat(32)}e1:q9:get_peers1:t2:aa1:y1:qe`],
    ['announce_peer with a negative port', 'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti-1e5:token1:te1:q13:announce_peer1:t2:aa1:y1:qe'],
    ['announce_peer with port 65536', 'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti65536e5:token1:te1:q13:announce_peer1:t2:aa1:y1:qe'],
    ['announce_peer with a port as a string', 'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:port4:68815:token1:te1:q13:announce_peer1:t2:aa1:y1:qe'],
    ['announce_peer without token', 'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti1ee1:q13:announce_peer1:t2:aa1:y1:qe'],
    ['announce_peer with implied_port 2', 'd1:ad2:id20:abcdefghij012345678912:implied_porti2e9:info_hash20:mnopqrstuvwxyz1234564:porti1e5:token1:te1:q13:announce_peer1:t2:aa1:y1:qe'],
    ['get with seq as a string', 'd1:ad2:id20:abcdefghij01234567893:seq1:46:target20:mnopqrstuvwxyz123456e1:q3:get1:t2:aa1:y1:qe'],
  ];
  for (const [what, packet] of BAD_QUERIES) {
    it(`rejects a query with ${what}, saying to answer 203`, () => {
      assert.throws(() => decodeKrpc(latin1(packet)), isDecodeError('KRPC_MALFORMED', KRPC_ERROR.PROTOCOL));
    });
  }

  it('decoded byte fields are plain copies, not views of the packet', () => {
    const packet = Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe', 'latin1');
    const m = decodeKrpc(packet);
    packet.fill(0);
    assert.deepEqual(m, { kind: 'query', method: 'ping', t: AA, id: ID_A });
    assert.equal(Object.getPrototypeOf(m.t), Uint8Array.prototype);
  });
});

describe('encoding', () => {
  const base = { kind: 'query', t: AA, id: ID_A } as const;

  it('refuses fields of the wrong size or range', () => {
    const bad: KrpcMessage[] = [
      { ...base, method: 'ping', t: new Uint8Array(0) },
      { ...base, method: 'ping', t: new Uint8Array(17) },
      { ...base, method: 'ping', v: new Uint8Array(65) },
      { ...base, method: 'ping', id: new Uint8Array(19) },
      { ...base, method: 'ping', ip: { host: 'example.org', port: 1 } },
      { ...base, method: 'find_node', target: new Uint8Array(21) },
      { ...base, method: 'announce_peer', infoHash: ID_M, port: 65536, token: AA },
      { ...base, method: 'announce_peer', infoHash: ID_M, port: -1, token: AA },
      { ...base, method: 'get', target: ID_M, seq: -1 },
      { ...base, method: 'put', token: AA, value: latin1('i1e'), k: new Uint8Array(32) },
      { ...base, method: 'put', token: AA, value: latin1('i1e'), salt: AA },
      { ...base, method: 'put', token: AA, value: latin1('i1e'), k: new Uint8Array(32), sig: new Uint8Array(64), seq: 1, salt: new Uint8Array(65) },
      { ...base, method: 'put', token: AA, value: latin1('i01e') },
      { ...base, method: 'put', token: AA, value: latin1('1:ab') },
      { ...base, method: 'put', token: AA, value: bencode(latin1('x'.repeat(998))) },
      { kind: 'response', t: AA, id: ID_A, nodes: [NODE6] },
      { kind: 'response', t: AA, id: ID_A, nodes6: [NODE4] },
      { kind: 'response', t: AA, id: ID_A, nodes: [{ ...NODE4, id: new Uint8Array(19) }] },
      { kind: 'response', t: AA, id: ID_A, values: [{ host: '1.2.3.4', port: 70000 }] },
      { kind: 'response', t: AA, id: ID_A, token: new Uint8Array(MAX_PACKET) },
      { kind: 'error', t: AA, code: 1.5, message: '' },
    ];
    for (const m of bad) assert.throws(() => encodeKrpc(m), RangeError, JSON.stringify(m, (_, v: unknown) => (v instanceof Uint8Array ? v.length : v)));
  });

  it('encodes node lists of each family and decodes them back', () => {
    assert.equal(encodeNodes([NODE4], 4).toString('latin1'), NODE4_BYTES);
    assert.equal(encodeNodes([NODE6], 6).toString('latin1'), NODE6_BYTES);
    assert.deepEqual(decodeNodes(latin1(NODE6_BYTES + NODE6_BYTES), 6), [NODE6, NODE6]);
    assert.deepEqual(decodeNodes(new Uint8Array(0), 4), []);
    assert.throws(() => decodeNodes(new Uint8Array(37), 6), isDecodeError());
  });
});
