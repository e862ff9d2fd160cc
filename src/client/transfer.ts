/**
 * The library's high-level operations on a swarm: download a torrent into a folder, or seed one
 * from a folder. They wire a session, file storage, resume data and (later) trackers together;
 * the CLI and the HTTP API use these, never the engine directly.
 */
import { minimatch } from 'minimatch';
import { Bitfield } from '../codec/bitfield.js';
import { filePieces } from '../codec/layout.js';
import { bdecode } from '../codec/bencode.js';
import { type Magnet } from '../codec/magnet.js';
import { type Metainfo, parseInfo } from '../codec/metainfo.js';
import { MetainfoError } from '../errors.js';
import { MetadataFetch } from '../engine/metadata-fetch.js';
import { dialTcp } from '../engine/session.js';
import { UsageError } from '../errors.js';
import { type EventChannel } from '../events.js';
import { Session } from '../engine/session.js';
import { type Torrent, type TorrentStats } from '../engine/torrent.js';
import { type OriginPolicy } from '../engine/origins.js';
import { TrackerSet } from '../discovery/tracker-set.js';
import { type UdpDht } from '../dht/udp.js';
import { type DhtSettings, DhtNodeLearner, discoverViaDht, parseDhtBootstrap, startDht } from './dht-discovery.js';
import { type Lsd, startLsd } from '../discovery/lsd-sockets.js';
import { FileStorage } from '../storage/file-storage.js';
import { ResumeStore, loadResume } from '../storage/resume.js';

export interface TransferOptions {
  /** Folder that holds (or will hold) the content under the torrent's name. */
  dataDir: string;
  /** TCP port to listen on. @default 0 (any free port) */
  port?: number;
  /** Peers to dial, "host:port" or "[v6]:port". */
  peers?: string[];
  /** Download only files whose path matches one of these globs. @default all */
  select?: string[];
  /** Tracker URLs to use besides the torrent's own (each its own tier). */
  trackers?: string[];
  /** Use only `trackers`, not the torrent's. @default false */
  noTorrentTrackers?: boolean;
  /** Upload limit in bytes/s; 0 = none. @default 0 */
  uploadRate?: number;
  /** Download limit in bytes/s; 0 = none. @default 0 */
  downloadRate?: number;
  /** HTTP origins (BEP 19 web seeds) besides the torrent's `url-list` and a magnet's `ws=`. */
  webSeeds?: string[];
  /** When origins may be used. @default 'balanced' */
  originPolicy?: OriginPolicy;
  /** Bytes/s for all origins together; 0 = none. @default 0 */
  originRate?: number;
  /** Parallel range requests per origin. @default 4 */
  originConnections?: number;
  /** Seeding only: serve data that is only in the origins, fetching each piece when first asked for. */
  fromOrigin?: boolean;
  /**
   * Run a DHT node (BEP 5) for this transfer: the torrent is announced and looked up in it. A
   * private torrent never uses it (BEP 27). @default true
   */
  dht?: boolean;
  /**
   * DHT bootstrap nodes ("HOST:PORT", or "public" for the public DHT's routers). Without any, the
   * DHT knows only the nodes that peers tell us of in BEP 5 `port` messages (ADR 010).
   */
  dhtBootstrap?: string[];
  /** Where the DHT keeps its id and routing table between runs, and BEP 42 enforcement. */
  dhtSettings?: DhtSettings;
  /**
   * Local service discovery (BEP 14) on this interface (a name such as "eth0"): announce the
   * torrent to the link by multicast and dial the peers that announce it. Never for a private
   * torrent (BEP 27). @default off
   */
  lsd?: string;
  events?: EventChannel;
  /** Called while resume data is being checked against the disk. */
  onCheckProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface Transfer {
  readonly metainfo: Metainfo;
  readonly session: Session;
  readonly torrent: Torrent;
  /** Pieces verified before this run started (from resume data or the disk). */
  readonly resumedPieces: number;
  /** Bytes of the selected files. */
  readonly wantedBytes: number;
  /** The DHT node, when one runs (not for private torrents, nor with `dht: false`). */
  readonly dht: UdpDht | null;
  stats(): TorrentStats;
  stop(): Promise<void>;
}

export function parsePeerAddress(s: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`peer ${JSON.stringify(s)} is not HOST:PORT or [IPv6]:PORT`);
  return { host: m[1]!, port };
}

