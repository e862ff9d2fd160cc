/**
 * Turns an HTTP request target into a file path under the origin's root, refusing anything that
 * could name a file outside it.
 *
 * For: src/origin/http-origin.ts. Pure apart from `path` string handling; following symlinks (the
 * second guard) is the server's job, with `isInside` from here.
 * Not for: URL routing, absolute-form targets (`GET http://host/x`, which only proxies receive) or
 * `OPTIONS *`.
 *
 * Each segment is percent-decoded on its own, then checked with the same rules as file names from
 * torrents (src/codec/paths.ts): so `%2e%2e` is `..` and refused, and `%2f` cannot join two
 * segments into one path (it decodes to a `/` inside a segment, which is refused too).
 */
import path from 'node:path';
import { checkComponent } from '../codec/paths.js';
import { UnsafePathError } from '../errors.js';

export interface RequestTarget {
  /** The path as sent, before `?`: what redirects are keyed by. */
  rawPath: string;
  /** The decoded segments; empty for `/`. */
  segments: string[];
  /** `/` + the decoded segments joined by `/`: the name in stats and fault hooks. */
  urlPath: string;
  query: URLSearchParams;
}

/** Parses `target` (as in `req.url`), or returns null when it is malformed or unsafe (answer 400). */
export function parseTarget(target: string): RequestTarget | null {
  if (!target.startsWith('/')) return null;
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
  if (rawPath === '/') return { rawPath, segments: [], urlPath: '/', query };
  const segments: string[] = [];
  for (const raw of rawPath.slice(1).split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null; // a stray `%` or bytes that are not UTF-8
    }
    try {
      checkComponent(seg, 'URL path segment');
    } catch (err) {
      if (err instanceof UnsafePathError) return null;
      throw err;
    }
    segments.push(seg);
  }
  return { rawPath, segments, urlPath: `/${segments.join('/')}`, query };
}

/** True when `candidate` (an absolute, resolved path) is `root` itself or lies below it. */
export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
