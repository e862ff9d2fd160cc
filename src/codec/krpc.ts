/**
 * KRPC, the packet format of the Mainline DHT (BEP 5): queries, responses and errors, with the
 * IPv6 node lists and `want` of BEP 32, the `ip` key of BEP 42, read-only nodes (BEP 43) and the
 * get/put messages of BEP 44.
 *
 * For: one UDP datagram to one typed message and back. Not for: matching a response to its query
 * (by transaction id: the node does that, as a response does not say what it answers), routing
 * tables, tokens, or BEP 44 signatures and targets. So that the node can check signatures, a BEP
 * 44 `v` is kept as the exact bencoded bytes found in the packet. Pure: no sockets.
 *
 * Strict where a field carries the message's meaning: `t`, `y`, `q`, `a`, `r`, `e`, ids, targets,
 * node lists, ports, tokens and integers are checked, and anything wrong throws KrpcDecodeError.
 * Lenient where BEP 5 asks for it: unknown keys are ignored, and so are the advisory envelope keys
 * (`v` version, `ip`, `ro`) when they have the wrong type or size, since a node should not drop a
 * good answer over a version string. `values` entries that are not 6 or 18 bytes are skipped:
 * each entry is its own string, so one bad entry says nothing about the others (unlike `nodes`,
 * one string cut into 26-byte records, where a wrong length means the records cannot be found).
 * Decoded byte fields are copies, so a message kept in a routing table does not pin the packet.
 */
import { SeedbankError } from '../errors.js';
import { type BDict, type BEncodable, type BValue, BencodeError, bdecode, bdecodeWithSpans, bencode } from './bencode.js';
import { formatIp, parseIp } from './extensions.js';

/** decodeKrpc refuses larger packets before parsing; encodeKrpc refuses to make one. */
export const MAX_PACKET = 1500;
export const NODE_ID_LENGTH = 20;
/** Transaction ids are 2-4 bytes in practice; longer ones up to this are accepted. */
export const MAX_TRANSACTION_ID_LENGTH = 16;
/** A client version is 4 bytes in practice (BEP 5 `v`); longer ones are ignored on decode. */
export const MAX_VERSION_LENGTH = 64;
/** BEP 44: the bencoded `v` of a put may be at most this long (else error 205). */
export const MAX_VALUE_LENGTH = 1000;
/** BEP 44: the salt of a mutable item may be at most this long (else error 207). */
export const MAX_SALT_LENGTH = 64;

/** Error codes of KRPC error messages (BEP 5, BEP 44). */
export const KRPC_ERROR = {
  GENERIC: 201,
  SERVER: 202,
  PROTOCOL: 203,
  METHOD_UNKNOWN: 204,
  VALUE_TOO_BIG: 205,
  INVALID_SIGNATURE: 206,
  SALT_TOO_BIG: 207,
  CAS_MISMATCH: 301,
  SEQ_TOO_LOW: 302,
} as const;

export type KrpcDecodeErrorCode =
  /** Longer than MAX_PACKET: not parsed at all. */
  | 'KRPC_TOO_LARGE'
  /** Not bencode, or not the shape of a KRPC message. */
  | 'KRPC_MALFORMED';

/** A packet that is not a KRPC message. Dropping it (and perhaps answering `reply`) is all to do. */
export class KrpcDecodeError extends SeedbankError {
  override name = 'KrpcDecodeError';
  declare readonly code: KrpcDecodeErrorCode;
  constructor(
    code: KrpcDecodeErrorCode,
    message: string,
    /**
     * Set when the packet was a query whose transaction id could be read, so that the node can
     * answer with a KRPC error of this code: 203, or BEP 44's 205 and 207 for a put's `v` or salt.
     */
    readonly reply?: { t: Uint8Array; code: number },
  ) {
    super(code, message);
  }
}

/** An address as text (IPv4 dotted, IPv6 as Node prints it) and a port. */
export interface Endpoint {
  host: string;
  port: number;
}

/** A DHT node: its id and the address its compact node info names. */
export interface NodeInfo extends Endpoint {
  id: Uint8Array;
}

