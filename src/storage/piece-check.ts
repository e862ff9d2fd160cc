/**
 * Hash-checks chosen pieces from disk against the torrent's hashes (SHA-1 for v1, merkle nodes
 * for v2, both for hybrid), in the hash workers of src/hashing.
 *
 * For: resume, which checks only the pieces it cannot trust, so that restarting a torrent of a
 * terabyte with a few unrecorded pieces hashes those pieces, not the terabyte. `hashLayout` hashes
 * every piece; this drives the same workers (HashPool, 'pieces' jobs) over runs of chosen pieces.
 *
 * A v2 file of several pieces whose piece layer we lack (torrent from a magnet link, layers not
 * yet received) can only be checked as a whole against its pieces root: its pieces are checked
 * only if every one of them is on disk, and pass or fail together, as in src/content/verify.ts.
 */
import { filePieces, type Layout } from '../codec/layout.js';
import { HASH_SIZE } from '../codec/merkle.js';
import { Bitfield } from '../codec/bitfield.js';
import { type Metainfo, hex } from '../codec/metainfo.js';
import { HashPool, defaultThreads, rootsOfLayers } from '../hashing/pool.js';
import { PIECE_READ, type StreamFile, type WorkerInit } from '../hashing/protocol.js';

export interface CheckOptions {
  /** @default available parallelism, at most 8 */
  threads?: number;
  /** Called with the number of data bytes hashed so far. */
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
}

/** Bytes a worker hashes per job, as in hashLayout. */
const JOB_BYTES = 8 * 1024 * 1024;

interface Hashed {
  sha1: Buffer | null;
  nodes: Buffer | null;
  status: Buffer;
}

/**
 * Checks the pieces in `wanted` (whose bytes `present` says are all on disk) and returns those
 * that match the torrent. `paths` gives each layout entry's file (null for pads).
 */
export async function checkPieces(
  t: Metainfo,
  paths: readonly (string | null)[],
  wanted: Bitfield,
  present: Bitfield,
  opts: CheckOptions = {},
): Promise<Bitfield> {
  const n = t.numPieces;
  const v1 = t.pieces !== null;
  const v2 = t.infoHashV2 !== null;
  const toHash = new Bitfield(n);
  for (const p of wanted.indices()) if (present.has(p)) toHash.set(p);

  // v2 files without a piece layer: all of the file's pieces, or none of them.
  const wholeFiles: Array<{ first: number; end: number; root: Buffer }> = [];
  if (v2) {
    for (const f of t.files) {
      if (f.pad || !f.piecesRoot || f.length <= t.pieceLength || t.pieceLayers.has(hex(f.piecesRoot))) continue;
      const { first, end } = filePieces(t, f);
      let any = false;
      let all = true;
      for (let p = first; p < end; p++) {
        if (toHash.has(p)) any = true;
        if (!present.has(p)) all = false;
      }
      if (!any) continue;
      for (let p = first; p < end; p++) {
        if (all) toHash.set(p);
        else toHash.clear(p);
      }
      if (all) wholeFiles.push({ first, end, root: f.piecesRoot });
    }
  }

  const passed = new Bitfield(n);
  if (toHash.count === 0) return passed;
  const hashed = await hashPieces(t, paths, toHash, v1, v2, opts);
  const ok = new Uint8Array(n);
  for (const p of toHash.indices()) {
    ok[p] = hashed.status[p] === PIECE_READ && (!v1 || t.pieces!.subarray(p * 20, p * 20 + 20).equals(hashed.sha1!.subarray(p * 20, p * 20 + 20))) ? 1 : 0;
  }
  if (v2) {
    const node = (p: number): Buffer => hashed.nodes!.subarray(p * HASH_SIZE, (p + 1) * HASH_SIZE);
    for (const f of t.files) {
      if (f.pad || !f.piecesRoot) continue;
      const { first, end } = filePieces(t, f);
      if (f.length <= t.pieceLength) {
        if (toHash.has(first) && !node(first).equals(f.piecesRoot)) ok[first] = 0;
        continue;
      }
      const layer = t.pieceLayers.get(hex(f.piecesRoot));
      if (!layer) continue; // a whole file: below
      for (let p = first; p < end; p++) {
        if (toHash.has(p) && !node(p).equals(layer.subarray((p - first) * HASH_SIZE, (p - first + 1) * HASH_SIZE))) ok[p] = 0;
      }
    }
    const roots = await rootsOfLayers(
      wholeFiles.map((w) => Buffer.from(hashed.nodes!.subarray(w.first * HASH_SIZE, w.end * HASH_SIZE))),
      t.pieceLength,
      opts.threads,
    );
    wholeFiles.forEach((w, i) => {
      if (!roots[i]!.equals(w.root)) ok.fill(0, w.first, w.end);
    });
  }
  for (const p of toHash.indices()) if (ok[p] && wanted.has(p)) passed.set(p);
  return passed;
}

/** Hashes the pieces in `which` from disk; entries of other pieces are left zero. */
async function hashPieces(layout: Layout, paths: readonly (string | null)[], which: Bitfield, v1: boolean, v2: boolean, opts: CheckOptions): Promise<Hashed> {
  const n = layout.numPieces;
  const files: StreamFile[] = layout.files.map((f, i) => ({ path: f.pad ? null : paths[i]!, length: f.length, offset: f.offset }));
  const init: WorkerInit = { files, pieceLength: layout.pieceLength, totalLength: layout.totalLength, v1, v2 };
  const perJob = Math.max(1, Math.floor(JOB_BYTES / layout.pieceLength));
  // Runs of consecutive pieces, cut into jobs of at most perJob pieces.
  const jobs: Array<[number, number]> = [];
  for (let p = 0; p < n; ) {
    if (!which.has(p)) {
      p++;
      continue;
    }
    const first = p;
    while (p < n && which.has(p) && p - first < perJob) p++;
    jobs.push([first, p]);
  }
  const out: Hashed = {
    sha1: v1 ? Buffer.alloc(n * 20) : null,
    nodes: v2 ? Buffer.alloc(n * HASH_SIZE) : null,
    status: Buffer.alloc(n),
  };
  const threads = Math.max(1, Math.min(opts.threads ?? defaultThreads(), jobs.length));
  const pool = new HashPool(init, threads);
  let next = 0;
  let bytesDone = 0;
  const drive = async (w: number): Promise<void> => {
    while (next < jobs.length) {
      opts.signal?.throwIfAborted();
      const [first, end] = jobs[next++]!;
      const r = await pool.run(w, { kind: 'pieces', first, end });
      if (r.kind !== 'pieces') throw new Error('unexpected worker reply');
      if (out.sha1 && r.sha1) Buffer.from(r.sha1).copy(out.sha1, r.first * 20);
      if (out.nodes && r.nodes) Buffer.from(r.nodes).copy(out.nodes, r.first * HASH_SIZE);
      Buffer.from(r.status).copy(out.status, r.first);
      bytesDone += r.bytes;
      opts.onProgress?.(bytesDone);
    }
  };
  try {
    // Two jobs in flight per worker keep it busy while the other result crosses threads.
    await Promise.all(Array.from({ length: threads * 2 }, (_, i) => drive(i % threads)));
  } finally {
    await pool.close();
  }
  return out;
}
