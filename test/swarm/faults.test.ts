/**
 * Faults with real processes: a download killed with SIGKILL resumes without fetching verified
 * pieces again; a peer that sends a malformed or oversized message loses its connection and
 * nothing else.
 */
import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { encodeHandshake, makeReserved } from '../../src/codec/wire.js';
import { type Background, CLI, background } from '../helpers/procs.js';

const execFile = promisify(execFileCb);
let tmp: string;
let torrent: string;
let info: { infoHashV1: string; numPieces: number; pieceLength: number; totalLength: number };
const SIZE = 24 * 1024 * 1024;
const running: Background[] = [];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-faults-'));
  await mkdir(path.join(tmp, 'src', 'ds'), { recursive: true });
  await writeFile(path.join(tmp, 'src', 'ds', 'big.bin'), randomBytes(SIZE));
  await writeFile(path.join(tmp, 'src', 'ds', 'small.txt'), 'small');
  torrent = path.join(tmp, 'ds.torrent');
  const { stdout } = await execFile(process.execPath, [CLI, 'create', path.join(tmp, 'src', 'ds'), '-o', torrent, '--piece-length', '65536', '--json']);
  info = JSON.parse(stdout) as typeof info;
});
after(async () => {
  await Promise.all(running.map((b) => b.stop('SIGKILL')));
  await rm(tmp, { recursive: true, force: true });
});

function seed(...extra: string[]): Background {
  const b = background(process.execPath, [CLI, 'seed', torrent, path.join(tmp, 'src'), '--json', ...extra]);
  running.push(b);
  return b;
}

async function same(dir: string): Promise<void> {
  for (const rel of ['big.bin', 'small.txt']) {
    assert.ok((await readFile(path.join(tmp, 'src', 'ds', rel))).equals(await readFile(path.join(dir, 'ds', rel))), `${rel} differs`);
  }
}

describe('faults', () => {
  it('a download killed with SIGKILL and restarted fetches only what was not verified', async () => {
    // A slow seed (8 MiB/s) so the download is still running when it is killed.
    const s = seed('--upload-rate', '8MiB');
    const ready = await s.waitFor((l) => l['event'] === 'seeding', 30_000);
    const peer = `127.0.0.1:${String(ready['port'])}`;
    const out = path.join(tmp, 'killed');
    const first = background(process.execPath, [CLI, 'get', torrent, '-o', out, '--peer', peer, '--json']);
    running.push(first);
    // Kill once the resume file exists and has had time to record pieces (saved every 2 s).
    await new Promise((r) => setTimeout(r, 2500));
    first.proc.kill('SIGKILL');
    await first.stop('SIGKILL');
    const { stdout } = await execFile(process.execPath, [CLI, 'get', torrent, '-o', out, '--peer', peer, '--json'], { timeout: 60_000 });
    const r = JSON.parse(stdout) as { complete: boolean; resumedPieces: number; bytesDownloaded: { peers: number } };
    assert.equal(r.complete, true);
    assert.ok(r.resumedPieces > 0, 'some pieces survived the kill');
    assert.ok(r.resumedPieces < info.numPieces, 'the kill came before the end');
    const remaining = (info.numPieces - r.resumedPieces) * info.pieceLength;
    assert.ok(r.bytesDownloaded.peers <= remaining, `fetched ${r.bytesDownloaded.peers} bytes, only ${remaining} were missing`);
    await same(out);
    await s.stop('SIGINT');
  });

  for (const [what, bytes] of [
    ['an oversized message', Buffer.from([0x7f, 0xff, 0xff, 0xff, 5])],
    ['a malformed have message', Buffer.from([0, 0, 0, 3, 4, 0, 0])],
    ['a bitfield of the wrong length', Buffer.from([0, 0, 0, 2, 5, 0xff])],
  ] as const) {
    it(`${what} closes that connection only`, async () => {
      const s = seed();
      const ready = await s.waitFor((l) => l['event'] === 'seeding', 30_000);
      const port = Number(ready['port']);
      const out = path.join(tmp, `alongside-${what.replace(/\W+/g, '-')}`);
      const dl = execFile(process.execPath, [CLI, 'get', torrent, '-o', out, '--peer', `127.0.0.1:${port}`, '--json'], { timeout: 60_000 });
      const closed = await new Promise<boolean>((resolve) => {
        const sock = net.connect({ host: '127.0.0.1', port }, () => {
          sock.write(encodeHandshake({ infoHash: Buffer.from(info.infoHashV1, 'hex'), peerId: randomBytes(20), reserved: makeReserved([]) }));
          sock.write(bytes);
        });
        const timer = setTimeout(() => {
          sock.destroy();
          resolve(false);
        }, 10_000);
        sock.on('data', () => {});
        sock.on('error', () => {});
        sock.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      assert.equal(closed, true, 'the seed closed the bad connection');
      const r = JSON.parse((await dl).stdout) as { complete: boolean };
      assert.equal(r.complete, true, 'the download next to it completed');
      await same(out);
      assert.equal(await s.stop('SIGINT'), 0, 'the seed is still alive and stops cleanly');
    });
  }
});
