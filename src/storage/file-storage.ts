/**
 * Pieces in the torrent's own files under a data dir: `<dataDir>/<name>/<path...>`, or
 * `<dataDir>/<name>` for a single-file torrent, exactly where `seedbank verify` looks.
 *
 * - Every path goes through `safeJoin` (via `filePathOnDisk`), once, when the storage is built:
 *   a hostile name fails there, before anything touches the disk.
 * - Folders are created when their first file is written; files are opened on first use with
 *   positional I/O and kept in a bounded LRU pool (handle-pool.ts): never more than
 *   `maxOpenFiles` descriptors, whatever the concurrency.
 * - A v1 piece that spans files is written as one segment per file, in order. Pad files are never
 *   created, read or written. Files are not preallocated: writes land sparse, at their offset.
 * - `flush` fsyncs every file written since the previous flush (even those whose handle was
 *   evicted since: fsync works through any descriptor of the file) and the folders of files it
 *   created, so a resume file written after a flush never claims bytes a power cut could lose.
 *
 * Not for: hashing (the caller verifies before writing) or knowing which pieces exist (resume.ts).
 * A hole in a sparse file reads as zeros, so `read` rejects only when a file is missing or short.
 * Symbolic links the user put inside the data dir are followed, as other clients do.
 */
import { constants as fsc } from 'node:fs';
import { mkdir, open as fsOpen, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Metainfo } from '../codec/metainfo.js';
import { filePathOnDisk } from '../content/verify.js';
import { HandlePool, type Lease, type OpenFile, type StorageFile } from './handle-pool.js';
import { pieceSize, segmentsOf } from './segments.js';
import { type Storage, StorageError, storageErrorFrom } from './storage.js';

export type { OpenFile, StorageFile } from './handle-pool.js';

/** Descriptors one torrent's storage may hold open (a process often has 1,024 in all). */
export const DEFAULT_MAX_OPEN_FILES = 64;
/** Files fsynced at once by `flush`: enough to keep a disk queue busy, few enough to share. */
const FLUSH_CONCURRENCY = 8;

export interface FileStorageOptions {
  /** Most descriptors open at once: file handles plus brief ones (folder fsync, empty files). @default 64 */
  maxOpenFiles?: number;
  /** Opens files (numeric `fs.constants` flags); tests inject failures such as ENOSPC here. @default fs.promises.open */
  openFile?: OpenFile;
}

const defaultOpen: OpenFile = (p, flags, mode) => fsOpen(p, flags, mode);

export class FileStorage implements Storage {
  /** Absolute path of each layout entry; null for pad files. */
  readonly paths: readonly (string | null)[];
  private readonly root: string;
  private readonly pool: HandlePool;
  private readonly openFile: OpenFile;
  /** Files written since the last flush (layout indices). */
  private readonly dirty = new Set<number>();
  /** Folders in which this storage created entries since the last flush. */
  private readonly dirsToSync = new Set<string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closing: Promise<void> | null = null;

  constructor(
    readonly metainfo: Metainfo,
    dataDir: string,
    opts: FileStorageOptions = {},
  ) {
    this.root = path.resolve(dataDir);
    this.paths = metainfo.files.map((f) => (f.pad ? null : filePathOnDisk(metainfo, this.root, f.path)));
    this.openFile = opts.openFile ?? defaultOpen;
    this.pool = new HandlePool(opts.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES, this.openFile);
  }

  /** Descriptors this storage holds now, and the most it ever held at once. */
  get openFiles(): { now: number; peak: number } {
    return { now: this.pool.open, peak: this.pool.peakOpen };
  }

  read(index: number, begin: number, length: number): Promise<Buffer> {
    return this.run(async () => {
      const segments = segmentsOf(this.metainfo, index, begin, length);
      const out = Buffer.allocUnsafe(length);
      for (const s of segments) {
        if (s.pad) {
          out.fill(0, s.offset, s.offset + s.length);
          continue;
        }
        const file = this.paths[s.file]!;
        const lease = await this.acquireForRead(file, index);
        try {
          let done = 0;
          while (done < s.length) {
            const { bytesRead } = await lease.file.read(out, s.offset + done, s.length - done, s.position + done);
            if (bytesRead === 0) {
              throw new StorageError('STORAGE_MISSING', `${file} ends before byte ${s.position + s.length} that piece ${index} needs`, file);
            }
            done += bytesRead;
          }
        } catch (e) {
          throw storageErrorFrom(e, `reading piece ${index} from`, file);
        } finally {
          this.pool.release(lease);
        }
      }
      return out;
    });
  }

