/**
 * `seedbank demo`: the README's first command, the main job in miniature. With no set-up it makes
 * a sample dataset of shard files, puts it behind a local HTTP origin with a bandwidth cap (a
 * stand-in for a bucket), shares it as a hybrid torrent whose web seed is that origin, starts
 * several seedbank nodes on loopback and distributes the dataset to all of them. It ends with what
 * that saved: origin egress against a bucket-only distribution, and what peers served each other.
 * Everything lives in one temporary folder, removed at the end (unless --keep).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { type Transfer, UsageError, createTorrent, parseTorrent, startDownload, startOrigin } from '../index.js';

import { formatBytes, formatRate } from './output.js';

export interface DemoFlags {
  sizeMb: string;
  nodes: string;
  originRate: string;
  keep?: boolean;
}


async function makeDataset(root: string, totalBytes: number): Promise<void> {
  const shards = 8;
  const shardBytes = Math.floor(totalBytes / (shards + 0.5));
  await mkdir(path.join(root, 'train'), { recursive: true });
  await mkdir(path.join(root, 'validation'), { recursive: true });
  for (let i = 0; i < shards; i++) {
    await writeRandom(path.join(root, 'train', `shard-${String(i).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.bin`), shardBytes + i * 1111);
  }
  await writeRandom(path.join(root, 'validation', 'shard-00000-of-00001.bin'), Math.floor(shardBytes / 2) + 7);
  await writeFile(path.join(root, 'README.md'), '# sample dataset\n\nRandom shards made by `seedbank demo`.\n');
  await writeFile(path.join(root, 'dataset_info.json'), `${JSON.stringify({ name: 'sample-dataset', shards, shardBytes }, null, 2)}\n`);
}

async function writeRandom(file: string, bytes: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (let done = 0; done < bytes; ) {
      const n = Math.min(4 * 1024 * 1024, bytes - done);
      await fh.write(randomBytes(n), 0, n, done);
      done += n;
    }
  } finally {
    await fh.close();
  }
}

/** Live progress of every node: bars on a terminal, a line every 2 s in logs. */
function nodeProgress(n: number, total: number) {
  if (process.stdout.isTTY) {
    const multi = new cliProgress.MultiBar(
      { format: '   {name} [{bar}] {percentage}% | {detail}', hideCursor: true, clearOnComplete: false, fps: 8, stream: process.stdout },
      cliProgress.Presets.shades_classic,
    );
    const bars = Array.from({ length: n }, (_, i) => multi.create(total, 0, { name: `node ${i + 1}`, detail: '' }));
    return {
      update: (i: number, done: number, detail: string) => bars[i]!.update(done, { detail }),
      stop: () => multi.stop(),
    };
  }
  let last = 0;
  const state = Array.from({ length: n }, () => 0);
  return {
    update: (i: number, done: number) => {
      state[i] = done;
      const now = Date.now();
      if (now - last < 2000) return;
      last = now;
      process.stdout.write(`   ${state.map((d, k) => `node ${k + 1} ${Math.floor((100 * d) / Math.max(total, 1))}%`).join(', ')}\n`);
    },
    stop: () => {},
  };
}

