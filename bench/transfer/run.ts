/**
 * bench/transfer: one seed to one downloader over 127.0.0.1, seedbank and libtorrent in all four
 * pairings, on the same hybrid torrent. A benchmark, not a test: it prints medians and a ratio and
 * asserts nothing about time.
 *
 * usage: node dist/bench/transfer/run.js [--size-mb 1024] [--runs 3] [--files 8]
 *          [--piece-length 4194304 (0: what seedbank create picks)] [--timeout 120] [--warmup 1]
 *          [--stats] [--cpu-prof DIR]
 *
 * - One seedbank seed (sb_seed.js) and one libtorrent seed (lt_bench.py seed) serve the same data
 *   folder for the whole invocation; each downloader is a fresh process writing into a fresh empty
 *   folder that is deleted after its run.
 * - Runs are interleaved (sb→sb, lt→lt, sb→lt, lt→sb, then again), after one untimed warm-up
 *   round, so drift in CPU speed and page-cache state hits every pairing alike.
 * - Each downloader times itself in-process: seedbank from `startDownload` to `torrent.done`,
 *   libtorrent from session start to `is_seeding`; both mean every piece passed its hash checks.
 *   Peak RSS is the downloader's (process.resourceUsage / getrusage).
 * - Everything listens on and dials 127.0.0.1 only; every wait is bounded and every child is
 *   killed at the end, on errors and on SIGINT/SIGTERM.
 * - --stats makes the seedbank downloaders count socket reads, GC time and event-loop use, and the
 *   seedbank seed count its storage reads, their latency and 'drain' events (printed at the end);
 *   --cpu-prof DIR writes a V8 CPU profile of each seedbank→seedbank downloader into DIR.
 */
import '../home.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createTorrent } from '../../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const PYTHON = '/usr/bin/python3';
const LT = path.join(repo, 'bench/transfer/lt_bench.py');
const SB_SEED = path.join(repo, 'dist/bench/transfer/sb_seed.js');
const SB_GET = path.join(repo, 'dist/bench/transfer/sb_get.js');

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '3' },
    files: { type: 'string', default: '8' },
    'piece-length': { type: 'string', default: String(4 * 1024 * 1024) },
    timeout: { type: 'string', default: '120' },
    warmup: { type: 'string', default: '1' },
    stats: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const sizeMb = Number(values['size-mb']);
const runs = Number(values.runs);
const nFiles = Number(values.files);
const pieceLength = Number(values['piece-length']);
const timeoutS = Number(values.timeout);
const warmups = Number(values.warmup);
const cpuProfDir = values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null;

type Side = 'seedbank' | 'libtorrent';
interface Pair {
  name: string;
  seed: Side;
  get: Side;
}
const PAIRS: Pair[] = [
  { name: 'seedbank → seedbank', seed: 'seedbank', get: 'seedbank' },
  { name: 'libtorrent → libtorrent', seed: 'libtorrent', get: 'libtorrent' },
  { name: 'seedbank seed → libtorrent', seed: 'seedbank', get: 'libtorrent' },
  { name: 'libtorrent seed → seedbank', seed: 'libtorrent', get: 'seedbank' },
];

interface Sample {
  ok: boolean;
  seconds: number;
  maxRssKb: number;
  [k: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Children: every one is tracked and killed on the way out.
// ---------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.stderr.write(`bench/transfer: ${sig}, children killed\n`);
    process.exit(130);
  });
}

