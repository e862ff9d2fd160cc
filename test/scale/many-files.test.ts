/**
 * Scale: 100,000 small files are created into a hybrid torrent and verified with the file-handle
 * limit at 64 and the V8 heap capped at 512 MB, so running out of either fails the test.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';

const FILES = 100_000;
const PER_DIR = 1000;
let tmp: string;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-scale-'));
  for (let d = 0; d < FILES / PER_DIR; d++) {
    const dir = path.join(tmp, 'many', `d${String(d).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let i = 0; i < PER_DIR; i++) {
      const n = d * PER_DIR + i;
      const len = 1 + ((n * 7919) % 4096); // 1 B to 4 KiB
      writes.push(writeFile(path.join(dir, `f${i}.bin`), Buffer.alloc(len, n & 0xff)));
    }
    await Promise.all(writes);
  }
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const limits = { shellPrefix: 'ulimit -n 64', nodeArgs: ['--max-old-space-size=512'], timeoutMs: 300_000 };

describe('100,000 small files', () => {
  it('create and verify stay within 64 file handles and a 512 MB heap', async () => {
    const torrent = path.join(tmp, 'many.torrent');
    const c = await runCli(['create', path.join(tmp, 'many'), '-o', torrent, '--json'], limits);
    assert.equal(c.code, 0, c.stderr);
    const d = JSON.parse(c.stdout) as { files: unknown[]; numPieces: number; pieceLength: number };
    assert.equal(d.files.length, FILES);
    // Hybrid: every file gets its own piece(s); the default piece length must not balloon padding.
    assert.equal(d.pieceLength, 16384);
    assert.equal(d.numPieces, FILES);
    const v = await runCli(['verify', torrent, tmp, '--json'], limits);
    assert.equal(v.code, 0, v.stderr.slice(0, 2000));
    const r = JSON.parse(v.stdout) as { complete: boolean; pieces: { complete: number } };
    assert.equal(r.complete, true);
    assert.equal(r.pieces.complete, FILES);
  });
});