function parseDemoNumber(v: string, flag: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flag} must be a number from ${min} to ${max}`);
  return n;
}

export async function runDemo(f: DemoFlags): Promise<number> {
  const sizeMb = parseDemoNumber(f.sizeMb, '--size-mb', 1, 65536);
  const nodes = parseDemoNumber(f.nodes, '--nodes', 1, 32);
  const capMb = parseDemoNumber(f.originRate, '--origin-rate', 1, 100_000);
  if (!Number.isInteger(nodes)) throw new UsageError('--nodes must be a whole number from 1 to 32');
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const work = await mkdtemp(path.join(os.tmpdir(), 'seedbank-demo-'));
  const bucket = path.join(work, 'bucket');
  const data = path.join(bucket, 'sample-dataset');
  const transfers: Transfer[] = [];
  let origin: Awaited<ReturnType<typeof startOrigin>> | null = null;
  try {
    say(`1. making a sample dataset of about ${formatBytes(sizeMb * 1024 * 1024)} (shard files) in ${bucket}`);
    await makeDataset(data, sizeMb * 1024 * 1024);

    const cap = capMb * 1024 * 1024;
    origin = await startOrigin({ root: bucket, rateBytesPerSec: cap });
    say(`2. serving it from a local HTTP origin (a stand-in for a bucket) at ${origin.url}, egress capped at ${formatRate(cap)}`);

    const { torrent } = await createTorrent(data, { webSeeds: [origin.url] });
    const t = parseTorrent(torrent);
    const size = t.files.reduce((n, x) => n + (x.pad ? 0 : x.length), 0);
    await writeFile(path.join(work, 'sample-dataset.torrent'), torrent);
    say(`3. shared as a hybrid torrent: ${t.files.filter((x) => !x.pad).length} files, ${formatBytes(size)}, ${t.numPieces} pieces, web seed ${origin.url}`);
    say(`   info hash v2 ${t.infoHashV2!.toString('hex')}`);

    say(`4. ${nodes} seedbank nodes on loopback download it at once (origin policy: balanced)`);
    const started = Date.now();
    for (let i = 0; i < nodes; i++) {
      const peers = transfers.map((tr) => `127.0.0.1:${tr.session.port}`);
      transfers.push(await startDownload(t, { dataDir: path.join(work, `node-${i + 1}`), peers }));
    }
    const progress = nodeProgress(nodes, size);
    const finishedAt: number[] = [];
    const tick = setInterval(() => {
      transfers.forEach((tr, i) => {
        const s = tr.stats();
        progress.update(i, Math.min(size, s.bytesFromPeers + s.bytesFromOrigins), `origin ${formatBytes(s.bytesFromOrigins)}, peers ${formatBytes(s.bytesFromPeers)}, served ${formatBytes(s.bytesUploaded)}`);
      });
    }, 200);
    // Bounded: twice the bucket-only time, and at least two minutes, then it gives up.
    const limitS = Math.max(120, (2 * nodes * sizeMb) / capMb);
    let limit: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(transfers.map((tr, i) => tr.torrent.done.then(() => (finishedAt[i] = Date.now())))),
        new Promise((_, reject) => (limit = setTimeout(() => reject(new Error(`the nodes did not finish within ${limitS.toFixed(0)} s`)), limitS * 1000))),
      ]);
    } finally {
      clearInterval(tick);
      clearTimeout(limit);
      transfers.forEach((tr, i) => {
        const s = tr.stats();
        progress.update(i, Math.min(size, s.bytesFromPeers + s.bytesFromOrigins), `origin ${formatBytes(s.bytesFromOrigins)}, peers ${formatBytes(s.bytesFromPeers)}, served ${formatBytes(s.bytesUploaded)}`);
      });
      progress.stop();
    }
    const seconds = (Math.max(...finishedAt) - started) / 1000;
    const stats = transfers.map((tr) => tr.stats());
    const fromPeers = stats.reduce((n, s) => n + s.bytesFromPeers, 0);
    const fromOrigin = stats.reduce((n, s) => n + s.bytesFromOrigins, 0);
    const egress = origin.stats.bytesSent;
    const bucketOnly = nodes * size;
    const bucketOnlySeconds = bucketOnly / cap;
    const failures = stats.reduce((n, s) => n + s.hashFailures, 0);

    say('5. report');
    say(`   all ${nodes} nodes have every piece, each verified (SHA-1 and SHA-256 merkle) before it was written; ${failures} hash failures`);
    say(`   time: ${seconds.toFixed(1)} s for the last node; a bucket-only distribution at ${formatRate(cap)} would take about ${bucketOnlySeconds.toFixed(1)} s`);
    say(`   origin egress: ${formatBytes(egress)} (${(egress / size).toFixed(2)} copies of the dataset) instead of ${formatBytes(bucketOnly)} (${nodes} copies): ${(100 * (1 - egress / bucketOnly)).toFixed(0)}% saved`);
    say(`   bytes nodes got: ${formatBytes(fromOrigin)} from the origin, ${formatBytes(fromPeers)} from each other`);
    if (f.keep) say(`   kept ${work}`);
    const ok = stats.every((s) => s.piecesWanted === 0);
    say(ok ? 'demo finished' : 'demo FAILED: a node did not finish');
    return ok ? 0 : 1;
  } finally {
    await Promise.all(transfers.map((tr) => tr.stop().catch(() => {})));
    await origin?.close().catch(() => {});
    if (!f.keep) await rm(work, { recursive: true, force: true });
  }
}
