/**
 * A torrent's connection slots: dials known peers while there is room (within the connection and
 * half-open limits), admits or refuses connections whose handshake is done (ours and incoming:
 * banned addresses, duplicates, too many from one IP), and keeps the peer list's `connected`
 * marks in step, so that no address is dialed twice.
 *
 * Not for: what a connection does once admitted (torrent.ts), handshakes on incoming sockets
 * (session.ts), which known peers to try first (peer-list.ts).
 */
import type { Socket } from 'node:net';
import { type HandshakeResult } from './handshake.js';
import { type PeerConnection } from './peer-connection.js';
import { type PeerList, peerKey } from './peer-list.js';

export interface PeerDialerDeps {
  peers: PeerList;
  connections: ReadonlyMap<string, PeerConnection>;
  now: () => number;
  /** Opens a TCP connection. */
  dial: (host: string, port: number) => Promise<Socket>;
  /** Our side of the handshake on a socket we dialed. */
  handshake: (socket: Socket) => Promise<HandshakeResult>;
  /** Takes over a socket whose outgoing handshake is done (torrent.attach). */
  attach: (socket: Socket, hs: HandshakeResult, host: string, port: number) => void;
  stopped: () => boolean;
  /** Dial nobody now (we are done, but have not said so yet). */
  paused: () => boolean;
  /** We have everything: seeds are of no use to us. */
  seeding: () => boolean;
  /** @default 50 */
  maxConnections?: number;
  /** @default 8 */
  maxConnectionsPerIp?: number;
  /** @default 10 */
  maxHalfOpen?: number;
}

export class PeerDialer {
  /** Outgoing connection attempts under way. */
  private halfOpen = 0;

  constructor(private readonly deps: PeerDialerDeps) {}

  /** Whether some dial is under way (peers may turn up in a moment). */
  get pending(): boolean {
    return this.halfOpen > 0;
  }

  /** Dials known peers while there is room. */
  fill(): void {
    const max = this.deps.maxConnections ?? 50;
    const halfOpenMax = this.deps.maxHalfOpen ?? 10;
    if (this.deps.stopped() || this.deps.paused()) return;
    const room = Math.min(max - this.deps.connections.size - this.halfOpen, halfOpenMax - this.halfOpen);
    if (room <= 0) return;
    // Once we have everything, seeds are of no use to us, nor we to them.
    for (const p of this.deps.peers.candidates(room, this.deps.seeding())) {
      p.lastAttempt = this.deps.now();
      p.connected = true; // reserved while dialing, so it is not dialed twice
      this.halfOpen++;
      void this.dialPeer(p.host, p.port).finally(() => this.halfOpen--);
    }
  }

  /**
   * Whether a connection whose handshake is done may stay (the caller destroys the socket if
   * not); if so, its address is marked connected in the peer list.
   */
  admit(host: string, port: number, outgoing: boolean): boolean {
    const key = peerKey(host, port);
    const conns = this.deps.connections;
    if (this.deps.stopped() || this.deps.peers.isBanned(host) || conns.has(key)) return false;
    if (!outgoing && conns.size >= (this.deps.maxConnections ?? 50)) return false;
    const perIp = this.deps.maxConnectionsPerIp ?? 8;
    if (!isLoopback(host) && [...conns.values()].filter((c) => c.host === host).length >= perIp) return false;
    const known = this.deps.peers.add(host, port, outgoing ? 'manual' : 'incoming');
    if (known) known.connected = true;
    return true;
  }

  /** The connection closed: its address (and the one it listens on) may be dialed again. */
  released(conn: PeerConnection): void {
    const known = this.deps.peers.get(conn.key);
    if (known) known.connected = false;
    if (!conn.outgoing && conn.listenPort) {
      const listening = this.deps.peers.get(peerKey(conn.host, conn.listenPort));
      if (listening) listening.connected = false;
    }
  }

  private async dialPeer(host: string, port: number): Promise<void> {
    const known = this.deps.peers.get(peerKey(host, port))!;
    try {
      const socket = await this.deps.dial(host, port);
      const hs = await this.deps.handshake(socket).catch((e) => {
        socket.destroy();
        throw e;
      });
      if (this.deps.stopped()) {
        socket.destroy();
        return;
      }
      known.failures = 0;
      this.deps.attach(socket, hs, host, port);
    } catch (e) {
      known.failures++;
      known.connected = false;
      // Trackers that list us to ourselves (opentracker does): forget that address.
      if (e instanceof Error && /ourselves/.test(e.message)) this.deps.peers.remove(known.key);
    }
  }
}

/** Loopback is exempt from the per-IP limit, for tests and one-machine swarms. */
function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1';
}
