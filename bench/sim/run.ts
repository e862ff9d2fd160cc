/**
 * The simulated swarm at scales this machine cannot host (src/sim): N seedbank nodes (the real
 * picker, choker, request pipelining and origin rules on a simulated clock and network), one
 * HTTP origin, one tracker. Prints, for each N, the last node's time against the fluid bound T*
 * and the origin's egress against the dataset, and writes the plot docs/swarm-sim.svg.
 *
 *   npm run build && npm run bench:sim -- [--nodes 200,500,1000] [--size-mb 64] [--piece-kb 256]
 *     [--up-mbit 20[,80,...]] [--origin-mbit 20] [--latency-ms 10] [--seed 1] [--svg FILE]
 *
 * A list for --up-mbit is cycled over the nodes (heterogeneous caps). Deterministic: the same
 * arguments give the same figures on any machine; only the wall-clock column varies.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { simulateSwarm, type SwarmSimResult } from '../../src/sim/swarm.js';
import { renderPlot } from '../swarm/plot.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200,500,1000' },
    'size-mb': { type: 'string', default: '64' },
    'piece-kb': { type: 'string', default: '256' },
    'up-mbit': { type: 'string', default: '20' },
    'origin-mbit': { type: 'string', default: '20' },
    'latency-ms': { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    svg: { type: 'string', default: 'docs/swarm-sim.svg' },
  },
});

function numbers(flag: string, s: string): number[] {
  const xs = s.split(',').map(Number);
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || x <= 0)) {
    console.error(`bench/sim: --${flag} wants positive numbers separated by commas, got "${s}"`);
    process.exit(2);
  }
  return xs;
}

const sizes = numbers('nodes', values.nodes).map(Math.round);
const [sizeMb] = numbers('size-mb', values['size-mb']);
const [pieceKb] = numbers('piece-kb', values['piece-kb']);
const ups = numbers('up-mbit', values['up-mbit']).map((m) => (m * 1e6) / 8);
const [originMbit] = numbers('origin-mbit', values['origin-mbit']);
const [latency] = numbers('latency-ms', values['latency-ms']);
const [seed] = numbers('seed', values.seed);

const rows: Array<{ n: number; r: SwarmSimResult; wall: number }> = [];
console.log(`simulated swarm: F = ${sizeMb} MiB, ${pieceKb} KiB pieces, node up ${values['up-mbit']} Mbit/s, origin ${originMbit} Mbit/s, latency ${latency} ms, seed ${seed}`);
console.log('| N | T* (s) | first (s) | median (s) | last (s) | last / T* | origin egress / F | upload use | events | wall (s) |');
console.log('|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const n of sizes) {
  const began = Date.now();
  const r = simulateSwarm({
    nodes: n,
    fileBytes: sizeMb! * 1024 * 1024,
    pieceLength: pieceKb! * 1024,
    upload: ups,
    originUpload: (originMbit! * 1e6) / 8,
    latencyMs: latency,
    seed: seed!,
  });
  const wall = (Date.now() - began) / 1000;
  rows.push({ n, r, wall });
  const f = (x: number) => x.toFixed(2);
  console.log(`| ${n} | ${f(r.tStar)} | ${f(r.first)} | ${f(r.median)} | ${f(r.last)}${r.unfinished ? ` (${r.unfinished} unfinished)` : ''} | ${f(r.last / r.tStar)} | ${f(r.originBytes / r.fileBytes)} | ${f(r.uploadUtilisation)} | ${r.events} | ${wall.toFixed(1)} |`);
}

if (values.svg) {
  const svg = renderPlot(
    [
      { name: 'seedbank (simulated)', color: '#1f77b4', points: rows.map(({ n, r }) => [n, r.last]) },
      { name: 'T* (fluid bound)', color: '#555', dashed: true, points: rows.map(({ n, r }) => [n, r.tStar]) },
      { name: '1.5 x T*', color: '#bbb', dashed: true, points: rows.map(({ n, r }) => [n, 1.5 * r.tStar]) },
    ],
    { title: `Simulated swarm: last node vs N (F = ${sizeMb} MiB, up ${values['up-mbit']} Mbit/s, origin ${originMbit})`, xLabel: 'nodes (N)', yLabel: 'seconds' },
  );
  writeFileSync(values.svg, svg);
  console.log(`plot: ${values.svg}`);
}
