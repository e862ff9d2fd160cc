/**
 * Tests for the DHT transaction layer (src/dht/rpc.ts) on an in-memory transport and a simulated
 * clock: a response settles only the query it answers, from the address (and id) asked; timeouts,
 * error replies, the outstanding bound and send failures reject with RpcError codes; incoming
 * queries come back to the caller; and no packet, however broken, makes onPacket throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type KrpcError, type KrpcMessage, type KrpcResponse, KRPC_ERROR, decodeKrpc, encodeKrpc, isUnknownQuery } from '../../src/codec/krpc.js';
import { type RpcOptions, type Timers, DEFAULT_QUERY_TIMEOUT_MS, Rpc, RpcError, addressKey } from '../../src/dht/rpc.js';
import { type SimEvent, SimClock, seededRandom } from '../../src/sim/clock.js';

const SELF = new Uint8Array(20).fill(0x11);
const PEER_ID = new Uint8Array(20).fill(0x22);
const OTHER_ID = new Uint8Array(20).fill(0x33);
const PEER = { host: '10.0.0.2', port: 6881 };
const TARGET = new Uint8Array(20).fill(0x44);
const VERSION = new Uint8Array([0x53, 0x42, 0, 1]);

type Sent = { msg: KrpcMessage; host: string; port: number };

/** An Rpc whose packets land in `sent` (decoded), with timers on a SimClock. */
function harness(opts: Partial<RpcOptions> = {}) {
  const clock = new SimClock();
  const sent: Sent[] = [];
  const timers: Timers = { now: clock.now, setTimeout: (fn, ms) => clock.after(ms, fn), clearTimeout: (h) => clock.cancel(h as SimEvent) };
  const transport = { send: (packet: Uint8Array, host: string, port: number) => void sent.push({ msg: decodeKrpc(packet), host, port }) };
  const rpc = new Rpc({ transport, timers, selfId: SELF, random: seededRandom(7), version: VERSION, ...opts });
  return { clock, sent, rpc };
}

/** The packet a node would answer `q` with. */
function responseTo(q: Sent, fields: Partial<KrpcResponse> = {}): Uint8Array {
  return encodeKrpc({ kind: 'response', t: q.msg.t, id: PEER_ID, ...fields });
}

function errorTo(q: Sent, code: number, message: string): Uint8Array {
  const e: KrpcError = { kind: 'error', t: q.msg.t, code, message };
  return encodeKrpc(e);
}

const isRpcError = (code: string, krpcCode?: number) => (e: unknown) =>
  e instanceof RpcError && e.code === code && e.krpcCode === krpcCode && !e.message.includes('\n');

describe('Rpc: queries and responses', () => {
  it('sends the query with our id, our version and a 2-byte t, and resolves with the matching response', async () => {
    const { rpc, sent } = harness();
    const p = rpc.query({ ...PEER, id: PEER_ID }, { method: 'find_node', target: TARGET });
    assert.equal(sent.length, 1);
    const q = sent[0]!;
    assert.equal(q.host, PEER.host);
    assert.equal(q.port, PEER.port);
    const m = q.msg;
    if (m.kind !== 'query' || isUnknownQuery(m) || m.method !== 'find_node') return assert.fail(`sent ${m.kind}`);
    assert.deepEqual(m.id, SELF);
    assert.deepEqual(m.target, TARGET);
    assert.deepEqual(m.v, VERSION);
    assert.equal(m.t.length, 2);
    assert.equal(rpc.outstanding, 1);

    const nodes = [{ id: OTHER_ID, host: '10.0.0.3', port: 1 }];
    assert.deepEqual(rpc.onPacket(responseTo(q, { nodes }), PEER), { kind: 'handled' });
    const r = await p;
    assert.deepEqual(r.id, PEER_ID);
    assert.deepEqual(r.nodes, nodes);
    assert.equal(rpc.outstanding, 0);
    assert.deepEqual({ ...rpc.stats, dropReasons: undefined }, { sent: 1, received: 1, timeouts: 0, dropped: 0, dropReasons: undefined });
  });

  it('matches responses that arrive out of order to their own queries', async () => {
    const { rpc, sent } = harness();
    const targets = [1, 2, 3].map((b) => new Uint8Array(20).fill(b));
    const ps = targets.map((target, i) => rpc.query({ host: `10.0.1.${i}`, port: 7000 }, { method: 'find_node', target }));
    assert.equal(new Set(sent.map((s) => Buffer.from(s.msg.t).toString('hex'))).size, 3, 'distinct transaction ids');
    // Each node answers with its own id in the last byte, in reverse order.
    for (const i of [2, 0, 1]) {
      const id = new Uint8Array(20).fill(0x50 + i);
      assert.equal(rpc.onPacket(responseTo(sent[i]!, { id }), { host: `10.0.1.${i}`, port: 7000 }).kind, 'handled');
    }
    const answers = await Promise.all(ps);
    assert.deepEqual(answers.map((r) => r.id[0]), [0x50, 0x51, 0x52]);
  });

  it('keeps transaction ids unique among outstanding queries even when the random source repeats itself', () => {
    const { rpc, sent } = harness({ random: () => 0.5 });
    const ps = Array.from({ length: 100 }, (_, i) => rpc.query({ host: '10.0.0.9', port: 1000 + i }, { method: 'ping' }));
    for (const p of ps) p.catch(() => {});
    assert.equal(new Set(sent.map((s) => Buffer.from(s.msg.t).toString('hex'))).size, 100);
    assert.equal(rpc.outstanding, 100);
    rpc.close();
  });

  it('accepts an answer from the IPv4-mapped IPv6 form of the address asked', async () => {
    const { rpc, sent } = harness();
    const p = rpc.query(PEER, { method: 'ping' });
    assert.equal(rpc.onPacket(responseTo(sent[0]!), { host: `::ffff:${PEER.host}`, port: PEER.port }).kind, 'handled');
    assert.deepEqual((await p).id, PEER_ID);
    assert.equal(addressKey({ host: '::FFFF:10.0.0.2', port: 1 }), addressKey({ host: '10.0.0.2', port: 1 }));
    assert.notEqual(addressKey({ host: '10.0.0.2', port: 1 }), addressKey({ host: '10.0.0.2', port: 2 }));
  });
});

