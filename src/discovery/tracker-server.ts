/**
 * A BitTorrent tracker: HTTP `GET /announce` and `/scrape` (BEP 3, 23, 7 `peers6`, 48) and the UDP
 * tracker protocol (BEP 15), over one shared swarm registry.
 *
 * For: `seedbank tracker`, and tests that need a tracker on loopback.
 * Not for: private-tracker features (passkeys, ratios, whitelists).
 *
 * Design (see src/discovery/NOTES.md):
 * - Stateless UDP connection ids: an HMAC of the source IP and the minute (connection-id.ts).
 * - A peer is listed at its source address; `ip` counts only between local addresses
 *   (address-policy.ts).
 * - Memory is capped (swarm-registry.ts); a request that a cap keeps out is still answered.
 * - Bad input is answered, never thrown: a bencoded `failure reason` over HTTP, an error packet over
 *   UDP, cut to the size of the request so that it cannot amplify traffic towards a spoofed
 *   source (packets shorter than 16 bytes carry no transaction id and are dropped).
 * - No full scrape: a scrape without info hashes is refused (it would list every torrent).
 */
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AnnounceRequest,
  type AnnounceResponse,
  type IpFamily,
  MAX_UDP_SCRAPE_HASHES,
  TrackerError,
  type UdpResponse,
  decodeUdpRequest,
  encodeAnnounceResponse,
  encodeFailure,
  encodeScrapeResponse,
  encodeUdpResponse,
  ipToBytes,
  parseAnnounceQuery,
  parseScrapeQuery,
} from '../codec/tracker.js';
import { listedAddress } from './address-policy.js';
import { ConnectionIds } from './connection-id.js';
import { SwarmRegistry } from './swarm-registry.js';

export const DEFAULT_TRACKER_INTERVAL = 1800;
export const DEFAULT_MAX_NUMWANT = 50;
export const DEFAULT_MAX_TORRENTS = 10_000;
export const DEFAULT_MAX_PEERS_PER_TORRENT = 2_000;
export const DEFAULT_MAX_PEERS = 200_000;
/** Info hashes one HTTP scrape may ask about. */
export const MAX_HTTP_SCRAPE_HASHES = 100;

export interface TrackerServerOptions {
  /** TCP port of the HTTP tracker; 0 picks a free one; false: no HTTP. @default 0 */
  httpPort?: number | false;
  /**
   * UDP port of the BEP 15 tracker; 0 picks a free one; false: no UDP; 'same': the port HTTP got
   * (so one number serves both, even with `httpPort: 0`). @default 0
   */
  udpPort?: number | false | 'same';
  /**
   * Address to listen on. A tracker must be reachable by its peers, so the default is every
   * interface: '::' (dual stack), or '0.0.0.0' where the system has no IPv6. Tests pass '127.0.0.1'.
   * @default '::'
   */
  host?: string;
  /** Seconds between regular announces that the tracker asks for. @default 1800 */
  interval?: number;
  /** Seconds a client must wait at least between announces. @default interval / 2 */
  minInterval?: number;
  /** Seconds a peer stays listed after its last announce. @default 2 × interval + 60 */
  peerTtlSeconds?: number;
  /** @default 10,000 */
  maxTorrents?: number;
  /** @default 2,000 */
  maxPeersPerTorrent?: number;
  /** Peers over all torrents. @default 200,000 */
  maxPeers?: number;
  /** Most peers in one answer (a larger `numwant` is cut to this; it is also the default). @default 50 */
  maxNumwant?: number;
  /** Milliseconds since the epoch; injected by tests to drive expiry. @default Date.now */
  now?: () => number;
}

export interface TrackerServer {
  /** The bound TCP port, or null without HTTP. */
  httpPort: number | null;
  udpPort: number | null;
  /** The address listened on. */
  host: string;
  registry: SwarmRegistry;
  close(): Promise<void>;
}

interface Core {
  announce(req: AnnounceRequest, source: string, family: IpFamily | undefined): AnnounceResponse;
  registry: SwarmRegistry;
}