/** Keys every message may carry. */
export interface KrpcEnvelope {
  /** Transaction id, 1-16 bytes, echoed by the response. */
  t: Uint8Array;
  /** Client version (BEP 5 `v`), at most 64 bytes. */
  v?: Uint8Array;
  /** BEP 42: the receiver's address as the sender sees it. */
  ip?: Endpoint;
}

interface QueryBase extends KrpcEnvelope {
  kind: 'query';
  /** The sender's node id. */
  id: Uint8Array;
  /** BEP 43: the sender is read-only and must not be added to routing tables. */
  ro?: boolean;
}

/** BEP 32: the address families whose nodes a querier wants back. */
export type Want = 'n4' | 'n6';

export type PingQuery = QueryBase & { method: 'ping' };
export type FindNodeQuery = QueryBase & { method: 'find_node'; target: Uint8Array; want?: Want[] };
export type GetPeersQuery = QueryBase & { method: 'get_peers'; infoHash: Uint8Array; want?: Want[] };
/** `impliedPort`: the peer's port is the UDP source port of the query, and `port` is to be ignored. */
export type AnnouncePeerQuery = QueryBase & { method: 'announce_peer'; infoHash: Uint8Array; port: number; token: Uint8Array; impliedPort?: boolean };
/** BEP 44 get; `seq`: answer with `v` only if the stored sequence number is greater. */
export type GetQuery = QueryBase & { method: 'get'; target: Uint8Array; seq?: number };
/** BEP 44 put: immutable (no k, sig, seq, cas, salt) or mutable (k, sig and seq, maybe cas, salt). */
export type PutQuery = QueryBase & Bep44Fields & { method: 'put'; token: Uint8Array; value: Uint8Array; cas?: number; salt?: Uint8Array };
/** A method this codec does not know, to be answered with error 204; `args` is all of `a`, `id` included. */
export type UnknownQuery = QueryBase & { method: string; args: BDict };

export type KnownQuery = PingQuery | FindNodeQuery | GetPeersQuery | AnnouncePeerQuery | GetQuery | PutQuery;
export type KrpcQuery = KnownQuery | UnknownQuery;

/** BEP 44 fields shared by put and the responses to get. */
interface Bep44Fields {
  /** The exact bencoded bytes of `v`, over which signatures and immutable targets are computed. */
  value?: Uint8Array;
  /** Ed25519 public key (32 bytes) and signature (64 bytes) of a mutable item. */
  k?: Uint8Array;
  sig?: Uint8Array;
  seq?: number;
}

/** Any response: which fields make sense depends on the query, known by transaction id. */
export interface KrpcResponse extends KrpcEnvelope, Bep44Fields {
  kind: 'response';
  id: Uint8Array;
  nodes?: NodeInfo[];
  nodes6?: NodeInfo[];
  /** Peers of get_peers, IPv4 and IPv6 in the order sent. */
  values?: Endpoint[];
  token?: Uint8Array;
}

export interface KrpcError extends KrpcEnvelope {
  kind: 'error';
  code: number;
  message: string;
}

export type KrpcMessage = KrpcQuery | KrpcResponse | KrpcError;

const KNOWN_METHODS: ReadonlySet<string> = new Set(['ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put']);

/**
 * Whether a query's method is one this codec does not know. TypeScript cannot tell an UnknownQuery
 * from a known one by `method` alone (any string might be 'ping'), so narrow with this first.
 */
export function isUnknownQuery(q: KrpcQuery): q is UnknownQuery {
  return !KNOWN_METHODS.has(q.method);
}

// ---------------------------------------------------------------------------------------------
// Decoding

type Fail = (what: string, reply?: number) => KrpcDecodeError;

/**
 * KRPC envelopes are decoded with dictionary keys in any order: not every DHT client sorts them,
 * and nothing hashes an envelope. What is signed or hashed (a put's `v`, an item's value) is kept
 * as the exact bytes received and checked strictly where it matters (bep44.ts).
 */
const KRPC_DECODE = { unsortedKeys: true } as const;