describe('Rpc: what is dropped', () => {
  it('drops a matching t from another address, and the query still takes the real answer', async () => {
    const { rpc, sent } = harness();
    const p = rpc.query(PEER, { method: 'ping' });
    const q = sent[0]!;
    assert.deepEqual(rpc.onPacket(responseTo(q), { host: '10.0.0.66', port: PEER.port }), { kind: 'dropped', reason: 'wrong address' });
    assert.deepEqual(rpc.onPacket(responseTo(q), { host: PEER.host, port: PEER.port + 1 }), { kind: 'dropped', reason: 'wrong address' });
    assert.equal(rpc.outstanding, 1);
    assert.equal(rpc.onPacket(responseTo(q), PEER).kind, 'handled');
    await p;
    assert.equal(rpc.stats.dropReasons['wrong address'], 2);
    assert.equal(rpc.stats.dropped, 2);
  });

  it('drops a t that matches nothing outstanding, including a second answer to a settled query', async () => {
    const { rpc, sent } = harness();
    const p = rpc.query(PEER, { method: 'ping' });
    const q = sent[0]!;
    const other = { ...q, msg: { ...q.msg, t: new Uint8Array([q.msg.t[0]! ^ 0xff, q.msg.t[1]!]) } };
    assert.deepEqual(rpc.onPacket(responseTo(other), PEER), { kind: 'dropped', reason: 'unknown transaction' });
    const long = { ...q, msg: { ...q.msg, t: new Uint8Array([...q.msg.t, 0]) } };
    assert.deepEqual(rpc.onPacket(responseTo(long), PEER), { kind: 'dropped', reason: 'unknown transaction' }, 'a 3-byte t is none of ours');
    assert.equal(rpc.onPacket(responseTo(q), PEER).kind, 'handled');
    await p;
    assert.deepEqual(rpc.onPacket(responseTo(q), PEER), { kind: 'dropped', reason: 'unknown transaction' });
    assert.equal(rpc.stats.dropReasons['unknown transaction'], 3);
  });

  it('drops an answer under another id when we asked a known id, but takes any id when we did not know one', async () => {
    const { rpc, sent } = harness();
    const known = rpc.query({ ...PEER, id: PEER_ID }, { method: 'ping' });
    const unknown = rpc.query({ host: '10.0.0.3', port: 6881 }, { method: 'ping' });
    assert.deepEqual(rpc.onPacket(responseTo(sent[0]!, { id: OTHER_ID }), PEER), { kind: 'dropped', reason: 'id mismatch' });
    assert.equal(rpc.stats.dropReasons['id mismatch'], 1);
    assert.equal(rpc.outstanding, 2);
    assert.equal(rpc.onPacket(responseTo(sent[0]!), PEER).kind, 'handled');
    assert.equal(rpc.onPacket(responseTo(sent[1]!, { id: OTHER_ID }), { host: '10.0.0.3', port: 6881 }).kind, 'handled');
    assert.deepEqual((await known).id, PEER_ID);
    assert.deepEqual((await unknown).id, OTHER_ID);
  });
});

