/**
 * bench/create: seedbank vs libtorrent's create_torrent on the same data, v1, v2 and hybrid.
 * A benchmark, not a test: it prints medians and ratios and asserts nothing about time.
 *
 * usage: npm run bench:create -- [--size-mb 1024] [--runs 3] [--piece-length 262144] [--files 8]
 *
 * Runs are interleaved (seedbank, libtorrent, seedbank, ...) so that drift in CPU speed and page
 * cache state hits both alike; each run is a fresh process. The data is read once before timing
 * so both start from a warm page cache.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '3' },
    'piece-length': { type: 'string', default: '262144' },
    files: { type: 'string', default: '8' },
  },
});
const sizeMb = Number(values['size-mb']);
const runs = Number(values.runs);
const pieceLength = Number(values['piece-length']);
const nFiles = Number(values.files);

interface Sample {
  seconds: number;
  maxRssKb: number;
}

async function writeData(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const per = Math.floor((sizeMb * 1024 * 1024) / nFiles);
  for (let i = 0; i < nFiles; i++) {
    const fh = await open(path.join(dir, `shard-${String(i).padStart(5, '0')}.bin`), 'w');
    for (let done = 0; done < per; ) {
      const n = Math.min(8 << 20, per - done);
      await fh.write(randomBytes(n), 0, n, done);
      done += n;
    }
    await fh.close();
  }
}

async function warm(dir: string): Promise<void> {
  for (let i = 0; i < nFiles; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = createReadStream(path.join(dir, `shard-${String(i).padStart(5, '0')}.bin`), { highWaterMark: 8 << 20 });
      s.on('data', () => {});
      s.on('end', resolve);
      s.on('error', reject);
    });
  }
}

async function seedbank(data: string, version: string): Promise<Sample> {
  const { stdout } = await run(process.execPath, [path.join(repo, 'dist/bench/create/child.js'), data, version, String(pieceLength)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as Sample;
}

async function libtorrent(data: string, version: string): Promise<Sample> {
  const { stdout } = await run('/usr/bin/python3', [path.join(repo, 'bench/create/lt_create.py'), data, version, String(pieceLength)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as Sample;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-bench-create-'));
try {
  const data = path.join(tmp, 'dataset');
  process.stdout.write(`bench/create: ${sizeMb} MiB in ${nFiles} files, piece length ${pieceLength}, ${runs} interleaved runs each, ${os.availableParallelism()} cores\n`);
  await writeData(data);
  await warm(data);
  const rows: string[] = [];
  for (const version of ['v1', 'v2', 'hybrid']) {
    const sb: Sample[] = [];
    const lt: Sample[] = [];
    await seedbank(data, version); // one untimed warm-up each: JIT, page cache, worker start
    await libtorrent(data, version);
    for (let r = 0; r < runs; r++) {
      sb.push(await seedbank(data, version));
      lt.push(await libtorrent(data, version));
    }
    const sbT = median(sb.map((s) => s.seconds));
    const ltT = median(lt.map((s) => s.seconds));
    const sbRss = Math.max(...sb.map((s) => s.maxRssKb)) / 1024;
    const ltRss = Math.max(...lt.map((s) => s.maxRssKb)) / 1024;
    rows.push(
      `${version.padEnd(7)} seedbank ${sbT.toFixed(3)} s (${((sizeMb / 1024) / sbT).toFixed(2)} GiB/s, peak RSS ${sbRss.toFixed(0)} MB)` +
        `  libtorrent ${ltT.toFixed(3)} s (peak RSS ${ltRss.toFixed(0)} MB)  libtorrent/seedbank time ratio ${(ltT / sbT).toFixed(2)}` +
        `  [seedbank runs: ${sb.map((s) => s.seconds.toFixed(3)).join(' ')}; libtorrent runs: ${lt.map((s) => s.seconds.toFixed(3)).join(' ')}]`,
    );
    process.stdout.write(`${rows[rows.length - 1]}\n`);
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
