/**
 * The incremental decoder of the peer wire protocol: `MessageDecoder` splits a byte stream from a
 * peer into the opening handshake and then `Message` values (types in wire-messages.ts, handshake
 * in wire-handshake.ts; importers use wire.ts, which re-exports all three).
 *
 * For: turning bytes from a peer into `Message` values. Not for: deciding whether a message is
 * allowed in the connection's state: this module decodes a `have-all` without the fast extension,
 * an unrequested `piece` or a bitfield of the wrong size anyway. Pure: no sockets, no files.
 *
 * The decoder sits on the download path, so it parses headers straight out of the chunks it is
 * given and hands out views of them rather than copies (see `MessageDecoder` for the rules).
 */
import { HANDSHAKE_LENGTH, type Handshake, checkProtocolPrefix } from './wire-handshake.js';
import { DEFAULT_MAX_MESSAGE_LENGTH, EMPTY, type HashRange, MESSAGE_ID, type Message, WireError } from './wire-messages.js';

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
