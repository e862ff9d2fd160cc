/**
 * One torrent in a session: its peers, the picker, verification and storage, and the messages that
 * tie them together. Downloads into `storage`, serves what it has, and reports through the event
 * channel.
 *
 * Not for: sockets before the handshake (session.ts), picking policy (picker.ts), choking policy
 * (choker.ts), bytes on disk (storage/).
 */
import type { Socket } from 'node:net';
import { Bitfield } from '../codec/bitfield.js';
import { type Metainfo } from '../codec/metainfo.js';
import { type Message, RESERVED_DHT, RESERVED_EXTENSION, RESERVED_FAST, RESERVED_V2, makeReserved } from '../codec/wire.js';
import { decodeExtHandshake, encodeExtHandshake, encodeMetadataMessage, decodeMetadataMessage, METADATA_PIECE_SIZE, decodePex, decodeMembers, encodeMembers } from '../codec/extensions.js';
import { type EventChannel } from '../events.js';
import type { Storage } from '../storage/storage.js';
import { VERSION } from '../version.js';
import { Choker, chokeCandidate as candidate } from './choker.js';
import { type HandshakeResult, handshakeOutgoing } from './handshake.js';
import { PeerConnection } from './peer-connection.js';
import { type PeerSource, PeerList, peerKey } from './peer-list.js';
import { type BlockRequest, MAX_PRIORITY, PiecePicker } from './picker.js';
import { SNUB_MS, countWanted, queueDepth, requestsToAdd } from './request-queue.js';
import { wantedPeers } from './origin-rules.js';
import { MEMBERS_INTERVAL_MS, MEMBERS_SECOND_REPORT_MS, MemberView } from './member-view.js';
import { type HashRange, answerHashRequest } from './hash-exchange.js';
import { LayerFetch } from './layer-fetch.js';
import { pieceSize } from './piece-info.js';
import { PieceCache } from './piece-cache.js';
import { Uploader } from './uploader.js';
import { PieceVerifier } from './piece-verifier.js';
import { BLOCK, SmartBan } from './smart-ban.js';
import { TokenBucket, takeAll } from './rate-limit.js';
import { type OriginPolicy, Origins } from './origins.js';
import { type WebSeedStats } from './web-seed.js';
import { PieceWaiters } from './piece-waiters.js';
import { FIRST_PEX_MS, MAX_PEX_PEERS, PEX_INTERVAL_MS, sendPexUpdates } from './pex.js';

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

/**
 * Strikes before a peer is banned. Sole sender of a bad piece, or proven sender of a bad block
 * (smart ban): all of them at once. Bad piece-layer hashes: one strike each.
 */
const BAN_STRIKES = 4;
const EXT_METADATA = 1;
const EXT_PEX = 2;
const EXT_MEMBERS = 3;
/** Complete pieces waiting for the hash workers or the disk before we stop requesting: bounds memory. */
const MAX_BACKLOG_BYTES = 32 * 1024 * 1024;
/** Failed pieces whose bad copy we keep for smart ban. */
const MAX_SUSPECT_PIECES = 16;
/** Spare piece buffers kept for reuse. */
const MAX_FREE_BUFFERS = 8;

export class Torrent {
  readonly metainfo: Metainfo;
  readonly infoHash: Buffer;
  readonly infoHashHex: string;
  readonly peers: PeerList;
  readonly picker: PiecePicker;
  readonly connections = new Map<string, PeerConnection>();
  private readonly verifier: PieceVerifier;
  private readonly choker: Choker;
  private readonly buffers = new Map<number, Buffer>();
  private readonly inflight = new Map<string, number>();
  /** Who sent each block of a piece being downloaded (block index -> peer key). */
  private readonly senders = new Map<number, string[]>();
  private readonly smartBan = new SmartBan(MAX_SUSPECT_PIECES);
  /** The one peer a suspect piece is being fetched from again. */
  private readonly suspectOwner = new Map<number, string>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** v2 files whose piece layer we still need from peers (magnet downloads). */
  private readonly layers: LayerFetch;
  private halfOpen = 0;
  private readonly upBuckets: TokenBucket[];
  private readonly downBuckets: TokenBucket[];
  private readonly cache: PieceCache;
  private readonly uploader: Uploader;
  private readonly freeBuffers: ArrayBuffer[] = [];
  /** Complete pieces handed to the verifier, by index. */
  private readonly verifying = new Map<number, Buffer>();
  /** Bytes of complete pieces not yet verified and written. */
  private backlog = 0;
  private stopped = false;
  private doneEmitted = false;
  private readonly origins: Origins;
  /** When a peer (not an origin) last delivered a block; starts at construction. */
  private lastPeerBlockAt: number;
  /** Seedbank nodes our neighbours report (sb_members), and when we last reported to each peer. */
  private readonly members: MemberView;
  private readonly membersSentAt = new Map<string, number>();
  private readonly stats = { bytesFromPeers: 0, bytesUploaded: 0, hashFailures: 0, bannedPeers: 0 };
  private readonly now: () => number;
  private doneResolve!: () => void;
  private failReject!: (e: Error) => void;
  /** Resolves when every wanted piece is verified and written; rejects on a storage failure. */
  readonly done: Promise<void>;

