/**
 * A live wire connection to one peer, after the handshake: the four choke/interest flags, what the
 * peer has, its extensions, rates, and the socket. It decodes and encodes messages and keeps the
 * connection alive; what to do with a message is the torrent's business.
 *
 * Not for: known peers we are not connected to (peer-list.ts), piece picking (picker.ts).
 *
 * A malformed or oversized message closes this one connection and nothing else.
 */
import type { Socket } from 'node:net';
import { Bitfield } from '../codec/bitfield.js';
import { type Message, MessageDecoder, RESERVED_DHT, RESERVED_EXTENSION, RESERVED_FAST, RESERVED_V2, encodeMessage, encodePieceHeader, hasReserved } from '../codec/wire.js';
import { RateMeter } from './rate.js';
import { onBytes } from './socket-reader.js';

export interface ConnectionHandlers {
  onMessage(conn: PeerConnection, m: Message): void;
  onClose(conn: PeerConnection, reason: string): void;
  /** Told of every chunk received; returns how long to stop reading (download rate limit), in ms. */
  onReceived?(bytes: number): number;
}

export interface ConnectionOptions {
  /** Close after this long with nothing received. @default 120 s */
  idleTimeoutMs?: number;
  /** Send a keep-alive after this long with nothing sent. @default 60 s */
  keepAliveMs?: number;
  now?: () => number;
}

/**
 * How much we let queue in the socket before we stop sending blocks and wait for 'drain'. Node's
 * default (16 KiB) is less than one block message, which meant one 'drain' per block.
 */
const SEND_BUFFER_BYTES = 1024 * 1024;

/** Largest message we accept: a 16 KiB block, or a bitfield / extension message up to 1 MiB. */
const MAX_MESSAGE = 1024 * 1024 + 13;

