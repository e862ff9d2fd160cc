/**
 * A static HTTP origin on loopback: the files of one folder, served with byte ranges, under an
 * optional egress cap. It stands in for an S3 bucket or a CDN.
 *
 * For: `seedbank demo` (a bucket with a bandwidth cap), tests of BEP 19 web seeds (with the fault
 * hooks in `faults`), and benchmarks that measure how many bytes the origin had to send.
 * Not for: serving the internet. There is no TLS, no auth beyond a fake presigned-URL check, no
 * listings, no caching headers and no conditional requests (`If-Range` and friends are ignored).
 *
 * Design:
 * - Paths: each URL segment is decoded and checked on its own (url-path.ts), then the real path
 *   (symlinks followed) must still be inside the real root. Files only; a folder is 404.
 * - Files are read with a bounded buffer (a 64 KiB read stream on an open handle), never whole;
 *   the handle closes when the response ends or the client goes away.
 * - Every body chunk (at most 64 KiB) waits for the shared egress limiter, then for `drain`, so a
 *   slow client never makes the origin buffer a file in memory.
 * - `stats.bytesSent` counts a chunk once the socket has taken it (the write callback), which is
 *   what a bucket would bill; bytes lost in a dying connection are not counted.
 */
import { once } from 'node:events';
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, open, realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { EgressLimiter } from './egress-limiter.js';
import { parseRange } from './range.js';
import { type RequestTarget, isInside, parseTarget } from './url-path.js';

/** Largest body chunk written at once, and the read buffer. */
export const ORIGIN_CHUNK_BYTES = 64 * 1024;
/** Smallest chunk under a low cap (so that 100 KB/s goes out in small steps, not 64 KiB lumps). */
const MIN_CHUNK_BYTES = 4 * 1024;
/** Idle keep-alive connections live this long; more than the 5 s default so clients reuse them. */
export const ORIGIN_KEEP_ALIVE_MS = 65_000;

export type RedirectStatus = 301 | 302 | 303 | 307 | 308;

export interface OriginOptions {
  /**
   * Folder whose files are served; URL path /a/b.bin maps to <root>/a/b.bin (percent-decoded, each
   * segment checked: no '..', no '.', no empty, no NUL, no backslash; the resolved path must stay
   * inside root; symlinks are followed only if the target stays inside root).
   */
  root: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /**
   * Egress cap for all connections together, bytes/s; 0 = none. A token bucket shared by all
   * responses; responses are written in chunks of at most 64 KiB and wait for tokens and for 'drain'.
   * @default 0
   */
  rateBytesPerSec?: number;
  /** Test hooks (fault injection), all optional. */
  faults?: {
    /**
     * Change bytes before they are sent: called with the file's URL path (decoded, as in
     * `stats.byPath`), the absolute file offset of `chunk[0]`, and the chunk (a copy you may modify
     * and return). The result must have the same length; if not, the connection is cut.
     */
    mutate?: (urlPath: string, offset: number, chunk: Buffer) => Buffer;
    /**
     * 3xx redirects: a URL path (exact, without query; as sent or decoded) -> Location value
     * (absolute URL or path); status 302 by default, or give {location, status}. Checked before
     * `requireQuery`, so a redirect can hand out a "presigned" URL, as Hugging Face's resolve
     * endpoint does.
     */
    redirects?: Record<string, string | { location: string; status: RedirectStatus }>;
    /**
     * If set, a request whose query string lacks any of these key=value pairs gets 403 (simulates
     * a presigned URL). Other query parameters may be present too.
     */
    requireQuery?: Record<string, string>;
  };
}

export interface OriginStats {
  /** Requests received. */
  requests: number;
  /** Body bytes written to sockets (what a bucket would bill as egress). */
  bytesSent: number;
  /** Requests answered with 206 (a `Range` that was honoured). */
  rangeRequests: number;
  /** Body bytes per URL path (decoded). */
  byPath: Map<string, number>;
}

export interface HttpOrigin {
  readonly port: number;
  /** E.g. 'http://127.0.0.1:PORT/' (trailing slash). */
  readonly url: string;
  readonly stats: OriginStats;
  /** Stops accepting and destroys every open connection at once (simulates the origin going away mid-transfer). */
  close(): Promise<void>;
  setRate(bytesPerSec: number): void;
}