/** Pieces of the files matching `globs` (all pieces when there are none). */
export function selectPieces(t: Metainfo, globs: readonly string[]): { wanted: Bitfield | null; bytes: number } {
  let bytes = 0;
  if (globs.length === 0) {
    for (const f of t.files) if (!f.pad) bytes += f.length;
    return { wanted: null, bytes };
  }
  const wanted = new Bitfield(t.numPieces);
  let matched = 0;
  for (const f of t.files) {
    if (f.pad) continue;
    const p = f.path.join('/');
    if (!globs.some((g) => minimatch(p, g, { dot: true, matchBase: !g.includes('/') }))) continue;
    matched++;
    bytes += f.length;
    const { first, end } = filePieces(t, f);
    for (let i = first; i < end; i++) wanted.set(i);
  }
  if (matched === 0) throw new UsageError(`--select ${globs.map((g) => JSON.stringify(g)).join(' ')} matches no file of ${t.name}`);
  return { wanted, bytes };
}

async function open(
  t: Metainfo,
  opts: TransferOptions,
  select: string[],
  existing?: Session,
  fileIndices?: Array<[number, number]> | null,
  existingDht?: UdpDht | null,
  existingLsd?: Lsd | null,
): Promise<Transfer> {
  const { wanted, bytes } = fileIndices ? selectIndices(t, fileIndices) : selectPieces(t, select);
  const peers = (opts.peers ?? []).map(parsePeerAddress);
  const dhtNodes = parseDhtBootstrap(opts.dhtBootstrap ?? []);
  const storage = new FileStorage(t, opts.dataDir);
  const have = await loadResume(t, opts.dataDir, { onProgress: (done) => opts.onCheckProgress?.(done, bytes) });
  const resume = new ResumeStore(t, opts.dataDir, storage, have);
  const session = existing ?? new Session({ port: opts.port ?? 0, events: opts.events });
  if (!existing) await session.listen();
  // BEP 27: a private torrent never uses LSD or the DHT (a magnet's are closed once we see the flag).
  if (t.private) await Promise.all([existingLsd?.close(), existingDht?.close()]);
  let lsd: Lsd | null = t.private ? null : (existingLsd ?? null);
  let dht: UdpDht | null = t.private ? null : (existingDht ?? null);
  try {
    if (!t.private && !lsd && opts.lsd !== undefined) lsd = await startLsd({ interface: opts.lsd, port: session.port });
    if (!t.private && !dht && opts.dht !== false) dht = await startDht(dhtNodes, opts.dhtSettings);
  } catch (e) {
    await Promise.all([lsd?.close(), dht?.close()]);
    if (!existing) await session.close();
    await resume.close().catch(() => {});
    await storage.close();
    throw e;
  }
  const learner = dht ? new DhtNodeLearner(dht) : null;
  const torrent = session.addTorrent({
    metainfo: t,
    storage,
    have,
    wanted,
    onPieceWritten: (i) => resume.markVerified(i),
    uploadRate: opts.uploadRate,
    downloadRate: opts.downloadRate,
    webSeeds: [...new Set([...t.webSeeds, ...(opts.webSeeds ?? [])])],
    originPolicy: opts.originPolicy,
    originRate: opts.originRate,
    originConnections: opts.originConnections,
    fromOrigin: opts.fromOrigin,
    // Peers found through trackers (and magnets) arrive over seconds, and two that announced at the
    // same moment do not know each other yet: the origins go gently at first. Peers given by
    // address are dialed at once, and a node alone has nothing to wait for.
    expectPeers: t.trackers.length > 0 || (opts.trackers?.length ?? 0) > 0 || existing !== undefined || dhtNodes.length > 0 || lsd !== null,
    dht: dht && learner ? { port: dht.port, onNode: (h, p) => learner.learn(h, p) } : undefined,
  });
  for (const p of peers) torrent.addPeer(p.host, p.port, 'manual');
  const trackers = startTrackers(t, torrent, session, opts, bytes);
  const discovery = dht ? discoverViaDht(dht, dhtHashes(t.infoHashV1, t.infoHashV2), session.port, (h, p) => torrent.addPeer(h, p, 'dht')) : null;
  // A DHT that starts empty looks again as soon as a peer has told it of a first node.
  if (learner && discovery) learner.onFirstNode = () => discovery.now();
  const lsdService = lsd;
  const stopLsd = lsdService ? dhtHashes(t.infoHashV1, t.infoHashV2).map((h) => lsdService.add(h, (host, port) => torrent.addPeer(host, port, 'lsd'))) : [];
  void torrent.done.then(
    () => Promise.all([storage.ensureEmptyFiles(), resume.save(), ...trackers.map((ts) => ts.completed())]),
    () => {},
  );
  let stopping: Promise<void> | null = null;
  return {
    metainfo: t,
    session,
    torrent,
    resumedPieces: have.count,
    wantedBytes: bytes,
    dht,
    stats: () => torrent.getStats(),
    stop: () =>
      (stopping ??= (async () => {
        discovery?.stop();
        for (const off of stopLsd) off();
        await Promise.all([...trackers.map((ts) => ts.close().catch(() => {})), dht?.close(), lsd?.close()]);
        await session.close();
        await resume.close().catch(() => {});
        await storage.close();
      })()),
  };
}

