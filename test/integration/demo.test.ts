/**
 * `seedbank demo`, the README's main-job command, end to end at a small size: it must finish,
 * report what the origin served, and leave nothing behind. Also the origin flags' usage errors.
 */
import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { CLI } from '../helpers/procs.js';

const execFile = promisify(execFileCb);

async function demoDirs(): Promise<string[]> {
  return (await readdir(os.tmpdir())).filter((d) => d.startsWith('seedbank-demo-'));
}

it('seedbank demo distributes a sample dataset to several nodes and reports origin egress', async () => {
  const before = new Set(await demoDirs());
  const { stdout } = await execFile(process.execPath, [CLI, 'demo', '--size-mb', '24', '--nodes', '3', '--origin-rate', '48'], { timeout: 120_000 });
  assert.match(stdout, /all 3 nodes have every piece/);
  const m = /origin egress: .* \((\d+\.\d+) copies of the dataset\) instead of .* \(3 copies\)/.exec(stdout);
  assert.ok(m, stdout);
  const copies = Number(m[1]);
  // The point of the demo: the origin pays for about one copy, not one per node.
  assert.ok(copies >= 1 && copies < 2, `origin served ${copies} copies`);
  assert.match(stdout, /demo finished/);
  const left = (await demoDirs()).filter((d) => !before.has(d));
  assert.deepEqual(left, [], 'the demo removed its temporary folder');
});

it('seedbank demo rejects a bad size with a one-line error and exit 2', async () => {
  await assert.rejects(execFile(process.execPath, [CLI, 'demo', '--nodes', '0']), (e: { code: number; stderr: string }) => {
    assert.equal(e.code, 2);
    assert.match(e.stderr, /--nodes must be/);
    assert.equal(e.stderr.trim().split('\n').length, 1);
    return true;
  });
});

it('origin flags: bad values are one-line usage errors with exit 2', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const path = await import('node:path');
  const { runCli, isOneLine } = await import('../helpers/cli.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'seedbank-originflags-'));
  try {
    await writeFile(path.join(dir, 'f.bin'), 'hello');
    const torrent = path.join(dir, 'f.torrent');
    const c = await runCli(['create', path.join(dir, 'f.bin'), '-o', torrent]);
    assert.equal(c.code, 0, c.stderr);
    const out = path.join(dir, 'out');
    const cases: Array<[string[], RegExp]> = [
      [['get', torrent, '-o', out, '--origin-policy', 'cheapest'], /--origin-policy "cheapest" is not one of fallback, balanced, origin-first/],
      [['get', torrent, '-o', out, '--webseed', 'ftp://example.invalid/x'], /must be an http\(s\) URL/],
      [['get', torrent, '-o', out, '--webseed', 'not a url'], /is not a URL/],
      [['get', torrent, '-o', out, '--origin-connections', '0'], /--origin-connections/],
      [['get', torrent, '-o', out, '--origin-rate', 'fast'], /--origin-rate/],
      [['seed', torrent, dir, '--webseed', 'http://127.0.0.1:1/'], /only makes sense with --from-origin/],
      [['seed', torrent, out, '--from-origin'], /needs an origin/],
    ];
    for (const [args, want] of cases) {
      const r = await runCli(args, { timeoutMs: 30_000 });
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.ok(isOneLine(r.stderr), r.stderr);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
