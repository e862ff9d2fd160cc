/**
 * Checking data on disk against a torrent: which pieces are complete, missing or corrupt, and what
 * that means for each file. Used by `seedbank verify`, and later by resume.
 *
 * Hybrid torrents are checked against both halves: a piece is complete only when its SHA-1 and
 * its merkle node both match, so a torrent whose v1 and v2 parts disagree cannot pass.
 * A v2 file longer than one piece whose piece layer is absent (a torrent from a magnet link) is
 * checked as a whole against its pieces root.
 */
import { stat } from 'node:fs/promises';
import { dataLength, filePieces } from '../codec/layout.js';
import { HASH_SIZE } from '../codec/merkle.js';
import { type Metainfo, hex } from '../codec/metainfo.js';
import { safeJoin } from '../codec/paths.js';
import { hashLayout, rootsOfLayers } from '../hashing/pool.js';
import { PIECE_MISSING } from '../hashing/protocol.js';

export type PieceState = 'complete' | 'missing' | 'corrupt';
export type FileState = 'complete' | 'missing' | 'incomplete' | 'corrupt' | 'oversized';

export interface FileReport {
  path: string;
  length: number;
  /** Bytes on disk, or null when the file does not exist. */
  lengthOnDisk: number | null;
  state: FileState;
  /** Pieces that hold bytes of this file and failed their hash check. */
  corruptPieces: number[];
  /** Pieces that hold bytes of this file and are not all on disk. */
  missingPieces: number[];
}

export interface VerifyReport {
  complete: boolean;
  pieces: { total: number; complete: number; missing: number; corrupt: number };
  corruptPieces: number[];
  missingPieces: number[];
  files: FileReport[];
  bytesChecked: number;
}

export interface VerifyOptions {
  threads?: number;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  signal?: AbortSignal;
}

/** Where a torrent's file lives under a save path ("data dir"), checked against traversal. */
export function filePathOnDisk(t: Metainfo, dataDir: string, filePath: readonly string[]): string {
  return t.singleFile ? safeJoin(dataDir, [t.name]) : safeJoin(dataDir, [t.name, ...filePath]);
}

const STAT_CONCURRENCY = 64;

export async function verifyData(t: Metainfo, dataDir: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const paths = t.files.map((f) => (f.pad ? null : filePathOnDisk(t, dataDir, f.path)));
  const total = dataLength(t);
  const hashed = await hashLayout({
    layout: t,
    paths,
    v1: t.pieces !== null,
    v2: t.infoHashV2 !== null,
    threads: opts.threads,
    signal: opts.signal,
    onProgress: (done) => opts.onProgress?.(done, total),
  });

  const state: PieceState[] = new Array<PieceState>(t.numPieces);
  for (let p = 0; p < t.numPieces; p++) {
    if (hashed.status[p] === PIECE_MISSING) state[p] = 'missing';
    else if (t.pieces && !t.pieces.subarray(p * 20, p * 20 + 20).equals(hashed.sha1!.subarray(p * 20, p * 20 + 20))) state[p] = 'corrupt';
    else state[p] = 'complete';
  }
  if (hashed.nodes) await checkV2(t, hashed.nodes, state, opts.threads);

  const sizes = await statAll(paths);
  const files: FileReport[] = [];
  t.files.forEach((f, i) => {
    if (f.pad) return;
    const { first, end } = filePieces(t, f);
    const corruptPieces: number[] = [];
    const missingPieces: number[] = [];
    for (let p = first; p < end; p++) {
      if (state[p] === 'corrupt') corruptPieces.push(p);
      else if (state[p] === 'missing') missingPieces.push(p);
    }
    const onDisk = sizes[i]!;
    let fs: FileState;
    if (onDisk === null) fs = 'missing';
    else if (corruptPieces.length) fs = 'corrupt';
    else if (missingPieces.length || onDisk < f.length) fs = 'incomplete';
    else if (onDisk > f.length) fs = 'oversized';
    else fs = 'complete';
    files.push({ path: f.path.join('/'), length: f.length, lengthOnDisk: onDisk, state: fs, corruptPieces, missingPieces });
  });

  const corrupt = state.flatMap((s, p) => (s === 'corrupt' ? [p] : []));
  const missing = state.flatMap((s, p) => (s === 'missing' ? [p] : []));
  return {
    complete: corrupt.length === 0 && missing.length === 0 && files.every((f) => f.state === 'complete'),
    pieces: { total: t.numPieces, complete: t.numPieces - corrupt.length - missing.length, missing: missing.length, corrupt: corrupt.length },
    corruptPieces: corrupt,
    missingPieces: missing,
    files,
    bytesChecked: total,
  };
}

/** Marks pieces whose merkle node disagrees with the torrent's v2 hashes as corrupt. */
async function checkV2(t: Metainfo, nodes: Buffer, state: PieceState[], threads?: number): Promise<void> {
  const node = (p: number): Buffer => nodes.subarray(p * HASH_SIZE, (p + 1) * HASH_SIZE);
  const wholeFile: Array<{ first: number; end: number; root: Buffer }> = [];
  for (const f of t.files) {
    if (f.pad || f.length === 0 || !f.piecesRoot) continue;
    const { first, end } = filePieces(t, f);
    if (f.length <= t.pieceLength) {
      if (state[first] === 'complete' && !node(first).equals(f.piecesRoot)) state[first] = 'corrupt';
      continue;
    }
    const layer = t.pieceLayers.get(hex(f.piecesRoot));
    if (layer) {
      for (let p = first; p < end; p++) {
        if (state[p] === 'complete' && !node(p).equals(layer.subarray((p - first) * HASH_SIZE, (p - first + 1) * HASH_SIZE))) {
          state[p] = 'corrupt';
        }
      }
    } else {
      wholeFile.push({ first, end, root: f.piecesRoot });
    }
  }
  if (wholeFile.length === 0) return;
  const roots = await rootsOfLayers(
    wholeFile.map((w) => Buffer.from(nodes.subarray(w.first * HASH_SIZE, w.end * HASH_SIZE))),
    t.pieceLength,
    threads,
  );
  wholeFile.forEach((w, i) => {
    if (roots[i]!.equals(w.root)) return;
    // Without the layer we only know the file as a whole is wrong.
    for (let p = w.first; p < w.end; p++) if (state[p] === 'complete') state[p] = 'corrupt';
  });
}

async function statAll(paths: (string | null)[]): Promise<(number | null)[]> {
  const out: (number | null)[] = new Array<number | null>(paths.length).fill(null);
  for (let i = 0; i < paths.length; i += STAT_CONCURRENCY) {
    await Promise.all(
      paths.slice(i, i + STAT_CONCURRENCY).map(async (p, j) => {
        if (p === null) return;
        try {
          const st = await stat(p);
          out[i + j] = st.isFile() ? st.size : null;
        } catch {
          out[i + j] = null;
        }
      }),
    );
  }
  return out;
}
