/**
 * One Mainline DHT node (BEP 5, 32, 44): the routing table, the transaction layer, the query
 * handlers, the stores, the query limiter and the lookups, wired together over an injected
 * transport and timers. A UDP socket (udp.ts) or an in-memory network (tests, the simulator)
 * delivers packets to `onPacket`; nothing here opens a socket or reads the wall clock.
 *
 * What the routing table learns: a node that answers us is 'responded'; a node that queries us
 * is 'queried' (unless read-only, BEP 43); nodes named in answers are 'heard'; a query that times
 * out marks its node failed. Private by default: the node only knows the nodes it is given
 * (`bootstrap`) and those it learns from them (ADR 010).
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { type Ed25519Keys, immutableTarget, mutableTarget, signMutable, verifyMutable } from '../codec/bep44.js';
import { randomId } from '../codec/dht-id.js';
import { type Endpoint, type KrpcResponse, type NodeInfo } from '../codec/krpc.js';
import { answerQuery } from './handlers.js';
import { ItemStore } from './item-store.js';
import { type LookupAnswer, type LookupNode, type LookupResult, lookup } from './lookup.js';
import { PeerStore } from './peer-store.js';
import { QueryLimiter } from './query-limiter.js';
import { RoutingTable } from './routing-table.js';
import { type DhtTransport, Rpc, RpcError, type OutgoingQuery, type QueryTarget, type Timers } from './rpc.js';
import { TokenSecrets } from './tokens.js';

export interface DhtNodeOptions {
  transport: DhtTransport;
  timers: Timers;
  /** Our node id. @default random */
  id?: Uint8Array;
  random?: () => number;
  randomBytes?: (n: number) => Uint8Array;
  /** Query timeout, ms. @default 2000 */
  timeoutMs?: number;
  /** Inbound queries per second from one IPv4 address or IPv6 /64 (burst 2.5x). @default 20 */
  sourceRate?: number;
}

/** A mutable item as read from the DHT, its signature checked. */
export interface MutableItem {
  k: Uint8Array;
  salt?: Uint8Array;
  seq: number;
  vBencoded: Uint8Array;
  sig: Uint8Array;
}

interface ItemAnswer {
  value?: Uint8Array;
  k?: Uint8Array;
  sig?: Uint8Array;
  seq?: number;
}

export class DhtNode {
  readonly id: Uint8Array;
  readonly table: RoutingTable;
  readonly rpc: Rpc;
  readonly peers: PeerStore;
  readonly items: ItemStore;
  readonly limiter: QueryLimiter;
  private readonly tokens: TokenSecrets;
  private readonly random: () => number;
  readonly counters = { queriesAnswered: 0, queriesRefused: 0, lookups: 0 };

  constructor(o: DhtNodeOptions) {
    this.random = o.random ?? Math.random;
    this.id = o.id ?? randomId(this.random);
    const now = () => o.timers.now();
    this.table = new RoutingTable(this.id, { now, random: this.random });
    this.rpc = new Rpc({ transport: o.transport, timers: o.timers, selfId: this.id, timeoutMs: o.timeoutMs, random: this.random });
    this.tokens = new TokenSecrets({ now, randomBytes: o.randomBytes ?? ((n) => cryptoRandomBytes(n)) });
    this.peers = new PeerStore({ now, random: this.random });
    this.items = new ItemStore({ now });
    this.limiter = new QueryLimiter({ now, sourceRate: o.sourceRate, sourceBurst: o.sourceRate === undefined ? undefined : Math.ceil(o.sourceRate * 2.5) });
  }

  /** A datagram from `from`: a query is answered (within the rate limit), an answer goes to its query. */
  onPacket(packet: Uint8Array, from: Endpoint): void {
    const r = this.rpc.onPacket(packet, from);
    if (r.kind !== 'query') return;
    const q = r.query;
    if (!this.limiter.allow(from.host)) {
      this.counters.queriesRefused++;
      return; // silently: an answer would feed the flood
    }
    const answer = answerQuery({ selfId: this.id, table: this.table, tokens: this.tokens, peers: this.peers, items: this.items }, q, from);
    if (answer.kind === 'response') {
      const { nodes, nodes6, values, token, value, k, sig, seq } = answer;
      this.rpc.respond(from, q.t, { nodes, nodes6, values, token, value, k, sig, seq });
    } else this.rpc.respondError(from, q.t, answer.code, answer.message);
    this.counters.queriesAnswered++;
    if (!q.ro && from.port > 0) this.table.add({ id: q.id, host: from.host, port: from.port }, 'queried');
  }

  /** Asks one node; the routing table learns from the outcome. */
  async ask(to: QueryTarget, q: OutgoingQuery): Promise<KrpcResponse> {
    try {
      const r = await this.rpc.query(to, q);
      this.table.add({ id: r.id, host: to.host, port: to.port }, 'responded');
      for (const n of [...(r.nodes ?? []), ...(r.nodes6 ?? [])]) if (n.port > 0) this.table.add(n, 'heard');
      return r;
    } catch (e) {
      if (to.id && e instanceof RpcError && e.code === 'RPC_TIMEOUT') this.table.failed(to.id);
      throw e;
    }
  }

  /** Pings the given nodes (ids unknown) and looks up our own id through them to fill the table. */
  async bootstrap(nodes: readonly Endpoint[]): Promise<number> {
    await Promise.all(nodes.map((n) => this.ask(n, { method: 'ping' }).catch(() => null)));
    await this.findNode(this.id);
    return this.table.size;
  }

  findNode(target: Uint8Array): Promise<LookupResult> {
    return this.run(target, (n) => this.ask(n, { method: 'find_node', target }).then(nodesOf));
  }

