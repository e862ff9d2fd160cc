/**
 * Tests for the iterative Kademlia lookup (src/dht/lookup.ts). Most run over a synthetic network in
 * memory: N nodes with seeded random ids, each knowing what a full Kademlia routing table would (up
 * to K nodes from every bucket's range) plus its K nearest, answering after a random latency on a
 * SimClock, some of them dead (a timeout). The lookup must find the true k nearest, ask no node
 * twice, never have more than alpha questions out, and take about log N rounds. Small hand-built
 * cases check the edges: bad input, hostile answers, the candidate bound, stopWhen.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareDistance, idToHex, idsEqual, randomId } from '../../src/codec/dht-id.js';
import { type NodeInfo } from '../../src/codec/krpc.js';
import { type LookupAnswer, type LookupAsk, type LookupOptions, type LookupResult, lookup } from '../../src/dht/lookup.js';
import { SimClock, seededRandom } from '../../src/sim/clock.js';

const K = 8;
const TIMEOUT_MS = 2000;

interface Network {
  nodes: NodeInfo[];
  /** What each node knows (index-aligned with nodes). */
  views: NodeInfo[][];
  dead: Set<string>;
}

const big = (id: Uint8Array) => BigInt(`0x${idToHex(id)}`);

/** The first index in sorted `xs` whose value is >= v. */
function lowerBound(xs: bigint[], v: bigint): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const nearest = (target: Uint8Array, nodes: readonly NodeInfo[], n: number) => [...nodes].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, n);

/**
 * N nodes; each knows up to K random nodes of every bucket range a Kademlia table would have
 * (ids sharing exactly i leading bits with its own), all of a range with K or fewer, and its K
 * nearest. `deadShare` of the nodes never answer.
 */
function buildNetwork(n: number, seed: number, deadShare = 0): Network {
  const random = seededRandom(seed);
  const nodes: NodeInfo[] = Array.from({ length: n }, (_, i) => ({ id: randomId(random), host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 6881 }));
  const order = nodes.map((node) => ({ node, key: big(node.id) })).sort((a, b) => (a.key < b.key ? -1 : 1));
  const keys = order.map((o) => o.key);
  const views = nodes.map((self) => {
    const x = big(self.id);
    const view = new Map<string, NodeInfo>();
    // The smallest range around us with K others in it holds our K nearest (anything outside shares fewer bits).
    let around = order;
    for (let i = 0; i < 160; i++) {
      const shift = BigInt(159 - i);
      const sibling = (x >> shift) ^ 1n;
      const [lo, hi] = [lowerBound(keys, sibling << shift), lowerBound(keys, (sibling + 1n) << shift)];
      const range = order.slice(lo, hi).map((o) => o.node);
      const picked = range.length <= K ? range : Array.from({ length: K }, () => range[Math.floor(random() * range.length)]!);
      for (const p of picked) view.set(idToHex(p.id), p);
      const own = (x >> shift) << shift;
      const [ownLo, ownHi] = [lowerBound(keys, own), lowerBound(keys, own + (1n << shift))];
      if (ownHi - ownLo > K) around = order.slice(ownLo, ownHi);
      if (ownHi - ownLo === 1) break;
    }
    const others = around.map((o) => o.node).filter((o) => o !== self);
    for (const p of nearest(self.id, others, K)) view.set(idToHex(p.id), p);
    return [...view.values()];
  });
  const dead = new Set(nodes.filter(() => random() < deadShare).map((x) => idToHex(x.id)));
  return { nodes, views, dead };
}

/** What the network's `ask` saw: the order of questions, each node once or not, the most at once. */
interface Observed {
  asked: string[];
  inFlight: number;
  maxInFlight: number;
}

/**
 * An `ask` over the network on `clock`: a live node answers with the K nodes it knows nearest the
 * target after 10-200 ms; a dead one rejects after TIMEOUT_MS, as dht/rpc.ts would.
 */
