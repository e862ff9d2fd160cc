/**
 * What a Torrent is made with (TorrentOptions) and what it reports (TorrentStats). Kept apart
 * from torrent.ts so that the options, each with its default, read as one list; torrent.ts
 * re-exports both, and callers import them from there.
 *
 * Not for: behaviour (torrent.ts and the modules it wires together).
 */
import type { Socket } from 'node:net';
import { type Bitfield } from '../codec/bitfield.js';
import { type Metainfo } from '../codec/metainfo.js';
import { type EventChannel } from '../events.js';
import type { Storage } from '../storage/storage.js';
import { type PeerSource } from './peer-list.js';
import { type TokenBucket } from './rate-limit.js';
import { type OriginPolicy } from './origins.js';
import { type WebSeedStats } from './web-seed.js';

export interface TorrentOptions {
  metainfo: Metainfo;
  storage: Storage;
  events: EventChannel;
  peerId: Buffer;
  /** Our listening port, told to peers in the extension handshake. */
  port: number;
  /** Pieces already verified (resume). */
  have?: Bitfield;
  /** Pieces to download; null means all. */
  wanted?: Bitfield | null;
  /** Called after a piece is written and verified (resume data). */
  onPieceWritten?: (index: number) => void;
  /** Opens a TCP connection. */
  dial: (host: string, port: number) => Promise<Socket>;
  /** @default 50 */
  maxConnections?: number;
  /** Connections from one IP address (loopback exempt, for tests and one-machine swarms). @default 8 */
  maxConnectionsPerIp?: number;
  /** Upload limit of this torrent in bytes/s; 0 = none. @default 0 */
  uploadRate?: number;
  /** Download limit of this torrent in bytes/s; 0 = none. @default 0 */
  downloadRate?: number;
  /** Session-wide buckets shared by all torrents. */
  sessionBuckets?: { up: TokenBucket; down: TokenBucket };
  /** Outgoing connection attempts at once. @default 10 */
  maxHalfOpen?: number;
  /** BEP 19 web seeds (HTTP origins) to fetch from. */
  webSeeds?: string[];
  /** When origins may be used (origins.ts). @default 'balanced' */
  originPolicy?: OriginPolicy;
  /** Bytes/s for all origins together; 0 = none. @default 0 */
  originRate?: number;
  /** Parallel range requests per origin. @default 4 */
  originConnections?: number;
  /**
   * A seed for data that is only in the origins (`seed --from-origin`): we advertise every
   * piece, fetch a piece from an origin the first time a peer asks for it, and serve it from disk
   * after that, so the origin serves each piece about once. `have` and `wanted` are ignored
   * except that pieces already in `have` are served as usual.
   */
  fromOrigin?: boolean;
  /** Peers will turn up over the first seconds (trackers, magnets): origins start gently. @default true */
  expectPeers?: boolean;
  /**
   * Our DHT node (BEP 5): its UDP port, sent to peers that set the DHT bit in a `port` message,
   * and where the DHT ports that peers send us go. This is how a DHT with no bootstrap nodes
   * learns its first nodes: from peers we talk to anyway (ADR 010).
   */
  dht?: { port: number; onNode: (host: string, port: number) => void };
  now?: () => number;
  random?: () => number;
}

export interface TorrentStats {
  bytesFromPeers: number;
  /** Bytes from HTTP origins (web seeds), all together; `origins` has each one. */
  bytesFromOrigins: number;
  origins: WebSeedStats[];
  bytesUploaded: number;
  hashFailures: number;
  bannedPeers: number;
  peersSeen: number;
  /** Distinct peer addresses each source named (one address may count for several). */
  peersFrom: Record<PeerSource, number>;
  connections: number;
  piecesHave: number;
  piecesWanted: number;
}
