/**
 * The swarm simulator: N seedbank nodes (node.ts), one HTTP origin (the torrent's web seed) and a
 * tracker, on one simulated clock and network, deterministic from a seed. It answers what
 * bench/swarm cannot on one machine: how the real picker, choker, request pipelining and origin
 * rules behave with hundreds or thousands of nodes, as time over the fluid bound T* and origin
 * egress over the dataset's size.
 *
 * The network: every host has an upload link (and optionally a download link) of a given rate;
 * the core between them is never the bottleneck; every message and block takes one latency.
 * The origin is a host like the others whose upload link serves HTTP range runs in turn.
 */
import { type OriginPolicy } from '../engine/origin-rules.js';
import { type BlockRequest } from '../engine/picker.js';
import { SimClock, seededRandom } from './clock.js';
import { fluidBound } from './fluid.js';
import { SimNode, type SimWorld } from './node.js';
import { Uplink, type UplinkStream } from './uplink.js';

export interface SwarmSimOptions {
  /** Downloading nodes. */
  nodes: number;
  fileBytes: number;
  pieceLength: number;
  /** Upload of each node, bytes/s; a list is cycled over the nodes (heterogeneous caps). */
  upload: number | readonly number[];
  /** Download of each node, bytes/s. @default Infinity */
  download?: number;
  /** The origin's upload, bytes/s. */
  originUpload: number;
  /** One-way latency between hosts, ms. @default 10 */
  latencyMs?: number;
  /** Nodes announce at uniform random times within this window from 0, ms. @default 0 (a flash crowd) */
  joinWindowMs?: number;
  seed?: number;
  /** @default 50 */
  maxConnections?: number;
  /** Peers the tracker returns per announce. @default 50 */
  numwant?: number;
  policy?: OriginPolicy;
  /** Parallel HTTP requests per node to the origin. @default 4 */
  originConnections?: number;
  /** Give up after this much simulated time. @default 20 x T* */
  limitMs?: number;
  /** Give up after this many events. @default 500 million */
  maxEvents?: number;
  /** Called once a simulated second with every node (for probes and plots). */
  onSecond?: (t: number, nodes: readonly SimNode[]) => void;
}

export interface SwarmSimResult {
  nodes: number;
  fileBytes: number;
  /** The fluid bound, seconds, and which term binds. */
  tStar: number;
  binding: 'server' | 'download' | 'aggregate';
  /** Completion times of the nodes that finished, seconds, sorted. */
  times: number[];
  first: number;
  median: number;
  last: number;
  unfinished: number;
  originBytes: number;
  /** Origin bytes sent in each second of the run. */
  originPerSecond: number[];
  /** Pieces fetched from the origin by more than one node. */
  originDuplicatePieces: number;
  peerBytes: number;
  /** Σ bytes uploaded by nodes / (Σ upload capacity x last), 0..1. */
  uploadUtilisation: number;
  events: number;
  stoppedBy: 'done' | 'idle' | 'time' | 'events';
}