function networkAsk(net: Network, clock: SimClock, target: Uint8Array, seed: number, seen: Observed): LookupAsk {
  const random = seededRandom(seed);
  const index = new Map(net.nodes.map((node, i) => [idToHex(node.id), i]));
  return (node) => {
    const hex = idToHex(node.id);
    seen.asked.push(hex);
    seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
    return new Promise<LookupAnswer>((resolve, reject) => {
      const settle = (fn: () => void) => () => {
        seen.inFlight--;
        fn();
      };
      if (net.dead.has(hex)) clock.after(TIMEOUT_MS, settle(() => reject(new Error('timeout'))));
      else clock.after(10 + Math.floor(random() * 190), settle(() => resolve({ nodes: nearest(target, net.views[index.get(hex)!]!, K) })));
    });
  };
}

/** Runs `p` to its end, letting promise callbacks run between clock events. */
async function drive<T>(clock: SimClock, p: Promise<T>): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  const turn = () => new Promise<void>((r) => setImmediate(r));
  for (;;) {
    await turn();
    if (done) return p;
    if (clock.pending === 0) throw new Error('the lookup stalled with nothing on the clock');
    clock.run({ untilMs: Number.MAX_SAFE_INTEGER, maxEvents: 1 });
  }
}

/** A lookup by node `from` of the network, its id excluded, starting from its view (or from `start`). */
async function lookupIn(net: Network, from: number, target: Uint8Array, seed: number, opts: LookupOptions = {}, start = nearest(target, net.views[from]!, K)) {
  const clock = new SimClock();
  const seen: Observed = { asked: [], inFlight: 0, maxInFlight: 0 };
  const self = net.nodes[from]!;
  const result = await drive(clock, lookup(target, start, networkAsk(net, clock, target, seed, seen), { selfId: self.id, ...opts }));
  return { result, seen, self };
}