/** Decodes one packet. Throws KrpcDecodeError for anything that is not a well-formed KRPC message. */
export function decodeKrpc(packet: Uint8Array): KrpcMessage {
  if (packet.length > MAX_PACKET) {
    throw new KrpcDecodeError('KRPC_TOO_LARGE', `KRPC packet of ${packet.length} bytes; the most is ${MAX_PACKET}`);
  }
  let top: BValue;
  let spans: Map<string, [number, number]>;
  try {
    ({ value: top, topLevelSpans: spans } = bdecodeWithSpans(packet, KRPC_DECODE));
  } catch (e) {
    if (e instanceof BencodeError) throw new KrpcDecodeError('KRPC_MALFORMED', `KRPC packet: ${e.message}`);
    throw e;
  }
  const raw: RawSpan = (key) => copy(packet.subarray(...spans.get(key)!));
  const malformed: Fail = (what) => new KrpcDecodeError('KRPC_MALFORMED', `KRPC packet: ${what}`);
  if (!(top instanceof Map)) throw malformed('not a bencoded dictionary');
  const t = top.get('t');
  if (!(t instanceof Uint8Array) || t.length < 1 || t.length > MAX_TRANSACTION_ID_LENGTH) {
    throw malformed(`t is not a transaction id of 1-${MAX_TRANSACTION_ID_LENGTH} bytes`);
  }
  const y = top.get('y');
  const type = y instanceof Uint8Array && y.length === 1 ? String.fromCharCode(y[0]!) : '';
  const env: KrpcEnvelope = { t: copy(t) };
  const v = top.get('v');
  if (v instanceof Uint8Array && v.length <= MAX_VERSION_LENGTH) env.v = copy(v);
  const ip = top.get('ip');
  if (ip instanceof Uint8Array && (ip.length === 6 || ip.length === 18)) env.ip = compactEndpoint(ip);

  if (type === 'q') {
    const fail: Fail = (what, reply = KRPC_ERROR.PROTOCOL) =>
      new KrpcDecodeError('KRPC_MALFORMED', `KRPC query: ${what}`, { t: copy(t), code: reply });
    return decodeQuery(top, env, fail, raw);
  }
  if (type === 'r') {
    const fail: Fail = (what) => new KrpcDecodeError('KRPC_MALFORMED', `KRPC response: ${what}`);
    return decodeResponse(top, env, fail, raw);
  }
  if (type === 'e') {
    const e = top.get('e');
    if (!Array.isArray(e) || e.length < 2 || typeof e[0] !== 'number' || !(e[1] instanceof Uint8Array)) {
      throw malformed('e is not a list [code, message]');
    }
    return { kind: 'error', ...env, code: e[0], message: utf8(e[1]) };
  }
  throw malformed("y is not 'q', 'r' or 'e'");
}

/** A copy of the exact bytes of a top-level value ('a' or 'r'), as found in the packet. */
type RawSpan = (key: string) => Uint8Array;

/**
 * The exact bytes of `v` inside a dictionary's bytes, found by parsing them again. Exact bytes
 * rather than a re-encoding, so a signature check never depends on our encoder agreeing with
 * whoever signed.
 */
function valueBytes(dict: Uint8Array): Uint8Array {
  const [start, end] = bdecodeWithSpans(dict, KRPC_DECODE).topLevelSpans.get('v')!;
  return dict.slice(start, end);
}

