/**
 * The simulated Mainline DHT (src/sim/dht.ts) at growing sizes: N real DhtNodes on one simulated
 * clock and network, each joining through a random node already in. Prints, per N, lookup rounds
 * and messages (median, p99), how often a lookup found the true 8 closest live nodes, and how
 * many immutable items put before 20 % of the nodes left (and as many joined) were found after.
 *
 *   npm run build && npm run bench:dht-sim -- [--nodes 250,500,1000,2000,5000] [--lookups 200]
 *     [--items 50] [--churn 0.2] [--latency-ms 20] [--seed 1]
 *
 * Deterministic: the same arguments give the same figures; only the wall-clock column varies.
 */
import { parseArgs } from 'node:util';
import { simulateDht } from '../../src/sim/dht.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '250,500,1000,2000,5000' },
    lookups: { type: 'string', default: '200' },
    items: { type: 'string', default: '50' },
    churn: { type: 'string', default: '0.2' },
    'latency-ms': { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
  },
});

function num(flag: string, s: string, min: number): number {
  const x = Number(s);
  if (!Number.isFinite(x) || x < min) {
    console.error(`bench/dht-sim: --${flag} wants a number >= ${min}, got "${s}"`);
    process.exit(2);
  }
  return x;
}

const sizes = values.nodes.split(',').map((s) => Math.round(num('nodes', s, 16)));
const lookups = num('lookups', values.lookups, 1);
const items = num('items', values.items, 0);
const churn = num('churn', values.churn, 0);
const latencyMs = num('latency-ms', values['latency-ms'], 0);
const seed = num('seed', values.seed, 0);

console.log(`simulated DHT: ${lookups} lookups of random targets, ${items} items, ${Math.round(churn * 100)} % churn, ${latencyMs} ms latency, seed ${seed}`);
console.log('| N | rounds median | rounds p99 | messages median | messages p99 | exact 8 closest | items found after churn | packets | wall (s) |');
console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const n of sizes) {
  const began = Date.now();
  const r = await simulateDht({ nodes: n, lookups, items, churn, latencyMs, seed });
  const pc = (x: number) => `${(x * 100).toFixed(1)} %`;
  console.log(`| ${n} | ${r.rounds.median} | ${r.rounds.p99} | ${r.messages.median} | ${r.messages.p99} | ${pc(r.exactK)} | ${r.itemsFound}/${r.items} | ${r.packets} | ${((Date.now() - began) / 1000).toFixed(1)} |`);
}
