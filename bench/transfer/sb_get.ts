/**
 * seedbank downloader for bench/transfer: `startDownload` from one peer on 127.0.0.1 into a fresh
 * folder, timed in-process from the call to `torrent.done` (every piece verified and written).
 * Prints one JSON line: {ok, seconds, maxRssKb, bytesFromPeers, hashFailures, ...}.
 *
 * With --stats it also counts socket reads (a 'data' listener beside the engine's), garbage
 * collection time and event-loop utilisation: for finding bottlenecks, not for timing.
 *
 * usage: node dist/bench/transfer/sb_get.js <torrent> <out-dir> <host:port> [--timeout 120] [--stats]
 */
import './loopback.js';
import { readFile } from 'node:fs/promises';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseTorrent, startDownload } from '../../src/index.js';
import { sharedReadStats } from '../../src/engine/socket-reader.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { timeout: { type: 'string', default: '120' }, stats: { type: 'boolean', default: false } },
});
const [torrentFile, outDir, peer] = positionals;
const t = parseTorrent(await readFile(torrentFile!));

let gcMs = 0;
let gcCount = 0;
let reads = 0;
let readBytes = 0;
if (values.stats) {
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcCount++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
}

const usage0 = process.resourceUsage();
const elu0 = performance.eventLoopUtilization();
const start = performance.now();
const tr = await startDownload(t, { dataDir: outDir!, peers: [peer!] });
if (values.stats) {
  tr.session.events.on('peer:connected', ({ peer: key }) => {
    const c = tr.torrent.connections.get(key);
    c?.socket.on('data', (chunk: Buffer) => {
      reads++;
      readBytes += chunk.length;
    });
  });
}
const shared0 = { ...sharedReadStats };
let timer: NodeJS.Timeout | undefined;
const result = await Promise.race([
  tr.torrent.done.then(
    () => 'ok' as const,
    (e: Error) => `storage failure: ${e.message}`,
  ),
  new Promise<string>((resolve) => (timer = setTimeout(() => resolve('timeout'), Number(values.timeout) * 1000))),
]);
const seconds = (performance.now() - start) / 1000;
clearTimeout(timer);
const elu = performance.eventLoopUtilization(elu0);
const s = tr.stats();
const usage = process.resourceUsage();
const report: Record<string, unknown> = {
  ok: result === 'ok',
  ...(result === 'ok' ? {} : { error: result }),
  seconds,
  maxRssKb: usage.maxRSS,
  bytesFromPeers: s.bytesFromPeers,
  hashFailures: s.hashFailures,
  pieces: `${s.piecesHave}/${t.numPieces}`,
};
if (values.stats) {
  Object.assign(report, {
    // Sockets we dial read through the shared buffer (no 'data' events); incoming ones do not.
    reads: reads + sharedReadStats.reads - shared0.reads,
    meanReadKb: (readBytes + sharedReadStats.bytes - shared0.bytes) / Math.max(1, reads + sharedReadStats.reads - shared0.reads) / 1024,
    gcMs,
    gcCount,
    eventLoopUtilization: elu.utilization,
    cpuUserS: (usage.userCPUTime - usage0.userCPUTime) / 1e6,
    cpuSystemS: (usage.systemCPUTime - usage0.systemCPUTime) / 1e6,
  });
}
process.stdout.write(`${JSON.stringify(report)}\n`);
await Promise.race([tr.stop().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
process.exit(result === 'ok' ? 0 : 1);
