import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type PlannedFile, planLayout } from '../../src/codec/layout.js';
import { type Metainfo } from '../../src/codec/metainfo.js';
import { createTorrent } from '../../src/content/create.js';
import { verifyData } from '../../src/content/verify.js';
import { UnsafePathError } from '../../src/errors.js';
import { FileStorage, type OpenFile, type StorageFile } from '../../src/storage/file-storage.js';
import { pieceSize } from '../../src/storage/segments.js';
import { StorageError } from '../../src/storage/storage.js';
import { makeInteropDataset } from '../helpers/dataset.js';
import { P, cases, fakeMetainfo, pieceOf, pieceWithJunkPads, prng, range, shuffled, streamOf } from './fixtures.js';
import { storageSuite } from './storage-suite.js';

let tmp: string;
let dirs = 0;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-storage-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const d = path.join(tmp, `d${dirs++}`);
  await mkdir(d);
  return d;
}

storageSuite('FileStorage', async (meta) => new FileStorage(meta, await freshDir(), { maxOpenFiles: 3 }));

/** Every file under `dir`, relative, '/'-separated, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
  }
  return out.sort();
}

interface Probe {
  open: OpenFile;
  live: number;
  peak: number;
  opens: string[];
  syncs: string[];
  /** Makes the next writes fail with this errno. */
  failWrites: string | null;
  failOpens: string | null;
}

/** Wraps fs.promises.open: counts live descriptors, records syncs, fails on demand, and throws on any use after close. */
function probe(opts: { jitter?: boolean } = {}): Probe {
  const rand = prng(9);
  // Random small delays inside I/O calls, so that operations overlap in many different orders.
  const pause = (): Promise<void> => {
    const x = opts.jitter ? rand() : 1;
    if (x < 0.05) return new Promise((r) => setTimeout(r, 1));
    if (x < 0.5) return new Promise((r) => setImmediate(r));
    return Promise.resolve();
  };
  const p: Probe = {
    live: 0,
    peak: 0,
    opens: [],
    syncs: [],
    failWrites: null,
    failOpens: null,
    open: async (file, flags, mode) => {
      if (p.failOpens) throw Object.assign(new Error(`${p.failOpens}: injected, open '${file}'`), { code: p.failOpens });
      const h = await open(file, flags, mode);
      p.live++;
      p.peak = Math.max(p.peak, p.live);
      p.opens.push(file);
      let closed = false;
      const check = (): void => {
        if (closed) throw new Error(`used after close: ${file}`);
      };
      const wrapped: StorageFile = {
        read: async (b, o, l, pos) => {
          check();
          await pause();
          check();
          return h.read(b, o, l, pos);
        },
        write: async (b, o, l, pos) => {
          check();
          await pause();
          check();
          if (p.failWrites) throw Object.assign(new Error(`${p.failWrites}: injected, write`), { code: p.failWrites });
          return h.write(b, o, l, pos);
        },
        sync: async () => {
          check();
          p.syncs.push(file);
          await h.sync();
        },
        close: async () => {
          check();
          closed = true;
          p.live--;
          await h.close();
        },
      };
      return wrapped;
    },
  };
  return p;
}

