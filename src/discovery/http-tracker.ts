/**
 * The client side of HTTP(S) trackers: one bounded GET (BEP 3 announce, BEP 48 scrape).
 *
 * For: src/discovery/tracker-client.ts, which picks this for `http://` and `https://` URLs.
 * Not for: building queries or reading replies (src/codec/tracker.ts).
 *
 * Bounded in every direction: the reply size (a tracker that streams forever is cut off), the time
 * (one deadline for the whole exchange, redirects included), and the redirects (at most 3, and only
 * to http or https). A fresh connection per request (`Connection: close`): announces are minutes
 * apart, and a pooled socket would keep a finished process alive.
 */
import http from 'node:http';
import https from 'node:https';
import { TrackerError, parseAnnounceResponse } from '../codec/tracker.js';
import { VERSION } from '../version.js';

/** Largest tracker reply read. @default 2 MiB (a 50-peer reply is under 1 KiB) */
export const DEFAULT_MAX_REPLY_BYTES = 2 * 1024 * 1024;
export const MAX_REDIRECTS = 3;

export interface HttpGetOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  maxBytes?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The body of a 200 reply. Another status is an error, with the tracker's failure reason if it sent one. */
export async function trackerGet(fullUrl: string, o: HttpGetOptions): Promise<Buffer> {
  // Messages name the tracker, not the query (long, binary, and sometimes a passkey).
  const url = fullUrl.split('?')[0]!;
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_REPLY_BYTES;
  let target = fullUrl;
  try {
    for (let hop = 0; ; hop++) {
      const u = parseHttpUrl(target);
      const res = await get(u, signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location) {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw new TrackerError(`${url}: more than ${MAX_REDIRECTS} redirects`, 'TRACKER_HTTP');
        target = new URL(location, u).toString();
        continue;
      }
      const body = await readBounded(res, maxBytes, url);
      if (status === 200) return body;
      try {
        parseAnnounceResponse(body); // a failure reason throws TRACKER_FAILURE, which is the better message
      } catch (e) {
        if (e instanceof TrackerError && e.code === 'TRACKER_FAILURE') throw e;
      }
      throw new TrackerError(`${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trim(), 'TRACKER_HTTP');
    }
  } catch (e) {
    if (e instanceof TrackerError) throw e;
    if (o.signal?.aborted) throw new TrackerError(`request to ${url} aborted`, 'TRACKER_ABORTED');
    if (timeout.aborted) throw new TrackerError(`no answer from ${url} in ${o.timeoutMs} ms`, 'TRACKER_TIMEOUT');
    throw new TrackerError(`cannot reach ${url}: ${(e as Error).message}`, 'TRACKER_UNREACHABLE');
  }
}

function parseHttpUrl(s: string): URL {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new TrackerError(`${JSON.stringify(s)} is not a URL`, 'TRACKER_URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TrackerError(`${s}: not an http or https URL`, 'TRACKER_URL');
  return u;
}

function get(u: URL, signal: AbortSignal): Promise<http.IncomingMessage> {
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(u, { signal, agent: false, headers: { 'User-Agent': `seedbank/${VERSION}`, Connection: 'close', 'Accept-Encoding': 'identity' } }, resolve);
    req.on('error', reject);
  });
}

function readBounded(res: http.IncomingMessage, maxBytes: number, url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers['content-length']);
    if (declared > maxBytes) {
      reject(new TrackerError(`${url}: reply of ${declared} bytes is over the limit of ${maxBytes}`, 'TRACKER_HTTP'));
      return res.destroy();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        reject(new TrackerError(`${url}: reply is over the limit of ${maxBytes} bytes`, 'TRACKER_HTTP'));
        res.destroy();
      } else chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('connection closed mid-reply')));
  });
}
