/**
 * BEP 9: fetching a torrent's info dictionary from peers, for downloads that start from a magnet
 * link. Dials the peers it is given (and those trackers hand it), asks each for the metadata in
 * 16 KiB pieces, and accepts the result only if it hashes to the magnet's info hash (SHA-1 for
 * btih, SHA-256 for btmh). A peer that sends metadata that does not match is dropped.
 *
 * Not for: the download itself (torrent.ts takes over once the metadata is known).
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { METADATA_PIECE_SIZE, decodeExtHandshake, decodeMetadataMessage, encodeExtHandshake, encodeMetadataMessage } from '../codec/extensions.js';
import { type Magnet } from '../codec/magnet.js';
import { MessageDecoder, RESERVED_EXTENSION, RESERVED_FAST, RESERVED_V2, encodeMessage, makeReserved } from '../codec/wire.js';
import { SeedbankError } from '../errors.js';
import { VERSION } from '../version.js';
import { handshakeOutgoing } from './handshake.js';
import { onBytes } from './socket-reader.js';
import { peerKey } from './peer-list.js';

/** Largest info dictionary we accept from peers (a 100,000-file hybrid torrent is ~19 MB). */
export const MAX_METADATA_SIZE = 64 * 1024 * 1024;
const OUR_UT_METADATA = 1;

export interface MetadataFetchOptions {
  magnet: Magnet;
  peerId: Buffer;
  dial: (host: string, port: number) => Promise<Socket>;
  /** @default 60 s */
  timeoutMs?: number;
  /** Peers fetched from at once. @default 8 */
  parallel?: number;
  signal?: AbortSignal;
}

export class MetadataFetch {
  private readonly queue: Array<{ host: string; port: number }> = [];
  private readonly tried = new Set<string>();
  private active = 0;
  private finished = false;
  private resolve!: (b: Buffer) => void;
  private reject!: (e: Error) => void;
  readonly result: Promise<Buffer>;
  private readonly sockets = new Set<Socket>();
  private readonly timer: NodeJS.Timeout;
  private lastError = 'no peer answered';

  constructor(private readonly opts: MetadataFetchOptions) {
    this.result = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.result.catch(() => {});
    const ms = opts.timeoutMs ?? 60_000;
    this.timer = setTimeout(() => this.fail(new SeedbankError('METADATA_TIMEOUT', `no peer sent the torrent's metadata within ${ms / 1000} s (${this.lastError})`)), ms);
    this.timer.unref?.();
    opts.signal?.addEventListener('abort', () => this.fail(new SeedbankError('ABORTED', 'metadata fetch aborted')));
  }

  /** The 20-byte hash to handshake with: v1, or v2 truncated. */
  get handshakeHash(): Buffer {
    const m = this.opts.magnet;
    return m.infoHashV1 ?? m.infoHashV2!.subarray(0, 20);
  }

  addPeer(host: string, port: number): void {
    const key = peerKey(host, port);
    if (this.finished || this.tried.has(key)) return;
    this.tried.add(key);
    this.queue.push({ host, port });
    this.pump();
  }

  private pump(): void {
    while (!this.finished && this.active < (this.opts.parallel ?? 8) && this.queue.length) {
      const p = this.queue.shift()!;
      this.active++;
      void this.fromPeer(p.host, p.port)
        .catch((e: Error) => {
          this.lastError = `${peerKey(p.host, p.port)}: ${e.message}`;
        })
        .finally(() => {
          this.active--;
          this.pump();
        });
    }
  }

