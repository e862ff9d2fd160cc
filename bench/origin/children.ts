/**
 * Child processes for bench/origin: every one is tracked and killed (SIGKILL) on the way out, on
 * errors and on SIGINT/SIGTERM; every wait on one is bounded. Children speak JSON lines on stdout;
 * other stdout lines and the tail of stderr are kept for error messages.
 */
import '../home.js';
import { type ChildProcess, spawn } from 'node:child_process';

const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  live.clear();
}

/** Kills every child at exit and on SIGINT/SIGTERM (after `cleanup`, which must be synchronous). */
export function killChildrenOnExit(name: string, cleanup: () => void): void {
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      cleanup();
      process.stderr.write(`${name}: ${sig}, children killed\n`);
      process.exit(130);
    });
  }
}

export interface Child {
  readonly proc: ChildProcess;
  /** Every JSON line it printed so far. */
  readonly lines: Record<string, unknown>[];
  /** Resolves with the exit code (null if killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Resolves with the first JSON line that satisfies `pred`; rejects if it exits first or after `ms`. */
  waitFor(pred: (o: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>>;
  /** Writes one JSON line to its stdin. */
  send(o: unknown): void;
  /** The last few KB of stderr and of non-JSON stdout. */
  output(): string;
  /** Closes its stdin (the signal to stop), then kills it if it has not exited within `ms`. */
  stop(ms?: number): Promise<number | null>;
}

export function start(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(proc);
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<() => void> = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  let text = '';
  let partial = '';
  proc.on('error', (e) => (text += `spawn ${cmd}: ${e.message}\n`));
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
    partial += s;
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      const line = partial.slice(0, i).trim();
      partial = partial.slice(i + 1);
      if (!line) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        text = `${text}${line}\n`.slice(-4000);
      }
    }
    wake();
  });
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => {
    text = (text + s).slice(-4000);
  });
  proc.stdin!.on('error', () => {});
  const exited = new Promise<number | null>((resolve) =>
    proc.once('close', (code) => {
      live.delete(proc);
      wake();
      resolve(code);
    }),
  );
  const gone = (): boolean => proc.exitCode !== null || proc.signalCode !== null || !live.has(proc);
  return {
    proc,
    lines,
    exited,
    output: () => text.trim(),
    send(o) {
      if (!proc.stdin!.writableEnded) proc.stdin!.write(`${JSON.stringify(o)}\n`);
    },
    waitFor(pred, ms, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`${what}: no answer within ${ms / 1000} s; output: ${text.trim().slice(-800)}`));
        }, ms);
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          } else if (gone()) {
            clearTimeout(timer);
            reject(new Error(`${what}: exited (${proc.exitCode ?? proc.signalCode}) without answering; output: ${text.trim().slice(-800)}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop(ms = 10_000) {
      proc.stdin!.end();
      const t = setTimeout(() => proc.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Resolves with the exit code, or kills the child and rejects after `ms`. */
export async function exitWithin(c: Child, ms: number, what: string): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      c.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          c.proc.kill('SIGKILL');
          reject(new Error(`${what}: not finished within ${ms / 1000} s; output: ${c.output().slice(-800)}`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