function decodeQuery(top: BDict, env: KrpcEnvelope, fail: Fail, raw: RawSpan): KrpcQuery {
  const q = top.get('q');
  if (!(q instanceof Uint8Array)) throw fail('q (the method) is not a byte string');
  const a = top.get('a');
  if (!(a instanceof Map)) throw fail('a (the arguments) is not a dictionary');
  const base: QueryBase = { kind: 'query', ...env, id: needBytes(a, 'id', fail, NODE_ID_LENGTH), ro: top.get('ro') === 1 || undefined };
  const method = utf8(q);
  switch (method) {
    case 'ping':
      return defined({ ...base, method });
    case 'find_node':
      return defined({ ...base, method, target: needBytes(a, 'target', fail, NODE_ID_LENGTH), want: want(a, fail) });
    case 'get_peers':
      return defined({ ...base, method, infoHash: needBytes(a, 'info_hash', fail, NODE_ID_LENGTH), want: want(a, fail) });
    case 'announce_peer': {
      const port = optInt(a, 'port', fail, 0xffff);
      if (port === undefined) throw fail('port is missing');
      const implied = optInt(a, 'implied_port', fail, 1);
      const infoHash = needBytes(a, 'info_hash', fail, NODE_ID_LENGTH);
      return defined({ ...base, method, infoHash, port, token: needBytes(a, 'token', fail), impliedPort: implied === undefined ? undefined : implied === 1 });
    }
    case 'get':
      return defined({ ...base, method, target: needBytes(a, 'target', fail, NODE_ID_LENGTH), seq: optInt(a, 'seq', fail) });
    case 'put': {
      const token = needBytes(a, 'token', fail);
      if (!a.has('v')) throw fail('v is missing');
      const value = valueBytes(raw('a'));
      if (value.length > MAX_VALUE_LENGTH) throw fail(`v is ${value.length} bytes; the most is ${MAX_VALUE_LENGTH}`, KRPC_ERROR.VALUE_TOO_BIG);
      const salt = optBytes(a, 'salt', fail);
      if (salt !== undefined && salt.length > MAX_SALT_LENGTH) {
        throw fail(`salt is ${salt.length} bytes; the most is ${MAX_SALT_LENGTH}`, KRPC_ERROR.SALT_TOO_BIG);
      }
      const k = optBytes(a, 'k', fail, 32);
      const sig = optBytes(a, 'sig', fail, 64);
      const put = defined<PutQuery>({ ...base, method, token, value, k, sig, seq: optInt(a, 'seq', fail), cas: optInt(a, 'cas', fail), salt });
      checkPutShape(put, fail);
      return put;
    }
    default:
      // A fresh parse of a copy of `a`, so that its byte strings do not pin the packet either.
      return defined({ ...base, method, args: bdecode(raw('a'), KRPC_DECODE) as BDict });
  }
}

/** BEP 44: a mutable item comes with its key, signature and sequence number; cas and salt only with them. */
function checkPutShape(p: PutQuery, fail: (what: string) => Error): void {
  const mutable = [p.k, p.sig, p.seq].filter((x) => x !== undefined).length;
  if (mutable !== 0 && mutable !== 3) throw fail('a mutable put needs k, sig and seq together');
  if (mutable === 0 && (p.cas !== undefined || p.salt !== undefined)) throw fail('cas and salt need a mutable put (k, sig, seq)');
}

/** BEP 32 `want`. Families this codec does not know (a future 'n5') are dropped, as BEP 32 readers should. */
function want(a: BDict, fail: Fail): Want[] | undefined {
  const w = a.get('want');
  if (w === undefined) return undefined;
  if (!Array.isArray(w) || !w.every((x) => x instanceof Uint8Array)) throw fail('want is not a list of byte strings');
  return w.map((x) => utf8(x as Uint8Array)).filter((s): s is Want => s === 'n4' || s === 'n6');
}

function decodeResponse(top: BDict, env: KrpcEnvelope, fail: Fail, raw: RawSpan): KrpcResponse {
  const r = top.get('r');
  if (!(r instanceof Map)) throw fail('r is not a dictionary');
  const nodes = optBytes(r, 'nodes', fail);
  const nodes6 = optBytes(r, 'nodes6', fail);
  const values = r.get('values');
  if (values !== undefined && !Array.isArray(values)) throw fail('values is not a list');
  const value = r.has('v') ? valueBytes(raw('r')) : undefined;
  if (value !== undefined && value.length > MAX_VALUE_LENGTH) throw fail(`v is ${value.length} bytes; the most is ${MAX_VALUE_LENGTH}`);
  return defined<KrpcResponse>({
    kind: 'response',
    ...env,
    id: needBytes(r, 'id', fail, NODE_ID_LENGTH),
    nodes: nodes && decodeNodes(nodes, 4),
    nodes6: nodes6 && decodeNodes(nodes6, 6),
    values: values?.filter((p): p is Uint8Array => p instanceof Uint8Array && (p.length === 6 || p.length === 18)).map(compactEndpoint),
    token: optBytes(r, 'token', fail),
    value,
    k: optBytes(r, 'k', fail, 32),
    sig: optBytes(r, 'sig', fail, 64),
    seq: optInt(r, 'seq', fail),
  });
}