interface Child {
  proc: ChildProcess;
  /** Resolves with the first JSON line that satisfies `pred`; rejects on exit or after `ms`. */
  waitFor(pred: (o: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>>;
  stderr(): string;
  /** Every JSON line it printed so far. */
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
}

function start(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<() => void> = [];
  let err = '';
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
    partial += s;
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      const line = partial.slice(0, i).trim();
      partial = partial.slice(i + 1);
      if (!line) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        err += `(stdout) ${line}\n`;
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => {
    err = (err + s).slice(-4000);
  });
  proc.stdin!.on('error', () => {});
  const exited = new Promise<number | null>((resolve) =>
    proc.once('close', (code) => {
      children.delete(proc);
      for (const w of waiters.splice(0)) w();
      resolve(code);
    }),
  );
  return {
    proc,
    exited,
    lines,
    stderr: () => err,
    waitFor(pred, ms, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`${what}: no answer within ${ms / 1000} s; stderr: ${err.trim().slice(-800)}`));
        }, ms);
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`${what}: exited (${proc.exitCode ?? proc.signalCode}) without answering; stderr: ${err.trim().slice(-800)}`));
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Closes a seed's stdin (its signal to stop), then kills it if it has not exited within 10 s. */
async function stopChild(c: Child): Promise<void> {
  c.proc.stdin!.end();
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
  await c.exited;
  clearTimeout(t);
}

// ---------------------------------------------------------------------------------------------
// Data, torrent, seeds, downloaders
// ---------------------------------------------------------------------------------------------

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

async function startSeed(side: Side, torrent: string, dataDir: string): Promise<{ child: Child; port: number }> {
  const child =
    side === 'seedbank'
      ? start(process.execPath, [SB_SEED, torrent, dataDir, ...(values.stats ? ['--stats'] : [])])
      : start(PYTHON, [LT, 'seed', torrent, dataDir]);
  const ready = await child.waitFor((o) => o['event'] === 'ready' || o['event'] === 'error', 120_000, `${side} seed`);
  if (ready['event'] !== 'ready') throw new Error(`${side} seed: ${JSON.stringify(ready)}`);
  return { child, port: Number(ready['port']) };
}

