/**
 * Known peers: addresses we heard of (manual, tracker, PEX, DHT, incoming), apart from live
 * connections. Decides whom to dial next: never a banned peer, never one we are connected to,
 * and a failed address only after a back-off that grows with its failures.
 */
export type PeerSource = 'manual' | 'tracker' | 'pex' | 'dht' | 'lsd' | 'incoming';
export const PEER_SOURCES: readonly PeerSource[] = ['manual', 'tracker', 'pex', 'dht', 'lsd', 'incoming'];

export interface KnownPeer {
  readonly host: string;
  readonly port: number;
  readonly key: string;
  source: PeerSource;
  /** Every source that named it (a bit per PEER_SOURCES index). */
  sources: number;
  failures: number;
  lastAttempt: number;
  connected: boolean;
  banned: boolean;
  /** Strikes for contributing to pieces that failed their hash check. */
  strikes: number;
  /** It had every piece when we last saw it: nothing to trade once we have everything too. */
  seed: boolean;
}

/** Bounded: a hostile PEX or tracker cannot make us remember millions of addresses. */
const MAX_KNOWN = 2000;

export function peerKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class PeerList {
  private readonly peers = new Map<string, KnownPeer>();
  /** Distinct addresses each source named: where peers came from (`peersFrom` in get --json). */
  private readonly learned = new Map<PeerSource, number>(PEER_SOURCES.map((s) => [s, 0]));

  constructor(private readonly now: () => number = Date.now) {}

  add(host: string, port: number, source: PeerSource): KnownPeer | null {
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
    const key = peerKey(host, port);
    const bit = 1 << PEER_SOURCES.indexOf(source);
    const known = this.peers.get(key);
    if (known) {
      if (!(known.sources & bit)) this.learned.set(source, this.learned.get(source)! + 1);
      known.sources |= bit;
      return known;
    }
    if (this.peers.size >= MAX_KNOWN) return null;
    const p: KnownPeer = { host, port, key, source, sources: bit, failures: 0, lastAttempt: -Infinity, connected: false, banned: false, strikes: 0, seed: false };
    this.peers.set(key, p);
    this.learned.set(source, this.learned.get(source)! + 1);
    return p;
  }

  /** How many distinct addresses each source has named (one address may count for several). */
  learnedFrom(): Record<PeerSource, number> {
    return Object.fromEntries(this.learned) as Record<PeerSource, number>;
  }

  remove(key: string): void {
    this.peers.delete(key);
  }

  get(key: string): KnownPeer | undefined {
    return this.peers.get(key);
  }

  get size(): number {
    return this.peers.size;
  }

  isBanned(host: string): boolean {
    for (const p of this.peers.values()) if (p.banned && p.host === host) return true;
    return false;
  }

  /** Peers worth dialing now, best first (fewest failures, least recently tried). */
  candidates(max: number, skipSeeds = false): KnownPeer[] {
    const t = this.now();
    const out: KnownPeer[] = [];
    for (const p of this.peers.values()) {
      if (p.connected || p.banned || p.source === 'incoming' || (skipSeeds && p.seed)) continue;
      const backoff = p.failures === 0 ? 0 : Math.min(300_000, 2000 * 2 ** (p.failures - 1));
      if (t - p.lastAttempt < backoff) continue;
      out.push(p);
    }
    out.sort((a, b) => a.failures - b.failures || a.lastAttempt - b.lastAttempt);
    return out.slice(0, max);
  }

  all(): IterableIterator<KnownPeer> {
    return this.peers.values();
  }
}