const hexes = (ns: readonly { id: Uint8Array }[]) => ns.map((x) => idToHex(x.id));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('lookup over a synthetic network', () => {
  const net2000 = buildNetwork(2000, 1);

  it('finds the true k nearest of 2,000 nodes, asking each once, in few rounds', async (t) => {
    const random = seededRandom(2);
    const rounds: number[] = [];
    const queries: number[] = [];
    for (let i = 0; i < 12; i++) {
      const target = randomId(random);
      const from = Math.floor(random() * 2000);
      const { result, seen, self } = await lookupIn(net2000, from, target, i);
      const truth = nearest(target, net2000.nodes.filter((x) => x !== self), K);
      assert.deepEqual(hexes(result.closest), hexes(truth));
      assert.equal(result.stopped, 'converged');
      assert.equal(new Set(seen.asked).size, seen.asked.length, 'no node asked twice');
      assert.ok(!seen.asked.includes(idToHex(self.id)), 'never ourselves');
      assert.equal(result.queried, seen.asked.length);
      assert.equal(result.responded, result.queried);
      assert.ok(seen.maxInFlight <= 3);
      assert.ok(result.rounds >= 1 && result.rounds < 12, `${result.rounds} rounds`);
      rounds.push(result.rounds);
      queries.push(result.queried);
    }
    t.diagnostic(`N=2000: rounds mean ${mean(rounds).toFixed(2)} max ${Math.max(...rounds)}; queries mean ${mean(queries).toFixed(1)} max ${Math.max(...queries)}`);
  });

  it('rounds grow slowly with N (reported; asserted only loosely)', async (t) => {
    const means: number[] = [];
    for (const n of [64, 500, 2000]) {
      const net = n === 2000 ? net2000 : buildNetwork(n, n);
      const random = seededRandom(n + 1);
      const rounds: number[] = [];
      for (let i = 0; i < 8; i++) {
        const target = randomId(random);
        const { result } = await lookupIn(net, Math.floor(random() * n), target, i);
        assert.equal(result.stopped, 'converged');
        assert.ok(result.rounds < 12);
        rounds.push(result.rounds);
      }
      // From a single bootstrap node, which knows little about the target's part of the space.
      const cold: number[] = [];
      for (let i = 0; i < 8; i++) {
        const target = randomId(random);
        const { result, self } = await lookupIn(net, i, target, i, {}, [net.nodes[i + 1]!]);
        assert.deepEqual(hexes(result.closest), hexes(nearest(target, net.nodes.filter((x) => x !== self), K)));
        assert.ok(result.rounds < 12);
        cold.push(result.rounds);
      }
      means.push(mean(cold));
      const line = (xs: number[]) => `${xs.join(' ')} (mean ${mean(xs).toFixed(2)})`;
      t.diagnostic(`N=${n}, log2 N ${Math.log2(n).toFixed(1)}: rounds from our table ${line(rounds)}; from one bootstrap node ${line(cold)}`);
    }
    assert.ok(means[2]! > means[0]!, 'from one bootstrap node, 2,000 nodes take more rounds on average than 64');
  });

  it('never has more than alpha questions out, and uses all alpha', async () => {
    const target = randomId(seededRandom(3));
    for (const alpha of [1, 2, 3, 5]) {
      const { result, seen } = await lookupIn(net2000, 17, target, 4, { alpha });
      assert.equal(seen.maxInFlight, alpha, `alpha ${alpha}`);
      assert.equal(result.stopped, 'converged');
    }
  });

  it('skips nodes that time out and still finds (nearly all of) the k nearest live nodes', async (t) => {
    // A quarter of the nodes died after the others learned of them, so the live ones still name
    // them: a live node known only to dead ones cannot be found, and the test allows for that.
    const net = buildNetwork(2000, 5, 0.25);
    const random = seededRandom(6);
    let failed = 0;
    let found = 0;
    const lookups = 8;
    for (let i = 0; i < lookups; i++) {
      const target = randomId(random);
      const from = net.nodes.findIndex((x, j) => j >= i * 100 && !net.dead.has(idToHex(x.id)));
      const { result, self } = await lookupIn(net, from, target, i);
      const live = nearest(target, net.nodes.filter((x) => x !== self && !net.dead.has(idToHex(x.id))), K);
      const hits = hexes(result.closest).filter((h) => hexes(live).includes(h)).length;
      assert.ok(hits >= K - 2, `${hits} of the ${K} nearest live nodes found`);
      assert.deepEqual(hexes(result.closest.slice(0, 4)), hexes(live.slice(0, 4)), 'the very nearest are always found');
      assert.equal(result.closest.length, K);
      assert.ok(result.closest.every((x) => !net.dead.has(idToHex(x.id))));
      assert.equal(result.responded + result.failed, result.queried);
      assert.equal(result.stopped, 'converged');
      failed += result.failed;
      found += hits;
    }
    assert.ok(failed > 0, 'some dead nodes were asked');
    t.diagnostic(`25% dead: ${failed} timeouts over ${lookups} lookups; ${found} of ${lookups * K} nearest live nodes found`);
  });

  it('is deterministic: the same seeds ask the same nodes in the same order', async () => {
    const target = randomId(seededRandom(8));
    const a = await lookupIn(net2000, 99, target, 9);
    const b = await lookupIn(net2000, 99, target, 9);
    assert.deepEqual(a.seen.asked, b.seen.asked);
    assert.deepEqual(a.result, b.result);
    const c = await lookupIn(net2000, 99, target, 10);
    assert.deepEqual(hexes(c.result.closest), hexes(a.result.closest), 'other latencies, same answer');
  });

  it('stops at maxQueries', async () => {
    const { result, seen } = await lookupIn(net2000, 5, randomId(seededRandom(11)), 1, { maxQueries: 4 });
    assert.equal(result.stopped, 'max-queries');
    assert.equal(result.queried, 4);
    assert.equal(seen.asked.length, 4);
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-built cases: `ask` answers from a table at once (a resolved promise).

const TARGET = new Uint8Array(20);
/** A node at XOR distance `d` (in the last two bytes) from TARGET, at its own address. */
const at = (d: number, host = `10.1.${d >> 8}.${d & 255}`): NodeInfo => {
  const id = new Uint8Array(20);
  id[18] = d >> 8;
  id[19] = d & 255;
  return { id, host, port: 6881 };
};
const dist = (n: { id: Uint8Array }) => (n.id[18]! << 8) | n.id[19]!;

/** An ask from a map of distance -> answer; an unknown node fails. Records the distances asked. */
function tableAsk<V = never>(answers: Map<number, LookupAnswer<V> | 'fail' | 'throw'>, asked: number[] = []): LookupAsk<V> {
  return (node) => {
    asked.push(dist(node));
    const a = answers.get(dist(node));
    if (a === 'throw') throw new Error('synchronous failure');
    return a === undefined || a === 'fail' ? Promise.reject(new Error('timeout')) : Promise.resolve(a);
  };
}

describe('lookup: edges', () => {
  it('with nobody to ask, ends at once as exhausted', async () => {
    const r = await lookup(TARGET, [], tableAsk(new Map()));
    assert.deepEqual(r, { closest: [], values: [], items: [], rounds: 0, queried: 0, responded: 0, failed: 0, stopped: 'exhausted' });
  });

  it('counts rejecting and throwing asks as failures', async () => {
    const r = await lookup(TARGET, [at(1), at(2)], tableAsk(new Map([[1, 'fail' as const], [2, 'throw' as const]])));
    assert.equal(r.stopped, 'exhausted');
    assert.equal(r.failed, 2);
    assert.deepEqual(r.closest, []);
  });

  it('follows nearer nodes, counts rounds by depth, and keeps tokens', async () => {
    const asked: number[] = [];
    const answers = new Map<number, LookupAnswer>([
      [900, { nodes: [at(500), at(800)] }],
      [800, { nodes: [] }],
      [500, { nodes: [at(100)], token: new Uint8Array([5]) }],
      [100, { nodes: [at(7)], token: new Uint8Array([1]) }],
      [7, { nodes: [at(100)], token: new Uint8Array([7]) }],
    ]);
    const r = await lookup(TARGET, [at(900)], tableAsk(answers, asked), { k: 3, alpha: 1 });
    // 800 is never asked: by the time it would be, the 3 nearer nodes have answered.
    assert.deepEqual(asked, [900, 500, 100, 7]);
    assert.equal(r.rounds, 4, '900 -> 500 -> 100 -> 7');
    assert.deepEqual(r.closest.map((n) => `${dist(n)}:${n.token?.[0]}`), ['7:7', '100:1', '500:5'], 'distance:token, nearest first');
    assert.equal(r.stopped, 'converged');
  });

  it('a node named again by a node fewer questions away gets the lower depth', async () => {
    // Answers are released by hand, in an order that makes D first heard at depth 3 (from C), then
    // at depth 2 (from A) while it still waits for a free slot.
    const waiting = new Map<number, (a: LookupAnswer) => void>();
    const asked: number[] = [];
    const ask: LookupAsk = (node) => {
      asked.push(dist(node));
      return new Promise((resolve) => waiting.set(dist(node), resolve));
    };
    const turn = () => new Promise<void>((r) => setImmediate(r));
    const answer = async (d: number, nodes: NodeInfo[]) => {
      waiting.get(d)!({ nodes });
      await turn();
    };
    const p = lookup(TARGET, [at(850), at(800)], ask, { alpha: 2 });
    await turn();
    await answer(800, [at(100), at(200)]);
    await answer(100, [at(300)]);
    assert.deepEqual(asked, [800, 850, 100, 200], 'D (300) waits: A and W hold both slots');
    await answer(850, [at(300)]);
    await answer(200, []);
    await answer(300, []);
    const r = await p;
    assert.deepEqual(asked, [800, 850, 100, 200, 300]);
    assert.equal(r.rounds, 2, 'A (depth 1) named D, so D is depth 2, not 3');
    assert.equal(r.stopped, 'exhausted');
  });

  it('never asks our own id, one address twice, or nodes with a bad id or port', async () => {
    const self = at(3);
    const sybils = [at(4, '10.9.9.9'), at(5, '10.9.9.9'), at(6, '10.9.9.9')];
    const badId = { ...at(8), id: new Uint8Array(19) };
    const portZero = { ...at(9), port: 0 };
    const asked: number[] = [];
    const answers = new Map<number, LookupAnswer>([[50, { nodes: [self, ...sybils, badId, portZero] }], [4, { nodes: [] }]]);
    const r = await lookup(TARGET, [at(50)], tableAsk(answers, asked), { selfId: self.id });
    assert.deepEqual(asked, [50, 4]);
    assert.deepEqual(r.closest.map(dist), [4, 50]);
  });

  it('keeps only maxCandidates unasked nodes, the nearest', async () => {
    const named = Array.from({ length: 40 }, (_, i) => at(1000 + i * 3));
    const asked: number[] = [];
    const answers = new Map<number, LookupAnswer>([[5000, { nodes: named }]]);
    for (const n of named) answers.set(dist(n), { nodes: [] });
    const r = await lookup(TARGET, [at(5000)], tableAsk(answers, asked), { k: 8, maxCandidates: 4 });
    assert.deepEqual(asked.slice(1).sort((a, b) => a - b), [1000, 1003, 1006, 1009]);
    assert.equal(r.queried, 5);
    assert.equal(r.stopped, 'exhausted', 'only 5 nodes could be found');
  });

  it('gathers values once per address and items, and stopWhen ends it early', async () => {
    const peer = { host: '192.0.2.1', port: 51413 };
    const answers = new Map<number, LookupAnswer<string>>([
      [900, { nodes: [at(400), at(300)], values: [peer, { ...peer }, { host: '', port: 1 }, { host: '192.0.2.2', port: 0 }] }],
      [300, { nodes: [at(100)], values: [{ host: `::ffff:${peer.host}`, port: peer.port }], value: 'item' }],
      [400, { nodes: [at(200)] }],
      [200, { nodes: [] }],
      [100, { nodes: [] }],
    ]);
    const all = await lookup(TARGET, [at(900)], tableAsk(answers), { alpha: 1 });
    assert.deepEqual(all.values, [peer]);
    assert.deepEqual(all.items.map((x) => [dist(x.from), x.value]), [[300, 'item']]);
    assert.equal(all.queried, 5);
    assert.deepEqual((await lookup(TARGET, [at(900)], tableAsk(answers), { maxValues: 0 })).values, [], 'maxValues bounds them');
    const early = await lookup(TARGET, [at(900)], tableAsk(answers), { alpha: 1, stopWhen: (found) => found.items.length > 0 });
    assert.equal(early.stopped, 'stop-when');
    assert.equal(early.queried, 2);
    assert.deepEqual(early.closest.map(dist), [300, 900]);
  });

  it('rejects bad arguments and passes on what stopWhen throws; an answer without nodes is a failure', async () => {
    await assert.rejects(lookup(new Uint8Array(3), [], tableAsk(new Map())), RangeError);
    await assert.rejects(lookup(TARGET, [], tableAsk(new Map()), { alpha: 0 }), RangeError);
    await assert.rejects(lookup(TARGET, [], tableAsk(new Map()), { k: 1.5 }), RangeError);
    const answers = new Map<number, LookupAnswer>([[1, { nodes: [] }]]);
    const boom = new Error('boom');
    const stopWhen = (): boolean => {
      throw boom;
    };
    await assert.rejects(lookup(TARGET, [at(1)], tableAsk(answers), { stopWhen }), (e) => e === boom);
    const hostile: LookupAsk = () => Promise.resolve({} as LookupAnswer);
    const r = await lookup(TARGET, [at(1)], hostile);
    assert.equal(r.failed, 1);
  });
});

describe('lookup: properties', () => {
  it('on random small networks: alpha holds, no node asked twice, closest = the k nearest that answered, nothing nearer missed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 40 }),
        fc.integer(),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        async (n, seed, deadShare, k, alpha) => {
          const net = buildNetwork(n, seed, deadShare);
          const clock = new SimClock();
          const target = randomId(seededRandom(seed ^ 0x5a5a));
          const seen: Observed = { asked: [], inFlight: 0, maxInFlight: 0 };
          const inner = networkAsk(net, clock, target, seed, seen);
          const answered: NodeInfo[] = [];
          const named = new Map<string, NodeInfo>();
          const ask: LookupAsk = async (node) => {
            const a = await inner(node);
            answered.push(node);
            for (const x of a.nodes) named.set(idToHex(x.id), x);
            return a;
          };
          const self = net.nodes[0]!;
          const start = net.views[0]!.slice(0, 3);
          const r: LookupResult = await drive(clock, lookup(target, start, ask, { k, alpha, selfId: self.id }));
          assert.ok(seen.maxInFlight <= alpha);
          assert.equal(new Set(seen.asked).size, seen.asked.length);
          assert.deepEqual(hexes(r.closest), hexes(nearest(target, answered, k)));
          if (r.stopped === 'converged') {
            assert.equal(r.closest.length, k);
            const kth = r.closest[k - 1]!;
            for (const x of named.values()) {
              if (idsEqual(x.id, self.id) || compareDistance(target, x.id, kth.id) >= 0) continue;
              assert.ok(seen.asked.includes(idToHex(x.id)), 'a node nearer than the k-th was named but never asked');
            }
          } else {
            assert.equal(r.stopped, 'exhausted');
            assert.equal(r.queried, r.responded + r.failed);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