/** `o` without its undefined keys, so that a decoded message equals one built without them. */
function defined<T extends object>(o: T): T {
  for (const [k, v] of Object.entries(o)) if (v === undefined) delete (o as Record<string, unknown>)[k];
  return o;
}

function optBytes(d: BDict, key: string, fail: Fail, length?: number): Uint8Array | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) throw fail(`${key} is not a byte string`);
  if (length !== undefined && v.length !== length) throw fail(`${key} is ${v.length} bytes, not ${length}`);
  return copy(v);
}

function needBytes(d: BDict, key: string, fail: Fail, length?: number): Uint8Array {
  const v = optBytes(d, key, fail, length);
  if (v === undefined) throw fail(`${key} is missing`);
  return v;
}

/** A non-negative integer up to `max`; bencode's bigints (beyond 2^53) are out of range too. */
function optInt(d: BDict, key: string, fail: Fail, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || v < 0 || v > max) throw fail(`${key} is not an integer from 0 to ${max}`);
  return v;
}

/** Compact node infos: 26 bytes each for IPv4, 38 for IPv6 (id, address, big-endian port). */
export function decodeNodes(buf: Uint8Array, family: 4 | 6): NodeInfo[] {
  const stride = NODE_ID_LENGTH + (family === 4 ? 6 : 18);
  if (buf.length % stride !== 0) {
    throw new KrpcDecodeError('KRPC_MALFORMED', `KRPC ${family === 4 ? 'nodes' : 'nodes6'} of ${buf.length} bytes is not a multiple of ${stride}`);
  }
  const out: NodeInfo[] = [];
  for (let o = 0; o < buf.length; o += stride) {
    out.push({ id: copy(buf.subarray(o, o + NODE_ID_LENGTH)), ...compactEndpoint(buf.subarray(o + NODE_ID_LENGTH, o + stride)) });
  }
  return out;
}