export class PeerConnection {
  amChoking = true;
  amInterested = false;
  /** Pieces this peer has that we want (kept by the torrent; recounted when it reaches 0). */
  wanted = 0;
  peerChoking = true;
  peerInterested = false;
  /** What the peer has; `all` for a seed that sent have-all or a full bitfield. */
  have: Bitfield;
  peerHasAll = false;
  /** Their extension ids (BEP 10 `m`), by name. */
  readonly extIds = new Map<string, number>();
  /** How many requests the peer accepts at once (BEP 10 `reqq`). */
  reqq = 250;
  client: string | null = null;
  /** Requests the peer sent us that we have not answered yet. */
  readonly uploadQueue: Array<{ index: number; begin: number; length: number }> = [];
  uploading = false;
  readonly down: RateMeter;
  readonly up: RateMeter;
  readonly supportsFast: boolean;
  readonly supportsExtensions: boolean;
  readonly supportsV2: boolean;
  /** It runs a DHT node (BEP 5 reserved bit) and may send its port. */
  readonly supportsDht: boolean;
  /** Its `port` message was handled (one per connection). */
  dhtPortSeen = false;
  readonly allowedFast = new Set<number>();
  closed = false;
  lastMessageAt: number;
  /** When a block last arrived (or when we started waiting for one). */
  lastBlockAt: number;
  /** No block for a while although we asked: only probe it with one request at a time. */
  snubbed = false;
  /** The port the peer listens on (outgoing: the one we dialed; incoming: BEP 10 `p`). */
  listenPort: number | null;
  /** Addresses we told this peer about in PEX messages. */
  readonly pexSent = new Set<string>();
  /** When we last sent it a PEX message (null: never). */
  pexSentAt: number | null = null;
  readonly connectedAt: number;
  private lastSentAt: number;
  private readonly decoder = new MessageDecoder({ maxMessageLength: MAX_MESSAGE });
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    readonly socket: Socket,
    readonly key: string,
    readonly host: string,
    readonly port: number,
    readonly peerId: Buffer,
    reserved: Uint8Array,
    readonly outgoing: boolean,
    numPieces: number,
    private readonly handlers: ConnectionHandlers,
    opts: ConnectionOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.down = new RateMeter(this.now);
    this.up = new RateMeter(this.now);
    this.have = new Bitfield(numPieces);
    this.supportsFast = hasReserved(reserved, RESERVED_FAST);
    this.supportsExtensions = hasReserved(reserved, RESERVED_EXTENSION);
    this.supportsV2 = hasReserved(reserved, RESERVED_V2);
    this.supportsDht = hasReserved(reserved, RESERVED_DHT);
    this.lastMessageAt = this.lastSentAt = this.lastBlockAt = this.connectedAt = this.now();
    this.listenPort = outgoing ? port : null;
    const idle = opts.idleTimeoutMs ?? 120_000;
    const keepAlive = opts.keepAliveMs ?? 60_000;
    this.timer = setInterval(() => {
      const t = this.now();
      if (t - this.lastMessageAt > idle) this.close('idle timeout');
      else if (t - this.lastSentAt > keepAlive) this.send({ type: 'keep-alive' });
    }, Math.min(idle, keepAlive) / 4);
    this.timer.unref?.();
    socket.setNoDelay(true);
    onBytes(socket, (chunk) => this.receive(chunk));
    socket.on('error', (e) => this.close(e.message));
    socket.on('close', () => this.close('connection closed'));
  }

  /** Feeds bytes that arrived with the handshake, then starts reading. */
  start(rest: Buffer): void {
    if (rest.length) this.receive(rest);
    this.socket.resume();
  }

  /** `chunk` may be a reused read buffer (socket-reader.ts): valid only during this call. */
  private receive(chunk: Buffer): void {
    if (this.closed) return;
    this.lastMessageAt = this.now();
    const wait = this.handlers.onReceived?.(chunk.length) ?? 0;
    if (wait > 0) {
      // Over the download limit: stop reading; TCP flow control slows the sender down.
      this.socket.pause();
      setTimeout(() => {
        if (!this.closed) this.socket.resume();
      }, wait).unref?.();
    }
    try {
      this.decoder.push(chunk);
      for (let m = this.decoder.next(); m !== null && !this.closed; m = this.decoder.next()) {
        if (m.type === 'piece') {
          this.down.add(m.block.length);
          this.handlers.onMessage(this, m); // the block is copied into its piece buffer at once
        } else this.handlers.onMessage(this, owned(m));
      }
    } catch (e) {
      this.close(`protocol error: ${(e as Error).message}`);
    }
  }

  send(m: Message): void {
    if (this.closed) return;
    this.lastSentAt = this.now();
    this.socket.write(encodeMessage(m));
  }

  /** Sends a block without copying it into a message buffer (callers cork around batches). */
  sendPiece(index: number, begin: number, block: Buffer): boolean {
    if (this.closed) return false;
    this.lastSentAt = this.now();
    this.up.add(block.length);
    this.socket.write(encodePieceHeader(index, begin, block.length));
    return this.socket.write(block);
  }

  /** Sends several messages in one write (a batch of requests costs one syscall, not one each). */
  sendAll(ms: readonly Message[]): void {
    if (this.closed || ms.length === 0) return;
    this.lastSentAt = this.now();
    this.socket.write(ms.length === 1 ? encodeMessage(ms[0]!) : Buffer.concat(ms.map(encodeMessage)));
  }

  /** True when the socket's send buffer is full: stop reading from disk until 'drain'. */
  get congested(): boolean {
    return this.socket.writableLength >= SEND_BUFFER_BYTES;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.socket.destroy();
    this.handlers.onClose(this, reason);
  }
}

/**
 * A message whose byte fields are copies, for handlers that keep them (a bitfield, metadata, hashes):
 * the decoder hands out views of the read buffer. Blocks are the exception, and the hot path.
 */
function owned(m: Message): Message {
  switch (m.type) {
    case 'bitfield':
      return { ...m, bitfield: copy(m.bitfield) };
    case 'extended':
    case 'unknown':
      return { ...m, payload: copy(m.payload) };
    case 'hash-request':
    case 'hash-reject':
      return { ...m, piecesRoot: copy(m.piecesRoot) };
    case 'hashes':
      return { ...m, piecesRoot: copy(m.piecesRoot), hashes: copy(m.hashes) };
    default:
      return m;
  }
}

/** A copy (Buffer#slice would be a view). */
function copy(b: Uint8Array): Buffer {
  return Buffer.from(b);
}