  writePiece(index: number, data: Uint8Array): Promise<void> {
    return this.run(async () => {
      const size = pieceSize(this.metainfo, index);
      if (data.length !== size) throw new StorageError('STORAGE_RANGE', `piece ${index} is ${size} bytes, not ${data.length}`);
      const segments = segmentsOf(this.metainfo, index, 0, size);
      for (const s of segments) {
        if (s.pad) continue;
        const file = this.paths[s.file]!;
        let lease: Lease;
        try {
          lease = await this.pool.acquire(file, true, fsc.O_RDWR, (p) => this.openForWrite(p, s.file));
        } catch (e) {
          throw storageErrorFrom(e, `opening for piece ${index}`, file);
        }
        try {
          let done = 0;
          while (done < s.length) {
            const { bytesWritten } = await lease.file.write(data, s.offset + done, s.length - done, s.position + done);
            // A regular file never takes zero bytes without an error; do not spin if one does.
            if (bytesWritten === 0) throw Object.assign(new Error('write wrote nothing'), { code: 'EIO' });
            done += bytesWritten;
          }
        } catch (e) {
          throw storageErrorFrom(e, `writing piece ${index} to`, file);
        } finally {
          this.pool.release(lease);
        }
        // Only once the bytes are in: a flush that starts later must sync them.
        this.dirty.add(s.file);
      }
    });
  }

  flush(): Promise<void> {
    return this.run(() => this.syncDirty());
  }

  /**
   * Creates the torrent's empty files (and their folders) if they do not exist; never truncates.
   * No piece holds their bytes, so writing pieces alone would never create them. Call when the
   * torrent starts or completes.
   */
  ensureEmptyFiles(): Promise<void> {
    return this.run(async () => {
      for (const [i, f] of this.metainfo.files.entries()) {
        if (f.pad || f.length !== 0) continue;
        const file = this.paths[i]!;
        try {
          const st = await stat(file);
          if (st.isFile()) continue;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw storageErrorFrom(e, 'checking', file);
        }
        const free = await this.pool.reserve();
        try {
          await mkdir(path.dirname(file), { recursive: true });
          const h = await this.openFile(file, fsc.O_WRONLY | fsc.O_CREAT, modeOf(f.attr));
          await h.close();
          this.noteCreated(file);
        } catch (e) {
          throw storageErrorFrom(e, 'creating', file);
        } finally {
          free();
        }
      }
    });
  }

  /** Waits for operations in flight, flushes, and closes every handle. Later calls reject with STORAGE_CLOSED. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.inflight]);
      try {
        await this.syncDirty();
      } finally {
        await this.pool.closeIdle();
      }
    })();
    return this.closing;
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new StorageError('STORAGE_CLOSED', 'storage is closed'));
    const p = op();
    this.inflight.add(p);
    const forget = (): void => void this.inflight.delete(p);
    p.then(forget, forget);
    return p;
  }

  private async acquireForRead(file: string, index: number): Promise<Lease> {
    try {
      return await this.pool.acquire(file, false, fsc.O_RDONLY);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new StorageError('STORAGE_MISSING', `${file} does not exist (piece ${index} needs it)`, file, code);
      }
      throw storageErrorFrom(e, `opening for piece ${index}`, file);
    }
  }

  /** Opens an existing file read-write, or creates it (and its folders) if it is missing. */
  private async openForWrite(file: string, index: number): Promise<StorageFile> {
    try {
      return await this.openFile(file, fsc.O_RDWR);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await mkdir(path.dirname(file), { recursive: true });
    const h = await this.openFile(file, fsc.O_RDWR | fsc.O_CREAT, modeOf(this.metainfo.files[index]!.attr));
    this.noteCreated(file);
    return h;
  }

  /** A new entry in a folder (and maybe new folders up to the data dir) needs a folder fsync. */
  private noteCreated(file: string): void {
    for (let d = path.dirname(file); d.length >= this.root.length && d.startsWith(this.root); d = path.dirname(d)) {
      this.dirsToSync.add(d);
      if (d === this.root) break;
    }
  }

  private async syncDirty(): Promise<void> {
    const files = [...this.dirty];
    const dirs = [...this.dirsToSync].sort((a, b) => b.length - a.length); // deepest first
    this.dirty.clear();
    this.dirsToSync.clear();
    let next = 0;
    const failed: unknown[] = [];
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const i = files[next++]!;
        const file = this.paths[i]!;
        try {
          const lease = await this.pool.acquire(file, false, fsc.O_RDONLY);
          try {
            await lease.file.sync();
          } finally {
            this.pool.release(lease);
          }
        } catch (e) {
          this.dirty.add(i); // try again next time
          failed.push(storageErrorFrom(e, 'syncing', file));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(FLUSH_CONCURRENCY, files.length) }, worker));
    for (const dir of dirs) {
      const free = await this.pool.reserve();
      try {
        const h = await this.openFile(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
        try {
          await h.sync();
        } finally {
          await h.close();
        }
      } catch (e) {
        this.dirsToSync.add(dir);
        failed.push(storageErrorFrom(e, 'syncing folder', dir));
      } finally {
        free();
      }
    }
    if (failed.length) throw failed[0];
  }
}

/** BEP 47 attr 'x': executable. The umask still applies. */
function modeOf(attr: string): number {
  return attr.includes('x') ? 0o777 : 0o666;
}
