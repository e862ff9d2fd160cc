/**
 * `runTracker` (the future `seedbank tracker`) in a child process: it prints one line with its
 * announce URLs, serves HTTP and UDP on one port number, and exits 0 on SIGTERM and on SIGINT.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TrackerClient } from '../../src/discovery/tracker-client.js';
import { LOOPBACK, hash20, params } from './helpers.js';

const COMMAND = fileURLToPath(new URL('../../src/cli/tracker-command.js', import.meta.url));
const children: ChildProcess[] = [];

/** Starts runTracker with `flags` in a child; resolves with the child and its first stdout line. */
function start(flags: Record<string, unknown>): Promise<{ child: ChildProcess; line: string; exit: Promise<number | null> }> {
  const script = `import { runTracker } from ${JSON.stringify(COMMAND)};
process.exitCode = await runTracker(${JSON.stringify(flags)});`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no output in 10 s; stderr: ${err}`)), 10_000);
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ child, line: out.slice(0, nl), exit });
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before printing; stderr: ${err}`));
    });
  });
}

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('runTracker', () => {
  it('prints its URLs as one JSON line, serves HTTP and UDP on one port, and exits 0 on SIGTERM', async () => {
    const { child, line, exit } = await start({ port: '0', host: LOOPBACK, json: true });
    const info = JSON.parse(line) as { http: string; udp: string; port: number };
    assert.equal(info.http, `http://${LOOPBACK}:${info.port}/announce`);
    assert.equal(info.udp, `udp://${LOOPBACK}:${info.port}/announce`);
    const client = new TrackerClient({ baseTimeoutMs: 200, bindAddress: LOOPBACK });
    try {
      const ih = hash20('cli');
      await client.announce(info.http, params(ih, 'a', 6001));
      const r = await client.announce(info.udp, params(ih, 'b', 6002), { timeoutMs: 3000 });
      assert.deepEqual(r.peers, [{ host: LOOPBACK, port: 6001 }]);
    } finally {
      await client.close();
    }
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
  });

  it('prints a plain line without --json and exits 0 on SIGINT', async () => {
    const { child, line, exit } = await start({ port: '0', host: LOOPBACK });
    assert.match(line, /^tracker listening on 127\.0\.0\.1 port \d+: http:\/\/127\.0\.0\.1:\d+\/announce udp:\/\/127\.0\.0\.1:\d+\/announce/);
    child.kill('SIGINT');
    assert.equal(await exit, 0);
  });

  it('refuses a bad port with a UsageError', async () => {
    const { runTracker } = await import('../../src/cli/tracker-command.js');
    await assert.rejects(runTracker({ port: '70000' }), (e: unknown) => (e as Error).name === 'UsageError' && /port/.test((e as Error).message));
  });
});
