/**
 * Local service discovery (BEP 14): finds peers of our torrents on the same link by multicasting
 * `BT-SEARCH` announces to 239.192.152.143:6771 and listening for other clients' announces.
 *
 * For: one LSD service per interface, which torrents register their 20-byte hashes with; it hands
 * each peer it hears of to the torrent's callback. Not for: the packet format (codec/lsd.ts) or
 * deciding whether a torrent may use LSD (BEP 27 private torrents must not; the caller decides).
 * One service per address family; lsd-sockets.ts puts them on sockets (IPv4 and IPv6).
 *
 * Off unless the user names an interface (`--lsd eth0`): seedbank is private by default, and a
 * multicast announce tells everyone on the link which datasets this machine holds. The TTL is 1,
 * so no router forwards an announce off the link, whatever BEP 14 allows.
 *
 * Timing (BEP 14): every registered hash is announced at once, then every 5 minutes (jittered, so
 * that hosts started together do not announce together), never more than one announce round per
 * minute; a round puts all due hashes in as few packets as fit. One addition: when we hear a peer
 * for the first time (in 10 minutes) for a hash we have, that hash goes into the next round, so
 * a newcomer learns of us within a minute rather than five. Dialling it is not enough: a newcomer
 * still fetching a magnet's metadata has no torrent yet to accept our connection for. Peers we
 * already know do not trigger this, so two hosts do not answer each other's answers.
 *
 * Hostile input: every packet first costs its source a token (QueryLimiter: a few per second per
 * address, and a global cap), then is parsed; garbage is counted and dropped, never thrown. State
 * is bounded: the limiter's buckets and the set of recently heard peers are capped LRU maps.
 */
import { type LsdAnnounce, LsdError, decodeLsdAnnounce, encodeLsdAnnounces } from '../codec/lsd.js';
import { QueryLimiter } from '../dht/query-limiter.js';
import { RecencyMap } from '../dht/recency-map.js';
import { type Timers, UNREF_TIMERS } from '../dht/rpc.js';

/** BEP 14: announce every 5 minutes while in a swarm. */
export const LSD_ANNOUNCE_INTERVAL_MS = 5 * 60_000;
/** BEP 14: no more than one announce per minute. */
export const LSD_MIN_INTERVAL_MS = 60_000;
/** The periodic round is moved by up to this fraction either way. */
const JITTER = 0.1;
/** A peer heard again within this time is not a newcomer (no early re-announce for it). */
const HEARD_TTL_MS = 10 * 60_000;
/** Peers (hash, address, port) remembered as recently heard. */
const MAX_HEARD = 1_000;
/** Announces per source address: a sender announces at most once a minute, so a few is plenty. */
const SOURCE_RATE = 1;
const SOURCE_BURST = 5;
const GLOBAL_RATE = 50;
const GLOBAL_BURST = 100;
const MAX_SOURCES = 1_000;

/** The clock and timers the service runs on (the DHT's shape; injected in tests). */
export type LsdTimers = Timers;

/** Where packets go: the real one multicasts to the group on one interface. */
export interface LsdTransport {
  send(packet: Buffer): void;
  close(): Promise<void>;
}

export interface LsdServiceInit {
  transport: LsdTransport;
  /** The TCP port peers should dial. */
  port: number;
  /** @default real timers, unref'd */
  timers?: LsdTimers;
  /** Uniform in [0, 1), for the jitter. @default Math.random */
  random?: () => number;
  /** Our cookie, to drop our own announces when multicast loops back. @default 16 random hex digits */
  cookie?: string;
  /** Which group the announces name in their Host header (BEP 14). @default 4 */
  family?: 4 | 6;
}

export interface LsdStats {
  packetsSent: number;
  announcesReceived: number;
  /** Our own packets, looped back. */
  ownDropped: number;
  /** Packets that were not BEP 14 announces. */
  malformed: number;
  /** Packets refused by the per-source or global rate limit. */
  rateLimited: number;
  /** Peers handed to a callback. */
  peersFound: number;
}

type PeerCallback = (host: string, port: number) => void;

interface Registration {
  hash: Buffer;
  callbacks: Set<PeerCallback>;
}

export class LsdService {
  readonly cookie: string;
  readonly port: number;
  readonly family: 4 | 6;
  private readonly transport: LsdTransport;
  private readonly timers: LsdTimers;
  private readonly random: () => number;
  private readonly limiter: QueryLimiter;
  private readonly registry = new Map<string, Registration>();
  /** Hashes (hex) to put in the next round. */
  private readonly due = new Set<string>();
  private readonly heard = new RecencyMap<{ readonly key: string; at: number }>();
  private lastRound = -Infinity;
  private roundTimer: unknown = null;
  private periodicTimer: unknown = null;
  private closed: Promise<void> | null = null;
  private readonly counters: LsdStats = { packetsSent: 0, announcesReceived: 0, ownDropped: 0, malformed: 0, rateLimited: 0, peersFound: 0 };

