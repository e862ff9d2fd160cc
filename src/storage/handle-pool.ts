/**
 * A bounded, least-recently-used pool of open file handles, shared by every operation of one
 * FileStorage. A torrent can have 100,000 files and a process perhaps 1,024 descriptors, so handles
 * are opened on first use and closed when idle ones must make room.
 *
 * Invariants (checked by test/storage/file-storage.test.ts):
 * - descriptors open, being opened or being closed never exceed `max`, whatever the concurrency;
 * - a handle leased to an operation (refs > 0) is never closed under it;
 * - one handle per file at a time, shared by concurrent operations (positional I/O needs no
 *   cursor), except while a read-only handle is being replaced by a writable one.
 */

/** What storage needs of an open file; `fs.promises.FileHandle` has it. */
export interface StorageFile {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Opens a file with numeric `fs.constants` flags (tests inject failures through this). */
export type OpenFile = (path: string, flags: number, mode?: number) => Promise<StorageFile>;

export interface Lease {
  readonly path: string;
  readonly file: StorageFile;
  readonly writable: boolean;
}

interface Entry {
  path: string;
  writable: boolean;
  refs: number;
  file: StorageFile | null;
  ready: Promise<StorageFile>;
  /** Replaced by a writable handle: closes when its last lease is returned. */
  retired: boolean;
}

export class HandlePool {
  /** Live entries by path; Map order is least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private readonly leases = new WeakMap<Lease, Entry>();
  /** Descriptors open, opening or closing, plus reserved slots. */
  private slots = 0;
  private peak = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly max: number,
    private readonly openFile: OpenFile,
  ) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxOpenFiles must be a positive integer, not ${max}`);
  }

  /** Descriptors in use now (open, opening, closing or reserved). */
  get open(): number {
    return this.slots;
  }

  /** The most descriptors ever in use at once. */
  get peakOpen(): number {
    return this.peak;
  }

  /**
   * A handle on `path`, opened with `flags` if the pool has none (or only a read-only one and
   * `writable` is asked for). `open` is called instead of the pool's opener when given (to create
   * a file and its folders). Return it with `release`.
   */
  async acquire(path: string, writable: boolean, flags: number, open?: (path: string, flags: number) => Promise<StorageFile>): Promise<Lease> {
    for (;;) {
      const e = this.entries.get(path);
      if (e && (e.writable || !writable)) {
        e.refs++;
        this.touch(e);
        try {
          const file = await e.ready;
          this.passWakeOn();
          return this.lease(e, file);
        } catch (err) {
          e.refs--;
          throw err;
        }
      }
      if (e) {
        // Read-only, and a write needs the file: new operations get a new handle, this one
        // closes once the reads using it are done.
        this.entries.delete(path);
        e.retired = true;
        if (e.refs === 0) await this.closeEntry(e);
        continue;
      }
      if (this.slots < this.max) {
        const entry = this.openEntry(path, writable, flags, open ?? this.openFile);
        try {
          const file = await entry.ready;
          this.passWakeOn();
          return this.lease(entry, file);
        } catch (err) {
          entry.refs--;
          throw err;
        }
      }
      const victim = this.idleEntry();
      if (victim) {
        this.entries.delete(victim.path);
        await this.closeEntry(victim);
        continue;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  release(lease: Lease): void {
    const e = this.leases.get(lease);
    if (!e) throw new Error('handle released twice');
    this.leases.delete(lease);
    e.refs--;
    if (e.refs > 0) return;
    if (e.retired) void this.closeEntry(e);
    else this.wakeOne();
  }

  /**
   * A slot for a descriptor the pool does not manage (a folder to fsync, an empty file to
   * create), counted against `max` like the others. Call the returned function when it is closed.
   */
  async reserve(): Promise<() => void> {
    for (;;) {
      if (this.slots < this.max) {
        this.take();
        this.passWakeOn();
        let done = false;
        return () => {
          if (done) return;
          done = true;
          this.slots--;
          this.wakeOne();
        };
      }
      const victim = this.idleEntry();
      if (victim) {
        this.entries.delete(victim.path);
        await this.closeEntry(victim);
        continue;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Closes every idle handle; handles still leased close when released. */
  async closeIdle(): Promise<void> {
    const idle = [...this.entries.values()].filter((e) => e.refs === 0);
    for (const e of idle) this.entries.delete(e.path);
    for (const e of this.entries.values()) e.retired = true;
    this.entries.clear();
    await Promise.all(idle.map((e) => this.closeEntry(e)));
  }

  private openEntry(path: string, writable: boolean, flags: number, open: (path: string, flags: number) => Promise<StorageFile>): Entry {
    this.take();
    // new Promise(...) turns an opener that throws synchronously into a rejection.
    const opening = new Promise<StorageFile>((resolve) => resolve(open(path, flags)));
    const entry: Entry = { path, writable, refs: 1, file: null, retired: false, ready: opening };
    entry.ready = opening.then(
      (file) => {
        entry.file = file;
        return file;
      },
      (err: unknown) => {
        if (this.entries.get(path) === entry) this.entries.delete(path);
        this.slots--;
        this.wakeOne();
        throw err;
      },
    );
    // Waiters sharing this entry see the failure through `ready`; nobody else needs it.
    entry.ready.catch(() => undefined);
    this.entries.set(path, entry);
    return entry;
  }

  private take(): void {
    this.slots++;
    if (this.slots > this.peak) this.peak = this.slots;
  }

  private lease(e: Entry, file: StorageFile): Lease {
    const l: Lease = { path: e.path, file, writable: e.writable };
    this.leases.set(l, e);
    return l;
  }

  private touch(e: Entry): void {
    this.entries.delete(e.path);
    this.entries.set(e.path, e);
  }

  private idleEntry(): Entry | null {
    for (const e of this.entries.values()) if (e.refs === 0 && e.file) return e;
    return null;
  }

  /** Closes an entry no operation uses; its slot is free only once the descriptor is closed. */
  private async closeEntry(e: Entry): Promise<void> {
    const file = e.file;
    e.file = null;
    if (file) {
      try {
        await file.close();
      } catch {
        // Nothing useful to do: durability comes from flush (fsync), not from close.
      }
      this.slots--;
    }
    this.wakeOne();
  }

  /** One waiter retries; waking all of them would cost O(waiters) per released handle. */
  private wakeOne(): void {
    this.waiters.shift()?.();
  }

  /** A waiter that got what it wanted passes the turn on if there is still room for another. */
  private passWakeOn(): void {
    if (this.waiters.length && (this.slots < this.max || this.idleEntry())) this.wakeOne();
  }
}
