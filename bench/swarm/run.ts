/**
 * bench/swarm: distributing one dataset from one capped HTTP origin to N hosts on an emulated
 * network, with seedbank, with libtorrent, and with every host downloading straight from the
 * origin over HTTP; each against the fluid-model lower bound T* (fluid.ts). A benchmark, not a
 * test: it prints what it measured and asserts nothing about time.
 *
 * usage (as root): node dist/bench/swarm/run.js [--nodes 16] [--size-mb 64] [--up-mbit 20]
 *          [--origin-mbit (same as --up-mbit)] [--down-mbit 0 (no cap)] [--hetero] [--piece-kb 256] [--files 8]
 *          [--systems seedbank,libtorrent,http] [--timeout 300] [--sweep 4,8,16] [--svg FILE]
 *          [--json FILE]
 *
 * - The network (netns.ts): one namespace per host (h0 the origin host, h1..hN the nodes) on a
 *   bridge in a switch namespace, each host's upload capped by tc tbf (--up-mbit; the origin host
 *   --origin-mbit; with --hetero the upper half of the nodes get half of --up-mbit), optionally
 *   its download too (--down-mbit). Every process runs in a namespace (`ip netns exec`); nothing
 *   listens in the root namespace and no packet leaves the bridge.
 * - The origin host runs seedbank's static HTTP origin and seedbank's tracker (sb_origin.js),
 *   fresh for each system. The torrent (hybrid, --piece-kb pieces) names both: the origin as its
 *   web seed (url-list, BEP 19), the tracker as its announce URL.
 * - Each system starts N node processes (sb_node.js / lt_node.py / http_node.js), waits until all
 *   have loaded, then tells them all "go" at one instant T0; a node's completion time is when it
 *   had every byte, verified, minus T0. Nodes keep seeding until the last one finishes.
 * - Recorded per system: every node's completion time and upload (payload, as the client counts
 *   it), the origin's egress (HTTP body bytes, as a bucket bills them) and the origin host's wire
 *   bytes (eth0 tx, headers and tracker answers included).
 * - Cleanup: every child is tracked and killed; the namespaces (and anything still inside them)
 *   are removed on success, error, SIGINT and SIGTERM, and the namespaces of an earlier run of
 *   this scheme whose process is gone are removed at start; the temporary folder is removed.
 */
import '../home.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTorrent } from '../../src/index.js';
import { fluidBound } from '../../src/sim/fluid.js';
import { type Host, type Network, createNetwork, removeLeftovers, removeNetwork, wireBytes } from './netns.js';
import { renderPlot } from './plot.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const PYTHON = '/usr/bin/python3';
const SCRIPTS = {
  origin: path.join(repo, 'dist/bench/swarm/sb_origin.js'),
  seedbank: path.join(repo, 'dist/bench/swarm/sb_node.js'),
  libtorrent: path.join(repo, 'bench/swarm/lt_node.py'),
  http: path.join(repo, 'dist/bench/swarm/http_node.js'),
};
const ORIGIN_PORT = 8000;
const TRACKER_PORT = 6969;

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '16' },
    'size-mb': { type: 'string', default: '64' },
    'up-mbit': { type: 'string', default: '20' },
    // Equal caps by default: the origin host's uplink is a host like the others (the issue's
    // "N = 16 with equal caps"); --origin-mbit 80 is the fast-bucket scenario.
    'origin-mbit': { type: 'string' },
    'down-mbit': { type: 'string', default: '0' },
    hetero: { type: 'boolean', default: false },
    'piece-kb': { type: 'string', default: '256' },
    files: { type: 'string', default: '8' },
    systems: { type: 'string', default: 'seedbank,libtorrent,http' },
    timeout: { type: 'string', default: '300' },
    sweep: { type: 'string' },
    svg: { type: 'string' },
    json: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});

type System = 'seedbank' | 'libtorrent' | 'http';
const ALL_SYSTEMS: System[] = ['seedbank', 'libtorrent', 'http'];
const systems = values.systems.split(',').map((s) => s.trim()) as System[];
for (const s of systems) if (!ALL_SYSTEMS.includes(s)) throw new Error(`--systems: unknown system ${s} (known: ${ALL_SYSTEMS.join(', ')})`);
const sweep = (values.sweep ?? values.nodes).split(',').map(Number);
for (const n of sweep) if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`node count ${n}: must be 1-200`);
const maxNodes = Math.max(...sweep);
const sizeMb = Number(values['size-mb']);
const nFiles = Number(values.files);
const mbit = (s: string): number => Number(s) * 1e6;
const upBits = mbit(values['up-mbit']);
const originMbit = values['origin-mbit'] ?? values['up-mbit'];
const originBits = mbit(originMbit);
const downBits = mbit(values['down-mbit']);
const pieceLength = Number(values['piece-kb']) * 1024;
const timeoutS = Number(values.timeout);
const cpuProfDir = values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null;
/** The upload cap of node i (1-based) among `n`: with --hetero the upper half gets half. */
const nodeUpBits = (i: number, n: number): number => (values.hetero && i > Math.floor(n / 2) ? upBits / 2 : upBits);

