/**
 * The pure parts of a web seed (BEP 19): which URL holds a file, which file spans a range of the
 * piece stream covers, and whether an HTTP answer is the range we asked for. No I/O.
 */
import { fileAt } from '../codec/layout.js';
import { type Metainfo } from '../codec/metainfo.js';

export class HttpError extends Error {
  override name = 'HttpError';
}

/** One contiguous byte range of one file (or of pad bytes, which are zeros and never fetched). */
export interface Span {
  /** Index in `files`, or -1 for bytes past the last file. */
  file: number;
  position: number;
  length: number;
}

/**
 * BEP 19: a folder URL (ending in '/') gets the torrent name, and for multi-file torrents the file
 * path, each component percent-encoded; a single-file torrent's file URL is used as it is. The
 * query string (a presigned URL's signature) is kept as it was.
 */
export function fileUrl(base: string, t: Metainfo, file: number): string {
  const u = new URL(base);
  const enc = (parts: readonly string[]) => parts.map(encodeURIComponent).join('/');
  if (t.singleFile) {
    if (u.pathname.endsWith('/')) u.pathname += enc([t.name]);
  } else {
    u.pathname += `${u.pathname.endsWith('/') ? '' : '/'}${enc([t.name, ...t.files[file]!.path])}`;
  }
  return u.toString();
}

/** The file spans of [start, end) in the piece stream; bytes past the last file are a pad span (-1). */
export function spansOf(t: Metainfo, start: number, end: number): Span[] {
  const out: Span[] = [];
  let at = start;
  for (let fi = fileAt(t.files, start); at < end && fi < t.files.length; fi++) {
    const f = t.files[fi]!;
    const fileEnd = f.offset + f.length;
    if (fileEnd <= at) continue;
    const take = Math.min(fileEnd, end) - at;
    out.push({ file: fi, position: at - f.offset, length: take });
    at += take;
  }
  if (at < end) out.push({ file: -1, position: 0, length: end - at });
  return out;
}

/** A range answer must be 206 for exactly the bytes asked for (or 200 with the whole file from 0). */
export function checkRangeAnswer(url: string, status: number, contentRange: string, contentLength: number, position: number, length: number): void {
  if (status === 206) {
    const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(contentRange);
    if (!cr || Number(cr[1]) !== position || Number(cr[2]) !== position + length - 1) {
      throw new HttpError(`${url}: answered a different range (${contentRange || 'none'})`);
    }
  } else if (!(status === 200 && position === 0 && contentLength === length)) {
    throw new HttpError(`${url}: HTTP ${status}${status === 200 ? ' without range support' : ''}`);
  }
}
