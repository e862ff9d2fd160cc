/**
 * A simulated Mainline DHT: N real DhtNodes (src/dht: routing table, transactions, handlers,
 * stores, lookups) on one SimClock and an in-memory network, deterministic from a seed. It
 * answers what a loopback test of six libtorrent nodes cannot: do lookups reach the k closest
 * nodes in O(log N) rounds as N grows, and do stored items survive nodes leaving and joining.
 *
 * Network: every packet takes `latencyMs`; a node that has left drops everything (its address
 * stays silent, as on the real network). Promise continuations run between events (setImmediate),
 * so the nodes' async code runs as it would on a real event loop, in a deterministic order.
 */
import { bencode } from '../codec/bencode.js';
import { compareDistance, randomId } from '../codec/dht-id.js';
import { type Endpoint } from '../codec/krpc.js';
import { DhtNode } from '../dht/node.js';
import { SimClock, type SimEvent, seededRandom } from './clock.js';

export interface DhtSimOptions {
  nodes: number;
  /** Lookups of random targets to measure. @default 200 */
  lookups?: number;
  /** Immutable items to put before churn and get after. @default 50 */
  items?: number;
  /** Fraction of nodes that leave, replaced by as many new ones, between put and get. @default 0.2 */
  churn?: number;
  latencyMs?: number;
  seed?: number;
}

export interface DhtSimResult {
  nodes: number;
  /** Rounds (dependent query depth) and queries per lookup: median and 99th percentile. */
  rounds: { median: number; p99: number };
  messages: { median: number; p99: number };
  /** Fraction of lookups whose 8 closest found are the true 8 closest live nodes. */
  exactK: number;
  /** Mean fraction of the true 8 closest found. */
  closestFound: number;
  items: number;
  /** Items found again after churn. */
  itemsFound: number;
  packets: number;
  simSeconds: number;
}

export async function simulateDht(o: DhtSimOptions): Promise<DhtSimResult> {
  if (!(o.nodes >= 16)) throw new RangeError('a simulated DHT needs at least 16 nodes');
  const clock = new SimClock();
  const random = seededRandom(o.seed ?? 1);
  const latency = o.latencyMs ?? 20;
  const live = new Map<string, { node: DhtNode; addr: Endpoint }>();
  const timers = { now: clock.now, setTimeout: (fn: () => void, ms: number) => clock.after(ms, fn), clearTimeout: (h: unknown) => clock.cancel(h as SimEvent) };
  let packets = 0;
  let made = 0;

  const spawn = (): { node: DhtNode; addr: Endpoint } => {
    const i = made++;
    const addr = { host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 6881 };
    const node = new DhtNode({
      id: randomId(random),
      random,
      randomBytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256)),
      timers,
      transport: {
        send(packet, host, port) {
          packets++;
          const copy = Uint8Array.from(packet);
          clock.after(latency, () => live.get(`${host}:${port}`)?.node.onPacket(copy, addr));
        },
      },
      // A simulated node may be asked far more often than a real one by the measuring lookups.
      sourceRate: 1_000_000,
    });
    const entry = { node, addr };
    live.set(`${addr.host}:${addr.port}`, entry);
    return entry;
  };

  async function drive<T>(p: Promise<T>): Promise<T> {
    let settled = false;
    const out = p.finally(() => (settled = true));
    for (let i = 0; i < 50_000_000 && !settled; i++) {
      const r = clock.run({ untilMs: Infinity, maxEvents: 1 });
      await new Promise((res) => setImmediate(res));
      if (r === 'idle' && !settled) await new Promise((res) => setImmediate(res));
      if (r === 'idle' && clock.pending === 0 && !settled) break;
    }
    return out;
  }

  // Joining: each node bootstraps from a random node already in, as a real node from its saved table.
  const first = spawn();
  const members = [first];
  for (let i = 1; i < o.nodes; i++) {
    const via = members[Math.floor(random() * members.length)]!;
    const n = spawn();
    await drive(n.node.bootstrap([via.addr]));
    members.push(n);
  }

  const liveNodes = () => [...live.values()];
  const trueClosest = (target: Uint8Array, k: number) =>
    liveNodes()
      .map((e) => e.node.id)
      .sort((a, b) => compareDistance(target, a, b))
      .slice(0, k);
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

  const rounds: number[] = [];
  const messages: number[] = [];
  let exact = 0;
  let foundShare = 0;
  const lookups = o.lookups ?? 200;
  for (let i = 0; i < lookups; i++) {
    const from = members[Math.floor(random() * members.length)]!;
    const target = randomId(random);
    const r = await drive(from.node.findNode(target));
    rounds.push(r.rounds);
    messages.push(r.queried);
    const want = new Set(trueClosest(target, 8).filter((id) => hex(id) !== hex(from.node.id)).slice(0, 8).map(hex));
    const got = r.closest.map((n) => hex(n.id)).filter((h) => want.has(h)).length;
    if (got === Math.min(8, want.size)) exact++;
    foundShare += got / Math.max(1, Math.min(8, want.size));
  }

  // Items: put, churn, get.
  const itemCount = o.items ?? 50;
  const targets: Uint8Array[] = [];
  for (let i = 0; i < itemCount; i++) {
    const from = members[Math.floor(random() * members.length)]!;
    const v = bencode(Buffer.from(`item ${i} of the simulated DHT`));
    targets.push((await drive(from.node.putImmutable(v))).target);
  }
  const churn = Math.floor((o.churn ?? 0.2) * o.nodes);
  for (let i = 0; i < churn; i++) {
    const k = Math.floor(random() * members.length);
    const gone = members.splice(k, 1)[0]!;
    gone.node.close();
    live.delete(`${gone.addr.host}:${gone.addr.port}`);
  }
  for (let i = 0; i < churn; i++) {
    const via = members[Math.floor(random() * members.length)]!;
    const n = spawn();
    await drive(n.node.bootstrap([via.addr]));
    members.push(n);
  }
  let itemsFound = 0;
  for (const t of targets) {
    const from = members[Math.floor(random() * members.length)]!;
    if (await drive(from.node.getImmutable(t))) itemsFound++;
  }
  for (const m of members) m.node.close();

  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))] ?? NaN;
  };
  return {
    nodes: o.nodes,
    rounds: { median: pct(rounds, 0.5), p99: pct(rounds, 0.99) },
    messages: { median: pct(messages, 0.5), p99: pct(messages, 0.99) },
    exactK: exact / Math.max(1, lookups),
    closestFound: foundShare / Math.max(1, lookups),
    items: itemCount,
    itemsFound,
    packets,
    simSeconds: clock.now() / 1000,
  };
}
