/**
 * The transaction layer of one DHT node (BEP 5 KRPC): sends queries, matches the responses and
 * errors that come back to them by transaction id, and times out the ones that never do.
 *
 * For: turning "ask this node X" into a promise. Not for: deciding whom to ask (routing table,
 * lookups), answering queries (the DHT node gets them back from onPacket and calls respond), or
 * sockets and real timers: the transport and the timers are injected, so a test drives it on a
 * simulated clock and network.
 *
 * Trust. A response says nothing about which query it answers except its `t`, so it is accepted only
 * with a `t` we have outstanding and only from the address that query went to; anything else is
 * dropped and counted, and the query keeps waiting for the real answer (a stray or forged packet
 * must not cancel it). When we asked a node whose id we knew, an answer under another id is
 * dropped too: the node at that address is not the one our routing table thinks it is.
 *
 * Transaction ids are 2 bytes, drawn at random for every query (not counted up from a random
 * start) and unique among outstanding queries, so that a node we query cannot predict the ids of
 * our queries to others and forge their answers. Outstanding queries are bounded (maxOutstanding),
 * and so is the memory this holds: one entry and one timer per outstanding query.
 */
import { formatIp, parseIp } from '../codec/extensions.js';
import { type Endpoint, type KnownQuery, type KrpcMessage, type KrpcQuery, type KrpcResponse, KRPC_ERROR, KrpcDecodeError, decodeKrpc, encodeKrpc } from '../codec/krpc.js';
import { SeedbankError } from '../errors.js';

/** How long a query waits for its answer. @default 2000 ms */
export const DEFAULT_QUERY_TIMEOUT_MS = 2000;
/** Queries waiting for an answer at once; more are refused at once. */
export const DEFAULT_MAX_OUTSTANDING = 512;
/** A 2-byte transaction id has this many values, so no more queries than this can be outstanding. */
const TRANSACTION_IDS = 0x10000;
/** Random draws before a linear scan for a free transaction id (draws only collide when nearly full). */
const RANDOM_TID_TRIES = 8;

/** The texts BEP 5 and BEP 44 give the errors a decoder may ask us to answer with. */
const REPLY_TEXT: Record<number, string> = {
  [KRPC_ERROR.PROTOCOL]: 'Protocol Error',
  [KRPC_ERROR.VALUE_TOO_BIG]: 'message (v field) too big',
  [KRPC_ERROR.SALT_TOO_BIG]: 'salt (salt field) too big',
};

/** Sends one UDP datagram. Errors it throws reject the query being sent. */
export interface DhtTransport {
  send(packet: Uint8Array, host: string, port: number): void;
}

