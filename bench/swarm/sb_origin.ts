/**
 * The origin host of bench/swarm, run inside its namespace: seedbank's static HTTP origin (the
 * "bucket") and seedbank's tracker, both on the host's address. No rate limit in-process: the
 * host's upload cap is tc's. Prints {"event":"ready"} once both listen; when its standard input
 * closes (or after --timeout s) it prints {"event":"final","bytesSent":…} (the origin's HTTP body
 * bytes, what a bucket bills) and exits.
 *
 * usage: node dist/bench/swarm/sb_origin.js <root> <host> <origin-port> <tracker-port> [--timeout 1800]
 */
import { parseArgs } from 'node:util';
import { startOrigin } from '../../src/index.js';
import { startTrackerServer } from '../../src/discovery/tracker-server.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { timeout: { type: 'string', default: '1800' } } });
const [root, host, originPort, trackerPort] = positionals;
const origin = await startOrigin({ root: root!, host: host!, port: Number(originPort) });
// A short interval: libtorrent nodes that announced first learn of later ones by re-announcing
// (seedbank nodes also learn of them from their incoming connections).
const tracker = await startTrackerServer({ httpPort: Number(trackerPort), udpPort: false, host: host!, interval: 30, minInterval: 5 });
process.stdout.write(`${JSON.stringify({ event: 'ready', origin: origin.url })}\n`);

let stopping = false;
const stop = async (why: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  const bytesSent = origin.stats.bytesSent;
  await Promise.race([Promise.all([origin.close(), tracker.close()]), new Promise((r) => setTimeout(r, 5000))]);
  process.stdout.write(`${JSON.stringify({ event: 'final', why, bytesSent })}\n`);
  process.exit(0);
};
setTimeout(() => void stop('timeout'), Number(values.timeout) * 1000).unref();
process.stdin.on('end', () => void stop('stdin closed'));
process.stdin.on('error', () => void stop('stdin error'));
process.stdin.resume();
process.once('SIGTERM', () => void stop('SIGTERM'));