describe('Rpc: failures', () => {
  it('rejects with RPC_TIMEOUT after timeoutMs, not before, and drops the late answer', async () => {
    const { rpc, sent, clock } = harness();
    const p = rpc.query(PEER, { method: 'get_peers', infoHash: TARGET });
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    clock.run({ untilMs: DEFAULT_QUERY_TIMEOUT_MS - 1, maxEvents: 10 });
    await Promise.resolve();
    assert.equal(settled, false);
    assert.equal(rpc.outstanding, 1);
    clock.run({ untilMs: DEFAULT_QUERY_TIMEOUT_MS, maxEvents: 10 });
    await assert.rejects(p, isRpcError('RPC_TIMEOUT'));
    assert.equal(rpc.outstanding, 0);
    assert.equal(rpc.stats.timeouts, 1);
    assert.deepEqual(rpc.onPacket(responseTo(sent[0]!), PEER), { kind: 'dropped', reason: 'unknown transaction' });
  });

  it('an answer clears the timer, so nothing is left on the clock', async () => {
    const { rpc, sent, clock } = harness({ timeoutMs: 500 });
    const p = rpc.query(PEER, { method: 'ping' });
    rpc.onPacket(responseTo(sent[0]!), PEER);
    await p;
    assert.equal(clock.run({ untilMs: 10_000, maxEvents: 10 }), 'idle');
    assert.equal(clock.executed, 0, 'the cancelled timeout never ran');
    assert.equal(rpc.stats.timeouts, 0);
  });

  it('rejects with RPC_ERROR_REPLY and the KRPC code when the node answers with an error', async () => {
    const { rpc, sent } = harness();
    const p = rpc.query(PEER, { method: 'announce_peer', infoHash: TARGET, port: 1, token: new Uint8Array([1]) });
    assert.equal(rpc.onPacket(errorTo(sent[0]!, KRPC_ERROR.PROTOCOL, 'bad\ntoken'), PEER).kind, 'handled');
    await assert.rejects(p, (e: unknown) => isRpcError('RPC_ERROR_REPLY', 203)(e) && (e as Error).message.includes('bad token'));
    assert.equal(rpc.outstanding, 0);
  });

  it('an error from another address is dropped like a response would be', () => {
    const { rpc, sent } = harness();
    rpc.query(PEER, { method: 'ping' }).catch(() => {});
    assert.deepEqual(rpc.onPacket(errorTo(sent[0]!, 201, 'x'), { host: '10.9.9.9', port: 1 }), { kind: 'dropped', reason: 'wrong address' });
    assert.equal(rpc.outstanding, 1);
    rpc.close();
  });

  it('refuses at once, sending nothing, when maxOutstanding queries are waiting', async () => {
    const { rpc, sent } = harness({ maxOutstanding: 3 });
    const ps = [0, 1, 2].map((i) => rpc.query({ host: '10.0.0.5', port: 100 + i }, { method: 'ping' }));
    await assert.rejects(rpc.query(PEER, { method: 'ping' }), isRpcError('RPC_OVERLOADED'));
    assert.equal(sent.length, 3);
    assert.equal(rpc.outstanding, 3);
    rpc.onPacket(responseTo(sent[1]!), { host: '10.0.0.5', port: 101 });
    await ps[1];
    const again = rpc.query(PEER, { method: 'ping' });
    assert.equal(sent.length, 4, 'a slot freed, a query goes out');
    rpc.close();
    await Promise.all([ps[0], ps[2], again].map((p) => assert.rejects(p!, isRpcError('RPC_CLOSED'))));
    assert.equal(rpc.outstanding, 0);
  });

  it('rejects with RPC_SEND_FAILED when the transport throws, and forgets the query', async () => {
    const clock = new SimClock();
    const timers: Timers = { now: clock.now, setTimeout: (fn, ms) => clock.after(ms, fn), clearTimeout: (h) => clock.cancel(h as SimEvent) };
    const transport = {
      send: () => {
        throw new Error('socket closed');
      },
    };
    const rpc = new Rpc({ transport, timers, selfId: SELF });
    await assert.rejects(rpc.query(PEER, { method: 'ping' }), (e: unknown) => isRpcError('RPC_SEND_FAILED')(e) && (e as RpcError).cause instanceof Error);
    assert.equal(rpc.outstanding, 0);
    assert.equal(clock.run({ untilMs: 10_000, maxEvents: 10 }), 'idle');
    assert.equal(rpc.stats.timeouts, 0);
  });

  it('rejects a query the codec cannot encode with RangeError, keeping nothing', async () => {
    const { rpc, sent } = harness();
    await assert.rejects(rpc.query(PEER, { method: 'find_node', target: new Uint8Array(19) }), RangeError);
    assert.equal(sent.length, 0);
    assert.equal(rpc.outstanding, 0);
  });

  it('checks its options', () => {
    const { clock } = harness();
    const base = { transport: { send: () => {} }, timers: { now: clock.now, setTimeout: () => 0, clearTimeout: () => {} }, selfId: SELF };
    assert.throws(() => new Rpc({ ...base, selfId: new Uint8Array(5) }), RangeError);
    assert.throws(() => new Rpc({ ...base, maxOutstanding: 0x10001 }), RangeError);
    assert.throws(() => new Rpc({ ...base, timeoutMs: 0 }), RangeError);
  });
});

