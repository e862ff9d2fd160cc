/**
 * The peer wire protocol's framing and messages: the 68-byte handshake (BEP 3), the reserved bits
 * (BEP 5, 6, 10, 52), and every length-prefixed message of BEP 3, BEP 6 (fast extension), BEP 10
 * (extended) and BEP 52 (hash request, hashes, hash reject).
 *
 * For: turning bytes from a peer into `Message` values and back. Not for: deciding whether a
 * message is allowed in the connection's state (a `have-all` without the fast extension, an
 * unrequested `piece`, a bitfield of the wrong size): that is the connection's job, and this module
 * decodes those messages anyway. Payloads of `extended` messages are decoded in extensions.ts.
 * Pure: no sockets, no files.
 *
 * The decoder sits on the download path, so it parses headers straight out of the chunks it is
 * given and hands out views of them rather than copies (see `MessageDecoder` for the rules).
 */
import { SeedbankError } from '../errors.js';

export type WireErrorCode =
  /** The handshake is short or does not start with 19 "BitTorrent protocol". */
  | 'WIRE_HANDSHAKE'
  /** A length prefix larger than the decoder's `maxMessageLength`. */
  | 'WIRE_TOO_LONG'
  /** A message whose length does not fit its type (a 'have' of 3 bytes, a 'request' of 11). */
  | 'WIRE_MALFORMED'
  /** An extension payload (BEP 9, 10, 11) that is not the bencoded dictionary it must be. */
  | 'WIRE_EXTENSION';

/** A peer sent bytes that do not follow the wire protocol. The connection should be closed. */
export class WireError extends SeedbankError {
  override name = 'WireError';
  declare readonly code: WireErrorCode;
  constructor(code: WireErrorCode, message: string) {
    super(code, message);
  }
}

// ---------------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------------

export const PROTOCOL_NAME = 'BitTorrent protocol';
/** 1 + 19 + 8 reserved + 20 info hash + 20 peer id. */
export const HANDSHAKE_LENGTH = 68;
const PROTOCOL_PREFIX = Buffer.from(`\x13${PROTOCOL_NAME}`, 'latin1');

export interface Handshake {
  /** 8 bytes of feature bits; see `hasReserved`. */
  reserved: Uint8Array;
  /** 20 bytes: the v1 info hash, or a v2 info hash truncated to 20 bytes (BEP 52). */
  infoHash: Uint8Array;
  /** 20 bytes. */
  peerId: Uint8Array;
}

/** One feature bit of the handshake's reserved bytes. */
export interface ReservedFlag {
  readonly byte: number;
  readonly mask: number;
}

/** BEP 10 extension protocol: reserved[5] & 0x10. */
export const RESERVED_EXTENSION: ReservedFlag = Object.freeze({ byte: 5, mask: 0x10 });
/** BEP 6 fast extension: reserved[7] & 0x04. */
export const RESERVED_FAST: ReservedFlag = Object.freeze({ byte: 7, mask: 0x04 });
/** BEP 5 DHT (the peer sends 'port' messages): reserved[7] & 0x01. */
export const RESERVED_DHT: ReservedFlag = Object.freeze({ byte: 7, mask: 0x01 });
/** BEP 52 upgrade: a hybrid torrent's peer that also speaks v2 ("4th most significant bit of the last byte"). */
export const RESERVED_V2: ReservedFlag = Object.freeze({ byte: 7, mask: 0x10 });

/** 8 reserved bytes with the given flags set and every other bit zero. */
export function makeReserved(flags: Iterable<ReservedFlag> = []): Uint8Array {
  const r = new Uint8Array(8);
  for (const f of flags) r[f.byte] |= f.mask;
  return r;
}

export function hasReserved(reserved: Uint8Array, flag: ReservedFlag): boolean {
  return ((reserved[flag.byte] ?? 0) & flag.mask) === flag.mask;
}

export function encodeHandshake(h: Handshake): Buffer {
  checkBytes('reserved', h.reserved, 8);
  checkBytes('infoHash', h.infoHash, 20);
  checkBytes('peerId', h.peerId, 20);
  const out = Buffer.allocUnsafe(HANDSHAKE_LENGTH);
  PROTOCOL_PREFIX.copy(out, 0);
  out.set(h.reserved, 20);
  out.set(h.infoHash, 28);
  out.set(h.peerId, 48);
  return out;
}

