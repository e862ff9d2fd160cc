/**
 * Child process of resume-kill.test.ts: downloads the pieces its data dir lacks (copying them from
 * a source data dir), recording them in a ResumeStore that saves often, until it is killed.
 * Some pieces first get a garbage write, as a torn write would leave them.
 *
 * Run by node --test too (it lives among the tests): without its arguments it does nothing.
 */
import { readFile } from 'node:fs/promises';
import { parseTorrent } from '../../src/codec/metainfo.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { ResumeStore, loadResume } from '../../src/storage/resume.js';
import { pieceSize } from '../../src/storage/segments.js';
import { prng, range, shuffled } from './fixtures.js';

export const CHILD_FLAG = '--seedbank-kill-child';

async function main(torrentFile: string, srcDir: string, destDir: string, seed: number): Promise<void> {
  const t = parseTorrent(await readFile(torrentFile));
  const have = await loadResume(t, destDir, { threads: 1 });
  const from = new FileStorage(t, srcDir);
  const to = new FileStorage(t, destDir, { maxOpenFiles: 4 });
  const store = new ResumeStore(t, destDir, to, have, { saveIntervalMs: 15 });
  const rand = prng(seed);
  process.stdout.write('ready\n');
  for (const i of shuffled(range(t.numPieces), rand)) {
    if (have.has(i)) continue;
    const data = await from.read(i, 0, pieceSize(t, i));
    if (rand() < 0.2) await to.writePiece(i, Buffer.alloc(data.length, 0xee));
    await to.writePiece(i, data);
    store.markVerified(i);
    process.stdout.write('+');
    await new Promise((r) => setImmediate(r));
  }
  await store.close();
  await to.close();
  await from.close();
  process.stdout.write('done\n');
}

if (process.argv[2] === CHILD_FLAG) {
  const [torrentFile, srcDir, destDir, seed] = process.argv.slice(3);
  main(torrentFile!, srcDir!, destDir!, Number(seed)).catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