function makeCore(o: TrackerServerOptions, now: () => number): Core {
  const interval = o.interval ?? DEFAULT_TRACKER_INTERVAL;
  const minInterval = o.minInterval ?? Math.floor(interval / 2);
  const maxNumwant = o.maxNumwant ?? DEFAULT_MAX_NUMWANT;
  const registry = new SwarmRegistry(
    {
      peerTtlMs: 1000 * (o.peerTtlSeconds ?? 2 * interval + 60),
      maxTorrents: o.maxTorrents ?? DEFAULT_MAX_TORRENTS,
      maxPeersPerTorrent: o.maxPeersPerTorrent ?? DEFAULT_MAX_PEERS_PER_TORRENT,
      maxPeers: o.maxPeers ?? DEFAULT_MAX_PEERS,
    },
    now,
  );
  return {
    registry,
    announce(req, source, family) {
      const host = listedAddress(source, req.ip);
      const out = registry.announce({
        infoHash: req.infoHash,
        host,
        port: req.port,
        peerId: req.peerId,
        left: req.left,
        event: req.event ?? 'none',
        numwant: req.event === 'stopped' ? 0 : Math.min(req.numwant ?? maxNumwant, maxNumwant),
        family,
      });
      return { interval, minInterval, complete: out.stats.complete, incomplete: out.stats.incomplete, peers: out.peers };
    },
  };
}

export async function startTrackerServer(o: TrackerServerOptions = {}): Promise<TrackerServer> {
  const now = o.now ?? Date.now;
  const core = makeCore(o, now);
  let host = o.host ?? '::';
  let bound: Bound;
  try {
    bound = await bindAll(core, host, o.httpPort ?? 0, o.udpPort ?? 0, now);
  } catch (e) {
    if (o.host !== undefined || !noIpv6(e)) throw e;
    host = '0.0.0.0';
    bound = await bindAll(core, host, o.httpPort ?? 0, o.udpPort ?? 0, now);
  }
  const { http: httpServer, udp: udpSocket } = bound;
  // Expired peers are also purged on each announce; this catches swarms nobody asks about.
  const sweepMs = Math.min(60_000, 1000 * (o.peerTtlSeconds ?? 60));
  const sweeper = setInterval(() => core.registry.sweep(), sweepMs);
  sweeper.unref();
  let closing: Promise<void> | null = null;
  return {
    httpPort: httpServer ? (httpServer.address() as AddressInfo).port : null,
    udpPort: udpSocket ? udpSocket.address().port : null,
    host,
    registry: core.registry,
    close() {
      clearInterval(sweeper);
      closing ??= closeAll(httpServer, udpSocket);
      return closing;
    },
  };
}

interface Bound {
  http: http.Server | null;
  udp: dgram.Socket | null;
}

async function bindAll(core: Core, host: string, httpPort: number | false, udpPort: number | false | 'same', now: () => number): Promise<Bound> {
  for (let attempt = 0; ; attempt++) {
    let h: http.Server | null = null;
    let u: dgram.Socket | null = null;
    try {
      if (httpPort !== false) h = await listenHttp(core, host, httpPort);
      const up = udpPort === 'same' ? (h ? (h.address() as AddressInfo).port : 0) : udpPort;
      if (up !== false) u = await bindUdp(core, host, up, now);
      return { http: h, udp: u };
    } catch (e) {
      await closeAll(h, u);
      // A free TCP port may be taken for UDP: with an ephemeral HTTP port, try another.
      const retry = udpPort === 'same' && httpPort === 0 && h !== null && (e as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5;
      if (!retry) throw e;
    }
  }
}

function noIpv6(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL';
}

async function closeAll(h: http.Server | null, u: dgram.Socket | null): Promise<void> {
  await Promise.all([
    h &&
      new Promise<void>((resolve) => {
        h.close(() => resolve());
        h.closeAllConnections();
      }),
    u && new Promise<void>((resolve) => u.close(() => resolve())),
  ]);
}

// ---------------------------------------------------------------------------------------------
// HTTP

function listenHttp(core: Core, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => handleHttp(core, req, res));
  // Announces are tiny: slow or idle clients do not get to hold sockets.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = 4096;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', () => {}); // after listening, errors concern single connections
      resolve(server);
    });
  });
}

