import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { pieceSize } from '../../src/storage/segments.js';
import { StorageError } from '../../src/storage/storage.js';
import { cases, pieceOf, range, streamOf } from './fixtures.js';
import { storageSuite } from './storage-suite.js';

storageSuite('MemoryStorage', (meta) => Promise.resolve(new MemoryStorage(meta)));

describe('MemoryStorage', () => {
  it('fromData makes a seed of the whole piece stream', async () => {
    for (const { meta } of cases()) {
      const stream = streamOf(meta);
      // Junk in the pads of the given stream is not served: pads read as zeros.
      const given = Buffer.from(stream);
      for (const f of meta.files) if (f.pad) given.fill(0xaa, f.offset, f.offset + f.length);
      const s = MemoryStorage.fromData(meta, given);
      for (const i of range(meta.numPieces)) {
        assert.ok(s.has(i));
        assert.ok((await s.read(i, 0, pieceSize(meta, i))).equals(pieceOf(meta, stream, i)));
      }
    }
  });

  it('fromData refuses data of the wrong length', () => {
    const { meta } = cases()[0]!;
    assert.throws(() => MemoryStorage.fromData(meta, Buffer.alloc(meta.totalLength - 1)), StorageError);
  });

  it('keeps its own copy of what is written and what it hands out', async () => {
    const { meta } = cases()[0]!;
    const stream = streamOf(meta);
    const s = new MemoryStorage(meta);
    const buf = Buffer.from(pieceOf(meta, stream, 0));
    await s.writePiece(0, buf);
    buf.fill(0);
    const out = await s.read(0, 0, 10);
    out.fill(1);
    assert.ok((await s.read(0, 0, pieceSize(meta, 0))).equals(pieceOf(meta, stream, 0)));
  });
});
