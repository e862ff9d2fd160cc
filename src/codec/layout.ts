/**
 * The byte layout of a torrent: which file owns which bytes of the piece stream, where pad files
 * go, and which pieces a file spans. Pure.
 *
 * One layout serves v1, v2 and hybrid torrents. For v2 the stream is virtual: BEP 52 numbers
 * pieces as if every file started on a piece boundary, which is exactly the hybrid layout, so a
 * v2-only torrent gets synthetic pad entries here (they never appear in its info dictionary).
 */
import { BLOCK_SIZE } from './merkle.js';

export type TorrentVersion = 'v1' | 'v2' | 'hybrid';

export interface FileEntry {
  /** Path components relative to the torrent's root folder (for a single-file torrent: [name]). */
  readonly path: readonly string[];
  readonly length: number;
  /** Offset of the file's first byte in the piece stream. */
  readonly offset: number;
  /** BEP 47 pad file: zeros that exist only to align the next file; never on disk, never fetched. */
  readonly pad: boolean;
  /** BEP 47 attributes other than 'p' (e.g. 'x' executable, 'h' hidden). */
  readonly attr: string;
  /** BEP 52 pieces root; null for v1 torrents, pad files and empty files. */
  piecesRoot: Buffer | null;
}

export interface Layout {
  readonly pieceLength: number;
  /** Every entry, pad files included, in stream order. */
  readonly files: readonly FileEntry[];
  /** Length of the piece stream, pads included. */
  readonly totalLength: number;
  readonly numPieces: number;
}

/** What a creator knows about a file before hashing it. */
export interface PlannedFile {
  path: readonly string[];
  length: number;
  attr?: string;
}

/**
 * Orders paths as a BEP 52 file tree does: component by component, each compared by its UTF-8
 * bytes. ("a/b" sorts before "a.txt" because "a" < "a.txt", although "/" > ".")
 */
export function comparePaths(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = Buffer.compare(Buffer.from(a[i]!, 'utf8'), Buffer.from(b[i]!, 'utf8'));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

export function padPath(length: number): string[] {
  return ['.pad', String(length)];
}

/**
 * Lays files out as seedbank (and libtorrent 2.0.8) creates torrents: files in file-tree order;
 * for v2 and hybrid, every non-empty file that does not end on a piece boundary is followed by a
 * pad file, the last one included, unless the torrent is a single file.
 */
export function planLayout(files: readonly PlannedFile[], pieceLength: number, version: TorrentVersion): Layout {
  const aligned = version !== 'v1';
  const single = files.length === 1;
  const out: FileEntry[] = [];
  let offset = 0;
  for (const f of files) {
    out.push({ path: f.path, length: f.length, offset, pad: false, attr: f.attr ?? '', piecesRoot: null });
    offset += f.length;
    const rest = offset % pieceLength;
    if (aligned && !single && f.length > 0 && rest !== 0) {
      const padLen = pieceLength - rest;
      out.push({ path: padPath(padLen), length: padLen, offset, pad: true, attr: '', piecesRoot: null });
      offset += padLen;
    }
  }
  return { pieceLength, files: out, totalLength: offset, numPieces: Math.ceil(offset / pieceLength) };
}

/** Offset and length of piece `index` in the stream. */
export function pieceRange(layout: Layout, index: number): { start: number; length: number } {
  const start = index * layout.pieceLength;
  return { start, length: Math.min(layout.pieceLength, layout.totalLength - start) };
}

/** Pieces [first, end) that hold bytes of a file (none for empty files). */
export function filePieces(layout: Layout, file: FileEntry): { first: number; end: number } {
  if (file.length === 0) return { first: 0, end: 0 };
  return {
    first: Math.floor(file.offset / layout.pieceLength),
    end: Math.ceil((file.offset + file.length) / layout.pieceLength),
  };
}

/**
 * Index of the entry holding stream byte `offset`: the last entry starting at or before it (empty
 * files that share an offset come before the file that holds the byte, in stream order).
 */
export function fileAt(files: ReadonlyArray<{ readonly offset: number }>, offset: number): number {
  let lo = 0;
  let hi = files.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (files[mid]!.offset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Sum of the lengths of real (non-pad) files: the size of the dataset on disk. */
export function dataLength(layout: Layout): number {
  let n = 0;
  for (const f of layout.files) if (!f.pad) n += f.length;
  return n;
}

/** Pieces a torrent needs at piece length `p`: aligned versions round every file up to whole pieces. */
function piecesAt(lengths: readonly number[], p: number, aligned: boolean): number {
  if (!aligned) return Math.ceil(lengths.reduce((a, b) => a + b, 0) / p);
  let n = 0;
  for (const l of lengths) n += Math.ceil(l / p);
  return n;
}

/**
 * Pieces we aim at, at most, when the file count allows it: about a thousand, the usual
 * BitTorrent norm. Every piece costs a hash job, HAVE messages to every peer and (from an origin)
 * often a request of its own: bench/origin measured 64 KiB pieces at 1.45x the CPU of 1 MiB ones.
 */
export const TARGET_PIECES = 1024;
export const MAX_DEFAULT_PIECE_LENGTH = 16 * 1024 * 1024;

/**
 * Default piece length: the smallest power of two of at least 16 KiB that keeps the torrent to
 * about 1,024 pieces, and no more than 16 MiB (libtorrent accepts 256 MiB; older clients choke).
 *
 * v2 and hybrid torrents give every file whole pieces, so with many files the piece count cannot
 * drop below the file count, and large pieces would only add padding (a hybrid torrent hashes
 * the pad zeros with SHA-1). There the aim is at most two pieces per file on average.
 */
export function defaultPieceLength(fileLengths: readonly number[], version: TorrentVersion): number {
  const aligned = version !== 'v1';
  const nonEmpty = fileLengths.filter((l) => l > 0).length;
  const target = aligned ? Math.max(TARGET_PIECES, 2 * nonEmpty) : TARGET_PIECES;
  let p = BLOCK_SIZE;
  while (p < MAX_DEFAULT_PIECE_LENGTH && piecesAt(fileLengths, p, aligned) > target) p *= 2;
  return p;
}
