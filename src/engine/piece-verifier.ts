/**
 * Verifies pieces received from the network in worker threads: the piece's buffer is transferred
 * to a worker and back (no copy), and the event loop never hashes (PERFORMANCE-NOTES: hashing on
 * the main thread starves the socket).
 *
 * A hybrid piece must match both its SHA-1 and its merkle node; a v2 piece whose node is not known
 * yet is judged by what is known, and reported as `unverifiable` if nothing is.
 */
import { type Metainfo } from '../codec/metainfo.js';
import { HashPool, defaultThreads } from '../hashing/pool.js';
import { expectedNode, expectedSha1, ownerOf, pieceDataLength } from './piece-info.js';

export type Verdict = 'ok' | 'bad' | 'unverifiable';

export class PieceVerifier {
  private readonly pool: HashPool;
  private next = 0;

  constructor(
    private readonly t: Metainfo,
    threads = Math.min(2, defaultThreads()),
  ) {
    this.pool = new HashPool({ files: [], pieceLength: t.pieceLength, totalLength: t.totalLength, v1: false, v2: false }, threads);
  }

  /**
   * `piece` must start at offset 0 of its own ArrayBuffer, which is detached while the worker
   * hashes it; the answer carries a Buffer over the same memory, handed back.
   */
  async verify(index: number, piece: Buffer): Promise<{ verdict: Verdict; piece: Buffer }> {
    const sha1 = expectedSha1(this.t, index);
    const node = expectedNode(this.t, index);
    if (!sha1 && !node) return { verdict: 'unverifiable', piece };
    const f = ownerOf(this.t, index);
    const w = this.next++ % this.pool.size;
    const length = piece.length;
    const buffer = piece.buffer as ArrayBuffer;
    const r = await this.pool.run(
      w,
      {
        kind: 'memory',
        buffer,
        offset: piece.byteOffset,
        length,
        v1: sha1 !== null,
        v2: node ? { dataLength: pieceDataLength(this.t, index), fileLength: f.length, pieceLength: this.t.pieceLength } : null,
      },
      [buffer],
    );
    if (r.kind !== 'memory') throw new Error('unexpected worker reply');
    const back = Buffer.from(r.buffer, 0, length);
    if (sha1 && !Buffer.from(r.sha1!).equals(sha1)) return { verdict: 'bad', piece: back };
    if (node && !Buffer.from(r.node!).equals(node)) return { verdict: 'bad', piece: back };
    return { verdict: 'ok', piece: back };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
