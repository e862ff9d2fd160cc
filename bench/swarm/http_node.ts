/**
 * A direct-HTTP node of bench/swarm, run inside its host's namespace: the baseline where every
 * node downloads every file straight from the origin. It prints {"event":"ready"}, waits for a
 * line "go" on its standard input, then runs aria2c over the list of file URLs (4 files at a time,
 * one connection each) and prints {"event":"done","at":<epoch ms>} when aria2c exits 0 (or
 * {"event":"error"}). It exits when its standard input closes, killing aria2c if it still runs.
 *
 * usage: node dist/bench/swarm/http_node.js <url-list-file> <out-dir> [--timeout 900]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { timeout: { type: 'string', default: '900' } } });
const [listFile, outDir] = positionals;
const say = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

let aria: ChildProcess | null = null;
const stop = (why: string): void => {
  if (aria && aria.exitCode === null && aria.signalCode === null) aria.kill('SIGKILL');
  say({ event: 'final', why, bytesUploaded: 0 });
  process.exit(0);
};
setTimeout(() => stop('timeout'), Number(values.timeout) * 1000).unref();
process.once('SIGTERM', () => stop('SIGTERM'));

const lines = createInterface({ input: process.stdin });
lines.on('close', () => stop('stdin closed'));
lines.on('line', (line) => {
  if (line.trim() !== 'go' || aria) return;
  aria = spawn(
    'aria2c',
    [
      '--input-file', listFile!, '--dir', outDir!, '--max-concurrent-downloads=4', '--split=1', '--max-connection-per-server=1',
      '--file-allocation=none', '--allow-overwrite=true', '--auto-file-renaming=false', '--console-log-level=error',
      '--summary-interval=0', '--download-result=hide', '--enable-dht=false', '--check-certificate=false',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  aria.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-2000)));
  aria.once('close', (code) => {
    if (code === 0) say({ event: 'done', at: Date.now() });
    else say({ event: 'error', message: `aria2c exited ${code}: ${err.trim()}` });
  });
});
say({ event: 'ready' });
