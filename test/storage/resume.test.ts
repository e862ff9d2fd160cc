import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Bitfield } from '../../src/codec/bitfield.js';
import { filePieces } from '../../src/codec/layout.js';
import { type Metainfo } from '../../src/codec/metainfo.js';
import { createTorrent } from '../../src/content/create.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { decodeResume, encodeResume } from '../../src/storage/resume-format.js';
import { type ResumeClock, ResumeStore, checkResume, loadResume, readResume, resumeFilePath } from '../../src/storage/resume.js';
import { pieceSize } from '../../src/storage/segments.js';
import { StorageError } from '../../src/storage/storage.js';
import { DATASET_NAME, MULTI_PIECE_FILE, makeInteropDataset } from '../helpers/dataset.js';
import { P, prng, range, shuffled } from './fixtures.js';

let tmp: string;
let src: string;
const torrents = new Map<string, Metainfo>();
let dirs = 0;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-resume-'));
  src = path.join(tmp, 'src');
  await makeInteropDataset(src, P);
  for (const version of ['v1', 'v2', 'hybrid'] as const) {
    torrents.set(version, (await createTorrent(path.join(src, DATASET_NAME), { pieceLength: P, version, threads: 2 })).metainfo);
  }
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const d = path.join(tmp, `d${dirs++}`);
  await mkdir(d);
  return d;
}

/** Copies pieces from the source data into `to`, as a download would. */
async function download(t: Metainfo, to: FileStorage, pieces: Iterable<number>, store?: ResumeStore): Promise<void> {
  const from = new FileStorage(t, src);
  for (const i of pieces) {
    await to.writePiece(i, await from.read(i, 0, pieceSize(t, i)));
    store?.markVerified(i);
  }
  await from.close();
}

/** Asserts every piece in `b` holds the source's bytes. */
async function assertCorrect(t: Metainfo, dataDir: string, b: Bitfield): Promise<void> {
  const from = new FileStorage(t, src);
  const got = new FileStorage(t, dataDir);
  for (const i of b.indices()) assert.ok((await got.read(i, 0, pieceSize(t, i))).equals(await from.read(i, 0, pieceSize(t, i))), `piece ${i}`);
  await from.close();
  await got.close();
}

function piecesOfFile(t: Metainfo, rel: string): number[] {
  const f = t.files.find((x) => x.path.join('/') === rel)!;
  const { first, end } = filePieces(t, f);
  return range(end - first).map((k) => first + k);
}

