/**
 * The iterative Kademlia lookup (BEP 5): find the k nodes nearest a target (find_node, get_peers,
 * BEP 44 get) by asking the nearest nodes we know, then the nearer ones they name, until the k
 * nearest we have heard of have all answered.
 *
 * For: the order of questions and when to stop. Not for: how a question is asked. The caller passes
 * `ask`, which sends one query (through dht/rpc.ts in real use, an in-memory network in tests) and
 * resolves with what the node named, or rejects on a timeout or error; so this module has no
 * sockets, timers or randomness of its own, and the same answers give the same lookup.
 *
 * Rules:
 * - Candidates are kept nearest first. The window is the k nearest candidates that have not
 *   failed; only nodes in it are asked (nearest first), and the lookup ends when every node in it
 *   has answered ('converged'), or when fewer than k nodes could be found and all have answered
 *   ('exhausted'). A pending node pushed out of the window by nearer ones is no longer waited for.
 * - At most alpha asks are unsettled at any moment, counting those pushed out of the window.
 * - Each node is asked at most once, and so is each address: a node naming many ids at one address
 *   (a Sybil, or a victim it wants us to flood) costs us one question. Our own id can be excluded.
 * - maxQueries caps the questions; once reached, the lookup ends when nothing in the window is
 *   pending ('max-queries'). stopWhen, checked after every answer, can end it early ('stop-when'),
 *   for instance once enough peers are found; asks still unsettled then are abandoned.
 * - Memory is bounded: at most maxCandidates nodes not yet asked (the nearest), at most maxQueries
 *   asked, at most maxValues peers.
 *
 * Rounds: a start node has depth 1 and a node first named in an answer from a node at depth d has
 * depth d + 1. `rounds` is the greatest depth asked, the longest chain of questions that had to
 * wait for one another: O(log N) in a network of N nodes, which is what makes Kademlia work.
 */
import { type Endpoint, type NodeInfo } from '../codec/krpc.js';
import { ID_LENGTH, compareDistance, idToHex, idsEqual } from '../codec/dht-id.js';
import { addressKey } from './rpc.js';

/** Nodes to find (BEP 5's K). */
export const DEFAULT_LOOKUP_K = 8;
/** Questions in flight at once (Kademlia's alpha). */
export const DEFAULT_ALPHA = 3;
/** Questions per lookup at most: a lookup in a network of millions needs a few dozen. */
export const DEFAULT_MAX_QUERIES = 200;
/** Unasked candidates kept, per k: nodes farther than this many are never worth asking. */
export const CANDIDATES_PER_K = 8;
/** Peers (get_peers `values`) kept at most. */
export const DEFAULT_MAX_VALUES = 1000;

/** What one node said: the nodes it knows nearest the target, and for get_peers or get, more. */
export interface LookupAnswer<V = never> {
  nodes: readonly NodeInfo[];
  /** get_peers: peers for the info hash. */
  values?: readonly Endpoint[];
  /** get_peers, get: the token to announce or put to this node with. */
  token?: Uint8Array;
  /** BEP 44 get: the item the node stores, whatever the caller makes of it. */
  value?: V;
}

/** Asks one node; rejects on a timeout or an error reply (the node then counts as failed). */
export type LookupAsk<V = never> = (node: NodeInfo) => Promise<LookupAnswer<V>>;

/** A node that answered, with the token it gave (if any). */
export type LookupNode = NodeInfo & { token?: Uint8Array };

/** What a lookup has found so far; stopWhen sees this after every answer. */
export interface LookupProgress<V = never> {
  /** Up to k nodes that answered, nearest the target first. */
  closest: LookupNode[];
  /** Peers from get_peers answers, each address once, in the order first heard. */
  values: Endpoint[];
  /** BEP 44 values, one per node that gave one, in the order of the answers. */
  items: { from: NodeInfo; value: V }[];
  rounds: number;
  /** Questions asked, answered and failed. */
  queried: number;
  responded: number;
  failed: number;
}

export type LookupStop = 'converged' | 'exhausted' | 'max-queries' | 'stop-when';

export interface LookupResult<V = never> extends LookupProgress<V> {
  /** Why the lookup ended (see the module comment). */
  stopped: LookupStop;
}