function manyFiles(count: number, version: 'v1' | 'hybrid'): Metainfo {
  const files: PlannedFile[] = Array.from({ length: count }, (_, i) => ({
    path: [`d${Math.floor(i / 100)}`, `f${i}.bin`],
    length: 1 + ((i * 7919) % 3000),
  }));
  return fakeMetainfo(planLayout(files, P, version), `many-${version}`, { version });
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('FileStorage', () => {
  it('puts files where verify looks: no pad files, empty files on ensureEmptyFiles, data verified', async () => {
    const src = await freshDir();
    await makeInteropDataset(src, P);
    const { metainfo: t } = await createTorrent(path.join(src, 'ds-ünï'), { pieceLength: P, version: 'hybrid', threads: 2 });
    const from = new FileStorage(t, src);
    const dest = await freshDir();
    const to = new FileStorage(t, dest, { maxOpenFiles: 4 });
    for (const i of shuffled(range(t.numPieces), prng(4))) await to.writePiece(i, await from.read(i, 0, pieceSize(t, i)));
    await to.ensureEmptyFiles();
    await to.close();
    await from.close();
    assert.deepEqual(await listFiles(dest), await listFiles(src));
    assert.ok(!(await listFiles(dest)).some((f) => f.includes('.pad')));
    const report = await verifyData(t, dest, { threads: 2 });
    assert.equal(report.complete, true, JSON.stringify(report.files.filter((f) => f.state !== 'complete')));
    // BEP 47 'x': the executable file is created executable.
    assert.ok(((await stat(path.join(dest, 'ds-ünï', 'bin', 'run.sh'))).mode & 0o100) !== 0);
  });

  it('a single-file torrent is <dataDir>/<name>', async () => {
    const meta = cases().find((c) => c.meta.singleFile)!.meta;
    const dir = await freshDir();
    const s = new FileStorage(meta, dir);
    const stream = streamOf(meta);
    for (const i of range(meta.numPieces)) await s.writePiece(i, pieceOf(meta, stream, i));
    await s.close();
    assert.deepEqual(await listFiles(dir), ['single.bin']);
    assert.ok((await readFile(path.join(dir, 'single.bin'))).equals(stream));
  });

  it('writes nothing outside the data dir, and refuses hostile paths before touching the disk', async () => {
    const parent = await freshDir();
    const dataDir = path.join(parent, 'data');
    for (const { meta } of cases()) {
      const s = new FileStorage(meta, dataDir, { maxOpenFiles: 2 });
      const stream = streamOf(meta);
      for (const i of range(meta.numPieces)) await s.writePiece(i, pieceWithJunkPads(meta, stream, i));
      await s.ensureEmptyFiles();
      await s.close();
    }
    assert.deepEqual(await readdir(parent), ['data']);
    const hostile = fakeMetainfo(planLayout([{ path: ['..', '..', 'evil'], length: 10 }], P, 'v1'), 'x');
    assert.throws(() => new FileStorage(hostile, dataDir), UnsafePathError);
    const hostileName = fakeMetainfo(planLayout([{ path: ['..'], length: 10 }], P, 'v1'), '..', { singleFile: true });
    assert.throws(() => new FileStorage(hostileName, dataDir), UnsafePathError);
    assert.deepEqual(await readdir(parent), ['data']);
  });

  for (const version of ['v1', 'hybrid'] as const) {
    it(`${version}, 1,000 files: never more than maxOpenFiles descriptors under concurrent writes and reads, none closed in use`, async () => {
      const meta = manyFiles(1000, version);
      const stream = streamOf(meta);
      const dir = await freshDir();
      const max = 16;
      const pr = probe({ jitter: true });
      const before = fdCount();
      let procPeak = 0;
      const s = new FileStorage(meta, dir, { maxOpenFiles: max, openFile: pr.open });
      const sample = (): void => {
        procPeak = Math.max(procPeak, fdCount() - before);
      };
      const order = shuffled(range(meta.numPieces), prng(5));
      await Promise.all(order.map((i) => s.writePiece(i, pieceWithJunkPads(meta, stream, i)).then(sample)));
      const got = await Promise.all(order.map((i) => s.read(i, 0, pieceSize(meta, i)).then((b) => (sample(), [i, b] as const))));
      for (const [i, b] of got) assert.ok(b.equals(pieceOf(meta, stream, i)), `piece ${i}`);
      await s.flush();
      await s.close();
      assert.ok(pr.peak <= max, `peak ${pr.peak} descriptors`);
      assert.ok(pr.peak >= max / 2, `the pool was used (peak ${pr.peak})`);
      assert.ok(s.openFiles.peak <= max);
      assert.ok(procPeak <= max, `process descriptors rose by ${procPeak}`);
      assert.equal(pr.live, 0);
      assert.equal(s.openFiles.now, 0);
      assert.equal(fdCount(), before, 'no descriptor leaked');
    });
  }

  it('maxOpenFiles of 1 still makes progress with pieces spanning many files', async () => {
    const meta = cases().find((c) => c.label.includes('tiny'))!.meta;
    const stream = streamOf(meta);
    const pr = probe({ jitter: true });
    const s = new FileStorage(meta, await freshDir(), { maxOpenFiles: 1, openFile: pr.open });
    await Promise.all(range(meta.numPieces).map((i) => s.writePiece(i, pieceOf(meta, stream, i))));
    await s.flush();
    const got = await Promise.all(range(meta.numPieces).map((i) => s.read(i, 0, pieceSize(meta, i))));
    got.forEach((b, i) => assert.ok(b.equals(pieceOf(meta, stream, i))));
    await s.close();
    assert.equal(pr.peak, 1);
  });

  for (const errno of ['ENOSPC', 'EDQUOT']) {
    it(`${errno} while writing is STORAGE_FULL naming the file; the piece can be written once there is room`, async () => {
      const { meta } = cases()[0]!;
      const stream = streamOf(meta);
      const pr = probe();
      const dir = await freshDir();
      const s = new FileStorage(meta, dir, { openFile: pr.open });
      pr.failWrites = errno;
      const err = await s.writePiece(1, pieceOf(meta, stream, 1)).then(
        () => assert.fail('write succeeded'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StorageError);
      assert.equal(err.code, 'STORAGE_FULL');
      assert.equal(err.errno, errno);
      assert.ok(err.path && err.message.includes(err.path) && err.path.startsWith(dir), err.message);
      assert.ok(!err.message.includes('\n'));
      pr.failWrites = null;
      pr.failOpens = errno; // a full disk can also refuse to create a file
      await assert.rejects(s.writePiece(5, pieceOf(meta, stream, 5)), (e: unknown) => e instanceof StorageError && e.code === 'STORAGE_FULL');
      pr.failOpens = null;
      await s.writePiece(1, pieceOf(meta, stream, 1));
      assert.ok((await s.read(1, 0, pieceSize(meta, 1))).equals(pieceOf(meta, stream, 1)));
      await s.close();
    });
  }

  it('flush syncs every file written since the last flush, evicted handles included, and new folders', async () => {
    const { meta } = cases()[0]!;
    const stream = streamOf(meta);
    const pr = probe();
    const dir = await freshDir();
    const s = new FileStorage(meta, dir, { maxOpenFiles: 1, openFile: pr.open });
    for (const i of range(meta.numPieces)) await s.writePiece(i, pieceOf(meta, stream, i));
    await s.flush();
    const root = path.join(dir, 'mixed');
    const synced = new Set(pr.syncs);
    for (const f of ['a.bin', 'sub/b.bin', 'sub/c.bin', 'sub/d/e.bin', 'z.bin']) assert.ok(synced.has(path.join(root, ...f.split('/'))), f);
    for (const d of [dir, root, path.join(root, 'sub'), path.join(root, 'sub', 'd')]) assert.ok(synced.has(d), `folder ${d}`);
    pr.syncs.length = 0;
    await s.flush();
    assert.deepEqual(pr.syncs, [], 'nothing written since');
    await s.writePiece(meta.numPieces - 1, pieceOf(meta, stream, meta.numPieces - 1));
    await s.flush();
    assert.deepEqual(pr.syncs, [path.join(root, 'z.bin')]);
    await s.close();
  });

  it('reads existing files read-only, and reopens them writable when a write comes', async () => {
    const { meta } = cases()[0]!;
    const stream = streamOf(meta);
    const dir = await freshDir();
    const first = new FileStorage(meta, dir);
    await first.writePiece(0, pieceOf(meta, stream, 0));
    await first.close();
    const file = path.join(dir, 'mixed', 'a.bin');
    await chmod(file, 0o444);
    const s = new FileStorage(meta, dir);
    assert.ok((await s.read(0, 0, pieceSize(meta, 0))).equals(pieceOf(meta, stream, 0)));
    await chmod(file, 0o644);
    const reads = range(20).map(() => s.read(0, 0, 100));
    await s.writePiece(1, pieceOf(meta, stream, 1)); // b.bin, shared with piece 0
    await Promise.all(reads);
    assert.ok((await s.read(1, 0, pieceSize(meta, 1))).equals(pieceOf(meta, stream, 1)));
    await s.close();
    // A new instance sees the same bytes.
    const again = new FileStorage(meta, dir);
    for (const i of [0, 1]) assert.ok((await again.read(i, 0, pieceSize(meta, i))).equals(pieceOf(meta, stream, i)));
    await again.close();
  });

  it('ensureEmptyFiles creates empty files and their folders, and never truncates', async () => {
    const meta = fakeMetainfo(
      planLayout(
        [
          { path: ['deep', 'er', 'empty'], length: 0 },
          { path: ['data.bin'], length: 100 },
          { path: ['empty2'], length: 0 },
        ],
        P,
        'hybrid',
      ),
      'e',
      { version: 'hybrid' },
    );
    const dir = await freshDir();
    await mkdir(path.join(dir, 'e'));
    await writeFile(path.join(dir, 'e', 'empty2'), 'not ours to truncate');
    const s = new FileStorage(meta, dir);
    await s.ensureEmptyFiles();
    await s.ensureEmptyFiles();
    await s.close();
    assert.deepEqual(await listFiles(dir), ['e/deep/er/empty', 'e/empty2']);
    assert.equal((await stat(path.join(dir, 'e', 'deep', 'er', 'empty'))).size, 0);
    assert.equal(await readFile(path.join(dir, 'e', 'empty2'), 'utf8'), 'not ours to truncate');
  });

  it('a short file is STORAGE_MISSING naming the file; a folder in its place is an error, not a crash', async () => {
    const meta = cases().find((c) => c.meta.singleFile)!.meta;
    const dir = await freshDir();
    await writeFile(path.join(dir, 'single.bin'), Buffer.alloc(P + 10));
    const s = new FileStorage(meta, dir);
    await s.read(0, 0, P);
    await assert.rejects(s.read(1, 0, P), (e: unknown) => e instanceof StorageError && e.code === 'STORAGE_MISSING' && e.message.includes('single.bin'));
    await s.close();
    const dir2 = await freshDir();
    await mkdir(path.join(dir2, 'single.bin'));
    const s2 = new FileStorage(meta, dir2);
    await assert.rejects(s2.writePiece(0, Buffer.alloc(P)), (e: unknown) => e instanceof StorageError && e.code === 'STORAGE_IO');
    await assert.rejects(s2.read(0, 0, 1), StorageError);
    await s2.close();
  });
});