describe('resume', () => {
  for (const version of ['v1', 'v2', 'hybrid'] as const) {
    it(`${version}: save and load round trip, without hashing anything`, async () => {
      const t = torrents.get(version)!;
      const dir = await freshDir();
      const s = new FileStorage(t, dir);
      const store = new ResumeStore(t, dir, s);
      await download(t, s, shuffled(range(t.numPieces), prng(1)), store);
      await store.close();
      await s.close();
      const r = await checkResume(t, dir, { threads: 2 });
      assert.equal(r.resumeFile, 'valid');
      assert.ok(r.verified.complete);
      assert.equal(r.trusted, t.numPieces);
      assert.equal(r.checked, 0);
      assert.ok((await loadResume(t, dir)).complete);
    });
  }

  it('pieces written after the last save are recovered by a hash check; torn ones are not', async () => {
    const t = torrents.get('hybrid')!;
    const dir = await freshDir();
    const s = new FileStorage(t, dir);
    const store = new ResumeStore(t, dir, s);
    const order = shuffled(range(t.numPieces), prng(2));
    const half = order.slice(0, order.length >> 1);
    await download(t, s, half, store);
    await store.save();
    const rest = order.slice(order.length >> 1);
    await download(t, s, rest); // written, never recorded: the process "died" before saving
    const torn = rest[0]!;
    await s.writePiece(torn, Buffer.alloc(pieceSize(t, torn), 0x5a)); // a piece whose write was cut short
    await s.close();
    const recorded = (await readResume(t, dir)).data!.verified;
    assert.deepEqual([...recorded.indices()], [...half].sort((a, b) => a - b));
    const r = await checkResume(t, dir, { threads: 2 });
    assert.equal(r.resumeFile, 'valid');
    assert.ok(r.checked >= rest.length);
    assert.deepEqual([...r.verified.indices()], range(t.numPieces).filter((i) => i !== torn));
    await assertCorrect(t, dir, r.verified);
  });

  it('a file changed after the save loses its pieces; unchanged bytes in it are re-checked and kept', async () => {
    const t = torrents.get('v1')!;
    const dir = await freshDir();
    const s = new FileStorage(t, dir);
    const store = new ResumeStore(t, dir, s);
    await download(t, s, range(t.numPieces), store);
    await store.close();
    await s.close();
    const multi = piecesOfFile(t, MULTI_PIECE_FILE);
    const file = path.join(dir, DATASET_NAME, ...MULTI_PIECE_FILE.split('/'));
    // Same size, new bytes in the third piece of the file.
    const h = await open(file, 'r+');
    const at = multi[2]! * P - t.files.find((f) => f.path.join('/') === MULTI_PIECE_FILE)!.offset + 100;
    await h.write(Buffer.from([1, 2, 3]), 0, 3, at);
    await h.close();
    const r = await checkResume(t, dir, { threads: 2 });
    assert.equal(r.verified.has(multi[2]!), false);
    assert.equal(r.verified.count, t.numPieces - 1);
    assert.ok(r.checked >= multi.length, 'the changed file was hashed again');
    assert.equal(r.trusted, t.numPieces - r.checked);

    // Only the mtime moves: the pieces are hashed again, and pass.
    const dir2 = await freshDir();
    const s2 = new FileStorage(t, dir2);
    const store2 = new ResumeStore(t, dir2, s2);
    await download(t, s2, range(t.numPieces), store2);
    await store2.close();
    await s2.close();
    const file2 = path.join(dir2, DATASET_NAME, ...MULTI_PIECE_FILE.split('/'));
    await utimes(file2, new Date(), new Date(Date.now() + 5000));
    const r2 = await checkResume(t, dir2, { threads: 2 });
    assert.ok(r2.verified.complete);
    assert.ok(r2.checked >= multi.length && r2.checked < t.numPieces);

    // Truncated: the pieces past the new end are gone.
    await truncate(file2, 3 * P);
    const r3 = await checkResume(t, dir2, { threads: 2 });
    const lost = multi.filter((p) => !r3.verified.has(p));
    assert.ok(lost.length >= multi.length - 4, `lost ${lost.length} of ${multi.length}`);
    await assertCorrect(t, dir2, r3.verified);
  });

  it('a garbage, truncated, tampered or foreign resume file is ignored, and the data on disk is re-checked', async () => {
    const t = torrents.get('hybrid')!;
    const dir = await freshDir();
    const s = new FileStorage(t, dir);
    const store = new ResumeStore(t, dir, s);
    await download(t, s, range(t.numPieces), store);
    await store.close();
    await s.close();
    const file = resumeFilePath(t, dir);
    const good = await readFile(file);
    const data = decodeResume(good);
    const rand = prng(3);
    const tampered = Buffer.from(good);
    tampered[good.indexOf('8:verified') + 12]! ^= 0x01;
    const other = torrents.get('v2')!;
    const variants: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['random bytes', Buffer.from(range(500).map(() => Math.floor(rand() * 256)))],
      ['truncated', good.subarray(0, good.length >> 1)],
      ['a flipped bit', tampered],
      ['another torrent', encodeResume({ ...data, infoHash: other.infoHashV2! })],
      ['wrong piece count', encodeResume({ ...data, verified: Bitfield.full(t.numPieces + 1) })],
      ['wrong file count', encodeResume({ ...data, files: data.files.slice(1) })],
      ['JSON', Buffer.from(JSON.stringify({ verified: 'all' }))],
    ];
    for (const [what, bytes] of variants) {
      await writeFile(file, bytes);
      const r = await checkResume(t, dir, { threads: 2 });
      assert.equal(r.resumeFile, 'ignored', what);
      assert.ok(r.problem, what);
      assert.equal(r.trusted, 0, what);
      assert.ok(r.verified.complete, what);
    }
    // A folder where the file should be: ignored too.
    await unlink(file);
    await mkdir(file);
    assert.equal((await checkResume(t, dir, { threads: 2 })).resumeFile, 'ignored');
  });

  it('without a resume file, data already on disk is found (seeding from existing files)', async () => {
    const t = torrents.get('hybrid')!;
    const r = await checkResume(t, src, { threads: 2 });
    assert.equal(r.resumeFile, 'absent');
    assert.ok(r.verified.complete);
    assert.equal(r.checked, t.numPieces);
    const empty = await checkResume(t, await freshDir());
    assert.equal(empty.verified.count, 0);
    assert.equal(empty.checked, 0, 'nothing on disk, nothing hashed');
  });

  it('a recorded piece whose file was deleted is not trusted', async () => {
    const t = torrents.get('v2')!;
    const dir = await freshDir();
    const s = new FileStorage(t, dir);
    const store = new ResumeStore(t, dir, s);
    await download(t, s, range(t.numPieces), store);
    await store.close();
    await s.close();
    await unlink(path.join(dir, DATASET_NAME, ...MULTI_PIECE_FILE.split('/')));
    const r = await checkResume(t, dir, { threads: 2 });
    const multi = piecesOfFile(t, MULTI_PIECE_FILE);
    assert.deepEqual([...r.verified.indices()], range(t.numPieces).filter((p) => !multi.includes(p)));
    assert.equal(r.checked, 0);
  });

  it('v2 without piece layers (magnet): a multi-piece file is checked as a whole', async () => {
    const full = torrents.get('hybrid')!;
    const t: Metainfo = { ...full, pieceLayers: new Map() };
    const r = await checkResume(t, src, { threads: 2 });
    assert.ok(r.verified.complete);
    const dir = await freshDir();
    const s = new FileStorage(t, dir);
    const multi = piecesOfFile(t, MULTI_PIECE_FILE);
    await download(t, s, range(t.numPieces).filter((p) => p !== multi[1]));
    await s.close();
    const partial = await checkResume(t, dir, { threads: 2 });
    assert.deepEqual([...partial.verified.indices()], range(t.numPieces).filter((p) => !multi.includes(p)));
  });

  it('saves are debounced: at most one per interval, the first as soon as allowed', async () => {
    const t = torrents.get('v1')!;
    const dir = await freshDir();
    const clock = fakeClock();
    const flushes: number[] = [];
    const store = new ResumeStore(t, dir, { flush: async () => void flushes.push(clock.now()) }, undefined, { saveIntervalMs: 2000, clock });
    const file = resumeFilePath(t, dir);
    store.markVerified(0);
    assert.equal(clock.pending(), 1);
    await clock.advance(0);
    // No timer is pending now: save() just waits for the save the timer started.
    await store.save();
    assert.deepEqual([...(await readResume(t, dir)).data!.verified.indices()], [0]);
    store.markVerified(1);
    store.markVerified(2);
    assert.equal(clock.pending(), 1);
    await clock.advance(1999);
    assert.deepEqual([...(await readResume(t, dir)).data!.verified.indices()], [0], 'not before the interval');
    await clock.advance(1);
    assert.equal(clock.pending(), 0);
    await store.save();
    assert.deepEqual([...(await readResume(t, dir)).data!.verified.indices()], [0, 1, 2]);
    assert.deepEqual(flushes, [0, 2000]);
    store.markVerified(1); // already recorded: nothing to save
    assert.equal(clock.pending(), 0);
    store.markUnverified(2);
    await store.close();
    assert.deepEqual([...(await readResume(t, dir)).data!.verified.indices()], [0, 1]);
    assert.equal(clock.pending(), 0);
    assert.ok((await stat(file)).isFile());
  });

  it('the storage is flushed before the resume file claims a piece', async () => {
    const t = torrents.get('v1')!;
    const dir = await freshDir();
    const seen: number[][] = [];
    const store = new ResumeStore(t, dir, {
      flush: async () => {
        const r = await readResume(t, dir);
        seen.push(r.data ? [...r.data.verified.indices()] : []);
      },
    });
    store.markVerified(3);
    await store.save();
    store.markVerified(4);
    await store.save();
    assert.deepEqual(seen, [[], [3]], 'at each flush, the file claimed only pieces flushed before');
    await store.close();
  });

  it('a failed save rejects with a StorageError and the next save writes everything', async () => {
    const t = torrents.get('v1')!;
    const dir = await freshDir();
    await writeFile(path.join(dir, '.seedbank'), 'a file where the folder goes');
    const errors: Error[] = [];
    const store = new ResumeStore(t, dir, { flush: async () => undefined }, undefined, { onError: (e) => errors.push(e) });
    store.markVerified(1);
    await assert.rejects(store.save(), (e: unknown) => e instanceof StorageError && e.message.includes('.seedbank'));
    await unlink(path.join(dir, '.seedbank'));
    await store.close();
    assert.deepEqual([...(await readResume(t, dir)).data!.verified.indices()], [1]);
    // Temp files of saves a kill interrupted are cleaned up on load.
    const stale = `${resumeFilePath(t, dir)}.99999999-deadbeef.tmp`;
    await writeFile(stale, 'x');
    await checkResume(t, dir);
    assert.deepEqual(await readdir(path.dirname(stale)), [path.basename(resumeFilePath(t, dir))]);
  });

  it('the resume format round-trips and keeps nanosecond mtimes', () => {
    const verified = new Bitfield(11);
    verified.set(0);
    verified.set(10);
    const files = [{ size: 5, mtimeNs: 1_700_000_000_123_456_789n }, null, { size: 0, mtimeNs: 0n }];
    const d = decodeResume(encodeResume({ infoHash: Buffer.alloc(32, 1), verified, files, savedAt: 1_700_000_000 }));
    assert.deepEqual([...d.verified.indices()], [0, 10]);
    assert.deepEqual(d.files, files);
    assert.equal(d.savedAt, 1_700_000_000);
  });
});

/** A clock whose timers fire only when the test advances it. */
function fakeClock(): ResumeClock & { advance(ms: number): Promise<void>; pending(): number } {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void }> = [];
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimeout: (h) => {
      timers = timers.filter((t) => t !== h);
    },
    pending: () => timers.length,
    async advance(ms: number) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.fn();
      await Promise.resolve();
    },
  };
}
