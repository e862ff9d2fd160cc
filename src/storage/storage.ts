/**
 * The one narrow interface between the download engine and wherever piece data lives. Every
 * backend (memory for tests and simulated swarms, files for real use) implements it and passes
 * the shared suite in test/storage/storage-suite.ts.
 *
 * Storage knows nothing of hashes: callers write only pieces they have verified, and hand out
 * only pieces their bitfield says they have. Pad bytes (BEP 47) are zeros that exist in the piece
 * stream only: they are never written anywhere and always read as zeros.
 */
import { SeedbankError } from '../errors.js';

export interface Storage {
  /** Reads `length` bytes at `begin` within piece `index` (pad bytes read as zeros; never touches pad files on disk). Rejects with StorageError if the data is not there. */
  read(index: number, begin: number, length: number): Promise<Buffer>;
  /** Writes a whole piece (already verified by the caller) at its place; pad bytes are skipped, never written. `data.length` equals the piece's length. */
  writePiece(index: number, data: Uint8Array): Promise<void>;
  /** Makes written data durable (fsync files written since the last flush). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export type StorageErrorCode =
  /** The bytes asked for are not there: file missing, or shorter than the range. */
  | 'STORAGE_MISSING'
  /** No space left on the device, or the user's disk quota is used up (ENOSPC, EDQUOT). */
  | 'STORAGE_FULL'
  /** Permission denied or read-only file system (EACCES, EPERM, EROFS). */
  | 'STORAGE_ACCESS'
  /** Any other I/O failure (EIO, a folder where a file should be...). */
  | 'STORAGE_IO'
  /** A piece index, offset or length outside the torrent: a caller's bug or a bad peer request. */
  | 'STORAGE_RANGE'
  /** The storage was closed. */
  | 'STORAGE_CLOSED';

/** A storage failure, with a one-line message naming the file when there is one. */
export class StorageError extends SeedbankError {
  override name = 'StorageError';
  constructor(
    override readonly code: StorageErrorCode,
    message: string,
    /** The file on disk involved, if any. */
    readonly path: string | null = null,
    /** The system error behind it, if any (e.g. 'ENOSPC'). */
    readonly errno: string | null = null,
  ) {
    super(code, message);
  }
}

/**
 * Turns a system error from an operation on `file` into a StorageError. `doing` completes the
 * sentence "... while <doing> <file>", e.g. 'writing piece 12 to'.
 */
export function storageErrorFrom(e: unknown, doing: string, file: string): StorageError {
  if (e instanceof StorageError) return e;
  const err = e as NodeJS.ErrnoException;
  const errno = typeof err?.code === 'string' ? err.code : null;
  const where = `${doing} ${file}`;
  switch (errno) {
    case 'ENOSPC':
      return new StorageError('STORAGE_FULL', `no space left on the device while ${where}; free some space and resume`, file, errno);
    case 'EDQUOT':
      return new StorageError('STORAGE_FULL', `disk quota exceeded while ${where}; free some space and resume`, file, errno);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new StorageError('STORAGE_ACCESS', `permission denied (${errno}) while ${where}`, file, errno);
    case 'ENOENT':
      return new StorageError('STORAGE_MISSING', `file not found while ${where}`, file, errno);
    default: {
      const detail = errno ?? (err instanceof Error ? err.message.split('\n')[0] : String(e));
      return new StorageError('STORAGE_IO', `I/O error (${detail}) while ${where}`, file, errno);
    }
  }
}
