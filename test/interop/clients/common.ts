/**
 * Shared bits of the interop tests with other BitTorrent programs (Transmission, aria2,
 * opentracker): finding their binaries, free ports, bounded waits, child processes that are always
 * killed, and a bit-exact comparison of a downloaded tree with the dataset.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, constants } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { type Dataset, deterministicBytes } from '../../helpers/dataset.js';

export const LOOPBACK = '127.0.0.1';

/** The absolute path of an executable found in PATH or the usual system folders, or null. */
export function findBinary(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin', '/bin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** A port free for both TCP and UDP on loopback right now. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, LOOPBACK, () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, LOOPBACK, () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no port free for both TCP and UDP');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown by a `waitUntil` probe to stop waiting at once (a process died, say). */
export class GiveUp extends Error {}

/**
 * Calls `probe` every `everyMs` until it returns something other than undefined, and resolves with
 * it; rejects after `timeoutMs` with `what` and, if given, `detail()` (a log tail, say). Errors
 * thrown by `probe` count as "not yet", except GiveUp, which ends the wait.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  opts: { everyMs?: number; detail?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      last = e;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}${opts.detail ? `\n${opts.detail()}` : ''}`);
    }
    await sleep(opts.everyMs ?? 200);
  }
}

/** A child process whose output (stdout and stderr together) is kept, up to its last 64 KB. */
export interface Child {
  name: string;
  proc: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  output(): string;
  /** Whether it has not exited yet. */
  alive(): boolean;
  /** The last `n` characters of the output, labelled, for error messages. */
  tail(n?: number): string;
  /** Sends `signal`, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** What it printed on stdout alone (up to the last 64 KB). */
  stdout(): string;
  /**
   * Resolves with the exit code; after `timeoutMs`, sends `signal` (SIGKILL 3 s later) and rejects
   * with the output, which then holds whatever the process printed on its way out.
   */
  waitExit(timeoutMs: number, signal?: NodeJS.Signals): Promise<number | null>;
}

const live = new Set<Child>();

const MAX_OUTPUT = 64 * 1024;

export function startChild(name: string, cmd: string, args: string[], opts: { cwd?: string } = {}): Child {
  const proc = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  let out = '';
  let stdout = '';
  const add = (c: Buffer) => {
    out += c.toString('utf8');
    if (out.length > 2 * MAX_OUTPUT) out = out.slice(-MAX_OUTPUT);
  };
  proc.stdout!.on('data', (c: Buffer) => {
    add(c);
    stdout += c.toString('utf8');
    if (stdout.length > 2 * MAX_OUTPUT) stdout = stdout.slice(-MAX_OUTPUT);
  });
  proc.stderr!.on('data', add);
  let spawnError: Error | null = null;
  const exited = new Promise<number | null>((resolve) => {
    proc.once('error', (e) => {
      spawnError = e;
      resolve(null);
    });
    proc.once('exit', (code) => resolve(code));
  });
  const child: Child = {
    name,
    proc,
    exited,
    alive: () => proc.exitCode === null && proc.signalCode === null && !spawnError,
    output: () => (spawnError ? `${out}\n(spawn error: ${(spawnError as Error).message})` : out),
    tail: (n = 3000) => `--- ${name} output (last ${n} characters) ---\n${child.output().slice(-n)}`,
    async stop(signal = 'SIGTERM', graceMs = 3000) {
      if (child.alive()) {
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      live.delete(child);
      return exited;
    },
    stdout: () => stdout,
    async waitExit(timeoutMs, signal = 'SIGKILL') {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
      const r = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (r === 'timeout') {
        const code = await child.stop(signal);
        throw new Error(`${name} did not exit within ${timeoutMs} ms (stopped with ${signal}: exit ${code})\n${child.tail()}`);
      }
      live.delete(child);
      return r;
    },
  };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

/** Kills every child still running (for `after` hooks: nothing outlives the test file). */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop('SIGKILL')));
}

async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else out.push(r);
  }
  return out;
}

export interface TreeCheck {
  /** Transmission 3.00 does not create zero-length files: let them be absent (never non-empty). */
  emptyFilesOptional?: boolean;
  /** Entries of the save path other than the torrent's folder that may be there (e.g. `.seedbank`). */
  allowedTopLevel?: string[];
}

/**
 * What differs between `saveDir/<name>/` and the dataset, byte for byte, against bytes made afresh
 * (not read from the seed's copy): missing, short, different and unexpected files (partial-file
 * suffixes, control files). An empty list means bit-exact.
 */
export async function treeDifferences(saveDir: string, ds: Dataset, check: TreeCheck = {}): Promise<string[]> {
  const problems: string[] = [];
  const expected = new Map(ds.files.map((f) => [f.path, f]));
  let present: string[];
  try {
    present = await walk(saveDir);
  } catch {
    return [`${saveDir} does not exist`];
  }
  const allowed = new Set(check.allowedTopLevel ?? []);
  for (const p of present) {
    const top = p.split('/')[0]!;
    if (allowed.has(top)) continue;
    if (top !== ds.name || !expected.has(p.slice(ds.name.length + 1))) problems.push(`unexpected file ${p}`);
  }
  for (const f of ds.files) {
    const got = await readFile(path.join(saveDir, ds.name, ...f.path.split('/'))).catch(() => null);
    if (got === null) {
      if (!(f.length === 0 && check.emptyFilesOptional)) problems.push(`${f.path} is missing`);
      continue;
    }
    if (got.length !== f.length) problems.push(`${f.path}: ${got.length} bytes, want ${f.length}`);
    else if (!got.equals(deterministicBytes(f.path, f.length))) problems.push(`${f.path}: content differs`);
  }
  return problems;
}
