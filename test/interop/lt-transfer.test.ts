/**
 * Transfers with libtorrent 2.0.8 (python3-libtorrent), both directions, bit-exact, for v1, v2 and
 * hybrid torrents of a multi-file dataset whose hybrid form has pad files; and libtorrent starting
 * from a magnet link with only seedbank's address (BEP 9 metadata from seedbank).
 */
import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type Dataset, makeInteropDataset } from '../helpers/dataset.js';
import { type Background, CLI, PYTHON, background, repoRoot, LIBTORRENT_SKIP, requireLibtorrentInCi } from '../helpers/procs.js';

const execFile = promisify(execFileCb);
const PEER = path.join(repoRoot(), 'test', 'interop', 'lt_peer.py');
const PIECE = 16384;

const SKIP = LIBTORRENT_SKIP;

let tmp: string;
let ds: Dataset;
const running: Background[] = [];

before(async () => {
  requireLibtorrentInCi();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-lt-transfer-'));
  ds = await makeInteropDataset(path.join(tmp, 'src'), PIECE);
});
after(async () => {
  await Promise.all(running.map((b) => b.stop('SIGKILL')));
  await rm(tmp, { recursive: true, force: true });
});

async function sameTree(dir: string): Promise<void> {
  for (const f of ds.files) {
    const want = await readFile(path.join(ds.root, f.path));
    const got = await readFile(path.join(dir, ds.name, f.path)).catch(() => null);
    assert.ok(got && want.equals(got), `${f.path} differs or is missing in ${dir}`);
  }
}

async function createTorrent(version: string): Promise<{ file: string; magnet: string; padFiles: number }> {
  const file = path.join(tmp, `${version}.torrent`);
  const { stdout } = await execFile(process.execPath, [CLI, 'create', ds.root, '-o', file, `--${version}`, '--piece-length', String(PIECE), '--json']);
  const d = JSON.parse(stdout) as { magnet: string; padFiles: number };
  return { file, magnet: d.magnet, padFiles: d.padFiles };
}

function track(b: Background): Background {
  running.push(b);
  return b;
}

describe('libtorrent interop: transfers', { skip: SKIP }, () => {
  for (const version of ['v1', 'v2', 'hybrid']) {
    it(`${version}: seedbank downloads from a libtorrent seed`, async () => {
      const t = await createTorrent(version);
      if (version === 'hybrid') assert.ok(t.padFiles > 0, 'the hybrid dataset has pad files');
      const lt = track(background(PYTHON, [PEER, 'seed', t.file, path.join(tmp, 'src'), '--timeout', '90']));
      const ready = await lt.waitFor((l) => l['event'] === 'ready', 30_000);
      const out = path.join(tmp, `sb-from-lt-${version}`);
      const { stdout } = await execFile(process.execPath, [CLI, 'get', t.file, '-o', out, '--peer', `127.0.0.1:${String(ready['port'])}`, '--json'], { timeout: 60_000 });
      const r = JSON.parse(stdout) as { complete: boolean; bytesDownloaded: { peers: number }; hashFailures: number };
      assert.equal(r.complete, true);
      assert.equal(r.hashFailures, 0);
      assert.ok(r.bytesDownloaded.peers >= ds.totalLength);
      await sameTree(out);
      await lt.stop();
    });

    it(`${version}: libtorrent downloads from a seedbank seed`, async () => {
      const t = await createTorrent(version);
      const sb = track(background(process.execPath, [CLI, 'seed', t.file, path.join(tmp, 'src'), '--json']));
      const ready = await sb.waitFor((l) => l['event'] === 'seeding', 30_000);
      const out = path.join(tmp, `lt-from-sb-${version}`);
      const { stdout } = await execFile(PYTHON, [PEER, 'download', t.file, out, '--peer', `127.0.0.1:${String(ready['port'])}`, '--timeout', '45'], { timeout: 60_000 });
      const r = JSON.parse(stdout) as { ok: boolean; progress: number };
      assert.equal(r.ok, true, `libtorrent stopped at ${r.progress}`);
      await sameTree(out);
      assert.equal(await sb.stop('SIGINT'), 0, 'seed stops cleanly on SIGINT');
      const stopped = sb.lines.find((l) => l['event'] === 'stopped');
      assert.ok(stopped && Number(stopped['bytesUploaded']) >= ds.totalLength, 'the seed reports what it uploaded');
    });
  }

  for (const version of ['v1', 'hybrid', 'v2']) {
    it(`${version}: seedbank starts from a magnet link with only libtorrent's address (BEP 9${version === 'v2' ? ', BEP 52 hash requests' : ''})`, async () => {
      const t = await createTorrent(version);
      const lt = track(background(PYTHON, [PEER, 'seed', t.file, path.join(tmp, 'src'), '--timeout', '90']));
      const ready = await lt.waitFor((l) => l['event'] === 'ready', 30_000);
      const out = path.join(tmp, `sb-magnet-${version}`);
      const magnet = `${t.magnet}&x.pe=127.0.0.1:${String(ready['port'])}`;
      const { stdout } = await execFile(process.execPath, [CLI, 'get', magnet, '-o', out, '--json'], { timeout: 60_000 });
      const r = JSON.parse(stdout) as { complete: boolean; hashFailures: number };
      assert.equal(r.complete, true);
      assert.equal(r.hashFailures, 0);
      await sameTree(out);
      await lt.stop();
    });

    it(`${version}: libtorrent starts from a magnet link with only seedbank's address`, async () => {
      const t = await createTorrent(version);
      const sb = track(background(process.execPath, [CLI, 'seed', t.file, path.join(tmp, 'src'), '--json']));
      const ready = await sb.waitFor((l) => l['event'] === 'seeding', 30_000);
      const out = path.join(tmp, `lt-magnet-${version}`);
      const { stdout } = await execFile(PYTHON, [PEER, 'magnet', t.magnet, out, '--peer', `127.0.0.1:${String(ready['port'])}`, '--timeout', '45'], { timeout: 60_000 });
      const r = JSON.parse(stdout) as { ok: boolean; progress: number };
      assert.equal(r.ok, true, `libtorrent stopped at ${r.progress}`);
      await sameTree(out);
      await sb.stop('SIGINT');
    });
  }
});
