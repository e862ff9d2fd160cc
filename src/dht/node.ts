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
 *
 * BEP 32: a node with a `family` keeps only nodes of that family (a dual-stack DHT runs one node
 * per socket, see dual.ts); nodes of the other family named in answers go to its `sibling`.
 *
 * BEP 42: every response carries the querier's address (`ip`), and the `ip` in answers to our
 * queries elects our external address (external-address.ts). When the elected address is global
 * and our id is not one BEP 42 allows for it, the node takes a BEP 42 id (`changeId`): the id is
 * mutable rather than the node rebuilt, so that the stores, tokens, counters and every reference
 * to the node survive; the routing table is rebuilt around the new id from the old one's nodes.
 * With `enforceNodeId`, nodes whose ids BEP 42 does not allow for their address are kept out of
 * the table and out of lookups (loopback, private and link-local addresses are exempt).
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { type Ed25519Keys, immutableTarget, mutableTarget, signMutable, verifyMutable } from '../codec/bep44.js';
import { idToHex, idsEqual, isBep42Exempt, isValidNodeIdForIp, nodeIdForIp, randomId } from '../codec/dht-id.js';
import { parseIp } from '../codec/extensions.js';
import { type Endpoint, type KrpcResponse, type NodeInfo, type Want } from '../codec/krpc.js';
import { ExternalAddressVote } from './external-address.js';
import { answerQuery } from './handlers.js';
import { ItemStore } from './item-store.js';
import { type LookupAnswer, type LookupNode, type LookupResult, lookup } from './lookup.js';
import { PeerStore } from './peer-store.js';
import { QueryLimiter } from './query-limiter.js';
import { type NodeContact, RoutingTable, nodeState } from './routing-table.js';
import { type DhtTransport, Rpc, RpcError, type OutgoingQuery, type QueryTarget, type Timers } from './rpc.js';
import { TokenSecrets } from './tokens.js';

/** Former ids remembered (changeId happens once per new external address, so a few suffice). */
const MAX_FORMER_IDS = 8;

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
  /** BEP 32: keep only nodes of this address family. @default undefined (both, one table) */
  family?: 4 | 6;
  /** BEP 42: keep nodes whose id does not match their address out of the table and lookups. @default false */
  enforceNodeId?: boolean;
  /** BEP 42: take an id derived from our external address once enough nodes agree on it. @default true */
  bep42Id?: boolean;
  /** Nodes saved last run (state-file.ts): in the table from the start, questionable until they answer. */
  restore?: readonly NodeContact[];
}

/** What a status command shows of one node (one address family). */
export interface DhtNodeStatus {
  /** Our id, hex. */
  id: string;
  nodes: number;
  buckets: number;
  good: number;
  questionable: number;
  lookups: number;
  queriesAnswered: number;
  queriesRefused: number;
  /** Peers and BEP 44 items stored for others. */
  peers: number;
  items: number;
  /** Our address as the vote of responders has it (BEP 42), or null while unknown. */
  externalAddress: string | null;
  idChanges: number;
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
  readonly rpc: Rpc;
  readonly peers: PeerStore;
  readonly items: ItemStore;
  readonly limiter: QueryLimiter;
  private readonly tokens: TokenSecrets;
  private readonly random: () => number;
  private readonly now: () => number;
  readonly family: 4 | 6 | undefined;
  private readonly enforceNodeId: boolean;
  private readonly bep42Id: boolean;
  private readonly vote = new ExternalAddressVote();
  private selfId: Uint8Array;
  /** Ids we gave up (changeId): other nodes keep naming us under them for a while, and we are not a node to know. */
  private readonly formerIds: Uint8Array[] = [];
  private routing: RoutingTable;
  /** The node of the other address family in a dual-stack DHT (dual.ts sets it). */
  sibling: DhtNode | null = null;
  readonly counters = { queriesAnswered: 0, queriesRefused: 0, lookups: 0, idChanges: 0 };

  constructor(o: DhtNodeOptions) {
    this.random = o.random ?? Math.random;
    this.selfId = o.id ? new Uint8Array(o.id) : randomId(this.random);
    this.family = o.family;
    this.enforceNodeId = o.enforceNodeId ?? false;
    this.bep42Id = o.bep42Id ?? true;
    const now = () => o.timers.now();
    this.now = now;
    this.routing = new RoutingTable(this.selfId, { now, random: this.random });
    if (o.restore?.length) this.routing = this.rebuildTable(o.restore);
    this.rpc = new Rpc({ transport: o.transport, timers: o.timers, selfId: this.selfId, timeoutMs: o.timeoutMs, random: this.random });
    this.tokens = new TokenSecrets({ now, randomBytes: o.randomBytes ?? ((n) => cryptoRandomBytes(n)) });
    this.peers = new PeerStore({ now, random: this.random });
    this.items = new ItemStore({ now });
    this.limiter = new QueryLimiter({ now, sourceRate: o.sourceRate, sourceBurst: o.sourceRate === undefined ? undefined : Math.ceil(o.sourceRate * 2.5) });
  }

