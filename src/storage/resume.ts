/**
 * Resume data: which pieces a torrent has verified, kept on disk so that a download killed at any
 * moment (even SIGKILL, even a power cut) and restarted fetches again only pieces it cannot prove
 * it has. The file format is in resume-format.ts; the file is `<dataDir>/.seedbank/<hash>.resume`.
 *
 * Writing (`ResumeStore`): pieces are recorded after they are written; saves are debounced (at
 * most one per `saveIntervalMs`, plus on `save()` and `close()`), and each save first flushes the
 * storage, then stamps the files (size, mtime), then replaces the resume file atomically (temp
 * file, fsync, rename, fsync of the folder). So the file never claims a piece whose bytes are not
 * durable, and a kill at any moment leaves either the old file or the new one.
 *
 * Reading (`loadResume`): a recorded piece is trusted without hashing only if every file it
 * touches still has the size and mtime recorded with it. Every other piece whose bytes are on
 * disk (files present and long enough) is hash-checked: pieces written after the last save,
 * pieces of files changed since, and everything when the resume file is absent or unreadable
 * (which is also how a torrent starts from data already on disk). Only those pieces are hashed.
 *
 * Trade-off: the mtime of a file we keep writing moves after every save, so after a crash the
 * recorded pieces of the files being written in the last moments are hashed again (they pass, and
 * cost a read). An mtime check cannot tell our own writes from someone else's; hashing can.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Bitfield } from '../codec/bitfield.js';
import { filePieces } from '../codec/layout.js';
import { type Metainfo } from '../codec/metainfo.js';
import { safeJoin } from '../codec/paths.js';
import { filePathOnDisk } from '../content/verify.js';
import { type CheckOptions, checkPieces } from './piece-check.js';
import { type FileStamp, MAX_RESUME_BYTES, type ResumeData, decodeResume, encodeResume } from './resume-format.js';
import { filesOfPiece } from './segments.js';
import { type Storage, storageErrorFrom } from './storage.js';

/** Least time between two automatic saves. */
export const DEFAULT_RESUME_SAVE_INTERVAL_MS = 2000;
/** Folder under the data dir that holds seedbank's own files. */
export const RESUME_DIR = '.seedbank';
const STAT_CONCURRENCY = 64;

/** The hash that names a torrent's resume file: v2 if the torrent has one, else v1. */
export function resumeId(t: Metainfo): Buffer {
  return t.infoHashV2 ?? t.infoHashV1!;
}

export function resumeFilePath(t: Metainfo, dataDir: string): string {
  return safeJoin(path.resolve(dataDir), [RESUME_DIR, `${resumeId(t).toString('hex')}.resume`]);
}

function pathsOf(t: Metainfo, dataDir: string): (string | null)[] {
  return t.files.map((f) => (f.pad ? null : filePathOnDisk(t, path.resolve(dataDir), f.path)));
}

/** Size and mtime of each file in `which` (all when omitted); null for missing or non-files. */
async function stampFiles(paths: readonly (string | null)[], which?: readonly number[]): Promise<Map<number, FileStamp | null>> {
  const indices = which ?? paths.map((_, i) => i);
  const out = new Map<number, FileStamp | null>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < indices.length) {
      const i = indices[next++]!;
      const p = paths[i];
      if (!p) continue;
      try {
        const st = await stat(p, { bigint: true });
        out.set(i, st.isFile() ? { size: Number(st.size), mtimeNs: st.mtimeNs } : null);
      } catch {
        out.set(i, null);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, indices.length) }, worker));
  return out;
}

/** Pieces all of whose bytes are on disk: every file they touch exists and is long enough. */
function presentPieces(t: Metainfo, stamps: Map<number, FileStamp | null>): Bitfield {
  const present = Bitfield.full(t.numPieces);
  t.files.forEach((f, i) => {
    if (f.pad || f.length === 0) return;
    const size = stamps.get(i)?.size ?? -1;
    const { first, end } = filePieces(t, f);
    for (let p = first; p < end; p++) {
      const needed = Math.min(f.offset + f.length, (p + 1) * t.pieceLength) - f.offset;
      if (size < needed) present.clear(p);
    }
  });
  return present;
}

export interface ResumeReport {
  /** The pieces we can trust. */
  verified: Bitfield;
  /** What was at the resume path. */
  resumeFile: 'valid' | 'absent' | 'ignored';
  /** Why the resume file was ignored. */
  problem: string | null;
  /** Pieces trusted from the resume file without hashing. */
  trusted: number;
  /** Pieces hash-checked because their bytes were on disk but not trusted. */
  checked: number;
  /** Of those, pieces that matched their hashes. */
  recovered: number;
}

