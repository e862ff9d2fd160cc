/**
 * Verifies pieces received from the network in worker threads, over shared memory: the piece
 * buffer is a SharedArrayBuffer the blocks were written into, so nothing is copied to hash it and
 * the event loop never hashes (PERFORMANCE-NOTES: hashing on the main thread starves the socket).
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

  /** `piece` must be a view of a SharedArrayBuffer, left untouched until this resolves. */
  async verify(index: number, piece: Buffer): Promise<Verdict> {
    const sha1 = expectedSha1(this.t, index);
    const node = expectedNode(this.t, index);
    if (!sha1 && !node) return 'unverifiable';
    const f = ownerOf(this.t, index);
    const w = this.next++ % this.pool.size;
    const r = await this.pool.run(w, {
      kind: 'memory',
      buffer: piece.buffer as SharedArrayBuffer,
      offset: piece.byteOffset,
      length: piece.length,
      v1: sha1 !== null,
      v2: node ? { dataLength: pieceDataLength(this.t, index), fileLength: f.length, pieceLength: this.t.pieceLength } : null,
    });
    if (r.kind !== 'memory') throw new Error('unexpected worker reply');
    if (sha1 && !Buffer.from(r.sha1!).equals(sha1)) return 'bad';
    if (node && !Buffer.from(r.node!).equals(node)) return 'bad';
    return 'ok';
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