export interface LookupOptions<V = never> {
  /** @default DEFAULT_LOOKUP_K (8) */
  k?: number;
  /** @default DEFAULT_ALPHA (3) */
  alpha?: number;
  /** @default DEFAULT_MAX_QUERIES (200) */
  maxQueries?: number;
  /** Unasked candidates kept at most. @default CANDIDATES_PER_K * k */
  maxCandidates?: number;
  /** @default DEFAULT_MAX_VALUES (1000) */
  maxValues?: number;
  /** Our own id: never asked, never in the result. */
  selfId?: Uint8Array;
  /** Ends the lookup early when it returns true. An exception from it rejects the lookup. */
  stopWhen?: (found: LookupProgress<V>) => boolean;
}

type State = 'new' | 'pending' | 'answered' | 'failed';

interface Candidate {
  node: NodeInfo;
  hex: string;
  address: string;
  depth: number;
  state: State;
  token?: Uint8Array;
}

/**
 * Looks up the k nodes nearest `target`, starting from `start` (the routing table's nearest, or
 * bootstrap nodes). Resolves when the lookup ends; rejects only with a RangeError for bad arguments
 * or with what stopWhen threw. A rejected or throwing `ask` counts as a failed node.
 */
export function lookup<V = never>(target: Uint8Array, start: readonly NodeInfo[], ask: LookupAsk<V>, opts: LookupOptions<V> = {}): Promise<LookupResult<V>> {
  const k = opts.k ?? DEFAULT_LOOKUP_K;
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  const maxQueries = opts.maxQueries ?? DEFAULT_MAX_QUERIES;
  const maxCandidates = opts.maxCandidates ?? CANDIDATES_PER_K * k;
  const maxValues = opts.maxValues ?? DEFAULT_MAX_VALUES;
  const bad = [
    target.length !== ID_LENGTH && `a target is ${ID_LENGTH} bytes, not ${target.length}`,
    ...Object.entries({ k, alpha, maxQueries, maxCandidates }).map(([name, n]) => !(Number.isInteger(n) && n >= 1) && `${name} ${n} is not a positive integer`),
    !(Number.isInteger(maxValues) && maxValues >= 0) && `maxValues ${maxValues} is not a non-negative integer`,
    opts.selfId !== undefined && opts.selfId.length !== ID_LENGTH && `selfId is ${opts.selfId.length} bytes, not ${ID_LENGTH}`,
  ].find((x) => x !== false);
  if (bad !== undefined) return Promise.reject(new RangeError(bad));

  return new Promise<LookupResult<V>>((resolve, reject) => {
    /** Nearest the target first. Only unasked ones are ever dropped, so these also remember whom we asked. */
    const candidates: Candidate[] = [];
    const byId = new Map<string, Candidate>();
    const candidateAddresses = new Set<string>();
    const values: Endpoint[] = [];
    const valueKeys = new Set<string>();
    const items: { from: NodeInfo; value: V }[] = [];
    const counts = { rounds: 0, queried: 0, responded: 0, failed: 0 };
    let unasked = 0;
    let inFlight = 0;
    let finished = false;

    const progress = (): LookupProgress<V> => ({
      closest: candidates
        .filter((c) => c.state === 'answered')
        .slice(0, k)
        .map((c) => (c.token === undefined ? copyNode(c.node) : { ...copyNode(c.node), token: c.token })),
      values: values.map((v) => ({ ...v })),
      items: [...items],
      ...counts,
    });

    const finish = (stopped: LookupStop) => {
      finished = true;
      resolve({ ...progress(), stopped });
    };

    /** Position of the first candidate farther from the target than `id` (binary search). */
    const insertionPoint = (id: Uint8Array) => {
      let lo = 0;
      let hi = candidates.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareDistance(target, candidates[mid]!.node.id, id) < 0) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };

    const farthestUnasked = () => {
      for (let i = candidates.length - 1; i >= 0; i--) if (candidates[i]!.state === 'new') return i;
      return -1;
    };

    const learn = (n: NodeInfo, depth: number) => {
      if (!isUsable(n) || (opts.selfId !== undefined && idsEqual(n.id, opts.selfId))) return;
      const hex = idToHex(n.id);
      const known = byId.get(hex);
      if (known !== undefined) {
        // Named again, by a node fewer questions away: it could have been asked that much sooner.
        if (known.state === 'new' && depth < known.depth) known.depth = depth;
        return;
      }
      const address = addressKey(n);
      if (candidateAddresses.has(address)) return;
      if (unasked >= maxCandidates) {
        const far = farthestUnasked();
        if (compareDistance(target, n.id, candidates[far]!.node.id) > 0) return;
        const [out] = candidates.splice(far, 1);
        byId.delete(out!.hex);
        candidateAddresses.delete(out!.address);
        unasked--;
      }
      const c: Candidate = { node: copyNode(n), hex, address, depth, state: 'new' };
      candidates.splice(insertionPoint(n.id), 0, c);
      byId.set(hex, c);
      candidateAddresses.add(address);
      unasked++;
    };

    /** Runs `fn`; an exception (stopWhen's) ends the lookup with it. */
    const guard = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        finished = true;
        reject(e);
      }
    };

    const answered = (c: Candidate, a: LookupAnswer<V>) => {
      c.state = 'answered';
      counts.responded++;
      if (a.token !== undefined) c.token = new Uint8Array(a.token);
      for (const n of a.nodes) learn(n, c.depth + 1);
      for (const v of Array.isArray(a.values) ? a.values : []) {
        const key = v !== null && typeof v === 'object' && isPort(v.port) && typeof v.host === 'string' && v.host !== '' ? addressKey(v) : undefined;
        if (key === undefined || valueKeys.has(key) || values.length >= maxValues) continue;
        valueKeys.add(key);
        values.push({ host: v.host, port: v.port });
      }
      if (a.value !== undefined) items.push({ from: copyNode(c.node), value: a.value });
      if (opts.stopWhen?.(progress())) finish('stop-when');
      else step();
    };

    const failed = (c: Candidate) => {
      c.state = 'failed';
      counts.failed++;
      step();
    };

    const ask1 = (c: Candidate) => {
      c.state = 'pending';
      unasked--;
      counts.queried++;
      counts.rounds = Math.max(counts.rounds, c.depth);
      inFlight++;
      let p: Promise<LookupAnswer<V>>;
      try {
        p = ask(copyNode(c.node));
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        (a) => {
          inFlight--;
          if (finished) return;
          // An answer without a node list is not an answer (the ask function's bug, or a hostile node).
          guard(() => (a !== null && typeof a === 'object' && Array.isArray(a.nodes) ? answered(c, a) : failed(c)));
        },
        () => {
          inFlight--;
          if (!finished) guard(() => failed(c));
        },
      );
    };

    /** Asks what the window allows, or ends the lookup (rules in the module comment). */
    const step = () => {
      let seen = 0;
      let done = 0;
      let pending = false;
      let waiting = false;
      for (const c of candidates) {
        if (c.state === 'failed') continue;
        if (seen === k) break;
        seen++;
        if (c.state === 'new' && inFlight < alpha && counts.queried < maxQueries) ask1(c);
        if (c.state === 'pending') pending = true;
        else if (c.state === 'new') waiting = true;
        else done++;
      }
      if (pending) return;
      // Nodes in the window still to ask, but none can be asked now: alpha asks outside the window
      // are out (wait for them), or the questions are used up.
      if (waiting) {
        if (counts.queried >= maxQueries) finish('max-queries');
        return;
      }
      finish(done >= k ? 'converged' : 'exhausted');
    };

    for (const n of start) learn(n, 1);
    step();
  });
}

function isPort(p: unknown): p is number {
  return Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 0xffff;
}

/** A node we can ask: a 20-byte id, a host, a port other than 0. */
function isUsable(n: NodeInfo): boolean {
  return n !== null && typeof n === 'object' && n.id instanceof Uint8Array && n.id.length === ID_LENGTH && typeof n.host === 'string' && n.host !== '' && isPort(n.port);
}

function copyNode(n: NodeInfo): NodeInfo {
  return { id: new Uint8Array(n.id), host: n.host, port: n.port };
}
