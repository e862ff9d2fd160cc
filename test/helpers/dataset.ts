/**
 * A small, deterministic dataset shaped to catch content-addressing mistakes: nested folders,
 * an empty file, a 1-byte file, files of exactly one piece and one piece plus one byte, a file of a
 * power-of-two number of pieces, non-ASCII names (UTF-8 sorting), a name that sorts differently
 * component-wise than as a whole path ("a.txt" vs "a/..."), an upper-case name (byte order) and
 * an executable file (BEP 47 attr "x").
 *
 * Content comes from a SHA-256 counter stream seeded by the file's path, so every run writes the
 * same bytes and no two files share content.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface DatasetFile {
  /** Relative to the dataset folder, '/' separators. */
  path: string;
  length: number;
  executable: boolean;
}

export interface Dataset {
  /** Folder name under `dir`: the torrent name. */
  name: string;
  /** `dir/name`. */
  root: string;
  files: DatasetFile[];
  totalLength: number;
}

export const DATASET_NAME = 'ds-ünï';

/** The file that tests corrupt: several pieces long, so a byte in its middle is in a piece of its own. */
export const MULTI_PIECE_FILE = 'a/b/multi-piece.bin';

/** Deterministic bytes: SHA-256(seed ":" counter) blocks, concatenated and cut to `length`. */
export function deterministicBytes(seed: string, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let off = 0, i = 0; off < length; i++, off += 32) {
    createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off, 0, Math.min(32, length - off));
  }
  return out;
}

export function interopDatasetFiles(pieceLength: number): DatasetFile[] {
  const P = pieceLength;
  const f = (p: string, length: number, executable = false): DatasetFile => ({ path: p, length, executable });
  return [
    f('empty.txt', 0),
    f('one-byte.bin', 1),
    f('a.txt', 100),
    f('a/exact-piece.bin', P),
    f('a/b/c/piece-plus-one.bin', P + 1),
    f('a/b/c/d/deep.bin', 2 * P - 1),
    f('a/b/c/d/empty-deep', 0),
    f(MULTI_PIECE_FILE, 7 * P + 123),
    f('a/b/four-pieces.bin', 4 * P),
    f('données/日本語.bin', 3 * P + 777),
    f('données/sous-dossier/ümlaut.dat', 5000),
    f('émoji-🚀.txt', 4097),
    f('Z-upper.txt', 33),
    f('bin/run.sh', 61, true),
    f('zz/last.bin', 2 * P + 9),
  ];
}

/** Writes the dataset under `dir/ds-ünï/` and lists its files (in no particular order). */
export async function makeInteropDataset(dir: string, pieceLength: number): Promise<Dataset> {
  const root = path.join(dir, DATASET_NAME);
  const files = interopDatasetFiles(pieceLength);
  for (const file of files) {
    const abs = path.join(root, ...file.path.split('/'));
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, deterministicBytes(file.path, file.length));
    await chmod(abs, file.executable ? 0o755 : 0o644);
  }
  return { name: DATASET_NAME, root, files, totalLength: files.reduce((n, x) => n + x.length, 0) };
}
