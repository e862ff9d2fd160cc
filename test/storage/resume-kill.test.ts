/**
 * A download killed with SIGKILL at random moments, restarted each time: after every kill,
 * loadResume must return only pieces whose bytes are right, and every piece the resume file
 * recorded (a recorded piece was durable before it was recorded).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { type Metainfo } from '../../src/codec/metainfo.js';
import { createTorrent } from '../../src/content/create.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { checkResume, readResume } from '../../src/storage/resume.js';
import { pieceSize } from '../../src/storage/segments.js';
import { deterministicBytes } from '../helpers/dataset.js';
import { P, prng } from './fixtures.js';
import { CHILD_FLAG } from './kill-child.js';

const CHILD = fileURLToPath(new URL('./kill-child.js', import.meta.url));
let tmp: string;
let src: string;
let torrentFile: string;
let t: Metainfo;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-kill-'));
  src = path.join(tmp, 'src');
  const root = path.join(src, 'kill');
  await mkdir(path.join(root, 'sub'), { recursive: true });
  // Odd sizes, so that v1 pieces straddle files and a torn piece can span two of them.
  const rand = prng(11);
  for (let i = 0; i < 12; i++) {
    const len = 1000 + Math.floor(rand() * 12 * P);
    await writeFile(path.join(root, i % 2 ? 'sub' : '.', `f${i}.bin`), deterministicBytes(`kill-${i}`, len));
  }
  const created = await createTorrent(root, { pieceLength: P, version: 'v1', threads: 2 });
  t = created.metainfo;
  torrentFile = path.join(tmp, 'kill.torrent');
  await writeFile(torrentFile, created.torrent);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/**
 * Runs the child until it has recorded `killAfter` more pieces, then SIGKILLs it `delayMs` later
 * (it goes on meanwhile); runs it to the end when `killAfter` is null.
 */
function runChild(dest: string, seed: number, killAfter: number | null, delayMs: number): Promise<{ killed: boolean; done: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, CHILD_FLAG, torrentFile, src, dest, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const recorded = out.split('+').length - 1;
      if (killAfter !== null && !armed && recorded >= killAfter) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killed: true, done: out.includes('done') });
      else if (code === 0) resolve({ killed: false, done: out.includes('done') });
      else reject(new Error(`child exited with ${code}: ${err}`));
    });
  });
}

describe('resume after SIGKILL', () => {
  it('returns only correct pieces, and every piece the resume file recorded', async () => {
    const dest = path.join(tmp, 'dest');
    await mkdir(dest);
    const from = new FileStorage(t, src);
    const rand = prng(Number(process.env['SEEDBANK_KILL_SEED'] ?? Date.now() % 100000));
    let previous = 0;
    const history: string[] = [];
    for (let round = 0; round < 6; round++) {
      const last = round === 5;
      const remaining = t.numPieces - previous;
      const run = await runChild(dest, round + 1, last ? null : 1 + Math.floor(rand() * remaining * 0.5), Math.floor(rand() * 4));
      const recorded = (await readResume(t, dest)).data?.verified;
      const r = await checkResume(t, dest, { threads: 2 });
      history.push(`round ${round}: killed=${run.killed} recorded=${recorded?.count ?? 0} trusted=${r.trusted} checked=${r.checked} verified=${r.verified.count}/${t.numPieces}`);
      if (recorded) for (const p of recorded.indices()) assert.ok(r.verified.has(p), `recorded piece ${p} lost\n${history.join('\n')}`);
      const got = new FileStorage(t, dest);
      for (const p of r.verified.indices()) {
        assert.ok((await got.read(p, 0, pieceSize(t, p))).equals(await from.read(p, 0, pieceSize(t, p))), `piece ${p} is wrong\n${history.join('\n')}`);
      }
      await got.close();
      if (process.env['SEEDBANK_KILL_LOG']) console.log(history[history.length - 1]);
      assert.ok(r.verified.count >= previous, `progress went backwards\n${history.join('\n')}`);
      previous = r.verified.count;
      if (last) {
        assert.ok(run.done && r.verified.complete, history.join('\n'));
        assert.equal(r.checked, 0, 'after a clean exit everything is trusted from the resume file');
      }
    }
    await from.close();
  });
});
