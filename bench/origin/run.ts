/**
 * bench/origin: origin offload. One capped HTTP origin and N nodes (8 by default) on 127.0.0.1:
 * how long until every node has the dataset, and how many bytes the origin sent, with seedbank
 * (the origin is the torrent's web seed, the nodes also trade with each other) against N plain
 * HTTP clients (aria2c) each downloading every file straight from the origin. A benchmark, not a
 * test: it prints medians and the two target ratios and asserts nothing about time.
 *
 * usage: npm run bench:origin -- [--size-mb 256] [--files 8] [--nodes 8] [--origin-rate 64 (MiB/s)]
 *          [--runs 3] [--timeout 180 (s, per scenario run)] [--piece-length BYTES (default: what
 *          createTorrent picks)] [--only seedbank|direct] [--trace] [--cpu-prof DIR]
 *
 * - One origin process (http_origin.js, `startOrigin` under the cap) serves the dataset for the
 *   whole invocation; its egress for a scenario run is the difference of its `bytesSent` counter
 *   (body bytes the sockets took) before and after the run.
 * - seedbank: N node processes (sb_node.js), each `startDownload` with the origin as web seed and
 *   the default origin policy (balanced). Node i is given nodes 0..i-1 as peers (connections are
 *   two-way, so every pair is connected once); every node listens before any starts. All get
 *   "go" at once; a node's time runs from that moment to its `torrent.done` (every piece verified
 *   and written). Finished nodes keep serving until the last one is done.
 * - direct: N aria2c processes started at once, each fetching every file (ARIA2_ARGS); a client's
 *   time runs to its exit (code 0, and every file checked for its size).
 * - Also printed, to read the times by: the CPU seconds the nodes and the origin used, and how busy
 *   the whole machine was (/proc/stat; other people's processes count too). --trace prints each
 *   node's progress once a second; --cpu-prof DIR writes a V8 CPU profile of node 0 into DIR.
 * - The scenarios alternate (A B, B A, ...) so that drift in CPU speed hits both alike. Each run
 *   writes into fresh empty folders, deleted after it. Every wait is bounded, every child killed
 *   at the end, on errors and on SIGINT/SIGTERM, and the temporary folder removed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTorrent } from '../../src/index.js';
import { type Child, exitWithin, killAll, killChildrenOnExit, start } from './children.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ORIGIN = path.join(here, 'http_origin.js');
const SB_NODE = path.join(here, 'sb_node.js');
const ARIA2C = 'aria2c';
/** Per client: 8 files at once, 4 connections (ranges of at least 1 MiB) per file, no preallocation. */
const ARIA2_ARGS = ['--no-conf', '-q', '-x4', '-s4', '-k1M', '-j8', '--file-allocation=none', '--allow-overwrite=true', '--auto-file-renaming=false', '--summary-interval=0'];
const MiB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '256' },
    files: { type: 'string', default: '8' },
    nodes: { type: 'string', default: '8' },
    'origin-rate': { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    timeout: { type: 'string', default: '180' },
    'piece-length': { type: 'string', default: '0' },
    only: { type: 'string' },
    trace: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const num = (flag: keyof typeof values, min: number): number => {
  const n = Number(values[flag]);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${flag} must be a number of at least ${min}`);
  return n;
};
const sizeMb = num('size-mb', 1);
const nFiles = Math.floor(num('files', 1));
const nNodes = Math.floor(num('nodes', 1));
const capBytes = num('origin-rate', 0.01) * MiB;
const runs = Math.floor(num('runs', 1));
const timeoutMs = num('timeout', 1) * 1000;
const pieceLength = num('piece-length', 0);
const cpuProfDir = values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null;
if (values.only !== undefined && values.only !== 'seedbank' && values.only !== 'direct') throw new Error('--only must be seedbank or direct');

interface Outcome {
  ok: boolean;
  error?: string;
  /** Seconds from the start signal to each node or client being done (sorted). */
  times: number[];
  egress: number;
  /** seedbank only. */
  fromOrigin?: number;
  fromPeers?: number;
  hashFailures?: number;
  /** Pieces that some node verified with origin bytes in them, and those that 2+ nodes did. */
  originPieces?: number;
  originPiecesTwice?: number;
  goSkewMs?: number;
  /** CPU seconds the seedbank nodes used from "go" until they stopped (all threads, user + system). */
  nodeCpu?: number;
  /** CPU seconds the origin process used during the run. */
  originCpu?: number;
  /** The whole machine's busy share of all cores over the run (from /proc/stat), 0..1. */
  machineBusy?: number;
  /** Busy CPU seconds of the whole machine over the run (all cores, every process, kernel threads). */
  machineCpu?: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mib = (b: number): string => `${(b / MiB).toFixed(1)} MiB`;
const secs = (s: number): string => (Number.isFinite(s) ? `${s.toFixed(2)} s` : 'n/a');

// ---------------------------------------------------------------------------------------------

const tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-bench-origin-'));
killChildrenOnExit('bench/origin', () => rmSync(tmp, { recursive: true, force: true }));

async function writeDataset(dir: string): Promise<{ names: string[]; bytes: number }> {
  await mkdir(dir, { recursive: true });
  const per = Math.floor((sizeMb * MiB) / nFiles);
  const names: string[] = [];
  for (let i = 0; i < nFiles; i++) {
    const name = `shard-${String(i).padStart(5, '0')}.bin`;
    names.push(name);
    const fh = await open(path.join(dir, name), 'w');
    try {
      for (let done = 0; done < per; ) {
        const n = Math.min(8 * MiB, per - done);
        await fh.write(randomBytes(n), 0, n, done);
        done += n;
      }
    } finally {
      await fh.close();
    }
  }
  return { names, bytes: per * nFiles };
}

/** Jiffies the machine spent busy and in all, from /proc/stat's first line (null if unreadable). */
function machineCpu(): { busy: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // without guest time, already in user
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}
const busyShare = (a: ReturnType<typeof machineCpu>, b: ReturnType<typeof machineCpu>): number => (a && b && b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : NaN);

let statsSeq = 0;
/** The origin's counters now: egress (body bytes the sockets took) and its CPU seconds. */
async function originCounters(origin: Child): Promise<{ bytes: number; cpu: number }> {
  const seq = String(++statsSeq);
  origin.proc.stdin!.write(`${seq}\n`);
  const r = await origin.waitFor((o) => o['event'] === 'stats' && o['seq'] === seq, 10_000, 'origin stats');
  return { bytes: Number(r['bytesSent']), cpu: Number(r['cpuSeconds']) };
}

async function runSeedbank(origin: Child, torrentFile: string, url: string, runDir: string): Promise<Outcome> {
  const before = await originCounters(origin);
  const nodes: Child[] = [];
  try {
    for (let i = 0; i < nNodes; i++) {
      const dir = path.join(runDir, `node-${i}`);
      await mkdir(dir, { recursive: true });
      nodes.push(start(process.execPath, [...(i === 0 && cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []), SB_NODE, torrentFile, dir, url, '--timeout', String(Math.ceil(timeoutMs / 1000) + 60), ...(values.trace ? ['--trace'] : [])]));
    }
    const ready = await Promise.all(nodes.map((n, i) => n.waitFor((o) => o['event'] === 'ready', 60_000, `node ${i}`)));
    const ports = ready.map((r) => Number(r['port']));
    const cpu0 = machineCpu();
    const t0 = Date.now();
    nodes.forEach((n, i) => n.send({ cmd: 'go', peers: ports.slice(0, i).map((p) => `127.0.0.1:${p}`) }));
    const deadline = t0 + timeoutMs;
    const done = await Promise.all(
      nodes.map((n, i) => n.waitFor((o) => o['event'] === 'done' || o['event'] === 'failed', Math.max(1, deadline - Date.now()), `node ${i}`)),
    );
    const failed = done.find((d) => d['event'] !== 'done');
    const machineBusy = busyShare(cpu0, machineCpu());
    const machineSeconds = machineBusy * ((Date.now() - t0) / 1000) * os.availableParallelism();
    // Everyone is done: stop them (closing stdin) before reading the origin's counter.
    await Promise.all(nodes.map((n) => n.stop()));
    const nodeCpu = nodes.reduce((s, n) => s + Number(n.lines.find((l) => l['event'] === 'final')?.['cpuSeconds'] ?? NaN), 0);
    if (values.trace) printTrace(nodes, t0);
    const after = await originCounters(origin);
    const egress = after.bytes - before.bytes;
    const originCpu = after.cpu - before.cpu;
    const sum = (k: string): number => done.reduce((s, d) => s + Number(d[k] ?? 0), 0);
    const byPiece = new Map<number, number>();
    for (const d of done) for (const p of (d['originPieces'] as number[] | undefined) ?? []) byPiece.set(p, (byPiece.get(p) ?? 0) + 1);
    return {
      ok: !failed,
      ...(failed ? { error: String(failed['error']) } : {}),
      times: done.map((d) => (Number(d['at']) - t0) / 1000).sort((a, b) => a - b),
      egress,
      fromOrigin: sum('bytesFromOrigins'),
      fromPeers: sum('bytesFromPeers'),
      hashFailures: sum('hashFailures'),
      originPieces: byPiece.size,
      originPiecesTwice: [...byPiece.values()].filter((c) => c > 1).length,
      goSkewMs: Math.max(...done.map((d) => Number(d['goAt']) - t0)),
      nodeCpu,
      originCpu,
      machineBusy,
      machineCpu: machineSeconds,
    };
  } finally {
    killNow(nodes);
  }
}

async function runDirect(origin: Child, url: string, dataset: string, names: string[], fileBytes: number, runDir: string): Promise<Outcome> {
  const before = await originCounters(origin);
  const clients: Child[] = [];
  try {
    const list = path.join(runDir, 'urls.txt');
    await mkdir(runDir, { recursive: true });
    await writeFile(list, names.map((n) => `${url}${encodeURIComponent(dataset)}/${encodeURIComponent(n)}\n`).join(''));
    const dirs = Array.from({ length: nNodes }, (_, i) => path.join(runDir, `client-${i}`));
    for (const d of dirs) await mkdir(d, { recursive: true });
    const cpu0 = machineCpu();
    const t0 = Date.now();
    for (const d of dirs) clients.push(start(ARIA2C, [...ARIA2_ARGS, '-d', d, '-i', list]));
    const deadline = t0 + timeoutMs;
    const times: number[] = [];
    const codes = await Promise.all(
      clients.map((c, i) =>
        exitWithin(c, Math.max(1, deadline - Date.now()), `aria2c ${i}`).then((code) => {
          times.push((Date.now() - t0) / 1000);
          return code;
        }),
      ),
    );
    const machineBusy = busyShare(cpu0, machineCpu());
    const machineSeconds = machineBusy * ((Date.now() - t0) / 1000) * os.availableParallelism();
    const after = await originCounters(origin);
    const egress = after.bytes - before.bytes;
    const originCpu = after.cpu - before.cpu;
    let error: string | undefined;
    const bad = codes.findIndex((c) => c !== 0);
    if (bad >= 0) error = `aria2c ${bad} exited with ${codes[bad]}: ${clients[bad]!.output().slice(-400)}`;
    for (const d of dirs) {
      for (const n of names) {
        const size = await stat(path.join(d, n)).then((s) => s.size, () => -1);
        if (size !== fileBytes) error ??= `${path.join(path.basename(d), n)} has ${size} bytes, not ${fileBytes}`;
      }
    }
    return { ok: error === undefined, ...(error ? { error } : {}), times: times.sort((a, b) => a - b), egress, originCpu, machineBusy, machineCpu: machineSeconds };
  } finally {
    killNow(clients);
  }
}

/** --trace: each node's state once a second (pieces, MiB from origin / peers / uploaded, CPU s, event-loop use). */
function printTrace(nodes: Child[], t0: number): void {
  const traces = nodes.map((n) => n.lines.filter((l) => l['event'] === 'trace'));
  const steps = Math.max(...traces.map((t) => t.length));
  process.stdout.write(`    trace: per node  pieces / MiB from origin / MiB from peers / MiB uploaded / CPU s in the last second / event-loop use\n`);
  for (let k = 0; k < steps; k++) {
    const cells = traces.map((t) => {
      const e = t[k];
      if (!e) return 'done'.padEnd(26);
      const m = (x: unknown) => (Number(x) / MiB).toFixed(0);
      return `${String(e['have']).padStart(5)} ${m(e['fromOrigins']).padStart(3)} ${m(e['fromPeers']).padStart(3)} ${m(e['uploaded']).padStart(4)} ${Number(e['cpu']).toFixed(2)} ${Number(e['elu']).toFixed(2)}`.padEnd(26);
    });
    const at = traces.find((t) => t[k])?.[k]?.['at'];
    process.stdout.write(`    ${((Number(at) - t0) / 1000).toFixed(1).padStart(5)} s  ${cells.join(' |')}\n`);
  }
}

function killNow(cs: Child[]): void {
  for (const c of cs) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
}

// ---------------------------------------------------------------------------------------------

type Scenario = 'seedbank' | 'direct';
const samples: Record<Scenario, Outcome[]> = { seedbank: [], direct: [] };
let exitCode = 0;
let origin: Child | null = null;
try {
  const bucket = path.join(tmp, 'bucket');
  const datasetName = 'dataset';
  const { names, bytes: size } = await writeDataset(path.join(bucket, datasetName));
  const fileBytes = size / nFiles;

  origin = start(process.execPath, [ORIGIN, bucket, '--rate', String(Math.round(capBytes)), '--timeout', String(Math.ceil(((runs * 2 * timeoutMs) / 1000) * 1.5) + 600)]);
  const ready = await origin.waitFor((o) => o['event'] === 'ready', 30_000, 'origin');
  const url = String(ready['url']);

  const { torrent, metainfo } = await createTorrent(path.join(bucket, datasetName), { webSeeds: [url], creationDate: null, ...(pieceLength > 0 ? { pieceLength } : {}) });
  const torrentFile = path.join(tmp, `${datasetName}.torrent`);
  await writeFile(torrentFile, torrent);
  const aria2 = execFileSync(ARIA2C, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  process.stdout.write(
    `bench/origin: ${mib(size)} in ${nFiles} files of random bytes, hybrid torrent, piece length ${metainfo.pieceLength / 1024} KiB (${metainfo.numPieces} pieces)\n` +
      `  one HTTP origin (its own process), egress cap ${(capBytes / MiB).toFixed(0)} MiB/s for all connections together, ${url}\n` +
      `  seedbank: ${nNodes} nodes (one process each), web seed = the origin, origin policy balanced\n` +
      `  direct:   ${nNodes} × ${aria2} (${ARIA2C} ${ARIA2_ARGS.join(' ')}), every file straight from the origin\n` +
      `  127.0.0.1, ${runs} runs of each, alternating; ${os.availableParallelism()} cores, Node ${process.versions.node}, load average ${os.loadavg()[0]!.toFixed(1)} at the start\n` +
      `  a bucket-only distribution at the cap takes at least ${((nNodes * size) / capBytes).toFixed(1)} s; one copy through the cap ${(size / capBytes).toFixed(1)} s\n\n`,
  );

  for (let r = 0; r < runs; r++) {
    const order: Scenario[] = r % 2 === 0 ? ['seedbank', 'direct'] : ['direct', 'seedbank'];
    for (const sc of order) {
      if (values.only && values.only !== sc) continue;
      const runDir = path.join(tmp, `run-${r + 1}-${sc}`);
      let o: Outcome;
      try {
        o = sc === 'seedbank' ? await runSeedbank(origin, torrentFile, url, runDir) : await runDirect(origin, url, datasetName, names, fileBytes, runDir);
      } catch (e) {
        o = { ok: false, error: (e as Error).message, times: [], egress: NaN };
      } finally {
        await rm(runDir, { recursive: true, force: true });
      }
      samples[sc].push(o);
      const last = o.times.length === nNodes ? o.times[nNodes - 1]! : NaN;
      const pct = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : 'n/a');
      const cpuS = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? `${x.toFixed(1)} s` : 'n/a');
      process.stdout.write(
        `  run ${r + 1}  ${sc.padEnd(8)}  ${o.ok ? '' : 'FAILED  '}all done ${secs(last).padStart(8)}  median ${secs(median(o.times)).padStart(8)}  ` +
          `origin egress ${mib(o.egress).padStart(11)} (${(o.egress / size).toFixed(2)}× the dataset)\n` +
          `                      CPU: machine ${pct(o.machineBusy)} busy (${cpuS(o.machineCpu)}): origin ${cpuS(o.originCpu)}, ` +
          (sc === 'seedbank'
            ? `nodes ${cpuS(o.nodeCpu)}, everything else ${cpuS((o.machineCpu ?? NaN) - (o.originCpu ?? NaN) - (o.nodeCpu ?? NaN))}\n`
            : `aria2c clients and everything else ${cpuS((o.machineCpu ?? NaN) - (o.originCpu ?? NaN))}\n`),
      );
      if (sc === 'seedbank' && o.fromOrigin !== undefined) {
        process.stdout.write(
          `                      nodes got ${mib(o.fromOrigin)} from the origin, ${mib(o.fromPeers!)} from each other; ${o.originPieces} pieces had origin bytes, ` +
            `${o.originPiecesTwice} of them at 2+ nodes; ${o.hashFailures} hash failures; start skew ${o.goSkewMs} ms\n`,
        );
      }
      if (!o.ok) process.stdout.write(`      ${o.error}\n`);
      if (!o.ok) exitCode = 1;
    }
  }

  const summary = (sc: Scenario) => {
    const ok = samples[sc].filter((o) => o.ok);
    return {
      last: median(ok.map((o) => o.times[o.times.length - 1]!)),
      mid: median(ok.map((o) => median(o.times))),
      egress: median(ok.map((o) => o.egress)),
      nodeCpu: median(ok.map((o) => o.nodeCpu ?? NaN)),
      busy: median(ok.map((o) => o.machineBusy ?? NaN)),
      n: ok.length,
    };
  };
  const sb = summary('seedbank');
  const direct = summary('direct');
  const fixed = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
  process.stdout.write(`\nmedians over the successful runs (MiB = 2^20 bytes):\n`);
  for (const [sc, s] of [['seedbank', sb], ['direct', direct]] as const) {
    process.stdout.write(
      `  ${sc.padEnd(8)}  all ${nNodes} done ${secs(s.last).padStart(8)}  median node ${secs(s.mid).padStart(8)}  origin egress ${mib(s.egress).padStart(11)} ` +
        `(${fixed(s.egress / size)}× the dataset)  machine CPU busy ${Number.isFinite(s.busy) ? `${(100 * s.busy).toFixed(0)}%` : 'n/a'}  [${s.n}/${runs} runs]\n`,
    );
  }
  if (Number.isFinite(sb.nodeCpu)) {
    const cores = os.availableParallelism();
    process.stdout.write(`  the seedbank nodes used ${sb.nodeCpu.toFixed(1)} CPU s in all: at least ${(sb.nodeCpu / cores).toFixed(1)} s on ${cores} cores even with nothing else running\n`);
  }
  process.stdout.write(
    `\ntargets (from the issue):\n` +
      `  seedbank origin egress / dataset size = ${fixed(sb.egress / size)}   (target: at most 1.25)\n` +
      `  direct time / seedbank time (all ${nNodes} done) = ${fixed(direct.last / sb.last)}   (target: at least 3)\n`,
  );
} catch (e) {
  process.stderr.write(`bench/origin failed: ${(e as Error).stack ?? String(e)}\n`);
  exitCode = 1;
} finally {
  if (origin) await origin.stop(5000).catch(() => {});
  killAll();
  await rm(tmp, { recursive: true, force: true });
}
process.exit(exitCode);
