/**
 * How `get`, `seed`, `dht status` and `name publish` find peers and nodes: the DHT and LSD flags,
 * merged over the config file (config.ts), and the DHT state file this process may use.
 * Flags win over the file; `--no-dht` wins over everything.
 */
import { claimDhtState, loadConfig, seedbankHome } from '../client/config.js';
import { type DhtSettings, parseDhtBootstrap } from '../client/dht-discovery.js';
import { lsdInterfaceAddress } from '../discovery/lsd.js';

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
  if (lsd !== undefined) lsdInterfaceAddress(lsd); // an unknown interface fails before anything starts
  const claim = dht && cfg.dht.saveState ? await claimDhtState(seedbankHome()) : null;
  return {
    dht,
    dhtBootstrap,
    dhtSettings: { statePath: claim?.path, enforceNodeId: cfg.dht.enforceNodeId, onWarning: warn },
    ...(lsd !== undefined ? { lsd } : {}),
    release: claim?.release ?? (async () => {}),
  };
}
