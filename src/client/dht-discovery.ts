/**
 * The DHT as a source of peers for one transfer (BEP 5): announces our port under the torrent's
 * 20-byte hashes (v1, and the v2 hash truncated to 20 bytes, as BEP 52 says v2 torrents use the
 * DHT) and hands the peers found to the torrent, or to the metadata fetch of a magnet link.
 *
 * Private by default (ADR 010): the DHT starts only when bootstrap nodes are given, and knows only
 * them and the nodes it learns from them. `public` means the well-known routers of the public
 * BitTorrent DHT, and only then does a packet leave for the internet.
 */
import { UsageError } from '../errors.js';
import { type UdpDht, startUdpDht } from '../dht/udp.js';

/** The public network's bootstrap routers, used only for `--dht-bootstrap public`. */
export const PUBLIC_DHT_ROUTERS = ['router.bittorrent.com:6881', 'dht.transmissionbt.com:6881', 'router.utorrent.com:6881'];
/** How often we look the hashes up again and re-announce (BEP 5 peers expire after 30 min). */
const LOOKUP_EVERY_MS = 15_000;
/** After the first few minutes, less often. */
const LOOKUP_SLOW_MS = 5 * 60_000;

export function parseDhtBootstrap(list: readonly string[]): Array<{ host: string; port: number }> {
  const out: Array<{ host: string; port: number }> = [];
  for (const s of list.flatMap((x) => (x === 'public' ? PUBLIC_DHT_ROUTERS : [x]))) {
    const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--dht-bootstrap ${JSON.stringify(s)} is not HOST:PORT, [IPv6]:PORT or public`);
    out.push({ host: m[1]!, port });
  }
  return out;
}

export interface DhtSettings {
  /** The state file this process may use (config.ts claimDhtState), or none. */
  statePath?: string;
  /** BEP 42 enforcement (ADR 010). @default false */
  enforceNodeId?: boolean;
  onWarning?: (message: string) => void;
}

export async function startDht(bootstrap: ReadonlyArray<{ host: string; port: number }>, settings: DhtSettings = {}): Promise<UdpDht> {
  return startUdpDht({ bootstrap, statePath: settings.statePath, enforceNodeId: settings.enforceNodeId, onWarning: settings.onWarning });
}

export interface DhtDiscovery {
  /** Looks up again now (unless a round is running): a first node has just been learned. */
  now(): void;
  stop(): void;
}

/**
 * Looks `hashes` up now and every LOOKUP_EVERY_MS (then LOOKUP_SLOW_MS), announcing `port`, and
 * hands every peer found to `found`.
 */
export function discoverViaDht(dht: UdpDht, hashes: readonly Buffer[], port: number, found: (host: string, port: number) => void): DhtDiscovery {
  let stopped = false;
  let running = false;
  let timer: NodeJS.Timeout | null = null;
  const started = Date.now();
  const round = async () => {
    if (timer) clearTimeout(timer);
    timer = null;
    running = true;
    for (const h of hashes) {
      if (stopped) break;
      const r = await dht.announce(h, port).catch(() => null);
      if (r && !stopped) for (const p of r.peers) found(p.host, p.port);
    }
    running = false;
    if (stopped) return;
    timer = setTimeout(() => void round(), Date.now() - started < 5 * 60_000 ? LOOKUP_EVERY_MS : LOOKUP_SLOW_MS);
    timer.unref();
  };
  void round();
  return {
    now: () => {
      if (!stopped && !running) void round();
    },
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** Nodes we ping at most once each in this window (a peer reconnecting does not ping again). */
const RELEARN_MS = 10 * 60_000;
/** Bounded: the ping memory holds at most this many addresses. */
const MAX_REMEMBERED = 1000;

/**
 * BEP 5 `port` messages: a peer tells us where its DHT node listens. We ping it; if it answers, the
 * routing table takes it like any node that responded. This is how a DHT with no bootstrap nodes
 * gets its first nodes, from peers found by trackers, LSD or `--peer`: it talks to no one else.
 */
export class DhtNodeLearner {
  private readonly pinged = new Map<string, number>();
  /** Called once, when the routing table first holds a node. */
  onFirstNode: (() => void) | null = null;

  constructor(private readonly dht: UdpDht) {}

  learn(host: string, port: number): void {
    const key = `${host}|${port}`;
    const t = Date.now();
    const last = this.pinged.get(key);
    if (last !== undefined && t - last < RELEARN_MS) return;
    this.pinged.delete(key);
    if (this.pinged.size >= MAX_REMEMBERED) this.pinged.delete(this.pinged.keys().next().value!);
    this.pinged.set(key, t);
    const node = this.dht.nodeFor(host);
    if (!node) return; // an IPv6 peer while we have no IPv6 socket
    const empty = node.table.size === 0;
    void node.ask({ host, port }, { method: 'ping' }).then(
      () => {
        if (empty && node.table.size > 0 && this.onFirstNode) {
          const f = this.onFirstNode;
          this.onFirstNode = null;
          // Fill the table through it, then look our torrents up.
          void node.findNode(node.id).finally(f);
        }
      },
      () => {},
    );
  }
}
