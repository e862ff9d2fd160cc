/**
 * Read cache for seeding: whole pieces read once from storage and served block by block. Peers
 * request 16 KiB blocks; reading each from disk on its own costs a round trip to the thread pool
 * per block (65,536 per GiB), which starved the socket in bench/transfer. Reading whole pieces
 * (and a few at once) turns that into a handful of large reads.
 *
 * Bounded by bytes; least recently used pieces go first. Concurrent requests for one piece share
 * one read.
 */
import type { Storage } from '../storage/storage.js';

export class PieceCache {
  private readonly pieces = new Map<number, Buffer>();
  private readonly loading = new Map<number, Promise<Buffer>>();
  private bytes = 0;

  constructor(
    private readonly storage: Pick<Storage, 'read'>,
    private readonly pieceSize: (index: number) => number,
    /** @default 64 MiB */
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  /** The block if its piece is cached (no wait), else null. */
  peek(index: number, begin: number, length: number): Buffer | null {
    const p = this.pieces.get(index);
    if (!p) return null;
    // Refresh its place in the LRU order.
    this.pieces.delete(index);
    this.pieces.set(index, p);
    return p.subarray(begin, begin + length);
  }

  async block(index: number, begin: number, length: number): Promise<Buffer> {
    return this.peek(index, begin, length) ?? (await this.load(index)).subarray(begin, begin + length);
  }

  /** Starts reading a piece in the background (read-ahead); errors surface on `block`. */
  prefetch(index: number): void {
    if (!this.pieces.has(index)) this.load(index).catch(() => {});
  }

  private load(index: number): Promise<Buffer> {
    let p = this.loading.get(index);
    if (p) return p;
    p = this.storage.read(index, 0, this.pieceSize(index)).then(
      (buf) => {
        this.loading.delete(index);
        this.insert(index, buf);
        return buf;
      },
      (e: unknown) => {
        this.loading.delete(index);
        throw e;
      },
    );
    this.loading.set(index, p);
    return p;
  }

  private insert(index: number, buf: Buffer): void {
    if (this.pieces.has(index)) return;
    this.pieces.set(index, buf);
    this.bytes += buf.length;
    for (const [k, v] of this.pieces) {
      if (this.bytes <= this.maxBytes || this.pieces.size <= 1) break;
      this.pieces.delete(k);
      this.bytes -= v.length;
    }
  }

  clear(): void {
    this.pieces.clear();
    this.bytes = 0;
  }
}