function handleHttp(core: Core, req: http.IncomingMessage, res: http.ServerResponse): void {
  const send = (status: number, body: Buffer) => {
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
    res.end(body);
  };
  try {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    if (req.method !== 'GET') return send(405, encodeFailure('only GET is supported'));
    const source = req.socket.remoteAddress;
    if (source === undefined) return send(500, encodeFailure('connection closed'));
    if (path === '/announce') {
      const a = parseAnnounceQuery(query);
      return send(200, encodeAnnounceResponse(core.announce(a, source, undefined), { compact: a.compact !== false }));
    }
    if (path === '/scrape') {
      const hashes = parseScrapeQuery(query);
      if (hashes.length === 0) throw new TrackerError('a scrape needs at least one info_hash (full scrape is not offered)');
      if (hashes.length > MAX_HTTP_SCRAPE_HASHES) throw new TrackerError(`a scrape may ask about at most ${MAX_HTTP_SCRAPE_HASHES} info hashes`);
      return send(200, encodeScrapeResponse(hashes.map((h) => ({ infoHash: h, ...core.registry.stats(h) }))));
    }
    return send(404, encodeFailure(`no such path: try /announce or /scrape`));
  } catch (e) {
    // BEP 3 clients read a failure reason from a 200; a 400 would hide it from some.
    if (e instanceof TrackerError) return send(200, encodeFailure(e.message));
    return send(500, encodeFailure('internal error'));
  }
}

// ---------------------------------------------------------------------------------------------
// UDP

function bindUdp(core: Core, host: string, port: number, now: () => number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
  const ids = new ConnectionIds(now);
  socket.on('message', (msg, rinfo) => {
    const reply = handleUdp(core, ids, msg, rinfo.address);
    if (reply) socket.send(reply, rinfo.port, rinfo.address, () => {});
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      socket.on('error', () => {}); // a send to a vanished peer must not end the tracker
      resolve(socket);
    });
  });
}

function handleUdp(core: Core, ids: ConnectionIds, msg: Buffer, from: string): Buffer | null {
  // The family of the peer, not of the socket: IPv4 over a dual-stack socket gets 6-byte peers.
  const source = listedAddress(from, undefined);
  const family: IpFamily = ipToBytes(source)?.length === 16 ? 6 : 4;
  const reply = (r: UdpResponse) => encodeUdpResponse(r, family);
  if (msg.length < 16) return null;
  const transactionId = msg.readUInt32BE(12);
  // Never larger than the request: an error to a spoofed source must not amplify an attack.
  const error = (message: string) => reply({ action: 'error', transactionId, message }).subarray(0, msg.length);
  try {
    const r = decodeUdpRequest(msg);
    if (r.action === 'connect') return reply({ action: 'connect', transactionId, connectionId: ids.issue(source) });
    if (!ids.verify(r.connectionId, source)) return error('connection id is invalid or expired: connect again');
    if (r.action === 'scrape') {
      if (r.infoHashes.length > MAX_UDP_SCRAPE_HASHES) throw new TrackerError(`a scrape may ask about at most ${MAX_UDP_SCRAPE_HASHES} info hashes`);
      return reply({ action: 'scrape', transactionId, files: r.infoHashes.map((h) => core.registry.stats(h)) });
    }
    const a = core.announce(r.params, source, family);
    return reply({ action: 'announce', transactionId, interval: a.interval, leechers: a.incomplete ?? 0, seeders: a.complete ?? 0, peers: a.peers });
  } catch (e) {
    return error(e instanceof TrackerError ? e.message : 'internal error');
  }
}