describe('Rpc: incoming queries and answers', () => {
  it('hands a query back, and respond / respondError answer it with our id and version', () => {
    const { rpc, sent } = harness();
    const t = new Uint8Array([9, 9, 9]);
    const packet = encodeKrpc({ kind: 'query', t, id: PEER_ID, method: 'get_peers', infoHash: TARGET });
    const got = rpc.onPacket(packet, PEER);
    assert.equal(got.kind, 'query');
    assert.ok(got.kind === 'query' && got.query.method === 'get_peers');
    const values = [{ host: '10.1.1.1', port: 51413 }];
    rpc.respond(PEER, t, { token: new Uint8Array([7]), values, ip: PEER });
    rpc.respondError(PEER, t, KRPC_ERROR.METHOD_UNKNOWN, 'Method Unknown');
    assert.deepEqual(sent[0], { host: PEER.host, port: PEER.port, msg: { kind: 'response', t, v: VERSION, ip: PEER, id: SELF, token: new Uint8Array([7]), values } });
    assert.deepEqual(sent[1], { host: PEER.host, port: PEER.port, msg: { kind: 'error', t, v: VERSION, code: 204, message: 'Method Unknown' } });
    assert.equal(rpc.stats.sent, 2);
  });

  it('answers a query it cannot read with error 203 and drops it', () => {
    const { rpc, sent } = harness();
    // A find_node without a target: the decoder can read t, so the sender gets a Protocol Error.
    const bad = Buffer.from('d1:ad2:id20:' + 'a'.repeat(20) + 'e1:q9:find_node1:t2:xy1:y1:qe', 'latin1');
    assert.deepEqual(rpc.onPacket(bad, PEER), { kind: 'dropped', reason: 'malformed query' });
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0]!.msg, { kind: 'error', t: new Uint8Array(Buffer.from('xy')), v: VERSION, code: 203, message: 'Protocol Error' });
  });

  it('never throws on arbitrary bytes, and answers only the queries it could not read (property)', () => {
    const { rpc, sent } = harness();
    rpc.query(PEER, { method: 'ping' }).catch(() => {});
    const before = sent.length;
    // Bencode-looking bytes reach the KRPC checks more often than uniform noise does.
    const noise = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.constantFrom(...['d', 'e', 'l', 'i', '1', '2', ':', 't', 'y', 'q', 'r', 'a', 'x'].map((c) => c.charCodeAt(0))), { maxLength: 60 }).map((a) => Uint8Array.from(a)),
    );
    fc.assert(
      fc.property(noise, (bytes) => {
        const outBefore = sent.length;
        const r = rpc.onPacket(bytes, PEER);
        assert.ok(r.kind === 'query' || r.kind === 'dropped', 'no stray packet settles the ping');
        const replied = sent.length - outBefore;
        assert.equal(replied, r.kind === 'dropped' && r.reason === 'malformed query' ? 1 : 0);
      }),
      { numRuns: 200 },
    );
    assert.deepEqual(rpc.onPacket(new Uint8Array(2000), PEER), { kind: 'dropped', reason: 'malformed' });
    assert.equal(sent.length - before, rpc.stats.dropReasons['malformed query']);
    assert.equal(rpc.outstanding, 1);
    rpc.close();
  });

  it('never throws on mutations of a real answer, and a handled one settles its query (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (edits, truncate) => {
          const { rpc, sent } = harness();
          const p = rpc.query({ ...PEER, id: PEER_ID }, { method: 'find_node', target: TARGET });
          const packet = new Uint8Array(responseTo(sent[0]!, { nodes: [{ id: OTHER_ID, host: '10.0.0.3', port: 9 }], token: new Uint8Array(4) }));
          for (const [at, byte] of edits) packet[at % packet.length] = byte;
          const r = rpc.onPacket(truncate ? packet.subarray(0, packet.length - 1) : packet, PEER);
          if (r.kind === 'handled') {
            assert.equal(rpc.outstanding, 0);
            await p.then(
              (m) => assert.deepEqual(m.id, PEER_ID),
              (e: unknown) => assert.ok(e instanceof RpcError && e.code === 'RPC_ERROR_REPLY'),
            );
          } else {
            assert.equal(rpc.outstanding, 1, `${r.kind} leaves the query waiting`);
            rpc.close();
            await assert.rejects(p, isRpcError('RPC_CLOSED'));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
