/** Runs the built CLI in a child process, as a user would, and captures what it prints. */
import './home.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { nodeArgs?: string[]; timeoutMs?: number; shellPrefix?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const argv = [...(opts.nodeArgs ?? []), CLI, ...args];
    const [cmd, cmdArgs] = opts.shellPrefix
      ? ['/bin/bash', ['-c', `${opts.shellPrefix} && exec "$0" "$@"`, process.execPath, ...argv]]
      : [process.execPath, argv];
    execFile(cmd as string, cmdArgs as string[], { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 256 << 20, env: { ...process.env, FORCE_COLOR: '0', ...opts.env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 99) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Asserts nothing itself: returns whether stderr is exactly one line, as every user-facing error must be. */
export function isOneLine(s: string): boolean {
  return s.trim().length > 0 && s.trim().split('\n').length === 1;
}
