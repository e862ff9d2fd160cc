/**
 * Where the bytes of a piece range live: one segment per layout entry the range touches (a v1
 * piece may span many files; a v2 or hybrid piece holds one file's bytes and maybe a pad). Pure.
 */
import { type Layout, fileAt, pieceRange } from '../codec/layout.js';
import { StorageError } from './storage.js';

export interface Segment {
  /** Index of the entry in `layout.files`, or -1 for bytes past the last entry (zeros). */
  readonly file: number;
  /** Position of the segment's first byte in that file. */
  readonly position: number;
  readonly length: number;
  /** Offset of the segment in the caller's buffer (0 is the range's first byte). */
  readonly offset: number;
  /** Pad bytes: zeros, never on disk. */
  readonly pad: boolean;
}

/** Length of piece `index`, or a STORAGE_RANGE error if there is no such piece. */
export function pieceSize(layout: Layout, index: number): number {
  if (!Number.isSafeInteger(index) || index < 0 || index >= layout.numPieces) {
    throw new StorageError('STORAGE_RANGE', `piece ${index} is out of range (the torrent has ${layout.numPieces} pieces)`);
  }
  return pieceRange(layout, index).length;
}

/** Checks that [begin, begin + length) lies within piece `index`; returns the piece's length. */
export function checkRange(layout: Layout, index: number, begin: number, length: number): number {
  const size = pieceSize(layout, index);
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(length) || begin < 0 || length < 0 || begin + length > size) {
    throw new StorageError('STORAGE_RANGE', `range ${begin}+${length} is outside piece ${index} of ${size} bytes`);
  }
  return size;
}

/** The segments of `length` bytes at `begin` in piece `index`, in order, empty files skipped. */
export function segmentsOf(layout: Layout, index: number, begin: number, length: number): Segment[] {
  checkRange(layout, index, begin, length);
  const out: Segment[] = [];
  if (length === 0) return out;
  const start = index * layout.pieceLength + begin;
  const end = start + length;
  const files = layout.files;
  let at = start;
  for (let fi = fileAt(files, start); at < end && fi < files.length; fi++) {
    const f = files[fi]!;
    const fileEnd = f.offset + f.length;
    if (fileEnd <= at) continue; // empty files, or an entry before the range
    const take = Math.min(fileEnd, end) - at;
    out.push({ file: fi, position: at - f.offset, length: take, offset: at - start, pad: f.pad });
    at += take;
  }
  // A v2 stream's last piece can extend past the last entry only in hand-built layouts; the hash
  // workers read such bytes as zeros, and so do we.
  if (at < end) out.push({ file: -1, position: 0, length: end - at, offset: at - start, pad: true });
  return out;
}

/** Indices (in `layout.files`) of the non-pad, non-empty entries that hold bytes of piece `index`. */
export function filesOfPiece(layout: Layout, index: number): number[] {
  return segmentsOf(layout, index, 0, pieceSize(layout, index))
    .filter((s) => !s.pad)
    .map((s) => s.file);
}
