/**
 * Long-running child processes for interop tests (a seed that runs while another client
 * downloads): start, wait for a JSON line that says it is ready, stop, always with time limits.
 */
import './home.js';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('package.json not found above the test file');
}

export const PYTHON = '/usr/bin/python3';
export const CLI = path.join(repoRoot(), 'dist', 'src', 'cli', 'main.js');

export interface Background {
  proc: ChildProcess;
  /** JSON lines printed so far. */
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  /** Resolves with the first JSON line for which `pred` holds. */
  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code; SIGKILL after 5 s. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function background(cmd: string, args: string[]): Background {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let err = '';
  let buf = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (s: string) => {
    buf += s;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not JSON: ignore
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  proc.stderr!.on('data', (s: Buffer) => {
    if (err.length < 100_000) err += s.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    lines,
    stderr: () => err,
    waitFor(pred, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${path.basename(args[0] ?? cmd)}: no matching line in ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
        const check = () => {
          const hit = lines.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else if (proc.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`${path.basename(args[0] ?? cmd)} exited ${proc.exitCode}; stderr: ${err.slice(-2000)}`));
          } else waiters.push(check);
        };
        check();
        void exited.then(() => waiters.length && check());
      });
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.stdin!.end();
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/**
 * The `skip` option of a libtorrent interop suite: false when python3-libtorrent imports, else the
 * written reason. In CI a missing libtorrent is a failure, not a skip: call `requireLibtorrentInCi`
 * from the suite's `before`.
 */
export const LIBTORRENT_SKIP: false | string = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'python3-libtorrent is not installed: run .ci/run or apt-get install python3-libtorrent';
  }
})();

export function requireLibtorrentInCi(): void {
  if (LIBTORRENT_SKIP && process.env['CI']) throw new Error('CI must have python3-libtorrent (.ci/run installs it)');
}