/**
 * Announces to the torrent's trackers and any given ones, and hands the peers they return to the
 * torrent. A hybrid torrent is announced under both of its 20-byte hashes, as libtorrent does, so
 * v1-only and v2 clients find each other.
 */
function startTrackers(t: Metainfo, torrent: Torrent, session: Session, opts: TransferOptions, wantedBytes: number): TrackerSet[] {
  const tiers = [...(opts.noTorrentTrackers ? [] : t.trackers), ...(opts.trackers ?? []).map((u) => [u])];
  if (tiers.length === 0) return [];
  const hashes = torrent.handshakeHashes;
  const sets = hashes.map((infoHash) => {
    const ts = new TrackerSet(
      {},
      {
        tiers,
        infoHash,
        peerId: session.peerId,
        port: session.port,
        stats: () => {
          const s = torrent.getStats();
          return { uploaded: s.bytesUploaded, downloaded: s.bytesFromPeers + s.bytesFromOrigins, left: Math.min(wantedBytes, s.piecesWanted * t.pieceLength) };
        },
      },
    );
    const hex = torrent.infoHashHex;
    ts.on('tracker:announced', ({ url, result }) => {
      for (const p of result.peers) torrent.addPeer(p.host, p.port, 'tracker');
      opts.events?.emit('tracker:announced', { infoHash: hex, url, peers: result.peers.length });
    });
    ts.on('tracker:failed', ({ url, error }) => opts.events?.emit('tracker:error', { infoHash: hex, url, message: error.message }));
    void ts.start();
    return ts;
  });
  // With nobody to talk to, waiting out a 30-minute announce interval helps no one: ask again
  // (TrackerSet never announces more often than its 30 s floor).
  const lonely = setInterval(() => {
    if (torrent.connections.size === 0 && !torrent.seeding) for (const ts of sets) void ts.announceNow();
  }, 30_000);
  lonely.unref?.();
  void torrent.done.finally(() => clearInterval(lonely)).catch(() => {});
  torrent.onStop(() => clearInterval(lonely));
  return sets;
}

/** BEP 53 `so=` file indices (layout indices, pads counted, as libtorrent numbers files). */
function selectIndices(t: Metainfo, ranges: Array<[number, number]>): { wanted: Bitfield; bytes: number } {
  const wanted = new Bitfield(t.numPieces);
  let bytes = 0;
  t.files.forEach((f, i) => {
    if (f.pad || !ranges.some(([a, b]) => i >= a && i <= b)) return;
    bytes += f.length;
    const { first, end } = filePieces(t, f);
    for (let p = first; p < end; p++) wanted.set(p);
  });
  if (bytes === 0 && !t.files.some((f, i) => !f.pad && f.length === 0 && ranges.some(([a, b]) => i >= a && i <= b))) {
    throw new UsageError(`the magnet link's so= selects no file of ${t.name}`);
  }
  return { wanted, bytes };
}

export interface MagnetDownloadOptions extends TransferOptions {
  /** How long to look for the metadata. @default 60 s */
  metadataTimeoutMs?: number;
  /** Told once the metadata is here. */
  onMetadata?: (t: Metainfo) => void;
}

/**
 * Starts a download from a magnet link: fetches the info dictionary from peers (BEP 9) — the
 * magnet's `x.pe` peers, `--peer`s and whatever its trackers return — checks it against the
 * magnet's hash, then downloads as from a .torrent file. BEP 53 `so=` selects files.
 */