  /** Peers of an info hash (20 bytes: v1, or the truncated v2 hash), and the closest nodes with their tokens. */
  getPeers(infoHash: Uint8Array): Promise<LookupResult> {
    return this.run(infoHash, (n) => this.ask(n, { method: 'get_peers', infoHash }).then((r) => ({ ...nodesOf(r), values: r.values, token: r.token })));
  }

  /** Looks the hash up and announces us (port, or the UDP source port if `impliedPort`) to the closest nodes. */
  async announce(infoHash: Uint8Array, port: number, impliedPort = false): Promise<{ peers: Endpoint[]; announcedTo: number }> {
    const found = await this.getPeers(infoHash);
    const acks = await this.toClosest(found.closest, (n, token) => this.ask(n, { method: 'announce_peer', infoHash, port, token, impliedPort }));
    return { peers: found.values, announcedTo: acks };
  }

  /** BEP 44: stores an immutable value (bencoded) at the closest nodes; returns its target and how many took it. */
  async putImmutable(vBencoded: Uint8Array): Promise<{ target: Buffer; storedAt: number }> {
    const target = immutableTarget(vBencoded);
    const found = await this.getItems(target);
    return { target, storedAt: await this.toClosest(found.closest, (n, token) => this.ask(n, { method: 'put', token, value: vBencoded })) };
  }

  async getImmutable(target: Uint8Array): Promise<Uint8Array | null> {
    const found = await this.getItems(target, undefined, (a) => a.value !== undefined && immutableTarget(a.value).equals(target));
    const hit = found.items.find((i) => i.value.value !== undefined && immutableTarget(i.value.value).equals(target));
    return hit?.value.value ?? null;
  }

  /** BEP 44: signs and stores a mutable item; `cas`, if given, must be the seq stored now. */
  async putMutable(keys: Ed25519Keys, item: { salt?: Uint8Array; seq: number; vBencoded: Uint8Array; cas?: number }): Promise<{ target: Buffer; storedAt: number }> {
    const target = mutableTarget(keys.publicKey, item.salt);
    const sig = signMutable(keys, item);
    const found = await this.getItems(target);
    const storedAt = await this.toClosest(found.closest, (n, token) =>
      this.ask(n, { method: 'put', token, value: item.vBencoded, k: keys.publicKey, sig, seq: item.seq, salt: item.salt?.length ? item.salt : undefined, cas: item.cas }),
    );
    return { target, storedAt };
  }

  /** The newest correctly signed version of a mutable item, or null. Forged or mismatched answers are ignored. */
  async getMutable(k: Uint8Array, salt?: Uint8Array): Promise<MutableItem | null> {
    const target = mutableTarget(k, salt);
    const valid = (a: ItemAnswer): a is Required<ItemAnswer> =>
      a.value !== undefined && a.k !== undefined && a.sig !== undefined && a.seq !== undefined && Buffer.from(a.k).equals(Buffer.from(k)) && verifyMutable({ k: a.k, salt, seq: a.seq, vBencoded: a.value, sig: a.sig });
    const found = await this.getItems(target);
    let best: MutableItem | null = null;
    for (const { value: a } of found.items) {
      if (valid(a) && (!best || a.seq > best.seq)) best = { k: a.k, salt, seq: a.seq, vBencoded: a.value, sig: a.sig };
    }
    return best;
  }

  /** Answers from the nodes closest to `target` to a BEP 44 get. */
  private getItems(target: Uint8Array, seq?: number, enough?: (a: ItemAnswer) => boolean): Promise<LookupResult<ItemAnswer>> {
    return this.run<ItemAnswer>(
      target,
      (n) =>
        this.ask(n, { method: 'get', target, seq }).then((r) => {
          const a: LookupAnswer<ItemAnswer> = { ...nodesOf(r), token: r.token };
          if (r.value !== undefined || r.seq !== undefined) a.value = { value: r.value, k: r.k, sig: r.sig, seq: r.seq };
          return a;
        }),
      enough ? (p) => p.items.some((i) => enough(i.value)) : undefined,
    );
  }

  private run<V = never>(target: Uint8Array, ask: (n: NodeInfo) => Promise<LookupAnswer<V>>, stopWhen?: (p: LookupResult<V>) => boolean): Promise<LookupResult<V>> {
    this.counters.lookups++;
    const start = this.table.closest(target, this.table.k * 2).map((n) => ({ id: n.id, host: n.host, port: n.port }));
    return lookup<V>(target, start, ask, { selfId: this.id, stopWhen: stopWhen as never });
  }

  /** Sends `send` to each of the closest nodes that gave a token; counts those that acknowledged. */
  private async toClosest(closest: readonly LookupNode[], send: (n: LookupNode, token: Uint8Array) => Promise<unknown>): Promise<number> {
    const results = await Promise.all(closest.filter((n) => n.token).map((n) => send(n, n.token!).then(() => 1, () => 0)));
    return results.reduce<number>((a, b) => a + b, 0);
  }

  /** Periodic upkeep (call about once a minute): ping questionable nodes, refresh stale buckets, expire stores. */
  maintain(): void {
    for (const n of this.table.questionable().slice(0, 8)) void this.ask(n, { method: 'ping' }).catch(() => {});
    for (const target of this.table.staleBuckets().slice(0, 2)) void this.findNode(target).catch(() => {});
    this.peers.sweep();
    this.items.sweep();
  }

  close(): void {
    this.rpc.close();
  }
}

function nodesOf(r: KrpcResponse): { nodes: NodeInfo[] } {
  return { nodes: [...(r.nodes ?? []), ...(r.nodes6 ?? [])].filter((n) => n.port > 0) };
}