function compactEndpoint(b: Uint8Array): Endpoint {
  const n = b.length - 2;
  return { host: formatIp(b.subarray(0, n)), port: (b[n]! << 8) | b[n + 1]! };
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Encodes a message. Throws RangeError for fields of the wrong size or range, or a packet over MAX_PACKET. */
export function encodeKrpc(m: KrpcMessage): Buffer {
  if (m.t.length < 1 || m.t.length > MAX_TRANSACTION_ID_LENGTH) throw new RangeError(`t must be 1-${MAX_TRANSACTION_ID_LENGTH} bytes`);
  if (m.v !== undefined && m.v.length > MAX_VERSION_LENGTH) throw new RangeError(`v must be at most ${MAX_VERSION_LENGTH} bytes`);
  const top = new Map<string, BEncodable | undefined>([
    ['t', m.t],
    ['v', m.v],
    ['ip', m.ip && compactAddress(m.ip)],
  ]);
  if (m.kind === 'query') {
    top.set('y', 'q').set('q', m.method).set('a', queryArgs(m)).set('ro', m.ro === true ? 1 : undefined);
  } else if (m.kind === 'response') {
    top.set('y', 'r').set('r', responseArgs(m));
  } else {
    if (!Number.isSafeInteger(m.code)) throw new RangeError(`error code ${m.code} is not an integer`);
    top.set('y', 'e').set('e', [m.code, m.message]);
  }
  const out = bencode(top);
  if (out.length > MAX_PACKET) throw new RangeError(`KRPC message of ${out.length} bytes; the most is ${MAX_PACKET}`);
  return out;
}

/** Encodes node infos of one family. Throws RangeError for a host of the other family, a bad id or port. */
export function encodeNodes(nodes: readonly NodeInfo[], family: 4 | 6): Buffer {
  const ipLength = family === 4 ? 4 : 16;
  const stride = NODE_ID_LENGTH + ipLength + 2;
  const out = Buffer.allocUnsafe(nodes.length * stride);
  nodes.forEach((n, i) => {
    const ip = parseIp(n.host);
    if (ip === null || ip.length !== ipLength) throw new RangeError(`${JSON.stringify(n.host)} is not an IPv${family} address`);
    out.set(fixed(n.id, NODE_ID_LENGTH, 'node id'), i * stride);
    out.set(ip, i * stride + NODE_ID_LENGTH);
    out.writeUInt16BE(port(n.port), i * stride + NODE_ID_LENGTH + ipLength);
  });
  return out;
}

function queryArgs(m: KrpcQuery): Map<string, BEncodable | undefined> {
  const id = fixed(m.id, NODE_ID_LENGTH, 'id');
  if (isUnknownQuery(m)) return new Map<string, BEncodable | undefined>([...m.args, ['id', id]]);
  const a = new Map<string, BEncodable | undefined>([['id', id]]);
  switch (m.method) {
    case 'ping':
      break;
    case 'find_node':
      a.set('target', fixed(m.target, NODE_ID_LENGTH, 'target')).set('want', m.want);
      break;
    case 'get_peers':
      a.set('info_hash', fixed(m.infoHash, NODE_ID_LENGTH, 'info_hash')).set('want', m.want);
      break;
    case 'announce_peer':
      a.set('info_hash', fixed(m.infoHash, NODE_ID_LENGTH, 'info_hash')).set('port', port(m.port)).set('token', m.token);
      a.set('implied_port', m.impliedPort === undefined ? undefined : m.impliedPort ? 1 : 0);
      break;
    case 'get':
      a.set('target', fixed(m.target, NODE_ID_LENGTH, 'target')).set('seq', nonNegative(m.seq, 'seq'));
      break;
    case 'put':
      checkPutShape(m, (what) => new RangeError(`put: ${what}`));
      if (m.salt !== undefined && m.salt.length > MAX_SALT_LENGTH) throw new RangeError(`salt must be at most ${MAX_SALT_LENGTH} bytes`);
      a.set('token', m.token).set('v', rawValue(m.value)).set('k', m.k && fixed(m.k, 32, 'k')).set('sig', m.sig && fixed(m.sig, 64, 'sig'));
      a.set('seq', nonNegative(m.seq, 'seq')).set('cas', nonNegative(m.cas, 'cas')).set('salt', m.salt);
      break;
  }
  return a;
}

function responseArgs(m: KrpcResponse): Map<string, BEncodable | undefined> {
  return new Map<string, BEncodable | undefined>([
    ['id', fixed(m.id, NODE_ID_LENGTH, 'id')],
    ['nodes', m.nodes && encodeNodes(m.nodes, 4)],
    ['nodes6', m.nodes6 && encodeNodes(m.nodes6, 6)],
    ['values', m.values?.map(compactAddress)],
    ['token', m.token],
    ['v', m.value && rawValue(m.value)],
    ['k', m.k && fixed(m.k, 32, 'k')],
    ['sig', m.sig && fixed(m.sig, 64, 'sig')],
    ['seq', nonNegative(m.seq, 'seq')],
  ]);
}

/**
 * The value behind raw bencoded bytes, to be encoded back in place. The strict decoder accepts only
 * canonical bencode (ADR 005), and the encoder writes canonical bencode, so the bytes come out
 * exactly as given: a signature over them stays valid.
 */
function rawValue(raw: Uint8Array): BValue {
  if (raw.length > MAX_VALUE_LENGTH) throw new RangeError(`v must be at most ${MAX_VALUE_LENGTH} bytes`);
  try {
    return bdecode(raw);
  } catch (e) {
    if (e instanceof BencodeError) throw new RangeError(`v is not one canonical bencoded value: ${e.message}`, { cause: e });
    throw e;
  }
}

function compactAddress(p: Endpoint): Buffer {
  const ip = parseIp(p.host);
  if (ip === null) throw new RangeError(`${JSON.stringify(p.host)} is not an IP address`);
  const out = Buffer.allocUnsafe(ip.length + 2);
  out.set(ip);
  out.writeUInt16BE(port(p.port), ip.length);
  return out;
}

function fixed(b: Uint8Array, length: number, what: string): Uint8Array {
  if (b.length !== length) throw new RangeError(`${what} must be ${length} bytes, not ${b.length}`);
  return b;
}

function port(p: number): number {
  if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new RangeError(`port ${p} is not 0-65535`);
  return p;
}

function nonNegative(n: number | undefined, what: string): number | undefined {
  if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`${what} ${n} is not a non-negative safe integer`);
  return n;
}

/** A plain Uint8Array copy (Buffer's own slice would be a view). */
function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function utf8(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8');
}