  constructor(private readonly opts: TorrentOptions) {
    const t = opts.metainfo;
    this.metainfo = t;
    this.now = opts.now ?? Date.now;
    this.infoHash = t.infoHashV1 ?? t.infoHashV2!.subarray(0, 20);
    this.infoHashHex = (t.infoHashV1 ?? t.infoHashV2!).toString('hex');
    this.peers = new PeerList(this.now);
    this.picker = new PiecePicker({
      numPieces: t.numPieces,
      pieceLength: t.pieceLength,
      totalLength: t.totalLength,
      pieceSize: (i: number) => pieceSize(t, i),
      random: opts.random,
      now: this.now,
    });
    for (let i = 0; i < t.numPieces; i++) {
      if (opts.have?.has(i)) this.picker.markHave(i);
      else if (opts.fromOrigin || (opts.wanted && !opts.wanted.has(i))) this.picker.setPriority(i, 0);
    }
    this.layers = new LayerFetch(t, this.picker, this.now);
    this.verifier = new PieceVerifier(t);
    this.cache = new PieceCache(opts.storage, (i) => pieceSize(t, i));
    this.upBuckets = [new TokenBucket(opts.uploadRate ?? 0, this.now), ...(opts.sessionBuckets ? [opts.sessionBuckets.up] : [])];
    this.downBuckets = [new TokenBucket(opts.downloadRate ?? 0, this.now), ...(opts.sessionBuckets ? [opts.sessionBuckets.down] : [])];
    this.uploader = new Uploader({
      numPieces: t.numPieces,
      pieceSize: (i) => pieceSize(t, i),
      have: (i) => opts.fromOrigin || this.picker.have(i),
      fetch: opts.fromOrigin ? (i) => this.originFetches.wait(i) : undefined,
      present: (i) => this.picker.have(i),
      cache: this.cache,
      buckets: this.upBuckets,
      onUploaded: (n) => (this.stats.bytesUploaded += n),
    });
    this.choker = new Choker({ now: this.now, random: opts.random });
    this.lastPeerBlockAt = this.now();
    this.members = new MemberView(this.now);
    this.origins = new Origins({
      metainfo: t,
      picker: this.picker,
      policy: opts.fromOrigin ? 'origin-first' : opts.originPolicy,
      rate: opts.originRate,
      connectionsPerOrigin: opts.originConnections,
      now: this.now,
      lastPeerBlockAt: () => this.lastPeerBlockAt,
      peersPending: () => this.halfOpen > 0,
      expectPeers: opts.expectPeers ?? true,
      peersHaveWanted: () => {
        const views = [...this.connections.values()].map((c) => ({ amInterested: c.amInterested, peerChoking: c.peerChoking, inflight: this.inflight.get(c.key) ?? 0, lastBlockAt: c.lastBlockAt }));
        return wantedPeers(views, this.now());
      },
      selfId: opts.peerId,
      // Only seedbank peers share our origin policy; a peer that has everything fetches nothing.
      fetchingPeers: () => this.fetchingPeers(),
      deliver: (key, req, data) => {
        if (!this.stopped && !this.picker.have(req.index)) this.acceptBlock(key, req, data);
      },
      canRequest: () => !this.stopped && this.backlog < MAX_BACKLOG_BYTES,
      onDropped: (url, reason) => {
        this.opts.events.emit('origin:dropped', { infoHash: this.infoHashHex, url, reason });
        // A seed backed by origins that are all gone cannot get what peers are waiting for.
        if (this.opts.fromOrigin && !this.origins.anyActive) {
          this.originFetches.failAll(new Error(`no origin left (${reason})`));
        }
      },
    });
    for (const url of opts.webSeeds ?? []) this.origins.add(url);
    this.done = new Promise<void>((resolve, reject) => {
      this.doneResolve = resolve;
      this.failReject = reject;
    });
    this.done.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  /** Reserved bits we send: extension protocol, fast extension, and v2 for v2/hybrid torrents. */
  get reserved(): Buffer {
    return Buffer.from(makeReserved([RESERVED_EXTENSION, RESERVED_FAST, ...(this.metainfo.infoHashV2 ? [RESERVED_V2] : []), ...(this.opts.dht ? [RESERVED_DHT] : [])]));
  }

  /** The 20-byte hashes peers may use for this torrent in a handshake. */
  get handshakeHashes(): Buffer[] {
    const out: Buffer[] = [];
    if (this.metainfo.infoHashV1) out.push(this.metainfo.infoHashV1);
    if (this.metainfo.infoHashV2) out.push(this.metainfo.infoHashV2.subarray(0, 20));
    return out;
  }

  get seeding(): boolean {
    return this.picker.isDone() && this.layers.size === 0;
  }

  start(): void {
    this.checkDone();
    if (!this.doneEmitted || this.opts.fromOrigin) this.origins.start();
    this.timers.push(setInterval(() => this.tick(), 1000));
    this.timers.push(setInterval(() => this.rechoke(), 10_000));
    for (const t of this.timers) t.unref?.();
    this.fillConnections();
  }

  addPeer(host: string, port: number, source: PeerSource): void {
    this.peers.add(host, port, source);
    if (!this.stopped) this.fillConnections();
  }

  /** `fromOrigin`: requests for pieces still to come from an origin (one fetch per piece). */
  private readonly originFetches = new PieceWaiters(
    (i) => this.picker.have(i),
    (i) => {
      this.picker.setPriority(i, MAX_PRIORITY);
      this.origins.wake();
    },
  );

  /** Adds an HTTP origin (BEP 19 web seed); it is used while we download, per the origin policy. */
  addWebSeed(url: string): void {
    if (this.stopped) return;
    this.origins.add(url);
  }

  getStats(): TorrentStats {
    return {
      ...this.stats,
      bytesFromOrigins: this.origins.bytes,
      origins: this.origins.stats(),
      peersSeen: this.peers.size,
      peersFrom: this.peers.learnedFrom(),
      connections: this.connections.size,
      piecesHave: this.picker.haveBitfield().count,
      piecesWanted: this.picker.wantedRemaining(),
    };
  }

  private tick(): void {
    this.requestLayers();
    this.fillConnections();
    const t = this.now();
    for (const c of this.connections.values()) {
      if (!c.snubbed && (this.inflight.get(c.key) ?? 0) > 0 && t - c.lastBlockAt > SNUB_MS) {
        c.snubbed = true;
        this.releaseRequests(c);
      }
      this.fillRequests(c);
    }
    this.sendPex(t);
    for (const c of this.connections.values()) {
      const sent = this.membersSentAt.get(c.key);
      if (sent !== undefined && t - sent >= MEMBERS_INTERVAL_MS) this.sendMembers(c);
    }
  }

  /** Seedbank peers that still download, connected ones first: they may share our origin. */
  private fetchingNeighbours(): PeerConnection[] {
    return [...this.connections.values()].filter((c) => !c.peerHasAll && c.peerId.subarray(0, 3).toString('latin1') === '-SB');
  }

  /** Origin ownership members: connected seedbank peers and those they report (member-view.ts). */
  private fetchingPeers(): Uint8Array[] {
    const direct: Uint8Array[] = this.fetchingNeighbours().map((c) => c.peerId);
    const exclude = new Set<string>([this.opts.peerId.toString('hex')]);
    for (const c of this.connections.values()) exclude.add(c.peerId.toString('hex'));
    return direct.concat(this.members.ids(exclude));
  }

  /** sb_members: tell a seedbank peer which of our neighbours fetch from the origin, while we do. */
  private sendMembers(conn: PeerConnection): void {
    if (conn.closed || this.stopped) return;
    this.membersSentAt.set(conn.key, this.now());
    const id = conn.extIds.get('sb_members');
    if (!id || this.doneEmitted || !this.origins.anyActive) return;
    const ids = this.fetchingNeighbours().filter((c) => c !== conn).map((c) => c.peerId);
    conn.send({ type: 'extended', id, payload: encodeMembers(ids) });
  }

  /** BEP 11: tell each peer (that speaks ut_pex) which peers we are connected to, and who left. */
  private sendPex(t: number): void {
    if (this.metainfo.private) return;
    // A first message soon after the connection opens (a young swarm meshes in seconds: two
    // peers that announced at the same moment never heard of each other from the tracker), then
    // at most once a minute, as BEP 11 asks.
    const due = [...this.connections.values()].filter((c) =>
      c.pexSentAt === null ? t - c.connectedAt >= FIRST_PEX_MS : t - c.pexSentAt >= PEX_INTERVAL_MS,
    );
    if (due.length === 0) return;
    for (const c of due) c.pexSentAt = t;
    sendPexUpdates(this.connections.values(), due);
  }

  private fillConnections(): void {
    const max = this.opts.maxConnections ?? 50;
    const halfOpenMax = this.opts.maxHalfOpen ?? 10;
    if (this.stopped || (this.seeding && !this.doneEmitted)) return;
    const room = Math.min(max - this.connections.size - this.halfOpen, halfOpenMax - this.halfOpen);
    if (room <= 0) return;
    // Once we have everything, seeds are of no use to us, nor we to them.
    for (const p of this.peers.candidates(room, this.seeding)) {
      p.lastAttempt = this.now();
      p.connected = true; // reserved while dialing, so it is not dialed twice
      this.halfOpen++;
      void this.dialPeer(p.host, p.port).finally(() => this.halfOpen--);
    }
  }

  private async dialPeer(host: string, port: number): Promise<void> {
    const known = this.peers.get(peerKey(host, port))!;
    try {
      const socket = await this.opts.dial(host, port);
      const hs = await handshakeOutgoing(socket, { infoHash: this.infoHash, acceptHashes: this.handshakeHashes, peerId: this.opts.peerId, reserved: this.reserved, timeoutMs: 10_000 }).catch((e) => {
        socket.destroy();
        throw e;
      });
      if (this.stopped) {
        socket.destroy();
        return;
      }
      known.failures = 0;
      this.attach(socket, hs, true, host, port);
    } catch (e) {
      known.failures++;
      known.connected = false;
      // Trackers that list us to ourselves (opentracker does): forget that address.
      if (e instanceof Error && /ourselves/.test(e.message)) this.peers.remove(known.key);
    }
  }

  /** Takes over a socket whose handshake is done (outgoing, or incoming via the session). */
  attach(socket: Socket, hs: HandshakeResult, outgoing: boolean, host: string, port: number): void {
    const key = peerKey(host, port);
    if (this.stopped || this.peers.isBanned(host) || this.connections.has(key)) {
      socket.destroy();
      return;
    }
    if (!outgoing && this.connections.size >= (this.opts.maxConnections ?? 50)) {
      socket.destroy();
      return;
    }
    const perIp = this.opts.maxConnectionsPerIp ?? 8;
    if (!isLoopback(host) && [...this.connections.values()].filter((c) => c.host === host).length >= perIp) {
      socket.destroy();
      return;
    }
    const known = this.peers.add(host, port, outgoing ? 'manual' : 'incoming');
    if (known) known.connected = true;
    const conn = new PeerConnection(socket, key, host, port, Buffer.from(hs.remote.peerId), hs.remote.reserved, outgoing, this.metainfo.numPieces, {
      onMessage: (c, m) => this.onMessage(c, m),
      onClose: (c, reason) => this.onClose(c, reason),
      onReceived: (n) => takeAll(this.downBuckets, n),
    }, { now: this.now });
    this.connections.set(key, conn);
    this.inflight.set(key, 0);
    socket.on('drain', () => this.uploader.pump(conn));
    this.opts.events.emit('peer:connected', { infoHash: this.infoHashHex, peer: key, client: null, outgoing });
    if (conn.supportsExtensions) {
      conn.send({
        type: 'extended',
        id: 0,
        payload: encodeExtHandshake({ m: { ut_metadata: EXT_METADATA, ut_pex: EXT_PEX, sb_members: EXT_MEMBERS }, v: `seedbank/${VERSION}`, p: this.opts.port, reqq: 2000, metadataSize: this.metainfo.infoBytes.length }),
      });
    }
    this.sendHaves(conn);
    if (this.opts.dht && conn.supportsDht) conn.send({ type: 'port', port: this.opts.dht.port });
    conn.start(hs.rest);
  }

  private sendHaves(conn: PeerConnection): void {
    if (this.opts.fromOrigin) {
      // Everything is ours to serve: what is not on disk yet is one origin fetch away.
      if (conn.supportsFast) conn.send({ type: 'have-all' });
      else conn.send({ type: 'bitfield', bitfield: Bitfield.full(this.metainfo.numPieces).bytes });
      return;
    }
    const have = this.picker.haveBitfield();
    if (conn.supportsFast && have.count === 0) conn.send({ type: 'have-none' });
    else if (conn.supportsFast && have.complete) conn.send({ type: 'have-all' });
    else conn.send({ type: 'bitfield', bitfield: have.bytes });
  }

  private onClose(conn: PeerConnection, reason: string): void {
    this.connections.delete(conn.key);
    this.membersSentAt.delete(conn.key);
    this.inflight.delete(conn.key);
    this.picker.peerGone(conn.key);
    const known = this.peers.get(conn.key);
    if (known) known.connected = false;
    if (!conn.outgoing && conn.listenPort) {
      const listening = this.peers.get(peerKey(conn.host, conn.listenPort));
      if (listening) listening.connected = false;
    }
    this.opts.events.emit('peer:disconnected', { infoHash: this.infoHashHex, peer: conn.key, reason });
    if (!this.stopped) {
      for (const c of this.connections.values()) this.fillRequests(c);
      this.fillConnections();
    }
  }

  private onMessage(conn: PeerConnection, m: Message): void {
    const n = this.metainfo.numPieces;
    switch (m.type) {
      case 'bitfield': {
        let bf: Bitfield;
        try {
          bf = new Bitfield(n, m.bitfield);
        } catch {
          conn.close('malformed bitfield');
          return;
        }
        conn.have = bf;
        if (bf.complete) {
          conn.peerHasAll = true;
          if (this.markSeed(conn)) return;
          this.picker.peerHasAll(conn.key);
        } else this.picker.peerBitfield(conn.key, bf);
        this.updateInterest(conn, null);
        this.requestLayers();
        break;
      }
      case 'have-all':
        conn.have = Bitfield.full(n);
        conn.peerHasAll = true;
        if (this.markSeed(conn)) return;
        this.picker.peerHasAll(conn.key);
        this.updateInterest(conn, null);
        this.requestLayers();
        break;
      case 'have-none':
        break;
      case 'have':
        if (m.index >= n) return conn.close('have for a piece out of range');
        if (!conn.have.has(m.index)) {
          conn.have.set(m.index);
          this.picker.peerHave(conn.key, m.index);
          this.updateInterest(conn, m.index);
        }
        break;
      case 'choke':
        conn.peerChoking = true;
        // Without the fast extension a choke cancels everything we asked for (BEP 3); with it,
        // the peer rejects each request explicitly (BEP 6).
        if (!conn.supportsFast) this.releaseRequests(conn);
        break;
      case 'unchoke':
        conn.peerChoking = false;
        this.fillRequests(conn);
        break;
      case 'interested':
        conn.peerInterested = true;
        if (conn.amChoking && this.choker.hasFreeSlot([...this.connections.values()].map(candidate))) this.setChoke(conn, false);
        break;
      case 'not-interested': {
        conn.peerInterested = false;
        // Its slot goes to a peer that waits for one now, not at the next rechoke.
        const next = conn.amChoking ? null : this.choker.nextToUnchoke([...this.connections.values()].map(candidate), this.seeding);
        const nc = next === null ? undefined : this.connections.get(next);
        if (nc) this.setChoke(nc, false);
        break;
      }
      case 'request':
        this.uploader.onRequest(conn, m.index, m.begin, m.length);
        break;
      case 'cancel':
        this.uploader.onCancel(conn, m.index, m.begin, m.length);
        break;
      case 'piece':
        this.onBlock(conn, m.index, m.begin, m.block);
        break;
      case 'reject':
        this.requestDone(conn, { index: m.index, begin: m.begin, length: m.length }, false);
        this.fillRequests(conn);
        break;
      case 'allowed-fast':
        if (m.index < n) conn.allowedFast.add(m.index);
        this.fillRequests(conn);
        break;
      case 'extended':
        this.onExtended(conn, m.id, m.payload);
        break;
      case 'hash-request': {
        const answer = answerHashRequest(this.metainfo, m);
        const range = { piecesRoot: m.piecesRoot, baseLayer: m.baseLayer, index: m.index, length: m.length, proofLayers: m.proofLayers };
        conn.send(answer ? { type: 'hashes', ...range, hashes: answer } : { type: 'hash-reject', ...range });
        break;
      }
      case 'hashes':
        this.onHashes(conn, m, m.hashes);
        break;
      case 'hash-reject':
        this.onHashes(conn, m, null);
        break;
      case 'port':
        // One per connection: a peer repeating it gets no more of our DHT's attention.
        if (this.opts.dht && m.port > 0 && !conn.dhtPortSeen) {
          conn.dhtPortSeen = true;
          this.opts.dht.onNode(conn.host, m.port);
        }
        break;
      default:
        // keep-alive, suggest and unknown ids.
        break;
    }
  }

  /** Notes that a peer is a seed; true if that closed the connection (we are one too). */
  private markSeed(conn: PeerConnection): boolean {
    const known = this.peers.get(conn.key);
    if (known) known.seed = true;
    if (!(this.seeding && this.doneEmitted)) return false;
    conn.close('both seeding');
    return true;
  }

  /**
   * Interest follows what the peer has that we want (`conn.wanted`): interested when it has
   * something, not interested once we have everything it has (BEP 3). A peer that stays
   * "interested" in us with nothing left to ask holds one of our upload slots for nothing.
   * `index`: the peer just got that piece; null: recount (bitfield, priorities changed).
   */
  private updateInterest(conn: PeerConnection, index: number | null): void {
    if (index === null) conn.wanted = countWanted(this.picker, conn);
    else if (this.picker.wants(index)) conn.wanted++;
    if (!conn.amInterested && conn.wanted > 0) {
      conn.amInterested = true;
      conn.send({ type: 'interested' });
      this.fillRequests(conn);
    }
  }

  /** We have piece `index` now: peers that had it have one piece less for us. */
  private lostInterest(index: number): void {
    for (const c of this.connections.values()) {
      if (!(c.peerHasAll || c.have.has(index))) continue;
      if (--c.wanted > 0 || !c.amInterested) continue;
      c.wanted = countWanted(this.picker, c);
      if (c.wanted > 0) continue;
      c.amInterested = false;
      c.send({ type: 'not-interested' });
    }
  }

  private fillRequests(conn: PeerConnection): void {
    if (this.stopped || conn.closed || !conn.amInterested) return;
    if (conn.peerChoking && conn.allowedFast.size === 0) return;
    // Backpressure: when hashing or the disk falls behind the network, stop asking for more.
    if (this.backlog >= MAX_BACKLOG_BYTES) return;
    const have = this.inflight.get(conn.key) ?? 0;
    if (have === 0) conn.lastBlockAt = this.now(); // the wait for a block starts now
    const want = requestsToAdd(have, queueDepth(conn.down.rate(), conn.reqq, conn.snubbed));
    if (want === 0) return;
    const picked = this.picker.pick(conn.key, want, { choked: conn.peerChoking, allowedFast: conn.allowedFast });
    // A piece that failed with blocks from several peers is fetched again from one peer only, so
    // the retry either passes (and smart ban names the liar) or fails with a single sender.
    const reqs = picked.filter((r) => {
      if (!this.smartBan.has(r.index)) return true;
      const owner = this.suspectOwner.get(r.index);
      if (owner === undefined || owner === conn.key || !this.connections.has(owner)) {
        this.suspectOwner.set(r.index, conn.key);
        return true;
      }
      this.picker.requestFailed(conn.key, r);
      return false;
    });
    conn.sendAll(reqs.map((r) => ({ type: 'request' as const, index: r.index, begin: r.begin, length: r.length })));
    this.inflight.set(conn.key, have + reqs.length);
  }

  private releaseRequests(conn: PeerConnection): void {
    for (const r of this.picker.outstanding(conn.key)) this.picker.requestFailed(conn.key, r);
    this.inflight.set(conn.key, 0);
  }

  private requestDone(conn: PeerConnection, r: BlockRequest, received: boolean): void {
    this.inflight.set(conn.key, Math.max(0, (this.inflight.get(conn.key) ?? 0) - 1));
    if (!received) this.picker.requestFailed(conn.key, r);
  }

  private onBlock(conn: PeerConnection, index: number, begin: number, block: Uint8Array): void {
    if (index >= this.metainfo.numPieces || this.picker.have(index)) return;
    const size = pieceSize(this.metainfo, index);
    if (begin + block.length > size) return conn.close('block beyond the end of its piece');
    conn.lastBlockAt = this.lastPeerBlockAt = this.now();
    conn.snubbed = false;
    const req = { index, begin, length: block.length };
    if (!this.picker.isValidBlock(req)) return conn.close(`block ${index}:${begin}+${block.length} is not a block of this torrent`);
    this.inflight.set(conn.key, Math.max(0, (this.inflight.get(conn.key) ?? 0) - 1));
    if (this.acceptBlock(conn.key, req, block)) this.stats.bytesFromPeers += block.length;
    this.fillRequests(conn);
  }

  /**
   * A block from any source (peer or web seed), already checked to be a block of this torrent:
   * into its piece buffer, and the piece to the verifier once complete. False for a duplicate.
   */
  private acceptBlock(key: string, req: BlockRequest, block: Uint8Array): boolean {
    const { index, begin } = req;
    const size = pieceSize(this.metainfo, index);
    const r = this.picker.blockReceived(key, req);
    if (r.duplicate) return false;
    for (const other of r.cancelFrom) {
      const oc = this.connections.get(other);
      if (oc) {
        oc.send({ type: 'cancel', ...req });
        this.inflight.set(other, Math.max(0, (this.inflight.get(other) ?? 0) - 1));
      }
    }
    let buf = this.buffers.get(index);
    if (!buf) {
      buf = this.takeBuffer(size);
      this.buffers.set(index, buf);
    }
    buf.set(block, begin);
    let who = this.senders.get(index);
    if (!who) this.senders.set(index, (who = []));
    who[Math.floor(begin / BLOCK)] = key;
    if (r.pieceComplete) {
      this.verifying.set(index, buf);
      const bytes = buf.length; // read now: the buffer is detached while a worker hashes it
      this.backlog += bytes;
      void this.finishPiece(index).finally(() => {
        this.backlog -= bytes;
        if (this.backlog < MAX_BACKLOG_BYTES / 2) {
          for (const c of this.connections.values()) this.fillRequests(c);
          this.origins.wake();
        }
      });
    }
    return true;
  }

  /** Piece buffers are reused: a fresh 4 MiB buffer per piece costs page faults and GC. */
  private takeBuffer(size: number): Buffer {
    const ab = this.freeBuffers.pop() ?? new ArrayBuffer(this.metainfo.pieceLength);
    return Buffer.from(ab, 0, size);
  }

  private giveBuffer(buf: Buffer): void {
    if (buf.buffer.byteLength === this.metainfo.pieceLength && this.freeBuffers.length < MAX_FREE_BUFFERS) this.freeBuffers.push(buf.buffer as ArrayBuffer);
  }

  private async finishPiece(index: number): Promise<void> {
    const senders = this.senders.get(index) ?? [];
    const who = [...new Set(senders.filter(Boolean))];
    this.buffers.delete(index); // detached while the worker hashes it
    this.senders.delete(index);
    let verdict: 'ok' | 'bad' | 'unverifiable';
    let buf: Buffer;
    try {
      ({ verdict, piece: buf } = await this.verifier.verify(index, this.verifying.get(index)!));
    } catch {
      this.verifying.delete(index);
      if (!this.stopped) this.picker.pieceFailed(index);
      return;
    }
    this.verifying.delete(index);
    if (this.stopped) return;
    if (verdict !== 'ok') {
      this.onHashFailure(index, buf, senders, who);
      return;
    }
    this.judgeSuspects(index, buf);
    try {
      await this.opts.storage.writePiece(index, buf);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    this.giveBuffer(buf);
    const wanted = this.picker.wants(index);
    this.picker.markHave(index);
    if (wanted) this.lostInterest(index);
    this.originFetches.settle(index, null);
    this.opts.onPieceWritten?.(index);
    this.opts.events.emit('torrent:piece-verified', { infoHash: this.infoHashHex, index, source: who.join(',') });
    for (const c of this.connections.values()) if (!c.have.has(index)) c.send({ type: 'have', index });
    this.checkDone();
  }

  private onHashFailure(index: number, buf: Buffer, senders: string[], who: string[]): void {
    this.stats.hashFailures++;
    this.picker.pieceFailed(index);
    this.opts.events.emit('torrent:hash-failed', { infoHash: this.infoHashHex, index, contributors: who });
    if (who.length === 1) {
      // One sender: it is the culprit.
      this.giveBuffer(buf);
      this.strike(who[0]!, BAN_STRIKES, `sent data for piece ${index} that failed its hash check`);
      return;
    }
    // Several senders: keep the bad copy to compare with the good one once the piece passes, and
    // strike nobody yet (an honest peer that shared a piece with a liar must not pay for it).
    this.smartBan.failed(index, buf, senders);
    this.suspectOwner.delete(index);
    this.giveBuffer(buf);
  }

  /** The piece passed: the senders of blocks that differ from the failed copy are banned. */
  private judgeSuspects(index: number, good: Buffer): void {
    this.suspectOwner.delete(index);
    const v = this.smartBan.passed(index, good);
    if (!v) return;
    for (const key of v.guilty) this.strike(key, BAN_STRIKES, `sent corrupt block(s) of piece ${index}`);
    // The others were blamed for nothing: their slate is clean.
    for (const key of v.cleared) {
      const p = this.peers.get(key);
      if (p && !p.banned && !v.guilty.includes(key)) p.strikes = 0;
    }
  }

  private strike(key: string, n: number, reason: string): void {
    if (this.origins.isOrigin(key)) return this.origins.strike(key);
    const p = this.peers.get(key);
    if (!p) return;
    p.strikes += n;
    if (p.strikes >= BAN_STRIKES && !p.banned) {
      p.banned = true;
      this.stats.bannedPeers++;
      this.opts.events.emit('peer:banned', { infoHash: this.infoHashHex, peer: key, reason });
      this.connections.get(key)?.close(`banned: ${reason}`);
    }
  }

  private checkDone(): void {
    // Pieces waiting for their piece layer are not wanted by the picker yet, but still wanted.
    if (this.doneEmitted || !this.picker.isDone() || this.layers.size > 0) return;
    this.doneEmitted = true;
    for (const c of this.connections.values()) {
      if (c.amInterested) {
        c.amInterested = false;
        c.send({ type: 'not-interested' });
      }
      // Two seeds have nothing for each other.
      if (c.peerHasAll) {
        const known = this.peers.get(c.key);
        if (known) known.seed = true;
        c.close('both seeding');
      }
    }
    // A new seed chooses whom to serve by a different rule: apply it now, not in up to 10 s.
    if (this.connections.size) this.rechoke();
    this.opts.events.emit('torrent:done', { infoHash: this.infoHashHex });
    if (!this.opts.fromOrigin) void this.origins.stop();
    this.doneResolve();
  }

  private fail(e: Error): void {
    if (this.stopped) return;
    this.failReject(e);
    void this.stop();
  }

  /** Asks connected peers for the piece layers a magnet-started v2 torrent still lacks. */
  private requestLayers(): void {
    if (this.layers.size === 0) return;
    // Any peer of a v2 torrent speaks v2 (libtorrent does not set the reserved upgrade bit).
    const peers = [...this.connections.values()].filter((c) => c.peerHasAll || c.have.count > 0).map((c) => c.key);
    for (const { peer, range } of this.layers.due(peers, (k) => this.connections.has(k))) {
      this.connections.get(peer)?.send({ type: 'hash-request', ...range });
    }
  }

  private onHashes(conn: PeerConnection, r: HashRange, hashes: Uint8Array | null): void {
    const outcome = this.layers.onHashes(r, hashes);
    if (outcome === 'bad') this.strike(conn.key, 1, 'sent piece-layer hashes that do not prove out to the pieces root');
    if (outcome !== 'complete') return;
    this.checkDone();
    for (const c of this.connections.values()) {
      this.updateInterest(c, null);
      this.fillRequests(c);
    }
  }

  private setChoke(conn: PeerConnection, choke: boolean): void {
    this.uploader.setChoke(conn, choke);
  }

  private rechoke(): void {
    const conns = [...this.connections.values()];
    const unchoke = this.choker.decide(conns.map(candidate), this.seeding);
    for (const c of conns) this.setChoke(c, !unchoke.has(c.key));
  }

  private onExtended(conn: PeerConnection, id: number, payload: Uint8Array): void {
    try {
      if (id === 0) {
        const hs = decodeExtHandshake(payload);
        for (const [name, eid] of Object.entries(hs.m)) conn.extIds.set(name, eid);
        if (typeof hs.reqq === 'number' && hs.reqq > 0) conn.reqq = Math.min(hs.reqq, 5000);
        if (typeof hs.v === 'string') conn.client = hs.v;
        if (conn.extIds.has('sb_members') && !this.membersSentAt.has(conn.key)) {
          this.sendMembers(conn);
          const t = setTimeout(() => this.sendMembers(conn), MEMBERS_SECOND_REPORT_MS);
          t.unref?.();
        }
        if (typeof hs.p === 'number' && hs.p > 0 && !conn.outgoing) {
          conn.listenPort = hs.p;
          this.peers.add(conn.host, hs.p, 'incoming');
          // We are connected to that address already (it dialed us): do not dial it again when a
          // tracker or PEX names it, or every pair of peers ends up with two connections.
          const listening = this.peers.get(peerKey(conn.host, hs.p));
          if (listening) listening.connected = true;
        }
      } else if (id === EXT_METADATA) {
        this.onMetadataRequest(conn, payload);
      } else if (id === EXT_MEMBERS) {
        this.members.report(decodeMembers(payload));
      } else if (id === EXT_PEX) {
        if (this.metainfo.private) return;
        const pex = decodePex(payload);
        for (const p of pex.added.slice(0, MAX_PEX_PEERS)) this.peers.add(p.host, p.port, 'pex');
        this.fillConnections();
      }
    } catch (e) {
      conn.close(`bad extension message: ${(e as Error).message}`);
    }
  }

  /** BEP 9: serve our info dictionary to peers that came from a magnet link. */
  private onMetadataRequest(conn: PeerConnection, payload: Uint8Array): void {
    const theirId = conn.extIds.get('ut_metadata');
    if (!theirId) return;
    const msg = decodeMetadataMessage(payload);
    if (msg.msgType !== 0) return;
    const info = this.metainfo.infoBytes;
    const start = msg.piece * METADATA_PIECE_SIZE;
    if (start >= info.length || msg.piece < 0) {
      conn.send({ type: 'extended', id: theirId, payload: encodeMetadataMessage({ msgType: 2, piece: msg.piece }) });
      return;
    }
    const data = info.subarray(start, Math.min(info.length, start + METADATA_PIECE_SIZE));
    conn.send({ type: 'extended', id: theirId, payload: encodeMetadataMessage({ msgType: 1, piece: msg.piece, totalSize: info.length, data }) });
  }

  private readonly stopHooks: Array<() => void> = [];

  /** Runs `fn` when the torrent stops (for timers that belong to its owner). */
  onStop(fn: () => void): void {
    this.stopHooks.push(fn);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const fn of this.stopHooks) fn();
    for (const t of this.timers) clearInterval(t);
    for (const c of [...this.connections.values()]) c.close('stopping');
    this.originFetches.failAll(new Error('stopping'));
    await this.origins.stop();
    await this.verifier.close();
    await this.opts.storage.flush().catch(() => {});
  }
}

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1';
}
