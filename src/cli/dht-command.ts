/**
 * `seedbank dht status`: joins the DHT (through --dht-bootstrap, the config file's bootstrap nodes
 * or the routing table saved last run), runs a few lookups of random ids, and reports what an
 * operator asks first: is the node connected, how large is its routing table (per address family,
 * BEP 32), how do lookups go, and what address do other nodes see (BEP 42).
 */
import { randomBytes } from 'node:crypto';
import { type DhtNodeStatus } from '../dht/node.js';
import { UsageError } from '../errors.js';
import { joinedDht, resolveDiscovery, type DiscoveryFlags } from './discovery-flags.js';
import { printJson } from './output.js';
import { warn } from './swarm-commands.js';

export interface DhtStatusFlags extends DiscoveryFlags {
  lookups?: string;
  json?: boolean;
}

interface LookupReport {
  family: 4 | 6;
  rounds: number;
  queried: number;
  responded: number;
  closest: number;
  ms: number;
}

export async function runDhtStatus(f: DhtStatusFlags): Promise<number> {
  const n = Number(f.lookups ?? '3');
  if (!Number.isInteger(n) || n < 0 || n > 20) throw new UsageError(`--lookups ${JSON.stringify(f.lookups)} is not a whole number from 0 to 20`);
  const disc = await resolveDiscovery(f, warn);
  try {
    if (!disc.dht) throw new UsageError('dht status with --no-dht (or "enabled": false in the config) has nothing to show');
    const dht = await joinedDht(disc, 'dht status:');
    try {
      const lookups: LookupReport[] = [];
      for (let i = 0; i < n; i++) {
        for (const node of dht.nodes) {
          if (node.table.size === 0) continue;
          const started = performance.now();
          const r = await node.findNode(randomBytes(20));
          lookups.push({ family: node.family ?? 4, rounds: r.rounds, queried: r.queried, responded: r.responded, closest: r.closest.length, ms: Math.round(performance.now() - started) });
        }
      }
      const st = dht.status();
      const report = { port: dht.port, port6: dht.port6, stateFile: disc.dhtSettings.statePath ?? null, v4: st.v4, v6: st.v6, lookups };
      if (f.json) printJson(report);
      else printHuman(report);
      return 0;
    } finally {
      await dht.close();
    }
  } finally {
    await disc.release();
  }
}

function printHuman(r: { port: number; port6: number | null; stateFile: string | null; v4: DhtNodeStatus; v6: DhtNodeStatus | null; lookups: LookupReport[] }): void {
  const w = (k: string, v: string) => process.stdout.write(`${`${k}:`.padEnd(18)}${v}\n`);
  w('udp port', r.port6 === null ? `${r.port} (IPv4 only)` : `${r.port} (IPv4), ${r.port6} (IPv6)`);
  w('state file', r.stateFile ?? '(none: another seedbank holds it, or saveState is off)');
  for (const [name, s] of [['IPv4', r.v4], ['IPv6', r.v6]] as const) {
    if (!s) continue;
    w(`${name} node`, s.id);
    w('  routing table', `${s.nodes} nodes in ${s.buckets} buckets (${s.good} good, ${s.questionable} questionable)`);
    w('  our address', s.externalAddress ?? 'unknown (fewer than 3 nodes agree yet)');
  }
  for (const l of r.lookups) w(`lookup IPv${l.family}`, `${l.rounds} rounds, ${l.queried} queries (${l.responded} answered), ${l.closest} closest nodes, ${l.ms} ms`);
}