/**
 * Decodes the handshake at the start of `buf` (bytes after the first 68 are ignored: they are the
 * first messages). The fields are copies.
 */
export function decodeHandshake(buf: Uint8Array): Handshake {
  if (buf.length < HANDSHAKE_LENGTH) {
    throw new WireError('WIRE_HANDSHAKE', `handshake of ${buf.length} bytes; it must be ${HANDSHAKE_LENGTH}`);
  }
  checkProtocolPrefix(buf, 0, 20);
  return {
    // new Uint8Array(view) copies; Buffer#slice would not.
    reserved: new Uint8Array(buf.subarray(20, 28)),
    infoHash: new Uint8Array(buf.subarray(28, 48)),
    peerId: new Uint8Array(buf.subarray(48, 68)),
  };
}

/** Checks bytes [from, to) of a handshake against 19 "BitTorrent protocol". */
function checkProtocolPrefix(buf: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    if (buf[i] !== PROTOCOL_PREFIX[i]) {
      throw new WireError('WIRE_HANDSHAKE', 'peer did not send the "BitTorrent protocol" handshake (an encrypted or non-BitTorrent connection?)');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/** A block request: BEP 3 'request' and 'cancel', BEP 6 'reject'. */
interface BlockRef {
  index: number;
  begin: number;
  length: number;
}

/** BEP 52: a range of `length` hashes at `baseLayer` of the tree of the file with `piecesRoot`. */
interface HashRange {
  /** 32 bytes. */
  piecesRoot: Uint8Array;
  baseLayer: number;
  index: number;
  length: number;
  proofLayers: number;
}

export type Message =
  | { type: 'keep-alive' }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'interested' }
  | { type: 'not-interested' }
  | { type: 'have'; index: number }
  | { type: 'bitfield'; bitfield: Uint8Array }
  | ({ type: 'request' } & BlockRef)
  | { type: 'piece'; index: number; begin: number; block: Uint8Array }
  | ({ type: 'cancel' } & BlockRef)
  | { type: 'port'; port: number }
  | { type: 'suggest'; index: number }
  | { type: 'have-all' }
  | { type: 'have-none' }
  | ({ type: 'reject' } & BlockRef)
  | { type: 'allowed-fast'; index: number }
  /** BEP 10: `id` 0 is the extension handshake, others are as the receiver's handshake assigned them. */
  | { type: 'extended'; id: number; payload: Uint8Array }
  | ({ type: 'hash-request' } & HashRange)
  /** `hashes`: the requested hashes then the uncle hashes, 32 bytes each (BEP 52). */
  | ({ type: 'hashes'; hashes: Uint8Array } & HashRange)
  | ({ type: 'hash-reject' } & HashRange)
  /** A message id this module does not know. Not an error: BEP 3 peers ignore such messages. */
  | { type: 'unknown'; id: number; payload: Uint8Array };

export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/** The message id byte of each message type (BEP 3, 5, 6, 10, 52). */
export const MESSAGE_ID = Object.freeze({
  choke: 0,
  unchoke: 1,
  interested: 2,
  'not-interested': 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  suggest: 0x0d,
  'have-all': 0x0e,
  'have-none': 0x0f,
  reject: 0x10,
  'allowed-fast': 0x11,
  extended: 20,
  'hash-request': 21,
  hashes: 22,
  'hash-reject': 23,
} as const satisfies Record<Exclude<MessageType, 'keep-alive' | 'unknown'>, number>);

const KNOWN_IDS = new Set<number>(Object.values(MESSAGE_ID));

/** The extended message id of the BEP 10 extension handshake. */
export const EXTENDED_HANDSHAKE_ID = 0;

/** Length prefix (4) + id (1) + index (4) + begin (4). */
export const PIECE_HEADER_LENGTH = 13;

/**
 * The longest length prefix accepted by default: a 1 MiB bitfield (8 million pieces) or extension
 * message, plus a 13-byte header. A piece message of a 16 KiB block is 16,393 bytes.
 */
export const DEFAULT_MAX_MESSAGE_LENGTH = 1024 * 1024 + 13;

/** Encodes one message, with its 4-byte length prefix. Throws RangeError for out-of-range fields. */
export function encodeMessage(m: Message): Buffer {
  switch (m.type) {
    case 'keep-alive':
      return Buffer.alloc(4);
    case 'choke':
    case 'unchoke':
    case 'interested':
    case 'not-interested':
    case 'have-all':
    case 'have-none':
      return start(MESSAGE_ID[m.type], 0);
    case 'have':
    case 'suggest':
    case 'allowed-fast': {
      const out = start(MESSAGE_ID[m.type], 4);
      out.writeUInt32BE(u32('index', m.index), 5);
      return out;
    }
    case 'request':
    case 'cancel':
    case 'reject': {
      const out = start(MESSAGE_ID[m.type], 12);
      out.writeUInt32BE(u32('index', m.index), 5);
      out.writeUInt32BE(u32('begin', m.begin), 9);
      out.writeUInt32BE(u32('length', m.length), 13);
      return out;
    }
    case 'piece': {
      const out = Buffer.allocUnsafe(PIECE_HEADER_LENGTH + m.block.length);
      writePieceHeader(out, m.index, m.begin, m.block.length);
      out.set(m.block, PIECE_HEADER_LENGTH);
      return out;
    }
    case 'bitfield':
      return withPayload(MESSAGE_ID.bitfield, m.bitfield);
    case 'port': {
      if (!Number.isInteger(m.port) || m.port < 0 || m.port > 0xffff) throw new RangeError(`port ${m.port} is not a 16-bit port`);
      const out = start(MESSAGE_ID.port, 2);
      out.writeUInt16BE(m.port, 5);
      return out;
    }
    case 'extended': {
      if (!Number.isInteger(m.id) || m.id < 0 || m.id > 0xff) throw new RangeError(`extended message id ${m.id} is not a byte`);
      const out = start(MESSAGE_ID.extended, 1 + m.payload.length);
      out[5] = m.id;
      out.set(m.payload, 6);
      return out;
    }
    case 'hash-request':
    case 'hash-reject':
    case 'hashes': {
      const hashes = m.type === 'hashes' ? m.hashes : EMPTY;
      if (hashes.length % 32 !== 0) throw new RangeError(`hashes of ${hashes.length} bytes is not a whole number of 32-byte hashes`);
      checkBytes('piecesRoot', m.piecesRoot, 32);
      const out = start(MESSAGE_ID[m.type], 48 + hashes.length);
      out.set(m.piecesRoot, 5);
      out.writeUInt32BE(u32('baseLayer', m.baseLayer), 37);
      out.writeUInt32BE(u32('index', m.index), 41);
      out.writeUInt32BE(u32('length', m.length), 45);
      out.writeUInt32BE(u32('proofLayers', m.proofLayers), 49);
      out.set(hashes, 53);
      return out;
    }
    case 'unknown':
      if (!Number.isInteger(m.id) || m.id < 0 || m.id > 0xff) throw new RangeError(`message id ${m.id} is not a byte`);
      if (KNOWN_IDS.has(m.id)) throw new RangeError(`message id ${m.id} is a known message; encode it by its type`);
      return withPayload(m.id, m.payload);
    default:
      return assertNever(m);
  }
}

/**
 * The first 13 bytes of a piece message carrying `blockLength` bytes, so that a sender can write
 * the header and then the block (e.g. with `writev`) without copying the block.
 */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Buffer {
  const out = Buffer.allocUnsafe(PIECE_HEADER_LENGTH);
  writePieceHeader(out, index, begin, blockLength);
  return out;
}

function writePieceHeader(out: Buffer, index: number, begin: number, blockLength: number): void {
  out.writeUInt32BE(u32('message length', 9 + blockLength), 0);
  out[4] = MESSAGE_ID.piece;
  out.writeUInt32BE(u32('index', index), 5);
  out.writeUInt32BE(u32('begin', begin), 9);
}

/** A message of `payloadLength` bytes after the id, with prefix and id written. */
function start(id: number, payloadLength: number): Buffer {
  const out = Buffer.allocUnsafe(5 + payloadLength);
  out.writeUInt32BE(1 + payloadLength, 0);
  out[4] = id;
  return out;
}

function withPayload(id: number, payload: Uint8Array): Buffer {
  const out = start(id, payload.length);
  out.set(payload, 5);
  return out;
}

function u32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${name} ${v} is not a 32-bit unsigned integer`);
  return v;
}

function checkBytes(name: string, b: Uint8Array, length: number): void {
  if (!(b instanceof Uint8Array) || b.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, not ${b instanceof Uint8Array ? b.length : typeof b}`);
  }
}

