/**
 * Messages between the hash pool (main thread) and its workers. Kept apart so both sides import
 * the same types and nothing else.
 */

/** One entry of the piece stream, as a worker needs it: where its bytes live on disk. */
export interface StreamFile {
  /** Absolute path, or null for a pad file (zeros made locally). */
  path: string | null;
  length: number;
  offset: number;
}

export interface WorkerInit {
  files: StreamFile[];
  pieceLength: number;
  totalLength: number;
  /** Compute SHA-1 per piece (v1 and hybrid). */
  v1: boolean;
  /** Compute the BEP 52 merkle node per piece (v2 and hybrid). */
  v2: boolean;
}

export type WorkerJob =
  | { kind: 'pieces'; id: number; first: number; end: number }
  | { kind: 'root'; id: number; layer: ArrayBuffer; pieceLength: number }
  | MemoryJob;

/**
 * Hash one piece that is already in memory (received from peers). The buffer is transferred to
 * the worker and back with the answer, not copied. (Not a SharedArrayBuffer: V8 copies into
 * shared memory word by word, which made receiving blocks ten times slower than into a plain one.)
 */
export interface MemoryJob {
  kind: 'memory';
  id: number;
  buffer: ArrayBuffer;
  offset: number;
  /** Bytes of the piece as sent on the wire (pads included). */
  length: number;
  /** SHA-1 of the whole piece (v1, hybrid). */
  v1: boolean;
  /** Merkle node of the owning file's bytes (v2, hybrid): the first `dataLength` bytes. */
  v2: { dataLength: number; fileLength: number; pieceLength: number } | null;
}

/** Piece states reported by workers. */
export const PIECE_READ = 0;
/** Some bytes of the piece are not on disk (missing or short file). */
export const PIECE_MISSING = 1;

/** A job as the pool's caller writes it; the pool adds the id. */
export type JobBody = WorkerJob extends infer J ? (J extends WorkerJob ? Omit<J, 'id'> : never) : never;

export interface PiecesResult {
  kind: 'pieces';
  id: number;
  first: number;
  end: number;
  /** 20 bytes per piece when v1. */
  sha1: ArrayBuffer | null;
  /** 32 bytes per piece when v2: the piece's subtree root, or a small file's pieces root. */
  nodes: ArrayBuffer | null;
  status: ArrayBuffer;
  /** Bytes of real file data read (pads excluded), for progress. */
  bytes: number;
}

export type WorkerResult =
  | PiecesResult
  | { kind: 'root'; id: number; root: ArrayBuffer }
  | { kind: 'memory'; id: number; sha1: ArrayBuffer | null; node: ArrayBuffer | null; buffer: ArrayBuffer }
  | { kind: 'error'; id: number; message: string; code: string | undefined };