  get id(): Uint8Array {
    return this.selfId;
  }

  get table(): RoutingTable {
    return this.routing;
  }

  /** Our external address as responders report it (BEP 42 vote), or null while they do not agree. */
  get externalAddress(): string | null {
    return this.vote.address;
  }

  /**
   * Takes `id` as our id from now on: the routing table is rebuilt around it from the nodes it held
   * (they come back questionable, and the maintenance pings them), and a lookup of the new id
   * fills the new neighbourhood. Queries in flight finish under the old id.
   */
  changeId(id: Uint8Array): void {
    if (id.length !== 20) throw new RangeError(`a node id is 20 bytes, not ${id.length}`);
    this.formerIds.push(this.selfId);
    if (this.formerIds.length > MAX_FORMER_IDS) this.formerIds.shift();
    this.selfId = new Uint8Array(id);
    this.routing = this.rebuildTable(this.routing.nodes());
    this.rpc.setSelfId(this.selfId);
    this.counters.idChanges++;
    if (this.routing.size > 0) void this.findNode(this.selfId).catch(() => {});
  }

  /** Whether a node may enter our table and lookups: our family (BEP 32), an id BEP 42 allows if enforced. */
  accepts(n: NodeContact): boolean {
    if (!(n.port > 0) || this.formerIds.some((f) => idsEqual(f, n.id))) return false;
    if (this.family === undefined && !this.enforceNodeId) return true;
    const ip = parseIp(n.host);
    if (ip === null) return false;
    if (this.family !== undefined && (ip.length === 4 ? 4 : 6) !== this.family) return false;
    return !this.enforceNodeId || isValidNodeIdForIp(n.id, ip);
  }

  /** Nodes another node named (the sibling's answers, say): the acceptable ones go in as hearsay. */
  hear(nodes: readonly NodeContact[]): void {
    for (const n of nodes) if (this.accepts(n)) this.routing.add(n, 'heard');
  }