function assertNever(m: never): never {
  throw new TypeError(`unknown message type ${(m as { type: unknown }).type}`);
}

const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

export interface MessageDecoderOptions {
  /**
   * The largest length prefix accepted (message id + payload, not counting the 4 prefix bytes).
   * A larger one throws WIRE_TOO_LONG as soon as its prefix arrives.
   * @default DEFAULT_MAX_MESSAGE_LENGTH (1 MiB + 13)
   */
  maxMessageLength?: number;
}

/**
 * Above this size, the buffer for a message split across chunks grows as its bytes arrive instead
 * of being allocated at its declared length, so a peer that declares 1 MiB and sends 1 byte costs
 * us 64 KiB, not 1 MiB. A 16 KiB piece message is allocated at once.
 */
const BODY_INITIAL_CAPACITY = 64 * 1024;

/**
 * Splits a byte stream into messages. `push` chunks as they arrive, then call `next` until it
 * returns null. Work is proportional to the bytes pushed: chunks are never concatenated.
 *
 * Ownership (zero-copy rules):
 * - A message that lies within one pushed chunk is returned as views of that chunk: its `block`,
 *   `bitfield`, `payload`, `piecesRoot` and `hashes` share the chunk's memory. They stay valid only
 *   as long as the caller leaves that memory alone; a caller that reuses its read buffer must copy
 *   what it keeps (e.g. a block into its piece buffer) before the next read.
 * - A message split across chunks is copied once into memory the decoder allocates for that message
 *   alone and then never touches again; such views stay valid for good.
 * - The decoder holds on to pushed chunks only until `next` returns null (or throws): at that
 *   point the bytes of an incomplete message have been copied into the decoder's own memory, so the
 *   caller may then overwrite every chunk it pushed.
 * - The decoder never writes into a pushed chunk.
 *
 * After a WireError, the stream cannot be resynchronised: `next` throws the same error again and
 * `push` is ignored.
 */
