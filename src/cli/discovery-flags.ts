/**
 * How `get`, `seed`, `dht status` and `name publish` find peers and nodes: the DHT and LSD flags,
 * merged over the config file (config.ts), and the DHT state file this process may use.
 * Flags win over the file; `--no-dht` wins over everything.
 */
import { claimDhtState, loadConfig, seedbankHome } from '../client/config.js';
import { type DhtSettings, parseDhtBootstrap, startDht } from '../client/dht-discovery.js';
import { type UdpDht } from '../dht/udp.js';
import { UsageError } from '../errors.js';
import { lsdInterface } from '../discovery/lsd-sockets.js';

export interface DiscoveryFlags {
  dhtBootstrap?: string[];
  /** false with --no-dht. */
  dht?: boolean;
  /** --lsd <iface>: BEP 14 local service discovery on this interface. */
  lsd?: string;
  /** --config FILE instead of <home>/config.json. */
  config?: string;
}

export interface Discovery {
  dht: boolean;
  dhtBootstrap: string[];
  dhtSettings: DhtSettings;
  lsd?: string;
  /** Gives the DHT state file back to other processes (call after the DHT closed). */
  release: () => Promise<void>;
}

export async function resolveDiscovery(f: DiscoveryFlags, warn: (m: string) => void = () => {}): Promise<Discovery> {
  const cfg = await loadConfig(f.config);
  const dht = f.dht !== false && cfg.dht.enabled;
  const dhtBootstrap = !dht ? [] : f.dhtBootstrap?.length ? f.dhtBootstrap : cfg.dht.bootstrap;
  parseDhtBootstrap(dhtBootstrap); // bad addresses fail here, as one usage line
  const lsd = f.lsd ?? cfg.lsd.interface ?? undefined;
  if (lsd !== undefined) lsdInterface(lsd); // an unknown interface fails before anything starts
  const claim = dht && cfg.dht.saveState ? await claimDhtState(seedbankHome()) : null;
  return {
    dht,
    dhtBootstrap,
    dhtSettings: { statePath: claim?.path, enforceNodeId: cfg.dht.enforceNodeId, onWarning: warn },
    ...(lsd !== undefined ? { lsd } : {}),
    release: claim?.release ?? (async () => {}),
  };
}

/**
 * A DHT that knows some node: through the bootstrap nodes, or the routing table saved last run.
 * Otherwise a one-line error that starts with `what`.
 */
export async function joinedDht(disc: Pick<Discovery, 'dhtBootstrap' | 'dhtSettings'>, what: string): Promise<UdpDht> {
  const bootstrap = parseDhtBootstrap(disc.dhtBootstrap);
  const dht = await startDht(bootstrap, disc.dhtSettings);
  if (dht.nodes.some((n) => n.table.size > 0)) return dht;
  await dht.close();
  throw new UsageError(
    bootstrap.length ? `${what} no DHT node answered (are the bootstrap nodes reachable?)` : `${what} give --dht-bootstrap HOST:PORT (or public), or bootstrap nodes in the config file`,
    'DHT_UNREACHABLE',
  );
}