  status(): DhtNodeStatus {
    const now = this.now();
    const states = this.routing.nodes().map((e) => nodeState(e, now));
    return {
      id: idToHex(this.selfId),
      nodes: states.length,
      buckets: this.routing.buckets().length,
      good: states.filter((s) => s === 'good').length,
      questionable: states.filter((s) => s === 'questionable').length,
      lookups: this.counters.lookups,
      queriesAnswered: this.counters.queriesAnswered,
      queriesRefused: this.counters.queriesRefused,
      peers: this.peers.size,
      items: this.items.size,
      externalAddress: this.vote.address,
      idChanges: this.counters.idChanges,
    };
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
      // BEP 42: the querier's address as we see it, so that it can learn its external address.
      const ip = parseIp(from.host) === null ? undefined : { host: from.host, port: from.port };
      try {
        this.rpc.respond(from, q.t, { nodes, nodes6, values, token, value, k, sig, seq, ip });
      } catch {
        // An answer that cannot be encoded (handlers keep answers within a packet) is not worth a crash: drop it.
      }
    } else this.rpc.respondError(from, q.t, answer.code, answer.message);
    this.counters.queriesAnswered++;
    const querier = { id: q.id, host: from.host, port: from.port };
    if (!q.ro && this.accepts(querier)) this.routing.add(querier, 'queried');
  }

  /** Asks one node; the routing table learns from the outcome. */
  async ask(to: QueryTarget, q: OutgoingQuery): Promise<KrpcResponse> {
    try {
      const r = await this.rpc.query(to, q);
      const responder = { id: r.id, host: to.host, port: to.port };
      if (this.accepts(responder)) this.routing.add(responder, 'responded');
      const named = [...(r.nodes ?? []), ...(r.nodes6 ?? [])];
      for (const n of named) if (this.accepts(n)) this.routing.add(n, 'heard');
      if (this.family !== undefined) this.sibling?.hear(named.filter((n) => !this.accepts(n)));
      if (r.ip) this.voteExternal(to.host, r.ip.host);
      return r;
    } catch (e) {
      if (to.id && e instanceof RpcError && e.code === 'RPC_TIMEOUT') this.routing.failed(to.id);
      throw e;
    }
  }

  /** Pings the given nodes (ids unknown) and looks up our own id through them to fill the table. */
  async bootstrap(nodes: readonly Endpoint[]): Promise<number> {
    await Promise.all(nodes.map((n) => this.ask(n, { method: 'ping' }).catch(() => null)));
    await this.findNode(this.id);
    return this.routing.size;
  }

  findNode(target: Uint8Array): Promise<LookupResult> {
    return this.run(target, (n) => this.ask(n, { method: 'find_node', target, want: this.want() }).then((r) => this.nodesOf(r)));
  }

  /** Peers of an info hash (20 bytes: v1, or the truncated v2 hash), and the closest nodes with their tokens. */
  getPeers(infoHash: Uint8Array): Promise<LookupResult> {
    return this.run(infoHash, (n) => this.ask(n, { method: 'get_peers', infoHash, want: this.want() }).then((r) => ({ ...this.nodesOf(r), values: r.values, token: r.token })));
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
          const a: LookupAnswer<ItemAnswer> = { ...this.nodesOf(r), token: r.token };
          if (r.value !== undefined || r.seq !== undefined) a.value = { value: r.value, k: r.k, sig: r.sig, seq: r.seq };
          return a;
        }),
      enough ? (p) => p.items.some((i) => enough(i.value)) : undefined,
    );
  }

  private run<V = never>(target: Uint8Array, ask: (n: NodeInfo) => Promise<LookupAnswer<V>>, stopWhen?: (p: LookupResult<V>) => boolean): Promise<LookupResult<V>> {
    this.counters.lookups++;
    const start = this.routing.closest(target, this.routing.k * 2).map((n) => ({ id: n.id, host: n.host, port: n.port }));
    return lookup<V>(target, start, ask, { selfId: this.selfId, stopWhen: stopWhen as never });
  }

  /** Sends `send` to each of the closest nodes that gave a token; counts those that acknowledged. */
  private async toClosest(closest: readonly LookupNode[], send: (n: LookupNode, token: Uint8Array) => Promise<unknown>): Promise<number> {
    const results = await Promise.all(closest.filter((n) => n.token).map((n) => send(n, n.token!).then(() => 1, () => 0)));
    return results.reduce<number>((a, b) => a + b, 0);
  }

  /** Periodic upkeep (call about once a minute): ping questionable nodes, refresh stale buckets, expire stores. */
  maintain(): void {
    for (const n of this.routing.questionable().slice(0, 8)) void this.ask(n, { method: 'ping' }).catch(() => {});
    for (const target of this.routing.staleBuckets().slice(0, 2)) void this.findNode(target).catch(() => {});
    this.peers.sweep();
    this.items.sweep();
  }

  close(): void {
    this.rpc.close();
  }

  /** The nodes an answer names that a lookup may ask next. */
  private nodesOf(r: KrpcResponse): { nodes: NodeInfo[] } {
    return { nodes: [...(r.nodes ?? []), ...(r.nodes6 ?? [])].filter((n) => this.accepts(n)) };
  }

  /**
   * BEP 32 `want`: by default a node answers with nodes of the querier's family, so ask for both
   * only while the sibling's table is short of a bucket's worth (a node that keeps both families,
   * as libtorrent does, then fills it).
   */
  private want(): Want[] | undefined {
    if (this.family === undefined || this.sibling === null || this.sibling.table.size >= this.sibling.table.k) return undefined;
    return this.family === 4 ? ['n4', 'n6'] : ['n6', 'n4'];
  }

  /** One responder's report of our address; a newly elected global address may call for a BEP 42 id. */
  private voteExternal(voter: string, address: string): void {
    const ip = parseIp(address);
    if (ip === null || (this.family !== undefined && (ip.length === 4 ? 4 : 6) !== this.family)) return;
    const before = this.vote.address;
    const elected = this.vote.add(voter, address);
    if (elected === null || elected === before || !this.bep42Id) return;
    const mine = parseIp(elected)!;
    if (isBep42Exempt(mine) || isValidNodeIdForIp(this.selfId, mine)) return;
    this.changeId(nodeIdForIp(mine, Math.floor(this.random() * 256), this.random));
  }

  private rebuildTable(nodes: readonly NodeContact[]): RoutingTable {
    const saved = { nodes: nodes.filter((n) => this.accepts(n)).map((n) => ({ id: idToHex(n.id), host: n.host, port: n.port })) };
    return RoutingTable.fromJSON(saved, { self: this.selfId, now: this.now, random: this.random });
  }
}
