/**
 * Walks a file or folder that is about to be shared and lists its files in BEP 52 file-tree
 * order. Symbolic links are followed (the bytes are what is shared); loops, sockets and devices
 * are skipped. Names are checked with the same rules as names read from torrents, so seedbank
 * never creates a torrent that it would refuse to download.
 */
import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import { comparePaths } from '../codec/layout.js';
import { checkComponent } from '../codec/paths.js';
import { UsageError } from '../errors.js';

export interface ScannedFile {
  /** Components relative to the scanned folder; [basename] for a single file. */
  path: string[];
  absPath: string;
  length: number;
  executable: boolean;
}

export interface Scan {
  name: string;
  singleFile: boolean;
  files: ScannedFile[];
  totalBytes: number;
}

/** How many `stat` calls run at once while scanning (bounded: 100,000 files must not open 100,000 handles). */
const STAT_CONCURRENCY = 64;
const MAX_DEPTH = 128;

export async function scanPath(input: string): Promise<Scan> {
  const abs = path.resolve(input);
  let st;
  try {
    st = await stat(abs);
  } catch (e) {
    throw new UsageError(`cannot read ${input}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'INPUT_UNREADABLE');
  }
  const name = path.basename(abs);
  checkComponent(name, 'name');
  if (st.isFile()) {
    const f: ScannedFile = { path: [name], absPath: abs, length: st.size, executable: (st.mode & 0o111) !== 0 };
    return { name, singleFile: true, files: [f], totalBytes: st.size };
  }
  if (!st.isDirectory()) throw new UsageError(`${input} is neither a file nor a folder`, 'INPUT_UNREADABLE');
  const files: ScannedFile[] = [];
  const seenDirs = new Set<string>([`${st.dev}:${st.ino}`]);
  await walk(abs, [], files, seenDirs, 0);
  if (files.length === 0) throw new UsageError(`${input} holds no files to share`, 'INPUT_EMPTY');
  files.sort((a, b) => comparePaths(a.path, b.path));
  return { name, singleFile: false, files, totalBytes: files.reduce((n, f) => n + f.length, 0) };
}

async function walk(dir: string, rel: string[], out: ScannedFile[], seenDirs: Set<string>, depth: number): Promise<void> {
  if (depth > MAX_DEPTH) throw new UsageError(`folders nested deeper than ${MAX_DEPTH} levels under ${dir}`, 'INPUT_TOO_DEEP');
  const names: string[] = [];
  const handle = await opendir(dir);
  for await (const d of handle) names.push(d.name);
  const subdirs: Array<{ abs: string; rel: string[] }> = [];
  for (let i = 0; i < names.length; i += STAT_CONCURRENCY) {
    const batch = names.slice(i, i + STAT_CONCURRENCY);
    const stats = await Promise.all(
      batch.map(async (n) => {
        const abs = path.join(dir, n);
        try {
          return { n, abs, st: await stat(abs) };
        } catch {
          return { n, abs, st: null }; // dangling symlink or vanished file: nothing to share
        }
      }),
    );
    for (const { n, abs, st } of stats) {
      if (!st) continue;
      const relPath = [...rel, n];
      if (st.isFile()) {
        checkComponent(n, `file name in ${path.join(...(rel.length ? rel : ['.']))}`);
        out.push({ path: relPath, absPath: abs, length: st.size, executable: (st.mode & 0o111) !== 0 });
      } else if (st.isDirectory()) {
        const id = `${st.dev}:${st.ino}`;
        if (seenDirs.has(id)) continue; // a symlink loop or a second link to a folder already shared
        seenDirs.add(id);
        checkComponent(n, 'folder name');
        subdirs.push({ abs, rel: relPath });
      }
    }
  }
  for (const s of subdirs) await walk(s.abs, s.rel, out, seenDirs, depth + 1);
}
