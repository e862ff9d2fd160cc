/**
 * Pieces kept in memory: the backend for tests and simulated swarms (a whole swarm in one process).
 * Not for real downloads: it holds the whole torrent in RAM.
 *
 * It behaves as FileStorage does where the shared suite can tell: pad bytes are dropped on write
 * and read as zeros, unwritten data rejects with STORAGE_MISSING, bad ranges with STORAGE_RANGE.
 * Unlike FileStorage it knows exactly which pieces were written (a file has no such record: a
 * hole in a sparse file reads as zeros).
 */
import { type Layout } from '../codec/layout.js';
import { pieceSize, segmentsOf } from './segments.js';
import { type Storage, StorageError } from './storage.js';

export class MemoryStorage implements Storage {
  private readonly pieces = new Map<number, Buffer>();
  private closed = false;

  constructor(readonly layout: Layout) {}

  /** A seed: every piece taken from `data`, the whole piece stream (pads included, and ignored). */
  static fromData(layout: Layout, data: Uint8Array): MemoryStorage {
    if (data.length !== layout.totalLength) {
      throw new StorageError('STORAGE_RANGE', `data of ${data.length} bytes for a torrent of ${layout.totalLength}`);
    }
    const s = new MemoryStorage(layout);
    for (let i = 0; i < layout.numPieces; i++) {
      const start = i * layout.pieceLength;
      s.store(i, data.subarray(start, start + pieceSize(layout, i)));
    }
    return s;
  }

  /** Whether piece `index` was written. */
  has(index: number): boolean {
    return this.pieces.has(index);
  }

  read(index: number, begin: number, length: number): Promise<Buffer> {
    try {
      this.checkOpen();
      pieceSize(this.layout, index);
      const piece = this.pieces.get(index);
      // Check the range before the presence, as FileStorage does.
      segmentsOf(this.layout, index, begin, length);
      if (!piece) throw new StorageError('STORAGE_MISSING', `piece ${index} has not been written`);
      return Promise.resolve(Buffer.from(piece.subarray(begin, begin + length)));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  writePiece(index: number, data: Uint8Array): Promise<void> {
    try {
      this.checkOpen();
      const size = pieceSize(this.layout, index);
      if (data.length !== size) throw new StorageError('STORAGE_RANGE', `piece ${index} is ${size} bytes, not ${data.length}`);
      this.store(index, data);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  flush(): Promise<void> {
    return this.closed ? Promise.reject(closedError()) : Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Copies the piece (callers reuse their buffers) with its pad bytes zeroed. */
  private store(index: number, data: Uint8Array): void {
    const copy = Buffer.from(data);
    for (const s of segmentsOf(this.layout, index, 0, copy.length)) if (s.pad) copy.fill(0, s.offset, s.offset + s.length);
    this.pieces.set(index, copy);
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }
}

function closedError(): StorageError {
  return new StorageError('STORAGE_CLOSED', 'storage is closed');
}
