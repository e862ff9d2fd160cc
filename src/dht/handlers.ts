/**
 * How a DHT node answers a query (BEP 5, 32, 44): one pure function from a decoded query, the
 * querier's address and the node's state to the response or error to send back.
 *
 * For: ping, find_node, get_peers, announce_peer, get, put and unknown methods (204). Not for: the
 * transport, rate limiting (the node checks the query limiter before calling this), or adding the
 * querier to the routing table (the node does that after answering, unless the query was `ro`).
 */
import { mutableTarget, immutableTarget } from '../codec/bep44.js';
import { KRPC_ERROR, type Endpoint, type KrpcError, type KrpcQuery, type KrpcResponse, type NodeInfo, type Want, isUnknownQuery } from '../codec/krpc.js';
import { type ItemStore } from './item-store.js';
import { type PeerStore } from './peer-store.js';
import { type RoutingTable } from './routing-table.js';
import { type TokenSecrets } from './tokens.js';

/** Peers in one get_peers answer: 50 compact IPv4 peers keep a packet well under 1,500 bytes. */
export const MAX_VALUES = 50;
/**
 * Bytes of bencoded compact peers in one answer: 50 IPv4 peers take 400 (8 each), IPv6 peers 21
 * each, so 30 of them. With both node lists (BEP 32 `want`), a token and BEP 42's `ip`, the packet
 * stays under 1,500 bytes; 50 IPv6 peers would not.
 */
export const MAX_VALUES_BYTES = 650;

export interface HandlerState {
  selfId: Uint8Array;
  table: RoutingTable;
  tokens: TokenSecrets;
  peers: PeerStore;
  items: ItemStore;
}

export type Answer = Omit<KrpcResponse, 't'> | Omit<KrpcError, 't'>;

export function answerQuery(s: HandlerState, q: KrpcQuery, from: Endpoint): Answer {
  if (isUnknownQuery(q)) return error(KRPC_ERROR.METHOD_UNKNOWN, `method unknown: ${q.method.slice(0, 40)}`);
  const id = s.selfId;
  switch (q.method) {
    case 'ping':
      return { kind: 'response', id };
    case 'find_node':
      return { kind: 'response', id, ...closeNodes(s, q.target, from, q.want) };
    case 'get_peers': {
      const values = withinBytes(s.peers.get(q.infoHash, MAX_VALUES));
      // Nodes too, always: a querier looking for more peers keeps walking toward the hash.
      return { kind: 'response', id, token: s.tokens.token(from.host), ...(values.length ? { values } : {}), ...closeNodes(s, q.infoHash, from, q.want) };
    }
    case 'announce_peer': {
      if (!s.tokens.valid(from.host, q.token)) return error(KRPC_ERROR.PROTOCOL, 'bad token');
      const port = q.impliedPort ? from.port : q.port;
      if (!(port > 0 && port <= 65535)) return error(KRPC_ERROR.PROTOCOL, 'bad port');
      s.peers.add(q.infoHash, { host: from.host, port });
      return { kind: 'response', id };
    }
    case 'get': {
      const item = s.items.get(q.target);
      const base: Omit<KrpcResponse, 't'> = { kind: 'response', id, token: s.tokens.token(from.host), ...closeNodes(s, q.target, from, undefined) };
      if (!item) return base;
      if (item.k === undefined) return { ...base, value: item.vBencoded };
      const seq = Number(item.seq ?? 0);
      // BEP 44: a querier that already has this sequence number (or a newer one) gets no value.
      if (q.seq !== undefined && seq <= q.seq) return { ...base, k: item.k, seq };
      return { ...base, value: item.vBencoded, k: item.k, sig: item.sig, seq };
    }
    case 'put': {
      if (!s.tokens.valid(from.host, q.token)) return error(KRPC_ERROR.PROTOCOL, 'bad token');
      const value = q.value;
      if (value === undefined) return error(KRPC_ERROR.PROTOCOL, 'put without v');
      const target = q.k ? mutableTarget(q.k, q.salt) : immutableTarget(value);
      const r = s.items.put(target, { vBencoded: value, k: q.k, sig: q.sig, seq: q.seq, cas: q.cas, salt: q.salt });
      return r.ok ? { kind: 'response', id } : error(r.code, r.message);
    }
  }
}

/** The K closest good nodes we know, in the families the querier wants (BEP 32; default: its own). */
function closeNodes(s: HandlerState, target: Uint8Array, from: Endpoint, want: Want[] | undefined): { nodes?: NodeInfo[]; nodes6?: NodeInfo[] } {
  const v6From = from.host.includes(':') && !from.host.startsWith('::ffff:');
  const families = want?.length ? want : [v6From ? 'n6' : 'n4'];
  const closest = s.table.closest(target, s.table.k * 2).map((n) => ({ id: n.id, host: n.host, port: n.port }));
  const out: { nodes?: NodeInfo[]; nodes6?: NodeInfo[] } = {};
  if (families.includes('n4')) out.nodes = closest.filter((n) => !n.host.includes(':')).slice(0, s.table.k);
  if (families.includes('n6')) out.nodes6 = closest.filter((n) => n.host.includes(':')).slice(0, s.table.k);
  return out;
}

function withinBytes(values: Endpoint[]): Endpoint[] {
  let bytes = 0;
  let n = 0;
  for (const v of values) {
    bytes += v.host.includes(':') ? 21 : 8;
    if (bytes > MAX_VALUES_BYTES) break;
    n++;
  }
  return values.slice(0, n);
}

function error(code: number, message: string): Omit<KrpcError, 't'> {
  return { kind: 'error', code, message };
}