export type LoadResumeOptions = CheckOptions;

/** Reads a resume file if it is present, valid and this torrent's; says why not otherwise. */
export async function readResume(t: Metainfo, dataDir: string): Promise<{ data: ResumeData | null; state: ResumeReport['resumeFile']; problem: string | null }> {
  const file = resumeFilePath(t, dataDir);
  let bytes: Buffer;
  try {
    const st = await stat(file);
    if (st.size > MAX_RESUME_BYTES) return { data: null, state: 'ignored', problem: 'resume file too large' };
    bytes = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { data: null, state: 'absent', problem: null };
    return { data: null, state: 'ignored', problem: `cannot read resume file: ${(e as Error).message}` };
  }
  let data: ResumeData;
  try {
    data = decodeResume(bytes);
  } catch (e) {
    return { data: null, state: 'ignored', problem: (e as Error).message };
  }
  if (!data.infoHash.equals(resumeId(t))) return { data: null, state: 'ignored', problem: 'resume file is for another torrent' };
  if (data.verified.size !== t.numPieces) return { data: null, state: 'ignored', problem: `resume file records ${data.verified.size} pieces, the torrent has ${t.numPieces}` };
  if (data.files.length !== t.files.length) return { data: null, state: 'ignored', problem: `resume file records ${data.files.length} files, the torrent has ${t.files.length}` };
  return { data, state: 'valid', problem: null };
}

/** The pieces of `t` under `dataDir` that we can trust; see the module comment for how. */
export async function loadResume(t: Metainfo, dataDir: string, opts: LoadResumeOptions = {}): Promise<Bitfield> {
  return (await checkResume(t, dataDir, opts)).verified;
}

/** `loadResume`, with what it found and did (for logs and tests). */
export async function checkResume(t: Metainfo, dataDir: string, opts: LoadResumeOptions = {}): Promise<ResumeReport> {
  const paths = pathsOf(t, dataDir);
  const [resume, stamps] = await Promise.all([readResume(t, dataDir), stampFiles(paths)]);
  await removeStaleTemps(t, dataDir);
  const present = presentPieces(t, stamps);
  const trusted = new Bitfield(t.numPieces);
  if (resume.data) {
    const recorded = resume.data.files;
    const same = t.files.map((f, i) => {
      const a = recorded[i];
      const b = stamps.get(i);
      return !f.pad && !!a && !!b && a.size === b.size && a.mtimeNs === b.mtimeNs;
    });
    for (const p of resume.data.verified.indices()) {
      if (present.has(p) && filesOfPiece(t, p).every((fi) => same[fi])) trusted.set(p);
    }
  }
  const wanted = new Bitfield(t.numPieces);
  for (const p of present.indices()) if (!trusted.has(p)) wanted.set(p);
  const passed = await checkPieces(t, paths, wanted, present, opts);
  // Bytes that survived a crash of the process may still sit in the page cache only; make them
  // durable before a resume file can claim them.
  await syncFilesOf(t, paths, passed);
  const verified = new Bitfield(t.numPieces, trusted.bytes);
  for (const p of passed.indices()) verified.set(p);
  return { verified, resumeFile: resume.state, problem: resume.problem, trusted: trusted.count, checked: wanted.count, recovered: passed.count };
}

async function syncFilesOf(t: Metainfo, paths: readonly (string | null)[], pieces: Bitfield): Promise<void> {
  if (pieces.count === 0) return;
  const files = new Set<number>();
  for (const p of pieces.indices()) for (const fi of filesOfPiece(t, p)) files.add(fi);
  for (const fi of files) {
    const h = await open(paths[fi]!, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  }
}

/** Temp files of saves a kill interrupted. */
async function removeStaleTemps(t: Metainfo, dataDir: string): Promise<void> {
  const target = resumeFilePath(t, dataDir);
  const dir = path.dirname(target);
  const prefix = `${path.basename(target)}.`;
  const ours = `${prefix}${process.pid}-`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(prefix) && !name.startsWith(ours) && name.endsWith('.tmp')) await unlink(path.join(dir, name)).catch(() => undefined);
  }
}