async function download(side: Side, torrent: string, outDir: string, port: number, profile: string | null): Promise<Sample> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const peer = `127.0.0.1:${port}`;
  const prof = profile && cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `${profile}.cpuprofile`] : [];
  const child =
    side === 'seedbank'
      ? start(process.execPath, [...prof, SB_GET, torrent, outDir, peer, '--timeout', String(timeoutS), ...(values.stats ? ['--stats'] : [])])
      : start(PYTHON, [LT, 'download', torrent, outDir, '--peer', peer, '--timeout', String(timeoutS)]);
  try {
    // The child gives up at timeoutS; allow it time to report and stop, then kill it.
    const r = (await child.waitFor((o) => 'ok' in o, (timeoutS + 20) * 1000, `${side} downloader`)) as Sample;
    const killer = setTimeout(() => child.proc.kill('SIGKILL'), 15_000);
    await child.exited;
    clearTimeout(killer);
    return r;
  } finally {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
    await rm(outDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ---------------------------------------------------------------------------------------------

const tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-bench-transfer-'));
const seeds: Child[] = [];
let exitCode = 0;
try {
  const seedDir = path.join(tmp, 'seed');
  const content = path.join(seedDir, 'dataset');
  const totalBytes = Math.floor((sizeMb * 1024 * 1024) / nFiles) * nFiles;
  await writeData(content);
  const { torrent, metainfo } = await createTorrent(content, { version: 'hybrid', ...(pieceLength > 0 ? { pieceLength } : {}), creationDate: null });
  const torrentFile = path.join(tmp, 'dataset.torrent');
  await writeFile(torrentFile, torrent);
  process.stdout.write(
    `bench/transfer: ${(totalBytes / 2 ** 20).toFixed(0)} MiB hybrid torrent, ${nFiles} files, piece length ${metainfo.pieceLength / 1024} KiB ` +
      `(${metainfo.numPieces} pieces), 127.0.0.1, ${warmups} warm-up round + ${runs} interleaved runs per pairing, ` +
      `${os.availableParallelism()} cores, Node ${process.versions.node}\n`,
  );

  const sb = await startSeed('seedbank', torrentFile, seedDir);
  seeds.push(sb.child);
  const lt = await startSeed('libtorrent', torrentFile, seedDir);
  seeds.push(lt.child);
  const ports: Record<Side, number> = { seedbank: sb.port, libtorrent: lt.port };

  const samples = new Map<string, Sample[]>(PAIRS.map((p) => [p.name, []]));
  const failures = new Map<string, string[]>(PAIRS.map((p) => [p.name, []]));
  for (let r = -warmups; r < runs; r++) {
    for (const [pi, p] of PAIRS.entries()) {
      const label = r < 0 ? `warm-up ${r + warmups + 1}` : `run ${r + 1}`;
      const profile = p.seed === 'seedbank' && p.get === 'seedbank' && r >= 0 ? `sb-sb-run${r + 1}` : null;
      let s: Sample;
      try {
        s = await download(p.get, torrentFile, path.join(tmp, `get-${pi}`), ports[p.seed], profile);
      } catch (e) {
        s = { ok: false, seconds: NaN, maxRssKb: NaN, error: (e as Error).message };
      }
      const rate = totalBytes / 1e6 / s.seconds;
      const extra = Object.entries(s)
        .filter(([k]) => !['ok', 'seconds', 'maxRssKb'].includes(k))
        .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v)}`)
        .join(' ');
      process.stdout.write(
        `  ${label.padEnd(10)} ${p.name.padEnd(27)} ${s.ok ? `${s.seconds.toFixed(3)} s  ${rate.toFixed(0).padStart(5)} MB/s  peak RSS ${(s.maxRssKb / 1024).toFixed(0)} MB` : 'FAILED'}  ${extra}\n`,
      );
      if (r < 0) continue;
      if (s.ok) samples.get(p.name)!.push(s);
      else failures.get(p.name)!.push(String(s['error'] ?? 'not complete'));
    }
  }

  process.stdout.write(`\nmedians (MB = 10^6 bytes; peak RSS of the downloader, MiB):\n`);
  const throughput = new Map<string, number>();
  for (const p of PAIRS) {
    const ss = samples.get(p.name)!;
    const t = median(ss.map((s) => s.seconds));
    const mbps = totalBytes / 1e6 / t;
    throughput.set(p.name, mbps);
    const rss = median(ss.map((s) => s.maxRssKb)) / 1024;
    const anon = ss.every((s) => typeof s['maxRssAnonKb'] === 'number') && ss.length ? ` (anon ${(median(ss.map((s) => s['maxRssAnonKb'] as number)) / 1024).toFixed(0)} MB)` : '';
    const fails = failures.get(p.name)!;
    process.stdout.write(
      `  ${p.name.padEnd(27)} ${Number.isFinite(t) ? t.toFixed(3) : '  n/a'} s  ${Number.isFinite(mbps) ? mbps.toFixed(0).padStart(5) : '  n/a'} MB/s  peak RSS ${rss.toFixed(0)} MB${anon}` +
        `  [runs: ${ss.map((s) => s.seconds.toFixed(3)).join(' ')}]${fails.length ? `  ${fails.length} FAILED: ${fails.join('; ')}` : ''}\n`,
    );
    if (fails.length) exitCode = 1;
  }
  const ratio = throughput.get(PAIRS[0]!.name)! / throughput.get(PAIRS[1]!.name)!;
  process.stdout.write(`\nseedbank→seedbank / libtorrent→libtorrent throughput ratio: ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'}\n`);
  if (cpuProfDir) process.stdout.write(`CPU profiles of the seedbank→seedbank downloaders: ${cpuProfDir}\n`);
} catch (e) {
  process.stderr.write(`bench/transfer failed: ${(e as Error).stack ?? String(e)}\n`);
  exitCode = 1;
} finally {
  await Promise.all(seeds.map((s) => stopChild(s).catch(() => {})));
  killAll();
  if (values.stats) for (const s of seeds) for (const l of s.lines) if (l['event'] === 'done') process.stdout.write(`seed ${JSON.stringify(l)}\n`);
  await rm(tmp, { recursive: true, force: true });
}
process.exit(exitCode);
