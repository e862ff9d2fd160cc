/**
 * One torrent in a session: its peers, the picker, verification and storage, and the messages that
 * tie them together. Downloads into `storage`, serves what it has, and reports through the event
 * channel.
 *
 * This file is the wiring and the message dispatch; each part has its own module and sees only
 * what its deps object hands it (so it can be read alone): connection slots (peer-dialer.ts),
 * requests and interest (request-pipeline.ts), blocks into verified pieces and smart ban
 * (piece-assembly.ts), BEP 10 extensions (torrent-extensions.ts), uploads (uploader.ts), HTTP
 * origins (origins.ts). Strikes and bans stay here: pieces and piece layers both give them.
 *
 * Not for: sockets before the handshake (session.ts), picking policy (picker.ts), choking policy
 * (choker.ts), bytes on disk (storage/).
 */
import type { Socket } from 'node:net';
import { Bitfield } from '../codec/bitfield.js';
import { type Metainfo } from '../codec/metainfo.js';
import { type Message, RESERVED_DHT, RESERVED_EXTENSION, RESERVED_FAST, RESERVED_V2, makeReserved } from '../codec/wire.js';
import { Choker, chokeCandidate as candidate } from './choker.js';
import { type HandshakeResult, handshakeOutgoing } from './handshake.js';
import { PeerConnection } from './peer-connection.js';
import { type PeerSource, PeerList, peerKey } from './peer-list.js';
import type { TorrentOptions, TorrentStats } from './torrent-options.js';
import { PeerDialer } from './peer-dialer.js';
import { MAX_PRIORITY, PiecePicker } from './picker.js';
import { RequestPipeline } from './request-pipeline.js';
import { wantedPeers } from './origin-rules.js';
import { type HashRange, answerHashRequest } from './hash-exchange.js';
import { LayerFetch } from './layer-fetch.js';
import { pieceSize } from './piece-info.js';
import { PieceCache } from './piece-cache.js';
import { Uploader } from './uploader.js';
import { BAN_STRIKES, PieceAssembly } from './piece-assembly.js';
import { TorrentExtensions } from './torrent-extensions.js';
import { TokenBucket, takeAll } from './rate-limit.js';
import { Origins } from './origins.js';
import { PieceWaiters } from './piece-waiters.js';

export type { TorrentOptions, TorrentStats } from './torrent-options.js';

