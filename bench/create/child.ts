/**
 * seedbank side of bench/create: hash one dataset with the library API in a fresh process, print
 * time and peak RSS (worker threads included, they share the process).
 *
 * usage: node dist/bench/create/child.js <content-path> <v1|v2|hybrid> <piece-length>
 */
import { createTorrent, type TorrentVersion } from '../../src/index.js';

const [path, version, pieceLength] = process.argv.slice(2);
const start = performance.now();
const { torrent } = await createTorrent(path!, { version: version as TorrentVersion, pieceLength: Number(pieceLength) });
const seconds = (performance.now() - start) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, maxRssKb: process.resourceUsage().maxRSS, torrentBytes: torrent.length })}\n`);
