/**
 * A session: our peer id, one listening socket, and the torrents it serves. Incoming connections
 * are handshaken here and handed to the torrent whose info hash (v1, or v2 truncated) they name.
 *
 * The transport is injected (`listen`, `dial`) so a whole swarm can later run on a simulated
 * network in one process; the defaults are plain TCP over IPv4 and IPv6.
 */
import { randomBytes } from 'node:crypto';
import net, { type Server, type Socket } from 'node:net';
import { EventChannel } from '../events.js';
import { VERSION } from '../version.js';
import { handshakeIncoming } from './handshake.js';
import { connectSharedBuffer } from './socket-reader.js';
import { TokenBucket } from './rate-limit.js';
import { Torrent, type TorrentOptions } from './torrent.js';

export interface SessionOptions {
  /** TCP port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Address to listen on. @default '::' (all IPv4 and IPv6 addresses) */
  host?: string;
  events?: EventChannel;
  /** Opens a TCP connection. @default net.connect with a 10 s timeout */
  dial?: (host: string, port: number) => Promise<Socket>;
  /** Upload limit for all torrents together, bytes/s; 0 = none. @default 0 */
  uploadRate?: number;
  /** Download limit for all torrents together, bytes/s; 0 = none. @default 0 */
  downloadRate?: number;
}

/** Azureus-style peer id: -SBxyzw- plus 12 random bytes. */
export function makePeerId(): Buffer {
  const [maj = '0', min = '0', patch = '0'] = VERSION.split('.');
  const tag = `-SB${maj.padStart(1, '0')}${min.padStart(2, '0').slice(-2)}${patch.slice(-1)}-`;
  return Buffer.concat([Buffer.from(tag.slice(0, 8), 'latin1'), randomBytes(12)]);
}

export function dialTcp(host: string, port: number, timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connectSharedBuffer({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timed out'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.pause();
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export class Session {
  readonly peerId = makePeerId();
  readonly events: EventChannel;
  private server: Server | null = null;
  private readonly torrents = new Map<string, Torrent>();
  private listenPort = 0;
  private readonly dial: (host: string, port: number) => Promise<Socket>;
  /** Session-wide limits, shared by every torrent's connections. */
  readonly buckets: { up: TokenBucket; down: TokenBucket };

  constructor(private readonly opts: SessionOptions = {}) {
    this.events = opts.events ?? new EventChannel();
    this.dial = opts.dial ?? dialTcp;
    this.buckets = { up: new TokenBucket(opts.uploadRate ?? 0), down: new TokenBucket(opts.downloadRate ?? 0) };
  }

  get port(): number {
    return this.listenPort;
  }

  async listen(): Promise<number> {
    const server = net.createServer({ pauseOnConnect: true }, (s) => this.onIncoming(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '::', () => resolve());
    });
    this.server = server;
    const addr = server.address();
    this.listenPort = typeof addr === 'object' && addr ? addr.port : 0;
    return this.listenPort;
  }

  addTorrent(opts: Omit<TorrentOptions, 'events' | 'peerId' | 'port' | 'dial' | 'sessionBuckets'>): Torrent {
    const t = new Torrent({ ...opts, events: this.events, peerId: this.peerId, port: this.listenPort, dial: this.dial, sessionBuckets: this.buckets });
    for (const h of t.handshakeHashes) this.torrents.set(h.toString('hex'), t);
    t.start();
    return t;
  }

  async removeTorrent(t: Torrent): Promise<void> {
    for (const h of t.handshakeHashes) this.torrents.delete(h.toString('hex'));
    await t.stop();
  }

  private onIncoming(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    let torrent: Torrent | undefined;
    handshakeIncoming(socket, 10_000, (remote) => {
      torrent = this.torrents.get(Buffer.from(remote.infoHash).toString('hex'));
      return torrent ? { peerId: this.peerId, reserved: torrent.reserved } : null;
    }).then(
      (hs) => {
        const host = normalizeHost(socket.remoteAddress ?? '');
        torrent!.attach(socket, hs, false, host, socket.remotePort ?? 0);
      },
      () => socket.destroy(),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...new Set(this.torrents.values())].map((t) => t.stop()));
    this.torrents.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) is `127.0.0.1`. */
export function normalizeHost(h: string): string {
  return h.startsWith('::ffff:') && h.includes('.') ? h.slice(7) : h;
}