export class Torrent {
  readonly metainfo: Metainfo;
  readonly infoHash: Buffer;
  readonly infoHashHex: string;
  readonly peers: PeerList;
  readonly picker: PiecePicker;
  readonly connections = new Map<string, PeerConnection>();
  private readonly assembly: PieceAssembly;
  private readonly extensions: TorrentExtensions;
  private readonly choker: Choker;
  private readonly requests: RequestPipeline;
  private readonly timers: NodeJS.Timeout[] = [];
  /** v2 files whose piece layer we still need from peers (magnet downloads). */
  private readonly layers: LayerFetch;
  private readonly dialer: PeerDialer;
  private readonly upBuckets: TokenBucket[];
  private readonly downBuckets: TokenBucket[];
  private readonly cache: PieceCache;
  private readonly uploader: Uploader;
  private stopped = false;
  private doneEmitted = false;
  private readonly origins: Origins;
  /** When a peer (not an origin) last delivered a block; starts at construction. */
  private lastPeerBlockAt: number;
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
    this.dialer = new PeerDialer({
      peers: this.peers,
      connections: this.connections,
      now: this.now,
      dial: opts.dial,
      handshake: (socket) => handshakeOutgoing(socket, { infoHash: this.infoHash, acceptHashes: this.handshakeHashes, peerId: this.opts.peerId, reserved: this.reserved, timeoutMs: 10_000 }),
      attach: (socket, hs, host, port) => this.attach(socket, hs, true, host, port),
      stopped: () => this.stopped,
      paused: () => this.seeding && !this.doneEmitted,
      seeding: () => this.seeding,
      maxConnections: opts.maxConnections,
      maxConnectionsPerIp: opts.maxConnectionsPerIp,
      maxHalfOpen: opts.maxHalfOpen,
    });
    this.assembly = new PieceAssembly({
      metainfo: t,
      picker: this.picker,
      writePiece: (i, data) => opts.storage.writePiece(i, data),
      stopped: () => this.stopped,
      isConnected: (key) => this.connections.has(key),
      cancel: (other, req) => {
        const oc = this.connections.get(other);
        if (oc) {
          oc.send({ type: 'cancel', ...req });
          this.requests.settled(other, req, true);
        }
      },
      onBacklogDrained: () => {
        this.requests.fillAll();
        this.origins.wake();
      },
      onWritten: (i, who) => this.pieceWritten(i, who),
      onHashFailed: (index, who) => {
        this.stats.hashFailures++;
        this.opts.events.emit('torrent:hash-failed', { infoHash: this.infoHashHex, index, contributors: who });
      },
      strike: (key, n, reason) => this.strike(key, n, reason),
      clearStrikes: (key) => {
        const p = this.peers.get(key);
        if (p && !p.banned) p.strikes = 0;
      },
      fail: (e) => this.fail(e),
    });
    this.requests = new RequestPipeline({
      picker: this.picker,
      connections: this.connections,
      now: this.now,
      stopped: () => this.stopped,
      backlogFull: () => this.assembly.backlogFull,
      allowedRequests: (key, picked) => this.assembly.allowedRequests(key, picked),
    });
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
    this.extensions = new TorrentExtensions({
      metainfo: t,
      selfId: opts.peerId,
      port: opts.port,
      peers: this.peers,
      connections: this.connections,
      now: this.now,
      stopped: () => this.stopped,
      fetchingFromOrigin: () => !this.doneEmitted && this.origins.anyActive,
      onNewPeers: () => this.dialer.fill(),
    });
    this.origins = new Origins({
      metainfo: t,
      picker: this.picker,
      policy: opts.fromOrigin ? 'origin-first' : opts.originPolicy,
      rate: opts.originRate,
      connectionsPerOrigin: opts.originConnections,
      now: this.now,
      lastPeerBlockAt: () => this.lastPeerBlockAt,
      peersPending: () => this.dialer.pending,
      expectPeers: opts.expectPeers ?? true,
      peersHaveWanted: () => {
        const views = [...this.connections.values()].map((c) => ({ amInterested: c.amInterested, peerChoking: c.peerChoking, inflight: this.requests.outstanding(c.key), lastBlockAt: c.lastBlockAt }));
        return wantedPeers(views, this.now());
      },
      selfId: opts.peerId,
      // Only seedbank peers share our origin policy; a peer that has everything fetches nothing.
      fetchingPeers: () => this.extensions.fetchingPeers(),
      deliver: (key, req, data) => {
        if (!this.stopped && !this.picker.have(req.index)) this.assembly.accept(key, req, data);
      },
      canRequest: () => !this.stopped && !this.assembly.backlogFull,
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
    this.dialer.fill();
  }

  addPeer(host: string, port: number, source: PeerSource): void {
    this.peers.add(host, port, source);
    if (!this.stopped) this.dialer.fill();
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
    this.dialer.fill();
    const t = this.now();
    this.requests.tick(t);
    this.extensions.tick(t);
  }

  /** Takes over a socket whose handshake is done (outgoing, or incoming via the session). */
  attach(socket: Socket, hs: HandshakeResult, outgoing: boolean, host: string, port: number): void {
    if (!this.dialer.admit(host, port, outgoing)) {
      socket.destroy();
      return;
    }
    const key = peerKey(host, port);
    const conn = new PeerConnection(socket, key, host, port, Buffer.from(hs.remote.peerId), hs.remote.reserved, outgoing, this.metainfo.numPieces, {
      onMessage: (c, m) => this.onMessage(c, m),
      onClose: (c, reason) => this.onClose(c, reason),
      onReceived: (n) => takeAll(this.downBuckets, n),
    }, { now: this.now });
    this.connections.set(key, conn);
    this.requests.open(key);
    socket.on('drain', () => this.uploader.pump(conn));
    this.opts.events.emit('peer:connected', { infoHash: this.infoHashHex, peer: key, client: null, outgoing });
    this.extensions.sendHandshake(conn);
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
    this.extensions.forget(conn.key);
    this.requests.forget(conn.key);
    this.picker.peerGone(conn.key);
    this.dialer.released(conn);
    this.opts.events.emit('peer:disconnected', { infoHash: this.infoHashHex, peer: conn.key, reason });
    if (!this.stopped) {
      this.requests.fillAll();
      this.dialer.fill();
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
        this.requests.updateInterest(conn, null);
        this.requestLayers();
        break;
      }
      case 'have-all':
        conn.have = Bitfield.full(n);
        conn.peerHasAll = true;
        if (this.markSeed(conn)) return;
        this.picker.peerHasAll(conn.key);
        this.requests.updateInterest(conn, null);
        this.requestLayers();
        break;
      case 'have-none':
        break;
      case 'have':
        if (m.index >= n) return conn.close('have for a piece out of range');
        if (!conn.have.has(m.index)) {
          conn.have.set(m.index);
          this.picker.peerHave(conn.key, m.index);
          this.requests.updateInterest(conn, m.index);
        }
        break;
      case 'choke':
        conn.peerChoking = true;
        // Without the fast extension a choke cancels everything we asked for (BEP 3); with it,
        // the peer rejects each request explicitly (BEP 6).
        if (!conn.supportsFast) this.requests.release(conn);
        break;
      case 'unchoke':
        conn.peerChoking = false;
        this.requests.fill(conn);
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
        this.requests.settled(conn.key, { index: m.index, begin: m.begin, length: m.length }, false);
        this.requests.fill(conn);
        break;
      case 'allowed-fast':
        if (m.index < n) conn.allowedFast.add(m.index);
        this.requests.fill(conn);
        break;
      case 'extended':
        this.extensions.onMessage(conn, m.id, m.payload);
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

  private onBlock(conn: PeerConnection, index: number, begin: number, block: Uint8Array): void {
    if (index >= this.metainfo.numPieces || this.picker.have(index)) return;
    const size = pieceSize(this.metainfo, index);
    if (begin + block.length > size) return conn.close('block beyond the end of its piece');
    conn.lastBlockAt = this.lastPeerBlockAt = this.now();
    conn.snubbed = false;
    const req = { index, begin, length: block.length };
    if (!this.picker.isValidBlock(req)) return conn.close(`block ${index}:${begin}+${block.length} is not a block of this torrent`);
    this.requests.settled(conn.key, req, true);
    if (this.assembly.accept(conn.key, req, block)) this.stats.bytesFromPeers += block.length;
    this.requests.fill(conn);
  }

  /** Piece `index` passed its check and is on disk (piece-assembly.ts): tell everyone. */
  private pieceWritten(index: number, who: string[]): void {
    const wanted = this.picker.wants(index);
    this.picker.markHave(index);
    if (wanted) this.requests.lostInterest(index);
    this.originFetches.settle(index, null);
    this.opts.onPieceWritten?.(index);
    this.opts.events.emit('torrent:piece-verified', { infoHash: this.infoHashHex, index, source: who.join(',') });
    for (const c of this.connections.values()) if (!c.have.has(index)) c.send({ type: 'have', index });
    this.checkDone();
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
      this.requests.updateInterest(c, null);
      this.requests.fill(c);
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
    await this.assembly.close();
    await this.opts.storage.flush().catch(() => {});
  }
}