// ---------------------------------------------------------------------------------------------
// Cleanup: children, namespaces, the temporary folder; synchronous so that 'exit' can run it.
// ---------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
let net: Network | null = null;
let tmp: string | null = null;

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  if (net) removeNetwork(net.prefix);
  net = null;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = null;
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    cleanup();
    process.stderr.write(`bench/swarm: ${sig}: children killed, namespaces and files removed\n`);
    process.exit(130);
  });
}

interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  waitFor(pred: (o: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  stderr(): string;
}

/** Starts `argv` inside namespace `ns`; JSON lines on its stdout are collected. */
function startIn(ns: string, argv: string[]): Child {
  const proc = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
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
        err = `${err}(stdout) ${line}\n`.slice(-4000);
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4000)));
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
    lines,
    exited,
    stderr: () => err,
    waitFor(pred, ms, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s; stderr: ${err.trim().slice(-600)}`)), ms);
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else if (proc.exitCode !== null || proc.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`${what}: exited (${proc.exitCode ?? proc.signalCode}); stderr: ${err.trim().slice(-600)}`));
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Closes its stdin (the signal to report and exit) and waits up to `ms` for that, then kills it. */
async function finish(c: Child, ms: number): Promise<Record<string, unknown> | null> {
  c.proc.stdin!.end();
  const final = await c.waitFor((o) => o['event'] === 'final', ms, 'final report').catch(() => null);
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 3000);
  await c.exited;
  clearTimeout(t);
  return final;
}

// ---------------------------------------------------------------------------------------------
// Data and torrent
// ---------------------------------------------------------------------------------------------

async function writeData(dir: string): Promise<number> {
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
  return per * nFiles;
}

// ---------------------------------------------------------------------------------------------
// One system, one swarm size
// ---------------------------------------------------------------------------------------------

interface Run {
  system: System;
  nodes: number;
  /** Seconds from T0, per node (NaN: did not finish). */
  times: number[];
  uploads: number[];
  originBytes: number;
  originWireBytes: number;
  /** CPU seconds (user + system) of all node processes together, as they report it. */
  nodeCpuSeconds: number;
  errors: string[];
  /** Per-node final reports (timelines), for investigating. */
  finals: Array<Record<string, unknown> | null>;
}

interface Setup {
  torrentFile: string;
  originRoot: string;
  urlList: string;
  name: string;
  fileBytes: number;
}

async function runSystem(system: System, hosts: Host[], setup: Setup): Promise<Run> {
  const [originHost, ...nodeHosts] = hosts as [Host, ...Host[]];
  const errors: string[] = [];
  const origin = startIn(originHost.ns, [process.execPath, SCRIPTS.origin, setup.originRoot, originHost.ip, String(ORIGIN_PORT), String(TRACKER_PORT)]);
  const nodes: Child[] = [];
  const dirs: string[] = [];
  // Direct downloads need N copies through the origin's uplink: at equal caps that is far longer
  // than any swarm, so their wait grows with it (--timeout is the floor).
  const waitS = system === 'http' ? Math.max(timeoutS, Math.ceil((1.5 * nodeHosts.length * setup.fileBytes) / (originBits / 8)) + 60) : timeoutS;
  try {
    await origin.waitFor((o) => o['event'] === 'ready', 30_000, 'origin');
    for (const h of nodeHosts) {
      const dir = path.join(tmp!, 'nodes', `${system}-h${h.index}`);
      await mkdir(dir, { recursive: true });
      dirs.push(dir);
      const timeout = String(waitS + 120);
      const argv =
        system === 'seedbank'
          ? [process.execPath, ...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `h${h.index}.cpuprofile`] : []), SCRIPTS.seedbank, setup.torrentFile, dir, '--timeout', timeout]
          : system === 'libtorrent'
            ? [PYTHON, SCRIPTS.libtorrent, setup.torrentFile, dir, '--ip', h.ip, '--timeout', timeout]
            : [process.execPath, SCRIPTS.http, setup.urlList, dir, '--timeout', timeout];
      nodes.push(startIn(h.ns, argv));
    }
    await Promise.all(nodes.map((c, i) => c.waitFor((o) => o['event'] === 'ready', 60_000, `${system} node ${i + 1}`)));
    const wire0 = wireBytes(originHost).tx;
    const t0 = Date.now();
    for (const c of nodes) c.proc.stdin!.write('go\n');
    const progress = setInterval(() => {
      const done = nodes.filter((c) => c.lines.some((o) => o['event'] === 'done')).length;
      process.stdout.write(`    ${system}: ${((Date.now() - t0) / 1000).toFixed(0)} s, ${done}/${nodes.length} nodes done\n`);
    }, 10_000);
    const times = await Promise.all(
      nodes.map((c, i) =>
        c.waitFor((o) => o['event'] === 'done' || o['event'] === 'error', waitS * 1000, `${system} node ${i + 1}`).then(
          (o) => {
            if (o['event'] === 'done') return (Number(o['at']) - t0) / 1000;
            errors.push(`node ${i + 1}: ${String(o['message'])}`);
            return NaN;
          },
          (e: Error) => {
            errors.push(e.message);
            return NaN;
          },
        ),
      ),
    );
    clearInterval(progress);
    const originWireBytes = wireBytes(originHost).tx - wire0;
    const finals = await Promise.all(nodes.map((c) => finish(c, 15_000)));
    const originFinal = await finish(origin, 10_000);
    for (const f of finals) for (const e of (f?.['errors'] as string[] | undefined) ?? []) if (errors.length < 20) errors.push(e);
    return {
      system,
      nodes: nodeHosts.length,
      times,
      uploads: finals.map((f) => Number(f?.['bytesUploaded'] ?? NaN)),
      originBytes: Number(originFinal?.['bytesSent'] ?? NaN),
      originWireBytes,
      nodeCpuSeconds: finals.reduce((a, f) => a + Number(f?.['cpuSeconds'] ?? NaN), 0),
      errors,
      finals,
    };
  } finally {
    for (const c of [...nodes, origin]) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await Promise.all([...nodes, origin].map((c) => c.exited));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

// ---------------------------------------------------------------------------------------------

const median = (xs: number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const MiB = 1024 * 1024;

if (process.getuid?.() !== 0) {
  process.stderr.write('bench/swarm needs root (it creates network namespaces)\n');
  process.exit(2);
}
const stale = removeLeftovers();
if (stale.length) process.stdout.write(`bench/swarm: removed the namespaces of earlier runs that died: ${stale.join(', ')}\n`);

let exitCode = 0;
try {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-bench-swarm-'));
  const originRoot = path.join(tmp, 'origin');
  const name = 'dataset';
  const fileBytes = await writeData(path.join(originRoot, name));
  const originUrl = `http://10.203.0.1:${ORIGIN_PORT}/`;
  const { torrent, metainfo } = await createTorrent(path.join(originRoot, name), {
    pieceLength,
    webSeeds: [originUrl],
    trackers: [`http://10.203.0.1:${TRACKER_PORT}/announce`],
    creationDate: null,
  });
  const torrentFile = path.join(tmp, `${name}.torrent`);
  await writeFile(torrentFile, torrent);
  const urlList = path.join(tmp, 'urls.txt');
  const files = metainfo.files.filter((f) => !f.pad);
  await writeFile(
    urlList,
    files.map((f) => `${originUrl}${[name, ...f.path].map(encodeURIComponent).join('/')}\n  out=${[name, ...f.path].join('/')}\n`).join(''),
  );
  const setup: Setup = { torrentFile, originRoot, urlList, name, fileBytes };

  net = createNetwork([
    { upBits: originBits, downBits: 0 },
    ...Array.from({ length: maxNodes }, (_, k) => ({ upBits: nodeUpBits(k + 1, maxNodes), downBits })),
  ]);
  process.stdout.write(
    `bench/swarm: ${fmt(fileBytes / MiB, 0)} MiB hybrid torrent, ${files.length} files, ${metainfo.pieceLength / 1024} KiB pieces (${metainfo.numPieces}); ` +
      `origin upload ${originMbit} Mbit/s, node upload ${values['up-mbit']} Mbit/s${values.hetero ? ' (upper half of the nodes: half of that)' : ''}, ` +
      `node download ${downBits > 0 ? `${values['down-mbit']} Mbit/s` : 'uncapped'}; nodes ${sweep.join(', ')}; systems ${systems.join(', ')}; ` +
      `${os.availableParallelism()} cores, Node ${process.versions.node}; namespaces ${net.prefix}*\n`,
  );

  const results: Array<{ n: number; tStar: ReturnType<typeof fluidBound>; runs: Run[] }> = [];
  for (const n of sweep) {
    // With --sweep the topology is built once for the largest N; a smaller swarm uses its first n
    // nodes (and their caps are recomputed as if the swarm had n nodes, for --hetero).
    const hosts = [net.hosts[0]!, ...net.hosts.slice(1, n + 1)];
    if (values.hetero && n !== maxNodes) {
      for (const h of hosts.slice(1)) {
        const want = nodeUpBits(h.index, n);
        if (want !== h.upBits) throw new Error('--hetero with --sweep: run each N separately');
      }
    }
    const tStar = fluidBound({
      fileBytes,
      serverUp: originBits / 8,
      clientUp: hosts.slice(1).map((h) => h.upBits / 8),
      clientDown: hosts.slice(1).map((h) => h.downBits / 8),
    });
    process.stdout.write(`\n  N = ${n}: T* = ${fmt(tStar.seconds, 2)} s (${tStar.binding}; F/u_s ${fmt(tStar.terms.server, 2)} s, N·F/(u_s+Σu_i) ${fmt(tStar.terms.aggregate, 2)} s)\n`);
    const runs: Run[] = [];
    for (const sys of systems) {
      const r = await runSystem(sys, hosts, setup);
      runs.push(r);
      const last = Math.max(...r.times);
      process.stdout.write(
        `    ${sys}: last node ${fmt(last, 2)} s (${fmt(last / tStar.seconds, 2)} × T*), median ${fmt(median(r.times), 2)} s, origin served ${fmt(r.originBytes / fileBytes, 2)} × F` +
          `${r.errors.length ? `; ${r.errors.length} errors: ${r.errors.slice(0, 3).join(' | ')}` : ''}\n`,
      );
      if (r.times.some((t) => !Number.isFinite(t))) exitCode = 1;
    }
    results.push({ n, tStar, runs });
  }

  process.stdout.write(`\nresults (F = ${fmt(fileBytes / MiB, 0)} MiB; times in s from the common start; uploads in MiB of payload):\n`);
  process.stdout.write(`  ${'N'.padStart(3)}  ${'system'.padEnd(10)} ${'last'.padStart(7)} ${'÷ T*'.padStart(6)} ${'median'.padStart(7)} ${'first'.padStart(7)}  ${'origin/F'.padStart(8)} ${'wire/F'.padStart(7)}  ${'node CPU s'.padStart(10)}  uploads min/median/max\n`);
  for (const { n, tStar, runs } of results) {
    process.stdout.write(`  ${String(n).padStart(3)}  ${'T*'.padEnd(10)} ${fmt(tStar.seconds, 2).padStart(7)} ${'1.00'.padStart(6)}\n`);
    for (const r of runs) {
      const last = Math.max(...r.times);
      const ups = r.uploads.map((u) => u / MiB);
      process.stdout.write(
        `  ${String(n).padStart(3)}  ${r.system.padEnd(10)} ${fmt(last, 2).padStart(7)} ${fmt(last / tStar.seconds, 2).padStart(6)} ${fmt(median(r.times), 2).padStart(7)} ${fmt(Math.min(...r.times), 2).padStart(7)}  ` +
          `${fmt(r.originBytes / fileBytes, 2).padStart(8)} ${fmt(r.originWireBytes / fileBytes, 2).padStart(7)}  ${fmt(r.nodeCpuSeconds, 0).padStart(10)}  ${fmt(Math.min(...ups), 0)}/${fmt(median(ups), 0)}/${fmt(Math.max(...ups), 0)}\n`,
      );
    }
  }
  if (values.svg) {
    const colors: Record<System, string> = { seedbank: '#1b7f3b', libtorrent: '#1f5fbf', http: '#c0392b' };
    const svg = renderPlot(
      [
        ...systems.map((s) => ({ name: s, color: colors[s], points: results.map(({ n, runs }): [number, number] => [n, Math.max(...runs.find((r) => r.system === s)!.times)]) })),
        { name: 'fluid bound T*', color: '#555', dashed: true, points: results.map(({ n, tStar }): [number, number] => [n, tStar.seconds]) },
      ],
      { title: `Last node done, ${fmt(fileBytes / MiB, 0)} MiB, origin ${originMbit} Mbit/s, nodes ${values['up-mbit']} Mbit/s up`, xLabel: 'nodes (N)', yLabel: 'seconds' },
    );
    await writeFile(values.svg, svg);
    process.stdout.write(`plot: ${values.svg}\n`);
  }
  if (values.json) {
    await writeFile(values.json, `${JSON.stringify({ args: values, fileBytes, results }, null, 1)}\n`);
    process.stdout.write(`raw results: ${values.json}\n`);
  }
} catch (e) {
  process.stderr.write(`bench/swarm failed: ${(e as Error).stack ?? String(e)}\n`);
  exitCode = 1;
} finally {
  cleanup();
}
process.exit(exitCode);