export async function startMagnetDownload(m: Magnet, opts: MagnetDownloadOptions): Promise<Transfer> {
  const session = new Session({ port: opts.port ?? 0, events: opts.events });
  await session.listen();
  const fetch = new MetadataFetch({ magnet: m, peerId: session.peerId, dial: (h, p) => dialTcp(h, p), timeoutMs: opts.metadataTimeoutMs });
  const peers = [...m.peers, ...(opts.peers ?? [])].map(parsePeerAddress);
  for (const p of peers) fetch.addPeer(p.host, p.port);
  const tiers = [...m.trackers, ...(opts.trackers ?? [])].map((u) => [u]);
  const discovery = tiers.length
    ? new TrackerSet({}, { tiers, infoHash: fetch.handshakeHash, peerId: session.peerId, port: session.port, stats: () => ({ uploaded: 0, downloaded: 0, left: 1 }) })
    : null;
  discovery?.on('tracker:announced', ({ result }) => result.peers.forEach((p) => fetch.addPeer(p.host, p.port)));
  void discovery?.start();
  const dhtNodes = parseDhtBootstrap(opts.dhtBootstrap ?? []);
  let dht: UdpDht | null = null;
  let stopDht = () => {};
  let lsd: Lsd | null = null;
  let lsdOffs: Array<() => void> = [];
  const stopLsd = () => lsdOffs.splice(0).forEach((off) => off());
  // Peers LSD found while we fetched the metadata: the torrent dials them too (bounded, in case of a flood).
  const lsdFound = new Map<string, { host: string; port: number }>();
  let info: Buffer;
  try {
    if (opts.lsd !== undefined) {
      const service = (lsd = await startLsd({ interface: opts.lsd, port: session.port }));
      lsdOffs = dhtHashes(m.infoHashV1, m.infoHashV2).map((h) =>
        service.add(h, (host, port) => {
          fetch.addPeer(host, port);
          if (lsdFound.size < 200) lsdFound.set(`${host} ${port}`, { host, port });
        }),
      );
    }
    if (opts.dht !== false) {
      dht = await startDht(dhtNodes, opts.dhtSettings);
      const d = discoverViaDht(dht, dhtHashes(m.infoHashV1, m.infoHashV2), session.port, (h, p) => fetch.addPeer(h, p));
      stopDht = () => d.stop();
    }
    info = await fetch.result;
  } catch (e) {
    stopDht();
    stopLsd();
    await discovery?.close().catch(() => {});
    await dht?.close();
    await lsd?.close();
    await session.close();
    throw e;
  } finally {
    stopDht();
    stopLsd();
    await discovery?.close().catch(() => {});
  }
  let t: Metainfo;
  try {
    const dict = bdecode(info);
    if (!(dict instanceof Map)) throw new MetainfoError('invalid torrent: metadata is not a dictionary');
    t = { ...parseInfo(dict, info), trackers: tiers, webSeeds: m.webSeeds, comment: null, createdBy: null, creationDate: null };
  } catch (e) {
    await dht?.close();
    await lsd?.close();
    await session.close();
    throw e;
  }
  opts.onMetadata?.(t);
  // Peers that served the metadata have the torrent: dial them again for the data.
  const known = [...(opts.peers ?? []), ...m.peers];
  const tr = await open(t, { ...opts, peers: known, trackers: opts.trackers, noTorrentTrackers: false }, opts.select ?? [], session, opts.select?.length ? null : m.select, dht, lsd);
  if (!t.private) for (const p of lsdFound.values()) tr.torrent.addPeer(p.host, p.port, 'lsd');
  return tr;
}

/** The 20-byte keys a torrent has in the DHT: its v1 hash and its v2 hash truncated (BEP 52). */
function dhtHashes(v1: Buffer | null, v2: Buffer | null): Buffer[] {
  return [v1, v2?.subarray(0, 20)].filter((h): h is Buffer => !!h);
}

/** Starts downloading `t` into `opts.dataDir`; `transfer.torrent.done` resolves when complete. */
export function startDownload(t: Metainfo, opts: TransferOptions): Promise<Transfer> {
  return open(t, opts, opts.select ?? []);
}

/**
 * Starts seeding `t` from `opts.dataDir`. The data is checked first (resume data makes that fast);
 * a seed with missing or corrupt pieces refuses to start rather than serve a partial dataset
 * silently.
 */
export async function startSeeding(t: Metainfo, opts: TransferOptions): Promise<Transfer> {
  if (opts.fromOrigin) {
    if (t.webSeeds.length + (opts.webSeeds?.length ?? 0) === 0) throw new UsageError(`${t.name}: --from-origin needs an origin: the torrent has no web seed (url-list); add --webseed URL`);
    return open(t, opts, []);
  }
  const tr = await open(t, opts, []);
  const missing = t.numPieces - tr.resumedPieces;
  if (missing > 0) {
    await tr.stop();
    throw new UsageError(`${missing} of ${t.numPieces} pieces of ${t.name} are missing or corrupt under ${opts.dataDir}: run seedbank verify for details`, 'SEED_INCOMPLETE');
  }
  return tr;
}
