/**
 * seedbank seed for bench/transfer: `startSeeding` on 127.0.0.1, prints one JSON line
 * {"event": "ready", "port": P} once it serves, and stops when its standard input closes (or after
 * --timeout seconds, so it never outlives a crashed parent).
 *
 * With --stats it counts storage reads (and the time from each read's call to its result) and
 * 'drain' events on peer sockets, and the event-loop utilisation while a peer is connected; they
 * are printed with the final "done" line. For finding bottlenecks, not for timing.
 *
 * usage: node dist/bench/transfer/sb_seed.js <torrent> <data-dir> [--timeout 1800] [--stats]
 */
import './loopback.js';
import { readFile } from 'node:fs/promises';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseTorrent, startSeeding } from '../../src/index.js';
import { FileStorage } from '../../src/storage/file-storage.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { timeout: { type: 'string', default: '1800' }, stats: { type: 'boolean', default: false } },
});
const [torrentFile, dataDir] = positionals;
const t = parseTorrent(await readFile(torrentFile!));

const stats = { reads: 0, readMs: 0, readBytes: 0, drains: 0, connectedMs: 0, busyMs: 0 };
if (values.stats) {
  const read = FileStorage.prototype.read;
  FileStorage.prototype.read = async function (this: FileStorage, index: number, begin: number, length: number) {
    const t0 = performance.now();
    const b = await read.call(this, index, begin, length);
    stats.reads++;
    stats.readBytes += length;
    stats.readMs += performance.now() - t0;
    return b;
  };
}
const tr = await startSeeding(t, { dataDir: dataDir!, port: 0 });
if (values.stats) {
  let since: { elu: EventLoopUtilization; at: number } | null = null;
  tr.session.events.on('peer:connected', ({ peer }) => {
    tr.torrent.connections.get(peer)?.socket.on('drain', () => stats.drains++);
    since ??= { elu: performance.eventLoopUtilization(), at: performance.now() };
  });
  tr.session.events.on('peer:disconnected', () => {
    if (!since || tr.torrent.connections.size) return;
    const e = performance.eventLoopUtilization(since.elu);
    stats.connectedMs += performance.now() - since.at;
    stats.busyMs += e.active;
    since = null;
  });
}
process.stdout.write(`${JSON.stringify({ event: 'ready', port: tr.session.port, pieces: t.numPieces, pieceLength: t.pieceLength })}\n`);

let stopping = false;
const stop = async (why: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  const s = tr.stats();
  await tr.stop().catch(() => {});
  const extra = values.stats
    ? { ...stats, meanReadUs: (stats.readMs / Math.max(1, stats.reads)) * 1000, eventLoopUtilizationWhileConnected: stats.busyMs / Math.max(1, stats.connectedMs) }
    : {};
  process.stdout.write(`${JSON.stringify({ event: 'done', why, uploaded: s.bytesUploaded, ...extra })}\n`);
  process.exit(0);
};
setTimeout(() => void stop('timeout'), Number(values.timeout) * 1000).unref();
process.stdin.on('end', () => void stop('stdin closed'));
process.stdin.on('error', () => void stop('stdin error'));
process.stdin.resume();
process.once('SIGTERM', () => void stop('SIGTERM'));
