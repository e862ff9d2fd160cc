/**
 * A seedbank node of bench/swarm, run inside its host's namespace. It loads the torrent, prints
 * {"event":"ready"}, and waits for a line "go" on its standard input (so every node of a run starts
 * at the same moment, with Node's start-up already behind it). Then it downloads with the library
 * (`startDownload`, default origin policy, peers from the torrent's tracker, the origin as the
 * torrent's web seed), prints {"event":"done","at":<epoch ms>,...} once every piece is verified and
 * written, and keeps seeding until its standard input closes. Last it prints {"event":"final",...}
 * with its byte counts and a timeline (one sample a second: bytes from peers, from the origin,
 * uploaded), then exits.
 *
 * usage: node dist/bench/swarm/sb_node.js <torrent> <data-dir> [--timeout 900]
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EventChannel, parseTorrent, startDownload, type Transfer } from '../../src/index.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { timeout: { type: 'string', default: '900' } } });
const [torrentFile, dataDir] = positionals;
const t = parseTorrent(await readFile(torrentFile!));
const say = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

let tr: Transfer | null = null;
let startedAt = 0;
const timeline: Array<[number, number, number, number]> = [];
let sampler: NodeJS.Timeout | undefined;
const originPieces: Array<[number, number, number]> = [];

let stopping = false;
const stop = async (why: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  clearInterval(sampler);
  const s = tr?.stats();
  if (tr) await Promise.race([tr.stop().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  say({
    event: 'final',
    why,
    bytesUploaded: s?.bytesUploaded ?? 0,
    bytesFromPeers: s?.bytesFromPeers ?? 0,
    bytesFromOrigins: s?.bytesFromOrigins ?? 0,
    hashFailures: s?.hashFailures ?? 0,
    peersSeen: s?.peersSeen ?? 0,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    timeline,
    // Pieces that had origin bytes: [index, ms since start, connected peers then] (duplicates across nodes show here).
    originPieces,
    origins: s?.origins.map((o) => ({ requests: o.requests, failures: o.failures, lastError: o.lastError })) ?? [],
  });
  process.exit(0);
};
setTimeout(() => void stop('timeout'), Number(values.timeout) * 1000).unref();
process.once('SIGTERM', () => void stop('SIGTERM'));

const lines = createInterface({ input: process.stdin });
lines.on('close', () => void stop('stdin closed'));
lines.on('line', (line) => {
  if (line.trim() !== 'go' || tr || stopping) return;
  startedAt = Date.now();
  const events = new EventChannel();
  events.on('torrent:piece-verified', (e) => {
    if (!e.source.includes('web:')) return;
    const ids = new Set([...(tr?.torrent.connections.values() ?? [])].map((c) => c.peerId.toString('hex')));
    originPieces.push([e.index, Date.now() - startedAt, ids.size]);
  });
  void startDownload(t, { dataDir: dataDir!, events }).then(
    (transfer) => {
      tr = transfer;
      sampler = setInterval(() => {
        const s = transfer.stats();
        timeline.push([Date.now() - startedAt, s.bytesFromPeers, s.bytesFromOrigins, s.bytesUploaded]);
      }, 1000);
      transfer.torrent.done.then(
        () => {
          const s = transfer.stats();
          say({ event: 'done', at: Date.now(), bytesFromPeers: s.bytesFromPeers, bytesFromOrigins: s.bytesFromOrigins, connections: s.connections, hashFailures: s.hashFailures });
        },
        (e: Error) => say({ event: 'error', message: e.message }),
      );
    },
    (e: Error) => say({ event: 'error', message: e.message }),
  );
});
say({ event: 'ready', pieces: t.numPieces });
