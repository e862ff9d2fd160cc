/**
 * Facts about one piece of a torrent that the engine needs on every block: its size on the wire,
 * which file owns it, and the hashes it must match. Pure.
 *
 * Piece sizes differ by version: in v1 and hybrid torrents every piece but the last is
 * `pieceLength` (pad files included); in a v2-only torrent the last piece of each file ends with the
 * file (BEP 52 has no pad files on the wire).
 */
import { fileAt, pieceRange } from '../codec/layout.js';
import { HASH_SIZE } from '../codec/merkle.js';
import { type Metainfo, hex } from '../codec/metainfo.js';
import { type FileEntry } from '../codec/layout.js';

export function ownerOf(t: Metainfo, index: number): FileEntry {
  return t.files[fileAt(t.files, index * t.pieceLength)]!;
}

/** Bytes of piece `index` as sent on the wire. */
export function pieceSize(t: Metainfo, index: number): number {
  const { start, length } = pieceRange(t, index);
  if (t.version !== 'v2') return length;
  const f = ownerOf(t, index);
  return Math.min(length, f.offset + f.length - start);
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
