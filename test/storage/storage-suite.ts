/**
 * The suite every Storage backend must pass (memory-storage.test.ts and file-storage.test.ts run
 * it). A backend is a factory: given a torrent, a fresh, empty storage for it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Metainfo } from '../../src/codec/metainfo.js';
import { pieceSize } from '../../src/storage/segments.js';
import { type Storage, StorageError } from '../../src/storage/storage.js';
import { cases, pieceOf, pieceWithJunkPads, prng, range, shuffled, streamOf } from './fixtures.js';

export type StorageFactory = (meta: Metainfo) => Promise<Storage>;

function isStorageError(code: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof StorageError, `expected a StorageError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(!e.message.includes('\n'), 'one-line message');
    return true;
  };
}

async function writeAll(s: Storage, meta: Metainfo, stream: Buffer, order: number[]): Promise<void> {
  for (const i of order) await s.writePiece(i, pieceWithJunkPads(meta, stream, i));
}

export function storageSuite(backend: string, create: StorageFactory): void {
  describe(`Storage contract: ${backend}`, () => {
    for (const { label, meta } of cases()) {
      describe(label, () => {
        const stream = streamOf(meta);
        const n = meta.numPieces;

        it('every piece, written in shuffled order, reads back whole; pad bytes read as zeros', async () => {
          const s = await create(meta);
          await writeAll(s, meta, stream, shuffled(range(n), prng(1)));
          for (let i = 0; i < n; i++) assert.ok((await s.read(i, 0, pieceSize(meta, i))).equals(pieceOf(meta, stream, i)), `piece ${i}`);
          await s.close();
        });

        it('ranges read back, including ranges across file boundaries', async () => {
          const s = await create(meta);
          await writeAll(s, meta, stream, range(n));
          const rand = prng(2);
          for (let i = 0; i < n; i++) {
            const size = pieceSize(meta, i);
            const start = i * meta.pieceLength;
            const ranges: Array<[number, number]> = [
              [0, 0],
              [size - 1, 1],
            ];
            // Every boundary between entries inside the piece, with a few bytes on each side.
            for (const f of meta.files) {
              const b = f.offset - start;
              if (b > 0 && b < size) ranges.push([Math.max(0, b - 7), Math.min(size, b + 9) - Math.max(0, b - 7)]);
            }
            for (let k = 0; k < 5; k++) {
              const begin = Math.floor(rand() * size);
              ranges.push([begin, Math.floor(rand() * (size - begin + 1))]);
            }
            for (const [begin, length] of ranges) {
              const got = await s.read(i, begin, length);
              assert.ok(got.equals(stream.subarray(start + begin, start + begin + length)), `piece ${i} at ${begin}+${length}`);
            }
          }
          await s.close();
        });

        it('reading data that was never written rejects with STORAGE_MISSING', async () => {
          const s = await create(meta);
          for (let i = 0; i < n; i++) await assert.rejects(s.read(i, 0, pieceSize(meta, i)), isStorageError('STORAGE_MISSING'));
          await s.writePiece(0, pieceOf(meta, stream, 0));
          // The last piece shares no file with piece 0 in any of the test layouts.
          await assert.rejects(s.read(n - 1, 0, pieceSize(meta, n - 1)), isStorageError('STORAGE_MISSING'));
          assert.ok((await s.read(0, 0, pieceSize(meta, 0))).equals(pieceOf(meta, stream, 0)));
          await s.close();
        });

        it('ranges outside a piece, and pieces of the wrong length, reject with STORAGE_RANGE', async () => {
          const s = await create(meta);
          await s.writePiece(0, pieceOf(meta, stream, 0));
          const size0 = pieceSize(meta, 0);
          for (const [i, b, l] of [
            [-1, 0, 1],
            [n, 0, 1],
            [0.5, 0, 1],
            [0, -1, 1],
            [0, 0, size0 + 1],
            [0, size0, 1],
            [0, 1, -1],
          ] as const) {
            await assert.rejects(s.read(i, b, l), isStorageError('STORAGE_RANGE'), `read(${i}, ${b}, ${l})`);
          }
          await assert.rejects(s.writePiece(0, Buffer.alloc(size0 - 1)), isStorageError('STORAGE_RANGE'));
          await assert.rejects(s.writePiece(n, Buffer.alloc(1)), isStorageError('STORAGE_RANGE'));
          await s.close();
        });

        it('concurrent writes and reads of many pieces', async () => {
          const s = await create(meta);
          await Promise.all(shuffled(range(n), prng(3)).map((i) => s.writePiece(i, pieceOf(meta, stream, i))));
          const got = await Promise.all(range(n).map((i) => s.read(i, 0, pieceSize(meta, i))));
          got.forEach((b, i) => assert.ok(b.equals(pieceOf(meta, stream, i)), `piece ${i}`));
          await s.close();
        });

        it('writes from a view into a SharedArrayBuffer (the engine hashes pieces in shared buffers)', async () => {
          const s = await create(meta);
          const size = pieceSize(meta, n - 1);
          const shared = new Uint8Array(new SharedArrayBuffer(size + 64), 32, size);
          shared.set(pieceOf(meta, stream, n - 1));
          await s.writePiece(n - 1, shared);
          assert.ok((await s.read(n - 1, 0, size)).equals(pieceOf(meta, stream, n - 1)));
          await s.close();
        });

        it('flush resolves; after close every operation rejects with STORAGE_CLOSED', async () => {
          const s = await create(meta);
          await s.writePiece(n - 1, pieceOf(meta, stream, n - 1));
          await s.flush();
          await s.close();
          await assert.rejects(s.read(n - 1, 0, 1), isStorageError('STORAGE_CLOSED'));
          await assert.rejects(s.writePiece(0, pieceOf(meta, stream, 0)), isStorageError('STORAGE_CLOSED'));
          await assert.rejects(s.flush(), isStorageError('STORAGE_CLOSED'));
          await s.close(); // idempotent
        });
      });
    }
  });
}