  constructor(init: LsdServiceInit) {
    if (!Number.isInteger(init.port) || init.port < 1 || init.port > 65535) throw new RangeError(`LSD: port ${init.port} is not 1-65535`);
    this.transport = init.transport;
    this.port = init.port;
    this.family = init.family ?? 4;
    this.timers = init.timers ?? UNREF_TIMERS;
    this.random = init.random ?? Math.random;
    this.cookie = init.cookie ?? randomCookie();
    this.limiter = new QueryLimiter({ now: () => this.timers.now(), sourceRate: SOURCE_RATE, sourceBurst: SOURCE_BURST, globalRate: GLOBAL_RATE, globalBurst: GLOBAL_BURST, maxSources: MAX_SOURCES });
    this.schedulePeriodic();
  }

  /**
   * Registers a 20-byte hash: it is announced soon (at once unless a round went out in the last
   * minute) and then with every periodic round, and `onPeer` hears of every peer that announces it.
   * Returns a function that unregisters this callback (the hash when it was the last).
   */
  add(infoHash: Buffer, onPeer: PeerCallback): () => void {
    if (infoHash.length !== 20) throw new RangeError(`LSD: an info hash is 20 bytes, not ${infoHash.length}`);
    const hex = infoHash.toString('hex');
    let reg = this.registry.get(hex);
    if (!reg) {
      reg = { hash: Buffer.from(infoHash), callbacks: new Set() };
      this.registry.set(hex, reg);
      this.due.add(hex);
      this.scheduleRound();
    }
    const r = reg;
    // A fresh function per registration, so the same callback added twice is removed once per call.
    const cb: PeerCallback = (h, p) => onPeer(h, p);
    r.callbacks.add(cb);
    return () => {
      r.callbacks.delete(cb);
      if (r.callbacks.size === 0 && this.registry.get(hex) === r) {
        this.registry.delete(hex);
        this.due.delete(hex);
      }
    };
  }

  /** One datagram from `fromHost`. Never throws. */
  receive(packet: Uint8Array, fromHost: string): void {
    if (this.closed) return;
    if (!this.limiter.allow(fromHost)) {
      this.counters.rateLimited++;
      return;
    }
    let a: LsdAnnounce;
    try {
      a = decodeLsdAnnounce(packet);
    } catch (e) {
      if (!(e instanceof LsdError)) throw e; // a bug in the codec, not bad input
      this.counters.malformed++;
      return;
    }
    if (a.cookie === this.cookie) {
      this.counters.ownDropped++;
      return;
    }
    this.counters.announcesReceived++;
    const now = this.timers.now();
    for (const h of a.infoHashes) {
      const hex = h.toString('hex');
      const reg = this.registry.get(hex);
      if (!reg) continue;
      const key = `${hex} ${fromHost} ${a.port}`;
      const seen = this.heard.get(key)?.at;
      if (seen === undefined && this.heard.size >= MAX_HEARD) {
        const oldest = this.heard.oldest();
        if (oldest) this.heard.delete(oldest.key);
      }
      this.heard.touch(key, { key, at: now });
      if (seen === undefined || now - seen > HEARD_TTL_MS) {
        this.due.add(hex);
        this.scheduleRound();
      }
      for (const cb of [...reg.callbacks]) {
        this.counters.peersFound++;
        try {
          cb(fromHost, a.port);
        } catch {
          // A callback's failure is its own; the other torrents still hear of the peer.
        }
      }
    }
  }

  stats(): LsdStats {
    return { ...this.counters };
  }

  /** Hashes registered now, as hex. */
  hashes(): string[] {
    return [...this.registry.keys()];
  }

  /** Stops the timers and closes the socket. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      if (this.roundTimer !== null) this.timers.clearTimeout(this.roundTimer);
      if (this.periodicTimer !== null) this.timers.clearTimeout(this.periodicTimer);
      this.roundTimer = this.periodicTimer = null;
      this.registry.clear();
      this.due.clear();
      await this.transport.close();
    })();
    return this.closed;
  }

  // -------------------------------------------------------------------------------------------

  /** Sends the due hashes when the one-round-a-minute limit allows: now, or when the minute ends. */
  private scheduleRound(): void {
    if (this.closed || this.roundTimer !== null || this.due.size === 0) return;
    const wait = Math.max(0, this.lastRound + LSD_MIN_INTERVAL_MS - this.timers.now());
    // Even with no wait, a timer: hashes added in the same tick (v1 and v2 of one torrent, or a
    // session's torrents at start) go out in one packet.
    this.roundTimer = this.timers.setTimeout(() => {
      this.roundTimer = null;
      this.round();
    }, wait);
  }

  private round(): void {
    if (this.closed) return;
    const regs = [...this.due].map((hex) => this.registry.get(hex)).filter((r): r is Registration => r !== undefined);
    this.due.clear();
    if (regs.length === 0) return;
    this.lastRound = this.timers.now();
    for (const packet of encodeLsdAnnounces(this.port, regs.map((r) => r.hash), this.cookie, this.family)) {
      this.counters.packetsSent++;
      try {
        this.transport.send(packet);
      } catch {
        // The interface may be down for a moment; the next round tries again.
      }
    }
  }

  private schedulePeriodic(): void {
    const ms = LSD_ANNOUNCE_INTERVAL_MS * (1 - JITTER + 2 * JITTER * this.random());
    this.periodicTimer = this.timers.setTimeout(() => {
      if (this.closed) return;
      for (const hex of this.registry.keys()) this.due.add(hex);
      this.scheduleRound();
      this.schedulePeriodic();
    }, ms);
  }
}


function randomCookie(): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(8))).toString('hex');
}