/** Starts an origin serving `opts.root`; resolves once it listens. */
export async function startOrigin(opts: OriginOptions): Promise<HttpOrigin> {
  checkRate(opts.rateBytesPerSec ?? 0);
  const root = await realRoot(opts.root);
  const stats: OriginStats = { requests: 0, bytesSent: 0, rangeRequests: 0, byPath: new Map() };
  const limiter = new EgressLimiter(opts.rateBytesPerSec ?? 0);
  const ctx: Context = { root, opts, stats, limiter };

  const server = http.createServer((req, res) => {
    handle(ctx, req, res).catch(() => {
      // Whatever went wrong belongs to this response only: answer 500 if we still can, else cut it.
      if (!res.headersSent) sendEmpty(res, 500);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = ORIGIN_KEEP_ALIVE_MS;
  // Node wants the header timeout above the keep-alive one, or idle sockets race it.
  server.headersTimeout = ORIGIN_KEEP_ALIVE_MS + 5_000;

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | null = null;
  return {
    port,
    url: `http://${urlHost(host)}:${port}/`,
    stats,
    setRate(bytesPerSec) {
      checkRate(bytesPerSec);
      limiter.setRate(bytesPerSec);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        limiter.close();
      });
      return closing;
    },
  };
}

interface Context {
  root: string;
  opts: OriginOptions;
  stats: OriginStats;
  limiter: EgressLimiter;
}

async function handle(ctx: Context, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  ctx.stats.requests++;
  // Without a listener, an error on one response would be thrown at the process.
  res.on('error', () => res.destroy());
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendEmpty(res, 405, { Allow: 'GET, HEAD' });
  const target = parseTarget(req.url ?? '');
  if (target === null) return sendEmpty(res, 400);

  const faults = ctx.opts.faults;
  const redirect = faults?.redirects?.[target.rawPath] ?? faults?.redirects?.[target.urlPath];
  if (redirect !== undefined) {
    const r = typeof redirect === 'string' ? { location: redirect, status: 302 } : redirect;
    return sendEmpty(res, r.status, { Location: r.location });
  }
  if (faults?.requireQuery && !hasAll(target.query, faults.requireQuery)) return sendEmpty(res, 403);

  const file = await openFile(ctx.root, target);
  if (file === null) return sendEmpty(res, 404);
  let streaming = false;
  try {
    const { size, mtime } = await file.stat();
    const range = parseRange(req.headers.range, size);
    const common = {
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Last-Modified': mtime.toUTCString(),
    };
    if (range.kind === 'unsatisfiable') {
      return sendEmpty(res, 416, { ...common, 'Content-Range': `bytes */${size}` });
    }
    const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1];
    const length = end - start + 1;
    if (range.kind === 'partial') {
      ctx.stats.rangeRequests++;
      res.writeHead(206, { ...common, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': length });
    } else {
      res.writeHead(200, { ...common, 'Content-Length': length });
    }
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    streaming = true;
    await sendBody(ctx, res, file, target.urlPath, start, end);
  } finally {
    // Once a read stream exists it owns the handle and closes it (autoClose), also on abort.
    if (!streaming) await file.close().catch(() => {});
  }
}

/** Opens the regular file that `target` names, or null (missing, a folder, or outside the root). */
async function openFile(root: string, target: RequestTarget): Promise<FileHandle | null> {
  if (target.segments.length === 0) return null;
  let real: string;
  try {
    real = await realpath(path.join(root, ...target.segments));
  } catch {
    return null; // ENOENT, ENOTDIR, a symlink loop...
  }
  // The segments were checked already; this second guard is for symlinks that point out.
  if (real === root || !isInside(root, real)) return null;
  let fh: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO that someone left in the root must not hang a thread-pool thread.
    fh = await open(real, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  const st = await fh.stat().catch(() => null);
  if (st?.isFile()) return fh;
  await fh.close().catch(() => {});
  return null;
}

async function sendBody(ctx: Context, res: http.ServerResponse, file: FileHandle, urlPath: string, start: number, end: number): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.once('close', onClose);
  const stream = file.createReadStream({ start, end, highWaterMark: ORIGIN_CHUNK_BYTES });
  const mutate = ctx.opts.faults?.mutate;
  let offset = start;
  try {
    for await (const buf of stream as AsyncIterable<Buffer>) {
      for (let at = 0; at < buf.length; ) {
        const n = Math.min(chunkBytes(ctx.limiter.rate), buf.length - at);
        let chunk = buf.subarray(at, at + n);
        await ctx.limiter.acquire(n, gone.signal);
        if (mutate) {
          chunk = mutate(urlPath, offset, Buffer.from(chunk));
          if (chunk.length !== n) throw new RangeError('faults.mutate changed the chunk length');
        }
        if (res.destroyed) return;
        const ok = res.write(chunk, (err) => {
          if (err) return;
          ctx.stats.bytesSent += n;
          ctx.stats.byPath.set(urlPath, (ctx.stats.byPath.get(urlPath) ?? 0) + n);
        });
        at += n;
        offset += n;
        if (!ok) await once(res, 'drain', { signal: gone.signal });
      }
    }
    res.end();
  } catch (err) {
    if (gone.signal.aborted) return; // the client or close() ended it; nothing left to answer
    throw err;
  } finally {
    res.off('close', onClose);
    stream.destroy();
  }
}

/** Chunk size for a cap: about 50 ms of it, between 4 and 64 KiB. */
function chunkBytes(rate: number): number {
  if (rate <= 0) return ORIGIN_CHUNK_BYTES;
  return Math.max(MIN_CHUNK_BYTES, Math.min(ORIGIN_CHUNK_BYTES, Math.floor(rate / 20)));
}

function sendEmpty(res: http.ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': 0 });
  res.end();
}

function hasAll(query: URLSearchParams, required: Record<string, string>): boolean {
  return Object.entries(required).every(([k, v]) => query.getAll(k).includes(v));
}

async function realRoot(root: string): Promise<string> {
  try {
    const real = await realpath(root);
    if ((await stat(real)).isDirectory()) return real;
  } catch {
    // fall through to one message for both cases
  }
  throw new UsageError(`origin root ${JSON.stringify(root)} is not a folder`);
}

function checkRate(bytesPerSec: number): void {
  if (!Number.isFinite(bytesPerSec) || bytesPerSec < 0) {
    throw new UsageError(`origin rate must be a number of bytes per second, 0 for none (got ${bytesPerSec})`);
  }
}

/** The host as it goes in a URL: IPv6 in brackets, and a wildcard address as loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