/** Timers the store uses; tests pass a fake one. */
export interface ResumeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ResumeClock = {
  now: () => Date.now(),
  // unref: a pending save must not keep a process alive; close() saves anyway.
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ResumeStoreOptions {
  /** Least time between two automatic saves, in ms. @default 2000 */
  saveIntervalMs?: number;
  /** Told of automatic saves that failed; the next save tries again. @default ignored */
  onError?: (e: Error) => void;
  /** @default real time (timers unref'd) */
  clock?: ResumeClock;
}

/**
 * Records verified pieces and saves them. One store per torrent and data dir; the storage is the
 * torrent's (its `flush` runs before every save). `close` saves; it does not close the storage.
 */
export class ResumeStore {
  private readonly bits: Bitfield;
  private readonly paths: (string | null)[];
  /** Stamp of each file as of the save that last looked at it. */
  private readonly stamps: (FileStamp | null)[];
  /** Files with pieces verified since their stamp was taken. */
  private readonly stale = new Set<number>();
  private readonly interval: number;
  private readonly clock: ResumeClock;
  private dirty: boolean;
  private timer: unknown = null;
  private lastSave = -Infinity;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly metainfo: Metainfo,
    readonly dataDir: string,
    private readonly storage: Pick<Storage, 'flush'>,
    /** Pieces already verified, e.g. from `loadResume`. */
    verified?: Bitfield,
    private readonly opts: ResumeStoreOptions = {},
  ) {
    this.bits = verified ? new Bitfield(metainfo.numPieces, verified.bytes) : new Bitfield(metainfo.numPieces);
    this.paths = pathsOf(metainfo, dataDir);
    this.stamps = metainfo.files.map(() => null);
    this.interval = opts.saveIntervalMs ?? DEFAULT_RESUME_SAVE_INTERVAL_MS;
    this.clock = opts.clock ?? realClock;
    for (const p of this.bits.indices()) for (const fi of filesOfPiece(metainfo, p)) this.stale.add(fi);
    this.dirty = this.bits.count > 0;
    // Pieces found by a hash check at start are not in the file yet: record them soon.
    if (this.dirty) this.schedule();
  }

  /** A copy of the pieces recorded so far (saved or not). */
  get verified(): Bitfield {
    return new Bitfield(this.bits.size, this.bits.bytes);
  }

  has(index: number): boolean {
    return this.bits.has(index);
  }

  /** Records a piece the storage has written (writePiece resolved); saved within `saveIntervalMs`. */
  markVerified(index: number): void {
    if (this.bits.has(index)) return;
    this.bits.set(index);
    for (const fi of filesOfPiece(this.metainfo, index)) this.stale.add(fi);
    this.dirty = true;
    this.schedule();
  }

  /** Forgets a piece (found corrupt on disk, say). */
  markUnverified(index: number): void {
    if (!this.bits.has(index)) return;
    this.bits.clear(index);
    this.dirty = true;
    this.schedule();
  }

  /** Saves now (after any save in progress), if anything changed since the last save. */
  save(): Promise<void> {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    const run = this.chain.then(() => this.saveNow());
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Saves and stops saving automatically. */
  async close(): Promise<void> {
    this.closed = true;
    await this.save();
  }

  private schedule(): void {
    if (this.closed || this.timer !== null) return;
    const wait = Math.max(0, this.lastSave + this.interval - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.save().catch((e: unknown) => this.opts.onError?.(e as Error));
    }, wait);
  }

  private async saveNow(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    this.lastSave = this.clock.now();
    // What we claim is fixed before the flush, so everything claimed is flushed.
    const snapshot = new Bitfield(this.bits.size, this.bits.bytes);
    const stale = [...this.stale];
    this.stale.clear();
    const target = resumeFilePath(this.metainfo, this.dataDir);
    try {
      await this.storage.flush();
      // Stamps after the flush: a write the flush did not cover can only make a stamp older than
      // the file, which costs a hash check on load, never a false claim.
      for (const [i, s] of await stampFiles(this.paths, stale)) this.stamps[i] = s;
      const bytes = encodeResume({ infoHash: resumeId(this.metainfo), verified: snapshot, files: this.stamps, savedAt: Date.now() / 1000 });
      await writeFileAtomic(target, bytes);
    } catch (e) {
      this.dirty = true;
      for (const i of stale) this.stale.add(i);
      if (!this.closed) this.schedule();
      throw storageErrorFrom(e, 'saving resume data to', target);
    }
    if (this.dirty) this.schedule();
  }
}

/** Replaces `target` so that a crash at any point leaves the old file or the new one. */
async function writeFileAtomic(target: string, data: Uint8Array): Promise<void> {
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true });
  const tmp = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const h = await open(tmp, 'w', 0o644);
    try {
      await h.writeFile(data);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