export function simulateSwarm(o: SwarmSimOptions): SwarmSimResult {
  if (!(o.nodes >= 1) || !(o.fileBytes > 0) || !(o.pieceLength > 0) || !(o.originUpload > 0)) throw new RangeError('nodes, fileBytes, pieceLength and originUpload must be positive');
  const clock = new SimClock();
  const random = seededRandom(o.seed ?? 1);
  const ups = Array.from({ length: o.nodes }, (_, i) => (typeof o.upload === 'number' ? o.upload : o.upload[i % o.upload.length]!));
  if (ups.some((u) => !(u > 0))) throw new RangeError('upload rates must be positive');
  const down = o.download ?? Infinity;
  const bound = fluidBound({ fileBytes: o.fileBytes, serverUp: o.originUpload, clientUp: ups, clientDown: ups.map(() => down) });
  const numPieces = Math.ceil(o.fileBytes / o.pieceLength);
  const byKey = new Map<string, SimNode>();
  let doneCount = 0;
  const originUplink = new Uplink(clock, o.originUpload);
  const originPerSecond: number[] = [];
  const debug = process.env.SIM_DEBUG === '1';

  const world: SimWorld = {
    clock,
    latencyMs: o.latencyMs ?? 10,
    numPieces,
    pieceLength: o.pieceLength,
    totalLength: o.fileBytes,
    maxConnections: o.maxConnections ?? 50,
    policy: o.policy ?? 'balanced',
    originConnections: o.originConnections ?? 4,
    node: (key) => byKey.get(key),
    originFetch(from, run, block) {
      // The request reaches the origin one latency later; its answer is one stream of blocks.
      clock.after(world.latencyMs, () => originUplink.wake(runStream(from, run, block)));
    },
    nodeDone() {
      doneCount++;
    },
  };

  const runStream = (from: SimNode, run: readonly BlockRequest[], block: (r: BlockRequest) => void): UplinkStream => {
    let i = 0;
    return {
      queued: false,
      next() {
        if (i >= run.length || !from.wantsOrigin) return null;
        const r = run[i++]!;
        return {
          bytes: r.length,
          sent: () => {
            const sec = Math.floor(clock.now() / 1000);
            originPerSecond[sec] = (originPerSecond[sec] ?? 0) + r.length;
            if (debug) console.error(`origin ${clock.now().toFixed(0)} -> ${from.index} piece ${r.index}:${r.begin}`);
            clock.at(from.downlink.arrival(clock.now() + world.latencyMs, r.length), () => block(r));
          },
        };
      },
    };
  };

  const nodes = ups.map((u, i) => {
    const n = new SimNode(world, i + 1, Math.floor(random() * 2 ** 32), u, down);
    byKey.set(n.key, n);
    return n;
  });

  // The tracker: each announce gets up to numwant random peers among those that announced before.
  const announced: SimNode[] = [];
  const numwant = o.numwant ?? 50;
  const window = o.joinWindowMs ?? 0;
  const joins = nodes.map((n) => ({ n, at: window > 0 ? random() * window : 0 })).sort((a, b) => a.at - b.at);
  for (const { n, at } of joins) {
    clock.at(at, () => {
      const pool = announced.slice();
      const got: SimNode[] = [];
      while (got.length < numwant && pool.length) {
        const k = Math.floor(random() * pool.length);
        got.push(pool[k]!);
        pool[k] = pool[pool.length - 1]!;
        pool.pop();
      }
      announced.push(n);
      n.join(got, true);
    });
  }

  if (o.onSecond) {
    const probe = o.onSecond;
    clock.every(1000, () => probe(clock.now(), nodes));
  }
  const limitMs = o.limitMs ?? 20 * bound.seconds * 1000;
  const stoppedBy = clock.run({ untilMs: limitMs, maxEvents: o.maxEvents ?? 500_000_000, done: () => doneCount === nodes.length });
  for (const n of nodes) n.stop();

  const times = nodes.filter((n) => n.doneAt !== null).map((n) => (n.doneAt! - 0) / 1000).sort((a, b) => a - b);
  const last = times.length ? times[times.length - 1]! : NaN;
  const pieceFetches = new Map<number, number>();
  for (const n of nodes) for (const p of n.originPieces) pieceFetches.set(p, (pieceFetches.get(p) ?? 0) + 1);
  const uploaded = nodes.reduce((s, n) => s + n.uploaded, 0);
  const capacity = ups.reduce((s, u) => s + u, 0) * last;
  return {
    nodes: o.nodes,
    fileBytes: o.fileBytes,
    tStar: bound.seconds,
    binding: bound.binding,
    times,
    first: times[0] ?? NaN,
    median: times.length ? times[Math.floor((times.length - 1) / 2)]! : NaN,
    last,
    unfinished: nodes.length - times.length,
    originBytes: originUplink.bytesSent,
    originPerSecond: Array.from(originPerSecond, (b) => b ?? 0),
    originDuplicatePieces: [...pieceFetches.values()].filter((k) => k > 1).length,
    peerBytes: nodes.reduce((s, n) => s + n.bytesFromPeers, 0),
    uploadUtilisation: capacity > 0 ? uploaded / capacity : 0,
    events: clock.executed,
    stoppedBy,
  };
}
