/**
 * The peer wire protocol's messages: their types, ids and encoding, for every length-prefixed
 * message of BEP 3, BEP 6 (fast extension), BEP 10 (extended) and BEP 52 (hash request, hashes,
 * hash reject); and `WireError`, the error every part of the wire codec throws.
 *
 * For: turning `Message` values into bytes. Not for: deciding whether a message is allowed in the
 * connection's state (a `have-all` without the fast extension, an unrequested `piece`, a bitfield
 * of the wrong size): that is the connection's job. Decoding is in wire-decoder.ts, the handshake in
 * wire-handshake.ts; importers use wire.ts, which re-exports all three. Payloads of `extended`
 * messages are encoded and decoded in extensions.ts. Pure: no sockets, no files.
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


/** A block request: BEP 3 'request' and 'cancel', BEP 6 'reject'. */
interface BlockRef {
  index: number;
  begin: number;
  length: number;
}

/** BEP 52: a range of `length` hashes at `baseLayer` of the tree of the file with `piecesRoot`. */
export interface HashRange {
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

export function checkBytes(name: string, b: Uint8Array, length: number): void {
  if (!(b instanceof Uint8Array) || b.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, not ${b instanceof Uint8Array ? b.length : typeof b}`);
  }
}

function assertNever(m: never): never {
  throw new TypeError(`unknown message type ${(m as { type: unknown }).type}`);
}

export const EMPTY = new Uint8Array(0);