  private async fromPeer(host: string, port: number): Promise<void> {
    const m = this.opts.magnet;
    const socket = await this.opts.dial(host, port);
    this.sockets.add(socket);
    try {
      const reserved = Buffer.from(makeReserved([RESERVED_EXTENSION, RESERVED_FAST, ...(m.infoHashV2 ? [RESERVED_V2] : [])]));
      // A btih-only magnet cannot know the truncated v2 hash that a hybrid torrent's peer may
      // answer with (libtorrent 2.0 does, BEP 52's upgrade): any answer is then taken, since the
      // metadata it sends is checked against the v1 hash before it is used.
      const accept = m.infoHashV2 ? [m.infoHashV1, m.infoHashV2.subarray(0, 20)].filter((h): h is Buffer => !!h) : null;
      const hs = await handshakeOutgoing(socket, { infoHash: this.handshakeHash, acceptHashes: accept ?? undefined, acceptAny: !accept, peerId: this.opts.peerId, reserved, timeoutMs: 10_000 });
      const info = await this.exchange(socket, hs.rest);
      this.succeed(info);
    } finally {
      this.sockets.delete(socket);
      socket.destroy();
    }
  }

  /** Runs the extension exchange on one connection until the metadata is complete and checked. */
  private exchange(socket: Socket, rest: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const decoder = new MessageDecoder();
      let theirId = 0;
      let size = 0;
      let pieces: (Buffer | null)[] = [];
      let got = 0;
      const send = (payload: Buffer, id: number) => socket.write(encodeMessage({ type: 'extended', id, payload }));
      send(encodeExtHandshake({ m: { ut_metadata: OUR_UT_METADATA }, v: `seedbank/${VERSION}` }), 0);
      // Some clients wait for a bitfield before they talk; we have nothing yet.
      socket.write(encodeMessage({ type: 'have-none' }));
      const onData = (chunk: Buffer) => {
        try {
          decoder.push(chunk);
          for (let msg = decoder.next(); msg; msg = decoder.next()) {
            if (msg.type !== 'extended') continue;
            if (msg.id === 0) {
              const h = decodeExtHandshake(msg.payload);
              theirId = h.m['ut_metadata'] ?? 0;
              if (!theirId) return done(new Error('peer does not offer metadata (ut_metadata)'));
              size = h.metadataSize ?? 0;
              if (size <= 0 || size > MAX_METADATA_SIZE) return done(new Error(`peer offers metadata of ${size} bytes`));
              pieces = new Array<Buffer | null>(Math.ceil(size / METADATA_PIECE_SIZE)).fill(null);
              for (let i = 0; i < pieces.length; i++) send(encodeMetadataMessage({ msgType: 0, piece: i }), theirId);
            } else if (msg.id === OUR_UT_METADATA) {
              const mm = decodeMetadataMessage(msg.payload);
              if (mm.msgType === 2) return done(new Error('peer rejected our metadata request'));
              if (mm.msgType !== 1 || !mm.data || mm.piece >= pieces.length || pieces[mm.piece]) continue;
              const want = Math.min(METADATA_PIECE_SIZE, size - mm.piece * METADATA_PIECE_SIZE);
              if (mm.data.length !== want) return done(new Error('metadata piece of the wrong size'));
              pieces[mm.piece] = Buffer.from(mm.data);
              if (++got === pieces.length) {
                const info = Buffer.concat(pieces as Buffer[]);
                return this.matches(info) ? done(null, info) : done(new Error('metadata does not match the magnet link'));
              }
            }
          }
        } catch (e) {
          done(e as Error);
        }
      };
      const done = (err: Error | null, info?: Buffer) => {
        stopReading();
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve(info!);
      };
      const onClose = () => done(new Error('connection closed'));
      const stopReading = onBytes(socket, onData);
      socket.once('close', onClose);
      socket.on('error', () => {});
      if (rest.length) onData(rest);
      socket.resume();
    });
  }

  private matches(info: Buffer): boolean {
    const m = this.opts.magnet;
    if (m.infoHashV2) return createHash('sha256').update(info).digest().equals(m.infoHashV2);
    return createHash('sha1').update(info).digest().equals(m.infoHashV1!);
  }

  private succeed(info: Buffer): void {
    if (this.finished) return;
    this.finished = true;
    this.stop();
    this.resolve(info);
  }

  private fail(e: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.stop();
    this.reject(e);
  }

  private stop(): void {
    clearTimeout(this.timer);
    for (const s of this.sockets) s.destroy();
  }

  close(): void {
    this.fail(new SeedbankError('ABORTED', 'metadata fetch closed'));
  }
}