/** The clock and timers, injected (a SimClock in tests, the global ones in real use). */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock, with timers that never keep the process alive (the DHT's and LSD's upkeep). */
export const UNREF_TIMERS: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Where a query goes: an address, and the node's id if we know it (then an answer must carry it). */
export interface QueryTarget extends Endpoint {
  id?: Uint8Array;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A known query as the caller writes it: Rpc fills in kind, t, our id and our version. */
export type OutgoingQuery = DistributiveOmit<KnownQuery, 'kind' | 't' | 'id' | 'v'>;

/** The fields of a response as the caller writes them: Rpc fills in kind, t, our id and our version. */
export type ResponseFields = Omit<KrpcResponse, 'kind' | 't' | 'id' | 'v'>;

export type RpcErrorCode =
  /** No answer within the timeout. */
  | 'RPC_TIMEOUT'
  /** The node answered with a KRPC error message: see krpcCode. */
  | 'RPC_ERROR_REPLY'
  /** maxOutstanding queries are already waiting; nothing was sent. */
  | 'RPC_OVERLOADED'
  /** The transport threw while sending. */
  | 'RPC_SEND_FAILED'
  /** close() was called while the query waited. */
  | 'RPC_CLOSED';

/** Why a query did not get a response. */
export class RpcError extends SeedbankError {
  override name = 'RpcError';
  declare readonly code: RpcErrorCode;
  constructor(
    code: RpcErrorCode,
    message: string,
    /** For RPC_ERROR_REPLY: the KRPC error code the node sent (201-207, 301, 302, or its own). */
    readonly krpcCode?: number,
    options?: { cause?: unknown },
  ) {
    super(code, message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Why onPacket dropped a packet. */
export type DropReason =
  /** Not a KRPC message (or too large): nothing to answer. */
  | 'malformed'
  /** A query we could not read; it was answered with the KRPC error the decoder named (203, 205, 207). */
  | 'malformed query'
  /** A response or error whose `t` matches no outstanding query (never sent, or already timed out). */
  | 'unknown transaction'
  /** A matching `t` from an address other than the one the query went to. */
  | 'wrong address'
  /** A response from the right address under another node id than the one we queried. */
  | 'id mismatch';

export type PacketResult = { kind: 'query'; query: KrpcQuery } | { kind: 'handled' } | { kind: 'dropped'; reason: DropReason };

export interface RpcStats {
  /** Packets handed to the transport: queries, responses and errors. */
  sent: number;
  /** Packets handed to onPacket. */
  received: number;
  /** Queries that got no answer in time. */
  timeouts: number;
  /** Packets onPacket dropped, in all; dropReasons counts them by reason. */
  dropped: number;
  dropReasons: Record<DropReason, number>;
}

export interface RpcOptions {
  transport: DhtTransport;
  timers: Timers;
  /** Our node id (20 bytes), sent in every query and response. */
  selfId: Uint8Array;
  /** @default DEFAULT_QUERY_TIMEOUT_MS (2000) */
  timeoutMs?: number;
  /** At most 65,536 (the 2-byte transaction ids). @default DEFAULT_MAX_OUTSTANDING (512) */
  maxOutstanding?: number;
  /** Uniform in [0, 1): transaction ids. @default Math.random */
  random?: () => number;
  /** Our client version (BEP 5 `v`, 4 bytes in practice), sent in every message if given. */
  version?: Uint8Array;
}

interface Pending {
  /** The canonical address the query went to (addressKey). */
  address: string;
  id: Uint8Array | undefined;
  method: string;
  timer: unknown;
  resolve: (r: KrpcResponse) => void;
  reject: (e: RpcError) => void;
}

export class Rpc {
  readonly stats: RpcStats = {
    sent: 0,
    received: 0,
    timeouts: 0,
    dropped: 0,
    dropReasons: { malformed: 0, 'malformed query': 0, 'unknown transaction': 0, 'wrong address': 0, 'id mismatch': 0 },
  };
  private readonly transport: DhtTransport;
  private readonly timers: Timers;
  private selfId: Uint8Array;
  private readonly timeoutMs: number;
  private readonly maxOutstanding: number;
  private readonly random: () => number;
  private readonly version: Uint8Array | undefined;
  /** Transaction id (as a 16-bit number) -> the query waiting for it. */
  private readonly pending = new Map<number, Pending>();

  constructor(opts: RpcOptions) {
    if (opts.selfId.length !== 20) throw new RangeError(`a node id is 20 bytes, not ${opts.selfId.length}`);
    this.transport = opts.transport;
    this.timers = opts.timers;
    this.selfId = new Uint8Array(opts.selfId);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.maxOutstanding = opts.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING;
    this.random = opts.random ?? Math.random;
    this.version = opts.version;
    if (!(this.timeoutMs > 0)) throw new RangeError(`timeoutMs ${this.timeoutMs} is not positive`);
    if (!Number.isInteger(this.maxOutstanding) || this.maxOutstanding < 1 || this.maxOutstanding > TRANSACTION_IDS) {
      throw new RangeError(`maxOutstanding ${this.maxOutstanding} is not 1-${TRANSACTION_IDS}`);
    }
  }

  /** Our id from now on (a BEP 42 id for a newly learned external address); queries already sent keep theirs. */
  setSelfId(id: Uint8Array): void {
    if (id.length !== 20) throw new RangeError(`a node id is 20 bytes, not ${id.length}`);
    this.selfId = new Uint8Array(id);
  }

  /** Queries waiting for an answer. */
  get outstanding(): number {
    return this.pending.size;
  }

  /**
   * Sends a query and resolves with the node's response. Rejects with RpcError: RPC_TIMEOUT,
   * RPC_ERROR_REPLY (the node sent a KRPC error), RPC_OVERLOADED (maxOutstanding already waiting;
   * nothing is sent), RPC_SEND_FAILED or RPC_CLOSED; with RangeError for a query the codec cannot
   * encode (a target of the wrong size, say), which is the caller's bug, not the network's.
   */
  query(to: QueryTarget, q: OutgoingQuery): Promise<KrpcResponse> {
    if (this.pending.size >= this.maxOutstanding) {
      return Promise.reject(new RpcError('RPC_OVERLOADED', `${this.pending.size} DHT queries are already waiting for an answer; try again later`));
    }
    const tid = this.freeTransactionId();
    const t = new Uint8Array([tid >> 8, tid & 0xff]);
    let packet: Uint8Array;
    try {
      packet = encodeKrpc({ ...q, kind: 'query', t, id: this.selfId, v: this.version } as KrpcQuery);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<KrpcResponse>((resolve, reject) => {
      const entry: Pending = { address: addressKey(to), id: to.id && new Uint8Array(to.id), method: q.method, timer: undefined, resolve, reject };
      this.pending.set(tid, entry);
      entry.timer = this.timers.setTimeout(() => {
        if (this.pending.get(tid) !== entry) return;
        this.pending.delete(tid);
        this.stats.timeouts++;
        reject(new RpcError('RPC_TIMEOUT', `no answer to ${q.method} from ${to.host}:${to.port} in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      try {
        this.transport.send(packet, to.host, to.port);
        this.stats.sent++;
      } catch (e) {
        this.settle(tid, entry);
        reject(new RpcError('RPC_SEND_FAILED', `could not send ${q.method} to ${to.host}:${to.port}: ${String(e)}`, undefined, { cause: e }));
      }
    });
  }

  /**
   * Takes one packet from the network. A query is handed back for the node to answer; a response or
   * error that answers an outstanding query settles it ('handled'); anything else is dropped and
   * counted. Never throws on the packet's contents.
   */
  onPacket(packet: Uint8Array, from: Endpoint): PacketResult {
    this.stats.received++;
    let m: KrpcMessage;
    try {
      m = decodeKrpc(packet);
    } catch (e) {
      // Anything the decoder throws (KrpcDecodeError by contract) means the packet is not for us.
      if (!(e instanceof KrpcDecodeError) || e.reply === undefined) return this.drop('malformed');
      // BEP 5: a query we cannot read still deserves an error, so the sender does not wait in vain.
      // The text is short and fixed: a forged source address must not buy a large reply to its victim.
      const reply = e.reply;
      this.trySend(() => this.respondError(from, reply.t, reply.code, REPLY_TEXT[reply.code] ?? 'Protocol Error'));
      return this.drop('malformed query');
    }
    if (m.kind === 'query') return { kind: 'query', query: m };
    const tid = m.t.length === 2 ? (m.t[0]! << 8) | m.t[1]! : -1;
    const entry = this.pending.get(tid);
    if (entry === undefined) return this.drop('unknown transaction');
    if (entry.address !== addressKey(from)) return this.drop('wrong address');
    // A KRPC error carries no node id, so its address and t are all there is to check.
    if (m.kind === 'error') {
      this.settle(tid, entry);
      entry.reject(new RpcError('RPC_ERROR_REPLY', `${from.host}:${from.port} answered ${entry.method} with error ${m.code}: ${oneLine(m.message)}`, m.code));
      return { kind: 'handled' };
    }
    if (entry.id !== undefined && !bytesEqual(entry.id, m.id)) return this.drop('id mismatch');
    this.settle(tid, entry);
    entry.resolve(m);
    return { kind: 'handled' };
  }

  /** Answers query `t` from `to`. Throws RangeError if the fields cannot be encoded (too many values for one packet, say). */
  respond(to: Endpoint, t: Uint8Array, fields: ResponseFields): void {
    this.send(encodeKrpc({ ...fields, kind: 'response', t, id: this.selfId, v: this.version }), to);
  }

  /** Answers query `t` from `to` with a KRPC error (codes in KRPC_ERROR). */
  respondError(to: Endpoint, t: Uint8Array, code: number, message: string): void {
    this.send(encodeKrpc({ kind: 'error', t, v: this.version, code, message }), to);
  }

  /** Rejects every outstanding query with RPC_CLOSED and clears its timer; later queries still work. */
  close(): void {
    for (const [tid, entry] of [...this.pending]) {
      this.settle(tid, entry);
      entry.reject(new RpcError('RPC_CLOSED', `the DHT stopped before ${entry.method} was answered`));
    }
  }

  // -------------------------------------------------------------------------------------------

  private send(packet: Uint8Array, to: Endpoint): void {
    this.transport.send(packet, to.host, to.port);
    this.stats.sent++;
  }

  /** A failure to send an unsolicited error must not turn a bad packet into an exception. */
  private trySend(fn: () => void): void {
    try {
      fn();
    } catch {
      // Nothing to do: the sender of a bad query gets no error, as if the packet were lost.
    }
  }

  private settle(tid: number, entry: Pending): void {
    this.pending.delete(tid);
    this.timers.clearTimeout(entry.timer);
  }

  private drop(reason: DropReason): PacketResult {
    this.stats.dropped++;
    this.stats.dropReasons[reason]++;
    return { kind: 'dropped', reason };
  }

  /** A transaction id no outstanding query uses: random, then the next free one after a random start. */
  private freeTransactionId(): number {
    let tid = 0;
    for (let i = 0; i < RANDOM_TID_TRIES; i++) {
      tid = Math.floor(this.random() * TRANSACTION_IDS) & 0xffff;
      if (!this.pending.has(tid)) return tid;
    }
    // Only reached when the table is nearly full (or `random` is poor); maxOutstanding <= 65,536 keeps one free.
    while (this.pending.has(tid)) tid = (tid + 1) & 0xffff;
    return tid;
  }
}

/**
 * One name per address, "[host]:port": a dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d,
 * which must match a query sent to a.b.c.d. Hosts that are not IP addresses are kept as given.
 */
export function addressKey(e: Endpoint): string {
  let ip = parseIp(e.host);
  if (ip !== null && ip.length === 16 && ip.subarray(0, 10).every((x) => x === 0) && ip[10] === 0xff && ip[11] === 0xff) ip = ip.subarray(12);
  return `[${ip === null ? e.host : formatIp(ip)}]:${e.port}`;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A remote error message in our error's one line: control characters out, length bounded. */
function oneLine(s: string): string {
  return s.replace(/[\p{Cc}]+/gu, ' ').slice(0, 200);
}
