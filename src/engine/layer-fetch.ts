/**
 * Fetching the piece layers a v2 torrent lacks (one that came from a magnet link), with BEP 52
 * hash requests, before any of those files' pieces are requested: a piece that cannot be verified
 * is never downloaded. The tree arithmetic is in hash-exchange.ts; this is the bookkeeping: which
 * chunks are proven, which are asked of whom, and when to ask again.
 */
import { type FileEntry, filePieces } from '../codec/layout.js';
import { HASH_SIZE } from '../codec/merkle.js';
import { type Metainfo, hex } from '../codec/metainfo.js';
import { type HashRange, layerRequests, verifyLayerChunk } from './hash-exchange.js';
import { type PiecePicker } from './picker.js';

/** A chunk asked of a peer that has not answered in this long is asked of another. */
const RETRY_MS = 30_000;

interface Missing {
  file: FileEntry;
  layer: Buffer;
  chunks: Set<number>;
  pending: Map<number, { peer: string; at: number }>;
  /** Pieces of the file we want, held back (priority 0) until the layer is proven. */
  wanted: number[];
}

export type HashesOutcome = 'ignored' | 'rejected' | 'bad' | 'partial' | 'complete';

export class LayerFetch {
  private readonly missing = new Map<string, Missing>();

  /** Holds back the pieces of every v2 file whose layer is unknown. Hybrid needs none: SHA-1 checks. */
  constructor(
    private readonly t: Metainfo,
    private readonly picker: PiecePicker,
    private readonly now: () => number,
  ) {
    if (t.version !== 'v2') return;
    for (const f of t.files) {
      if (f.pad || !f.piecesRoot || f.length <= t.pieceLength || t.pieceLayers.has(hex(f.piecesRoot))) continue;
      const { first, end } = filePieces(t, f);
      const wanted: number[] = [];
      for (let i = first; i < end; i++) {
        if (picker.wants(i)) {
          wanted.push(i);
          picker.setPriority(i, 0);
        }
      }
      if (wanted.length) this.missing.set(hex(f.piecesRoot), { file: f, layer: Buffer.alloc((end - first) * HASH_SIZE), chunks: new Set(), pending: new Map(), wanted });
    }
  }

  /** Files still waiting for their layer. */
  get size(): number {
    return this.missing.size;
  }

  /** The requests to send now, spread over `peers` (keys of connections that have pieces). */
  due(peers: readonly string[], connected: (key: string) => boolean): Array<{ peer: string; range: HashRange }> {
    const out: Array<{ peer: string; range: HashRange }> = [];
    if (this.missing.size === 0 || peers.length === 0) return out;
    let next = 0;
    const t = this.now();
    for (const m of this.missing.values()) {
      for (const r of layerRequests(this.t, m.file)) {
        if (m.chunks.has(r.index)) continue;
        const p = m.pending.get(r.index);
        if (p && connected(p.peer) && t - p.at < RETRY_MS) continue;
        const peer = peers[next++ % peers.length]!;
        m.pending.set(r.index, { peer, at: t });
        out.push({ peer, range: r });
      }
    }
    return out;
  }

  /** An answer (`hashes`, or null for a hash reject). On 'complete' the layer is in the metainfo and its pieces are wanted again. */
  onHashes(r: HashRange, hashes: Uint8Array | null): HashesOutcome {
    const m = this.missing.get(Buffer.from(r.piecesRoot).toString('hex'));
    if (!m || m.chunks.has(r.index)) return 'ignored';
    m.pending.delete(r.index);
    if (!hashes) return 'rejected'; // asked again of another peer next time
    const proven = verifyLayerChunk(this.t, m.file, r, hashes);
    if (!proven) return 'bad';
    proven.copy(m.layer, r.index * HASH_SIZE);
    m.chunks.add(r.index);
    if (m.chunks.size < layerRequests(this.t, m.file).length) return 'partial';
    this.t.pieceLayers.set(hex(m.file.piecesRoot!), m.layer);
    this.missing.delete(hex(m.file.piecesRoot!));
    for (const i of m.wanted) if (!this.picker.have(i)) this.picker.setPriority(i, 1);
    return 'complete';
  }
}
