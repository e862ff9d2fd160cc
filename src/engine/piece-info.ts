/**
 * Facts about one piece of a torrent that the engine needs on every block: its size on the wire,
 * which file owns it, and the hashes it must match. Pure.
 *
 * The v2 merkle node of a piece covers only the owning file's bytes, not the zeros after them.
 */
import { fileAt, pieceRange } from '../codec/layout.js';
import { HASH_SIZE } from '../codec/merkle.js';
import { type Metainfo, hex } from '../codec/metainfo.js';
import { type FileEntry } from '../codec/layout.js';

export function ownerOf(t: Metainfo, index: number): FileEntry {
  return t.files[fileAt(t.files, index * t.pieceLength)]!;
}

/**
 * Bytes of piece `index` as sent on the wire. For every version this is the piece's length in the
 * layout: v1 and hybrid count pad files; for v2, libtorrent 2.0 sends the zeros after each file's
 * end as part of its last piece, so the layout gives v2 torrents the same (synthetic) pads.
 */
export function pieceSize(t: Metainfo, index: number): number {
  return pieceRange(t, index).length;
}

/** Bytes of the owning file in piece `index` (what the v2 merkle node covers). */
export function pieceDataLength(t: Metainfo, index: number): number {
  const f = ownerOf(t, index);
  const start = index * t.pieceLength;
  return Math.min(t.pieceLength, f.offset + f.length - start);
}

export function expectedSha1(t: Metainfo, index: number): Buffer | null {
  return t.pieces ? t.pieces.subarray(index * 20, index * 20 + 20) : null;
}

/**
 * The merkle node piece `index` must hash to: the piece-layer entry, or the pieces root of a file
 * of one piece. Null when it is not known yet (a v2 torrent from a magnet link, before the layer
 * was fetched with hash requests).
 */
export function expectedNode(t: Metainfo, index: number): Buffer | null {
  if (!t.infoHashV2) return null;
  const f = ownerOf(t, index);
  if (!f.piecesRoot) return null;
  if (f.length <= t.pieceLength) return f.piecesRoot;
  const layer = t.pieceLayers.get(hex(f.piecesRoot));
  if (!layer) return null;
  const i = index - Math.floor(f.offset / t.pieceLength);
  return layer.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
}