export class MessageDecoder {
  readonly maxMessageLength: number;

  /** Pushed chunks not yet read, from `first`; `offset` is the read position in the first one. */
  private queue: Uint8Array[] = [];
  private first = 0;
  private offset = 0;
  private queued = 0;

  /** A length prefix split across chunks. */
  private readonly prefix = new Uint8Array(4);
  private prefixFill = 0;

  /** The declared length of the message whose prefix has been read; -1 between messages. */
  private bodyLength = -1;
  /** The bytes so far of a message split across chunks (owned). */
  private body: Uint8Array | null = null;
  private bodyFill = 0;

  /** A handshake split across chunks (owned). */
  private handshake: Uint8Array | null = null;
  private handshakeFill = 0;

  private failure: WireError | null = null;

  constructor(options: MessageDecoderOptions = {}) {
    const max = options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) throw new RangeError(`maxMessageLength ${max} is not a 32-bit length`);
    this.maxMessageLength = max;
  }

  /** Bytes pushed and not yet returned as a message or handshake. */
  get bufferedBytes(): number {
    return this.queued + this.prefixFill + this.bodyFill + this.handshakeFill;
  }

  push(chunk: Uint8Array): void {
    if (this.failure !== null || chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /**
   * Reads the 68-byte handshake that opens a connection, before any message. Returns null until
   * all of it has arrived, but throws WIRE_HANDSHAKE at the first byte that is not part of
   * 19 "BitTorrent protocol". The fields are copies.
   */
  readHandshake(): Handshake | null {
    if (this.failure !== null) throw this.failure;
    const hs = (this.handshake ??= new Uint8Array(HANDSHAKE_LENGTH));
    const from = this.handshakeFill;
    this.handshakeFill = this.copyInto(hs, from, HANDSHAKE_LENGTH);
    try {
      checkProtocolPrefix(hs, from, Math.min(this.handshakeFill, 20));
    } catch (e) {
      throw this.fail(e as WireError);
    }
    if (this.handshakeFill < HANDSHAKE_LENGTH) return null;
    this.handshake = null;
    this.handshakeFill = 0;
    return { reserved: hs.subarray(20, 28), infoHash: hs.subarray(28, 48), peerId: hs.subarray(48, 68) };
  }

  /** The next complete message, or null when more bytes are needed. */
  next(): Message | null {
    if (this.failure !== null) throw this.failure;
    try {
      return this.step();
    } catch (e) {
      throw e instanceof WireError ? this.fail(e) : e;
    }
  }

  private fail(e: WireError): WireError {
    this.failure = e;
    this.queue = [];
    this.first = this.offset = this.queued = 0;
    this.prefixFill = this.bodyFill = this.handshakeFill = 0;
    this.bodyLength = -1;
    this.body = this.handshake = null;
    return e;
  }

  private step(): Message | null {
    if (this.bodyLength < 0) {
      // Fast path: prefix, and often the whole message, in the first chunk.
      if (this.prefixFill === 0 && this.queued >= 4) {
        const c = this.queue[this.first]!;
        const o = this.offset;
        if (c.length - o >= 4) {
          const len = this.checkLength(readU32(c, o));
          if (c.length - o - 4 >= len) {
            this.advance(4 + len);
            return parseMessage(c, o + 4, len);
          }
          this.advance(4);
          this.bodyLength = len;
        }
      }
      if (this.bodyLength < 0) {
        this.prefixFill = this.copyInto(this.prefix, this.prefixFill, 4);
        if (this.prefixFill < 4) return null;
        this.prefixFill = 0;
        this.bodyLength = this.checkLength(readU32(this.prefix, 0));
      }
    }

    const len = this.bodyLength;
    if (this.bodyFill === 0) {
      if (len === 0) {
        this.bodyLength = -1;
        return { type: 'keep-alive' };
      }
      // The prefix straddled chunks but the body may still lie within one.
      if (this.queued > 0) {
        const c = this.queue[this.first]!;
        const o = this.offset;
        if (c.length - o >= len) {
          this.advance(len);
          this.bodyLength = -1;
          return parseMessage(c, o, len);
        }
      }
    }

    while (this.bodyFill < len && this.queued > 0) {
      const c = this.queue[this.first]!;
      const o = this.offset;
      const n = Math.min(c.length - o, len - this.bodyFill);
      const body = this.reserveBody(len, this.bodyFill + n);
      body.set(n === c.length ? c : c.subarray(o, o + n), this.bodyFill);
      this.bodyFill += n;
      this.advance(n);
    }
    if (this.bodyFill < len) return null;
    const body = this.body!;
    this.body = null;
    this.bodyFill = 0;
    this.bodyLength = -1;
    return parseMessage(body, 0, len);
  }

  private checkLength(len: number): number {
    if (len > this.maxMessageLength) {
      throw new WireError('WIRE_TOO_LONG', `peer sent a message of ${len} bytes; the limit is ${this.maxMessageLength}`);
    }
    return len;
  }

  /** The body buffer, grown to hold at least `need` of the message's `len` bytes. */
  private reserveBody(len: number, need: number): Uint8Array {
    const cur = this.body;
    if (cur !== null && cur.length >= need) return cur;
    const base = cur === null ? BODY_INITIAL_CAPACITY : cur.length * 2;
    const next = Buffer.allocUnsafe(Math.min(len, Math.max(need, base)));
    if (cur !== null) next.set(cur.subarray(0, this.bodyFill));
    this.body = next;
    return next;
  }

  /** Moves queued bytes into `dst[fill, end)`; returns the new fill. */
  private copyInto(dst: Uint8Array, fill: number, end: number): number {
    while (fill < end && this.queued > 0) {
      const c = this.queue[this.first]!;
      const o = this.offset;
      const n = Math.min(c.length - o, end - fill);
      dst.set(c.subarray(o, o + n), fill);
      fill += n;
      this.advance(n);
    }
    return fill;
  }

  /** Consumes `n` bytes of the first chunk (never more than it has left). */
  private advance(n: number): void {
    this.queued -= n;
    this.offset += n;
    if (this.offset === this.queue[this.first]!.length) {
      this.offset = 0;
      this.queue[this.first] = EMPTY; // let the chunk go now, not when the queue empties
      if (++this.first === this.queue.length) {
        this.queue.length = 0;
        this.first = 0;
      }
    }
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** A plain Uint8Array view (not a Buffer, whatever `b` is) of b[o, o + n). */
function view(b: Uint8Array, o: number, n: number): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset + o, n);
}

function malformed(what: string, len: number): WireError {
  return new WireError('WIRE_MALFORMED', `peer sent a '${what}' message of ${len} bytes`);
}

/** Parses the `len` bytes at b[o] (message id and payload; `len` > 0 unless keep-alive). */
function parseMessage(b: Uint8Array, o: number, len: number): Message {
  if (len === 0) return { type: 'keep-alive' };
  const id = b[o]!;
  const p = o + 1;
  const n = len - 1;
  switch (id) {
    case MESSAGE_ID.piece:
      if (n < 8) throw malformed('piece', len);
      return { type: 'piece', index: readU32(b, p), begin: readU32(b, p + 4), block: view(b, p + 8, n - 8) };
    case MESSAGE_ID.choke:
    case MESSAGE_ID.unchoke:
    case MESSAGE_ID.interested:
    case MESSAGE_ID['not-interested']:
    case MESSAGE_ID['have-all']:
    case MESSAGE_ID['have-none']: {
      const type = NO_PAYLOAD[id]!;
      if (n !== 0) throw malformed(type, len);
      return { type };
    }
    case MESSAGE_ID.have:
    case MESSAGE_ID.suggest:
    case MESSAGE_ID['allowed-fast']: {
      const type = id === MESSAGE_ID.have ? 'have' : id === MESSAGE_ID.suggest ? 'suggest' : 'allowed-fast';
      if (n !== 4) throw malformed(type, len);
      return { type, index: readU32(b, p) };
    }
    case MESSAGE_ID.request:
    case MESSAGE_ID.cancel:
    case MESSAGE_ID.reject: {
      const type = id === MESSAGE_ID.request ? 'request' : id === MESSAGE_ID.cancel ? 'cancel' : 'reject';
      if (n !== 12) throw malformed(type, len);
      return { type, index: readU32(b, p), begin: readU32(b, p + 4), length: readU32(b, p + 8) };
    }
    case MESSAGE_ID.bitfield:
      return { type: 'bitfield', bitfield: view(b, p, n) };
    case MESSAGE_ID.port:
      if (n !== 2) throw malformed('port', len);
      return { type: 'port', port: (b[p]! << 8) | b[p + 1]! };
    case MESSAGE_ID.extended:
      if (n < 1) throw malformed('extended', len);
      return { type: 'extended', id: b[p]!, payload: view(b, p + 1, n - 1) };
    case MESSAGE_ID['hash-request']:
    case MESSAGE_ID['hash-reject']:
    case MESSAGE_ID.hashes: {
      const type = id === MESSAGE_ID.hashes ? 'hashes' : id === MESSAGE_ID['hash-request'] ? 'hash-request' : 'hash-reject';
      if (type === 'hashes' ? n < 48 || (n - 48) % 32 !== 0 : n !== 48) throw malformed(type, len);
      const range: HashRange = {
        piecesRoot: view(b, p, 32),
        baseLayer: readU32(b, p + 32),
        index: readU32(b, p + 36),
        length: readU32(b, p + 40),
        proofLayers: readU32(b, p + 44),
      };
      return type === 'hashes' ? { type, ...range, hashes: view(b, p + 48, n - 48) } : { type, ...range };
    }
    default:
      return { type: 'unknown', id, payload: view(b, p, n) };
  }
}

const NO_PAYLOAD: Partial<Record<number, 'choke' | 'unchoke' | 'interested' | 'not-interested' | 'have-all' | 'have-none'>> = {
  [MESSAGE_ID.choke]: 'choke',
  [MESSAGE_ID.unchoke]: 'unchoke',
  [MESSAGE_ID.interested]: 'interested',
  [MESSAGE_ID['not-interested']]: 'not-interested',
  [MESSAGE_ID['have-all']]: 'have-all',
  [MESSAGE_ID['have-none']]: 'have-none',
};
